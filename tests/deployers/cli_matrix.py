"""Run many deploy-advisor commands in one process; report each one's exit code and output.

test_state_faults.py uses it in process (damaged ledgers) and as a child (`python -m
tests.deployers.cli_matrix MODE < argv-lists.json`) for the faults a test process must not
inflict on itself:

- `read-only`: as root, the child drops to `nobody` (root ignores file modes); the state dir is
  chmod a-w and owned by nobody, so every write to it fails with EACCES as it would for a user.
- `full`: the child sets RLIMIT_FSIZE to 0 and ignores SIGXFSZ, so every write that grows a file fails
  (EFBIG, as ENOSPC would on a full disk) without root, mounts or a loop device.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import signal
import sys
import time

NOBODY = 65534


def run_all(argvs: list[list[str]]) -> list[dict]:
    from deployers import cli

    results = []
    for argv in argvs:
        out, err = io.StringIO(), io.StringIO()
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(argv)
            except SystemExit as e:  # argparse: a usage error
                code = e.code
            except BaseException as e:  # noqa: BLE001 - what escaped main() is the finding
                code = f"escaped: {e.__class__.__name__}: {e}"
        results.append({"argv": argv, "code": code, "stdout": out.getvalue()[-2000:], "stderr": err.getvalue()[-4000:],
                        "seconds": round(time.perf_counter() - t0, 2)})
    return results


def main() -> None:
    mode = sys.argv[1]
    argvs = json.load(sys.stdin)
    if mode == "full":
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    elif mode == "read-only" and os.geteuid() == 0:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    results = run_all(argvs)
    sys.stdout.write(json.dumps(results))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
