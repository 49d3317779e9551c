"""Compile the advisor's hot modules with mypyc, in place, next to their sources.

    python scripts/build_native.py [--check]

The advisor runs as plain Python everywhere; this build is an optional speed-up
(benchmarks/recommend.py measures both). mypyc compiles the same .py files the
pure mode runs, so there is one source of truth. The build writes
`advisor/_native.json` with a SHA-256 of each compiled source; `advisor/__init__`
loads the compiled modules only when every hash still matches (an edited source
falls back to pure Python, with one warning) and never when DEPLOY_ADVISOR_PURE=1.

A failed build (no C compiler, no Python headers) prints one line and exits 0:
the pure modules keep working. `--check` exits 1 when the build is missing or stale.
An up-to-date build is left alone; DEPLOY_ADVISOR_REBUILD=1 forces a new one.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ["DEPLOY_ADVISOR_PURE"] = "1"  # importing advisor here must not load (or warn about) an old build
from advisor import NATIVE_MODULES, NATIVE_STAMP, native_fingerprint  # noqa: E402

GROUP = "advisor._native"


def _clean() -> None:
    for f in (ROOT / "advisor").glob("*.so"):
        f.unlink()
    for f in (ROOT / "advisor").glob("*.pyd"):
        f.unlink()
    (ROOT / "advisor" / NATIVE_STAMP).unlink(missing_ok=True)


def _fresh() -> bool:
    stamp = ROOT / "advisor" / NATIVE_STAMP
    try:
        return json.loads(stamp.read_text(encoding="utf-8")) == native_fingerprint()
    except (OSError, ValueError):
        return False


def build() -> int:
    """Run mypyc through setuptools' build_ext --inplace in a scratch build directory."""
    sources = [f"advisor/{m}.py" for m in NATIVE_MODULES]
    code = (
        "import sys\n"
        "from setuptools import setup\n"
        "from mypyc.build import mypycify\n"
        f"ext = mypycify({sources!r}, opt_level='3', group_name={GROUP!r}, target_dir=sys.argv[1])\n"
        "setup(name='deploy-advisor-native', py_modules=[], ext_modules=ext,\n"
        f"      script_args=['build_ext', '--inplace', '--build-temp', sys.argv[1], '--build-lib', sys.argv[1]])\n"
    )
    print(f"build_native: compiling {', '.join(NATIVE_MODULES)} with mypyc (about a minute, once per change)...",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="advisor-native-") as tmp:
        proc = subprocess.run([sys.executable, "-c", code, tmp], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        _clean()
        last = (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or ["no output"])[-1]
        print(f"build_native: mypyc build failed, the advisor stays pure Python ({last[:200]})")
        return 0
    stamp = ROOT / "advisor" / NATIVE_STAMP
    stamp.write_text(json.dumps(native_fingerprint(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"build_native: compiled {', '.join(NATIVE_MODULES)} ({stamp.relative_to(ROOT)})")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="exit 1 when the compiled modules are missing or stale")
    ap.add_argument("--clean", action="store_true", help="remove the compiled modules (pure Python from then on)")
    args = ap.parse_args(argv)
    if args.clean:
        _clean()
        return 0
    if args.check:
        ok = _fresh()
        print("build_native: " + ("up to date" if ok else "missing or stale"))
        return 0 if ok else 1
    if _fresh() and not os.environ.get("DEPLOY_ADVISOR_REBUILD"):
        return 0
    _clean()
    return build()


if __name__ == "__main__":
    raise SystemExit(main())
