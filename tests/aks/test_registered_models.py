"""A model registered in Azure ML (a workspace or a registry) deploys to AKS end to end.

Real azure-ai-ml, azure-mgmt-* and kubernetes clients against the fakes: the model's files are
real blobs behind the workspace datastore (or the registry's storage) served through the TLS
proxy; `MLClient.models.download` fetches them on apply, never during a plan.
"""
from __future__ import annotations

import pytest

from deployers import api
from deployers.errors import ModelResolutionError
from deployers.ledger import Ledger
from tests.fakes import registered_models as rm

NAME = "fraud"
WS_URI = "azureml:fraud:1"
REG_URI = f"azureml://registries/{rm.REGISTRY}/models/fraud/versions/1"


@pytest.fixture
def stores(azure, isolated_home, tmp_path, monkeypatch):
    fake, _, _ = azure
    s = rm.install(fake, tmp_path, monkeypatch)
    yield s
    s.proxy.stop()


@pytest.fixture(scope="module")
def second_model(tmp_path_factory):
    """Another real MLflow model (different weights): a new version's content."""
    return rm.save_sklearn_model(tmp_path_factory.mktemp("aks-v2") / "fraud-model", threshold=5.0)


def spec_for(make_spec, uri: str):
    return make_spec(registry=None).model_copy(update={"model": uri})


def kinds(plan) -> dict[str, str]:
    return {a.resource_type: a.kind for a in plan.actions}


def model_files_in_last_build(acr) -> dict[str, bytes]:
    return {k[len("app/model/"):]: v for k, v in acr.context_files().items() if k.startswith("app/model/")}


@pytest.mark.parametrize("uri", [WS_URI, REG_URI], ids=["workspace", "registry"])
def test_registered_model_deploys_end_to_end_and_plan_reads_no_blob(azure, ctx, make_spec, stores, tiny_model, uri,
                                                                   events, k8s):
    fake, acr, aks = azure
    if uri == WS_URI:
        stores.aml.register_model_files("fraud", "1", tiny_model)
    else:
        stores.registry.register_model_files("fraud", "1", tiny_model)
    plan = api.plan(spec_for(make_spec, uri), ctx)
    download = next(a for a in plan.actions if a.resource_type == "model-download")
    want = rm.files_of(tiny_model)
    assert download.kind == "create" and download.resource == uri
    assert download.changes == {"files": len(want), "bytes": sum(len(b) for b in want.values())}
    assert ("datastore workspaceblobstore, path LocalUpload/" in download.detail if uri == WS_URI
            else f"{stores.registry.account}.blob.core.windows.net/" in download.detail)
    assert "sig=" not in download.detail  # a registry SAS never reaches the plan
    assert stores.blob_reads() == 0 and not (ctx.state_dir / "models" / "remote").exists()
    assert plan.settings["tag"] == "" and plan.settings["image"].endswith(":pending-model-download")
    assert "downloads it first" in plan.artifacts["README.md"]

    result = api.apply(plan, ctx)
    assert result.status == "succeeded", result.message
    assert result.smoke_response == [0, 0]
    # exactly the registered bytes went into the image, built by ACR Tasks under a content tag
    assert model_files_in_last_build(acr) == want
    image = result.outputs["image"]
    assert image.startswith(f"{plan.settings['registry']}.azurecr.io/deploy-advisor/fraud:c")
    assert k8s.get("Deployment", NAME, NAME)["spec"]["template"]["spec"]["containers"][0]["image"] == image
    # the ledger records what really runs (the plan's pending tag was filled in)
    assert Ledger(ctx.state_dir).get_deployment(NAME)["plan"]["settings"]["image"] == image
    msgs = [e.message for e in events.events]
    assert any(m.startswith(f"download {uri}: {len(want)} file(s)") for m in msgs)
    assert any(m.startswith(f"downloaded {uri}: {len(want)} file(s)") for m in msgs)
    assert stores.proxy.refused == []
    # datastore keys and registry SAS tokens stay out of plans, events and the ledger
    ledger_text = str(Ledger(ctx.state_dir).get_deployment(NAME)) + str(Ledger(ctx.state_dir).events(NAME))
    for secret in stores.aml.storage.secrets():
        assert secret not in plan.model_dump_json() and secret not in " ".join(msgs) and secret not in ledger_text


@pytest.mark.parametrize("uri", [WS_URI, REG_URI], ids=["workspace", "registry"])
def test_same_version_again_neither_downloads_nor_rebuilds_a_new_version_does_both(
        azure, ctx, make_spec, stores, tiny_model, second_model, uri):
    fake, acr, _ = azure
    register = stores.aml.register_model_files if uri == WS_URI else stores.registry.register_model_files
    register("fraud", "1", tiny_model)
    assert api.apply(api.plan(spec_for(make_spec, uri), ctx), ctx).status == "succeeded"
    reads, builds = stores.blob_reads(), len(acr.uploads)

    again = api.plan(spec_for(make_spec, uri), ctx)
    assert "model-download" not in kinds(again) and kinds(again)["image"] == "no-op"
    assert not again.has_changes
    assert api.apply(again, ctx).status == "no-change"
    assert (stores.blob_reads(), len(acr.uploads)) == (reads, builds)

    register("fraud", "2", second_model)
    newer = api.plan(spec_for(make_spec, uri.replace("1", "2") if uri == WS_URI else uri.replace("/versions/1", "/versions/2")), ctx)
    assert kinds(newer)["model-download"] == "create" and stores.blob_reads() == reads
    assert api.apply(newer, ctx).status == "succeeded"
    assert stores.blob_reads() > reads and len(acr.uploads) == builds + 1
    assert model_files_in_last_build(acr) == rm.files_of(second_model)


@pytest.mark.parametrize("uri", [WS_URI, REG_URI], ids=["workspace", "registry"])
def test_missing_blobs_fail_naming_the_path_and_create_nothing(azure, ctx, make_spec, stores, tiny_model, uri):
    fake, acr, _ = azure
    if uri == WS_URI:
        prefix = stores.aml.register_model_files("fraud", "1", tiny_model)
        account, container = stores.aml.storage_account, stores.aml.blob_container
    else:
        prefix = stores.registry.register_model_files("fraud", "1", tiny_model)
        account, container = stores.registry.account, stores.registry.container
    plan = api.plan(spec_for(make_spec, uri), ctx)  # the blobs are there while planning ...
    assert stores.aml.storage.delete_blobs(account, container, prefix) == len(rm.files_of(tiny_model))
    with pytest.raises(ModelResolutionError) as err:  # ... and gone when applying
        api.apply(plan, ctx)
    line = err.value.one_line()
    assert "\n" not in line and uri in line and prefix in line and "blobs are missing" in line
    assert not [r for r in fake.requests if r.method in ("PUT", "PATCH", "DELETE")]  # nothing half-created
    assert not acr.uploads
    remote = ctx.state_dir / "models" / "remote"
    assert not any(p.is_file() for p in remote.rglob("*")) if remote.exists() else True
    with pytest.raises(ModelResolutionError) as again:  # a new plan says the same, read-only
        api.plan(spec_for(make_spec, uri), ctx)
    assert prefix in again.value.one_line()


def test_files_that_are_not_a_model_get_one_line_naming_what_is_missing(azure, ctx, make_spec, stores, tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "README.txt").write_text("weights are on the team share\n")
    (folder / "config.yaml").write_text("a: 1\n")
    stores.aml.register_model_files("fraud", "1", folder)
    plan = api.plan(spec_for(make_spec, WS_URI), ctx)
    with pytest.raises(ModelResolutionError) as err:
        api.apply(plan, ctx)
    line = err.value.one_line()
    assert "no MLmodel file" in line and "no .onnx, .joblib, .pkl" in line and "README.txt" in line
    assert not [r for r in azure[0].requests if r.method in ("PUT", "PATCH", "DELETE")]
