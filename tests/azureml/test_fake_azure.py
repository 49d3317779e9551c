"""The core Azure fake behaves the way each real SDK expects (the AKS and App Service tests build on it)."""
from __future__ import annotations

import threading

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.resource.resources import ResourceManagementClient

from tests.fakes.azure import SUBSCRIPTION, FakeAzure, FakeCredential, client_kwargs

RG = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg"


def test_aks_style_create_polls_azure_async_operation_then_gets_the_resource():
    from azure.mgmt.containerservice import ContainerServiceClient

    fake = FakeAzure(polls=2)
    client = ContainerServiceClient(FakeCredential(), SUBSCRIPTION, **client_kwargs(fake))
    body = {"location": "eastus", "dns_prefix": "c1", "agent_pool_profiles": [
        {"name": "system", "count": 1, "vm_size": "Standard_D4s_v3", "mode": "System"}]}
    cluster = client.managed_clusters.begin_create_or_update("rg", "c1", body).result()
    assert cluster.provisioning_state == "Succeeded" and cluster.name == "c1"
    seq = [(r.method, r.path.rsplit("/", 2)[-2], r.status) for r in fake.requests]
    assert seq == [("PUT", "managedClusters", 201), ("GET", "operationStatuses", 200),
                   ("GET", "operationStatuses", 200), ("GET", "managedClusters", 200)]
    client.managed_clusters.begin_delete("rg", "c1").result()
    with pytest.raises(ResourceNotFoundError):
        client.managed_clusters.get("rg", "c1")


def test_app_service_style_location_lro_and_synchronous_delete():
    from azure.mgmt.web import WebSiteManagementClient

    fake = FakeAzure(polls=2)
    fake.behaviour(r"/Microsoft\.Web/serverfarms/[^/]+$", create_status=202, lro="location", delete_status=200,
                   delete_lro=None)
    web = WebSiteManagementClient(FakeCredential(), SUBSCRIPTION, **client_kwargs(fake))
    plan = web.app_service_plans.begin_create_or_update(
        "rg", "plan1", {"location": "eastus", "kind": "linux", "reserved": True, "sku": {"name": "P1v3"}}).result()
    assert plan.name == "plan1" and plan.sku.name == "P1v3"
    assert [r.status for r in fake.calls("GET", "/operationResults/")] == [202, 200]
    web.app_service_plans.delete("rg", "plan1")
    assert fake.calls("DELETE")[-1].status == 200 and not fake.ids("serverfarms")


def test_list_by_parent_and_missing_resources():
    fake = FakeAzure()
    for name in ("a", "b"):
        fake.put(f"{RG}/providers/Microsoft.Web/sites/{name}", {"location": "eastus"})
    fake.put(f"{RG}/providers/Microsoft.Web/sites/a/slots/staging", {"location": "eastus"})
    client = ResourceManagementClient(FakeCredential(), SUBSCRIPTION, **client_kwargs(fake))
    assert fake.children(f"{RG}/providers/Microsoft.Web/sites") and len(fake.children(
        f"{RG}/providers/Microsoft.Web/sites")) == 2
    with pytest.raises(ResourceNotFoundError):
        client.resource_groups.get("nope")
    fake.delete(f"{RG}/providers/Microsoft.Web/sites/a")
    assert fake.ids("sites/") == [f"{RG}/providers/Microsoft.Web/sites/b".lower()]


def test_faults_are_one_shot_rate_based_and_recorded():
    fake = FakeAzure()
    client = ResourceManagementClient(FakeCredential(), SUBSCRIPTION, **client_kwargs(fake))
    once = fake.inject("PUT", r"/resourcegroups/g1$", 503, retry_after=2)
    client.resource_groups.create_or_update("g1", {"location": "eastus"})
    assert once.hits == 1 and fake.sleeps == [2.0]
    assert [r.fault for r in fake.calls("PUT")] == ["inject:503", ""]
    fake.inject("GET", r"/resourcegroups/g1$", 500, retry_after=None, times=None)
    with pytest.raises(HttpResponseError) as ei:
        ResourceManagementClient(FakeCredential(), SUBSCRIPTION,
                                 **client_kwargs(fake, retry_total=2)).resource_groups.get("g1")
    assert ei.value.status_code == 500 and len(fake.calls("GET")) == 3


def test_a_lost_reply_still_changes_state_and_a_refused_request_does_not():
    fake = FakeAzure()
    client = ResourceManagementClient(FakeCredential(), SUBSCRIPTION, **client_kwargs(fake))
    fake.timeout("PUT", r"/resourcegroups/g2$", kind="response")
    client.resource_groups.create_or_update("g2", {"location": "eastus"})  # retried: idempotent PUT
    assert [r.fault for r in fake.calls("PUT")] == ["timeout:response", ""]
    assert fake.get(f"/subscriptions/{SUBSCRIPTION}/resourcegroups/g2") is not None


def test_data_plane_routes_and_auth_is_hidden_from_recordings():
    from azure.core import PipelineClient
    from azure.core.rest import HttpRequest

    fake = FakeAzure()

    @fake.data_plane(r"^myapp\.azurewebsites\.net$", method="GET", path="^/health$")
    def health(f, req, m):
        return f.json(200, {"ok": True, "saw_key": req.auth == "k-123"})

    pc = PipelineClient("https://myapp.azurewebsites.net", transport=fake)
    resp = pc.send_request(HttpRequest("GET", "https://myapp.azurewebsites.net/health",
                                       headers={"Authorization": "Bearer k-123"}))
    assert resp.json() == {"ok": True, "saw_key": True}
    assert "Authorization" not in fake.requests[-1].headers and "k-123" not in repr(fake.requests[-1])
    other = pc.send_request(HttpRequest("GET", "https://myapp.azurewebsites.net/else"))
    assert other.status_code == 404


def test_parallel_clients_share_one_fake_safely():
    fake = FakeAzure(polls=1)

    def work(i: int) -> None:
        client = ResourceManagementClient(FakeCredential(), SUBSCRIPTION, **client_kwargs(fake))
        client.resource_groups.create_or_update(f"par{i}", {"location": "eastus"})
        client.resource_groups.begin_delete(f"par{i}").result()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not fake.ids("/resourcegroups/par")
    assert len(fake.calls("PUT")) == 8 and len(fake.calls("DELETE")) == 8
