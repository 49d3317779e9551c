"""Preflight: read-only checks with one line and a hint each, before any write."""
from __future__ import annotations

import pytest

from deployers.azureml import AzureMLDeployer
from deployers.base import DeployContext
from deployers.errors import QuotaError

from .conftest import make_ctx, make_spec

D = AzureMLDeployer()
EP = "fraud-scoring"


def by_check(findings, check):
    return [f for f in findings if f.check == check]


def levels(findings, check):
    return [f.level for f in by_check(findings, check)]


def test_preflight_is_read_only_and_passes_on_a_healthy_workspace(fake, aml, ctx):
    findings = D.preflight(make_spec(), ctx)
    assert not [f for f in findings if f.level == "fail"], findings
    assert {"name", "sku", "request-timeout", "auth", "credentials", "workspace", "endpoint-name",
            "endpoint-limit", "quota"} <= {f.check for f in findings}
    assert not [r for r in fake.requests if r.method != "GET"]  # listing usages/sizes are GETs too
    assert all(f.message and "\n" not in f.message for f in findings)


def test_quota_counts_the_twenty_percent_reserve(fake, aml, ctx):
    aml.set_quota("standardDSv2Family", 10, 24)  # 14 vCPUs free
    findings = D.preflight(make_spec(instance_count=2, max_instances=3), ctx)
    quota = by_check(findings, "quota")
    family = next(f for f in quota if "family" in f.message)
    # 3 instances (autoscale max) x 4 vCPU = 12 would fit; with the reserve ceil(1.2 x 3) = 4 x 4 = 16 does not
    assert family.level == "fail"
    assert family.message.startswith("standardDSv2Family family: 14 of 24 vCPUs free, 16 needed")
    assert "ceil(1.2 x 3)" in family.message and "request more quota" in family.hint
    total = next(f for f in quota if "regional total" in f.message)
    assert total.level == "pass"
    # the same numbers without autoscale headroom fit: ceil(1.2 x 2) x 4 = 12
    ok = by_check(D.preflight(make_spec(instance_count=2, max_instances=2), ctx), "quota")
    assert all(f.level == "pass" for f in ok), ok


def test_apply_refuses_when_preflight_failed_and_writes_nothing(fake, aml, ctx):
    aml.set_quota("standardDSv2Family", 22, 24)
    plan = D.plan(make_spec(), ctx)
    assert "fail" in levels(plan.findings, "quota")
    with pytest.raises(QuotaError) as ei:
        D.apply(plan, ctx)
    assert ei.value.code == "PreflightFailed" and "vCPUs free" in ei.value.message
    assert not [r for r in fake.requests if r.method in ("PUT", "DELETE")]


def test_request_timeout_over_180_seconds_fails(fake, aml, ctx):
    findings = D.preflight(make_spec(profile={"inference": {"max_request_seconds": 200}}), ctx)
    f = by_check(findings, "request-timeout")[0]
    assert f.level == "fail" and "180 s" in f.message and "batch endpoint" in f.hint
    warn = by_check(D.preflight(make_spec(profile={"inference": {"max_request_seconds": 30}},
                                          request_timeout_ms=10_000), ctx), "request-timeout")[0]
    assert warn.level == "warn"
    plan = D.plan(make_spec(profile={"inference": {"max_request_seconds": 30}}), ctx)
    assert plan.settings["desired"]["deployment"]["request_timeout_ms"] == 45_000  # 1.5 x the longest request


def test_auth_modes_against_the_target(fake, aml, ctx):
    entra = by_check(D.preflight(make_spec(profile={"security": {"auth": "entra"}}), ctx), "auth")[0]
    assert entra.level == "pass" and "aad_token" in entra.message
    none = by_check(D.preflight(make_spec(profile={"security": {"auth": "none"}}), ctx), "auth")[0]
    assert none.level == "warn"
    token = by_check(D.preflight(make_spec(auth_mode="aml_token"), ctx), "auth")[0]
    assert token.level == "pass" and "aml_token" in token.message


def test_network_and_gpu_constraints(fake, aml, ctx):
    assert levels(D.preflight(make_spec(profile={"security": {"network": "custom-vnet"}}), ctx), "network") == ["fail"]
    assert levels(D.preflight(make_spec(profile={"security": {"network": "managed-vnet"}}), ctx), "network") == ["warn"]
    assert levels(D.preflight(make_spec(profile={"inference": {"gpu": "required"}}), ctx), "gpu") == ["fail"]


def test_sku_rules(fake, aml, ctx):
    small = by_check(D.preflight(make_spec(instance_type="Standard_DS2_v2"), ctx), "sku")[0]
    assert small.level == "warn" and "DS3_v2" in small.hint
    unknown = by_check(D.preflight(make_spec(instance_type="Standard_Q9_v9"), ctx), "sku")[0]
    assert unknown.level == "fail" and "reference-managed-online-endpoints-vm-sku-list" in unknown.hint
    offered = D.preflight(make_spec(instance_type="Standard_F72s_v2"), ctx)  # on the list, not in this region
    assert levels(offered, "sku-region") == ["fail"]
    big = by_check(D.preflight(make_spec(profile={"model": {"size_mb": 20_000}}), ctx), "sku-memory")[0]
    assert big.level == "warn"


def test_not_signed_in_says_how_and_makes_no_request(fake, aml, isolated_home):
    ctx = DeployContext(state_dir=isolated_home, subscription_id="00000000-0000-0000-0000-000000000000",
                        resource_group="rg", client_kwargs={"transport": fake}).for_deployment(EP)
    findings = D.preflight(make_spec(), ctx)
    f = by_check(findings, "credentials")[0]
    assert f.level == "fail" and "az login" in f.hint
    assert not fake.requests


def test_workspace_unreachable(fake, aml, ctx):
    f = by_check(D.preflight(make_spec(workspace="mlw-missing"), ctx), "workspace")[0]
    assert f.level == "fail" and "mlw-missing" in f.message


def test_endpoint_name_taken_by_someone_else(fake, aml, ctx):
    aml.seed_endpoint(EP, tags={"owner": "data-team"})
    f = by_check(D.preflight(make_spec(), ctx), "endpoint-name")[0]
    assert f.level == "fail" and "endpoint_name" in f.hint


def test_deployment_count_limit(fake, aml, ctx):
    aml.seed_endpoint(EP, tags={"managed-by": "deploy-advisor", "deploy-advisor-deployment": EP})
    for i in range(20):
        aml.seed_deployment(EP, f"d{i:02d}")
    assert levels(D.preflight(make_spec(), ctx), "deployment-limit") == ["fail"]


def test_unknown_model_is_a_failed_finding(fake, aml, ctx):
    plan = D.plan(make_spec(model="azureml:nope:7"), ctx)
    f = by_check(plan.findings, "model")[0]
    assert f.level == "fail" and "azureml:nope:7" in f.message


def test_no_new_capacity_means_no_quota_failure(fake, aml, isolated_home):
    ctx = make_ctx(fake, isolated_home)
    D.apply(D.plan(make_spec(), ctx), ctx)
    aml.set_quota("standardDSv2Family", 24, 24)  # exhausted now, but an unchanged spec needs nothing
    plan = D.plan(make_spec(), make_ctx(fake, isolated_home))
    assert levels(plan.findings, "quota") == ["pass"] and not plan.has_changes
