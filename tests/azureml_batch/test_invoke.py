"""Invoking a batch endpoint means a job: submitted through the real azure-ai-ml SDK (a local folder is
uploaded to the workspace datastore first), followed over polls, its output downloaded; failures are
reported with the job's error and no traceback; status lists the last jobs; logs show a job's logs."""
from __future__ import annotations

import json

import pytest

from deployers import api, cli
from deployers.errors import InputError

from .conftest import NAME, SAMPLE_URL, make_spec

EP = NAME


@pytest.fixture
def deployed(batch, ctx):
    api.apply(api.plan(make_spec(), ctx), ctx)
    return batch


def test_invoke_with_a_uri_submits_a_job_without_waiting(deployed, ctx, fake):
    res = api.invoke(NAME, {"input": SAMPLE_URL}, ctx)
    job = res.response
    assert res.status_code == 202 and job["status"] == "Submitted" and res.request_id == job["job"]
    assert job["output"] == f"azureml://datastores/workspaceblobstore/paths/deploy-advisor/{EP}/{job['job']}/"
    body = deployed.jobs_submitted[-1]["properties"]
    assert body["inputData"] == {"UriFile": {"jobInputType": "UriFile", "uri": SAMPLE_URL}}
    assert body["outputData"]["score"]["uri"] == job["output"]
    post = fake.calls("POST", r"^/jobs$", host=r"inference\.ml\.azure\.com$")[-1]
    assert "azureml-model-deployment" not in post.headers  # the endpoint's default deployment runs it


def test_invoke_a_local_folder_uploads_it_follows_the_job_and_downloads_the_output(deployed, aml, ctx, events,
                                                                                   blob_proxy, tmp_path, fake):
    data = tmp_path / "data"
    data.mkdir()
    (data / "part-1.csv").write_text("a,b,c,d\n1,2,3,4\n5,6,7,8\n")
    (data / "part-2.csv").write_text("a,b,c,d\n9,9,9,9\n")
    out = tmp_path / "out"
    res = api.invoke(NAME, {"input": str(data), "wait": True, "out": str(out)}, ctx)

    job = res.response
    assert res.status_code == 200 and job["status"] == "Completed"
    assert job["files"] == ["predictions.csv"] and job["downloaded_to"] == str(out)
    lines = (out / "predictions.csv").read_text().splitlines()
    assert sorted(lines) == ["part-1.csv,0,4.0", "part-1.csv,1,4.0", "part-2.csv,0,4.0"]
    # the folder went to the datastore (LocalUpload/<hash>/data/...) and the job read it from there
    uri = deployed.jobs_submitted[-1]["properties"]["inputData"]["UriFolder"]["uri"]
    assert uri.startswith("azureml://datastores/workspaceblobstore/paths/LocalUpload/") and uri.endswith("/data/")
    uploaded = aml.uploaded("LocalUpload/")
    assert sorted(k.rsplit("/", 1)[-1] for k in uploaded) == ["part-1.csv", "part-2.csv"]
    progress = [e.data for e in events.events if e.data.get("job") == job["job"]]
    assert [p["status"] for p in progress] == ["Queued", "Running", "Completed"]
    assert [p.get("mini_batches_done") for p in progress] == [None, 1, 1]  # two files, one mini-batch of 10


def test_progress_counts_mini_batches_done_and_failed(deployed, ctx, events, blob_proxy, tmp_path):
    data = tmp_path / "many"
    data.mkdir()
    for i in range(25):
        (data / f"part-{i:02}.csv").write_text("a,b,c,d\n1,2,3,4\n")
    ok = api.invoke(NAME, {"input": str(data), "wait": True}, ctx).response["job"]
    counts = [(e.data["mini_batches_done"], e.data["mini_batches_failed"]) for e in events.events
              if e.data.get("job") == ok and "mini_batches_done" in e.data]
    assert counts == [(2, 0), (3, 0)]  # 25 files in mini-batches of 10: 2 of 3 while running, then all 3
    deployed.failing["blue"] = "ValueError: bad row"
    bad = api.invoke(NAME, {"input": str(data), "wait": True}, ctx).response
    final = [e for e in events.events if e.data.get("job") == bad["job"]][-1]
    assert (final.data["mini_batches_done"], final.data["mini_batches_failed"]) == (2, 1)  # by the retry's round
    assert final.message.endswith("Failed (2 mini-batch(es) done, 1 failed)")
    assert blob_proxy.refused == []


def test_a_failed_job_is_reported_with_its_error_and_no_traceback(deployed, ctx, events):
    deployed.failing["blue"] = "ValueError: could not convert string to float: 'n/a'"
    res = api.invoke(NAME, {"input": SAMPLE_URL, "wait": True}, ctx)
    assert res.status_code == 500 and res.response["status"] == "Failed"
    assert res.response["error"] == "UserError: ValueError: could not convert string to float: 'n/a'"
    assert "Traceback" not in json.dumps(res.model_dump())
    assert any(e.kind == "error" and "logs" in (e.data.get("hint") or "") for e in events.events)


def test_cli_invoke_prints_one_json_document_and_exits_1_on_a_failed_job(deployed, ctx, fake, monkeypatch, capsys):
    from dataclasses import replace

    monkeypatch.setattr(api, "context", lambda **kw: replace(ctx, cancel=kw.get("cancel", ctx.cancel)))
    assert cli.main(["invoke", NAME, "--input", SAMPLE_URL, "--wait", "--output", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["response"]["status"] == "Completed" and doc["response"]["output"].startswith("azureml://")
    deployed.failing["blue"] = "RuntimeError: out of memory"
    assert cli.main(["invoke", NAME, "--input", SAMPLE_URL, "--wait"]) == 1
    captured = capsys.readouterr()
    assert "error: UserError: RuntimeError: out of memory" in captured.out
    assert "Traceback" not in captured.out + captured.err


def test_bad_inputs_are_one_line_errors(deployed, ctx, tmp_path, capsys):
    with pytest.raises(InputError, match="no such file or folder"):
        api.invoke(NAME, {"input": str(tmp_path / "missing")}, ctx)
    with pytest.raises(InputError, match="plain http is refused"):
        api.invoke(NAME, {"input": "http://example.com/x.csv"}, ctx)
    with pytest.raises(InputError, match="invoked with an input"):
        api.invoke(NAME, {"input_data": [[1, 2]]}, ctx)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="folder is empty"):
        api.invoke(NAME, {"input": str(tmp_path / "empty")}, ctx)
    assert cli.main(["invoke", NAME, "--input", str(tmp_path / "missing")]) == 2
    assert cli.main(["invoke", NAME, "--wait", "--data", "{}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("deploy-advisor: error:") for line in err)


def test_status_shows_the_default_deployment_and_the_last_jobs(deployed, ctx):
    first = api.invoke(NAME, {"input": SAMPLE_URL, "wait": True}, ctx).response["job"]
    st = api.status(NAME, ctx)
    assert st.state == "running" and st.details["default_deployment"] == "blue"
    jobs = st.details["jobs"]
    assert {j["job"] for j in jobs} >= {first} and all(j["status"] == "Completed" for j in jobs)
    assert first in st.message or jobs[0]["job"] in st.message


def test_logs_show_a_jobs_log_files_without_their_sas(deployed, aml, ctx):
    deployed.failing["blue"] = "KeyError: 'd'"
    job = api.invoke(NAME, {"input": SAMPLE_URL, "wait": True}, ctx).response["job"]
    text = api.logs(NAME, ctx, job=job)
    assert f"==> job {job} <==" in text and "mini-batch 1 failed: KeyError: 'd'" in text
    assert "sig=" not in text and not any(s in text for s in aml.storage.secrets())
    with pytest.raises(InputError, match="take no bogus option"):
        api.logs(NAME, ctx, job="x", bogus=1)


def test_mini_batch_report_counts_each_mini_batch_by_its_last_round():
    from deployers.azureml_batch import _count_mini_batches

    report = ("Mini-batch Id,Picked Count,Total,Succeeded,Failed,Status\n"
              "0,1,10,10,0,RUN_DONE\n"
              "1,1,10,0,10,RUN_TIMEOUT\n"
              "1,2,10,10,0,RUN_DONE\n"      # retried and then fine: done
              "2,1,5,3,2,RUN_DONE\n"        # some items failed: failed
              "3,1,5,0,5,RUN_EXCEPTION\n")
    assert _count_mini_batches(report) == (2, 2)
    assert _count_mini_batches("") == (0, 0)
