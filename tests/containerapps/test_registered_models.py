"""A model registered in Azure ML (a workspace or a registry) deploys to Container Apps end to end, through
the shared image path: plan reads no blob, apply downloads it, builds it into the image and rolls it out;
the same version again neither downloads nor rebuilds."""
from __future__ import annotations

import pytest

from deployers import api
from deployers.ledger import Ledger
from tests.containerapps.conftest import APP, make_spec
from tests.fakes import registered_models as rm

WS_URI = "azureml:fraud:1"
REG_URI = f"azureml://registries/{rm.REGISTRY}/models/fraud/versions/1"


@pytest.fixture(scope="module")
def sklearn_model(tmp_path_factory):
    return rm.save_sklearn_model(tmp_path_factory.mktemp("aca-model") / "fraud-model")


@pytest.fixture
def stores(fake, isolated_home, tmp_path, monkeypatch):
    s = rm.install(fake, tmp_path, monkeypatch)
    yield s
    s.proxy.stop()


@pytest.mark.parametrize("uri", [WS_URI, REG_URI], ids=["workspace", "registry"])
def test_registered_model_deploys_and_is_cached(ctx, fake, aca, acr, stores, sklearn_model, model_dir, uri):
    (stores.aml if uri == WS_URI else stores.registry).register_model_files("fraud", "1", sklearn_model)
    spec = make_spec(model_dir, image=None, registry=None).model_copy(update={"model": uri})
    plan = api.plan(spec, ctx)
    download = next(a for a in plan.actions if a.resource_type == "model-download")
    assert download.resource == uri and stores.blob_reads() == 0
    assert plan.settings["image"].endswith(":pending-model-download")
    result = api.apply(plan, ctx)
    assert result.status == "succeeded" and result.smoke_response == [0, 0]
    image = aca.app(APP)["properties"]["template"]["containers"][0]["image"]
    assert ":c" in image and Ledger(ctx.state_dir).get_deployment(APP)["plan"]["settings"]["image"] == image
    built = {k[len("app/model/"):]: v for k, v in acr.context_files().items() if k.startswith("app/model/")}
    assert built == rm.files_of(sklearn_model)
    reads, builds = stores.blob_reads(), len(acr.uploads)
    again = api.plan(spec, ctx)
    assert not again.has_changes and api.apply(again, ctx).status == "no-change"
    assert (stores.blob_reads(), len(acr.uploads)) == (reads, builds)
    assert stores.proxy.refused == []
