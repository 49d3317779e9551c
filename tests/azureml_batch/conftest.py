"""Fixtures for the Azure ML batch endpoint tests: the real azure-ai-ml SDK against FakeAzure
(tests/fakes/azureml.py for the workspace, tests/fakes/azureml_batch.py for the batch resources)."""
from __future__ import annotations

from typing import Any

import pytest

from advisor.models import WorkloadProfile
from deployers.base import DeployContext
from deployers.models import DeploymentSpec
from tests.fakes import azureml as amlfake
from tests.fakes import azureml_batch as batchfake
from tests.fakes.azure import FakeAzure, fake_context
from tests.azureml.test_model_upload import blob_proxy  # noqa: F401  (HTTPS_PROXY -> the Blob Storage fake)

WS = "mlw-test"
NAME = "nightly-scores"
SAMPLE_URL = "https://data.example.com/samples/sample.csv"
SAMPLE = b"a,b,c,d\n5.1,3.5,1.4,0.2\n6.2,2.9,4.3,1.3\n"
# explicit sizing so the tests do not depend on the advisor's numbers
SIZED = {"workspace": WS, "instance_type": "Standard_DS3_v2", "instance_count": 2, "max_nodes": 4,
         "smoke_input": SAMPLE_URL}
PROFILE = {"inference": {"mode": "batch", "max_request_seconds": 600}, "security": {"auth": "entra"},
           "scale": {"scale_to_zero": True}}


@pytest.fixture(autouse=True)
def _no_cloud_env(no_azure_sign_in, monkeypatch):
    monkeypatch.delenv("AZUREML_CURRENT_CLOUD", raising=False)


@pytest.fixture(autouse=True)
def _sdk_log_to_current_stderr():
    """azure-ai-ml adds a StreamHandler bound to the sys.stderr of import time (an earlier test's capture,
    closed by now): point it at this test's stderr so its INFO lines land in capsys, not in a logging error."""
    import logging
    import sys

    handlers = [h for h in logging.getLogger("azure.ai.ml").handlers if type(h) is logging.StreamHandler]
    saved = [(h, h.stream, h.__dict__.get("flush")) for h in handlers]
    for h in handlers:
        h.stream = sys.stderr  # (not setStream: it would flush the closed one)
        h.flush = sys.stderr.flush
    yield
    for h, stream, flush in saved:
        h.stream = stream
        if flush is not None:
            h.flush = flush


@pytest.fixture
def fake() -> FakeAzure:
    return FakeAzure(polls=2)


@pytest.fixture
def aml(fake: FakeAzure) -> amlfake.AzureMLFake:
    a = amlfake.install(fake, workspace=WS)
    for version in ("1", "2", "3"):
        a.register_model("propensity", version)
    return a


@pytest.fixture
def batch(fake, aml) -> batchfake.BatchFake:
    b = batchfake.install(fake, aml)
    b.public_inputs[SAMPLE_URL] = SAMPLE
    return b


@pytest.fixture
def ctx(fake, batch, isolated_home, events) -> DeployContext:
    return make_ctx(fake, isolated_home, events)


def make_ctx(fake: FakeAzure, home, events=None, name: str = NAME, **kw: Any) -> DeployContext:
    return fake_context(fake, home, events, **kw).for_deployment(name)


def make_spec(model: str = "azureml:propensity:1", name: str = NAME, profile: dict | None = None,
              **settings: Any) -> DeploymentSpec:
    prof = {k: dict(v) for k, v in PROFILE.items()}
    for k, v in (profile or {}).items():
        prof.setdefault(k, {}).update(v)
    return DeploymentSpec(name=name, target="azureml-batch", model=model,
                          profile=WorkloadProfile.model_validate(prof), settings={**SIZED, **settings})


def arm_writes(fake: FakeAzure) -> list[tuple[str, str]]:
    """(method, last two path segments) of every successful ARM write."""
    return [(r.method, "/".join(r.path.split("/")[-2:])) for r in fake.requests
            if r.host == "management.azure.com" and r.method in ("PUT", "POST", "DELETE", "PATCH") and not r.fault]
