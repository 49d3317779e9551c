"""Preflight checks against the Azure fake, the offline plan, and `plan -o DIR` (Deployer.export)."""
from __future__ import annotations

import pytest

from deployers import api
from deployers.aks import AKSDeployer, KEY_PLACEHOLDER
from deployers.base import DeployContext
from deployers.errors import StalePlanError


def _find(findings, check):
    return [f for f in findings if f.check == check]


def _levels(findings) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in findings:
        out.setdefault(f.check, set()).add(f.level)
    return out


def test_preflight_for_a_new_cluster_passes(azure, ctx, make_spec):
    findings = AKSDeployer().preflight(make_spec(), ctx)
    levels = _levels(findings)
    assert "fail" not in set().union(*levels.values()), [f for f in findings if f.level == "fail"]
    for check in ("names", "manifests", "credentials", "cluster", "kubernetes-version", "vm-size", "node-fit",
                  "quota", "registry", "acr-pull"):
        assert check in levels, check


def test_preflight_missing_cluster_that_may_not_be_created(azure, ctx, make_spec):
    f = _find(AKSDeployer().preflight(make_spec(create_cluster=False), ctx), "cluster")
    assert f[0].level == "fail" and "create_cluster=true" in f[0].hint


def test_preflight_gpu_quota_and_device_plugin(azure, ctx, make_spec):
    spec = make_spec(profile={"inference": {"gpu": "required"}, "model": {"framework": "pytorch"}},
                     node_vm_size="Standard_NC4as_T4_v3", min_replicas=1, max_replicas=2)
    findings = AKSDeployer().preflight(spec, ctx)
    gpu_quota = _find(findings, "gpu-quota")
    assert gpu_quota and gpu_quota[0].level == "fail" and "standardNCASv3_T4Family" in gpu_quota[0].hint
    assert _find(findings, "gpu-device-plugin")[0].level == "warn"


def test_preflight_vm_size_not_offered_in_the_region(azure, ctx, make_spec):
    fake, acr, aks = azure
    aks.skus = [s for s in aks.skus if s["name"] != "Standard_F8s_v2"]
    findings = AKSDeployer().preflight(make_spec(node_vm_size="Standard_F8s_v2"), ctx)
    assert any(f.level == "fail" and "Standard_F8s_v2 is not available" in f.message for f in _find(findings, "vm-size"))


def test_preflight_pod_does_not_fit_the_node(azure, ctx, make_spec):
    findings = AKSDeployer().preflight(make_spec(node_vm_size="Standard_DS2_v2", memory_request="12Gi"), ctx)
    fit = _find(findings, "node-fit")[0]
    assert fit.level == "fail" and "Standard_DS2_v2" in fit.message


def test_preflight_unsupported_kubernetes_version_on_an_existing_cluster(azure, ctx, make_spec):
    fake, acr, aks = azure
    aks.add_cluster(version="1.27.3")
    f = _find(AKSDeployer().preflight(make_spec(), ctx), "kubernetes-version")[0]
    assert f.level == "warn" and "az aks upgrade -n deploy-advisor-aks -g rg -k 1.32" in f.hint
    f = _find(AKSDeployer().preflight(make_spec(kubernetes_version="1.20"), ctx), "kubernetes-version")
    assert f[0].level == "warn"  # the existing cluster's version is what counts


def test_preflight_acr_pull_missing_and_not_assignable(azure, ctx, make_spec):
    fake, acr, aks = azure
    aks.add_cluster()
    reg = acr.add_registry("rg", "myregistry")
    acr.permissions = ["*/read"]
    f = _find(AKSDeployer().preflight(make_spec(), ctx), "acr-pull")[0]
    assert f.level == "fail"
    assert (f"az role assignment create --assignee-object-id {aks.kubelet_object_id} --assignee-principal-type "
            f"ServicePrincipal --role AcrPull --scope {reg['id']}") in f.hint


def test_preflight_without_credentials_says_how_to_sign_in(make_spec, isolated_home, no_azure_sign_in):
    ctx = DeployContext(state_dir=isolated_home)
    findings = AKSDeployer().preflight(make_spec(), ctx)
    cred = _find(findings, "credentials")[0]
    assert cred.level == "fail" and "az login" in cred.hint and "AZURE_SUBSCRIPTION_ID" in cred.hint
    assert _find(findings, "node-fit")  # offline checks still run


@pytest.mark.parametrize("profile", [{}, {"inference": {"peak_rps": 2000, "average_rps": 10}}],
                         ids=["fixed-replicas", "autoscale-range"])
def test_offline_plan_exports_manifests_dockerfile_and_build_context(make_spec, isolated_home, no_azure_sign_in,
                                                                     tmp_path, profile):
    ctx = DeployContext(state_dir=isolated_home)
    deployer = AKSDeployer()
    plan = deployer.plan(make_spec(profile=profile), ctx)
    assert plan.notes and "Azure state not read" in plan.notes[-1]
    assert (plan.sizing.max > plan.sizing.min) is bool(profile), plan.sizing.notes  # both shapes are covered
    assert {a.kind for a in plan.actions} == {"create"}
    out = tmp_path / "export"
    written = {p.relative_to(out).as_posix() for p in deployer.export(plan, out)}
    # one manifest per object, numbered in apply order; an HPA only when the sizing gives a replica range
    kinds = ["namespace", "secret", "deployment", "service"]
    kinds += ["horizontalpodautoscaler"] * (plan.sizing.max > plan.sizing.min) + ["poddisruptionbudget"]
    assert {p for p in written if p.startswith("kubernetes/")} == {f"kubernetes/{i:02d}-{k}.yaml"
                                                                  for i, k in enumerate(kinds)}
    assert {"build/Dockerfile", "build/requirements.txt", "build/app/score.py", "build/app/serving.json",
            "build/app/model/MLmodel", "build/app/model/model.pkl", "build/deployers/serving/__main__.py",
            "README.md"} <= written
    assert KEY_PLACEHOLDER in (out / "kubernetes/01-secret.yaml").read_text()
    readme = (out / "README.md").read_text()
    assert f"az acr build -r myregistry -t deploy-advisor/fraud-model:{plan.settings['tag']} build/" in readme
    assert "01-secret.yaml" not in readme.split("kubectl apply", 1)[1]  # the placeholder secret is not applied
    # the exported context is exactly what would be uploaded: same content tag
    from deployers import images

    files = {p.relative_to(out / "build").as_posix(): p.read_bytes() for p in (out / "build").rglob("*") if p.is_file()}
    assert images.content_tag(files) == plan.settings["tag"]
    # applying an offline plan is refused
    with pytest.raises(Exception) as err:
        deployer.apply(plan, ctx)
    assert err.value.__class__.__name__ in ("AuthError", "StalePlanError")


def test_plan_json_round_trips_and_applies_from_another_process(azure, ctx, make_spec, tmp_path):
    plan = api.plan(make_spec(), ctx)
    path = tmp_path / "plan.json"
    path.write_text(plan.to_json())
    loaded = api.load_plan(path)
    assert api.apply(loaded, ctx).status == "succeeded"
    with pytest.raises(StalePlanError):  # the same plan again: the world it read has changed
        api.apply(loaded, ctx)
