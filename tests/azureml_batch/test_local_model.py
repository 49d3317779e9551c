"""A local MLflow model end to end: registered (uploaded through the blob proxy), deployed, and smoke-tested
on a sample built from the model's own input example (uploaded as a local folder)."""
from __future__ import annotations

from pathlib import Path

import pytest

from deployers import api

from .conftest import NAME, make_spec


@pytest.fixture(scope="module")
def mlflow_model(tmp_path_factory) -> Path:
    import logging

    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    X = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0)[::-1]})
    model = LogisticRegression().fit(X, (X.a > 10).astype(int))
    out = tmp_path_factory.mktemp("batch-local") / "propensity-local"
    logging.getLogger("mlflow.sklearn").setLevel(logging.ERROR)
    mlflow.sklearn.save_model(model, str(out), serialization_format="cloudpickle",
                              signature=infer_signature(X, model.predict(X)), input_example=X.head(3))
    return out


@pytest.mark.slow  # saving an MLflow model takes ~10 s here
def test_a_local_model_is_registered_and_smoke_tested_on_rows_of_its_input_example(fake, aml, batch, ctx,
                                                                                 blob_proxy, mlflow_model):
    plan = api.plan(make_spec(model=str(mlflow_model), smoke_input=None), ctx)
    assert not [f for f in plan.findings if f.level == "fail"], plan.findings
    assert ("create", "model") in [(a.kind, a.resource_type) for a in plan.actions]
    assert plan.artifacts["sample/sample.csv"].splitlines()[0] == "a,b"  # header + the example's 3 rows
    assert len(plan.artifacts["sample/sample.csv"].splitlines()) == 4
    result = api.apply(plan, ctx)
    assert result.status == "succeeded" and batch.default(NAME) == "blue"
    name, version = plan.settings["model"]["name"], plan.settings["model"]["version"]
    dep = fake.calls("PUT", r"/deployments/blue$")[0].body["properties"]
    assert dep["model"]["assetId"].endswith(f"/models/{name}/versions/{version}")
    smoke_input = batch.jobs_submitted[0]["properties"]["inputData"]["UriFolder"]["uri"]
    sample = aml.uploaded(smoke_input.split("/paths/", 1)[1])
    assert [v.decode() for v in sample.values()] == [plan.artifacts["sample/sample.csv"]]
    assert blob_proxy.refused == []
