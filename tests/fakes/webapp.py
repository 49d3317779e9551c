"""Fixtures and helpers the App Service and Container Apps tests share: the Azure fake, its registry,
a tiny MLflow-format model folder (no mlflow import needed), a spec maker and plan/apply shortcuts.
Each suite's conftest imports the fixtures it uses, so pytest registers them there."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import pytest

from deployers import api
from deployers.models import DeploymentSpec
from tests.fakes import acr as acr_fake
from tests.fakes.azure import FakeAzure

IMAGE_V1 = "myregistry.azurecr.io/deploy-advisor/fraud:v1"
IMAGE_V2 = "myregistry.azurecr.io/deploy-advisor/fraud:v2"
EXAMPLE = {"columns": ["a", "b"], "data": [[1.0, 2.0], [3.0, 4.0]]}


@pytest.fixture
def fake() -> FakeAzure:
    return FakeAzure(polls=1)


@pytest.fixture
def acr(fake):
    """The registry the images live in (ACR Tasks builds, tag lookups, AcrPull role assignments)."""
    registry = acr_fake.install(fake)
    registry.add_registry("rg", "myregistry")
    return registry


@pytest.fixture
def model_dir(tmp_path) -> Path:
    """An MLflow model folder as mlflow writes it (MLmodel + pickle + input example)."""
    d = tmp_path / "fraud-model"
    d.mkdir()
    (d / "MLmodel").write_text(
        "artifact_path: model\n"
        "flavors:\n"
        "  python_function:\n    loader_module: mlflow.sklearn\n    model_path: model.pkl\n    python_version: 3.11.9\n"
        "  sklearn:\n    pickled_model: model.pkl\n    serialization_format: cloudpickle\n    sklearn_version: 1.5.2\n"
        "saved_input_example_info:\n  artifact_path: input_example.json\n  type: dataframe\n  pandas_orient: split\n",
        encoding="utf-8")
    (d / "model.pkl").write_bytes(b"\x80\x04not-really-a-pickle")
    (d / "input_example.json").write_text(json.dumps(EXAMPLE), encoding="utf-8")
    (d / "requirements.txt").write_text("scikit-learn==1.5.2\n", encoding="utf-8")
    return d


def webapp_spec(target: str, model_dir: Path, name: str, profile: Optional[dict] = None,
                **settings: Any) -> DeploymentSpec:
    """A spec for `target` running IMAGE_V1 from myregistry; a setting given as None is dropped."""
    base = {"registry": "myregistry", "image": IMAGE_V1}
    base.update(settings)
    base = {k: v for k, v in base.items() if v is not None}
    return DeploymentSpec(name=name, target=target, model=str(model_dir), profile=profile or {}, settings=base)


def deploy(spec, ctx):
    """(plan, result) of planning and applying `spec`."""
    plan = api.plan(spec, ctx)
    return plan, api.apply(plan, ctx)


def kinds(plan) -> dict[str, str]:
    """resource type -> action kind of a plan."""
    return {a.resource_type: a.kind for a in plan.actions}
