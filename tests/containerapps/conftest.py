"""Fixtures for the Container Apps deployer: the Azure fake with Microsoft.App and the registry,
a context pointing at it, and a tiny MLflow-format model folder (no mlflow import needed)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from deployers.base import DeployContext
from deployers.models import DeploymentSpec
from tests.fakes import acr as acr_fake
from tests.fakes.azure import FakeAzure, fake_context
from tests.fakes.containerapps import install

APP = "fraud-aca"
IMAGE_V1 = "myregistry.azurecr.io/deploy-advisor/fraud:v1"
IMAGE_V2 = "myregistry.azurecr.io/deploy-advisor/fraud:v2"
IMAGE_V3 = "myregistry.azurecr.io/deploy-advisor/fraud:v3"
EXAMPLE = {"columns": ["a", "b"], "data": [[1.0, 2.0], [3.0, 4.0]]}


@pytest.fixture
def fake() -> FakeAzure:
    return FakeAzure(polls=1)


@pytest.fixture
def aca(fake):
    return install(fake, resource_group="rg")


@pytest.fixture
def acr(fake):
    """The registry the images live in (ACR Tasks builds, tag lookups, AcrPull role assignments)."""
    registry = acr_fake.install(fake)
    registry.add_registry("rg", "myregistry")
    return registry


@pytest.fixture
def ctx(fake, aca, acr, events, isolated_home) -> DeployContext:
    return fake_context(fake, isolated_home, events, location="eastus")


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


def make_spec(model_dir: Path, name: str = APP, profile: dict | None = None, **settings) -> DeploymentSpec:
    base = {"registry": "myregistry", "image": IMAGE_V1}
    base.update(settings)
    base = {k: v for k, v in base.items() if v is not None}
    return DeploymentSpec(name=name, target="containerapps", model=str(model_dir), profile=profile or {},
                          settings=base)
