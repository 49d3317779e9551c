"""An existing (on-premises / Arc-enabled) cluster through a kubeconfig context, and long-request timeouts.

The real `kubernetes` client loads the kubeconfig and talks to the fake API server on 127.0.0.1; the ARM fake
records every Azure request, so "no Azure cluster" is checked on the wire.
"""
from __future__ import annotations

import yaml

from deployers import api, cli
from deployers.aks import LB_IDLE_ANNOTATION, AKSDeployer, render_manifests
from deployers.base import DeployContext
from deployers.models import DeploymentSpec
from deployers.serving.server import default_timeout
from tests.aks.test_manifests import CASES, IMAGE, SUB

NAME = "fraud"
ONPREM = {"security": {"network": "on-premises"}}
READY_IMAGE = "registry.example.com/scoring/fraud:1.0"


def _kubeconfig(tmp_path, k8s, server: str = "", context: str = "arc-proxy") -> str:
    """What `az connectedk8s proxy` leaves behind: a context whose server is a local endpoint, with a token."""
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": "arc", "cluster": {"server": server or k8s.url}}],
        "contexts": [{"name": context, "context": {"cluster": "arc", "user": "arc-user"}}],
        "users": [{"name": "arc-user", "user": {"token": k8s.token}}],
    }))
    return str(path)


def _onprem_spec(make_spec, tmp_path, k8s, **settings):
    base = {"kubeconfig": _kubeconfig(tmp_path, k8s), "image": READY_IMAGE, "registry": None}
    base.update(settings)
    return make_spec(profile=ONPREM, **base)


def test_on_prem_plan_targets_the_context_and_apply_makes_no_azure_request(azure, ctx, make_spec, k8s, tmp_path):
    fake, _, _ = azure
    plan = api.plan(_onprem_spec(make_spec, tmp_path, k8s), ctx)
    assert plan.notes[0] == ("targets your existing cluster context arc-proxy; no Azure cluster is created or "
                             "priced")
    kinds = {f"{a.resource_type}:{a.resource}": a.kind for a in plan.actions}
    assert kinds["kubernetes/context:arc-proxy"] == "no-op"
    assert not any(k.startswith("Microsoft.") for k in kinds), kinds  # no cluster, pool, registry or AcrPull
    result = api.apply(plan, ctx)
    assert result.status == "succeeded", result.message
    assert result.smoke_response == [0, 0]
    assert fake.calls() == []  # not a single ARM request: no AKS PUT, not even a GET
    svc = k8s.get("Service", NAME, NAME)
    assert not any(a.startswith("service.beta.kubernetes.io/azure") for a in svc["metadata"]["annotations"])
    assert k8s.get("Deployment", NAME, NAME)["spec"]["template"]["spec"]["containers"][0]["image"] == READY_IMAGE


def test_destroy_twice_deletes_only_our_objects_and_leaves_the_cluster(azure, ctx, make_spec, k8s, tmp_path):
    fake, _, _ = azure
    assert api.apply(api.plan(_onprem_spec(make_spec, tmp_path, k8s), ctx), ctx).status == "succeeded"
    k8s.objects[("Namespace", "", "team")] = {"kind": "Namespace", "metadata": {"name": "team", "labels": {}}}
    k8s.objects[("Deployment", "team", "billing")] = {"kind": "Deployment", "metadata": {
        "name": "billing", "namespace": "team", "labels": {"app": "billing"}}}
    out = api.destroy(NAME, ctx)
    assert "Deployment/fraud/fraud" in out.deleted and "Namespace/fraud" in out.deleted
    assert not any(d.startswith(("managedCluster/", "registry/", "roleAssignment/")) for d in out.deleted)
    again = api.destroy(NAME, ctx)
    assert again.already_absent is True and again.deleted == []
    assert k8s.get("Deployment", "billing", "team") is not None  # the rest of the cluster is untouched
    assert fake.calls() == []


def test_kube_context_setting_selects_an_existing_cluster_for_any_profile(azure, ctx, make_spec, k8s, tmp_path):
    spec = make_spec(kube_context="arc-proxy", kubeconfig=_kubeconfig(tmp_path, k8s), image=READY_IMAGE)
    findings = AKSDeployer().preflight(spec, ctx)
    levels = {f.check: f.level for f in findings}
    assert levels["kube-context"] == "pass" and levels["kube-api"] == "pass", findings
    assert "cluster" not in levels and "acr-pull" not in levels and "credentials" not in levels
    assert any("v1.31.2" in f.message for f in findings if f.check == "kube-api")


def test_preflight_fails_when_the_api_server_does_not_answer(ctx, make_spec, k8s, tmp_path):
    spec = make_spec(profile=ONPREM, kubeconfig=_kubeconfig(tmp_path, k8s, server="http://127.0.0.1:9"),
                     image=READY_IMAGE)
    api_check = [f for f in AKSDeployer().preflight(spec, ctx) if f.check == "kube-api"]
    assert api_check[0].level == "fail" and "connectedk8s proxy" in api_check[0].hint


def test_on_prem_needs_an_image_or_a_registry(ctx, make_spec, k8s, tmp_path):
    spec = _onprem_spec(make_spec, tmp_path, k8s, image=None, registry=None)
    settings = [f for f in AKSDeployer().preflight(spec, ctx) if f.check == "settings"]
    assert settings[0].level == "fail" and "image=" in settings[0].hint and "registry=" in settings[0].hint


def test_missing_context_is_one_line_and_exit_2(k8s, tiny_model, tmp_path, isolated_home, capsys):
    profile = tmp_path / "profile.yaml"
    profile.write_text(yaml.safe_dump(ONPREM))
    code = cli.main(["plan", "--target", "aks", "--model", str(tiny_model), "--profile", str(profile), "--name",
                     NAME, "--set", f"kubeconfig={_kubeconfig(tmp_path, k8s)}", "--set", "kube_context=nope",
                     "--set", f"image={READY_IMAGE}", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) <= 2 and "kube context nope not found" in err and "Traceback" not in err
    assert "arc-proxy" in err  # the contexts it does have


# ----------------------------------------------------------------- request timeouts


def _render(profile_extra: dict, **settings):
    profile, sizing, info = CASES["cpu"]
    spec = DeploymentSpec(name="t-scoring", target="aks", model=info.uri, profile={**profile, **profile_extra},
                          settings=settings)
    cfg = AKSDeployer().config(spec, DeployContext(subscription_id=SUB, resource_group="rg"), info, sizing)
    objs = {o["kind"]: o for o in render_manifests(cfg, IMAGE, model_uri=info.uri, model_name=info.name,
                                                   version=info.version)}
    return cfg, objs


def _env(objs) -> dict[str, str]:
    c = objs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in c["env"]}


def test_ten_minute_requests_raise_the_lb_idle_timeout_and_the_server_timeout():
    cfg, objs = _render({"inference": {"max_request_seconds": 600}})
    # server: 600 s + 30 s headroom; load balancer: outlives the server by 30 s, in whole minutes -> 11
    assert objs["Service"]["metadata"]["annotations"][LB_IDLE_ANNOTATION] == "11"
    assert _env(objs)["DEPLOY_ADVISOR_TIMEOUT_S"] == "630"
    assert objs["Deployment"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 10 + 630 + 5


def test_short_requests_keep_the_defaults():
    for secs in (1, 120):
        _, objs = _render({"inference": {"max_request_seconds": secs}})
        assert LB_IDLE_ANNOTATION not in objs["Service"]["metadata"]["annotations"]
        assert "DEPLOY_ADVISOR_TIMEOUT_S" not in _env(objs) if secs == 1 else _env(objs)["DEPLOY_ADVISOR_TIMEOUT_S"] == "150"


def test_requests_beyond_the_30_minute_maximum_fail_with_the_async_hint(ctx, make_spec):
    cfg, objs = _render({"inference": {"max_request_seconds": 3600}})
    assert objs["Service"]["metadata"]["annotations"][LB_IDLE_ANNOTATION] == "30"
    fails = [f for f in AKSDeployer().preflight(make_spec(profile={"inference": {"max_request_seconds": 3600}}), ctx)
             if f.check == "request-timeout"]
    assert fails[0].level == "fail" and "azureml-batch" in fails[0].hint


def test_the_plan_shows_the_raised_timeout(azure, ctx, make_spec):
    plan = api.plan(make_spec(profile={"inference": {"max_request_seconds": 600}}), ctx)
    assert any("idle timeout raised to 11 min" in n and LB_IDLE_ANNOTATION in n for n in plan.notes), plan.notes
    service = yaml.safe_load(plan.artifacts["kubernetes/03-service.yaml"])
    assert service["metadata"]["annotations"][LB_IDLE_ANNOTATION] == "11"


def test_on_prem_long_requests_set_the_server_timeout_but_no_azure_annotation(make_spec, k8s, tmp_path):
    cfg, objs = _render({**ONPREM, "inference": {"max_request_seconds": 600}},
                        kubeconfig=_kubeconfig(tmp_path, k8s), image=READY_IMAGE)
    assert cfg.use_context and cfg.lb_idle_timeout_min is None
    assert "annotations" not in objs["Service"]["metadata"] or not any(
        a.startswith("service.beta.kubernetes.io/") for a in objs["Service"]["metadata"]["annotations"])
    assert _env(objs)["DEPLOY_ADVISOR_TIMEOUT_S"] == "630"


def test_the_scoring_server_reads_its_timeout_from_the_environment(monkeypatch):
    monkeypatch.delenv("DEPLOY_ADVISOR_TIMEOUT_S", raising=False)
    assert default_timeout() == 60.0
    monkeypatch.setenv("DEPLOY_ADVISOR_TIMEOUT_S", "630")
    assert default_timeout() == 630.0


def test_on_prem_with_a_registry_builds_there_and_still_plans_no_cluster(azure, ctx, make_spec, k8s, tmp_path):
    fake, acr, _ = azure
    acr.add_registry("rg", "myregistry")
    plan = api.plan(_onprem_spec(make_spec, tmp_path, k8s, image=None, registry="myregistry"), ctx)
    kinds = {f"{a.resource_type}:{a.resource}": a.kind for a in plan.actions}
    assert not any("managedClusters" in k or "roleAssignments" in k for k in kinds), kinds
    assert any(k.startswith("image:myregistry.azurecr.io/") and v == "create" for k, v in kinds.items())
    result = api.apply(plan, ctx)
    assert result.status == "succeeded", result.message
    assert not fake.calls(path=r"managedClusters|roleAssignments")  # the image was built; no cluster touched
    assert "kubectl config use-context arc-proxy" in plan.artifacts["README.md"]
    pull = [f for f in AKSDeployer().preflight(_onprem_spec(make_spec, tmp_path, k8s, image=None,
                                                            registry="myregistry"), ctx) if f.check == "registry"]
    assert pull[0].level == "warn" and "imagePullSecret" in pull[0].hint
