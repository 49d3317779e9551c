"""Container Apps deployer through the real azure-mgmt-appcontainers / -authorization clients against
the in-process Azure fake: first deploy, no-op, a new version through a revision and a traffic move,
canary, a failed smoke test that keeps traffic, 429 and a failed LRO mid-rollout, destroy twice."""
from __future__ import annotations

import pytest

from deployers import api
from deployers.base import DeployContext
from deployers.containerapps import KEY_SECRET
from deployers.errors import DeployError, RemoteError
from deployers.planning import input_example
from tests.containerapps.conftest import APP, EXAMPLE, IMAGE_V1, IMAGE_V2, IMAGE_V3, make_spec
from tests.fakes.webapp import deploy, kinds

ENV = f"{APP}-env"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"


def aca_writes(fake) -> list[str]:
    """The Microsoft.App / role-assignment writes, in order, as 'METHOD last-path-segments'."""
    out = []
    for r in fake.writes(r"/providers/Microsoft\.(App|Authorization)/"):
        if r.status and r.status < 300:
            out.append(f"{r.method} {'/'.join(r.path.rsplit('/providers/', 1)[1].split('/')[1:])}")
    return out


def test_first_deploy(ctx, fake, aca, model_dir):
    plan, result = deploy(make_spec(model_dir), ctx)
    assert kinds(plan)["Microsoft.App/managedEnvironments"] == "create"
    assert kinds(plan)["Microsoft.App/containerApps"] == "create"
    assert kinds(plan)["Microsoft.Authorization/roleAssignments"] == "create"
    assert result.status == "succeeded" and result.changed
    env = aca.environment(ENV)
    assert env["tags"] == {"managed-by": "deploy-advisor", "deploy-advisor-deployment": APP}
    assert env["properties"]["workloadProfiles"] == [{"name": "Consumption", "workloadProfileType": "Consumption"}]
    app = aca.app(APP)
    assert result.endpoint_url == f"https://{app['properties']['configuration']['ingress']['fqdn']}/score"
    conf, template = app["properties"]["configuration"], app["properties"]["template"]
    assert conf["activeRevisionsMode"] == "Multiple" and conf["ingress"]["external"] is True
    assert conf["ingress"]["targetPort"] == 8080 and conf["registries"] == [
        {"server": "myregistry.azurecr.io", "identity": "system"}]
    assert conf["secrets"] == [{"name": KEY_SECRET}]  # GET never shows the value
    assert len(aca.secrets[APP][KEY_SECRET]) >= 32
    c = template["containers"][0]
    assert c["image"] == IMAGE_V1  # 1 vCPU / 2 GiB: the advisor's 1vCPU-2Gi (Azure adds ephemeralStorage)
    assert (c["resources"]["cpu"], c["resources"]["memory"]) == (1.0, "2Gi")
    probes = {p["type"]: p["httpGet"]["path"] for p in c["probes"]}
    assert probes == {"Startup": "/ready", "Readiness": "/ready", "Liveness": "/live"}
    assert c["volumeMounts"] == [{"volumeName": KEY_SECRET, "mountPath": "/var/run/secrets/scoring"}]
    assert template["scale"]["rules"][0]["http"]["metadata"] == {"concurrentRequests": "10"}
    assert template["scale"]["minReplicas"] == plan.sizing.min and template["scale"]["maxReplicas"] >= 1
    # the bootstrap revision (public image) made the identity that got AcrPull, then the real revision
    revs = aca.revisions(APP)
    assert len(revs) == 2 and revs[0]["name"] == f"{APP}--bootstrap"
    assert revs[0]["properties"]["template"]["containers"][0]["image"] == "mcr.microsoft.com/k8se/quickstart:latest"
    assert result.outputs["revision"] == revs[1]["name"]
    assert aca.active(APP) == [revs[-1]["name"]] and aca.traffic(APP) == {revs[-1]["name"]: 100}
    ra = [r for r in fake.calls("PUT", r"/roleAssignments/") if r.status in (200, 201)]
    assert len(ra) == 1 and ra[0].body["properties"]["principalId"] == app["identity"]["principalId"]
    assert ra[0].body["properties"]["roleDefinitionId"].endswith(ACR_PULL)
    # readiness, then the smoke test with the model's input example on the new revision's own URL
    assert fake.calls("GET", "^/ready$", host=revs[-1]["properties"]["fqdn"])
    assert aca.scored == [(APP, revs[-1]["name"], input_example(plan.model_info))]
    assert aca_writes(fake) == [
        f"PUT managedEnvironments/{ENV}", f"PUT containerApps/{APP}", "PUT roleAssignments/" +
        ra[0].path.rsplit("/", 1)[1], f"PUT containerApps/{APP}",
        f"POST containerApps/{APP}/revisions/{APP}--bootstrap/deactivate"]


def test_second_deploy_is_a_no_op(ctx, fake, aca, model_dir):
    deploy(make_spec(model_dir), ctx)
    before = len(fake.writes())
    plan, result = deploy(make_spec(model_dir), ctx)
    assert not plan.has_changes and result.status == "no-change" and not result.changed
    assert len(fake.writes()) == before


def test_new_version_through_a_revision_and_traffic_move(ctx, fake, aca, model_dir):
    deploy(make_spec(model_dir), ctx)
    old = aca.traffic(APP)
    (old_rev,) = old
    n = len(fake.requests)
    plan, result = deploy(make_spec(model_dir, image=IMAGE_V2), ctx)
    assert kinds(plan)["Microsoft.App/containerApps/revisions"] == "update"
    assert result.status == "succeeded"
    new_rev = aca.revisions(APP)[-1]["name"]
    assert new_rev != old_rev and aca.traffic(APP) == {new_rev: 100}
    assert aca.active(APP) == [new_rev]  # the old one deactivated (kept for a manual rollback)
    # the new revision was created with traffic pinned on the old one, and smoke-tested before traffic moved
    puts = [r for r in fake.requests[n:] if r.method == "PUT" and r.path.endswith(f"containerApps/{APP}")]
    assert puts[0].body["properties"]["configuration"]["ingress"]["traffic"] == [{"revisionName": old_rev, "weight": 100}]
    assert puts[-1].body["properties"]["configuration"]["ingress"]["traffic"] == [{"revisionName": new_rev, "weight": 100}]
    score_at = next(i for i, r in enumerate(fake.requests[n:]) if r.path == "/score")
    assert fake.requests[n:][score_at].host == aca.revisions(APP)[-1]["properties"]["fqdn"]
    assert fake.requests[n:].index(puts[-1]) > score_at
    assert aca.secrets[APP][KEY_SECRET]  # the key was carried over, not regenerated
    assert api.invoke(APP, {"input_data": EXAMPLE}, ctx).status_code == 200


def test_rolling_back_to_an_older_version_makes_a_new_revision(ctx, fake, aca, model_dir):
    deploy(make_spec(model_dir), ctx)
    (v1,) = aca.traffic(APP)
    deploy(make_spec(model_dir, image=IMAGE_V2), ctx)
    plan, result = deploy(make_spec(model_dir), ctx)  # v1 again: its suffix is taken by the old revision
    assert result.status == "succeeded"
    (now,) = aca.traffic(APP)
    assert now == f"{v1}-2" and aca.active(APP) == [now]
    assert not deploy(make_spec(model_dir), ctx)[0].has_changes


def test_canary_moves_a_step_then_everything(ctx, fake, aca, model_dir):
    profile = {"operations": {"rollout": "canary"}}
    deploy(make_spec(model_dir, profile=profile), ctx)
    (old_rev,) = aca.traffic(APP)
    n = len(fake.requests)
    deploy(make_spec(model_dir, profile=profile, image=IMAGE_V2, canary_percent=20), ctx)
    new_rev = aca.revisions(APP)[-1]["name"]
    traffic = [r.body["properties"]["configuration"]["ingress"]["traffic"] for r in fake.requests[n:]
               if r.method == "PUT" and r.path.endswith(f"containerApps/{APP}")]
    assert traffic == [[{"revisionName": old_rev, "weight": 100}],
                       [{"revisionName": old_rev, "weight": 80}, {"revisionName": new_rev, "weight": 20}],
                       [{"revisionName": new_rev, "weight": 100}]]


def test_failed_smoke_test_keeps_traffic(ctx, fake, aca, model_dir):
    deploy(make_spec(model_dir), ctx)
    (old_rev,) = aca.traffic(APP)
    aca.unhealthy.add(IMAGE_V2)
    with pytest.raises(RemoteError) as err:
        deploy(make_spec(model_dir, image=IMAGE_V2, health_timeout=30), ctx)
    assert err.value.code == "RevisionUnhealthy"
    new_rev = aca.revisions(APP)[-1]["name"]
    assert new_rev != old_rev
    assert aca.traffic(APP) == {old_rev: 100} and aca.active(APP) == [old_rev]
    assert api.invoke(APP, {"input_data": EXAMPLE}, ctx).status_code == 200  # the old version still serves
    # a scorer that fails on the new revision only: readiness passes, the smoke test does not
    aca.unhealthy.clear()
    aca.scorer = lambda app, rev, payload: (500, {"error": "boom"}) if "fraud:v3" in str(
        aca.fake.resources[aca.app_id(app).lower() + "/revisions/" + rev.lower()]) else (200, [0])
    with pytest.raises(RemoteError):
        deploy(make_spec(model_dir, image=IMAGE_V3), ctx)
    assert aca.traffic(APP) == {old_rev: 100} and aca.active(APP) == [old_rev]


def test_429_and_a_failed_lro_mid_rollout(ctx, fake, aca, model_dir):
    deploy(make_spec(model_dir), ctx)
    fake.inject("PUT", rf"/containerApps/{APP}$", status=429, retry_after=7, times=2)
    fake.inject("POST", r"/listSecrets$", status=429, retry_after=3)
    plan, result = deploy(make_spec(model_dir, image=IMAGE_V2), ctx)
    assert result.status == "succeeded" and 7 in fake.sleeps and 3 in fake.sleeps
    (v2,) = aca.traffic(APP)
    # the new revision's PUT is accepted, then its long-running operation fails
    fake.fail_operation(rf"/containerApps/{APP}$", code="ContainerAppOperationError", times=1)
    with pytest.raises(DeployError) as err:
        deploy(make_spec(model_dir, image=IMAGE_V3), ctx)
    assert err.value.code == "ContainerAppOperationError"
    assert aca.traffic(APP) == {v2: 100}  # nothing moved
    # the traffic move's operation fails after a healthy smoke test: reported, and the next apply finishes it
    fake.clear_faults()

    def fail_the_traffic_move(event):
        ctx.events(event)
        if event.kind == "step" and event.message.startswith("move 100% of traffic"):
            fake.fail_operation(rf"/containerApps/{APP}$", code="InternalServerError", times=1)
    hooked = DeployContext(**{**ctx.__dict__, "events": fail_the_traffic_move})
    with pytest.raises(DeployError) as err:
        api.apply(api.plan(make_spec(model_dir, image=IMAGE_V3), ctx), hooked)
    assert err.value.code == "InternalServerError"
    plan, result = deploy(make_spec(model_dir, image=IMAGE_V3), ctx)
    assert result.status == "succeeded"
    v3 = [r["name"] for r in aca.revisions(APP) if r["properties"]["template"]["containers"][0]["image"] == IMAGE_V3]
    assert len(v3) == 1 and aca.traffic(APP) == {v3[0]: 100} and aca.active(APP) == v3


def test_destroy_twice(ctx, fake, aca, model_dir):
    deploy(make_spec(model_dir), ctx)
    first = api.destroy(APP, ctx)
    assert f"container app {APP}" in first.deleted and f"environment {ENV}" in first.deleted
    assert any(d.startswith("AcrPull") for d in first.deleted)
    assert aca.app(APP) is None and aca.environment(ENV) is None
    assert not fake.ids(r"/roleassignments/")
    second = api.destroy(APP, ctx)
    assert second.already_absent and not second.deleted


def test_an_environment_not_ours_is_used_and_kept(ctx, fake, aca, model_dir):
    aca.seed_environment("shared-env", tags={"team": "platform"})
    deploy(make_spec(model_dir, environment="shared-env"), ctx)
    assert aca.app(APP)["properties"]["managedEnvironmentId"].endswith("/shared-env")
    out = api.destroy(APP, ctx)
    assert aca.environment("shared-env") is not None
    assert "environment shared-env (not created by this deployment)" in out.message


def test_status_and_logs(ctx, fake, aca, model_dir):
    deploy(make_spec(model_dir), ctx)
    (rev,) = aca.traffic(APP)
    aca.logs[rev.lower()] = ["booting", "READY on 0.0.0.0:8080"]
    st = api.status(APP, ctx)
    assert st.state == "running" and st.details["traffic"] == {rev: 100}
    assert st.details["replicas"] >= 1 and st.details["fqdn"] in st.endpoint_url
    assert {r["name"] for r in st.details["revisions"]} == {rev, f"{APP}--bootstrap"}
    logs = api.logs(APP, ctx)
    assert "READY on 0.0.0.0:8080" in logs and "az containerapp logs show" in logs


def test_a_canary_that_fails_its_second_check_gives_the_traffic_back(ctx, fake, aca, model_dir):
    profile = {"operations": {"rollout": "canary"}}
    deploy(make_spec(model_dir, profile=profile), ctx)
    (old,) = aca.traffic(APP)
    calls = {"n": 0}

    def fails_on_the_second_smoke_test(app, rev, payload):
        if rev != old:
            calls["n"] += 1
        return (500, {"error": "degraded under load"}) if rev != old and calls["n"] >= 2 else (200, [0, 0])
    aca.scorer = fails_on_the_second_smoke_test
    with pytest.raises(RemoteError) as err:
        deploy(make_spec(model_dir, profile=profile, image=IMAGE_V2), ctx)
    assert err.value.code == "CanaryUnhealthy"
    assert aca.traffic(APP) == {old: 100} and aca.active(APP) == [old]


def test_an_image_outside_acr_needs_no_bootstrap_and_no_acr_pull(ctx, fake, aca, model_dir):
    plan, result = deploy(make_spec(model_dir, image="ghcr.io/example/fraud-scoring:1.0"), ctx)
    assert result.status == "succeeded"
    assert "Microsoft.Authorization/roleAssignments" not in kinds(plan)
    assert [r["name"] for r in aca.revisions(APP)] == [result.outputs["revision"]]
    assert "registries" not in aca.app(APP)["properties"]["configuration"] or \
        aca.app(APP)["properties"]["configuration"]["registries"] == []
    assert not fake.calls("PUT", r"/roleAssignments/")
