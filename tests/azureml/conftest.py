"""Fixtures for the Azure ML deployer tests: the real azure-ai-ml SDK against FakeAzure."""
from __future__ import annotations

import json
from typing import Any

import pytest

from advisor.models import WorkloadProfile
from deployers.base import DeployContext
from deployers.models import DeploymentSpec
from tests.fakes import azureml as amlfake
from tests.fakes.azure import FakeAzure, fake_context

WS = "mlw-test"
SMOKE = json.dumps({"input_data": [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3]]})
# explicit sizing so the tests do not depend on the advisor's numbers
SIZED = {"workspace": WS, "instance_type": "Standard_DS3_v2", "instance_count": 2, "min_instances": 2,
         "max_instances": 4, "smoke_input": SMOKE, "canary_observe_seconds": 0}


@pytest.fixture(autouse=True)
def _no_cloud_env(no_azure_sign_in, monkeypatch):
    """No real az CLI cache or Azure env leaks into a test (the fake credential is injected)."""
    monkeypatch.delenv("AZUREML_CURRENT_CLOUD", raising=False)


@pytest.fixture
def fake() -> FakeAzure:
    return FakeAzure(polls=2)


@pytest.fixture
def aml(fake: FakeAzure) -> amlfake.AzureMLFake:
    a = amlfake.install(fake, workspace=WS)
    a.register_model("fraud", "1")
    a.register_model("fraud", "2")
    a.register_model("fraud", "3")
    return a


@pytest.fixture
def ctx(fake, aml, isolated_home, events) -> DeployContext:
    return make_ctx(fake, isolated_home, events)


def make_ctx(fake: FakeAzure, home, events=None, name: str = "fraud-scoring", **kw: Any) -> DeployContext:
    return fake_context(fake, home, events, **kw).for_deployment(name)


def make_spec(model: str = "azureml:fraud:1", rollout: str = "blue-green", name: str = "fraud-scoring",
              profile: dict | None = None, **settings: Any) -> DeploymentSpec:
    prof = {"operations": {"rollout": rollout}}
    for k, v in (profile or {}).items():
        prof.setdefault(k, {}).update(v) if isinstance(v, dict) else prof.__setitem__(k, v)
    return DeploymentSpec(name=name, target="azureml", model=model, profile=WorkloadProfile.model_validate(prof),
                          settings={**SIZED, **settings})


def arm_writes(fake: FakeAzure) -> list[tuple[str, str]]:
    """(method, last two path segments) of every ARM write, faults excluded."""
    return [(r.method, "/".join(r.path.split("/")[-2:])) for r in fake.requests
            if r.host == "management.azure.com" and r.method in ("PUT", "POST", "DELETE", "PATCH") and not r.fault]
