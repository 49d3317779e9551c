"""Error tree for deployers: every error has a category, a one-line message and a hint.

The CLI maps categories to exit codes (input -> 2, interrupted -> 130, else 1);
the UI shows message + hint inline. The original exception is kept as __cause__.
"""
from __future__ import annotations

import errno


class DeployError(Exception):
    category = "internal"
    exit_code = 1

    def __init__(self, message: str, hint: str = "", *, code: str = "", category: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code  # e.g. the ARM error code OutOfQuota
        if category:
            self.category = category

    def one_line(self) -> str:
        text = self.message.replace("\n", " ").strip()
        if self.code and self.code not in text:
            text = f"{text} [{self.code}]"
        return f"{text} (hint: {self.hint})" if self.hint else text

    def to_dict(self) -> dict:
        return {"category": self.category, "message": self.message, "hint": self.hint, "code": self.code}


class InputError(DeployError):
    """Bad input from the user: exit code 2."""
    category = "input"
    exit_code = 2


class ModelResolutionError(InputError):
    category = "model"


class NotFoundError(DeployError):
    category = "not-found"


class ConflictError(DeployError):
    """Someone else holds the deployment (another apply in progress)."""
    category = "conflict"


class StalePlanError(DeployError):
    category = "stale-plan"


class AuthError(DeployError):
    category = "auth"


class QuotaError(DeployError):
    category = "quota"


class RemoteError(DeployError):
    """The remote service (Azure, Kubernetes, the local server) failed."""
    category = "remote"


class DeployTimeout(DeployError):
    category = "timeout"


class Interrupted(DeployError):
    category = "interrupted"
    exit_code = 130


class StateError(DeployError):
    """The local state (ledger, state dir) cannot be read or written: damaged, read-only, full."""
    category = "state"


_OS_HINTS = {
    errno.ENOSPC: "free space on that disk and run the command again",
    errno.EFBIG: "the file grew past the size limit (ulimit -f) or the disk is full: free space and retry",
    errno.EDQUOT: "you are over your disk quota: free space and retry",
    errno.EACCES: "choose a location you can write, or fix its permissions",
    errno.EPERM: "choose a location you can write, or fix its permissions",
    errno.EROFS: "that file system is read-only: choose another location",
    errno.ENOENT: "check the path",
    errno.ENOTDIR: "a part of that path is a file, not a folder",
    errno.EISDIR: "that path is a folder: give a file name",
    errno.ENAMETOOLONG: "use a shorter path",
}


def from_exception(exc: BaseException) -> DeployError:
    """Any exception -> one DeployError line with a hint (the CLI's and the UI's last resort).

    OSError (unwritable --out, a full disk), sqlite3 errors, RecursionError (input nested too deeply)
    and MemoryError each get a message a user can act on; anything else is reported as a bug.
    """
    import sqlite3

    if isinstance(exc, DeployError):
        return exc
    text = " ".join(str(exc)[:1000].split())[:200]
    if isinstance(exc, OSError):
        where = str(exc.filename) if exc.filename is not None else ""
        where = where if len(where) <= 160 else where[:159] + "…"  # a path may be user input of any length
        what = exc.strerror or text or exc.__class__.__name__
        message = f"cannot use {where}: {what}" if where else f"{what}"
        hint = _OS_HINTS.get(exc.errno or 0, "check the path and its permissions")
        if exc.errno == errno.ENAMETOOLONG:  # only ever a path the user typed
            return InputError(message, hint)
        return DeployError(message, hint, category="os")
    if isinstance(exc, sqlite3.Error):
        return StateError(f"a local database failed ({text or exc.__class__.__name__})",
                          "check the state dir (DEPLOY_ADVISOR_HOME): free space, permissions, a damaged file")
    if isinstance(exc, RecursionError):
        return InputError("the input is nested too deeply to process", "flatten it (at most 64 levels)")
    if isinstance(exc, MemoryError):
        return DeployError("ran out of memory", "the input or the model is too large for this machine")
    return DeployError(f"unexpected {exc.__class__.__name__}" + (f": {text}" if text else ""),
                       "this is a bug in deploy-advisor: please report it with the command you ran")
