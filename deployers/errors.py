"""Error tree for deployers: every error has a category, a one-line message and a hint.

The CLI maps categories to exit codes (input -> 2, interrupted -> 130, else 1);
the UI shows message + hint inline. The original exception is kept as __cause__.
"""
from __future__ import annotations


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
