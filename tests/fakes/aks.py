"""AKS and Compute for FakeAzure: managed clusters, agent pools, user credentials, versions, VM sizes, quota.

`aks = install(fake, kube=FakeKubernetes(...))` adds:
- managedClusters: PUT 201 + Azure-AsyncOperation (what the SDK accepts), DELETE 202; the stored
  cluster gets fqdn, kubernetesVersion, a kubelet identity and powerState; agentPools PUT the same way
  and appear in the cluster's agentPoolProfiles;
- POST listClusterUserCredential: a kubeconfig pointing at the fake Kubernetes API server;
- GET locations/{loc}/kubernetesVersions, Microsoft.Compute/skus (`aks.skus`) and usages (`aks.usages`).
`aks.add_cluster(...)` seeds an existing cluster.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Optional

from .azure import SUBSCRIPTION, FakeAzure, RecordedRequest

MC = (r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.ContainerService/"
      r"managedClusters/(?P<cluster>[^/]+)")
KUBELET_OBJECT_ID = "11111111-2222-3333-4444-555555555555"

# VM facts as Azure's resource SKU list reports them (vCPUs / MemoryGB / GPUs capabilities)
DEFAULT_SKUS = {
    "Standard_DS2_v2": ("standardDSv2Family", 2, 7, 0),
    "Standard_DS3_v2": ("standardDSv2Family", 4, 14, 0),
    "Standard_D4s_v3": ("standardDSv3Family", 4, 16, 0),
    "Standard_F4s_v2": ("standardFSv2Family", 4, 8, 0),
    "Standard_F8s_v2": ("standardFSv2Family", 8, 16, 0),
    "Standard_NC4as_T4_v3": ("standardNCASv3_T4Family", 4, 28, 1),
    "Standard_NC8as_T4_v3": ("standardNCASv3_T4Family", 8, 56, 1),
}


def sku_doc(name: str, family: str, vcpus: int, mem: float, gpus: int, location: str = "eastus",
            restricted: bool = False) -> dict:
    return {"resourceType": "virtualMachines", "name": name, "tier": "Standard", "size": name.split("_", 1)[1],
            "family": family, "locations": [location],
            "locationInfo": [{"location": location, "zones": ["1", "2", "3"]}],
            "capabilities": [{"name": "vCPUs", "value": str(vcpus)}, {"name": "MemoryGB", "value": str(mem)},
                             {"name": "GPUs", "value": str(gpus)}],
            "restrictions": [{"type": "Location", "values": [location], "reasonCode": "NotAvailableForSubscription",
                              "restrictionInfo": {"locations": [location]}}] if restricted else []}


@dataclass
class FakeAKS:
    fake: FakeAzure
    kube: Any = None
    versions: list[str] = field(default_factory=lambda: ["1.30.6", "1.31.2", "1.32.0"])
    default_version: str = "1.31.2"
    skus: list[dict] = field(default_factory=lambda: [sku_doc(n, *v) for n, v in DEFAULT_SKUS.items()])
    usages: dict[str, tuple[int, int]] = field(default_factory=lambda: {
        "cores": (10, 100), "standardDSv2Family": (0, 50), "standardDSv3Family": (0, 50),
        "standardFSv2Family": (0, 50), "standardNCASv3_T4Family": (0, 0)})
    kubelet_object_id: str = KUBELET_OBJECT_ID
    credential_user: Optional[dict] = None  # e.g. an exec/kubelogin user for AAD clusters

    def cluster_id(self, resource_group: str = "rg", name: str = "deploy-advisor-aks") -> str:
        return (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{resource_group}/providers/"
                f"Microsoft.ContainerService/managedClusters/{name}")

    def add_cluster(self, resource_group: str = "rg", name: str = "deploy-advisor-aks", *, location: str = "eastus",
                    version: str = "1.31.2", vm_size: str = "Standard_DS3_v2", pools: Optional[list[dict]] = None,
                    tags: Optional[dict] = None) -> dict:
        body = {"location": location, "tags": tags or {}, "sku": {"name": "Base", "tier": "Free"},
                "identity": {"type": "SystemAssigned"},
                "properties": {"kubernetesVersion": version, "dnsPrefix": name,
                               "agentPoolProfiles": pools or [{"name": "system", "mode": "System", "vmSize": vm_size,
                                                               "count": 2, "osType": "Linux"}]}}
        _cluster_defaults(self, body)
        return self.fake.put(self.cluster_id(resource_group, name), body)


def _cluster_defaults(aks: FakeAKS, body: dict) -> None:
    props = body.setdefault("properties", {})
    props.setdefault("kubernetesVersion", aks.default_version)
    props["currentKubernetesVersion"] = props["kubernetesVersion"]
    props.setdefault("fqdn", f"{props.get('dnsPrefix', 'aks')}-fake.hcp.eastus.azmk8s.io")
    props.setdefault("nodeResourceGroup", f"MC_rg_{body.get('name', 'aks')}")
    props["powerState"] = {"code": "Running"}
    props.setdefault("identityProfile", {"kubeletidentity": {
        "objectId": aks.kubelet_object_id, "clientId": "99999999-0000-0000-0000-000000000000",
        "resourceId": "/subscriptions/x/resourceGroups/MC_rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/agentpool"}})


def install(fake: FakeAzure, kube: Any = None) -> FakeAKS:
    aks = FakeAKS(fake=fake, kube=kube)

    def mc_transform(fake: FakeAzure, req: RecordedRequest, body: dict, existing: Optional[dict]) -> None:
        _cluster_defaults(aks, body)

    fake.behaviour(MC + "$", create_status=201, update_status=200, lro="async", delete_status=202, delete_lro="both",
                   transform=mc_transform)

    def pool_transform(fake: FakeAzure, req: RecordedRequest, body: dict, existing: Optional[dict]) -> None:
        cluster_id = req.path.split("/agentPools/")[0]
        cluster = fake.resources.get(cluster_id.lower())
        if cluster is not None:
            profiles = cluster["properties"].setdefault("agentPoolProfiles", [])
            profiles[:] = [p for p in profiles if p.get("name") != body["name"]]
            profiles.append({"name": body["name"], **{k: v for k, v in body.get("properties", {}).items()
                                                      if k != "provisioningState"}})

    fake.behaviour(MC + "/agentPools/[^/]+$", create_status=201, update_status=200, lro="async", transform=pool_transform)

    @fake.route("POST", MC + "/listClusterUserCredential$")
    def user_credentials(fake: FakeAzure, req: RecordedRequest, m: Any):
        if fake.get(m.group(0).rsplit("/listClusterUserCredential", 1)[0]) is None:
            return fake.error(404, "ResourceNotFound", f"managed cluster {m.group('cluster')} not found")
        if aks.kube is None:
            return fake.error(500, "InternalServerError", "fake: no Kubernetes API server attached")
        config = aks.kube.kubeconfig(aks.credential_user)
        return fake.json(200, {"kubeconfigs": [{"name": "clusterUser",
                                                "value": base64.b64encode(config.encode()).decode()}]})

    @fake.route("GET", r"/subscriptions/[^/]+/providers/Microsoft\.ContainerService/locations/(?P<loc>[^/]+)/kubernetesVersions$")
    def versions(fake: FakeAzure, req: RecordedRequest, m: Any):
        values = []
        for v in aks.versions:
            minor = ".".join(v.split(".")[:2])
            values.append({"version": minor, "isDefault": v == aks.default_version, "isPreview": False,
                           "capabilities": {"supportPlan": ["KubernetesOfficial"]},
                           "patchVersions": {v: {"upgrades": []}}})
        return fake.json(200, {"values": values})

    @fake.route("GET", r"/subscriptions/[^/]+/providers/Microsoft\.Compute/skus$")
    def skus(fake: FakeAzure, req: RecordedRequest, m: Any):
        filt = req.query.get("$filter", "")
        loc = filt.split("'")[1] if "'" in filt else None
        return fake.json(200, {"value": [s for s in aks.skus if loc is None or loc in s["locations"]]})

    @fake.route("GET", r"/subscriptions/[^/]+/providers/Microsoft\.Compute/locations/(?P<loc>[^/]+)/usages$")
    def usages(fake: FakeAzure, req: RecordedRequest, m: Any):
        return fake.json(200, {"value": [{"unit": "Count", "currentValue": cur, "limit": lim,
                                          "name": {"value": name, "localizedValue": name}}
                                         for name, (cur, lim) in aks.usages.items()]})

    return aks
