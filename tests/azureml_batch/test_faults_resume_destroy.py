"""Throttling, failed long-running operations, a killed apply resuming, and destroy (twice, ours only)."""
from __future__ import annotations

import pytest

from deployers import api
from deployers.errors import ConflictError, Interrupted, QuotaError
from deployers.events import Event, EventRecorder

from .conftest import NAME, arm_writes, make_ctx, make_spec

EP = NAME


def test_throttled_writes_and_polls_converge_without_duplicates(fake, batch, isolated_home):
    faults = [fake.inject("PUT|POST|DELETE", r"^/subscriptions/", 429, retry_after=1, rate=0.3, seed=3),
              fake.inject("GET", r"/jobs/", 429, retry_after=2, times=2),
              fake.inject("POST", r"^/jobs$", 429, retry_after=1, times=1, host=r"inference\.ml\.azure\.com$")]
    ctx = make_ctx(fake, isolated_home)
    first = api.apply(api.plan(make_spec(), ctx), ctx)
    second = api.apply(api.plan(make_spec("azureml:propensity:2"), ctx), ctx)
    assert first.status == second.status == "succeeded" and batch.default(EP) == "green"
    assert fake.ids(r"/batchendpoints/[^/]+$") == [batch.endpoint_id(EP).lower()]
    assert [d["name"] for d in batch.deployments(EP)] == ["green"]
    assert len(fake.ids(r"/computes/[^/]+$")) == 1
    assert len(batch.jobs()) == 2  # one smoke job per rollout: a throttled submit was retried, not doubled
    assert [bool(f.hits) for f in faults] == [True, True, True], [f.hits for f in faults]
    assert fake.sleeps.count(1.0) >= faults[0].hits and fake.sleeps.count(2.0) >= faults[1].hits


def test_a_failed_cluster_operation_stops_the_apply_with_its_arm_code_and_a_rerun_finishes(fake, batch, isolated_home):
    fake.fail_operation(r"/computes/", code="OutOfQuota", message="Operation would exceed the vCPU quota")
    ctx = make_ctx(fake, isolated_home)
    plan = api.plan(make_spec(), ctx)
    with pytest.raises(QuotaError) as err:
        api.apply(plan, ctx)
    assert err.value.code == "OutOfQuota" and "Quotas" in err.value.hint
    assert batch.endpoint(EP) is None  # nothing after the failed step was attempted
    result = api.apply(api.plan(make_spec(), ctx), ctx)
    assert result.status == "succeeded" and batch.default(EP) == "blue"


def test_a_failed_deployment_operation_keeps_the_old_default(fake, batch, isolated_home):
    ctx = make_ctx(fake, isolated_home)
    api.apply(api.plan(make_spec(), ctx), ctx)
    fake.fail_operation(r"/deployments/green$", code="BadArgument", message="model asset is not a valid MLflow model")
    with pytest.raises(Exception) as err:
        api.apply(api.plan(make_spec("azureml:propensity:2"), ctx), ctx)
    assert "not a valid MLflow model" in str(err.value)
    assert batch.default(EP) == "blue" and [d["name"] for d in batch.deployments(EP)] == ["blue"]


class CrashOn:
    """An event sink that dies like a killed process the first time a matching event arrives."""

    def __init__(self, prefix: str):
        self.prefix, self.fired = prefix, False

    def __call__(self, event: Event) -> None:
        if not self.fired and event.message.startswith(self.prefix):
            self.fired = True
            raise KeyboardInterrupt


def test_killed_while_the_deployment_provisions_resumes_from_its_continuation_token(fake, batch, isolated_home):
    fake.default_polls = 3
    plan = api.plan(make_spec(), make_ctx(fake, isolated_home))
    with pytest.raises(Interrupted):
        api.apply(plan, make_ctx(fake, isolated_home, events=CrashOn("waiting for batch deployment")))
    run = api.ledger(isolated_home).last_run(NAME, kind="apply")
    assert run["status"] == "interrupted" and run["checkpoints"]["deployment:blue"]["token"]
    again = EventRecorder()
    result = api.apply(plan, make_ctx(fake, isolated_home, events=again))
    assert result.status == "succeeded" and batch.default(EP) == "blue"
    assert len(fake.calls("PUT", r"/deployments/blue$")) == 1 and len(fake.calls("PUT", r"/computes/")) == 1
    assert any(e.message.startswith("resuming batch deployment") for e in again.events)


def test_killed_while_following_the_smoke_job_resumes_the_same_job(fake, batch, isolated_home):
    plan = api.plan(make_spec(), make_ctx(fake, isolated_home))
    with pytest.raises(Interrupted):
        api.apply(plan, make_ctx(fake, isolated_home, events=CrashOn("job nightly-scores-blue-smoke")))
    assert len(batch.jobs_submitted) == 1
    again = EventRecorder()
    result = api.apply(plan, make_ctx(fake, isolated_home, events=again))
    assert result.status == "succeeded" and batch.default(EP) == "blue"
    assert len(batch.jobs_submitted) == 1  # followed, not submitted again
    assert any("following smoke job" in e.message for e in again.events)


def test_destroy_removes_what_we_created_and_a_second_destroy_is_a_no_op(fake, batch, ctx):
    api.apply(api.plan(make_spec(), ctx), ctx)
    first = api.destroy(NAME, ctx)
    assert set(first.deleted) == {f"batchEndpoint/{EP}", "compute/nightly-scor-cpu"} and not first.already_absent
    assert batch.endpoint(EP) is None and not fake.ids(r"/computes/")
    second = api.destroy(NAME, ctx)
    assert second.already_absent and second.deleted == []
    assert api.get_deployment(NAME, ctx)["status"] == "destroyed"


def test_destroy_never_touches_a_cluster_or_endpoint_that_is_not_ours(fake, batch, ctx, monkeypatch):
    batch.seed_compute("shared-cpu", tags={"team": "data"})
    api.apply(api.plan(make_spec(compute_name="shared-cpu"), ctx), ctx)
    result = api.destroy(NAME, ctx)
    assert result.deleted == [f"batchEndpoint/{EP}"] and fake.get(batch.compute_id("shared-cpu")) is not None
    monkeypatch.setenv("AZUREML_WORKSPACE_NAME", "mlw-test")
    fake.put(batch.endpoint_id("someone-else"), {"tags": {}, "properties": {"authMode": "AADToken"}})
    with pytest.raises(ConflictError):
        api.destroy("someone-else", make_ctx(fake, ctx.state_dir, name="someone-else"), target="azureml-batch")
    assert batch.endpoint("someone-else") is not None
    assert not [w for w in arm_writes(fake) if w[0] == "DELETE" and "someone-else" in w[1]]


def test_destroy_after_a_failed_first_apply_removes_the_cluster_it_created(fake, batch, ctx):
    fake.fail_operation(r"/batchEndpoints/[^/]+$", code="BadRequest", message="endpoint name taken in this region")
    with pytest.raises(Exception):
        api.apply(api.plan(make_spec(), ctx), ctx)
    assert len(fake.ids(r"/computes/[^/]+$")) == 1
    result = api.destroy(NAME, ctx)
    assert "compute/nightly-scor-cpu" in result.deleted and not fake.ids(r"/computes/")
