"""Deploying to an Azure ML batch endpoint through the real azure-ai-ml SDK against FakeAzure:
first deploy, no-op redeploy, a new version whose smoke job passes or fails, clusters we do not own."""
from __future__ import annotations

import pytest

from deployers import api
from deployers.errors import InputError, QuotaError, RemoteError

from .conftest import NAME, arm_writes, make_ctx, make_spec

EP = NAME


def test_first_deploy_creates_cluster_endpoint_deployment_then_moves_the_default_after_a_smoke_job(fake, batch, ctx):
    plan = api.plan(make_spec(), ctx)
    assert [(a.kind, a.resource_type, a.resource) for a in plan.actions] == [
        ("create", "compute", "nightly-scor-cpu"), ("create", "batchEndpoint", EP),
        ("create", "batchDeployment", "blue"), ("update", "batchEndpoint/default", EP)]
    result = api.apply(plan, ctx)

    assert result.status == "succeeded" and result.outputs["default_deployment"] == "blue"
    assert result.endpoint_url == f"https://{EP}.eastus.inference.ml.azure.com/jobs"
    assert result.smoke_response["status"] == "Completed"
    # the request sequence of a deploy: cluster, endpoint (no default), deployment, smoke job, default
    assert arm_writes(fake) == [("PUT", "computes/nightly-scor-cpu"), ("PUT", f"batchEndpoints/{EP}"),
                                ("PUT", "deployments/blue"), ("PUT", f"batchEndpoints/{EP}")]
    compute = fake.calls("PUT", r"/computes/nightly-scor-cpu$")[0].body
    scale = compute["properties"]["properties"]["scaleSettings"]
    assert scale == {"minNodeCount": 0, "maxNodeCount": 4, "nodeIdleTimeBeforeScaleDown": "PT2M"}
    assert compute["properties"]["properties"]["vmSize"] == "Standard_DS3_v2"
    assert compute["tags"] == {"managed-by": "deploy-advisor", "deploy-advisor-deployment": NAME}
    first_ep, second_ep = [r.body["properties"] for r in fake.calls("PUT", rf"/batchEndpoints/{EP}$")]
    assert first_ep["authMode"] == "aadToken" and not first_ep.get("defaults")
    assert second_ep["defaults"] == {"deploymentName": "blue"}
    dep = fake.calls("PUT", r"/deployments/blue$")[0].body["properties"]
    assert dep["miniBatchSize"] == 10 and dep["maxConcurrencyPerInstance"] >= 1
    assert dep["resources"]["instanceCount"] == 2 and dep["outputAction"] == "AppendRow"
    assert dep["outputFileName"] == "predictions.csv"
    assert dep["retrySettings"] == {"maxRetries": 3, "timeout": "PT15M"}  # 1.5 x the profile's 600 s
    assert dep["compute"].endswith("/computes/nightly-scor-cpu") and dep["model"]["assetId"].endswith("/versions/1")
    # the smoke job went to blue only, before blue became the default
    submit = fake.calls("POST", r"^/jobs$", host=r"inference\.ml\.azure\.com$")
    assert len(submit) == 1 and submit[0].headers["azureml-model-deployment"] == "blue"
    assert fake.requests.index(submit[0]) < fake.requests.index(fake.calls("PUT", rf"/batchEndpoints/{EP}$")[1])
    assert batch.default(EP) == "blue"
    assert api.get_deployment(NAME, ctx)["status"] == "running"


def test_redeploying_the_same_spec_changes_nothing(fake, batch, ctx):
    api.apply(api.plan(make_spec(), ctx), ctx)
    writes, jobs = len(arm_writes(fake)), len(batch.jobs_submitted)
    plan = api.plan(make_spec(), ctx)
    assert not plan.has_changes
    result = api.apply(plan, ctx)
    assert result.status == "no-change" and not result.changed
    assert len(arm_writes(fake)) == writes and len(batch.jobs_submitted) == jobs


def test_new_version_gets_a_new_deployment_and_the_default_moves_after_its_smoke_job(fake, batch, ctx):
    api.apply(api.plan(make_spec(), ctx), ctx)
    plan = api.plan(make_spec("azureml:propensity:2"), ctx)
    kinds = {(a.kind, a.resource_type, a.resource) for a in plan.actions}
    assert ("create", "batchDeployment", "green") in kinds and ("delete", "batchDeployment", "blue") in kinds
    assert ("no-op", "compute", "nightly-scor-cpu") in kinds
    result = api.apply(plan, ctx)
    assert result.outputs["default_deployment"] == "green" and batch.default(EP) == "green"
    assert [d["name"] for d in batch.deployments(EP)] == ["green"]
    assert [b["properties"].get("name", "") for b in batch.jobs_submitted][-1].startswith(f"{EP}-green-smoke-")


def test_failing_smoke_job_leaves_the_old_default_and_removes_the_new_deployment(fake, batch, ctx, events):
    api.apply(api.plan(make_spec(), ctx), ctx)
    batch.failing["green"] = "KeyError: column 'd' is missing"
    with pytest.raises(RemoteError) as err:
        api.apply(api.plan(make_spec("azureml:propensity:2"), ctx), ctx)
    assert err.value.code == "SmokeJobFailed"
    assert "KeyError: column 'd' is missing" in err.value.message and "Traceback" not in err.value.message
    assert "default deployment was not changed" in err.value.hint
    assert batch.default(EP) == "blue"
    assert [d["name"] for d in batch.deployments(EP)] == ["blue"]  # the failed green was removed
    assert any("the default deployment is still blue" in e.message for e in events.events)
    assert sorted(r["status"] for r in api.runs(NAME, ctx) if r["kind"] == "apply") == ["failed", "succeeded"]


def test_keep_failed_keeps_the_deployment_without_making_it_the_default(fake, batch, ctx):
    api.apply(api.plan(make_spec(), ctx), ctx)
    batch.failing["green"] = "boom"
    with pytest.raises(RemoteError):
        api.apply(api.plan(make_spec("azureml:propensity:2", keep_failed=True), ctx), ctx)
    assert batch.default(EP) == "blue" and {d["name"] for d in batch.deployments(EP)} == {"blue", "green"}


def test_an_existing_cluster_we_did_not_create_is_used_as_it_is(fake, batch, ctx):
    batch.seed_compute("shared-cpu", tags={"team": "data"}, size="Standard_DS3_v2", max_nodes=8)
    plan = api.plan(make_spec(compute_name="shared-cpu"), ctx)
    compute = next(a for a in plan.actions if a.resource_type == "compute")
    assert (compute.kind, compute.detail) == ("no-op", "not ours: used as it is")
    api.apply(plan, ctx)
    assert not fake.calls("PUT", r"/computes/")
    assert fake.get(batch.compute_id("shared-cpu"))["tags"] == {"team": "data"}


def test_our_cluster_cannot_change_vm_size(fake, batch, ctx):
    api.apply(api.plan(make_spec(), ctx), ctx)
    plan = api.plan(make_spec(instance_type="Standard_F4s_v2"), ctx)
    fail = next(f for f in plan.findings if f.level == "fail")
    assert fail.check == "compute" and "cannot change" in fail.message and "compute_name=NEW" in fail.hint
    with pytest.raises(InputError):
        api.apply(plan, ctx)


def test_preflight_checks_quota_without_the_online_reserve_and_the_size_in_the_region(fake, aml, batch, ctx):
    aml.set_quota("standardDSv2Family", 94, 100)  # 6 free; 2 nodes x 4 vCPU = 8 (no 20% reserve for clusters)
    plan = api.plan(make_spec(), ctx)
    quota = [f for f in plan.findings if f.check == "quota" and f.level == "fail"]
    assert quota and "6 of 100 vCPUs free, 8 needed (2 x 4 vCPU)" in quota[0].message
    with pytest.raises(QuotaError):
        api.apply(plan, ctx)
    assert not arm_writes(fake)
    findings = api.preflight(make_spec(instance_type="Standard_D2_v9"), ctx)
    assert any(f.check == "sku-region" and f.level == "fail" for f in findings)


def test_batch_endpoints_take_only_entra_auth(fake, batch, ctx):
    findings = api.preflight(make_spec(profile={"security": {"auth": "key"}}), ctx)
    auth = next(f for f in findings if f.check == "auth")
    assert auth.level == "warn" and "only Microsoft Entra tokens" in auth.message
    assert "how-to-authenticate-batch-endpoint" in auth.message


def test_planning_without_azure_access_marks_the_plan_stale(batch, isolated_home):
    from deployers.base import DeployContext
    from deployers.errors import StalePlanError

    ctx = DeployContext(state_dir=isolated_home, subscription_id="00000000-0000-0000-0000-000000000000",
                        resource_group="rg")
    plan = api.plan(make_spec(), ctx)
    assert any(f.check == "credentials" and f.level == "fail" for f in plan.findings)
    assert "endpoint.yml" in plan.artifacts and "deployment.yml" in plan.artifacts
    with pytest.raises(Exception) as err:
        api.apply(plan, make_ctx(batch.fake, isolated_home))
    assert isinstance(err.value, StalePlanError)


def test_without_a_sample_the_first_default_is_set_with_a_warning_but_a_new_version_is_refused(fake, batch, ctx):
    plan = api.plan(make_spec(smoke_input=None), ctx)
    warn = next(f for f in plan.findings if f.check == "smoke-input")
    assert warn.level == "warn" and "without a smoke job" in warn.message
    api.apply(plan, ctx)
    assert batch.default(EP) == "blue" and batch.jobs_submitted == []
    plan = api.plan(make_spec("azureml:propensity:2", smoke_input=None), ctx)
    fail = next(f for f in plan.findings if f.check == "smoke-input")
    assert fail.level == "fail" and "would move from blue untested" in fail.message and "smoke_input" in fail.hint
    with pytest.raises(InputError):
        api.apply(plan, ctx)
    assert batch.default(EP) == "blue" and [d["name"] for d in batch.deployments(EP)] == ["blue"]
