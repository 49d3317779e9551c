"""Instructions per recommendation, counted by valgrind: a figure that does not move with the machine's load.

    python benchmarks/recommend_instructions.py [--warm 1500] [--n 300] [--seed 7] [--no-pure]

recommend.py's recommendations/s move by 2x on a busy shared machine; instruction counts do not
(callgrind counts the same total for the same binary and inputs however busy the other core is).
A child process warms the engine's caches on `--warm` generated profiles, as a long-running process
would have them, then runs `--n` more recommendations between two os.sched_yield() calls; callgrind
dumps its counters on entering libc's sched_yield (--dump-before), so the second dump holds exactly
those recommendations. (A marker in libc, not in the interpreter: distribution builds of CPython
are stripped of the static functions an interpreter-level marker would need.) The compiled advisor (if built) and the
pure-Python one (DEPLOY_ADVISOR_PURE=1) are counted on the same profiles, and the ratio printed.
Needs valgrind (Debian package `valgrind`); callgrind runs code ~50x slower, so this takes minutes.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import os, sys
sys.path.insert(0, {root!r}); sys.path.insert(0, {bench!r})
import advisor
from recommend import generate
from advisor.engine import recommend
ps = generate({warm} + {n}, {seed})
for p in ps[:{warm}]:
    recommend(p)
import gc; gc.disable()
counted = ps[{warm}:]
os.sched_yield()  # callgrind dumps here: everything before
for p in counted:
    recommend(p)
os.sched_yield()  # and here: the counted recommendations
print(advisor.native_mode())
"""


def count(warm: int, n: int, seed: int, pure: bool) -> tuple[float, str]:
    """(instructions per recommendation, advisor mode) for one child run under callgrind."""
    print(f"recommend_instructions: counting {'the pure-Python' if pure else 'the current'} advisor under callgrind "
          f"({warm + n} recommendations, about a minute or two)...", file=sys.stderr, flush=True)
    code = CHILD.format(root=str(ROOT), bench=str(ROOT / "benchmarks"), warm=warm, n=n, seed=seed)
    env = dict(os.environ)
    env.pop("DEPLOY_ADVISOR_PURE", None)
    if pure:
        env["DEPLOY_ADVISOR_PURE"] = "1"
    with tempfile.TemporaryDirectory(prefix="recommend-callgrind-") as tmp:
        proc = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out",
                               "--dump-before=sched_yield", sys.executable, "-c", code],
                              capture_output=True, text=True, env=env)
        dumps = sorted(Path(tmp).glob("out.*"), key=lambda f: int(f.suffix[1:]))
        if proc.returncode != 0 or len(dumps) != 2:
            raise SystemExit(f"recommend_instructions: the callgrind run failed ({len(dumps)} dumps, expected 2): "
                             f"{proc.stderr.strip()[-300:]}")
        m = re.search(r"^summary:\s*(\d+)", dumps[1].read_text(errors="replace"), re.M)
    if not m:
        raise SystemExit("recommend_instructions: no instruction total in callgrind's output")
    return int(m.group(1)) / n, proc.stdout.strip().splitlines()[-1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--warm", type=int, default=1500, help="recommendations before counting starts (default 1500)")
    ap.add_argument("--n", type=int, default=300, help="recommendations counted (default 300)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-pure", action="store_true", help="count the current mode only")
    args = ap.parse_args(argv)
    if args.warm < 0 or args.n < 1:
        print("recommend_instructions: --warm must be >= 0 and --n >= 1", file=sys.stderr)
        return 2
    if shutil.which("valgrind") is None:
        print("recommend_instructions: valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    current, mode = count(args.warm, args.n, args.seed, pure=False)
    print(f"recommend(): {current / 1e6:.3f} M instructions per recommendation ({mode}; {args.n} recommendations "
          f"after {args.warm} warm-up ones, seed {args.seed}, callgrind)")
    if not args.no_pure and mode.startswith("compiled"):
        pure, _ = count(args.warm, args.n, args.seed, pure=True)
        print(f"  pure-Python advisor (DEPLOY_ADVISOR_PURE=1): {pure / 1e6:.3f} M; compiled runs {pure / current:.2f}x "
              "fewer instructions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
