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
