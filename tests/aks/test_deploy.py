"""End to end through the facade: Azure fake (ARM, ACR, AKS) + the fake Kubernetes API server on 127.0.0.1,
talked to by the real azure-mgmt-* and `kubernetes` clients. Rollout, no-op re-apply, rollback, destroy."""
from __future__ import annotations

import json

import pytest

from deployers import api
from deployers.aks import AKSDeployer, AKS_AAD_SERVER_APP
from deployers.errors import QuotaError, RemoteError, StalePlanError
from tests.aks.conftest import CANARY
from tests.fakes.azure import FAKE_TOKEN

NAME = "fraud"


def _kinds(plan) -> dict[str, str]:
    return {f"{a.resource_type}:{a.resource}": a.kind for a in plan.actions}


# a load whose peak needs several nodes while the average needs the availability minimum: the advisor's
# sizing gives an autoscale range, so the workload gets a HorizontalPodAutoscaler
RANGE_PROFILE = {"inference": {"peak_rps": 2000, "average_rps": 10}}


def _expected_objects(plan) -> list[tuple[str, str]]:
    """(kind, API path) of every object the plan's replica range calls for, in apply order."""
    autoscaled = plan.settings["max_replicas"] > plan.settings["min_replicas"]
    out = [("Namespace", f"/api/v1/namespaces/{NAME}"),
           ("Secret", f"/api/v1/namespaces/{NAME}/secrets/{NAME}-scoring-key"),
           ("Deployment", f"/apis/apps/v1/namespaces/{NAME}/deployments/{NAME}"),
           ("Service", f"/api/v1/namespaces/{NAME}/services/{NAME}")]
    if autoscaled:
        out.append(("HorizontalPodAutoscaler", f"/apis/autoscaling/v2/namespaces/{NAME}/horizontalpodautoscalers/{NAME}"))
    return out + [("PodDisruptionBudget", f"/apis/policy/v1/namespaces/{NAME}/poddisruptionbudgets/{NAME}")]


def test_first_deploy_creates_cluster_registry_image_and_workload(azure, ctx, make_spec, k8s, events):
    fake, acr, aks = azure
    plan = api.plan(make_spec(), ctx)
    kinds = _kinds(plan)
    assert kinds["Microsoft.ContainerRegistry/registries:myregistry"] == "create"
    assert kinds["Microsoft.ContainerService/managedClusters:deploy-advisor-aks"] == "create"
    assert kinds["kubernetes/Deployment:fraud/fraud"] == "create"
    assert any(k.startswith("image:myregistry.azurecr.io/deploy-advisor/fraud-model:c") for k in kinds)

    result = api.apply(plan, ctx)
    assert result.status == "succeeded", result.message
    assert result.endpoint_url == f"http://127.0.0.1:{k8s.backend_port}/score"
    assert result.smoke_response == [0, 0]  # the model's two-row input example went through the load balancer
    assert k8s.scored and all(s["authorized"] for s in k8s.scored)  # with the key from the Secret

    # the cluster: Standard tier for a 99.9% SLA, autoscaler from sizing, tagged as ours
    put = fake.calls("PUT", r"/managedClusters/deploy-advisor-aks$")[0].body
    assert put["sku"]["tier"] == "Standard" and put["tags"]["managed-by"] == "deploy-advisor"
    pool = put["properties"]["agentPoolProfiles"][0]
    assert pool["enableAutoScaling"] is True and pool["minCount"] <= pool["maxCount"]
    assert pool["vmSize"] == plan.sizing.sku
    # the kubelet identity may pull from the registry
    assert fake.calls("PUT", r"/registries/myregistry/providers/Microsoft\.Authorization/roleAssignments/")
    # the workload follows the advisor's sizing: replica range, and one scoring pod per node
    assert (plan.settings["min_replicas"], plan.settings["max_replicas"]) == (plan.sizing.min, plan.sizing.max)
    assert (pool["minCount"], pool["maxCount"]) == (plan.sizing.min, plan.sizing.max)
    # every object the sizing calls for went through server-side apply as deploy-advisor (an HPA only for a range)
    patches = k8s.calls("PATCH")
    expected = _expected_objects(plan)
    assert [p["path"] for p in patches] == [path for _, path in expected]
    assert all(p["content_type"] == "application/apply-patch+yaml" for p in patches)
    assert all(p["query"]["fieldManager"] == ["deploy-advisor"] and p["query"]["force"] == ["true"] for p in patches)
    dep = k8s.get("Deployment", NAME, NAME)
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == plan.settings["image"]
    hpa = k8s.get("HorizontalPodAutoscaler", NAME, NAME)
    if plan.sizing.max > plan.sizing.min:  # the HPA owns the replica count
        assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (plan.sizing.min, plan.sizing.max)
        assert "replicas" not in dep["spec"]
    else:  # min == max: a fixed replica count, no HPA that could never scale
        assert hpa is None and dep["spec"]["replicas"] == plan.sizing.min
        assert any("no HorizontalPodAutoscaler" in n for n in plan.notes)

    # unchanged spec: the new plan is all no-op and apply changes nothing (no rebuild, no PATCH)
    again = api.plan(make_spec(), ctx)
    assert {a.kind for a in again.actions} == {"no-op"}, [a for a in again.actions if a.kind != "no-op"]
    second = api.apply(again, ctx)
    assert second.status == "no-change" and second.endpoint_url == result.endpoint_url
    assert len(k8s.calls("PATCH")) == len(expected) and len(fake.calls("POST", r"/scheduleRun$")) == 1

    st = api.status(NAME, ctx)
    assert st.state == "running" and st.endpoint_url == result.endpoint_url
    assert st.details["image"] == plan.settings["image"]
    inv = api.invoke(NAME, {"input_data": {"columns": ["a", "b"], "data": [[1, 2]]}}, ctx)
    assert inv.status_code == 200 and inv.response == [0]
    assert "model loaded" in api.logs(NAME, ctx)


def test_rollout_that_never_becomes_ready_rolls_back_to_the_previous_manifests(azure, ctx, make_spec, k8s, events):
    good = api.apply(api.plan(make_spec(), ctx), ctx)
    assert good.status == "succeeded"
    good_image = k8s.get("Deployment", NAME, NAME)["spec"]["template"]["spec"]["containers"][0]["image"]
    k8s.rollout = lambda dep: "stall" if "broken" in json.dumps(dep["spec"]) else "ready"

    bad_plan = api.plan(make_spec(image="myregistry.azurecr.io/deploy-advisor/broken:1"), ctx)
    assert _kinds(bad_plan)["kubernetes/Deployment:fraud/fraud"] == "update"
    bad = api.apply(bad_plan, ctx)
    assert bad.status == "failed"
    assert "ProgressDeadlineExceeded" in bad.message and "CrashLoopBackOff" in bad.message
    assert "rolled back to the previous version" in bad.message and bad.outputs["rolled_back"] is True
    live = k8s.get("Deployment", NAME, NAME)["spec"]["template"]["spec"]["containers"][0]["image"]
    assert live == good_image
    messages = [e.message for e in events.events]
    assert any("rolling back" in m for m in messages)
    assert any("RuntimeError: model failed to load" in m for m in messages)  # the crashed pod's log, as an event
    assert api.status(NAME, ctx).state == "running"
    # the ledger still holds the good plan: a later rollback goes back to it again
    assert api.get_deployment(NAME, ctx)["plan"]["settings"]["image"] == good_image


def test_failing_smoke_test_rolls_back_too(azure, ctx, make_spec, k8s):
    good = api.plan(make_spec(profile=RANGE_PROFILE), ctx)
    assert good.sizing.max > good.sizing.min, good.sizing.notes  # the profile asks for an autoscale range
    assert api.apply(good, ctx).status == "succeeded"
    hpa = k8s.get("HorizontalPodAutoscaler", NAME, NAME)
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (good.sizing.min, good.sizing.max)
    k8s.score_error = 500
    changed = api.plan(make_spec(profile=RANGE_PROFILE, target_cpu_percent=60), ctx)
    assert _kinds(changed)[f"kubernetes/HorizontalPodAutoscaler:{NAME}/{NAME}"] == "update"
    bad = api.apply(changed, ctx)
    assert bad.status == "failed" and "smoke test failed: HTTP 500" in bad.message
    hpa = k8s.get("HorizontalPodAutoscaler", NAME, NAME)
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70  # the previous manifest


@pytest.mark.parametrize("keep", [False, True])
def test_failed_first_rollout_removes_or_keeps_the_objects(azure, ctx, make_spec, k8s, keep):
    k8s.rollout = lambda dep: "stall"
    result = api.apply(api.plan(make_spec(keep_failed=keep), ctx), ctx)
    assert result.status == "failed" and result.outputs["rolled_back"] is False
    present = k8s.get("Deployment", NAME, NAME) is not None
    assert present is keep
    assert "keep_failed=true" in result.message
    out = api.destroy(NAME, ctx)  # a failed first deployment can still be destroyed (its plan is on the run)
    assert k8s.get("Deployment", NAME, NAME) is None and ("Deployment/fraud/fraud" in out.deleted) is keep


def test_destroy_deletes_what_it_labelled_and_the_cluster_it_created_twice_ok(azure, ctx, make_spec, k8s):
    fake, acr, aks = azure
    assert api.apply(api.plan(make_spec(), ctx), ctx).status == "succeeded"
    out = api.destroy(NAME, ctx)
    assert "Deployment/fraud/fraud" in out.deleted and "Namespace/fraud" in out.deleted
    assert "managedCluster/deploy-advisor-aks" in out.deleted and "roleAssignment/AcrPull/myregistry" in out.deleted
    assert fake.get(aks.cluster_id()) is None
    assert fake.calls("DELETE", r"/managedClusters/deploy-advisor-aks$")
    # the registry was created for this deployment and nothing else of ours uses it: deleted too
    assert "registry/myregistry" in out.deleted and not fake.ids(r"/registries/myregistry$")
    again = api.destroy(NAME, ctx)
    assert again.already_absent is True and again.deleted == []


def test_destroy_leaves_an_existing_cluster_and_foreign_objects(azure, ctx, make_spec, k8s):
    fake, acr, aks = azure
    aks.add_cluster()  # the team's own cluster, not tagged as ours
    acr.add_registry("rg", "myregistry")
    result = api.apply(api.plan(make_spec(profile={"team": {"existing_aks": True}}), ctx), ctx)
    assert result.status == "succeeded"
    assert not fake.calls("PUT", r"/managedClusters/")
    k8s.objects[("Service", NAME, "other")] = {"kind": "Service", "metadata": {"name": "other", "namespace": NAME,
                                                                              "labels": {"app": "other"}}}
    out = api.destroy(NAME, ctx)
    assert "Deployment/fraud/fraud" in out.deleted and "Service/fraud/fraud" in out.deleted
    assert not any(d.startswith(("managedCluster/", "Namespace/")) for d in out.deleted)
    assert fake.get(aks.cluster_id()) is not None  # not created by us: never deleted
    assert k8s.get("Service", "other", NAME) is not None  # not labelled as ours: untouched, namespace kept


def test_plan_is_refused_when_the_cluster_changed_since(azure, ctx, make_spec, k8s):
    assert api.apply(api.plan(make_spec(profile=RANGE_PROFILE), ctx), ctx).status == "succeeded"
    plan = api.plan(make_spec(profile=RANGE_PROFILE, target_cpu_percent=50), ctx)
    assert plan.has_changes  # a real update (the HPA's target), planned against the cluster as it was
    del k8s.objects[("Service", NAME, NAME)]  # someone deleted the Service after the plan
    with pytest.raises(StalePlanError):
        api.apply(plan, ctx)


def test_cluster_creation_failure_maps_the_arm_code(azure, ctx, make_spec):
    fake, _, _ = azure
    fake.fail_operation(r"/managedClusters/deploy-advisor-aks$", code="OutOfQuota",
                        message="Operation could not be completed as it results in exceeding approved standardDSv2Family Cores quota")
    with pytest.raises(QuotaError) as err:
        api.apply(api.plan(make_spec(), ctx), ctx)
    assert err.value.code == "OutOfQuota"


def test_throttling_and_transient_errors_are_retried(azure, ctx, make_spec):
    fake, _, _ = azure
    fake.inject("GET", r"/managedClusters/deploy-advisor-aks$", status=429, retry_after=3, times=1)
    fake.inject("POST", r"/listClusterUserCredential$", status=500, retry_after=None, times=1)
    fake.inject("PUT", r"/managedClusters/deploy-advisor-aks$", status=503, retry_after=2, times=1)
    assert api.apply(api.plan(make_spec(), ctx), ctx).status == "succeeded"
    assert 3.0 in fake.sleeps and 2.0 in fake.sleeps
    assert [r.status for r in fake.calls("PUT", r"/managedClusters/deploy-advisor-aks$")] == [503, 201]


def test_crashed_apply_resumes_the_cluster_operation_without_a_second_put(azure, ctx, make_spec):
    fake, acr, _ = azure
    acr.add_registry("rg", "myregistry")
    deployer = AKSDeployer()
    plan = deployer.plan(make_spec(), ctx)
    recorded: dict = {}
    ctx.on_checkpoint = recorded.__setitem__
    fake.timeout("GET", r"/operationStatuses/", kind="request", times=None)  # the connection dies while polling
    with pytest.raises(RemoteError):
        deployer.apply(plan, ctx)
    assert recorded["aks.cluster.deploy-advisor-aks"]["token"]
    fake.clear_faults()
    puts = len(fake.calls("PUT", r"/managedClusters/"))
    ctx.checkpoints = dict(recorded)  # what the ledger hands to the next apply of this plan
    result = deployer.apply(plan, ctx)
    assert result.status == "succeeded"
    assert len(fake.calls("PUT", r"/managedClusters/")) == puts


def test_aad_cluster_uses_our_credential_instead_of_kubelogin(azure, ctx, make_spec, k8s):
    fake, acr, aks = azure
    aks.credential_user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "kubelogin",
                                    "args": ["get-token", "--server-id", AKS_AAD_SERVER_APP]}}
    k8s.token = FAKE_TOKEN  # the API server accepts the AAD token
    assert api.apply(api.plan(make_spec(), ctx), ctx).status == "succeeded"
    assert (f"{AKS_AAD_SERVER_APP}/.default",) in ctx.credential.scopes
    assert all(r["authorized"] for r in k8s.requests)


def test_the_scoring_key_never_leaves_the_cluster(azure, ctx, make_spec, k8s, events, tmp_path, isolated_home):
    import base64

    fake, acr, aks = azure
    aks.add_cluster()
    acr.add_registry("rg", "myregistry")
    k8s.token = "KUBE-" + CANARY  # the cluster credential is a secret too
    # an earlier deployment left its key: it is reused, so clients keep working
    k8s.objects[("Namespace", "", NAME)] = {"kind": "Namespace", "metadata": {"name": NAME, "labels": {}}}
    k8s.objects[("Secret", NAME, f"{NAME}-scoring-key")] = {
        "kind": "Secret", "metadata": {"name": f"{NAME}-scoring-key", "namespace": NAME, "labels": {}},
        "data": {"key": base64.b64encode(CANARY.encode()).decode()}}
    plan = api.plan(make_spec(), ctx)
    result = api.apply(plan, ctx)
    assert result.status == "succeeded" and k8s.scored[-1]["authorized"]
    logs = api.logs(NAME, ctx)
    status = api.status(NAME, ctx)
    exported = api.export(plan, tmp_path / "out")
    texts = [plan.to_json(), result.model_dump_json(), status.model_dump_json(), logs,
             json.dumps([e.to_dict() for e in events.events], default=str)]
    texts += [p.read_bytes().decode("utf-8", "replace") for p in exported]
    texts += [p.read_bytes().decode("utf-8", "replace") for p in isolated_home.rglob("*") if p.is_file()]
    assert fake.calls("PUT", r"\.tar\.gz$")  # the build context went to the SAS upload URL
    from tests.fakes.acr import ACR_ACCESS_TOKEN, ACR_REFRESH_TOKEN

    for text in texts:
        for secret in (CANARY, "FAKESASSIG", ACR_ACCESS_TOKEN, ACR_REFRESH_TOKEN, FAKE_TOKEN):
            assert secret not in text


def test_kubeconfig_stays_in_memory_and_its_cert_files_are_removed(ctx, tmp_path, monkeypatch):
    import base64
    from pathlib import Path

    import yaml

    from deployers.aks import Kube, kubeconfig_client

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    pem = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").decode()
    config = yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://aks.example:443", "certificate-authority-data": pem}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {"client-certificate-data": pem, "client-key-data": pem, "token": "t" * 20}}]})
    client = kubeconfig_client(config.encode(), ctx)
    folder = Path(client._da_tmp.name)
    assert list(folder.iterdir()) and client.configuration.ssl_ca_cert.startswith(str(folder))
    Kube(client).close()
    assert not folder.exists()
    assert not (tmp_path / "home" / ".kube").exists()


def test_gpu_profile_on_an_existing_cluster_adds_a_tainted_gpu_pool(azure, ctx, make_spec, k8s):
    fake, acr, aks = azure
    aks.add_cluster()
    acr.add_registry("rg", "myregistry")
    spec = make_spec(profile={"inference": {"gpu": "required"}, "model": {"framework": "pytorch"},
                              "team": {"existing_aks": True}},
                     node_vm_size="Standard_NC4as_T4_v3", min_replicas=1, max_replicas=2)
    plan = api.plan(spec, ctx)
    assert _kinds(plan)["Microsoft.ContainerService/agentPools:gpu"] == "create"
    assert api.apply(plan, ctx).status == "succeeded"
    pool = fake.calls("PUT", r"/managedClusters/deploy-advisor-aks/agentPools/gpu$")[0].body["properties"]
    assert pool["vmSize"] == "Standard_NC4as_T4_v3" and pool["nodeTaints"] == ["sku=gpu:NoSchedule"]
    assert (pool["minCount"], pool["maxCount"], pool["mode"]) == (1, 2, "User")
    limits = k8s.get("Deployment", NAME, NAME)["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits["nvidia.com/gpu"] == 1
    assert {a.kind for a in api.plan(spec, ctx).actions} == {"no-op"}  # the pool is there now
