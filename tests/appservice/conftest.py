"""Fixtures for the App Service deployer: the Azure fake with the Microsoft.Web provider and a context
pointing at it; the fake, registry and model folder fixtures are the shared ones in tests/fakes/webapp.py."""
from __future__ import annotations

from pathlib import Path

import pytest

from deployers.base import DeployContext
from deployers.models import DeploymentSpec
from tests.fakes.appservice import install
from tests.fakes.azure import fake_context
from tests.fakes.webapp import EXAMPLE, IMAGE_V1, IMAGE_V2, acr, fake, model_dir, webapp_spec  # noqa: F401


@pytest.fixture
def web(fake):
    return install(fake, resource_group="rg")


@pytest.fixture
def ctx(fake, web, acr, events, isolated_home) -> DeployContext:
    return fake_context(fake, isolated_home, events, location="eastus")


def make_spec(model_dir: Path, name: str = "fraud-app", profile: dict | None = None, **settings) -> DeploymentSpec:
    return webapp_spec("appservice", model_dir, name, profile, **settings)
