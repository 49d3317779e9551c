"""The issue's "done when", in process against FakeAzure: `deploy --target azureml-batch --profile
examples/profiles/nightly-batch.yaml --yes`, then `invoke NAME --input data/ --wait --out out/`, then
status, logs, destroy. The CLI's DeployContext gets the fake transport (the hook every Azure deployer takes)."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from deployers import api, cli

ROOT = Path(__file__).resolve().parents[2]
NAME = "nightly-propensity"


def test_deploy_the_nightly_profile_then_score_a_folder_and_download_the_output(batch, ctx, blob_proxy, monkeypatch,
                                                                                tmp_path, capsys):
    monkeypatch.setattr(api, "context", lambda **kw: replace(ctx, deployment="", run_id="",
                                                             cancel=kw.get("cancel", ctx.cancel)))
    monkeypatch.setenv("AZUREML_WORKSPACE_NAME", "mlw-test")
    monkeypatch.chdir(tmp_path)
    profile = str(ROOT / "examples/profiles/nightly-batch.yaml")
    assert cli.main(["deploy", "--target", "azureml-batch", "--model", "azureml:propensity:3", "--profile", profile,
                     "--name", NAME, "--yes"]) == 0
    err = capsys.readouterr().err
    assert "no sample for the smoke job" in err or "smoke job" in err
    assert batch.default(NAME) == "blue"
    compute = batch.fake.calls("PUT", r"/computes/")[0].body["properties"]["properties"]
    applied = api.get_deployment(NAME, ctx)["plan"]
    assert compute["vmSize"] == applied["sizing"]["sku"]  # the advisor's size for the nightly profile
    assert compute["scaleSettings"]["minNodeCount"] == 0

    data = tmp_path / "data"
    data.mkdir()
    (data / "customers-1.csv").write_text("a,b,c\n1,2,3\n4,5,6\n")
    (data / "customers-2.csv").write_text("a,b,c\n7,8,9\n")
    assert cli.main(["invoke", NAME, "--input", "data/", "--wait", "--out", "out/", "--output", "json"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    job = doc["response"]
    assert job["status"] == "Completed" and job["output"].startswith("azureml://datastores/workspaceblobstore/")
    assert doc["request_id"] == job["job"]
    assert (tmp_path / "out" / "predictions.csv").read_text().count("\n") == 3
    assert "Uploading data" not in captured.err  # no progress bar in JSON mode: stderr holds event lines
    events = [json.loads(line) for line in captured.err.splitlines() if line.startswith("{")]
    progress = [e for e in events if e["data"].get("job") == job["job"]]
    assert [e["data"]["status"] for e in progress] == ["Queued", "Running", "Completed"]
    assert progress[-1]["message"].endswith("Completed (1 mini-batch(es) done, 0 failed)")

    assert cli.main(["status", NAME]) == 0
    assert f"last job {job['job']} Completed" in capsys.readouterr().out
    assert cli.main(["logs", NAME]) == 0
    assert f"==> job {job['job']} <==" in capsys.readouterr().out
    assert cli.main(["destroy", NAME, "--yes"]) == 0
    assert cli.main(["destroy", NAME, "--yes"]) == 0
    assert batch.endpoint(NAME) is None and not batch.fake.ids(r"/computes/")
