"""Azure Container Apps (Microsoft.App) provider for FakeAzure: managed environments, container apps
with revisions and traffic, secrets (listSecrets), revision activate/deactivate, replicas, the auth
token and log stream, available workload profiles per region, usages, and the data plane
`https://<app>.<env domain>` / `https://<app>--<suffix>.<env domain>` (GET /, GET /live, GET /ready, POST /score).

Writes answer the way azure-mgmt-appcontainers expects (PUT 201/200 + Azure-AsyncOperation, DELETE
202 + both headers: the core fake's defaults), and the service rules are enforced so a wrong request
fails here as it would in Azure:

- an app needs an existing, provisioned environment (ManagedEnvironmentNotProvisioned) and a workload
  profile the environment has (WorkloadProfileNotFound);
- CPU/memory: on the Consumption profile the totals must be one of the documented pairs
  (0.25 vCPU/0.5Gi ... 4 vCPU/8Gi, memory = 2 x CPU), on a GPU profile within the profile's size
  (ContainerAppInvalidResourceTotal);
- traffic weights sum to 100 and name existing revisions (or the latest revision), at most one
  `latestRevision` entry (ContainerAppInvalidTrafficWeights / RevisionNotFound);
- every `secretRef` (env or secret volume) names a secret, and every secret carries a value
  (ContainerAppSecretRefNotFound / ContainerAppSecretInvalid);
- a registry with `identity: system` needs a system-assigned identity (InvalidRegistryIdentity);
- probe settings within the documented ranges (failureThreshold 1-10, period 1-240 s, initial delay 1-60 s);
- a revision that receives traffic cannot be deactivated (ContainerAppRevisionHasTraffic);
- an environment that still holds apps cannot be deleted (ManagedEnvironmentHasContainerApps);
- serverless GPU workload profiles only in the regions that offer them (they may be added later, unlike
  dedicated GPU profiles: workload-profiles-overview).

A change to `properties.template` makes a new revision `<app>--<revisionSuffix>` (random suffix when
none is given); configuration changes (traffic, secrets, ingress) do not. In Single revision mode the
new revision takes all traffic and the others are deactivated. GET never returns secret values;
`listSecrets` does. Each revision has its own FQDN and serves its own image; the app FQDN routes by
the traffic weights (deterministic weighted round robin). Like Azure, a write comes back with fields
it did not send (ephemeral storage, probe and scale defaults).

    from tests.fakes.containerapps import install
    aca = install(fake, resource_group="rg")
    aca.unhealthy.add("myacr.azurecr.io/m:v2")   # image never ready: /ready 503, /score 502
    aca.ready_after = 2                          # /ready answers 503 twice per new revision
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .azure import SUBSCRIPTION, FakeAzure, RecordedRequest, now_iso

RG_RE = r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)"
ENV_RE = RG_RE + r"/providers/Microsoft\.App/managedEnvironments/(?P<env>[^/]+)"
APP_RE = RG_RE + r"/providers/Microsoft\.App/containerApps/(?P<app>[^/]+)"
REV_RE = APP_RE + r"/revisions/(?P<rev>[^/]+)"
LOC_RE = r"/subscriptions/(?P<sub>[^/]+)/providers/Microsoft\.App/locations/(?P<loc>[^/]+)"
APP_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")
LOG_HOST = "logstream.azurecontainerapps.dev"
# Consumption profile: vCPU 0.25..4 in 0.25 steps with memory = 2 x vCPU (containers#allocations).
CONSUMPTION_PAIRS = {round(0.25 * i, 2): round(0.5 * i, 2) for i in range(1, 17)}
PROBE_LIMITS = (("failureThreshold", 1, 10), ("initialDelaySeconds", 1, 60), ("periodSeconds", 1, 240),
                ("successThreshold", 1, 10))
# Serverless GPU profiles (vCPU, GiB) and the regions offering them (gpu-serverless-overview).
GPU_PROFILES = {
    "Consumption-GPU-NC8as-T4": {"cores": 8, "memory": 56, "gpus": 1,
                                 "regions": {"westus3", "australiaeast", "swedencentral", "westeurope"}},
    "Consumption-GPU-NC24-A100": {"cores": 24, "memory": 220, "gpus": 1,
                                  "regions": {"westus3", "westus", "australiaeast", "swedencentral"}},
}


@dataclass
class ContainerAppsFake:
    """Handle on the installed provider: seed environments, script health, read what was sent."""
    fake: FakeAzure
    subscription: str
    resource_group: str
    location: str
    regions: set[str] = field(default_factory=lambda: {"eastus", "westeurope", "westus3", "swedencentral",
                                                       "australiaeast", "westus"})
    unhealthy: set[str] = field(default_factory=set)  # images whose /ready never answers 200
    ready_after: int = 0  # /ready answers 503 this many times after a revision starts
    scorer: Optional[Callable[[str, str, Any], tuple[int, Any]]] = None  # (app, revision, payload) -> reply
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)  # app -> {secret name: value}
    usages: dict[str, tuple[int, int]] = field(default_factory=dict)  # usage name -> (current, limit)
    logs: dict[str, list[str]] = field(default_factory=dict)  # revision -> console lines
    scored: list[tuple[str, str, Any]] = field(default_factory=list)  # (app, revision, payload)
    ready_polls: dict[str, int] = field(default_factory=dict)  # revision -> /ready calls
    tokens: set[str] = field(default_factory=set)  # log-stream tokens handed out
    lock: threading.RLock = field(default_factory=threading.RLock)
    _rr: dict[str, int] = field(default_factory=dict)

    # ---- ids -------------------------------------------------------------------
    def rg_id(self, rg: Optional[str] = None) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{rg or self.resource_group}"

    def env_id(self, env: str, rg: Optional[str] = None) -> str:
        return f"{self.rg_id(rg)}/providers/Microsoft.App/managedEnvironments/{env}"

    def app_id(self, app: str, rg: Optional[str] = None) -> str:
        return f"{self.rg_id(rg)}/providers/Microsoft.App/containerApps/{app}"

    # ---- reads for assertions ----------------------------------------------------
    def environment(self, env: str) -> Optional[dict]:
        return self.fake.get(self.env_id(env))

    def app(self, app: str) -> Optional[dict]:
        return self.fake.get(self.app_id(app))

    def revisions(self, app: str) -> list[dict]:
        """Stored revisions of an app, oldest first, with their current traffic weights."""
        body = self.fake.resources.get(self.app_id(app).lower())
        revs = self.fake.children(self.app_id(app) + "/revisions")
        if body is not None:
            weights = effective_weights(body, revs)
            for r in revs:
                r["properties"]["trafficWeight"] = weights.get(r["name"], 0)
                r["properties"]["replicas"] = _replica_count(self, body, r)
        return sorted(revs, key=lambda r: r["properties"]["createdTime"])

    def traffic(self, app: str) -> dict[str, int]:
        """{revision: weight} for revisions with traffic."""
        return {r["name"]: r["properties"]["trafficWeight"] for r in self.revisions(app)
                if r["properties"]["trafficWeight"]}

    def active(self, app: str) -> list[str]:
        return [r["name"] for r in self.revisions(app) if r["properties"]["active"]]

    # ---- seeding -------------------------------------------------------------------
    def seed_environment(self, name: str, *, tags: Optional[dict] = None, workload_profiles: Optional[list] = None,
                         location: Optional[str] = None) -> dict:
        body = {"location": location or self.location, "tags": tags or {},
                "properties": {"workloadProfiles": workload_profiles or [
                    {"name": "Consumption", "workloadProfileType": "Consumption"}]}}
        stored = self.fake.put(self.env_id(name), body)
        _env_fields(self, stored, None)
        self.fake.resources[self.env_id(name).lower()] = stored
        return stored


def install(fake: FakeAzure, *, resource_group: str = "rg", subscription: str = SUBSCRIPTION,
            location: Optional[str] = None) -> ContainerAppsFake:
    aca = ContainerAppsFake(fake=fake, subscription=subscription, resource_group=resource_group,
                            location=location or fake.location)
    fake.behaviour(ENV_RE + "$", transform=lambda f, req, body, existing: _env_fields(aca, body, existing))
    fake.behaviour(APP_RE + "$", transform=lambda f, req, body, existing: _app_put(aca, req, body, existing),
                   on_delete=lambda f, rid: _forget(aca, rid))

    # ---- environments ------------------------------------------------------------
    @fake.route("PUT", ENV_RE + "$")
    def put_env(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        body = req.body if isinstance(req.body, dict) else {}
        loc = _loc(body.get("location"))
        if loc not in aca.regions:
            return f.error(400, "LocationNotAvailableForResourceType",
                           f"The provided location '{body.get('location')}' is not available for resource type "
                           "'Microsoft.App/managedEnvironments'.")
        for p in ((body.get("properties") or {}).get("workloadProfiles") or []):
            ptype = str(p.get("workloadProfileType") or "")
            if ptype in GPU_PROFILES:
                if loc not in GPU_PROFILES[ptype]["regions"]:
                    return f.error(400, "WorkloadProfileTypeNotSupported",
                                   f"Workload profile type '{ptype}' is not supported in location '{loc}'.")
            elif ptype != "Consumption" and not ptype.startswith(("D", "E")):
                return f.error(400, "WorkloadProfileTypeNotSupported", f"Unknown workload profile type '{ptype}'.")
        return None

    @fake.route("DELETE", ENV_RE + "$")
    def delete_env(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        apps = _apps_in(f, req.path)
        if apps:
            return f.error(409, "ManagedEnvironmentHasContainerApps",
                           f"The specified environment {m.group('env')} cannot be deleted because it still contains "
                           f"{len(apps)} ContainerApps.")
        return None

    # ---- container apps --------------------------------------------------------------
    @fake.route("PUT", APP_RE + "$")
    def put_app(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        body = req.body if isinstance(req.body, dict) else {}
        existing = f.resources.get(req.path.lower().rstrip("/"))
        return _validate_app(aca, f, m.group("app"), body, existing, req.path)

    @fake.route("PATCH", APP_RE + "$")
    def patch_app(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        existing = f.resources.get(req.path.lower().rstrip("/"))
        if existing is None:
            return f.error(404, "ResourceNotFound", f"containerApps/{m.group('app')} not found")
        from .azure import _merge
        merged = _merge(json.loads(json.dumps(existing)), req.body if isinstance(req.body, dict) else {})
        merged.setdefault("properties", {}).setdefault("configuration", {})["secrets"] = [
            {"name": k, "value": v} for k, v in (aca.secrets.get(m.group("app").lower()) or {}).items()]
        return _validate_app(aca, f, m.group("app"), merged, existing, req.path)

    @fake.route("GET", APP_RE + "$")
    def get_app(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        body = f.resources.get(req.path.lower().rstrip("/"))
        if body is None:
            return None
        return f.json(200, _public_app(body))

    @fake.route("POST", APP_RE + "/listSecrets$")
    def list_secrets(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        if f.resources.get(_parent(req.path, "/listSecrets")) is None:
            return _not_found(f, "containerApps", m.group("app"))
        return f.json(200, {"value": [{"name": k, "value": v}
                                      for k, v in (aca.secrets.get(m.group("app").lower()) or {}).items()]})

    @fake.route("POST", APP_RE + "/getAuthtoken$")
    def auth_token(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        if f.resources.get(_parent(req.path, "/getAuthtoken")) is None:
            return _not_found(f, "containerApps", m.group("app"))
        token = "fake-aca-logstream-" + uuid.uuid4().hex
        aca.tokens.add(token)
        return f.json(200, {"id": req.path, "name": "token", "location": aca.location,
                            "properties": {"token": token, "expires": "2099-01-01T00:00:00Z"}})

    # ---- revisions -----------------------------------------------------------------------
    @fake.route("GET", APP_RE + "/revisions$")
    def list_revisions(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        if f.resources.get(_parent(req.path, "/revisions")) is None:
            return _not_found(f, "containerApps", m.group("app"))
        return f.json(200, {"value": aca.revisions(m.group("app"))})

    @fake.route("GET", REV_RE + "$")
    def get_revision(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        rev = next((r for r in aca.revisions(m.group("app")) if r["name"].lower() == m.group("rev").lower()), None)
        return f.json(200, rev) if rev else _not_found(f, "revisions", m.group("rev"))

    @fake.route("POST", REV_RE + r"/(?P<action>activate|deactivate|restart)$")
    def revision_action(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        rid = _parent(req.path, "/" + m.group("action"))
        rev = f.resources.get(rid)
        if rev is None:
            return _not_found(f, "revisions", m.group("rev"))
        action = m.group("action")
        if action == "deactivate" and aca.traffic(m.group("app")).get(rev["name"]):
            return f.error(400, "ContainerAppRevisionHasTraffic",
                           f"Revision '{rev['name']}' receives traffic and cannot be deactivated: move its traffic "
                           "first.")
        if action in ("activate", "deactivate"):
            rev["properties"]["active"] = action == "activate"
            rev["properties"]["runningState"] = "Running" if action == "activate" else "Stopped"
        aca.ready_polls[rev["name"].lower()] = 0
        return f.json(200, None)

    @fake.route("GET", REV_RE + r"/replicas$")
    def list_replicas(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        rev = f.resources.get(_parent(req.path, "/replicas"))
        if rev is None:
            return _not_found(f, "revisions", m.group("rev"))
        app = f.resources.get(_parent(_parent(req.path, "/replicas"), "/revisions/" + m.group("rev").lower())) or {}
        n = _replica_count(aca, app, rev)
        ready = (rev["properties"]["template"]["containers"][0].get("image") not in aca.unhealthy)
        out = []
        rev_name = rev["name"]
        for i in range(n):
            name = f"{rev['name']}-{hashlib.sha1(f'{rev_name}{i}'.encode()).hexdigest()[:8]}"
            containers = [{"name": c.get("name"), "containerId": uuid.uuid5(uuid.NAMESPACE_OID, name).hex,
                           "ready": ready, "started": True, "restartCount": 0 if ready else 3,
                           "runningState": "Running" if ready else "Waiting",
                           "logStreamEndpoint": f"https://{LOG_HOST}{_parent(req.path, '/replicas')}"
                                                f"/replicas/{name}/containers/{c.get('name')}/logstream"}
                          for c in rev["properties"]["template"]["containers"]]
            out.append({"id": f"{_parent(req.path, '/replicas')}/replicas/{name}", "name": name,
                        "type": "Microsoft.App/containerApps/revisions/replicas",
                        "properties": {"createdTime": rev["properties"]["createdTime"], "runningState": "Running",
                                       "containers": containers}})
        return f.json(200, {"value": out})

    # ---- region facts --------------------------------------------------------------------
    @fake.route("GET", LOC_RE + r"/availableManagedEnvironmentsWorkloadProfileTypes$")
    def profile_types(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        loc = _loc(m.group("loc"))
        if loc not in aca.regions:
            return f.json(200, {"value": []})
        out = [{"name": "Consumption", "properties": {"category": "Consumption", "applicability": "LocationDefault",
                                                      "cores": 4, "memoryGiB": 8, "displayName": "Consumption"}}]
        for ptype, spec in GPU_PROFILES.items():
            if loc in spec["regions"]:
                out.append({"name": ptype, "properties": {"category": "GPU", "applicability": "Custom",
                                                          "cores": spec["cores"], "memoryGiB": spec["memory"],
                                                          "gpus": spec["gpus"], "displayName": ptype}})
        return f.json(200, {"value": [dict(o, id=f"{req.path}/{o['name']}", type="Microsoft.App/locations/"
                                           "availableManagedEnvironmentsWorkloadProfileTypes") for o in out]})

    @fake.route("GET", LOC_RE + r"/usages$")
    def usages(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        return f.json(200, {"value": [
            {"name": {"value": name, "localizedValue": name}, "unit": "Count", "currentValue": cur, "limit": lim}
            for name, (cur, lim) in sorted(aca.usages.items())]})

    # ---- data plane ----------------------------------------------------------------------------
    @fake.data_plane(r"\.azurecontainerapps\.io$")
    def data_plane(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        found = _by_host(aca, req.host)
        if found is None:
            return f.text(404, "Container App not found or revision not active")
        app_body, rev = found
        app = app_body["name"].lower()
        image = rev["properties"]["template"]["containers"][0].get("image")
        healthy = image not in aca.unhealthy
        if req.method == "GET" and req.path in ("", "/", "/live"):
            return f.json(200 if healthy else 502, {"status": "alive"} if healthy else {"status": "crashing"})
        if req.method == "GET" and req.path == "/ready":
            with aca.lock:
                n = aca.ready_polls.get(rev["name"].lower(), 0)
                aca.ready_polls[rev["name"].lower()] = n + 1
            if n < aca.ready_after or not healthy:
                return f.json(503, {"status": "loading" if n < aca.ready_after else "unhealthy"})
            return f.json(200, {"status": "ready"})
        if req.method == "POST" and req.path == "/score":
            if not healthy:
                return f.text(502, "upstream connect error")
            key = _mounted_key(aca, app, rev)
            if not key or req.auth != key:
                return f.json(401, {"error": "missing or wrong key"})
            aca.scored.append((app, rev["name"], req.body))
            if aca.scorer is not None:
                status, body = aca.scorer(app, rev["name"], req.body)
                return f.json(status, body)
            return f.json(200, [0] * _rows(req.body))
        return f.text(404, "Not Found")

    @fake.data_plane(re.escape(LOG_HOST) + "$", method="GET")
    def log_stream(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        if req.auth not in aca.tokens:
            return f.json(401, {"error": "invalid token"})
        mm = re.search(r"/revisions/(?P<rev>[^/]+)/replicas/", req.path)
        lines = aca.logs.get((mm.group("rev") if mm else "").lower(), [])
        tail = int(req.query.get("tailLines") or 20)
        text = "".join(json.dumps({"TimeStamp": now_iso(), "Log": line}) + "\n" for line in lines[-tail:])
        return f.text(200, text)

    return aca


# ----------------------------------------------------------------- rules


def _validate_app(aca: ContainerAppsFake, f: FakeAzure, app: str, body: dict, existing: Optional[dict],
                  path: str) -> Any:
    """Service-side checks of a container app write; None lets the generic store take it."""
    props = body.get("properties") or {}
    if not APP_NAME_RE.match(app) or "--" in app:
        return f.error(400, "ContainerAppInvalidName",
                       f"Invalid ContainerApp name '{app}'. A name must consist of lower case alphanumeric characters "
                       "or '-', start with an alphabetic character, and end with an alphanumeric character and cannot "
                       "have '--'. The length must not be more than 32 characters.")
    env_id = str(props.get("managedEnvironmentId") or props.get("environmentId") or "")
    env = f.resources.get(env_id.lower().rstrip("/"))
    if env is None or (env.get("properties") or {}).get("provisioningState") != "Succeeded":
        return f.error(400, "ManagedEnvironmentNotProvisioned",
                       f"The environment '{env_id}' has not been provisioned successfully.")
    profiles = {p.get("name"): p.get("workloadProfileType") for p in
                ((env.get("properties") or {}).get("workloadProfiles") or [])}
    wp = props.get("workloadProfileName") or "Consumption"
    if wp not in profiles:
        return f.error(400, "WorkloadProfileNotFound", f"Workload profile '{wp}' not found in the environment.")
    template = props.get("template") or {}
    containers = template.get("containers") or []
    if not containers:
        return f.error(400, "ContainerAppCreateMustContainContainer", "Must specify atleast one container.")
    for c in containers:  # the ranges the ContainerAppProbe model documents
        for probe in c.get("probes") or []:
            bad = [k for k, lo, hi in PROBE_LIMITS if probe.get(k) is not None and not lo <= int(probe[k]) <= hi]
            if bad:
                return f.error(400, "ContainerAppInvalidProbe", f"Probe '{probe.get('type')}': {bad[0]} out of range.")
    cpu = round(sum(float((c.get("resources") or {}).get("cpu") or 0) for c in containers), 2)
    mem = round(sum(_gib((c.get("resources") or {}).get("memory")) for c in containers), 2)
    ptype = profiles[wp]
    if ptype in GPU_PROFILES:
        spec = GPU_PROFILES[ptype]
        ok = 0 < cpu <= spec["cores"] and 0 < mem <= spec["memory"]
    else:
        ok = CONSUMPTION_PAIRS.get(cpu) == mem
    if not ok:
        pairs = "; ".join(f"[cpu: {c}, memory: {m}Gi]" for c, m in CONSUMPTION_PAIRS.items())
        return f.error(400, "ContainerAppInvalidResourceTotal",
                       f"The total requested CPU and memory resources for this application (CPU: {cpu}, memory: "
                       f"{mem}Gi) is invalid. Total CPU and memory for all containers defined in a Container App must "
                       f"add up to one of the following CPU - Memory combinations: {pairs}")
    conf = props.get("configuration") or {}
    secrets = conf.get("secrets") or []
    names = {s.get("name") for s in secrets}
    for s in secrets:
        if not s.get("value") and not s.get("keyVaultUrl"):
            return f.error(400, "ContainerAppSecretInvalid", f"Secret '{s.get('name')}' has no value.")
    refs = [e.get("secretRef") for c in containers for e in (c.get("env") or []) if e.get("secretRef")]
    refs += [i.get("secretRef") for v in (template.get("volumes") or []) if v.get("storageType") == "Secret"
             for i in (v.get("secrets") or [])]
    missing = [r for r in refs if r not in names]
    if missing:
        return f.error(400, "ContainerAppSecretRefNotFound", f"SecretRef '{missing[0]}' defined for container "
                       "app is not found in the secrets.")
    identity = str((body.get("identity") or {}).get("type") or "")
    for reg in conf.get("registries") or []:
        if str(reg.get("identity") or "").lower() == "system" and "systemassigned" not in identity.lower():
            return f.error(400, "InvalidRegistryIdentity", f"Registry '{reg.get('server')}' uses the system identity "
                           "but the app has no system-assigned identity.")
    traffic = ((conf.get("ingress") or {}).get("traffic")) or []
    if traffic:
        total = sum(int(t.get("weight") or 0) for t in traffic)
        if total != 100:
            return f.error(400, "ContainerAppInvalidTrafficWeights",
                           f"The sum of traffic weights must be 100, got {total}.")
        if sum(1 for t in traffic if t.get("latestRevision")) > 1:
            return f.error(400, "ContainerAppInvalidTrafficWeights", "At most one traffic entry can be latestRevision.")
        known = {r["name"].lower() for r in f.children(path + "/revisions")}
        for t in traffic:
            name = str(t.get("revisionName") or "")
            if name and name.lower() not in known:
                return f.error(400, "RevisionNotFound", f"Revision '{name}' referenced in traffic was not found.")
            if not name and not t.get("latestRevision"):
                return f.error(400, "ContainerAppInvalidTrafficWeights",
                               "Each traffic entry needs a revisionName or latestRevision.")
    suffix = template.get("revisionSuffix")
    if suffix:
        rid = f"{path.lower().rstrip('/')}/revisions/{app.lower()}--{str(suffix).lower()}"
        old = f.resources.get(rid)
        incoming = json.loads(json.dumps(template))
        _server_defaults(incoming)
        if old is not None and _template_hash(old["properties"]["template"]) != _template_hash(incoming):
            # as Azure answers it (github.com/Azure/terraform-azurerm-avm-res-app-containerapp/issues/115)
            return f.error(400, "ContainerAppRevisionSuffixInUse",
                           "The following field(s) are either invalid or missing. Field 'template.revisionsuffix' is "
                           "invalid with details: 'Invalid value: revision with suffix already exists.")
    return None


# ----------------------------------------------------------------- server-side fields


def _env_fields(aca: ContainerAppsFake, body: dict, existing: Optional[dict]) -> None:
    props = body.setdefault("properties", {})
    old = (existing or {}).get("properties") or {}
    token = hashlib.sha1(body["id"].lower().encode()).hexdigest()[:10]
    loc = _loc(body.get("location") or aca.location)
    props["defaultDomain"] = old.get("defaultDomain") or f"{token}.{loc}.azurecontainerapps.io"
    props["staticIp"] = old.get("staticIp") or "20.1.2.3"
    props.setdefault("workloadProfiles", old.get("workloadProfiles") or [
        {"name": "Consumption", "workloadProfileType": "Consumption"}])
    props["eventStreamEndpoint"] = f"https://{loc}.azurecontainerapps.dev/subscriptions/{aca.subscription}/" \
                                   f"resourceGroups/{aca.resource_group}/managedEnvironments/{body['name']}/eventstream"


def _app_put(aca: ContainerAppsFake, req: RecordedRequest, body: dict, existing: Optional[dict]) -> None:
    """Move secret values out of the stored body, make a revision when the template changed, fill FQDNs."""
    f = aca.fake
    app = body["name"]
    props = body.setdefault("properties", {})
    conf = props.setdefault("configuration", {})
    with aca.lock:
        aca.secrets[app.lower()] = {s["name"]: s.get("value", "") for s in conf.get("secrets") or []}
    conf["secrets"] = [{"name": s["name"]} for s in conf.get("secrets") or []]
    conf.setdefault("activeRevisionsMode", "Single")
    env = f.resources.get(str(props.get("managedEnvironmentId") or props.get("environmentId")).lower()) or {}
    domain = (env.get("properties") or {}).get("defaultDomain", "example.azurecontainerapps.io")
    ingress = conf.get("ingress")
    if ingress is not None:
        internal = not ingress.get("external", False)
        ingress["fqdn"] = f"{app}.internal.{domain}" if internal else f"{app}.{domain}"
    props["managedEnvironmentId"] = props.get("managedEnvironmentId") or props.get("environmentId")
    props["environmentId"] = props["managedEnvironmentId"]
    props["outboundIpAddresses"] = ["20.1.2.4"]
    props["runningStatus"] = "Running"
    props["eventStreamEndpoint"] = f"https://{LOG_HOST}{body['id']}/eventstream"
    identity = body.get("identity") or {}
    if "systemassigned" in str(identity.get("type") or "").lower():
        prev = (existing or {}).get("identity") or {}
        identity["principalId"] = prev.get("principalId") or str(uuid.uuid4())
        identity["tenantId"] = prev.get("tenantId") or "11111111-1111-1111-1111-111111111111"
        body["identity"] = identity
    template = props.setdefault("template", {})
    _server_defaults(template)
    revs = sorted(f.children(body["id"] + "/revisions"), key=lambda r: r["properties"]["createdTime"])
    latest = next((r for r in revs if r["name"].lower() == str((existing or {}).get("properties", {})
                                                                .get("latestRevisionName") or "").lower()),
                  revs[-1] if revs else None)
    if latest is None or _template_hash(latest["properties"]["template"]) != _template_hash(template):
        suffix = template.get("revisionSuffix") or uuid.uuid4().hex[:7]
        name = f"{app}--{suffix}"
        rid = f"{body['id']}/revisions/{name}".lower()
        if rid not in f.resources:
            f.resources[rid] = {
                "id": f"{body['id']}/revisions/{name}", "name": name,
                "type": "Microsoft.App/containerApps/revisions",
                "properties": {"createdTime": now_iso(), "lastActiveTime": now_iso(),
                               "fqdn": f"{name}.{domain}" if ingress is not None else "",
                               "template": json.loads(json.dumps(template)), "active": True, "replicas": 0,
                               "trafficWeight": 0, "healthState": "Healthy", "provisioningState": "Provisioned",
                               "runningState": "Running"}}
        else:
            f.resources[rid]["properties"]["active"] = True
        aca.ready_polls[name.lower()] = 0
        latest = f.resources[rid]
        if str(conf.get("activeRevisionsMode")).lower() == "single":
            for r in revs:
                if r["name"] != name:
                    f.resources[r["id"].lower()]["properties"]["active"] = False
    props["latestRevisionName"] = latest["name"]
    props["latestReadyRevisionName"] = latest["name"]
    props["latestRevisionFqdn"] = latest["properties"].get("fqdn", "")


def _server_defaults(template: dict) -> None:
    """Fields Azure fills in on every write (a GET returns more than was sent; not a change)."""
    for c in template.get("containers") or []:
        c.setdefault("resources", {}).setdefault("ephemeralStorage", "8Gi")
        for probe in c.get("probes") or []:
            probe.setdefault("successThreshold", 1)
    scale = template.setdefault("scale", {})
    scale.setdefault("cooldownPeriod", 300)
    scale.setdefault("pollingInterval", 30)


def _forget(aca: ContainerAppsFake, resource_id: str) -> None:
    m = re.search(APP_RE + "$", resource_id, re.I)
    if m:
        with aca.lock:
            aca.secrets.pop(m.group("app").lower(), None)


def effective_weights(app: dict, revisions: list[dict]) -> dict[str, int]:
    """{revision name: weight} from the app's traffic (Single mode: all to the latest)."""
    props = app.get("properties") or {}
    conf = props.get("configuration") or {}
    latest = props.get("latestRevisionName")
    traffic = (conf.get("ingress") or {}).get("traffic") or []
    if str(conf.get("activeRevisionsMode")).lower() == "single" or not traffic:
        return {latest: 100} if latest else {}
    out: dict[str, int] = {}
    by_lower = {r["name"].lower(): r["name"] for r in revisions}
    for t in traffic:
        name = latest if t.get("latestRevision") else by_lower.get(str(t.get("revisionName") or "").lower())
        if name:
            out[name] = out.get(name, 0) + int(t.get("weight") or 0)
    return out


# ----------------------------------------------------------------- helpers


def _public_app(body: dict) -> dict:
    out = json.loads(json.dumps(body))
    for s in ((out.get("properties") or {}).get("configuration") or {}).get("secrets") or []:
        s.pop("value", None)
    return out


def _replica_count(aca: ContainerAppsFake, app: dict, rev: dict) -> int:
    if not rev["properties"].get("active"):
        return 0
    scale = (rev["properties"]["template"].get("scale") or {})
    lo = int(scale.get("minReplicas") if scale.get("minReplicas") is not None else 0)
    served = any(s[1].lower() == rev["name"].lower() for s in aca.scored)
    return max(lo, 1 if served else 0)


def _mounted_key(aca: ContainerAppsFake, app: str, rev: dict) -> Optional[str]:
    """The scoring key the revision sees: the secret its secret volume (or env) points at."""
    template = rev["properties"]["template"]
    for v in template.get("volumes") or []:
        for item in v.get("secrets") or []:
            if item.get("path") == "key":
                return (aca.secrets.get(app) or {}).get(item.get("secretRef"))
    for c in template.get("containers") or []:
        for e in c.get("env") or []:
            if e.get("name") == "SCORING_KEY" and e.get("secretRef"):
                return (aca.secrets.get(app) or {}).get(e["secretRef"])
    return None


def _by_host(aca: ContainerAppsFake, host: str) -> Optional[tuple[dict, dict]]:
    """(app, revision) a request to `host` reaches: a revision FQDN (active only) or the app FQDN."""
    f = aca.fake
    host = host.lower()
    for rid, body in list(f.resources.items()):
        if re.search(r"/providers/microsoft\.app/containerapps/[^/]+/revisions/[^/]+$", rid):
            if str(body["properties"].get("fqdn") or "").lower() == host:
                if not body["properties"].get("active"):
                    return None
                app = f.resources.get(rid.rsplit("/revisions/", 1)[0])
                return (app, body) if app else None
    for rid, body in list(f.resources.items()):
        if re.search(r"/providers/microsoft\.app/containerapps/[^/]+$", rid):
            ingress = ((body.get("properties") or {}).get("configuration") or {}).get("ingress") or {}
            if str(ingress.get("fqdn") or "").lower() == host:
                revs = f.children(body["id"] + "/revisions")
                weights = [(n, w) for n, w in sorted(effective_weights(body, revs).items()) if w > 0]
                if not weights:
                    return None
                with aca.lock:  # deterministic weighted round robin over 100 requests
                    i = aca._rr.get(rid, 0)
                    aca._rr[rid] = i + 1
                slot, acc = i % 100, 0
                for name, w in weights:
                    acc += w
                    if slot < acc:
                        return body, f.resources[f"{rid}/revisions/{name}".lower()]
                return body, f.resources[f"{rid}/revisions/{weights[-1][0]}".lower()]
    return None


def _template_hash(template: dict) -> str:
    t = {k: v for k, v in (template or {}).items() if k != "revisionSuffix"}
    return hashlib.sha256(json.dumps(t, sort_keys=True).encode()).hexdigest()


def _gib(value: Any) -> float:
    text = str(value or "0").strip()
    m = re.fullmatch(r"([0-9.]+)\s*(Gi|G|Mi|M)?", text)
    if not m:
        return -1.0
    n = float(m.group(1))
    return n / 1024 if (m.group(2) or "Gi").startswith("M") else n


def _loc(value: Any) -> str:
    return re.sub(r"[^a-z0-9]", "", str(value or "").lower())


def _apps_in(f: FakeAzure, env_path: str) -> list[str]:
    eid = env_path.lower().rstrip("/")
    return [k for k, v in f.resources.items()
            if re.search(r"/providers/microsoft\.app/containerapps/[^/]+$", k)
            and str(((v.get("properties") or {}).get("managedEnvironmentId")) or "").lower() == eid]


def _parent(path: str, suffix: str) -> str:
    low = path.lower().rstrip("/")
    return low[: -len(suffix)] if low.endswith(suffix.lower()) else low


def _not_found(f: FakeAzure, kind: str, name: str) -> Any:
    return f.error(404, "ResourceNotFound", f"The Resource 'Microsoft.App/{kind}/{name}' was not found.")


def _rows(payload: Any) -> int:
    body = payload.get("input_data", payload) if isinstance(payload, dict) else payload
    if isinstance(body, dict):
        body = body.get("data") or []
    return max(len(body), 1) if isinstance(body, list) else 1
