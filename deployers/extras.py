"""Optional extras: which `pip install deploy-advisor[EXTRA]` provides an import, and the one-line error
when it is missing.

The core install (the advisor, the CLI, the local target, exports) has no Azure SDK; each target's SDKs
come with its extra (pyproject.toml). Lazy SDK imports are wrapped in `needs_extra(...)`:

    with needs_extra("aks"):
        from azure.mgmt.containerservice import ContainerServiceClient

`missing_extra_error` also serves the CLI's last line of defence for an import nobody wrapped.
"""
from __future__ import annotations

import contextlib
from typing import Iterator, Optional

from .errors import InputError

# Import prefix -> the extra(s) that install it (longest prefix wins; "a|b": any of them). Wrapped imports
# name the caller's own extra instead.
AZURE_EXTRAS = "azureml|aks|appservice|containerapps"  # shared by every Azure target: any of their extras
MODULE_EXTRA: dict[str, str] = {
    "azure.core": AZURE_EXTRAS,
    "azure.mgmt.core": AZURE_EXTRAS,
    "azure.identity": AZURE_EXTRAS,
    "azure.ai.ml": "azureml",
    "azure.mgmt.monitor": "azureml",
    "azure.mgmt.containerservice": "aks",
    "azure.mgmt.compute": "aks",
    "kubernetes": "aks",
    "kubernetes_validate": "aks",
    "jsonschema": "aks",
    "referencing": "aks",
    "httpx": "aks",
    "azure.mgmt.web": "appservice",
    "azure.mgmt.resource": "appservice",
    "azure.mgmt.appcontainers": "containerapps",
    "azure.mgmt.containerregistry": "aks|appservice|containerapps",
    "azure.containerregistry": "aks|appservice|containerapps",
    "azure.storage.blob": "aks|appservice|containerapps",
    "azure.mgmt.authorization": "aks|appservice|containerapps",
    "onnxruntime": "onnx",
    "streamlit": "ui",
    "altair": "ui",
}


class MissingExtraError(InputError):
    """A feature's optional packages are not installed (exit 2: the fix is an install, not a retry)."""


def extra_for(module: str) -> Optional[str]:
    """The extra that provides `module` (a dotted import name), or None for a core or unknown one."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        extra = MODULE_EXTRA.get(".".join(parts[:n]))
        if extra:
            return extra
    return None


def missing_extra_error(exc: ModuleNotFoundError, extra: Optional[str] = None) -> Optional[MissingExtraError]:
    """The one-line error for a failed import, or None when no extra provides that module."""
    extra = extra or extra_for(exc.name or "")
    if not extra:
        return None
    choices = " or ".join(f"'deploy-advisor[{e}]'" for e in extra.split("|"))
    which = " (the extra of the target you use)" if "|" in extra else ""
    return MissingExtraError(f"this needs the optional package {exc.name!r}: pip install {choices}{which}",
                             code="MissingExtra")


@contextlib.contextmanager
def needs_extra(extra: str) -> Iterator[None]:
    """Turn a ModuleNotFoundError inside the block into a one-line error naming `extra`."""
    try:
        yield
    except ModuleNotFoundError as exc:
        raise missing_extra_error(exc, extra) from exc
