"""Deploy, roll out new versions and fail safely: azure-ai-ml against the in-process Azure fake."""
from __future__ import annotations

import json

import pytest

from deployers.azureml import TAG_SPEC, AzureMLDeployer
from deployers.errors import QuotaError, RemoteError, StalePlanError

from .conftest import WS, arm_writes, make_ctx, make_spec

D = AzureMLDeployer()
EP = "fraud-scoring"


def deploy(spec, ctx):
    plan = D.plan(spec, ctx)
    return plan, D.apply(plan, ctx)


def test_first_deploy_creates_endpoint_deployment_traffic_and_autoscale(fake, aml, ctx, events):
    plan = D.plan(make_spec(), ctx)
    assert [(a.kind, a.resource_type, a.resource) for a in plan.actions] == [
        ("create", "onlineEndpoint", EP), ("create", "onlineDeployment", "blue"),
        ("update", "onlineEndpoint/traffic", EP), ("create", "autoscaleSetting", f"{EP}-autoscale")]
    assert not [f for f in plan.findings if f.level == "fail"], plan.findings
    result = D.apply(plan, ctx)

    assert result.status == "succeeded" and result.changed
    assert result.endpoint_url == f"https://{EP}.eastus.inference.ml.azure.com/score"
    assert result.outputs["traffic"] == {"blue": 100}
    assert "$AZUREML_ENDPOINT_KEY" in result.curl and aml.primary_key not in result.model_dump_json()
    ep = aml.endpoint(EP)
    assert ep["tags"] == {"managed-by": "deploy-advisor", "deploy-advisor-deployment": EP}
    assert ep["properties"]["authMode"] == "Key" and ep["properties"]["traffic"] == {"blue": 100}
    dep = aml.deployment(EP, "blue")
    props = dep["properties"]
    assert props["instanceType"] == "Standard_DS3_v2" and dep["sku"]["capacity"] == 2
    assert props["model"].endswith("/models/fraud/versions/1")
    assert props["requestSettings"]["maxConcurrentRequestsPerInstance"] == int(
        props["environmentVariables"]["WORKER_COUNT"])
    assert props["livenessProbe"]["failureThreshold"] == 30
    assert dep["tags"][TAG_SPEC] == plan.settings["spec_fp"]
    # the smoke test went straight to the new deployment before it had any traffic
    smoke = fake.calls("POST", "/score$", host=r"inference\.ml\.azure\.com")
    assert len(smoke) == 1 and smoke[0].headers["azureml-model-deployment"] == "blue"
    assert smoke[0].body == json.loads(make_spec().settings["smoke_input"])
    assert result.smoke_latency_ms is not None and result.smoke_response == [0.0, 0.0]
    # the deployment was created before traffic was sent to it, and traffic before autoscale
    writes = arm_writes(fake)
    assert writes.index(("PUT", "deployments/blue")) < writes.index(("PUT", f"onlineEndpoints/{EP}"), 1)
    auto = fake.get(f"/subscriptions/{aml.subscription}/resourceGroups/rg/providers/Microsoft.Insights/"
                    f"autoscalesettings/{EP}-autoscale")
    prof = auto["properties"]["profiles"][0]
    assert prof["capacity"] == {"minimum": "2", "maximum": "4", "default": "2"}
    assert auto["properties"]["targetResourceUri"].lower() == aml.deployment_id(EP, "blue").lower()
    rules = prof["rules"]
    assert {r["metricTrigger"]["metricName"] for r in rules} == {"CpuUtilizationPercentage"}
    assert [(r["metricTrigger"]["operator"], r["scaleAction"]["direction"]) for r in rules] == [
        ("GreaterThan", "Increase"), ("LessThan", "Decrease")]
    kinds = [e.kind for e in events.events]
    assert "step" in kinds and "progress" in kinds


def test_second_apply_of_the_same_spec_is_a_no_op(fake, aml, ctx):
    deploy(make_spec(), ctx)
    n = len(arm_writes(fake))
    plan = D.plan(make_spec(), ctx)
    assert not plan.has_changes, plan.actions
    result = D.apply(plan, make_ctx(fake, ctx.state_dir))
    assert result.status == "no-change" and not result.changed
    assert len(arm_writes(fake)) == n


def test_new_version_goes_blue_to_green_after_a_smoke_test(fake, aml, ctx):
    deploy(make_spec(), ctx)
    seen = []

    def scorer(deployment, payload):
        seen.append((deployment, aml.traffic(EP)))
        return 200, [1.0, 2.0]

    aml.scorer = scorer
    plan = D.plan(make_spec("azureml:fraud:2"), make_ctx(fake, ctx.state_dir))
    assert [(a.kind, a.resource) for a in plan.actions if a.resource_type == "onlineDeployment"] == [
        ("create", "green"), ("delete", "blue")]
    result = D.apply(plan, make_ctx(fake, ctx.state_dir))
    # green was smoke-tested while blue still had all the traffic
    assert seen == [("green", {"blue": 100})]
    assert result.outputs["traffic"] == {"green": 100} and result.smoke_response == [1.0, 2.0]
    assert aml.traffic(EP) == {"green": 100}
    assert [d["name"] for d in aml.deployments(EP)] == ["green"]
    assert aml.deployment(EP, "green")["properties"]["model"].endswith("/fraud/versions/2")
    auto = fake.get(f"/subscriptions/{aml.subscription}/resourceGroups/rg/providers/Microsoft.Insights/"
                    f"autoscalesettings/{EP}-autoscale")
    assert auto["properties"]["targetResourceUri"].lower().endswith("/deployments/green")
    # a third version goes back to blue
    D.apply(D.plan(make_spec("azureml:fraud:3"), make_ctx(fake, ctx.state_dir)), make_ctx(fake, ctx.state_dir))
    assert aml.traffic(EP) == {"blue": 100} and [d["name"] for d in aml.deployments(EP)] == ["blue"]


def test_canary_takes_ten_percent_then_all(fake, aml, ctx):
    deploy(make_spec(rollout="canary"), ctx)
    mark = len(fake.requests)
    D.apply(D.plan(make_spec("azureml:fraud:2", rollout="canary"), make_ctx(fake, ctx.state_dir)),
            make_ctx(fake, ctx.state_dir))
    traffic_puts = [r.body["properties"].get("traffic") for r in fake.requests[mark:]
                    if r.method == "PUT" and r.path.endswith(f"/onlineEndpoints/{EP}") and not r.fault]
    assert traffic_puts == [{"blue": 90, "green": 10}, {"green": 100}]
    # the canary was smoke-tested before the shift and checked again before going to 100%
    assert [r.headers["azureml-model-deployment"] for r in fake.calls("POST", "/score$", host="inference")][-2:] == [
        "green", "green"]
    assert aml.traffic(EP) == {"green": 100}


def test_shadow_mirrors_and_stops_then_promotion_reuses_the_shadow(fake, aml, ctx):
    deploy(make_spec(rollout="shadow", mirror_percent=20), ctx)  # first deploy: nothing to mirror, 100%
    assert aml.traffic(EP) == {"blue": 100}
    result = D.apply(D.plan(make_spec("azureml:fraud:2", rollout="shadow", mirror_percent=20),
                            make_ctx(fake, ctx.state_dir)), make_ctx(fake, ctx.state_dir))
    ep = aml.endpoint(EP)
    assert ep["properties"]["traffic"] == {"blue": 100} and ep["properties"]["mirrorTraffic"] == {"green": 20}
    assert result.outputs["mirror"] == {"green": 20} and sorted(result.outputs["deployments"]) == ["blue", "green"]
    # promoting the same version with blue-green reuses the shadow deployment: no new PUT of a deployment
    plan = D.plan(make_spec("azureml:fraud:2", rollout="blue-green"), make_ctx(fake, ctx.state_dir))
    assert [(a.kind, a.resource) for a in plan.actions if a.resource_type == "onlineDeployment"] == [
        ("no-op", "green"), ("delete", "blue")]
    puts = len(fake.calls("PUT", "/deployments/"))
    D.apply(plan, make_ctx(fake, ctx.state_dir))
    assert len(fake.calls("PUT", "/deployments/")) == puts
    ep = aml.endpoint(EP)
    assert ep["properties"]["traffic"] == {"green": 100} and not ep["properties"].get("mirrorTraffic")


def test_mirror_over_fifty_percent_is_rejected_as_input():
    with pytest.raises(ValueError):
        D.settings_for(make_spec(mirror_percent=60))


def test_failed_green_out_of_quota_keeps_blue_at_100_and_removes_green(fake, aml, ctx, events):
    deploy(make_spec(), ctx)
    fake.fail_operation(r"/deployments/green$", "OutOfQuota",
                        "Not enough quota available for Standard_DS3_v2 in SubscriptionId 0000. Additional needed: 8")
    mark = len(fake.requests)
    plan = D.plan(make_spec("azureml:fraud:2"), make_ctx(fake, ctx.state_dir))
    with pytest.raises(QuotaError) as ei:
        D.apply(plan, make_ctx(fake, ctx.state_dir, events))
    err = ei.value
    assert err.code == "OutOfQuota" and "quota" in err.hint and "20%" in err.hint
    assert aml.traffic(EP) == {"blue": 100}
    assert [d["name"] for d in aml.deployments(EP)] == ["blue"]  # the failed green was deleted
    # traffic was never touched: no endpoint PUT after the failure
    assert not [r for r in fake.requests[mark:] if r.method == "PUT" and r.path.endswith(f"onlineEndpoints/{EP}")]
    assert any(e.kind == "error" and e.data.get("code") == "OutOfQuota" for e in events.events)


def test_keep_failed_keeps_the_deployment_and_says_how_to_read_its_logs(fake, aml, ctx):
    deploy(make_spec(), ctx)
    fake.fail_operation(r"/deployments/green$", "ResourceNotReady", "User container has crashed or terminated: "
                        "Liveness probe failed")
    aml.logs["green"] = "Traceback (most recent call last):\nModuleNotFoundError: No module named 'xgboost'\n"
    with pytest.raises(RemoteError) as ei:
        D.apply(D.plan(make_spec("azureml:fraud:2", keep_failed=True), make_ctx(fake, ctx.state_dir)),
                make_ctx(fake, ctx.state_dir))
    assert ei.value.code == "ResourceNotReady"
    assert "az ml online-deployment get-logs -e fraud-scoring -n green" in ei.value.hint
    assert aml.traffic(EP) == {"blue": 100}
    assert aml.deployment(EP, "green")["properties"]["provisioningState"] == "Failed"
    logs = D.logs(EP, make_ctx(fake, ctx.state_dir), tail=50)
    assert "No module named 'xgboost'" in logs and "fraud-scoring/green (0% traffic)" in logs
    # the next rollout cleans the failed leftover
    plan = D.plan(make_spec("azureml:fraud:2"), make_ctx(fake, ctx.state_dir))
    assert ("create", "green") in [(a.kind, a.resource) for a in plan.actions] or \
        ("update", "green") in [(a.kind, a.resource) for a in plan.actions]
    D.apply(plan, make_ctx(fake, ctx.state_dir))
    assert aml.traffic(EP) == {"green": 100} and [d["name"] for d in aml.deployments(EP)] == ["green"]


def test_failed_smoke_test_leaves_traffic_and_deletes_the_new_deployment(fake, aml, ctx):
    deploy(make_spec(), ctx)
    aml.broken.add("green")
    with pytest.raises(RemoteError) as ei:
        D.apply(D.plan(make_spec("azureml:fraud:2"), make_ctx(fake, ctx.state_dir)), make_ctx(fake, ctx.state_dir))
    assert ei.value.code == "SmokeTestFailed" and "502" in ei.value.message
    assert aml.traffic(EP) == {"blue": 100} and [d["name"] for d in aml.deployments(EP)] == ["blue"]


def test_failed_traffic_shift_restores_the_previous_map(fake, aml, ctx):
    from deployers.errors import InputError

    deploy(make_spec(rollout="canary"), ctx)

    @fake.route("PUT", rf"/onlineEndpoints/{EP}$")
    def refuse_full_shift(f, req, m):  # the 90/10 step goes through, the 100% step is refused
        if (req.body.get("properties") or {}).get("traffic") == {"green": 100}:
            return f.error(400, "BadArgument", "traffic update refused")
        return None

    with pytest.raises(InputError) as ei:
        D.apply(D.plan(make_spec("azureml:fraud:2", rollout="canary"), make_ctx(fake, ctx.state_dir)),
                make_ctx(fake, ctx.state_dir))
    assert ei.value.code == "BadArgument"
    assert aml.traffic(EP) == {"blue": 100}  # back to exactly what it was
    assert [d["name"] for d in aml.deployments(EP)] == ["blue"]


def test_apply_refuses_a_stale_plan(fake, aml, ctx):
    deploy(make_spec(), ctx)
    plan = D.plan(make_spec("azureml:fraud:2"), make_ctx(fake, ctx.state_dir))
    # someone adds a deployment by hand after the plan was made
    aml.seed_deployment(EP, "by-hand")
    with pytest.raises(StalePlanError):
        D.apply(plan, make_ctx(fake, ctx.state_dir))
    assert aml.traffic(EP) == {"blue": 100}


def test_aad_token_endpoint_is_created_and_invoked_with_an_entra_token(fake, aml, ctx):
    spec = make_spec(profile={"security": {"auth": "entra"}})
    plan, result = deploy(spec, ctx)
    assert plan.settings["auth_mode"] == "aad_token"
    assert aml.endpoint(EP)["properties"]["authMode"] == "AADToken"
    out = D.invoke(EP, {"input_data": [[1, 2, 3, 4]]}, make_ctx(fake, ctx.state_dir))
    assert out.status_code == 200 and out.response == [0.0]
    assert not fake.calls("POST", "/listKeys$")  # Entra tokens, no keys


def test_status_reports_traffic_and_deployments(fake, aml, ctx, monkeypatch):
    assert D.status(EP, ctx).state == "not-found"  # nothing known, nothing configured
    monkeypatch.setenv("AZUREML_WORKSPACE_NAME", WS)
    st = D.status(EP, ctx)
    assert st.state == "not-found" and "not found" in st.message
    deploy(make_spec(), ctx)
    st = D.status(EP, make_ctx(fake, ctx.state_dir))
    assert st.state == "running" and st.details["traffic"] == {"blue": 100}
    assert st.details["deployments"]["blue"]["state"] == "Succeeded"
    out = D.invoke(EP, {"input_data": [[1, 2, 3, 4], [5, 6, 7, 8], [9, 9, 9, 9]]}, make_ctx(fake, ctx.state_dir))
    assert out.status_code == 200 and out.response == [0.0, 0.0, 0.0]


def test_destroy_twice_deletes_only_tagged_resources(fake, aml, ctx):
    deploy(make_spec(), ctx)
    res = D.destroy(EP, make_ctx(fake, ctx.state_dir))
    assert res.deleted == [f"autoscaleSetting/{EP}-autoscale", f"onlineEndpoint/{EP}"] and not res.already_absent
    assert aml.endpoint(EP) is None and not aml.deployments(EP)
    assert not fake.ids(r"autoscalesettings")
    # the endpoint delete was waited for: its operation finished
    assert all(op.status == "Succeeded" for op in fake.operations.values() if op.kind == "delete")
    again = D.destroy(EP, make_ctx(fake, ctx.state_dir))
    assert again.already_absent and again.deleted == []


def test_destroy_refuses_an_endpoint_we_did_not_create(fake, aml, ctx, monkeypatch):
    from deployers.errors import ConflictError

    monkeypatch.setenv("AZUREML_WORKSPACE_NAME", WS)  # no record of ours: the configured workspace is searched
    aml.seed_endpoint(EP, tags={"owner": "data-team"})
    with pytest.raises(ConflictError):
        D.destroy(EP, ctx)
    assert aml.endpoint(EP) is not None
    assert not [r for r in fake.requests if r.method == "DELETE"]


def test_scale_only_change_updates_the_live_deployment_in_place(fake, aml, ctx):
    aml.set_quota("standardDSv2Family", 0, 64)
    deploy(make_spec(), ctx)
    plan = D.plan(make_spec(instance_count=3, max_instances=6), make_ctx(fake, ctx.state_dir))
    dep_actions = [(a.kind, a.resource) for a in plan.actions if a.resource_type == "onlineDeployment"]
    assert dep_actions == [("update", "blue")]
    D.apply(plan, make_ctx(fake, ctx.state_dir))
    assert aml.deployment(EP, "blue")["sku"]["capacity"] == 3 and aml.traffic(EP) == {"blue": 100}
    assert [d["name"] for d in aml.deployments(EP)] == ["blue"]
    assert WS in plan.settings["coords"]["workspace"]


def test_drift_monitoring_turns_on_app_insights_and_data_collection(fake, aml, ctx):
    plan, result = deploy(make_spec(profile={"operations": {"drift_monitoring": True}}), ctx)
    props = aml.deployment(EP, "blue")["properties"]
    assert props["appInsightsEnabled"] is True
    collections = props["dataCollector"]["collections"]
    assert set(collections) == {"model_inputs", "model_outputs"}
    assert all(c["dataCollectionMode"] == "enabled" for c in collections.values())
    # azure-ai-ml registered one data asset per collection before creating the deployment
    assert len(fake.calls("PUT", r"/data/fraud-scoring-blue-model_(inputs|outputs)/versions/1$")) == 2
