"""Throttling, timeouts and crashes: the deployer converges and resumes, through the real ledger (deployers.api)."""
from __future__ import annotations

import pytest

from deployers import api
from deployers.errors import Interrupted
from deployers.events import Event, EventRecorder

from .conftest import arm_writes, make_ctx, make_spec

EP = "fraud-scoring"


def test_thirty_percent_of_writes_throttled_converges_without_duplicates(fake, aml, isolated_home, capsys):
    faults = [fake.inject("PUT|POST|DELETE|PATCH", r"^/subscriptions/", 429, retry_after=1, rate=0.3, seed=7)]
    ctx = make_ctx(fake, isolated_home)
    first = api.apply(api.plan(make_spec(), ctx), ctx)
    second = api.apply(api.plan(make_spec("azureml:fraud:2"), ctx), ctx)

    assert first.status == second.status == "succeeded"
    assert second.outputs["traffic"] == {"green": 100}
    # exactly one endpoint, one live deployment, one autoscale setting: no duplicate from a retried write
    assert fake.ids(r"/onlineendpoints/[^/]+$") == [aml.endpoint_id(EP).lower()]
    assert [d["name"] for d in aml.deployments(EP)] == ["green"]
    assert len(fake.ids(r"autoscalesettings/")) == 1
    # every injected 429 carried Retry-After: 1, and the SDK waited exactly that (recorded, not slept)
    throttled = [r for r in fake.requests if r.fault == "inject:429"]
    hits = sum(f.hits for f in faults)
    assert hits == len(throttled) >= 3
    writes_tried = [r for r in fake.requests if r.method in ("PUT", "POST", "DELETE") and "/subscriptions/" in r.path]
    assert 0.15 <= hits / len(writes_tried) <= 0.45
    assert fake.sleeps.count(1.0) >= hits
    # the ledger has the deployment and both runs, none lost
    row = api.get_deployment(EP, ctx)
    assert row["status"] == "running" and row["target"] == "azureml"
    runs = [r for r in api.runs(EP, ctx) if r["kind"] == "apply"]
    assert [r["status"] for r in runs] == ["succeeded", "succeeded"]
    writes = [r for r in fake.requests if r.method in ("PUT", "POST", "DELETE") and r.host == "management.azure.com"]
    with capsys.disabled():
        print(f"\n[429 fault test] requests={len(fake.requests)} arm_writes={len(writes)} "
              f"throttled={len(throttled)} ({len(throttled) / len(writes):.0%} of writes) "
              f"recorded_sleep_s={sum(fake.sleeps):.1f} successful_writes={len(arm_writes(fake))}")


def test_transient_timeouts_and_5xx_are_retried(fake, aml, isolated_home):
    fake.timeout("GET", r"/workspaces/mlw-test$", kind="request", times=2)
    fake.timeout("PUT", r"/onlineEndpoints/fraud-scoring$", kind="response", times=1)  # processed, reply lost
    fake.inject("GET", r"/operationStatuses/", 503, retry_after=None, times=2)
    ctx = make_ctx(fake, isolated_home)
    result = api.apply(api.plan(make_spec(), ctx), ctx)
    assert result.status == "succeeded" and aml.traffic(EP) == {"blue": 100}
    assert [r.fault for r in fake.requests if r.fault].count("timeout:request") == 2
    assert len(fake.calls("PUT", r"/onlineEndpoints/fraud-scoring$")) >= 3  # create retried + traffic


class CrashOn:
    """An event sink that dies like a killed process the first time a matching event arrives."""

    def __init__(self, prefix: str):
        self.prefix, self.fired = prefix, False
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        if not self.fired and event.message.startswith(self.prefix):
            self.fired = True
            raise KeyboardInterrupt


def test_crash_while_the_deployment_is_provisioning_resumes_from_its_continuation_token(fake, aml, isolated_home):
    fake.default_polls = 3
    crash = CrashOn("waiting for deployment")
    ctx = make_ctx(fake, isolated_home, events=crash)
    plan = api.plan(make_spec(), make_ctx(fake, isolated_home))
    with pytest.raises(Interrupted):
        api.apply(plan, ctx)
    run = api.ledger(isolated_home).last_run(EP, kind="apply")
    assert run["status"] == "interrupted"
    token = run["checkpoints"]["deployment:blue"]
    assert token["token"] and not token["done"]
    assert run["checkpoints"]["endpoint"]["done"] is True
    puts = len(fake.calls("PUT", r"/deployments/blue$"))
    assert puts == 1

    again = EventRecorder()
    result = api.apply(plan, make_ctx(fake, isolated_home, events=again))
    assert result.status == "succeeded" and aml.traffic(EP) == {"blue": 100}
    assert len(fake.calls("PUT", r"/deployments/blue$")) == 1  # polled again, never re-created
    endpoint_creates = [r for r in fake.calls("PUT", r"/onlineEndpoints/fraud-scoring$")
                        if not (r.body.get("properties") or {}).get("traffic")]
    assert len(endpoint_creates) == 1  # the finished endpoint step was not redone either
    messages = [e.message for e in again.events]
    assert any(m.startswith("resuming interrupted run") for m in messages)
    assert any(m.startswith("resuming deployment fraud-scoring/blue from its continuation token") for m in messages)


def test_crash_during_the_traffic_shift_resumes_without_a_second_deployment(fake, aml, isolated_home):
    ctx0 = make_ctx(fake, isolated_home)
    api.apply(api.plan(make_spec(), ctx0), ctx0)
    plan = api.plan(make_spec("azureml:fraud:2"), make_ctx(fake, isolated_home))
    with pytest.raises(Interrupted):
        api.apply(plan, make_ctx(fake, isolated_home, events=CrashOn("waiting for traffic")))
    green_puts = len(fake.calls("PUT", r"/deployments/green$"))
    result = api.apply(plan, make_ctx(fake, isolated_home))
    assert result.status == "succeeded" and aml.traffic(EP) == {"green": 100}
    assert len(fake.calls("PUT", r"/deployments/green$")) == green_puts == 1
    assert [d["name"] for d in aml.deployments(EP)] == ["green"]
