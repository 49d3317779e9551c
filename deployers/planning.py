"""What every deployer needs while planning: sizing from the advisor, the model, a smoke payload.

Kept apart from `api` so plugins can import it without importing the facade.
"""
from __future__ import annotations

import json
from typing import Any, Optional

from advisor.models import ModelInfo, Sizing, WorkloadProfile

from .base import DeployContext
from .errors import ModelResolutionError
from .models import DeploymentSpec


def sizing_for(target: str, profile: WorkloadProfile) -> Sizing:
    """The advisor's sizing for one target, even when the advisor would not rank it."""
    from advisor.engine import size_for

    return size_for(target, profile)


def resolve_model(spec: DeploymentSpec, ctx: DeployContext) -> ModelInfo:
    """Resolve the spec's model; an `azureml:` model that cannot be reached offline
    falls back to the profile's model facts (the deployer still plans)."""
    from . import model_resolution

    try:
        return model_resolution.resolve(spec.model, ctx.state_dir, ctx)
    except ModelResolutionError as e:
        if not spec.model.startswith("azureml:"):
            raise
        ctx.emit("warning", f"{e.message}; using the profile's model facts")
        name, _, version = spec.model[len("azureml:"):].partition(":")
        facts = spec.profile.model
        return ModelInfo(uri=spec.model, name=name, version=version, framework=facts.framework,
                         format=facts.format, size_mb=facts.size_mb, source="azureml")


def input_example(info: Optional[ModelInfo]) -> Optional[dict[str, Any]]:
    """A `/score` body built from the model's saved input example (Azure ML's input_data shape)."""
    if info is None or info.input_example is None:
        return None
    example = info.input_example
    if isinstance(example, str):
        try:
            example = json.loads(example)
        except ValueError:
            return None
    if isinstance(example, dict) and ("input_data" in example or set(example) == {"data"}):
        return example  # already a request body
    return {"input_data": example}


def model_and_sizing(target: str, spec: DeploymentSpec, ctx: DeployContext) -> tuple[ModelInfo, Optional[Sizing]]:
    """The resolved model and the advisor's sizing for `target`; no sizing (a warning) when the
    advisor cannot size this profile, so the deployer falls back to its own defaults."""
    info = resolve_model(spec, ctx)
    try:
        sizing = sizing_for(target, spec.profile)
    except (ImportError, AttributeError, KeyError, ValueError) as e:
        ctx.emit("warning", f"no sizing from the advisor ({e.__class__.__name__}: {e}); using the target's defaults")
        sizing = None
    return info, sizing


def dotted_diff(now: Any, want: Any, prefix: str = "") -> dict[str, Any]:
    """{dotted.path: [current, desired]} for every leaf that differs (a plan action's `changes`)."""
    out: dict[str, Any] = {}
    if isinstance(now, dict) and isinstance(want, dict):
        for k in sorted(set(now) | set(want)):
            out.update(dotted_diff(now.get(k), want.get(k), f"{prefix}{k}."))
        return out
    if now != want:
        out[prefix.rstrip(".") or "value"] = [now, want]
    return out


def artifact_text(data: Any, limit: int = 1_000_000) -> Optional[str]:
    """A build-context file as text for plan.artifacts, or None for binary / very large files."""
    if isinstance(data, str):
        return data if len(data) <= limit else None
    if len(data) > limit or b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
