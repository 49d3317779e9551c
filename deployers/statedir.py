"""The state dir (DEPLOY_ADVISOR_HOME): private from the first command that creates it.

It holds the ledger, the local model registry, local servers' keys and logs: the
folder is created 0700 and the databases and logs 0600, whichever command comes
first. A folder that already exists with wider modes is the user's choice to
revisit: we warn once per process and leave it alone (no silent chmod).
"""
from __future__ import annotations

import logging
import os
import stat
import threading
from pathlib import Path

log = logging.getLogger("deployers.state")

_checked: set[Path] = set()
_lock = threading.Lock()


def ensure(state_dir: Path | str) -> Path:
    """Create the state dir 0700 if missing; warn (once) if an existing one is open to others."""
    path = Path(state_dir).expanduser()
    key = path.absolute()
    with _lock:
        if key in _checked:
            return path
        try:
            path.mkdir(mode=0o700, parents=True)
        except FileExistsError:
            mode = path.stat().st_mode
            if not stat.S_ISDIR(mode):
                raise NotADirectoryError(f"the state dir {path} is not a folder") from None
            if mode & 0o077:
                log.warning("deploy-advisor: warning: the state dir %s is open to other users (mode %s): "
                            "it holds keys and the ledger; `chmod 700 %s` makes it private",
                            path, oct(stat.S_IMODE(mode))[2:], path)
        else:
            os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask; make it exact
        _checked.add(key)
    return path


def subdir(state_dir: Path | str, *parts: str) -> Path:
    """A folder inside the state dir (created 0700, the state dir first)."""
    folder = ensure(state_dir)
    for part in parts:  # one level at a time: mkdir(parents=True) makes the middle levels with the umask's mode
        folder = folder / part
        folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def private_file(path: Path | str) -> Path:
    """Create `path` empty with mode 0600 unless it exists (databases and logs are then born private)."""
    path = Path(path)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    return path


def open_log(path: Path | str):
    """Open a log file for appending, created 0600."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab")
