"""Rendered Kubernetes manifests: schema-valid, secure defaults, sized from the advisor, golden files.

Regenerate the golden files after an intended change with UPDATE_GOLDEN=1.
"""
from __future__ import annotations

import os
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from advisor.models import ModelInfo, Sizing
from deployers.aks import (AKSDeployer, KEY_PLACEHOLDER, HASH_ANNOTATION, allocatable, catalog_vm,
                           manifests_from_artifacts, manifests_yaml, render_manifests, validate_manifests)
from deployers.base import DeployContext
from deployers.errors import InputError
from deployers.models import DeploymentSpec

GOLDEN = Path(__file__).parent / "golden"
IMAGE = "myregistry.azurecr.io/deploy-advisor/fraud:c0123456789abcdef0123"
SUB = "00000000-0000-0000-0000-000000000000"

CASES = {
    "cpu": ({"name": "fraud", "scale": {"availability_sla": 99.9}},
            Sizing(sku="Standard_DS3_v2", instances=3, min=2, max=5, vcpus_per_instance=4, workers_per_instance=2),
            ModelInfo(uri="models:/fraud/3", name="fraud", version="3", framework="sklearn", format="mlflow",
                      size_mb=40)),
    # ten-minute requests: the Azure LB idle timeout annotation (11 min) and the server's timeout (630 s)
    "long": ({"name": "summarise", "inference": {"max_request_seconds": 600}, "scale": {"availability_sla": 99.9}},
             Sizing(sku="Standard_DS3_v2", instances=3, min=2, max=5, vcpus_per_instance=4, workers_per_instance=2),
             ModelInfo(uri="models:/summarise/1", name="summarise", version="1", framework="sklearn",
                       format="mlflow", size_mb=40)),
    "gpu": ({"name": "vision", "inference": {"gpu": "required"}, "model": {"framework": "pytorch"},
             "scale": {"availability_sla": 99.5}},
            Sizing(sku="Standard_NC4as_T4_v3", instances=1, min=1, max=2, vcpus_per_instance=4,
                   workers_per_instance=1),
            ModelInfo(uri="models:/vision/7", name="vision", version="7", framework="pytorch", format="mlflow",
                      size_mb=900)),
}


def _cfg(case: str, **settings):
    profile, sizing, info = CASES[case]
    spec = DeploymentSpec(name=f"{case}-scoring", target="aks", model=info.uri, profile=profile, settings=settings)
    ctx = DeployContext(subscription_id=SUB, resource_group="rg")
    cfg = AKSDeployer().config(spec, ctx, info, sizing)
    return cfg, info


def _render(case: str, **settings) -> list[dict]:
    cfg, info = _cfg(case, **settings)
    return render_manifests(cfg, IMAGE, model_uri=info.uri, model_name=info.name, version=info.version)


def _by_kind(objs: list[dict]) -> dict[str, dict]:
    return {o["kind"]: o for o in objs}


@pytest.mark.parametrize("case", sorted(CASES))
def test_manifests_validate_against_the_kubernetes_schemas(case):
    objs = _render(case)
    assert [o["kind"] for o in objs] == ["Namespace", "Secret", "Deployment", "Service", "HorizontalPodAutoscaler",
                                         "PodDisruptionBudget"]
    for obj in objs:
        kubernetes_validate.validate(obj, "1.31", strict=True)  # raises on any schema error
    validate_manifests(objs, "1.31.2")


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_files(case):
    files = manifests_yaml(_render(case))
    folder = GOLDEN / case
    if os.environ.get("UPDATE_GOLDEN"):
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.yaml"):
            old.unlink()
        for rel, text in files.items():
            (folder / Path(rel).name).write_text(text)
    expected = {f"kubernetes/{p.name}": p.read_text() for p in sorted(folder.glob("*.yaml"))}
    assert expected, f"no golden files in {folder}: run with UPDATE_GOLDEN=1"
    assert files == expected


def test_deployment_runs_non_root_read_only_with_probes_and_sized_requests():
    objs = _by_kind(_render("cpu"))
    dep = objs["Deployment"]
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["automountServiceAccountToken"] is False
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}} in pod["volumes"]
    # startup waits for the model (not just the port); liveness restarts a stuck scoring thread
    assert c["startupProbe"]["httpGet"]["path"] == "/ready" and c["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert c["livenessProbe"]["httpGet"]["path"] == "/live"
    # preStop waits for endpoints to drop the pod; the grace period covers it plus the longest scoring call
    assert c["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "10"]
    assert pod["terminationGracePeriodSeconds"] >= 10 + 60
    assert c["image"] == IMAGE
    assert {"name": "DEPLOY_ADVISOR_WORKERS", "value": "2"} in c["env"]
    # 2 workers -> 2 cores requested; memory limit == request; a DS3_v2 node (4 vCPU) is the CPU limit
    assert c["resources"]["requests"]["cpu"] == "2000m" and c["resources"]["limits"]["cpu"] == "4000m"
    assert c["resources"]["requests"]["memory"] == c["resources"]["limits"]["memory"]
    assert "nvidia.com/gpu" not in c["resources"]["limits"] and "tolerations" not in pod
    # autoscaling from sizing: the HPA owns replicas, so the Deployment leaves them out
    assert "replicas" not in dep["spec"]
    hpa = objs["HorizontalPodAutoscaler"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 5)
    assert objs["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1
    for obj in objs.values():
        labels = obj["metadata"]["labels"]
        assert labels["managed-by"] == "deploy-advisor" and labels["app.kubernetes.io/managed-by"] == "deploy-advisor"
        assert labels["deploy-advisor-deployment"] == "cpu-scoring"
        assert obj["metadata"]["annotations"][HASH_ANNOTATION]
    assert dep["metadata"]["labels"]["app.kubernetes.io/instance"] == "cpu-scoring"


def test_gpu_profile_gets_gpu_limits_toleration_and_a_gpu_pool():
    cfg, _ = _cfg("gpu")
    assert cfg.gpus == 1 and cfg.node_vm_size == "Standard_NC4as_T4_v3" and cfg.tier == "Free"
    pod = _by_kind(_render("gpu"))["Deployment"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"} in pod["tolerations"]
    # 900 MB model loads slowly: the startup probe allows longer than the default
    assert pod["containers"][0]["startupProbe"]["failureThreshold"] > 12


def test_secret_artifact_holds_a_placeholder_never_a_key():
    secret = _by_kind(_render("cpu"))["Secret"]
    assert secret["stringData"] == {"key": KEY_PLACEHOLDER}
    files = manifests_yaml(_render("cpu"))
    assert KEY_PLACEHOLDER in files["kubernetes/01-secret.yaml"]
    assert [o["kind"] for o in manifests_from_artifacts(files)][:2] == ["Namespace", "Secret"]


def test_fixed_replicas_drop_the_autoscaler():
    objs = _by_kind(_render("cpu", replicas=3))
    assert "HorizontalPodAutoscaler" not in objs
    assert objs["Deployment"]["spec"]["replicas"] == 3


def test_node_fit_uses_aks_reservations():
    vm = catalog_vm("Standard_DS3_v2")
    cpu_m, mem_mi = allocatable(vm)
    assert (vm.vcpus, vm.memory_gb) == (4, 14)
    assert cpu_m == 4000 - 140  # 140m kube-reserved on 4 cores
    assert mem_mi < 14 * 1024 * 0.75 and mem_mi > 9000


def test_invalid_values_are_refused_before_any_apply():
    objs = _render("cpu")
    bad = yaml.safe_load(yaml.safe_dump(objs[2]))
    bad["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = {"not": "a quantity"}
    with pytest.raises(InputError, match="not valid for Kubernetes"):
        validate_manifests([bad])
    bad = yaml.safe_load(yaml.safe_dump(objs[3]))
    bad["spec"]["portz"] = []  # unknown field: strict validation
    with pytest.raises(InputError):
        validate_manifests([bad])


@pytest.mark.parametrize("settings", [{"namespace": "Bad_NS"}, {"cluster_name": "-x"}, {"registry": "no-dash"},
                                      {"memory_request": "2GB"}, {"image": "x" * 500}, {"unknown": 1}])
def test_settings_reject_unsafe_names(settings):
    spec = DeploymentSpec(name="fraud", target="aks", model="m", settings=settings)
    with pytest.raises(ValueError):
        AKSDeployer().settings_for(spec)


def test_user_image_is_validated_before_it_reaches_a_manifest():
    cfg, info = _cfg("cpu")
    with pytest.raises(InputError, match="invalid image"):
        render_manifests(cfg, "evil\nimage: x", model_uri=info.uri, model_name=info.name, version=info.version)


def test_every_setting_has_a_description():
    for name, f in AKSDeployer.Settings.model_fields.items():
        assert f.description, name
