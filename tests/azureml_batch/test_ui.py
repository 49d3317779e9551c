"""AppTest: the Deploy page offers azureml-batch; on the Deployments page its "try it" uploads a small CSV,
runs a job (real SDK against FakeAzure, the upload through the blob proxy) and shows the output table;
'Refresh status' lists the endpoint's jobs."""
from __future__ import annotations

from dataclasses import replace

import pytest

from deployers import api
from tests.ui.conftest import no_exception, open_page

from .conftest import NAME, make_spec


@pytest.fixture
def app_on_fake(batch, ctx, monkeypatch):
    """The app's DeployContext talks to FakeAzure (the transport hook every Azure deployer takes)."""
    api.apply(api.plan(make_spec(), ctx), ctx)
    monkeypatch.setattr(api, "context", lambda **kw: replace(ctx, deployment="", run_id=""))
    return batch


def _button(at, label):
    return next(b for b in at.button if b.label == label)


def test_deploy_page_offers_the_batch_target(app_on_fake):
    at = open_page(None, "deploy")
    no_exception(at)
    assert any(o.startswith("Azure ML batch endpoint") for o in at.selectbox(key="dp_target").options)
    at.selectbox(key="dp_target").select("azureml-batch").run()
    no_exception(at)
    keys = {w.key for w in (*at.number_input, *at.toggle, *at.text_input, *at.selectbox)}
    assert {"ds.azureml-batch.mini_batch_size", "ds.azureml-batch.compute_name",
            "ds.azureml-batch.output_action"} <= keys


def test_try_it_runs_a_job_on_an_uploaded_csv_and_shows_the_output_table(app_on_fake, blob_proxy):
    at = open_page(None, "deployments")
    no_exception(at)
    assert at.selectbox(key="dl_selected").value == NAME
    at.file_uploader(key=f"dl_try.csv.{NAME}").set_value(("scores.csv", b"a,b,c,d\n1,2,3,4\n5,6,7,8\n",
                                                              "text/csv")).run()
    _button(at, "Run a job").click().run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Status"] == "Completed" and metrics["Job"].startswith(NAME)
    outputs = [d.value for d in at.dataframe if "scores.csv" in d.value.iloc[:, 0].tolist()]
    assert len(outputs) == 1 and outputs[0].values.tolist() == [["scores.csv", "0", "4.0"], ["scores.csv", "1", "4.0"]]
    _button(at, "Refresh status").click().run()
    no_exception(at)
    jobs = next(d.value for d in at.dataframe if "job" in d.value.columns)
    assert metrics["Job"] in jobs["job"].tolist() and set(jobs["status"]) == {"Completed"}
