"""Fixtures for the aks target: the Azure fake (ARM + ACR + AKS), a fake Kubernetes API server, a tiny model."""
from __future__ import annotations

from pathlib import Path

import pytest

from deployers.base import DeployContext
from deployers.models import DeploymentSpec
from tests.fakes import acr as acr_fake
from tests.fakes import aks as aks_fake
from tests.fakes.azure import FakeAzure, fake_context
from tests.fakes.kubernetes_api import FakeKubernetes

CANARY = "CANARY-KEY-7f3a9c"  # never allowed in plans, results, events, the ledger or exported files


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A real MLflow scikit-learn model with a signature and an input example (saved once)."""
    import logging

    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    X = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0)[::-1]})
    y = (X.a > 10).astype(int)
    model = LogisticRegression().fit(X, y)
    out = tmp_path_factory.mktemp("aks-model") / "fraud-model"
    logging.getLogger("mlflow.sklearn").setLevel(logging.ERROR)
    mlflow.sklearn.save_model(model, str(out), serialization_format="cloudpickle",
                              signature=infer_signature(X, model.predict(X)), input_example=X.head(2),
                              pip_requirements=["scikit-learn==1.9.1", "cloudpickle==3.1.3"])
    return out


@pytest.fixture
def k8s():
    with FakeKubernetes() as server:
        yield server


@pytest.fixture
def azure(k8s):
    """(fake, acr, aks): one FakeAzure with the ACR and AKS provider handlers installed."""
    fake = FakeAzure(polls=1)
    acr = acr_fake.install(fake)
    aks = aks_fake.install(fake, kube=k8s)
    return fake, acr, aks


@pytest.fixture
def ctx(azure, events, isolated_home) -> DeployContext:
    fake, _, _ = azure
    return fake_context(fake, isolated_home, events)


@pytest.fixture
def make_spec(tiny_model, k8s):
    def make(name: str = "fraud", profile: dict | None = None, **settings) -> DeploymentSpec:
        base = {"registry": "myregistry", "rollout_timeout_s": 1, "endpoint_timeout_s": 1,
                "service_port": k8s.backend_port}
        base.update(settings)
        return DeploymentSpec(name=name, target="aks", model=str(tiny_model), profile=profile or {}, settings=base)
    return make
