"""Exported artifacts load with azure-ai-ml's own loaders; a custom model's batch driver keeps our one
scoring contract (score.py) under batch's init()/run(mini_batch); no key, token or SAS leaks anywhere."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from advisor.models import ModelInfo
from deployers import api
from deployers.scoring import render_score_script
from tests.conftest import file_texts
from tests.fakes.azure import FAKE_TOKEN

from .conftest import NAME, SAMPLE_URL, make_spec


def test_exported_yaml_loads_with_the_azure_ai_ml_loaders(aml, batch, ctx, tmp_path):
    from azure.ai.ml import load_batch_deployment, load_batch_endpoint, load_compute
    from azure.ai.ml.entities import AmlCompute, BatchEndpoint

    vid = aml.register_model("custom-scorer", "4", model_type="custom_model")
    version = aml.fake.get(vid)
    version["properties"]["flavors"] = {}  # the service returns an empty map for custom models
    aml.fake.put(vid, version)
    plan = api.plan(make_spec("azureml:custom-scorer:4", output_action="append_row", mini_batch_size=25), ctx)
    out = tmp_path / "export"
    written = {p.relative_to(out).as_posix() for p in api.export(plan, out)}
    assert {"endpoint.yml", "deployment.yml", "compute.yml", "invoke.sh", "code/score.py", "code/batch_driver.py",
            "environment/conda.yaml", "plan.json"} <= written
    ep = load_batch_endpoint(out / "endpoint.yml")
    assert isinstance(ep, BatchEndpoint) and ep.name == NAME and ep.auth_mode == "aad_token"
    assert ep.tags["managed-by"] == "deploy-advisor"
    dep = load_batch_deployment(out / "deployment.yml")
    # the loader strips the azureml: prefixes of the model and the compute
    assert (dep.name, dep.endpoint_name, dep.model, dep.compute) == ("blue", NAME, "custom-scorer:4",
                                                                    "nightly-scor-cpu")
    assert dep.mini_batch_size == 25 and dep.output_file_name == "predictions.csv"
    assert dep.output_action == "append_row" and dep.error_threshold == -1
    assert dep.retry_settings.max_retries == 3 and dep.resources.instance_count == 2
    assert dep.code_configuration.scoring_script == "batch_driver.py"
    assert (Path(dep.base_path) / dep.code_configuration.code).resolve() == (out / "code").resolve()
    compute = load_compute(out / "compute.yml")
    assert isinstance(compute, AmlCompute) and (compute.min_instances, compute.max_instances) == (0, 4)
    assert compute.idle_time_before_scale_down == 120 and compute.size == "Standard_DS3_v2"
    script = (out / "invoke.sh").read_text()
    assert f"az ml batch-endpoint invoke -n {NAME} -d blue" in script and f"deploy-advisor invoke {NAME}" in script


@pytest.fixture(scope="module")
def custom_model(tmp_path_factory) -> Path:
    """A custom model as the batch driver meets it: a scikit-learn pickle that knows its column names."""
    import pickle

    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    X = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0)[::-1]})
    out = tmp_path_factory.mktemp("batch-driver") / "model"
    out.mkdir()
    (out / "model.pkl").write_bytes(pickle.dumps(LogisticRegression().fit(X, (X.a > 10).astype(int))))
    return out


def test_the_batch_driver_runs_our_score_py_over_a_mini_batch_of_files(custom_model, tmp_path):
    """What Azure ML does on the cluster: init() once, run(list of file paths) per mini-batch."""
    from deployers import templating

    code = tmp_path / "code"
    code.mkdir()
    info = ModelInfo(uri="local", name="m", format="custom", framework="sklearn")
    (code / "score.py").write_text(render_score_script(info))
    env = templating.environment("azureml_batch")
    (code / "batch_driver.py").write_text(env.get_template("batch_driver.py.j2").render(
        deployment="d", output_file_name="predictions.csv"))
    (tmp_path / "f1.csv").write_text("a,b\n1,19\n15,5\n")
    (tmp_path / "f2.csv").write_text("b,a\n0,20\n")  # named columns in another order
    (tmp_path / "f3.csv").write_text("")
    bad = tmp_path / "bad.csv"
    bad.write_text("a\n1\n")  # column b is missing
    files = [str(tmp_path / n) for n in ("f1.csv", "f2.csv", "f3.csv")]
    probe = ("import json, batch_driver\nbatch_driver.init()\n"
             f"print(json.dumps(batch_driver.run({files!r})))\n"
             f"try:\n    batch_driver.run([{str(bad)!r}])\nexcept Exception as e:\n    print(type(e).__name__, e)\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=code, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "AZUREML_MODEL_DIR": str(custom_model), "PYTHONPATH": str(code)})
    assert done.returncode == 0, done.stderr[-2000:]
    scored, failure = done.stdout.strip().splitlines()[-2:]
    assert json.loads(scored) == ["f1.csv,0,0", "f1.csv,1,1", "f2.csv,0,1"]
    # a bad file fails its mini-batch (Azure ML retries it as retry_settings say), naming what is wrong
    assert failure.startswith("InputError") and "b" in failure


def test_keys_tokens_and_sas_never_leak(aml, batch, ctx, events, blob_proxy, tmp_path, debug_log, isolated_home):
    aml.datastore_auth = "sas"
    plan = api.plan(make_spec(), ctx)
    result = api.apply(plan, ctx)
    data = tmp_path / "in"
    data.mkdir()
    (data / "x.csv").write_text("a,b,c,d\n1,2,3,4\n")
    res = api.invoke(NAME, {"input": str(data), "wait": True, "out": str(tmp_path / "out")}, ctx)
    batch.failing["blue"] = "boom"
    failed = api.invoke(NAME, {"input": SAMPLE_URL, "wait": True}, ctx)
    logs = api.logs(NAME, ctx, job=failed.response["job"])
    status = api.status(NAME, ctx)
    export = tmp_path / "export"
    api.export(plan, export)
    assert aml.secrets_listed >= 1  # the upload did fetch datastore credentials
    secrets = aml.storage.secrets() + [FAKE_TOKEN, aml.primary_key]
    texts = {"plan": plan.to_json(), "result": result.model_dump_json(), "invoke": res.model_dump_json(),
             "failed": failed.model_dump_json(), "logs": logs, "status": status.model_dump_json(),
             "events": json.dumps([e.to_dict() for e in events.events], default=str),
             "log": debug_log.read_text(errors="replace")}
    texts.update({str(p): t for p, t in file_texts(isolated_home).items()})
    texts.update({str(p): t for p, t in file_texts(export).items()})
    leaks = [(where, s[:12]) for where, text in texts.items() for s in secrets if s and s in text]
    assert leaks == []
    from azure.ai.ml.constants._endpoint import EndpointInvokeFields
    assert "Authorization" not in EndpointInvokeFields.DEFAULT_HEADER  # no bearer token left in the SDK's module


def test_cli_export_writes_the_yaml_the_invoke_command_and_the_github_workflow(tmp_path, capsys):
    """Offline (no sign-in): `deploy-advisor export` for the nightly-batch example profile."""
    import yaml
    from azure.ai.ml import load_batch_deployment, load_batch_endpoint

    from deployers import cli

    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "exp"
    code = cli.main(["export", "--target", "azureml-batch", "--model", "azureml:propensity:3", "--name",
                     "nightly-propensity", "--profile", str(root / "examples/profiles/nightly-batch.yaml"),
                     "--workspace", "mlw-prod", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert load_batch_endpoint(out / "artifacts/endpoint.yml").name == "nightly-propensity"
    dep = load_batch_deployment(out / "artifacts/deployment.yml")
    assert dep.retry_settings.timeout == 1350  # 1.5 x the profile's 900 s per mini-batch
    workflow = yaml.safe_load((out / ".github/workflows/deploy-nightly-propensity.yml").read_text())
    assert workflow["env"]["AZUREML_WORKSPACE_NAME"] == "mlw-prod"
    assert "invoke.sh INPUT" in (out / "EXPORT.md").read_text()
    assert "az ml batch-endpoint invoke -n nightly-propensity -d blue" in (out / "artifacts/invoke.sh").read_text()
