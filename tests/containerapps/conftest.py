"""Fixtures for the Container Apps deployer: the Azure fake with Microsoft.App and the registry, a context
pointing at it, and (from the App Service tests) a tiny MLflow-format model folder."""
from __future__ import annotations

from pathlib import Path

import pytest

from deployers.base import DeployContext
from deployers.models import DeploymentSpec
from tests.appservice.conftest import EXAMPLE, model_dir  # noqa: F401 - the same MLflow model folder fixture
from tests.fakes import acr as acr_fake
from tests.fakes.azure import FakeAzure, fake_context
from tests.fakes.containerapps import install

APP = "fraud-aca"
IMAGE_V1 = "myregistry.azurecr.io/deploy-advisor/fraud:v1"
IMAGE_V2 = "myregistry.azurecr.io/deploy-advisor/fraud:v2"
IMAGE_V3 = "myregistry.azurecr.io/deploy-advisor/fraud:v3"


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


def make_spec(model_dir: Path, name: str = APP, profile: dict | None = None, **settings) -> DeploymentSpec:
    base = {"registry": "myregistry", "image": IMAGE_V1}
    base.update(settings)
    base = {k: v for k, v in base.items() if v is not None}
    return DeploymentSpec(name=name, target="containerapps", model=str(model_dir), profile=profile or {},
                          settings=base)
