"""Registering a local model (and a custom model's scoring code) uploads real bytes to the workspace's blob store.

azure-ai-ml builds its own BlobServiceClient for `https://{account}.blob.core.windows.net`, so the
`transport=` that routes ARM calls to FakeAzure never reaches the upload. Instead the test sets
HTTPS_PROXY to a local TLS-intercepting proxy (tests/fakes/tls_proxy.py) that answers with the
in-memory Blob Storage fake (tests/fakes/blob_storage.py), trusting a throwaway CA through
REQUESTS_CA_BUNDLE. The SDK and our deployer run unmodified; the fake checks SharedKey signatures
/ SAS tokens and Content-MD5 as the service does, and refuses every other host.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from deployers import api
from tests.conftest import file_texts
from tests.fakes.tls_proxy import InterceptingProxy

from .conftest import make_ctx, make_spec

EP = "fraud-scoring"
ARM_OR_SCORING = r"^(management\.azure\.com|[a-z0-9-]+\.eastus\.inference\.ml\.azure\.com)$"


@pytest.fixture
def blob_proxy(aml, tmp_path, monkeypatch):
    """HTTPS_PROXY -> a proxy serving only `*.blob.core.windows.net` from `aml.storage` (env restored after)."""
    with InterceptingProxy(tmp_path / "tls") as proxy:
        proxy.add(r"\.blob\.core\.windows\.net$", aml.storage.handle)
        for name, value in proxy.environ().items():
            monkeypatch.setenv(name, value)
        yield proxy


@pytest.fixture(scope="module")
def mlflow_model(tmp_path_factory) -> Path:
    """A real MLflow scikit-learn model folder, plus a nested binary file (paths and bytes must survive)."""
    import logging

    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    X = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0)[::-1]})
    model = LogisticRegression().fit(X, (X.a > 10).astype(int))
    out = tmp_path_factory.mktemp("aml-upload") / "fraud-local"
    logging.getLogger("mlflow.sklearn").setLevel(logging.ERROR)
    mlflow.sklearn.save_model(model, str(out), serialization_format="cloudpickle",
                              signature=infer_signature(X, model.predict(X)), input_example=X.head(2),
                              pip_requirements=["scikit-learn==1.5.2", "cloudpickle==3.1.1"])
    extra = out / "extra" / "nested"
    extra.mkdir(parents=True)
    (extra / "weights.bin").write_bytes(bytes(range(256)) * 40)
    return out


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def datastore_path(uri: str) -> str:
    """`azureml://.../datastores/workspaceblobstore/paths/<path>` -> <path> (blob name prefix)."""
    marker = "/datastores/workspaceblobstore/paths/"
    assert marker in uri, uri
    return uri.split(marker, 1)[1].rstrip("/")


def assert_only_fakes_and_no_secrets(fake, aml, proxy, places: dict[str, str]) -> None:
    assert proxy.refused == [], f"something tried to leave the test: {proxy.refused}"
    host = f"{aml.storage_account}.blob.core.windows.net"
    assert {e.host for e in proxy.exchanges} == {host}
    assert all(re.match(ARM_OR_SCORING, r.host) for r in fake.requests), {r.host for r in fake.requests}
    # every blob call carried what listSecrets / startPendingUpload handed out, and the fake verified it
    assert aml.secrets_listed >= 1
    assert {r.auth for r in aml.storage.requests} <= {"sharedkey", "sas"}
    assert not [r for r in aml.storage.requests if r.status in (401, 403)]
    secrets = aml.storage.secrets()
    assert secrets
    for where, text in places.items():
        for secret in secrets:
            assert secret not in text, f"a storage key / SAS signature leaked into {where}"


@pytest.mark.parametrize("datastore_auth", ["key", "sas"])
def test_local_mlflow_model_is_uploaded_byte_for_byte_and_registered(fake, aml, blob_proxy, mlflow_model,
                                                                      isolated_home, capsys, debug_log,
                                                                      datastore_auth):
    aml.datastore_auth = datastore_auth
    ctx = make_ctx(fake, isolated_home)
    plan = api.plan(make_spec(model=str(mlflow_model)), ctx)
    assert not [f for f in plan.findings if f.level == "fail"], plan.findings
    name, version = plan.settings["model"]["name"], plan.settings["model"]["version"]
    assert ("create", "model", f"azureml:{name}:{version}") in [
        (a.kind, a.resource_type, a.resource) for a in plan.actions]
    assert aml.uploaded() == {}  # planning is read-only: nothing uploaded yet

    result = api.apply(plan, ctx)
    assert result.status == "succeeded"
    # the datastore credential listSecrets handed out is what signed the upload
    assert {r.auth for r in aml.storage.requests} == {"sas" if datastore_auth == "sas" else "sharedkey"}

    version_id = f"{aml.ws_id}/models/{name}/versions/{version}"
    registered = fake.get(version_id)
    assert registered is not None and registered["properties"]["modelType"] == "mlflow_model"
    assert "sklearn" in registered["properties"]["flavors"]  # read by the fake from the uploaded MLmodel
    prefix = datastore_path(registered["properties"]["modelUri"])
    assert prefix.startswith("LocalUpload/") and prefix.endswith("/" + mlflow_model.name)
    uploaded = aml.uploaded(prefix + "/")
    assert uploaded == {f"{prefix}/{rel}": data for rel, data in files_of(mlflow_model).items()}
    assert set(aml.uploaded()) == set(uploaded)  # nothing stray elsewhere in the container
    # the upload is marked complete (azure-ai-ml's confirmation metadata on its indicator blob)
    marked = [b for b in aml.storage.blobs(aml.storage_account, aml.blob_container, prefix).values() if b.metadata]
    assert len(marked) == 1 and marked[0].metadata.get("upload_status") == "completed"
    # the new deployment serves exactly that registered version
    dep = aml.deployment(EP, "blue")
    assert dep["properties"]["model"].lower() == version_id.lower()
    assert fake.get(f"{aml.ws_id}/models/{name}") is not None

    captured = capsys.readouterr()
    assert "%|" not in captured.err, "an SDK progress bar reached stderr (where --output json writes events)"
    places = {"stdout": captured.out, "stderr": captured.err, "log": debug_log.read_text(errors="replace"),
              "plan": plan.to_json(), "result": result.model_dump_json(),
              **{str(p): t for p, t in file_texts(isolated_home).items()}}
    assert any("ledger" in k or k.endswith(".db") or ".sqlite" in k for k in places), sorted(places)
    assert_only_fakes_and_no_secrets(fake, aml, blob_proxy, places)


def test_a_second_apply_of_the_same_model_does_not_upload_again(fake, aml, blob_proxy, mlflow_model, isolated_home):
    ctx = make_ctx(fake, isolated_home)
    api.apply(api.plan(make_spec(model=str(mlflow_model)), ctx), ctx)
    puts = len([r for r in aml.storage.requests if r.method == "PUT"])
    again = api.plan(make_spec(model=str(mlflow_model)), ctx)
    assert "register_model" not in again.settings["steps"]  # the workspace already has that version
    api.apply(again, ctx)
    assert len([r for r in aml.storage.requests if r.method == "PUT"]) == puts


def test_custom_model_uploads_its_folder_and_the_reviewed_scoring_code(fake, aml, blob_proxy, isolated_home,
                                                                        tmp_path, capsys, debug_log):
    model_dir = tmp_path / "churn"
    model_dir.mkdir()
    (model_dir / "model.joblib").write_bytes(b"\x80\x04not unpickled by the deployer\x00" * 10)
    (model_dir / "requirements.txt").write_text("scikit-learn==1.5.2\n")
    (model_dir / "input_example.json").write_text(json.dumps({"input_data": [[1.0, 2.0]]}))
    ctx = make_ctx(fake, isolated_home)
    plan = api.plan(make_spec(model=str(model_dir), smoke_input=None), ctx)
    assert plan.model_info.format == "custom"
    result = api.apply(plan, ctx)
    assert result.status == "succeeded"

    model = fake.get(f"{aml.ws_id}/models/churn/versions/1")
    assert model["properties"]["modelType"] == "custom_model"
    mprefix = datastore_path(model["properties"]["modelUri"])
    assert aml.uploaded(mprefix + "/") == {f"{mprefix}/{rel}": b for rel, b in files_of(model_dir).items()}

    dep = aml.deployment(EP, "blue")
    code_id = dep["properties"]["codeConfiguration"]["codeId"]
    assert dep["properties"]["codeConfiguration"]["scoringScript"] == "score.py"
    code = fake.get(code_id)
    assert code is not None, code_id
    code_uri = code["properties"]["codeUri"]
    assert code_uri.startswith(f"https://{aml.storage_account}.blob.core.windows.net/"), code_uri
    uploaded = aml.blobs_at(code_uri)  # the pending-upload container startPendingUpload handed out
    # the code folder holds the score.py the plan showed for review, byte for byte
    assert {k.rsplit("/", 1)[-1]: v for k, v in uploaded.items()} == {
        "score.py": plan.artifacts["score/score.py"].encode()}

    captured = capsys.readouterr()
    assert "%|" not in captured.err, "an SDK progress bar reached stderr (where --output json writes events)"
    places = {"stdout": captured.out, "stderr": captured.err, "log": debug_log.read_text(errors="replace"),
              "plan": plan.to_json(), "result": result.model_dump_json(),
              **{str(p): t for p, t in file_texts(isolated_home).items()}}
    assert_only_fakes_and_no_secrets(fake, aml, blob_proxy, places)


def test_a_link_out_of_the_model_folder_is_refused_before_any_upload(fake, aml, blob_proxy, mlflow_model,
                                                                       isolated_home, tmp_path):
    """The folder changed after the plan (a link to another file of this machine appeared):
    apply refuses in one line and nothing reaches the blob store."""
    import shutil

    from deployers.errors import ModelResolutionError

    model = tmp_path / "linked-model"
    shutil.copytree(mlflow_model, model)
    ctx = make_ctx(fake, isolated_home)
    plan = api.plan(make_spec(model=str(model)), ctx)
    secret = tmp_path / "private.txt"
    secret.write_text("not for the workspace")
    (model / "notes.txt").symlink_to(secret)
    with pytest.raises(ModelResolutionError, match="leads outside the model folder"):
        api.apply(plan, ctx)
    assert aml.uploaded() == {}
