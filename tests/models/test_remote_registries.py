"""`models:/NAME/VERSION` against a remote MLFLOW_TRACKING_URI: a real MLflow tracking server (child process)
and an Azure ML workspace's MLflow URI (the Azure fake). Resolving and planning read no model file; fetching
downloads once into the state dir and a second fetch of the same version reads nothing."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from deployers import model_fetch
from deployers import model_resolution as mr
from deployers.events import EventRecorder
from tests.fakes import registered_models as rm
from tests.fakes.azure import FakeAzure, fake_context

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlflow-server")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for key in ("HTTPS_PROXY", "HTTP_PROXY", "MLFLOW_TRACKING_URI"):
        env.pop(key, None)
    proc = subprocess.Popen([sys.executable, "-m", "tests.fakes.mlflow_server", str(folder)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    first: list[str] = []
    reader = threading.Thread(target=lambda: first.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(120)
    if not first or not first[0].startswith("PORT "):
        proc.kill()
        pytest.fail("the MLflow test server did not start")
    yield f"http://127.0.0.1:{first[0].split()[1]}", folder / "requests.log"
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def model_dir(tmp_path) -> Path:
    """An MLflow model folder as mlflow writes it (MLmodel + weights + input example), plus a nested file."""
    d = tmp_path / "fraud-model"
    (d / "extra").mkdir(parents=True)
    (d / "MLmodel").write_text(
        "artifact_path: model\nflavors:\n  python_function:\n    loader_module: mlflow.sklearn\n"
        "    model_path: model.pkl\n  sklearn:\n    pickled_model: model.pkl\n    sklearn_version: 1.5.2\n"
        "saved_input_example_info:\n  artifact_path: input_example.json\n  type: dataframe\n", encoding="utf-8")
    (d / "model.pkl").write_bytes(bytes(range(256)) * 64)
    (d / "input_example.json").write_text(json.dumps({"columns": ["a", "b"], "data": [[1.0, 2.0]]}))
    (d / "extra" / "notes.bin").write_bytes(b"\x00" * 1000)
    return d


def file_reads(log: Path) -> list[str]:
    """Artifact downloads the server answered (a listing is `...artifacts?path=`, a read is `.../artifacts/<f>`)."""
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return [ln for ln in lines if ln.startswith("GET /api/2.0/mlflow-artifacts/artifacts/")]


def test_models_uri_on_a_remote_mlflow_server(mlflow_server, model_dir, isolated_home, monkeypatch):
    from mlflow import MlflowClient

    uri, log = mlflow_server
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    run = client.create_run(client.create_experiment(f"exp-{os.getpid()}-{id(model_dir)}"))
    client.log_artifacts(run.info.run_id, str(model_dir), artifact_path="model")
    client.set_terminated(run.info.run_id)
    name = f"fraud-{id(model_dir)}"
    client.create_registered_model(name)
    client.create_model_version(name, source=f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
    events = EventRecorder()
    from deployers.base import DeployContext

    ctx = DeployContext(state_dir=isolated_home, events=events)
    before = len(file_reads(log))

    info = mr.resolve(f"models:/{name}/1", isolated_home, ctx)
    assert info.local_path is None and info.uri == f"models:/{name}/1"
    plan = model_fetch.plan_download(info, isolated_home, ctx)
    want = rm.files_of(model_dir)
    assert plan.sizes == {k: len(v) for k, v in want.items()}
    assert len(file_reads(log)) == before  # resolve + plan: listings only

    fetched = model_fetch.fetch(info, isolated_home, ctx)
    assert rm.files_of(Path(fetched.local_path)) == want and fetched.format == "mlflow"
    reads = len(file_reads(log))
    assert reads == before + len(want)
    assert any(e.message.startswith(f"downloaded models:/{name}/1: {len(want)} file(s)") for e in events.events)

    again = mr.resolve(f"models:/{name}/1", isolated_home, ctx)  # cached: local, nothing read
    assert again.local_path == fetched.local_path and model_fetch.plan_download(again, isolated_home, ctx) is None
    assert model_fetch.fetch(again, isolated_home, ctx).local_path == fetched.local_path
    assert len(file_reads(log)) == reads


def test_models_uri_on_an_azure_ml_workspace_mlflow_uri(model_dir, isolated_home, tmp_path, monkeypatch):
    """A workspace's MLflow registry is its model registry: fetched through azure-ai-ml, no azureml-mlflow."""
    fake = FakeAzure(polls=1)
    stores = rm.install(fake, tmp_path, monkeypatch)
    try:
        stores.aml.register_model_files("fraud", "3", model_dir)
        tracking = fake.get(stores.aml.ws_id)["properties"]["mlFlowTrackingUri"]
        assert tracking.startswith("azureml://")
        monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking)
        monkeypatch.delenv("AZUREML_WORKSPACE_NAME")  # the workspace comes from the tracking URI
        ctx = fake_context(fake, isolated_home)
        ctx.subscription_id = ctx.resource_group = None
        info = mr.resolve("models:/fraud/3", isolated_home, ctx)
        assert (info.uri, info.local_path, info.framework) == ("models:/fraud/3", None, "sklearn")
        plan = model_fetch.plan_download(info, isolated_home, ctx)
        assert plan.files == 4 and stores.blob_reads() == 0
        fetched = model_fetch.fetch(info, isolated_home, ctx)
        assert fetched.uri == "models:/fraud/3" and rm.files_of(Path(fetched.local_path)) == rm.files_of(model_dir)
        reads = stores.blob_reads()
        assert reads == 4
        assert mr.resolve("models:/fraud/3", isolated_home, ctx).local_path == fetched.local_path
        assert stores.blob_reads() == reads
    finally:
        stores.proxy.stop()


def test_a_long_download_reports_its_progress(tmp_path):
    """While the files arrive, apply emits progress events with the bytes so far and the total."""
    import time

    from deployers.base import DeployContext

    events = EventRecorder()
    ctx = DeployContext(state_dir=tmp_path, events=events)
    folder = tmp_path / "incoming"
    plan = model_fetch.DownloadPlan("azureml:big:1", "datastore workspaceblobstore, path x", {"a.bin": 2_000_000})

    def work() -> Path:
        folder.mkdir()
        (folder / "a.bin").write_bytes(b"x" * 1_000_000)  # half of it, then a pause, then the rest
        time.sleep(1.2)
        with open(folder / "a.bin", "ab") as fh:
            fh.write(b"x" * 1_000_000)
        return folder

    assert model_fetch._with_progress(ctx, plan, folder, work) == folder
    progress = [e for e in events.events if e.kind == "progress"]
    assert progress and all(e.data["total"] == 2_000_000 for e in progress)
    assert any(e.data["bytes"] == 1_000_000 and "1.0 of 2.0 MB (50%)" in e.message for e in progress)
