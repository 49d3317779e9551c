"""Registered models with real files for the image targets' tests.

`save_sklearn_model` writes a real MLflow scikit-learn model (the tests own its bytes, so they can
check that exactly these bytes reach the image). `ModelStores` puts such folders behind an Azure ML
workspace's datastore and an Azure ML registry on one FakeAzure, and serves their blob storage
through the TLS-intercepting proxy, since azure-ai-ml builds its own storage clients.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import azureml as aml_fake
from .tls_proxy import InterceptingProxy

WORKSPACE = "mlw-test"
REGISTRY = "shared-models"


def save_sklearn_model(out: Path, *, threshold: float = 10.0) -> Path:
    """A LogisticRegression on two columns as an MLflow model (signature + 2-row input example)."""
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    X = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0)[::-1]})
    model = LogisticRegression().fit(X, (X.a > threshold).astype(int))
    logging.getLogger("mlflow.sklearn").setLevel(logging.ERROR)
    mlflow.sklearn.save_model(model, str(out), serialization_format="cloudpickle",
                              signature=infer_signature(X, model.predict(X)), input_example=X.head(2),
                              pip_requirements=["scikit-learn==1.9.1", "cloudpickle==3.1.3"])
    return out


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@dataclass
class ModelStores:
    """The Azure ML workspace `aml` and registry `registry` (blobs in `aml.storage`) plus the proxy."""
    aml: Any
    registry: Any
    proxy: InterceptingProxy

    def blob_reads(self) -> int:
        """Get Blob requests so far (a plan must make none; a cached deploy adds none)."""
        return len(self.aml.storage.gets())


def install(fake: Any, tmp_path: Path, monkeypatch: Any) -> ModelStores:
    """Workspace `mlw-test` in resource group rg + registry `shared-models`, blobs behind a local TLS proxy
    (HTTPS_PROXY etc. set with monkeypatch; the caller closes `proxy`)."""
    aml = aml_fake.install(fake, workspace=WORKSPACE, resource_group="rg")
    registry = aml_fake.install_registry(fake, aml.storage, REGISTRY)
    proxy = InterceptingProxy(tmp_path / "tls").__enter__()
    proxy.add(r"\.blob\.core\.windows\.net$", aml.storage.handle)
    for name, value in proxy.environ().items():
        monkeypatch.setenv(name, value)
    # the fake Kubernetes API and pod backend listen on 127.0.0.1: reach them directly, not via the proxy
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("AZUREML_WORKSPACE_NAME", WORKSPACE)
    return ModelStores(aml, registry, proxy)
