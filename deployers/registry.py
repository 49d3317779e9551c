"""Find deployer plugins: built-ins in code, third parties through entry points.

Built-ins are listed here too so a plain checkout (not pip-installed) works.
Modules are imported only when a target is used: Azure SDKs load lazily.
"""
from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Optional

from .base import Deployer
from .errors import InputError

GROUP = "deploy_advisor.deployers"

BUILTINS: dict[str, str] = {
    "local": "deployers.local:LocalDeployer",
    "azureml": "deployers.azureml:AzureMLDeployer",
    "aks": "deployers.aks:AKSDeployer",
    "appservice": "deployers.appservice:AppServiceDeployer",
    "containerapps": "deployers.containerapps:ContainerAppsDeployer",
    "azureml-batch": "deployers.azureml_batch:AzureMLBatchDeployer",
}

_cache: dict[str, type[Deployer]] = {}


def _load(ref: str) -> type[Deployer]:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def available() -> dict[str, str]:
    """target id -> 'module:Class' for every installed deployer (built-ins first)."""
    found = dict(BUILTINS)
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def installed_targets() -> list[str]:
    """Targets whose module imports (a built-in that has not landed is skipped)."""
    names = []
    for name in available():
        try:
            get_class(name)
        except InputError:
            continue
        names.append(name)
    return names


def get_class(target: str) -> type[Deployer]:
    if target in _cache:
        return _cache[target]
    ref = available().get(target)
    if ref is None:
        known = ", ".join(sorted(available()))
        raise InputError(f"unknown target {target!r}", f"choose one of: {known}")
    try:
        cls = _load(ref)
    except (ImportError, AttributeError) as e:
        raise InputError(f"target {target!r} could not be loaded ({ref}): {e}",
                         "reinstall the plugin package") from e
    _cache[target] = cls
    return cls


def get(target: str) -> Deployer:
    return get_class(target)()


def describe(target: str) -> Optional[dict]:
    try:
        cls = get_class(target)
    except InputError:
        return None
    return {"name": target, "title": cls.title, "description": cls.description,
            "requires_azure": cls.requires_azure}
