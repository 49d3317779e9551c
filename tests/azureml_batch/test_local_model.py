"""A local MLflow model end to end: registered (uploaded through the blob proxy), deployed, and smoke-tested
on a sample built from the model's own input example (uploaded as a local folder)."""
from __future__ import annotations

import pytest

from deployers import api
from tests.azureml.test_model_upload import mlflow_model  # noqa: F401  (the same real MLflow model folder)

from .conftest import NAME, make_spec


@pytest.mark.slow  # saving an MLflow model takes ~10 s here
def test_a_local_model_is_registered_and_smoke_tested_on_rows_of_its_input_example(fake, aml, batch, ctx,
                                                                                 blob_proxy, mlflow_model):
    plan = api.plan(make_spec(model=str(mlflow_model), smoke_input=None), ctx)
    assert not [f for f in plan.findings if f.level == "fail"], plan.findings
    assert ("create", "model") in [(a.kind, a.resource_type) for a in plan.actions]
    assert plan.artifacts["sample/sample.csv"].splitlines()[0] == "a,b"  # header + the example's 2 rows
    assert len(plan.artifacts["sample/sample.csv"].splitlines()) == 3
    result = api.apply(plan, ctx)
    assert result.status == "succeeded" and batch.default(NAME) == "blue"
    name, version = plan.settings["model"]["name"], plan.settings["model"]["version"]
    dep = fake.calls("PUT", r"/deployments/blue$")[0].body["properties"]
    assert dep["model"]["assetId"].endswith(f"/models/{name}/versions/{version}")
    smoke_input = batch.jobs_submitted[0]["properties"]["inputData"]["UriFolder"]["uri"]
    sample = aml.uploaded(smoke_input.split("/paths/", 1)[1])
    assert [v.decode() for v in sample.values()] == [plan.artifacts["sample/sample.csv"]]
    assert blob_proxy.refused == []
