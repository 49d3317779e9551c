"""Azure ML provider for FakeAzure: workspace, online endpoints/deployments, keys, logs,
usages / VM sizes, models, and the scoring host `<ep>.<region>.inference.ml.azure.com`.
The workspace's default datastore `workspaceblobstore` (GET, listSecrets) points at an
account of `aml.storage`, a tests/fakes/blob_storage.py FakeBlobStorage: serve it through
tests/fakes/tls_proxy.py to test uploads (model / code folders) end to end.

It enforces the service rules our deployer must respect, so a wrong request fails here
as it would in Azure: traffic may only name existing deployments and must sum to 0 or
100, mirror traffic is <= 50% and never to a deployment that takes live traffic, a
deployment with live traffic cannot be deleted, a deployment needs its endpoint and a
registered model, and deployment bodies get `scaleSettings` (azure-ai-ml needs it).
"""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .azure import FAKE_TOKEN, SUBSCRIPTION, FakeAzure, RecordedRequest
from .blob_storage import FakeBlobStorage

PROVIDER = "Microsoft.MachineLearningServices"
WS_RE = r"/workspaces/(?P<ws>[^/]+)"
EP_RE = WS_RE + r"/onlineEndpoints/(?P<ep>[^/]+)"
DEP_RE = EP_RE + r"/deployments/(?P<dep>[^/]+)"
DATASTORE = "workspaceblobstore"

# VM sizes offered by the fake region (family, vCPUs, memory GB); a subset of the managed-endpoint SKU list.
VM_SIZES = [
    ("Standard_DS1_v2", "standardDSv2Family", 1, 3.5), ("Standard_DS2_v2", "standardDSv2Family", 2, 7),
    ("Standard_DS3_v2", "standardDSv2Family", 4, 14), ("Standard_DS4_v2", "standardDSv2Family", 8, 28),
    ("Standard_DS5_v2", "standardDSv2Family", 16, 56),
    ("Standard_F2s_v2", "standardFSv2Family", 2, 4), ("Standard_F4s_v2", "standardFSv2Family", 4, 8),
    ("Standard_F8s_v2", "standardFSv2Family", 8, 16), ("Standard_F16s_v2", "standardFSv2Family", 16, 32),
    ("Standard_E4s_v3", "standardESv3Family", 4, 32), ("Standard_E8s_v3", "standardESv3Family", 8, 64),
    ("Standard_NC4as_T4_v3", "standardNCASv3_T4Family", 4, 28),
]


@dataclass
class AzureMLFake:
    """Handle on the installed provider: seed models, set quota, shape scoring answers."""
    fake: FakeAzure
    subscription: str
    resource_group: str
    workspace: str
    location: str
    primary_key: str = field(default_factory=lambda: "pk-" + uuid.uuid4().hex)
    secondary_key: str = field(default_factory=lambda: "sk-" + uuid.uuid4().hex)
    aml_token: str = field(default_factory=lambda: "amltok-" + uuid.uuid4().hex)
    usage: dict[str, tuple[int, int]] = field(default_factory=dict)  # family -> (current, limit)
    total_cores: tuple[int, int] = (0, 300)  # (current, limit) before what our deployments hold
    family_limit: int = 100  # default per-family limit; set_quota() overrides one family
    scorer: Optional[Callable[[str, Any], tuple[int, Any]]] = None  # (deployment, payload) -> (status, body)
    broken: set[str] = field(default_factory=set)  # deployments whose container answers 502
    logs: dict[str, str] = field(default_factory=dict)
    scored: list[tuple[str, Any]] = field(default_factory=list)  # (deployment, payload) per scoring call
    storage: FakeBlobStorage = field(default_factory=FakeBlobStorage)  # the workspace's storage account
    datastore_auth: str = "key"  # what listSecrets hands out: "key" (an AccountKey) | "sas" (a SAS token)
    secrets_listed: int = 0  # listSecrets calls answered

    @property
    def storage_account(self) -> str:
        return re.sub(r"[^a-z0-9]", "", self.workspace.lower())[:16] + "store"

    @property
    def blob_container(self) -> str:
        return f"azureml-blobstore-{uuid.uuid5(uuid.NAMESPACE_URL, self.workspace)}"

    @property
    def datastore_id(self) -> str:
        return f"{self.ws_id}/datastores/{DATASTORE}"

    def blobs_at(self, uri: str) -> dict[str, bytes]:
        """Blob name -> bytes under an asset URI: azureml://...datastores/workspaceblobstore/paths/P or
        https://{account}.blob.core.windows.net/{container}/P (a pending-upload container)."""
        marker = f"/datastores/{DATASTORE}/paths/"
        if marker in uri:
            return self.uploaded(uri.split(marker, 1)[1].rstrip("/") + "/")
        m = re.match(r"https://([^./]+)\.blob\.core\.windows\.net/([^/?]+)/?([^?]*)", uri)
        if not m or m[1] not in self.storage.accounts or m[2] not in self.storage.accounts[m[1]].containers:
            return {}
        prefix = m[3].rstrip("/") + "/" if m[3] else ""
        return {k: v.data for k, v in self.storage.blobs(m[1], m[2], prefix).items()}

    def uploaded(self, prefix: str = "") -> dict[str, bytes]:
        """Blob name -> bytes of what was uploaded to the workspace's default container."""
        return {k: v.data for k, v in self.storage.blobs(self.storage_account, self.blob_container, prefix).items()}

    @property
    def ws_id(self) -> str:
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/{PROVIDER}"
                f"/workspaces/{self.workspace}")

    def endpoint_id(self, ep: str) -> str:
        return f"{self.ws_id}/onlineEndpoints/{ep}"

    def deployment_id(self, ep: str, dep: str) -> str:
        return f"{self.endpoint_id(ep)}/deployments/{dep}"

    def endpoint(self, ep: str) -> Optional[dict]:
        return self.fake.get(self.endpoint_id(ep))

    def deployment(self, ep: str, dep: str) -> Optional[dict]:
        return self.fake.get(self.deployment_id(ep, dep))

    def deployments(self, ep: str) -> list[dict]:
        return self.fake.children(self.endpoint_id(ep) + "/deployments")

    def traffic(self, ep: str) -> dict[str, int]:
        body = self.endpoint(ep) or {}
        return {k: int(v) for k, v in ((body.get("properties") or {}).get("traffic") or {}).items()}

    def register_model(self, name: str, version: str = "1", *, model_type: str = "mlflow_model",
                       flavors: Optional[dict] = None) -> str:
        """Seed a registered model version (as `az ml model create` would leave it)."""
        cid = f"{self.ws_id}/models/{name}"
        self.fake.put(cid, {"properties": {"latestVersion": version}})
        vid = f"{cid}/versions/{version}"
        props: dict[str, Any] = {"modelType": model_type, "modelUri": f"azureml://{name}/{version}",
                                 "description": "", "tags": {}, "properties": {}}
        if model_type == "mlflow_model":
            props["flavors"] = flavors or {"python_function": {"data": {"loader_module": "mlflow.sklearn"}},
                                           "sklearn": {"sklearn_version": "1.5.0"}}
        self.fake.put(vid, {"properties": props})
        return vid

    def register_model_files(self, name: str, version: str, folder: Any, *, prefix: str = "") -> str:
        """Upload every file of `folder` to the workspace's default datastore (as `az ml model create
        --path` leaves them) and register the version pointing at them. The type is mlflow_model when
        the folder has an MLmodel file (its flavors copied as the service does), else custom_model.
        Returns the blob prefix (the datastore path), e.g. to delete the blobs afterwards."""
        from pathlib import Path

        root = Path(folder)
        prefix = prefix or f"LocalUpload/{uuid.uuid4().hex}/{root.name}"
        _put_folder(self.storage, self.storage_account, self.blob_container, prefix, root)
        props: dict[str, Any] = {"modelType": "custom_model", "flavors": {}, "description": "", "tags": {},
                                 "properties": {},
                                 "modelUri": f"azureml://subscriptions/{self.subscription}/resourcegroups/"
                                             f"{self.resource_group}/workspaces/{self.workspace}/datastores/"
                                             f"{DATASTORE}/paths/{prefix}/", "isArchived": False}
        if (root / "MLmodel").is_file():
            props["modelType"] = "mlflow_model"
            props["flavors"] = _flavors((root / "MLmodel").read_bytes())
        cid = f"{self.ws_id}/models/{name}"
        self.fake.put(cid, {"properties": {"latestVersion": version, "description": "", "tags": {},
                                           "properties": {}}})
        self.fake.put(f"{cid}/versions/{version}", {"properties": props})
        return prefix

    def set_quota(self, family: str, current: int, limit: int) -> None:
        self.usage[family] = (current, limit)

    def seed_endpoint(self, ep: str, *, tags: Optional[dict] = None, traffic: Optional[dict] = None,
                      auth_mode: str = "Key") -> dict:
        """An endpoint that already exists (e.g. someone else's, for ownership tests)."""
        body = {"location": self.location, "tags": tags or {}, "identity": {"type": "SystemAssigned"},
                "properties": {"authMode": auth_mode, "traffic": traffic or {}}}
        _endpoint_fields(self, body, ep)
        return self.fake.put(self.endpoint_id(ep), body)

    def seed_deployment(self, ep: str, dep: str, *, tags: Optional[dict] = None, instance_type: str = "Standard_DS3_v2",
                        count: int = 1, state: str = "Succeeded") -> dict:
        """A deployment made outside our tool (by hand, by another pipeline)."""
        body = {"location": self.location, "tags": tags or {}, "sku": {"name": "Default", "capacity": count},
                "properties": {"instanceType": instance_type, "provisioningState": state}}
        _deployment_fields(body)
        return self.fake.put(self.deployment_id(ep, dep), body)


def _deployment_fields(body: dict) -> None:
    props = body.setdefault("properties", {})
    props.setdefault("scaleSettings", {"scaleType": "Default"})  # azure-ai-ml fails without it
    props.setdefault("endpointComputeType", "Managed")
    props.setdefault("properties", {})
    body.setdefault("sku", {"name": "Default", "capacity": 1})
    body.setdefault("kind", "Managed")


def _endpoint_fields(aml: AzureMLFake, body: dict, ep: str) -> None:
    props = body.setdefault("properties", {})
    props["scoringUri"] = f"https://{ep}.{aml.location}.inference.ml.azure.com/score"
    props["swaggerUri"] = f"https://{ep}.{aml.location}.inference.ml.azure.com/swagger.json"
    props.setdefault("authMode", "Key")
    props.setdefault("traffic", {})
    props.setdefault("publicNetworkAccess", "Enabled")
    props.setdefault("properties", {})  # azure-ai-ml merges it into its own dict: it must not be null
    props["properties"].setdefault("azureml.onlineendpointid", f"{aml.endpoint_id(ep)}")
    body.setdefault("kind", "Managed")
    body.setdefault("location", aml.location)
    ident = body.setdefault("identity", {"type": "SystemAssigned"})
    ident.setdefault("principalId", str(uuid.uuid5(uuid.NAMESPACE_URL, ep)))
    ident.setdefault("tenantId", "11111111-1111-1111-1111-111111111111")


def install(fake: FakeAzure, *, workspace: str = "mlw-test", resource_group: str = "rg", location: str = "eastus",
            subscription: str = SUBSCRIPTION) -> AzureMLFake:
    """Seed a workspace and register the Azure ML routes on `fake`."""
    aml = AzureMLFake(fake, subscription, resource_group, workspace, location)
    _install_datastore(fake, aml)
    fake.put(aml.ws_id, {
        "location": location, "identity": {"type": "SystemAssigned"}, "sku": {"name": "Basic", "tier": "Basic"},
        "kind": "Default",
        "properties": {"friendlyName": workspace, "workspaceId": str(uuid.uuid5(uuid.NAMESPACE_URL, workspace)),
                       "discoveryUrl": f"https://{location}.api.azureml.ms/discovery",
                       "mlFlowTrackingUri": f"azureml://{location}.api.azureml.ms/mlflow/v1.0{aml.ws_id}",
                       "publicNetworkAccess": "Enabled", "hbiWorkspace": False},
    })

    def bad(msg: str):
        return fake.error(400, "BadArgument", msg)

    def endpoint_transform(_f: FakeAzure, req: RecordedRequest, body: dict, existing: Optional[dict]) -> None:
        ep = body["name"]
        if existing:  # server keeps what the client may not send back
            for k in ("identity",):
                body.setdefault(k, existing.get(k))
        _endpoint_fields(aml, body, ep)

    def deployment_transform(_f: FakeAzure, req: RecordedRequest, body: dict, existing: Optional[dict]) -> None:
        _deployment_fields(body)

    fake.behaviour(EP_RE + r"$", transform=endpoint_transform)
    # Azure Monitor autoscale settings are synchronous: 200/201 on PUT, 200/204 on DELETE
    fake.behaviour(r"/providers/microsoft\.insights/autoscalesettings/[^/]+$", create_status=201, update_status=200,
                   lro=None, delete_status=200, delete_lro=None)
    fake.behaviour(DEP_RE + r"$", transform=deployment_transform)

    @fake.route("PUT", EP_RE + r"$")
    def put_endpoint(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        body = req.body if isinstance(req.body, dict) else {}
        props = body.get("properties") or {}
        if not re.fullmatch(r"[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]", m["ep"]) or "--" in m["ep"]:
            return bad(f"Endpoint name {m['ep']!r} is invalid: 3-32 characters, letters, digits and dashes")
        if props.get("authMode", "Key").lower() not in ("key", "amltoken", "aadtoken"):
            return bad(f"authMode {props.get('authMode')!r} is not supported")
        existing = {d["name"]: d for d in f.children(f"{aml.endpoint_id(m['ep'])}/deployments")}
        traffic = {k: int(v) for k, v in (props.get("traffic") or {}).items()}
        mirror = {k: int(v) for k, v in (props.get("mirrorTraffic") or {}).items()}
        for name in list(traffic) + list(mirror):
            if name.lower() not in {n.lower() for n in existing}:
                return bad(f"Traffic is specified for deployment '{name}' which does not exist")
        if traffic and sum(traffic.values()) not in (0, 100):
            return bad(f"Traffic values must sum to 100 (got {sum(traffic.values())})")
        for name, pct in mirror.items():
            if pct > 50:
                return bad("Mirror traffic cannot exceed 50 percent")
            if traffic.get(name, 0) > 0:
                return bad(f"Cannot mirror traffic to deployment '{name}' which already receives live traffic")
        if len(mirror) > 1:
            return bad("Mirror traffic can target only one deployment")
        return None  # generic ARM store does the rest

    @fake.route("PUT", DEP_RE + r"$")
    def put_deployment(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        if f.get(aml.endpoint_id(m["ep"])) is None:
            return f.error(404, "ResourceNotFound", f"Online endpoint {m['ep']} not found")
        body = req.body if isinstance(req.body, dict) else {}
        props = body.get("properties") or {}
        model = props.get("model")
        if model and model.startswith("/subscriptions/") and f.get(model) is None:
            return f.error(404, "UserError", f"Model {model.rsplit('/models/', 1)[-1]} was not found in the workspace")
        if not re.fullmatch(r"[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]", m["dep"]):
            return bad(f"Deployment name {m['dep']!r} is invalid")
        sizes = {s[0].lower() for s in VM_SIZES}
        if props.get("instanceType") and props["instanceType"].lower() not in sizes:
            return bad(f"Instance type {props['instanceType']} is not supported for managed online endpoints")
        return None

    @fake.route("DELETE", DEP_RE + r"$")
    def delete_deployment(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        if aml.traffic(m["ep"]).get(m["dep"], 0) > 0:
            return bad(f"Deployment '{m['dep']}' has live traffic; set its traffic to 0 before deleting it")
        return None

    @fake.route("POST", EP_RE + r"/listKeys$")
    def list_keys(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        ep = f.get(aml.endpoint_id(m["ep"]))
        if ep is None:
            return f.error(404, "ResourceNotFound", f"Online endpoint {m['ep']} not found")
        if ep["properties"].get("authMode", "Key").lower() != "key":
            return bad("Keys are only available for endpoints with authMode Key")
        return f.json(200, {"primaryKey": aml.primary_key, "secondaryKey": aml.secondary_key})

    @fake.route("POST", EP_RE + r"/token$")
    def get_token(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        return f.json(200, {"accessToken": aml.aml_token, "tokenType": "Bearer",
                            "expiryTimeUtc": 4102444800, "refreshAfterTimeUtc": 4102441200})

    @fake.route("POST", DEP_RE + r"/getLogs$")
    def get_logs(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        if f.get(aml.deployment_id(m["ep"], m["dep"])) is None:
            return f.error(404, "ResourceNotFound", f"Deployment {m['dep']} not found")
        tail = int((req.body or {}).get("tail") or 100)
        text = aml.logs.get(m["dep"], f"Booting inference server for {m['dep']}\nListening on 0.0.0.0:31311\n")
        return f.json(200, {"content": "\n".join(text.splitlines()[-tail:])})

    @fake.route("GET", r"/providers/Microsoft\.MachineLearningServices/locations/(?P<loc>[^/]+)/usages$")
    def usages(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        base = f"/subscriptions/{aml.subscription}/providers/{PROVIDER}/locations/{m['loc']}"
        rows = [{"id": f"{base}/usages/totalCores", "amlWorkspaceLocation": m["loc"],
                 "type": f"{PROVIDER}/totalcores/usages", "unit": "Count",
                 "currentValue": aml.total_cores[0], "limit": aml.total_cores[1],
                 "name": {"value": "Total Cluster Dedicated Regional vCPUs",
                          "localizedValue": "Total Cluster Dedicated Regional vCPUs"}}]
        families = {s[1] for s in VM_SIZES} | set(aml.usage)
        in_use: dict[str, int] = {}  # vCPUs held by every deployment in the subscription (all workspaces)
        sizes = {s[0].lower(): (s[1], s[2]) for s in VM_SIZES}
        for rid in f.ids(r"/onlineendpoints/[^/]+/deployments/[^/]+$"):
            dep = f.get(rid) or {}
            fam, cpus = sizes.get(str(dep.get("properties", {}).get("instanceType", "")).lower(), ("", 0))
            in_use[fam] = in_use.get(fam, 0) + cpus * int((dep.get("sku") or {}).get("capacity") or 1)
        rows[0]["currentValue"] += sum(in_use.values())
        for fam in sorted(families):
            cur, lim = aml.usage.get(fam, (0, aml.family_limit))
            cur += in_use.get(fam, 0)
            rows.append({"id": f"{base}/usages/{fam}", "amlWorkspaceLocation": m["loc"],
                         "type": f"{PROVIDER}/vmFamily/usages", "unit": "Count", "currentValue": cur, "limit": lim,
                         "name": {"value": fam, "localizedValue": f"{fam} Cluster Dedicated vCPUs"}})
        return f.json(200, {"value": rows})

    @fake.route("GET", r"/providers/Microsoft\.MachineLearningServices/locations/(?P<loc>[^/]+)/vmSizes$")
    def vm_sizes(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        return f.json(200, {"value": [
            {"name": n, "family": fam, "vCPUs": cpus, "gpus": 1 if "NC" in n else 0, "osVhdSizeMB": 1047552,
             "maxResourceVolumeMB": cpus * 8192, "memoryGB": mem, "lowPriorityCapable": True,
             "premiumIO": True, "supportedComputeTypes": ["AmlCompute", "ComputeInstance"]}
            for n, fam, cpus, mem in VM_SIZES]})

    @fake.data_plane(r"^(?P<ep>[a-z0-9-]+)\.(?P<region>[a-z0-9]+)\.inference\.ml\.azure\.com$")
    def score(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        ep_name = req.host.split(".", 1)[0]
        ep = f.get(aml.endpoint_id(ep_name))
        if ep is None:
            return f.text(404, "endpoint not found")
        auth = req.auth
        mode = ep["properties"].get("authMode", "Key").lower()
        allowed = {"key": {aml.primary_key, aml.secondary_key}, "amltoken": {aml.aml_token}}.get(mode)
        if allowed is not None and auth not in allowed:
            return f.text(401, "Unauthorized: key or token missing or wrong")
        if mode == "aadtoken" and not auth:
            return f.text(401, "Unauthorized: Entra token required")
        if req.method != "POST" or not req.path.endswith("/score"):
            return f.text(404, "not found")
        target = req.headers.get("azureml-model-deployment") or next(
            (k for k, v in req.headers.items() if k.lower() == "azureml-model-deployment"), None)
        deps = {d["name"]: d for d in aml.deployments(ep_name)}
        if target:
            if target not in deps:
                return f.text(404, f"deployment {target} not found")
        else:
            live = {k: v for k, v in aml.traffic(ep_name).items() if v > 0}
            if not live:
                return f.text(503, "No valid deployments to route to. Please check that the endpoint has at least "
                                   "one deployment with positive weight values or use a deployment specific header "
                                   "to route.")
            target = max(live.items(), key=lambda kv: (kv[1], kv[0]))[0]
        if deps[target]["properties"].get("provisioningState") != "Succeeded":
            return f.text(503, f"deployment {target} is not ready")
        aml.scored.append((target, req.body))
        if target in aml.broken:
            return f.text(502, "upstream container crashed", {"azureml-model-deployment": target})
        status, body = (aml.scorer or _default_scorer)(target, req.body)
        return f.json(status, body, {"azureml-model-deployment": target})

    return aml


def _install_datastore(fake: FakeAzure, aml: AzureMLFake) -> None:
    """The default blob datastore (as a new workspace has it) and the model / code asset rules around it."""
    aml.storage.account(aml.storage_account, aml.blob_container)
    aml.storage.bearer_tokens.add(FAKE_TOKEN)  # identity-based access with the tests' FakeCredential
    fake.put(aml.datastore_id, {"properties": {
        "datastoreType": "AzureBlob", "accountName": aml.storage_account, "containerName": aml.blob_container,
        "endpoint": "core.windows.net", "protocol": "https", "credentials": {"credentialsType": "AccountKey"},
        "isDefault": True,
        "serviceDataAccessAuthIdentity": "WorkspaceSystemAssignedIdentity", "description": "", "tags": {},
        "properties": {}}})

    @fake.route("GET", WS_RE + r"/datastores$")
    def list_datastores(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        rows = f.children(f"{aml.ws_id}/datastores")
        if str(req.query.get("isDefault", "")).lower() == "true":
            rows = [r for r in rows if r["properties"].get("isDefault")]
        return f.json(200, {"value": rows})

    @fake.route("POST", WS_RE + r"/datastores/(?P<ds>[^/]+)/listSecrets$")
    def list_secrets(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        ds = f.get(f"{aml.ws_id}/datastores/{m['ds']}")
        if ds is None:
            return f.error(404, "UserError", f"Datastore {m['ds']} not found")
        if ds["properties"]["credentials"].get("credentialsType") == "None":
            return f.error(400, "UserError", "No secrets for credential-less datastore")
        aml.secrets_listed += 1
        if aml.datastore_auth == "sas":
            return f.json(200, {"secretsType": "Sas", "sasToken": aml.storage.issue_sas(aml.storage_account)})
        return f.json(200, {"secretsType": "AccountKey", "key": aml.storage.accounts[aml.storage_account].key})

    @fake.route("POST", WS_RE + r"/codes/(?P<name>[^/]+)/versions/(?P<version>[^/]+)/startPendingUpload$")
    def start_pending_upload(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        """A temporary blob folder plus a SAS for it: azure-ai-ml uploads code folders there (not via listSecrets)."""
        # a fresh container: azure-ai-ml treats blobUri as a container URL (ContainerClient.from_container_url)
        container = f"{uuid.uuid4()}-{uuid.uuid4().hex[:8]}"[:63]
        aml.storage.account(aml.storage_account, container)
        blob_uri = f"https://{aml.storage_account}.blob.core.windows.net/{container}"
        aml.secrets_listed += 1
        return f.json(200, {"pendingUploadId": str(uuid.uuid4()), "pendingUploadType": "TemporaryBlobReference",
                            "blobReferenceForConsumption": {
                                "blobUri": blob_uri, "storageAccountArmId": f"/subscriptions/{aml.subscription}/"
                                f"resourceGroups/{aml.resource_group}/providers/Microsoft.Storage/storageAccounts/"
                                f"{aml.storage_account}",
                                "credential": {"credentialType": "SAS", "sasUri": blob_uri + "?" +
                                               aml.storage.issue_sas(aml.storage_account)}}})

    @fake.route("GET", WS_RE + r"/codes/(?P<name>[^/]+)/versions$")
    def list_code_versions(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        """`?hash=` finds an already uploaded snapshot (azure-ai-ml reuses it instead of uploading again)."""
        rows = f.children(f"{aml.ws_id}/codes/{m['name']}/versions")
        if req.query.get("hash"):
            rows = [r for r in rows if ((r.get("properties") or {}).get("properties") or {}).get("hash_sha256")
                    == req.query["hash"]]
        return f.json(200, {"value": rows})

    def asset_version(kind: str):
        """PUT models|codes/{name}/versions/{v}: the container is created implicitly; a local upload path
        must name blobs that really are in the datastore (what `az ml model create` uploaded)."""
        def handler(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
            props = (req.body.get("properties") or {}) if isinstance(req.body, dict) else {}
            uri = str(props.get("modelUri") or props.get("codeUri") or "")
            if (uri.startswith("azureml://") or uri.startswith("https://")) and not aml.blobs_at(uri):
                return f.error(400, "UserError", f"{kind} path {uri} does not exist in the workspace storage")
            cid = f"{aml.ws_id}/{kind}/{m['name']}"
            if f.get(cid) is None:
                f.put(cid, {"properties": {"latestVersion": m["version"], "description": "", "tags": {},
                                           "properties": {}}})
            return None
        return handler

    def model_transform(_f: FakeAzure, req: RecordedRequest, body: dict, existing: Optional[dict]) -> None:
        """The service reads MLmodel from the uploaded folder to fill `flavors` (azure-ai-ml needs the field)."""
        props = body.setdefault("properties", {})
        props.setdefault("properties", {})
        props.setdefault("tags", {})
        if props.get("flavors"):
            return
        uri = str(props.get("modelUri") or "")
        mlmodel = aml.uploaded(uri.split(f"/datastores/{DATASTORE}/paths/", 1)[-1].rstrip("/") + "/MLmodel")
        props["flavors"] = _flavors(next(iter(mlmodel.values()))) if (
            props.get("modelType") == "mlflow_model" and mlmodel) else {}

    fake.behaviour(WS_RE + r"/models/[^/]+/versions/[^/]+$", lro=None, create_status=201, update_status=200,
                   transform=model_transform)
    fake.behaviour(WS_RE + r"/codes/[^/]+/versions/[^/]+$", lro=None, create_status=201, update_status=200)
    for kind in ("models", "codes"):
        fake.route("PUT", WS_RE + rf"/{kind}/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$")(asset_version(kind))


# ----------------------------------------------------------------- Azure ML registries (shared across workspaces)

REGISTRY_HOST = r"^eastus\.api\.azureml\.ms$"  # azure-ai-ml's registry discovery endpoint for AzureCloud
MFE = r"^/mferp/managementfrontend/subscriptions/[^/]+/resourceGroups/[^/]+/providers/" \
      r"Microsoft\.MachineLearningServices/registries/(?P<reg>[^/]+)"


@dataclass
class AzureMLRegistryFake:
    """An Azure ML registry as azure-ai-ml reaches it: discovery, then the registry front end (model
    version GET, `datarefs` POST that hands out a SAS for the version's blobs) on eastus.api.azureml.ms.
    The blobs live in `storage` (serve it through tls_proxy) under account `account`, container `container`."""
    fake: FakeAzure
    name: str
    storage: FakeBlobStorage
    subscription: str = SUBSCRIPTION
    resource_group: str = "rg-registry"
    location: str = "eastus"
    sas_issued: int = 0

    @property
    def account(self) -> str:
        return re.sub(r"[^a-z0-9]", "", self.name.lower())[:14] + "regst"

    @property
    def container(self) -> str:
        return f"{self.name.lower()}-models"

    def version_id(self, name: str, version: str) -> str:
        return f"azureml://registries/{self.name}/models/{name}/versions/{version}"

    def register_model_files(self, name: str, version: str, folder: Any) -> str:
        """Put every file of `folder` in the registry's storage and register the version there."""
        from pathlib import Path

        root = Path(folder)
        prefix = f"models/{name}/{version}/{root.name}"
        _put_folder(self.storage, self.account, self.container, prefix, root)
        flavors = _flavors((root / "MLmodel").read_bytes()) if (root / "MLmodel").is_file() else {}
        self.fake.put(f"/registryfake/{self.name}/models/{name}/versions/{version}", {
            "id": self.version_id(name, version), "name": version,
            "type": "Microsoft.MachineLearningServices/registries/models/versions",
            "properties": {"description": "", "tags": {}, "properties": {}, "isArchived": False, "isAnonymous": False,
                           "flavors": flavors, "modelType": "mlflow_model" if flavors else "custom_model",
                           "modelUri": f"https://{self.account}.blob.core.windows.net/{self.container}/{prefix}",
                           "provisioningState": "Succeeded"}})
        return prefix


def install_registry(fake: FakeAzure, storage: FakeBlobStorage, name: str = "shared-models") -> AzureMLRegistryFake:
    """Register the routes of one Azure ML registry on `fake` (its blobs in `storage`)."""
    reg = AzureMLRegistryFake(fake, name, storage)
    storage.account(reg.account, reg.container)

    @fake.data_plane(REGISTRY_HOST, method="GET", path=r"^/registrymanagement/v1\.0/registries/(?P<reg>[^/]+)/discovery$")
    def discovery(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        if m["reg"] != reg.name:
            return None
        return f.json(200, {"registryName": reg.name, "tenantId": "11111111-1111-1111-1111-111111111111",
                            "primaryRegion": reg.location, "regions": [reg.location],
                            "subscriptionId": reg.subscription, "resourceGroup": reg.resource_group,
                            "workspaceName": None,
                            "primaryRegionResourceProviderUri": f"https://{reg.location}.api.azureml.ms/"})

    @fake.data_plane(REGISTRY_HOST, method="GET", path=MFE + r"/models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$")
    def get_version(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        if m["reg"] != reg.name:
            return None
        body = f.get(f"/registryfake/{reg.name}/models/{m['name']}/versions/{m['version']}")
        if body is None:
            return f.error(404, "UserError", f"Model {m['name']}:{m['version']} not found in registry {reg.name}")
        body.pop("systemData", None)
        body["id"] = reg.version_id(m["name"], m["version"])
        body["systemData"] = {"createdAt": "2026-05-01T10:00:00Z", "createdBy": "someone@contoso.com",
                              "createdByType": "User", "lastModifiedAt": "2026-05-01T10:00:00Z"}
        return f.json(200, body)

    @fake.data_plane(REGISTRY_HOST, method="POST", path=MFE + r"/datarefs/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$")
    def datarefs(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        """A SAS for the version's container: how azure-ai-ml reads a registry model's files."""
        if m["reg"] != reg.name:
            return None
        body = req.body if isinstance(req.body, dict) else {}
        if body.get("assetId") != reg.version_id(m["name"], m["version"]):
            return f.error(400, "UserError", f"assetId {body.get('assetId')!r} does not match the URL")
        reg.sas_issued += 1
        container_url = f"https://{reg.account}.blob.core.windows.net/{reg.container}"
        return f.json(200, {"blobReferenceForConsumption": {
            "blobUri": body.get("blobUri") or container_url, "storageAccountArmId": "",
            "credential": {"credentialType": "SAS", "sasUri": f"{container_url}?{storage.issue_sas(reg.account)}"}}})

    return reg


def _flavors(mlmodel: bytes) -> dict:
    """`flavors` as the service fills it from an MLmodel file (values as strings, nested ones as JSON)."""
    import yaml

    doc = yaml.safe_load(mlmodel) or {}
    return {k: {"data": {kk: json.dumps(vv) if isinstance(vv, (dict, list)) else str(vv)
                         for kk, vv in (v or {}).items()}} for k, v in (doc.get("flavors") or {}).items()}


def _put_folder(storage: FakeBlobStorage, account: str, container: str, prefix: str, root: Any) -> None:
    """Every file under `root` as a blob `<prefix>/<relative path>` (what an upload leaves)."""
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        storage.put_blob(account, container, f"{prefix}/{f.relative_to(root).as_posix()}", f.read_bytes())


def _default_scorer(deployment: str, payload: Any) -> tuple[int, Any]:
    """Echo one prediction per input row, like a regressor returning zeros."""
    rows: Any = payload
    if isinstance(payload, dict):
        rows = payload.get("input_data", payload.get("data", payload.get("inputs", payload)))
        if isinstance(rows, dict):
            rows = rows.get("data", rows.get("values", [rows]))
    n = len(rows) if isinstance(rows, list) else 1
    return 200, [0.0] * n


def parse_json(body: Any) -> Any:
    return json.loads(body) if isinstance(body, (str, bytes)) else body
