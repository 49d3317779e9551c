"""A model registered in Azure ML (workspace or registry) deploys to App Service with no --set registry= and
no --set image=: the files are downloaded on apply (never while planning), built into the image exactly as a
local model, and a second deploy of the same version neither downloads nor rebuilds."""
from __future__ import annotations

import pytest

from deployers import api
from deployers.errors import ModelResolutionError
from deployers.models import DeploymentSpec
from tests.fakes import registered_models as rm
from tests.fakes.webapp import kinds

APP = "fraud-app"
WS_URI = "azureml:fraud:1"
REG_URI = f"azureml://registries/{rm.REGISTRY}/models/fraud/versions/1"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    base = tmp_path_factory.mktemp("appservice-registered")
    return rm.save_sklearn_model(base / "v1" / "fraud-model"), rm.save_sklearn_model(base / "v2" / "fraud-model",
                                                                                      threshold=5.0)


@pytest.fixture
def stores(fake, isolated_home, tmp_path, monkeypatch):
    s = rm.install(fake, tmp_path, monkeypatch)
    yield s
    s.proxy.stop()


def spec(uri: str) -> DeploymentSpec:
    return DeploymentSpec(name=APP, target="appservice", model=uri, profile={})


@pytest.mark.parametrize("uri", [WS_URI, REG_URI], ids=["workspace", "registry"])
def test_registered_model_to_app_service_then_cached_then_new_version(ctx, fake, web, acr, stores, models, uri):
    v1, v2 = models
    register = stores.aml.register_model_files if uri == WS_URI else stores.registry.register_model_files
    register("fraud", "1", v1)
    plan = api.plan(spec(uri), ctx)
    assert kinds(plan)["model-download"] == "create" and stores.blob_reads() == 0
    assert plan.settings["image"].endswith(":pending-model-download")
    assert "downloads it first" in plan.artifacts["appservice/README.md"]
    result = api.apply(plan, ctx)
    assert result.status == "succeeded", result.message
    built = {k[len("app/model/"):]: v for k, v in acr.context_files().items() if k.startswith("app/model/")}
    assert built == rm.files_of(v1)
    assert web.config(APP)["linuxFxVersion"] == f"DOCKER|{result.outputs['image']}"
    assert ":c" in result.outputs["image"] and web.scored  # smoke-tested with the model's input example
    reads, builds = stores.blob_reads(), len(acr.uploads)

    again = api.plan(spec(uri), ctx)
    assert "model-download" not in kinds(again) and api.apply(again, ctx).status == "no-change"
    assert (stores.blob_reads(), len(acr.uploads)) == (reads, builds)

    register("fraud", "2", v2)
    newer = spec(uri.replace(":1", ":2") if uri == WS_URI else uri.replace("/versions/1", "/versions/2"))
    assert api.apply(api.plan(newer, ctx), ctx).status == "succeeded"
    assert stores.blob_reads() > reads and len(acr.uploads) == builds + 1


def test_missing_blobs_fail_before_anything_is_created(ctx, fake, web, acr, stores, models):
    prefix = stores.aml.register_model_files("fraud", "1", models[0])
    plan = api.plan(spec(WS_URI), ctx)
    stores.aml.storage.delete_blobs(stores.aml.storage_account, stores.aml.blob_container, prefix)
    with pytest.raises(ModelResolutionError) as err:
        api.apply(plan, ctx)
    assert prefix in err.value.one_line() and "blobs are missing" in err.value.one_line()
    assert not [r for r in fake.requests if r.method in ("PUT", "PATCH", "DELETE")]


def test_models_uri_on_the_workspace_mlflow_uri_deploys_the_same_way(ctx, fake, web, acr, stores, models,
                                                                    monkeypatch):
    stores.aml.register_model_files("fraud", "1", models[0])
    monkeypatch.setenv("MLFLOW_TRACKING_URI", fake.get(stores.aml.ws_id)["properties"]["mlFlowTrackingUri"])
    plan = api.plan(spec("models:/fraud/1"), ctx)
    assert kinds(plan)["model-download"] == "create" and stores.blob_reads() == 0
    result = api.apply(plan, ctx)
    assert result.status == "succeeded", result.message
    built = {k[len("app/model/"):]: v for k, v in acr.context_files().items() if k.startswith("app/model/")}
    assert built == rm.files_of(models[0])
    assert api.apply(api.plan(spec("models:/fraud/1"), ctx), ctx).status == "no-change"
