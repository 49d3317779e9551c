"""Azure Container Apps target: the scoring image as a container app (azure-mgmt-appcontainers).

Shape of a deployment: a managed environment (workload-profiles type, Consumption profile, plus a
serverless GPU profile when the profile needs a GPU, and custom-VNet integration when the profile
asks for it and a subnet is given), and one container app in multiple-revision mode running the
image (pulled from ACR with the app's system-assigned identity), with the scoring key as a Container
Apps secret mounted as a file, probes on the server's routes, and an HTTP-concurrency scale rule.

Rollout: every new version is a new revision that starts at 0 % traffic, must pass its readiness
check and a smoke test on its own revision URL, and only then receives traffic (blue-green: 100 %;
canary: a step, a second check, then 100 %). A revision that fails keeps no traffic and is
deactivated; the old one keeps serving. The first deploy has no traffic to protect.

The key is generated at apply time, lives only in the app's secrets, and is read back with
listSecrets when needed; it never enters plans, events, results, artifacts or the ledger.

Facts used (each with its source, checked 2026-12-06):
[ACA-ALLOC] CPU/memory pairs: https://learn.microsoft.com/azure/container-apps/containers#allocations
[ACA-REV]   revisions, revision-scope vs application-scope changes, revision FQDNs:
            https://learn.microsoft.com/azure/container-apps/revisions
[ACA-TRAFFIC] weights sum to 100, by revision name or label:
            https://learn.microsoft.com/azure/container-apps/traffic-splitting
[ACA-BG]    blue-green with revisions and traffic: https://learn.microsoft.com/azure/container-apps/blue-green-deployment
[ACA-GPU]   serverless GPU profiles Consumption-GPU-NC8as-T4 / -NC24-A100, regions; a Consumption GPU profile can
            be added to an existing environment (only Dedicated GPU profiles need a new one):
            https://learn.microsoft.com/azure/container-apps/gpu-serverless-overview (ms.date 06/02/2025) and
            https://learn.microsoft.com/azure/container-apps/workload-profiles-overview
[ACA-MI]    system identity pulls from ACR only after AcrPull: create with a public image, grant, then new revision:
            https://learn.microsoft.com/azure/container-apps/managed-identity-image-pull
[ACA-SCALE] HTTP scale rule (default 10 concurrent requests), scale to zero:
            https://learn.microsoft.com/azure/container-apps/scale-app
[ACA-PROBES] probes (startup/liveness/readiness; period <= 240 s, failureThreshold <= 10) and the
            azure-mgmt-appcontainers 5.1.0 ContainerAppProbe model: https://learn.microsoft.com/azure/container-apps/health-probes
[ACA-INGRESS] 240 s request timeout: https://learn.microsoft.com/azure/container-apps/ingress-overview
[ACA-QUOTA] 300 replicas per revision, 100 revisions per app: https://learn.microsoft.com/azure/container-apps/quotas
[ACA-NAMES] app names 2-32 lowercase letters, digits, hyphens, start with a letter, no '--':
            https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
from functools import cached_property
from typing import Annotated, Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

from advisor.models import ModelInfo, Sizing, WorkloadProfile

from .azure_common import (GUID, ClientSet, ImageReference, ImageRepository, Location, Matches, RegistryName,
                           ResourceGroup, SubscriptionId, azure_errors, memory_path, none_if_missing, remember)
from .base import DeployContext
from .errors import ConflictError, DeployError, InputError, RemoteError
from .extras import needs_extra
from .models import (DeploymentPlan, DeploymentResult, DeploymentSpec, DestroyResult, Finding, InvokeResult,
                     PlannedAction, Status, fingerprint)
from .webapp import ImageWebAppDeployer, auth_and_image_findings, credentials_missing_for, smoke_outcome

TARGET = "containerapps"
PORT = 8080  # the scoring server's port inside the image (templates/Dockerfile.j2)
LIVE_PATH, READY_PATH, SCORE_PATH = "/live", "/ready", "/score"  # deployers.serving routes (serving/app.py)
CONTAINER = "scoring"
KEY_SECRET = "scoring-key"
KEY_DIR = "/var/run/secrets/scoring"  # the image's CMD reads --key-file /var/run/secrets/scoring/key
BOOTSTRAP_IMAGE = "mcr.microsoft.com/k8se/quickstart:latest"  # public image the first revision runs [ACA-MI]
BOOTSTRAP_PORT = 80
CONSUMPTION = "Consumption"
# checkpoint keys of the app writes apply makes, in order (a resumed apply finishes a pending one first)
APP_WRITES = ("containerapps.app.bootstrap", "containerapps.app", "containerapps.traffic.canary",
              "containerapps.traffic.rollback", "containerapps.traffic")
REQUEST_TIMEOUT_S = 240  # [ACA-INGRESS]
MAX_REPLICAS = 300  # per revision [ACA-QUOTA]
DEFAULT_CONCURRENCY = 10  # HTTP scale rule default [ACA-SCALE]
# Consumption profile in a workload-profiles environment: 0.25..4 vCPU in 0.25 steps, memory 2 GiB per vCPU.
ALLOWED_PAIRS = {round(0.25 * i, 2): round(0.5 * i, 2) for i in range(1, 17)}  # [ACA-ALLOC]
GPU_PROFILES = {  # [ACA-GPU]: profile type, vCPU and GiB per replica, regions (doc 06/02/2025)
    "T4": {"type": "Consumption-GPU-NC8as-T4", "profile": "gpu-t4", "cpu": 8.0, "memory": 56.0,
           "regions": ("westus3", "australiaeast", "swedencentral", "westeurope")},
    "A100": {"type": "Consumption-GPU-NC24-A100", "profile": "gpu-a100", "cpu": 24.0, "memory": 220.0,
             "regions": ("westus3", "westus", "australiaeast", "swedencentral")},
}
# Startup budget: image pull and model load at a conservative ~5 MB/s, like the App Service start limit.
START_BASE_S, START_SECONDS_PER_MB = 120, 0.2
APP_RE = re.compile(r"^(?!.*--)[a-z][a-z0-9-]{0,30}[a-z0-9]$")  # [ACA-NAMES]
ENV_RE = r"(?!.*--)[A-Za-z0-9][A-Za-z0-9-]{0,58}[A-Za-z0-9]"
SUBNET_RE = (r"/subscriptions/" + GUID + r"/resourceGroups/[-\w.()]+/providers/Microsoft\.Network/"
             r"virtualNetworks/[-\w.]+/subnets/[-\w.]+")
VNET_NETWORKS = ("managed-vnet", "custom-vnet")


# ----------------------------------------------------------------- pure rules


def valid_pair(cpu: float, memory_gib: float) -> bool:
    """True for a Consumption CPU/memory pair Azure accepts [ACA-ALLOC]."""
    return ALLOWED_PAIRS.get(round(float(cpu), 2)) == round(float(memory_gib), 2)


def pairs_text() -> str:
    return ", ".join(f"{c:g}/{m:g}Gi" for c, m in ALLOWED_PAIRS.items())


def size_from_sizing(sizing: Optional[Sizing]) -> tuple[float, float]:
    """(vCPU, GiB) per replica from the advisor's sku ('2vCPU-4Gi') or its vCPU count."""
    m = re.match(r"^([0-9.]+)vCPU-([0-9.]+)Gi$", (sizing.sku if sizing else "") or "")
    if m:
        return float(m.group(1)), float(m.group(2))
    cpu = float(sizing.vcpus_per_instance) if sizing and sizing.vcpus_per_instance else 1.0
    cpu = min(max(cpu, 0.25), 4.0)
    return cpu, cpu * 2


def gpu_choice(profile: WorkloadProfile, setting: str) -> Optional[str]:
    """'T4' / 'A100' when the deployment runs on a serverless GPU profile, else None."""
    if setting in GPU_PROFILES:
        return setting
    if setting == "none":
        return None
    return "T4" if profile.inference.gpu in ("required", "preferred") else None


def revision_suffix(template: dict) -> str:
    """Deterministic suffix from the template: the same version always has the same revision name,
    so a resumed apply finds the revision it created instead of making another."""
    body = {k: v for k, v in template.items() if k != "revisionSuffix"}
    return "r" + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:8]


def startup_probe_budget(size_mb: float) -> tuple[int, int]:
    """(periodSeconds, failureThreshold) giving the model time to load (period <= 240, threshold <= 10)."""
    need = START_BASE_S + max(size_mb, 0.0) * START_SECONDS_PER_MB
    return int(min(240, max(10, math.ceil(need / 10)))), 10


# ----------------------------------------------------------------- settings


class ContainerAppsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subscription: SubscriptionId = Field(None, description="Azure subscription id (default: AZURE_SUBSCRIPTION_ID)")
    resource_group: ResourceGroup = Field(None, description=(
        "Resource group for the environment and the app (default: AZURE_RESOURCE_GROUP); it must exist"))
    location: Location = Field(None, description="Azure region (default: AZURE_LOCATION, else the profile's region)")
    app_name: Optional[str] = Field(None, description=(
        "Container app name: 2-32 lowercase letters, digits and single hyphens, starting with a letter "
        "(default: the deployment name)"))
    environment: Annotated[Optional[str], Matches(ENV_RE, "environment names have 2-60 letters, digits and single "
                                                          "hyphens")] = Field(None, description=(
        "Container Apps environment (default: <app>-env). An existing environment not created by deploy-advisor "
        "is used as it is and never deleted"))
    subnet_id: Annotated[Optional[str], Matches(SUBNET_RE, "subnet_id is a subnet resource id: /subscriptions/<id>/"
                                                           "resourceGroups/<rg>/providers/Microsoft.Network/"
                                                           "virtualNetworks/<vnet>/subnets/<subnet>")] = Field(
        None, description="Subnet for custom-VNet integration (needed when the profile's network is a VNet); "
                          "a workload-profiles environment needs at least a /27 delegated to Microsoft.App/environments")
    ingress: Literal["auto", "external", "internal"] = Field("auto", description=(
        "Ingress visibility (default: external for a public profile, internal for a VNet profile)"))
    cpu: Optional[float] = Field(None, gt=0, le=24, description=(
        "vCPU per replica (default: from the advisor's sizing). Consumption pairs: " + pairs_text()))
    memory_gib: Optional[float] = Field(None, gt=0, le=220, description=(
        "GiB of memory per replica (default: 2 x cpu, the only Consumption ratio)"))
    min_replicas: Optional[int] = Field(None, ge=0, le=MAX_REPLICAS, description=(
        "Minimum replicas (default: from sizing; 0 when the profile asks for scale to zero)"))
    max_replicas: Optional[int] = Field(None, ge=1, le=MAX_REPLICAS, description="Maximum replicas (default: from sizing)")
    concurrency: int = Field(DEFAULT_CONCURRENCY, ge=1, le=10000, description=(
        "Concurrent HTTP requests per replica before the HTTP scale rule adds a replica"))
    gpu: Literal["auto", "none", "T4", "A100"] = Field("auto", description=(
        "Serverless GPU profile (default: T4 when the profile requires or prefers a GPU)"))
    canary_percent: int = Field(10, ge=1, le=99, description="Traffic the new revision gets first in a canary rollout")
    registry: RegistryName = Field(None, description=(
        "Azure Container Registry to build the scoring image in (ACR Tasks) and pull it from (default: the ACR "
        "tagged managed-by: deploy-advisor in the resource group, else a new Basic one; the same rule as aks and "
        "appservice)"))
    registry_resource_group: ResourceGroup = Field(None, description=(
        "Resource group of the registry (default: the app's resource group)"))
    repository: ImageRepository = Field(None, description="Image repository in the registry (default: deploy-advisor/<name>)")
    image: ImageReference = Field(None, description=(
        "A ready image to run instead of building one, e.g. myacr.azurecr.io/scoring:1.0"))
    port: int = Field(PORT, ge=1, le=65535, description="Port the scoring server listens on in the container")
    assign_acr_pull: bool = Field(True, description=(
        "Grant the app's managed identity AcrPull on the registry (needs Owner or User Access Administrator)"))
    smoke_test: bool = Field(True, description="Score the model's input example on the new revision before moving traffic")
    health_timeout: Optional[int] = Field(None, ge=10, le=7200, description=(
        "Seconds to wait for a new revision to become ready (default: the startup probe's budget for the model's "
        "size + 120)"))
    health_poll_seconds: float = Field(10.0, ge=1, le=300, description="Seconds between readiness polls")

    @field_validator("app_name")
    @classmethod
    def _app_name(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not APP_RE.match(v):
            raise ValueError("app_name must be 2-32 lowercase letters, digits and single hyphens, starting with a "
                             "letter and ending with a letter or digit")
        return v


class Resolved(BaseModel):
    """Every name and number apply needs, resolved at plan time (plan.settings; no secrets)."""
    model_config = ConfigDict(extra="ignore")

    deployment: str
    subscription: str = ""
    resource_group: str = ""
    location: str
    app_name: str
    environment: str
    subnet_id: str = ""
    external: bool = True
    cpu: float
    memory_gib: float
    min_replicas: int
    max_replicas: int
    concurrency: int = DEFAULT_CONCURRENCY
    gpu: str = ""  # "" | "T4" | "A100"
    rollout: str = "blue-green"
    canary_percent: int = 10
    image: str = ""
    image_source: str  # "user" | "acr-build"
    registry: str = ""
    registry_resource_group: str = ""
    registry_how: str = ""  # images.RegistryChoice.how: given | found | new
    repository: str = ""
    port: int = PORT
    startup_period: int = 12
    startup_failures: int = 10
    assign_acr_pull: bool = True
    smoke_test: bool = True
    health_timeout: int = 600
    health_poll_seconds: float = 10.0
    model_uri: str = ""
    revision_suffix: str = ""  # chosen at apply (revisions_family); empty: the template's hash
    state_read: bool = False

    @property
    def uses_acr(self) -> bool:
        return ".azurecr.io/" in self.image

    @property
    def registry_server(self) -> str:
        return self.image.split("/", 1)[0] if self.uses_acr else ""

    @property
    def registry_id(self) -> str:
        from .images import registry_resource_id
        return registry_resource_id(self.subscription, self.registry_resource_group, self.registry)

    @property
    def environment_id(self) -> str:
        return (f"/subscriptions/{self.subscription or '<subscription>'}/resourceGroups/"
                f"{self.resource_group or '<resource-group>'}/providers/Microsoft.App/managedEnvironments/"
                f"{self.environment}")

    @property
    def workload_profile(self) -> str:
        return GPU_PROFILES[self.gpu]["profile"] if self.gpu else CONSUMPTION


# ----------------------------------------------------------------- desired state (one dict: SDK body, export, diff)


def workload_profiles(r: Resolved) -> list[dict]:
    out = [{"name": CONSUMPTION, "workloadProfileType": CONSUMPTION}]
    if r.gpu:
        out.append({"name": GPU_PROFILES[r.gpu]["profile"], "workloadProfileType": GPU_PROFILES[r.gpu]["type"]})
    return out


def environment_body(r: Resolved) -> dict:
    from .azure_common import tags

    props: dict[str, Any] = {"workloadProfiles": workload_profiles(r), "zoneRedundant": False}
    if r.subnet_id:
        props["vnetConfiguration"] = {"infrastructureSubnetId": r.subnet_id, "internal": not r.external}
    return {"location": r.location, "tags": tags(r.deployment), "properties": props}


def template_body(r: Resolved) -> dict:
    """The revision template: image, size, key file, probes on the server's routes, scale."""
    http = lambda path: {"path": path, "port": r.port, "scheme": "HTTP"}  # noqa: E731
    template: dict[str, Any] = {
        "containers": [{
            "name": CONTAINER, "image": r.image or "<image>",
            "resources": {"cpu": r.cpu, "memory": f"{r.memory_gib:g}Gi"},
            "env": [{"name": "DEPLOY_ADVISOR_MODEL", "value": r.model_uri}],
            "volumeMounts": [{"volumeName": KEY_SECRET, "mountPath": KEY_DIR}],
            "probes": [
                # startup on readiness: a replica is not started before the model is loaded
                {"type": "Startup", "httpGet": http(READY_PATH), "initialDelaySeconds": 1,
                 "periodSeconds": r.startup_period, "failureThreshold": r.startup_failures, "timeoutSeconds": 5},
                {"type": "Readiness", "httpGet": http(READY_PATH), "periodSeconds": 5, "failureThreshold": 3,
                 "timeoutSeconds": 5},
                {"type": "Liveness", "httpGet": http(LIVE_PATH), "periodSeconds": 10, "failureThreshold": 3,
                 "timeoutSeconds": 5},
            ]}],
        "volumes": [{"name": KEY_SECRET, "storageType": "Secret", "secrets": [{"secretRef": KEY_SECRET, "path": "key"}]}],
        "scale": {"minReplicas": r.min_replicas, "maxReplicas": r.max_replicas, "rules": [
            {"name": "http-concurrency", "http": {"metadata": {"concurrentRequests": str(r.concurrency)}}}]},
    }
    template["revisionSuffix"] = r.revision_suffix or revision_suffix(template)
    return template


def bootstrap_template(r: Resolved) -> dict:
    """The public image the first revision runs until the new identity may pull from ACR [ACA-MI]."""
    return {"revisionSuffix": "bootstrap",
            "containers": [{"name": CONTAINER, "image": BOOTSTRAP_IMAGE, "resources": {"cpu": 0.25, "memory": "0.5Gi"}}],
            "scale": {"minReplicas": 0, "maxReplicas": 1}}


def app_body(r: Resolved, key: Optional[str], traffic: list[dict], template: Optional[dict] = None,
             target_port: Optional[int] = None, with_registry: bool = True) -> dict:
    """The container app as ARM wants it. `key=None` leaves the secret value out (plans, exports)."""
    from .azure_common import tags

    secret: dict[str, Any] = {"name": KEY_SECRET}
    if key is not None:
        secret["value"] = key
    config: dict[str, Any] = {
        "activeRevisionsMode": "Multiple", "maxInactiveRevisions": 10,
        "ingress": {"external": r.external, "targetPort": target_port or r.port, "transport": "auto",
                    "allowInsecure": False, "traffic": traffic},
        "secrets": [secret],
    }
    if r.uses_acr and with_registry:
        config["registries"] = [{"server": r.registry_server, "identity": "system"}]
    return {"location": r.location, "tags": tags(r.deployment), "identity": {"type": "SystemAssigned"},
            "properties": {"managedEnvironmentId": r.environment_id, "workloadProfileName": r.workload_profile,
                           "configuration": config, "template": template or template_body(r)}}


def comparable(body: dict) -> dict:
    """What we manage of an app body (desired or read back), without secrets, traffic or server fields."""
    props = body.get("properties") or {}
    conf = props.get("configuration") or {}
    ingress = conf.get("ingress") or {}
    template = json.loads(json.dumps({k: v for k, v in (props.get("template") or {}).items()
                                      if k != "revisionSuffix"}))
    for c in template.get("containers") or []:
        res = c.get("resources") or {}
        mem = re.match(r"^\s*([0-9.]+)", str(res.get("memory") or ""))
        c["resources"] = {"cpu": float(res.get("cpu") or 0), "memoryGiB": float(mem.group(1)) if mem else 0.0}
    return {
        "environment": str(props.get("managedEnvironmentId") or props.get("environmentId") or "").lower(),
        "workloadProfile": props.get("workloadProfileName") or CONSUMPTION,
        "identity": str((body.get("identity") or {}).get("type") or ""),
        "mode": str(conf.get("activeRevisionsMode") or "Single"),
        "ingress": {k: ingress.get(k) for k in ("external", "targetPort", "allowInsecure")},
        "registries": sorted((x.get("server"), x.get("identity")) for x in conf.get("registries") or []),
        "secrets": sorted(s.get("name") for s in conf.get("secrets") or []),
        "template": template,
    }


def project(observed: Any, desired: Any) -> Any:
    """`observed` cut to the shape of `desired`: fields Azure fills in by itself (defaults, server
    fields) are not drift. Lists compare item by item when their lengths match."""
    if isinstance(desired, dict) and isinstance(observed, dict):
        return {k: project(observed.get(k), v) for k, v in desired.items()}
    if isinstance(desired, list) and isinstance(observed, list) and len(desired) == len(observed):
        return [project(o, d) for o, d in zip(observed, desired)]
    return observed


def revisions_family(r: Resolved, observed_revisions: list[dict], latest: str) -> str:
    """The revision suffix for the desired template: its hash, or hash-2, -3... when that name belongs to
    an older revision (a rollback): Azure refuses a suffix that exists with another template."""
    base = revision_suffix(template_body(r.model_copy(update={"revision_suffix": ""})))
    names = {x["name"].lower() for x in observed_revisions}
    for i in range(1, 1000):
        suffix = base if i == 1 else f"{base}-{i}"
        name = f"{r.app_name}--{suffix}".lower()
        if name == (latest or "").lower() or name not in names:
            return suffix
    raise RemoteError(f"{r.app_name} has too many revisions of this template", "delete old revisions")


# ----------------------------------------------------------------- SDK plumbing


class _Clients(ClientSet):
    """The SDK clients one call needs, built lazily with the context's credential and kwargs."""

    @cached_property
    def aca(self) -> Any:
        with needs_extra(TARGET):
            from azure.mgmt.appcontainers import ContainerAppsAPIClient
        return ContainerAppsAPIClient(self.credential, self.subscription, **self.kwargs)

    @cached_property
    def endpoint(self) -> Any:
        """The app's and revisions' own URLs (readiness, /score, log stream): same transport and retries."""
        from .https_endpoint import Endpoint
        return Endpoint(self.ctx, self.kwargs, "https://azurecontainerapps.io")


def _json(model: Any) -> dict:
    """An SDK model (typespec MutableMapping) as plain JSON with REST (camelCase) keys."""
    if model is None:
        return {}
    if hasattr(model, "as_dict"):
        return json.loads(json.dumps(model.as_dict(), default=str))
    return json.loads(json.dumps(dict(model), default=str))


# ----------------------------------------------------------------- the deployer


class ContainerAppsDeployer(ImageWebAppDeployer):
    name = TARGET
    title = "Azure Container Apps"
    description = ("Serverless container app: revisions with a smoke test before any traffic moves (blue-green or "
                   "canary), HTTP-concurrency autoscale with scale to zero, serverless GPU, managed identity pulls "
                   "the scoring image from ACR.")
    requires_azure = True
    Settings = ContainerAppsSettings
    signed_out_skips = "region, quota, name and registry checks"

    # ---- resolution ------------------------------------------------------------------
    def _resolve(self, spec: DeploymentSpec, s: ContainerAppsSettings, ctx: DeployContext,
                 info: Optional[ModelInfo], sizing: Optional[Sizing]) -> tuple[Resolved, list[str]]:
        notes: list[str] = []
        p = spec.profile
        app = s.app_name or spec.name
        location = s.location or ctx.location or p.region
        gpu = gpu_choice(p, s.gpu) or ""
        if gpu and s.gpu == "auto" and p.inference.gpu == "preferred" and location not in GPU_PROFILES[gpu]["regions"]:
            notes.append(f"the profile prefers a GPU, but {location} offers no serverless {gpu}: CPU replicas "
                         f"[ACA-GPU] (GPU regions: {', '.join(GPU_PROFILES[gpu]['regions'])})")
            gpu = ""
        if gpu:
            g = GPU_PROFILES[gpu]
            cpu, mem = s.cpu or g["cpu"], s.memory_gib or g["memory"]
            notes.append(f"serverless GPU: workload profile {g['type']} ({g['cpu']:g} vCPU, {g['memory']:g} GiB, "
                         "one GPU per replica) [ACA-GPU]")
        else:
            base_cpu, base_mem = size_from_sizing(sizing)
            cpu = s.cpu or base_cpu
            mem = s.memory_gib or (cpu * 2 if s.cpu else base_mem)
            if not s.cpu:
                notes.append(f"{cpu:g} vCPU / {mem:g} GiB per replica from the advisor's sizing "
                             f"({sizing.sku if sizing else 'default'})")
        lo = s.min_replicas if s.min_replicas is not None else (
            0 if p.scale.scale_to_zero else (sizing.min if sizing else 1))
        hi = s.max_replicas or max(sizing.max if sizing else 1, lo, 1)
        hi = min(hi, MAX_REPLICAS)
        if hi < lo:
            raise InputError(f"max_replicas ({hi}) is below min_replicas ({lo})", "raise max_replicas")
        if lo == 0:
            notes.append("scale to zero: min replicas 0, so the first request after an idle period waits for a "
                         "replica to start and load the model (cold start)")
        network = p.security.network
        external = {"external": True, "internal": False}.get(s.ingress, network not in VNET_NETWORKS)
        if not external and s.smoke_test:
            notes.append("internal ingress: the readiness check and smoke test run from this machine, which needs a "
                         "route into the VNet (run from an agent in it), or --set smoke_test=false")
        if p.operations.rollout == "canary":
            notes.append(f"canary: the new revision gets {s.canary_percent}% after its smoke test, then 100% after a "
                         "second healthy check")
        image_source, image = ("user", s.image) if s.image else ("acr-build", "")
        size_mb = info.size_mb if info and info.size_mb else p.model.size_mb
        period, failures = startup_probe_budget(size_mb)
        r = Resolved(
            deployment=spec.name, subscription=s.subscription or ctx.subscription_id or "",
            resource_group=s.resource_group or ctx.resource_group or "",
            location=location, app_name=app, environment=s.environment or f"{app}-env"[:60], subnet_id=s.subnet_id or "", external=external,
            cpu=round(float(cpu), 2), memory_gib=round(float(mem), 2), min_replicas=lo, max_replicas=hi,
            concurrency=s.concurrency, gpu=gpu, rollout=p.operations.rollout, canary_percent=s.canary_percent,
            image=image, image_source=image_source, registry=s.registry or "",
            registry_resource_group=s.registry_resource_group or s.resource_group or ctx.resource_group or "",
            repository=s.repository or f"deploy-advisor/{spec.name}", port=s.port, startup_period=period,
            startup_failures=failures, assign_acr_pull=s.assign_acr_pull, smoke_test=s.smoke_test,
            health_timeout=s.health_timeout or period * failures + 120, health_poll_seconds=s.health_poll_seconds, model_uri=spec.model)
        return r, notes

    def _planned_image(self, ctx: DeployContext, s: ContainerAppsSettings, info: Optional[ModelInfo], r: Resolved,
                       read_azure: bool) -> tuple[Any, dict[str, Any]]:
        """The shared image path at plan time (images.plan_web_image): (registry choice or None, build
        context); the tag stays pending while a registered model still has to be downloaded."""
        from . import images

        if r.image_source != "acr-build":
            return None, {}
        return images.plan_web_image(ctx, r, info, given=s.registry, given_resource_group=s.registry_resource_group,
                                     read_azure=read_azure, with_files=info is not None and bool(info.local_path))

    # ---- findings that need no Azure ---------------------------------------------------
    def _static_findings(self, spec: DeploymentSpec, r: Resolved, info: Optional[ModelInfo]) -> list[Finding]:
        p = spec.profile
        f: list[Finding] = [Finding(check="names", level="pass",
                                    message=f"app {r.app_name}, environment {r.environment} follow the naming rules")]
        if r.gpu:
            g = GPU_PROFILES[r.gpu]
            ok = r.location in g["regions"]
            f.append(Finding(check="gpu", level="pass" if ok else "fail",
                             message=f"{g['type']} " + ("is offered in " if ok else "is not offered in ") + r.location,
                             hint="" if ok else f"deploy to one of: {', '.join(g['regions'])} [ACA-GPU]"))
            if not (r.cpu <= g["cpu"] and r.memory_gib <= g["memory"]):
                f.append(Finding(check="cpu-memory", level="fail",
                                 message=f"{r.cpu:g} vCPU / {r.memory_gib:g} GiB exceeds the {g['type']} replica "
                                         f"({g['cpu']:g} vCPU, {g['memory']:g} GiB)", hint="lower cpu / memory_gib"))
        elif valid_pair(r.cpu, r.memory_gib):
            f.append(Finding(check="cpu-memory", level="pass",
                             message=f"{r.cpu:g} vCPU / {r.memory_gib:g} GiB is an allowed Consumption pair"))
        else:
            f.append(Finding(check="cpu-memory", level="fail",
                             message=f"{r.cpu:g} vCPU / {r.memory_gib:g} GiB is not an allowed Consumption pair",
                             hint=f"use one of {pairs_text()} [ACA-ALLOC]"))
        if p.inference.gpu == "required" and not r.gpu:
            f.append(Finding(check="gpu", level="fail", message="the profile requires a GPU but gpu=none",
                             hint="--set gpu=T4 (or A100) for a serverless GPU profile"))
        secs = p.inference.max_request_seconds
        level = "fail" if secs > REQUEST_TIMEOUT_S else "warn" if secs > 0.8 * REQUEST_TIMEOUT_S else "pass"
        f.append(Finding(check="request-timeout", level=level,
                         message=f"longest request {secs:g} s; Container Apps ingress times out at {REQUEST_TIMEOUT_S} s",
                         hint="" if level == "pass" else "use aks (up to 300 s) or a batch endpoint for long requests"))
        if r.min_replicas == 0:
            f.append(Finding(check="cold-start", level="warn",
                             message="min replicas 0: after an idle period the first request waits for a replica to "
                                     "start and load the model", hint="--set min_replicas=1 keeps one replica warm"))
        if p.operations.rollout == "shadow":
            f.append(Finding(check="rollout", level="fail",
                             message="shadow (mirrored) traffic is not available on Container Apps: traffic can only "
                                     "be split between revisions [ACA-TRAFFIC]",
                             hint="set operations.rollout: canary (a small traffic share first) or use azureml"))
        if p.security.network == "on-premises":
            f.append(Finding(check="network", level="fail", message="Container Apps cannot run on-premises",
                             hint="use aks with Azure Arc"))
        elif p.security.network in VNET_NETWORKS and not r.subnet_id:
            f.append(Finding(check="network", level="fail",
                             message=f"the profile asks for {p.security.network} networking but no subnet is given",
                             hint="--set subnet_id=/subscriptions/.../virtualNetworks/VNET/subnets/SUBNET "
                                  "(at least /27, delegated to Microsoft.App/environments)"))
        elif r.subnet_id:
            f.append(Finding(check="network", level="pass",
                             message=f"VNet-integrated environment, {'external' if r.external else 'internal'} ingress"))
        f += auth_and_image_findings(p, r, auth_hint="enable Container Apps built-in authentication on the app")
        return f

    # ---- preflight (the outline is ImageWebAppDeployer.preflight) ------------------------
    def _remote_findings(self, ctx: DeployContext, r: Resolved) -> list[Finding]:
        from .azure_common import is_ours

        cl = _Clients(ctx, r.subscription)
        out: list[Finding] = []
        try:
            with azure_errors("list workload profile types"):
                types = {t.name: t for t in cl.aca.available_workload_profiles.get(r.location)}
            want = GPU_PROFILES[r.gpu]["type"] if r.gpu else CONSUMPTION
            if not types:
                out.append(Finding(check="region", level="fail", message=f"Container Apps is not offered in {r.location}",
                                   hint="pick another region"))
            elif want not in types:
                out.append(Finding(check="region", level="fail", message=f"{r.location} does not offer {want}",
                                   hint="pick a region that does [ACA-GPU]"))
            else:
                out.append(Finding(check="region", level="pass", message=f"{r.location} offers {want}"))
        except DeployError as e:
            out.append(Finding(check="region", level="warn", message=f"could not list profiles: {e.message}", hint=e.hint))
        if r.gpu:
            out.append(self._gpu_quota(cl, r))
        try:
            with azure_errors("read the app and the environment"):
                app = none_if_missing(lambda: cl.aca.container_apps.get(r.resource_group, r.app_name))
                env = none_if_missing(lambda: cl.aca.managed_environments.get(r.resource_group, r.environment))
            if app is not None and not is_ours(app.tags, r.deployment):
                out.append(Finding(check="name-available", level="fail",
                                   message=f"container app {r.app_name} exists and was not created for this deployment",
                                   hint="choose another app_name"))
            else:
                out.append(Finding(check="name-available", level="pass", message=f"{r.app_name}: " + (
                    "ours, it will be updated" if app is not None else "free in the resource group")))
            if env is not None:
                have = {p.get("workloadProfileType") for p in _json(env).get("properties", {}).get("workloadProfiles") or []}
                ours = is_ours(env.tags, r.deployment)
                if r.gpu and GPU_PROFILES[r.gpu]["type"] not in have and not ours:
                    g = GPU_PROFILES[r.gpu]
                    out.append(Finding(check="environment", level="fail",
                                       message=f"environment {r.environment} (not created by deploy-advisor) has no "
                                               f"{g['type']} profile, and it is used as it is [ACA-GPU]",
                                       hint=f"az containerapp env workload-profile add -g {r.resource_group} -n "
                                            f"{r.environment} --workload-profile-name {g['profile']} "
                                            f"--workload-profile-type {g['type']}; or --set environment=<a new name>"))
                elif r.gpu and GPU_PROFILES[r.gpu]["type"] not in have:
                    out.append(Finding(check="environment", level="pass", message=f"{r.environment} is ours: the "
                                       f"{GPU_PROFILES[r.gpu]['type']} profile will be added"))
                else:
                    owner = "ours" if is_ours(env.tags, r.deployment) else "not ours: used as it is, never deleted"
                    out.append(Finding(check="environment", level="pass", message=f"{r.environment} exists ({owner})"))
        except DeployError as e:
            out.append(Finding(check="name-available", level="warn", message=f"could not read: {e.message}", hint=e.hint))
        out.append(self._registry_finding(ctx, r))
        return out

    def _gpu_quota(self, cl: _Clients, r: Resolved) -> Finding:
        """Serverless GPU quota: EA / pay-as-you-go subscriptions get T4 and A100 by default, others ask [ACA-GPU]."""
        token = r.gpu.lower()
        try:
            with azure_errors("read Container Apps usages"):
                usages = list(cl.aca.usages.list(r.location))
        except DeployError as e:
            return Finding(check="gpu-quota", level="warn", message=f"GPU quota not readable: {e.message}", hint=e.hint)
        for u in usages:
            name = str((u.name or {}).get("value") or "").lower()
            if token in name and u.limit is not None:
                free = int(u.limit) - int(u.current_value or 0)
                need = r.max_replicas
                if free < need:
                    return Finding(check="gpu-quota", level="fail", message=f"{r.gpu} GPU quota: {free} free in "
                                   f"{r.location}, {need} needed (max replicas)",
                                   hint="request serverless GPU quota with a support request, or lower max_replicas")
                return Finding(check="gpu-quota", level="pass", message=f"{r.gpu} GPU quota: {free} free, {need} needed")
        return Finding(check="gpu-quota", level="warn", message=f"no {r.gpu} GPU quota figure for {r.location}",
                       hint="EA and pay-as-you-go subscriptions have T4/A100 quota by default; others request it")

    def _registry_finding(self, ctx: DeployContext, r: Resolved) -> Finding:
        from . import images

        if not r.uses_acr:
            return Finding(check="registry", level="pass", message="image not in ACR: pulled without an identity")
        try:
            reg = images.get_registry(ctx, r.registry_resource_group, r.registry) if r.registry else None
            if r.registry and reg is None:
                if r.registry_how == "new":
                    return Finding(check="registry", level="pass", message=f"registry {r.registry} will be created "
                                   "(Basic, admin user off, tagged managed-by: deploy-advisor)")
                return Finding(check="registry", level="fail", message=f"registry {r.registry} not found in "
                               f"{r.registry_resource_group}", hint="create it, or set registry= to an existing ACR")
            if r.registry and r.assign_acr_pull and not images.can_assign_roles(ctx, r.registry_id):
                return Finding(check="registry", level="fail", message=f"you cannot grant AcrPull on {r.registry}",
                               hint="ask an Owner for the role assignment, or run as Owner / User Access Administrator")
        except DeployError as e:
            return Finding(check="registry", level="warn", message=f"could not check the registry: {e.message}",
                           hint=e.hint)
        return Finding(check="registry", level="pass", message=f"pull from {r.registry_server} with the app's identity")

    # ---- observe --------------------------------------------------------------------
    def _observe(self, cl: _Clients, r: Resolved) -> dict[str, Any]:
        """What is in Azure now, reduced to what we manage (no secret values)."""
        from .azure_common import is_ours

        out: dict[str, Any] = {"environment": None, "app": None, "revisions": []}
        with azure_errors(f"read environment {r.environment}"):
            env = none_if_missing(lambda: cl.aca.managed_environments.get(r.resource_group, r.environment))
        if env is not None:
            e = _json(env)
            props = e.get("properties") or {}
            out["environment"] = {"ours": is_ours(e.get("tags"), r.deployment), "domain": props.get("defaultDomain"),
                                  "state": props.get("provisioningState"),
                                  "profiles": sorted(p.get("workloadProfileType") for p in props.get("workloadProfiles") or [])}
        with azure_errors(f"read container app {r.app_name}"):
            app = none_if_missing(lambda: cl.aca.container_apps.get(r.resource_group, r.app_name))
        if app is None:
            return out
        a = _json(app)
        props = a.get("properties") or {}
        ingress = (props.get("configuration") or {}).get("ingress") or {}
        out["app"] = {"ours": is_ours(a.get("tags"), r.deployment), "spec": comparable(a),
                      "fqdn": ingress.get("fqdn") or "", "state": props.get("provisioningState"),
                      "principal": (a.get("identity") or {}).get("principalId"),
                      "latest": props.get("latestRevisionName")}
        with azure_errors(f"list revisions of {r.app_name}"):
            revs = [_json(x) for x in cl.aca.container_apps_revisions.list_revisions(r.resource_group, r.app_name)]
        out["revisions"] = sorted(({"name": x["name"], "active": bool(x["properties"].get("active")),
                                    "weight": int(x["properties"].get("trafficWeight") or 0),
                                    "fqdn": x["properties"].get("fqdn") or "",
                                    "image": ((x["properties"].get("template") or {}).get("containers") or [{}])[0].get("image"),
                                    "created": x["properties"].get("createdTime") or "",
                                    "health": x["properties"].get("healthState")} for x in revs),
                                  key=lambda x: x["created"])
        return out

    @staticmethod
    def _state_hash(observed: dict) -> str:
        """What a stale-plan check compares: app spec, environment, traffic (not replica counts)."""
        app = observed.get("app") or {}
        return fingerprint({"env": observed.get("environment"), "app": app.get("spec"),
                            "traffic": {x["name"]: x["weight"] for x in observed.get("revisions") or [] if x["weight"]}})

    def _target_revision(self, r: Resolved) -> str:
        return f"{r.app_name}--{template_body(r)['revisionSuffix']}"

    def _in_sync(self, r: Resolved, observed: dict) -> bool:
        """Our app runs the desired template and configuration, its revision has all traffic, no other is active."""
        app = observed.get("app")
        want = comparable(app_body(r, None, []))
        if not app or project(app["spec"], want) != want:
            return False
        latest = str(app.get("latest") or "").lower()
        if latest != f"{r.app_name}--{revisions_family(r, observed['revisions'], latest)}".lower():
            return False
        return all((x["active"] and x["weight"] == 100) if x["name"].lower() == latest else not x["active"]
                   for x in observed["revisions"])

    # ---- plan -------------------------------------------------------------------------
    def plan(self, spec: DeploymentSpec, ctx: DeployContext) -> DeploymentPlan:
        s = self._settings(spec)
        info, sizing, download = self._model_for_plan(spec, ctx, s)
        r, notes = self._resolve(spec, s, ctx, info, sizing)
        missing = credentials_missing_for(r, ctx)
        choice, build = self._planned_image(ctx, s, info, r, read_azure=not missing)
        if choice is not None:
            notes.append(choice.describe())
        findings = self._static_findings(spec, r, info)
        observed: Optional[dict] = None
        if missing:
            notes.append(self._state_not_read_note(missing))
        else:
            observed = self._observe(_Clients(ctx, r.subscription), r)
            r.state_read = True
            if observed.get("app") and not observed["app"]["ours"]:
                raise ConflictError(f"container app {r.app_name} exists and is not managed by this deployment",
                                    "choose another app_name")
        actions = self._actions(r, observed)
        if choice is not None and choice.plan_action() is not None and any(a.kind != "no-op" for a in actions):
            actions.insert(0, choice.plan_action())
        if download is not None:
            actions.insert(0, download)
        return DeploymentPlan(
            spec=spec, target=TARGET, model_info=info, sizing=sizing, settings=r.model_dump(mode="json"),
            actions=actions, artifacts=self._artifacts(r, build), findings=findings,
            state_fingerprint=self._state_hash(observed) if observed is not None else "",
            desired_fingerprint=fingerprint(comparable(app_body(r, None, []))), notes=notes)

    def _actions(self, r: Resolved, observed: Optional[dict]) -> list[PlannedAction]:
        acts: list[PlannedAction] = []
        obs = observed or {}
        env = obs.get("environment")
        profiles = ", ".join(p["workloadProfileType"] for p in workload_profiles(r))
        if env is None:
            acts.append(PlannedAction(kind="create", resource_type="Microsoft.App/managedEnvironments",
                                      resource=r.environment, detail=f"workload profiles: {profiles}" +
                                      (", VNet-integrated" if r.subnet_id else "") +
                                      ("" if observed is not None else " (Azure state not read)")))
        elif self._missing_gpu_profile(r, env):
            acts.append(PlannedAction(kind="update", resource_type="Microsoft.App/managedEnvironments",
                                      resource=r.environment, detail=f"add workload profile "
                                      f"{GPU_PROFILES[r.gpu]['profile']} ({GPU_PROFILES[r.gpu]['type']})"))
        else:
            acts.append(PlannedAction(kind="no-op", resource_type="Microsoft.App/managedEnvironments",
                                      resource=r.environment, detail="" if env["ours"] else
                                      "existing environment not created by deploy-advisor: used as it is"))
        app = obs.get("app")
        if self._in_sync(r, obs):
            acts.append(PlannedAction(kind="no-op", resource_type="Microsoft.App/containerApps", resource=r.app_name))
            return acts
        if r.image_source == "acr-build":
            acts.append(PlannedAction(kind="create", resource_type="image", resource=r.image or r.repository,
                                      detail=f"ACR Tasks build in {r.registry} (skipped when the tag exists)"))
        revision = self._target_revision(r)
        if app is None:
            acts.append(PlannedAction(kind="create", resource_type="Microsoft.App/containerApps", resource=r.app_name,
                                      detail=f"first deploy: revision {revision} ({r.image or '<image>'}), "
                                             f"{r.cpu:g} vCPU / {r.memory_gib:g} GiB, replicas {r.min_replicas}-"
                                             f"{r.max_replicas}, {'external' if r.external else 'internal'} ingress",
                                      changes={"image": r.image, "revision": revision}))
            if r.uses_acr and r.assign_acr_pull:
                acts.append(PlannedAction(kind="create", resource_type="Microsoft.Authorization/roleAssignments",
                                          resource=f"AcrPull on {r.registry or r.registry_server}",
                                          detail="for the app's system-assigned identity (the first revision runs a "
                                                 "public image until the grant is in place)"))
            return acts
        from .planning import dotted_diff

        want = comparable(app_body(r, None, []))
        changes = dotted_diff(project(app["spec"], want), want)
        serving = [f"{x['name']} {x['weight']}%" for x in obs["revisions"] if x["weight"]]
        exists = any(x["name"].lower() == revision.lower() for x in obs["revisions"])
        acts.append(PlannedAction(kind="update", resource_type="Microsoft.App/containerApps/revisions",
                                  resource=revision, detail=("reactivate" if exists else "new revision") +
                                  f" at 0% traffic (now serving: {', '.join(serving) or 'nothing'}), readiness + "
                                  "smoke test on its revision URL", changes=changes))
        step = (f"{r.canary_percent}%, check again, then 100%" if r.rollout == "canary" else "100% (blue-green)")
        acts.append(PlannedAction(kind="update", resource_type="Microsoft.App/containerApps/traffic",
                                  resource=r.app_name, detail=f"traffic to {revision}: {step}; on failure traffic "
                                  "stays and the new revision is deactivated"))
        return acts

    # ---- artifacts (export) ---------------------------------------------------------------
    def _artifacts(self, r: Resolved, build: dict[str, Any]) -> dict[str, str]:
        """YAML for `az containerapp create --yaml`, an ARM template + parameters, README, build context."""
        from . import containerapps_export as ex

        return ex.artifacts(r, build)

    # ---- apply ----------------------------------------------------------------------------
    def apply(self, plan: DeploymentPlan, ctx: DeployContext) -> DeploymentResult:
        from . import images

        r = Resolved.model_validate(plan.settings)
        self._require_applyable(r, ctx)
        self._refuse_what_cannot_work(plan.spec.profile, r)
        files = images.apply_model_files(ctx, plan, r) if r.image_source == "acr-build" else {}
        cl = _Clients(ctx, r.subscription)
        ctx.step(f"read the current state of {r.app_name}")
        observed = self._observe(cl, r)
        if observed.get("app") and not observed["app"]["ours"]:
            raise ConflictError(f"container app {r.app_name} exists and is not managed by this deployment",
                                "choose another app_name")
        if self._finish_pending_writes(cl, ctx, r):
            observed = self._observe(cl, r)
        r.revision_suffix = revisions_family(r, observed["revisions"], (observed.get("app") or {}).get("latest", ""))
        if self._in_sync(r, observed):
            host = observed["app"]["fqdn"]
            self._remember(ctx, r, observed)
            return DeploymentResult(name=r.deployment, target=TARGET, status="no-change", changed=False,
                                    endpoint_url=f"https://{host}{SCORE_PATH}", curl=_curl(host),
                                    message="already up to date", outputs=self._outputs(r, host))
        resuming = bool(ctx.checkpoints)
        if not resuming:
            self._refuse_if_changed(plan, observed, r)
        if r.image_source == "acr-build":
            r.image = images.ensure_web_image(ctx, r, files)
        self._ensure_environment(cl, ctx, r, observed)
        if observed.get("app") is None:
            return self._first_deploy(cl, ctx, r, plan)
        return self._update(cl, ctx, r, plan, observed)

    @staticmethod
    def _refuse_what_cannot_work(p: WorkloadProfile, r: Resolved) -> None:
        """The preflight failures apply must not run into (one line each, exit 2 in the CLI)."""
        if r.rollout == "shadow":
            raise InputError("shadow rollout is not available on Container Apps",
                             "set operations.rollout: canary in the profile, or deploy to azureml")
        if p.security.network == "on-premises":
            raise InputError("Container Apps cannot run on-premises", "use aks with Azure Arc")
        if p.security.network in VNET_NETWORKS and not r.subnet_id:
            raise InputError(f"the profile asks for {p.security.network} networking but no subnet is given",
                             "--set subnet_id=/subscriptions/.../virtualNetworks/VNET/subnets/SUBNET")
        if not r.gpu and not valid_pair(r.cpu, r.memory_gib):
            raise InputError(f"{r.cpu:g} vCPU / {r.memory_gib:g} GiB is not an allowed Consumption pair",
                             f"use one of {pairs_text()}")

    def _ensure_environment(self, cl: _Clients, ctx: DeployContext, r: Resolved, observed: dict) -> None:
        with needs_extra(TARGET):
            from azure.mgmt.appcontainers.models import ManagedEnvironment

        from .azure_common import pending, wait

        env = observed.get("environment")
        token = pending(ctx, "containerapps.env")
        body = environment_body(r)
        if env is not None and not token:
            if not self._missing_gpu_profile(r, env):
                if env.get("state") not in (None, "Succeeded"):
                    ctx.emit("warning", f"environment {r.environment} is {env.get('state')}")
                return
            if not env["ours"]:
                raise InputError(f"environment {r.environment} has no {GPU_PROFILES[r.gpu]['type']} profile and was "
                                 "not created by deploy-advisor", "add the profile, or --set environment=<a new name>")
            with azure_errors(f"read environment {r.environment}"):  # a PUT replaces: keep what is there
                body = _json(cl.aca.managed_environments.get(r.resource_group, r.environment))
            body["properties"]["workloadProfiles"].append(workload_profiles(r)[-1])
            ctx.step(f"add the {GPU_PROFILES[r.gpu]['type']} profile to environment {r.environment}")
        else:
            ctx.step(f"create Container Apps environment {r.environment} in {r.location}")
        with azure_errors(f"write environment {r.environment}"):
            poller = (cl.aca.managed_environments.begin_create_or_update(
                r.resource_group, r.environment, None, continuation_token=token) if token else
                cl.aca.managed_environments.begin_create_or_update(
                    r.resource_group, r.environment, ManagedEnvironment(body)))
            wait(poller, ctx, f"environment {r.environment}", "containerapps.env")
        if env is None:
            self._remember(ctx, r, None, env_owned=True)

    @staticmethod
    def _missing_gpu_profile(r: Resolved, env: dict) -> bool:
        return bool(r.gpu) and GPU_PROFILES[r.gpu]["type"] not in (env.get("profiles") or [])

    def _put_app(self, cl: _Clients, ctx: DeployContext, r: Resolved, body: dict, key_name: str, what: str) -> dict:
        """PUT the app (or resume the PUT recorded under `key_name`) and return it as read back."""
        with needs_extra(TARGET):
            from azure.mgmt.appcontainers.models import ContainerApp

        from .azure_common import pending, wait

        token = pending(ctx, key_name)
        with azure_errors(what):
            poller = (cl.aca.container_apps.begin_create_or_update(r.resource_group, r.app_name, None,
                                                                   continuation_token=token) if token else
                      cl.aca.container_apps.begin_create_or_update(r.resource_group, r.app_name, ContainerApp(body)))
            done = _json(wait(poller, ctx, what, key_name))  # the poller's final GET
            return done if done.get("properties") else _json(cl.aca.container_apps.get(r.resource_group, r.app_name))

    def _finish_pending_writes(self, cl: _Clients, ctx: DeployContext, r: Resolved) -> bool:
        """After a crash: follow the app writes Azure accepted to their end (continuation tokens from the
        ledger) instead of sending new ones over them. True when there was one."""
        from .azure_common import pending

        found = False
        for key_name in APP_WRITES:
            if pending(ctx, key_name):
                ctx.emit("info", f"resuming the interrupted write {key_name} of {r.app_name}")
                self._put_app(cl, ctx, r, {}, key_name, f"container app {r.app_name} (resumed)")
                found = True
        return found

    def _read_key(self, cl: _Clients, r: Resolved) -> Optional[str]:
        """The scoring key from the app's secrets (listSecrets), never stored by us."""
        from .azure_common import register_secret

        with azure_errors("read the scoring key"):
            found = none_if_missing(lambda: cl.aca.container_apps.list_secrets(r.resource_group, r.app_name))
        key = next((s.value for s in (found.value if found is not None else []) if s.name == KEY_SECRET), None)
        register_secret(key)
        return key

    def _first_deploy(self, cl: _Clients, ctx: DeployContext, r: Resolved, plan: DeploymentPlan) -> DeploymentResult:
        from . import images
        from .azure_common import register_secret

        key = secrets.token_urlsafe(32)
        register_secret(key)
        latest = [{"latestRevision": True, "weight": 100}]
        principal = None
        if r.uses_acr and r.assign_acr_pull:
            # the identity exists only once the app does: start on a public image, grant AcrPull, then
            # roll the real image as a new revision [ACA-MI]
            ctx.step(f"create container app {r.app_name} with its identity (public bootstrap image)")
            boot = self._put_app(cl, ctx, r, app_body(r, key, latest, bootstrap_template(r), BOOTSTRAP_PORT,
                                                      with_registry=False),
                                 "containerapps.app.bootstrap", f"container app {r.app_name} (bootstrap)")
            principal = (boot.get("identity") or {}).get("principalId")
            if not principal:
                raise RemoteError(f"{r.app_name} has no managed identity principal", "apply again")
            self._remember(ctx, r, None, principals=[principal])
            ctx.step(f"grant AcrPull on {r.registry or r.registry_server} to the app's identity")
            images.ensure_acr_pull(ctx, registry_id=r.registry_id, principal_id=principal)
        ctx.step(f"deploy {r.image} as revision {self._target_revision(r)}")
        app = self._put_app(cl, ctx, r, app_body(r, key, latest), "containerapps.app",
                            f"container app {r.app_name}")
        self._remember(ctx, r, None, principals=[principal] if principal else [])
        revision = self._target_revision(r)
        rev = self._revision(cl, r, revision)
        ok, why, smoke = self._verify(cl, ctx, r, rev.get("fqdn") or "", key, plan, f"revision {revision}")
        if not ok:
            raise RemoteError(f"{r.app_name} was created but revision {revision} failed its checks: {why}",
                              f"see `deploy-advisor logs {r.deployment}`; fix the image and apply again",
                              code="RevisionUnhealthy")
        self._deactivate_others(cl, ctx, r, revision)
        host = ((app.get("properties") or {}).get("configuration") or {}).get("ingress", {}).get("fqdn") or ""
        return self._succeeded(r, host, smoke, f"created (revision {revision})")

    def _update(self, cl: _Clients, ctx: DeployContext, r: Resolved, plan: DeploymentPlan,
                observed: dict) -> DeploymentResult:
        from .azure_common import emit, register_secret

        revision = self._target_revision(r)
        key = self._read_key(cl, r)
        if not key:
            key = secrets.token_urlsafe(32)
            register_secret(key)
            emit(ctx, "warning", f"{r.app_name} had no {KEY_SECRET} secret: a new key is set")
        serving = {x["name"]: x["weight"] for x in observed["revisions"] if x["weight"]}
        others = {n: w for n, w in serving.items() if n.lower() != revision.lower()}
        # the serving revisions keep their traffic (a half-finished canary of this revision keeps its share);
        # with nothing else serving there is no traffic to protect
        pinned = [{"revisionName": n, "weight": w} for n, w in sorted(others.items())]
        if others and sum(others.values()) != 100:
            pinned.append({"revisionName": revision, "weight": 100 - sum(others.values())})
        pinned = pinned or [{"latestRevision": True, "weight": 100}]
        principal = observed["app"].get("principal")
        if r.uses_acr and r.assign_acr_pull and principal:  # a no-op when the first deploy granted it
            from . import images

            images.ensure_acr_pull(ctx, registry_id=r.registry_id, principal_id=principal)
            self._remember(ctx, r, observed, principals=[principal])
        ctx.step(f"deploy {r.image} as revision {revision} at 0% traffic (serving stays on "
                 f"{', '.join(f'{n} {w}%' for n, w in sorted(serving.items())) or 'nothing'})")
        want = comparable(app_body(r, None, []))
        app = observed["app"]
        if str(app.get("latest") or "").lower() != revision.lower() or project(app["spec"], want) != want:
            self._put_app(cl, ctx, r, app_body(r, key, pinned), "containerapps.app", f"container app {r.app_name}")
        rev = self._revision(cl, r, revision)
        if not rev.get("active"):
            with azure_errors(f"activate revision {revision}"):
                cl.aca.container_apps_revisions.activate_revision(r.resource_group, r.app_name, revision)
        ok, why, smoke = self._verify(cl, ctx, r, rev.get("fqdn") or "", key, plan, f"revision {revision}")
        if not ok:
            self._reject(cl, ctx, r, revision, others, key, has_traffic=len(pinned) > len(others))
            raise RemoteError(f"the new revision {revision} failed its checks: {why}; traffic stays on "
                              f"{', '.join(sorted(others)) or 'the previous revision'} and {revision} was deactivated",
                              f"see `deploy-advisor logs {r.deployment}`", code="RevisionUnhealthy")
        if r.rollout == "canary" and others:
            step = r.canary_percent
            ctx.step(f"canary: {step}% of traffic to {revision}")
            self._set_traffic(cl, ctx, r, key, self._scaled(others, 100 - step) + [
                {"revisionName": revision, "weight": step}], "containerapps.traffic.canary")
            ok, why, _ = self._verify(cl, ctx, r, rev.get("fqdn") or "", key, plan, f"canary {revision}")
            if not ok:
                self._reject(cl, ctx, r, revision, others, key, has_traffic=True)
                raise RemoteError(f"the canary revision {revision} failed its second check: {why}; traffic moved back",
                                  f"see `deploy-advisor logs {r.deployment}`", code="CanaryUnhealthy")
        ctx.step(f"move 100% of traffic to {revision}")
        app = self._set_traffic(cl, ctx, r, key, [{"revisionName": revision, "weight": 100}], "containerapps.traffic")
        self._deactivate_others(cl, ctx, r, revision)
        host = ((app.get("properties") or {}).get("configuration") or {}).get("ingress", {}).get("fqdn") or ""
        return self._succeeded(r, host, smoke, f"updated: revision {revision} serves 100%")

    @staticmethod
    def _scaled(weights: dict[str, int], total: int) -> list[dict]:
        """Old revisions' weights scaled to `total` (integers, summing exactly)."""
        names = sorted(weights)
        base = sum(weights.values()) or 1
        out = [{"revisionName": n, "weight": weights[n] * total // base} for n in names]
        out[0]["weight"] += total - sum(x["weight"] for x in out)
        return out

    def _set_traffic(self, cl: _Clients, ctx: DeployContext, r: Resolved, key: str, traffic: list[dict],
                     key_name: str) -> dict:
        return self._put_app(cl, ctx, r, app_body(r, key, traffic), key_name, f"traffic of {r.app_name}")

    def _reject(self, cl: _Clients, ctx: DeployContext, r: Resolved, revision: str, others: dict[str, int],
                key: str, has_traffic: bool) -> None:
        """A failed revision keeps no traffic (the others get it all back) and is deactivated (it stays
        listed, for its logs). Without another revision there is nothing to fall back to."""
        if not others:
            return
        if has_traffic:  # a canary share: give it back first
            ctx.step(f"move the traffic of {revision} back to {', '.join(sorted(others))}")
            self._set_traffic(cl, ctx, r, key, self._scaled(others, 100), "containerapps.traffic.rollback")
        ctx.step(f"deactivate the failed revision {revision}")
        with azure_errors(f"deactivate revision {revision}"):
            cl.aca.container_apps_revisions.deactivate_revision(r.resource_group, r.app_name, revision)

    def _deactivate_others(self, cl: _Clients, ctx: DeployContext, r: Resolved, keep: str) -> None:
        """Old revisions stop costing replicas; they stay listed (maxInactiveRevisions) for a manual rollback."""
        with azure_errors(f"list revisions of {r.app_name}"):
            revs = [_json(x) for x in cl.aca.container_apps_revisions.list_revisions(r.resource_group, r.app_name)]
        for x in revs:
            props = x.get("properties") or {}
            if x["name"].lower() != keep.lower() and props.get("active") and not props.get("trafficWeight"):
                ctx.step(f"deactivate the previous revision {x['name']}")
                with azure_errors(f"deactivate revision {x['name']}"):
                    cl.aca.container_apps_revisions.deactivate_revision(r.resource_group, r.app_name, x["name"])

    def _revision(self, cl: _Clients, r: Resolved, name: str) -> dict:
        with azure_errors(f"read revision {name}"):
            rev = none_if_missing(lambda: cl.aca.container_apps_revisions.get_revision(r.resource_group, r.app_name, name))
        if rev is None:
            raise RemoteError(f"revision {name} was not created", "apply again")
        return _json(rev).get("properties") or {}

    # ---- readiness and smoke test ------------------------------------------------------------
    def _verify(self, cl: _Clients, ctx: DeployContext, r: Resolved, host: str, key: str, plan: DeploymentPlan,
                what: str) -> tuple[bool, str, Optional[dict]]:
        """Wait for the readiness route on `host`, then the shared smoke test (images.smoke_test)."""
        ok, why = self._wait_ready(cl, ctx, r, host, what)
        if not ok or not r.smoke_test:
            return ok, why, None
        return smoke_outcome(ctx, plan.model_info, lambda payload: self._score(cl, host, key, payload), what)

    def _wait_ready(self, cl: _Clients, ctx: DeployContext, r: Resolved, host: str, what: str) -> tuple[bool, str]:
        return cl.endpoint.wait_ready(host, what, r.health_timeout, r.health_poll_seconds, READY_PATH)

    def _score(self, cl: _Clients, host: str, key: str, payload: Any) -> tuple[int, float, Any]:
        return cl.endpoint.score(host, key, payload, REQUEST_TIMEOUT_S, SCORE_PATH)

    # ---- results and local memory ---------------------------------------------------------------
    def _outputs(self, r: Resolved, host: str) -> dict[str, Any]:
        return {"app": r.app_name, "environment": r.environment, "resource_group": r.resource_group,
                "subscription": r.subscription, "image": r.image, "revision": self._target_revision(r),
                "fqdn": host, "cpu": r.cpu, "memory_gib": r.memory_gib,
                "replicas": f"{r.min_replicas}-{r.max_replicas}", "gpu": r.gpu or None}

    def _succeeded(self, r: Resolved, host: str, smoke: Optional[dict], how: str) -> DeploymentResult:
        return DeploymentResult(name=r.deployment, target=TARGET, status="succeeded", changed=True,
                                endpoint_url=f"https://{host}{SCORE_PATH}", curl=_curl(host),
                                smoke_latency_ms=(smoke or {}).get("latency_ms"),
                                smoke_response=(smoke or {}).get("response"),
                                message=f"{r.app_name} {how}: {r.image}", outputs=self._outputs(r, host))


    def _remember(self, ctx: DeployContext, r: Resolved, observed: Optional[dict], env_owned: Optional[bool] = None,
                  principals: Optional[list[str]] = None) -> None:
        """Where this deployment lives (no secrets), so status/invoke/destroy find it by name."""
        prev = self._remembered(ctx, r.deployment)
        owned = env_owned if env_owned is not None else bool(
            prev.get("environment_owned") or ((observed or {}).get("environment") or {}).get("ours"))
        data = {"subscription": r.subscription, "resource_group": r.resource_group, "app_name": r.app_name,
                "environment": r.environment, "environment_owned": owned, "location": r.location,
                "registry_id": r.registry_id if r.uses_acr and r.assign_acr_pull and r.registry else "",
                "registry": r.registry if r.image_source == "acr-build" else prev.get("registry", ""),
                "registry_resource_group": r.registry_resource_group,
                "principals": sorted(set((prev.get("principals") or []) + [p for p in principals or [] if p]))}
        remember(ctx, TARGET, r.deployment, data)

    def _our_app(self, cl: _Clients, rg: str, app: str, name: str) -> Optional[dict]:
        from .azure_common import is_ours

        with azure_errors(f"read container app {app}"):
            found = none_if_missing(lambda: cl.aca.container_apps.get(rg, app))
        if found is None or not is_ours(found.tags, name):
            return None
        return _json(found)

    # ---- status / invoke / logs / destroy ---------------------------------------------------------
    def status(self, name: str, ctx: DeployContext) -> Status:
        mem, sub, rg, app_name = self._remembered_scope(name, ctx)
        cl = _Clients(ctx, sub)
        app = self._our_app(cl, rg, app_name, name)
        if app is None:
            return Status(name=name, target=TARGET, state="not-found",
                          message=f"no container app {app_name} in {rg} tagged for this deployment")
        props = app.get("properties") or {}
        host = ((props.get("configuration") or {}).get("ingress") or {}).get("fqdn") or ""
        revisions = []
        with azure_errors(f"list revisions of {app_name}"):
            for x in cl.aca.container_apps_revisions.list_revisions(rg, app_name):
                p = _json(x).get("properties") or {}
                revisions.append({"name": x.name, "active": bool(p.get("active")),
                                  "traffic": int(p.get("trafficWeight") or 0), "replicas": p.get("replicas"),
                                  "health": p.get("healthState"), "running": p.get("runningState"),
                                  "image": ((p.get("template") or {}).get("containers") or [{}])[0].get("image"),
                                  "fqdn": p.get("fqdn")})
        details = {"app": app_name, "environment": mem.get("environment"), "resource_group": rg, "fqdn": host,
                   "provisioning_state": props.get("provisioningState"), "revisions": revisions,
                   "traffic": {x["name"]: x["traffic"] for x in revisions if x["traffic"]},
                   "replicas": sum(int(x["replicas"] or 0) for x in revisions if x["active"])}
        if str(props.get("runningStatus") or "").lower() == "stopped":
            return Status(name=name, target=TARGET, state="stopped", endpoint_url=f"https://{host}{SCORE_PATH}",
                          message="the container app is stopped", details=details)
        if str(props.get("provisioningState")) in ("InProgress", "Updating", "Creating"):
            return Status(name=name, target=TARGET, state="provisioning", endpoint_url=f"https://{host}{SCORE_PATH}",
                          message=f"provisioning ({props.get('provisioningState')})", details=details)
        ready, answer = cl.endpoint.probe(host, READY_PATH)
        details["ready"] = answer
        traffic = ", ".join(f"{n} {w}%" for n, w in details["traffic"].items())
        state = "running" if ready else ("failed" if props.get("provisioningState") == "Failed" else "degraded")
        return Status(name=name, target=TARGET, state=state, endpoint_url=f"https://{host}{SCORE_PATH}",
                      message=f"traffic: {traffic or 'none'}; {READY_PATH}: {answer}", details=details)

    def invoke(self, name: str, payload: Any, ctx: DeployContext) -> InvokeResult:
        mem, sub, rg, app_name = self._remembered_scope(name, ctx)
        cl = _Clients(ctx, sub)
        app = self._our_app(cl, rg, app_name, name)
        if app is None:
            raise InputError(f"no container app for deployment {name}", "deploy it first, or check the resource group")
        r = self._located(mem, name, sub, rg, app_name)
        key = self._read_key(cl, r)
        if not key:
            raise RemoteError(f"{app_name} has no {KEY_SECRET} secret", "apply the deployment again")
        host = (((app.get("properties") or {}).get("configuration") or {}).get("ingress") or {}).get("fqdn") or ""
        status, latency, body = self._score(cl, host, key, payload)
        return InvokeResult(status_code=status, latency_ms=round(latency, 2), response=body)

    @staticmethod
    def _located(mem: dict, name: str, sub: str, rg: str, app: str) -> Resolved:
        return Resolved(deployment=name, subscription=sub, resource_group=rg, location=mem.get("location") or "",
                        app_name=app, environment=mem.get("environment") or f"{app}-env", cpu=1, memory_gib=2,
                        min_replicas=0, max_replicas=1, image_source="user", state_read=True)

    def logs(self, name: str, ctx: DeployContext, tail: int = 100) -> str:
        """Console logs of the serving revision's replicas through the log-stream API."""
        from azure.core.exceptions import AzureError
        from azure.core.rest import HttpRequest

        from .azure_common import register_secret, scrub

        mem, sub, rg, app_name = self._remembered_scope(name, ctx)
        cl = _Clients(ctx, sub)
        if self._our_app(cl, rg, app_name, name) is None:
            return f"no container app for deployment {name}"
        head = (f"# console logs; live: az containerapp logs show -n {app_name} -g {rg} --follow "
                "(history: ContainerAppConsoleLogs_CL, if the environment sends logs to Log Analytics)")
        lines = [head]
        with azure_errors(f"read revisions and the log-stream token of {app_name}"):
            revs = [_json(x) for x in cl.aca.container_apps_revisions.list_revisions(rg, app_name)]
            serving = [x["name"] for x in sorted(revs, key=lambda x: -int(x["properties"].get("trafficWeight") or 0))
                       if x["properties"].get("active")]
            token = cl.aca.container_apps.get_auth_token(rg, app_name).properties.token if serving else ""
        register_secret(token)  # a short-lived log-stream token: scrubbed wherever it could be echoed
        for rev in serving[:2]:
            with azure_errors(f"list replicas of {rev}"):
                replicas = list(cl.aca.container_apps_revision_replicas.list_replicas(rg, app_name, rev).value or [])
            if not replicas:
                lines.append(f"# {rev}: no running replica (scaled to zero)")
            for rep in replicas:
                for c in _json(rep).get("properties", {}).get("containers") or []:
                    url = c.get("logStreamEndpoint")
                    if not url:
                        continue
                    try:
                        resp = cl.endpoint.client.send_request(HttpRequest(
                            "GET", f"{url}?tailLines={max(1, int(tail))}&follow=false&output=text",
                            headers={"Authorization": f"Bearer {token}"}), read_timeout=30, retry_total=1)
                        text = resp.text() if resp.status_code == 200 else f"(log stream answered {resp.status_code})"
                    except AzureError as e:
                        text = f"(log stream unreachable: {e.__class__.__name__})"
                    lines.append(f"# {rep.name}/{c.get('name')}")
                    lines += [_log_line(x) for x in text.splitlines()]
        return scrub("\n".join(lines[: max(1, int(tail)) + 20]))

    def destroy(self, name: str, ctx: DeployContext) -> DestroyResult:
        from . import images
        from .azure_common import is_ours, wait

        mem, sub, rg, app_name = self._remembered_scope(name, ctx)
        cl = _Clients(ctx, sub)
        deleted: list[str] = []
        kept: list[str] = []
        with azure_errors(f"read container app {app_name}"):
            app = none_if_missing(lambda: cl.aca.container_apps.get(rg, app_name))
        if app is not None and not is_ours(app.tags, name):
            kept.append(f"container app {app_name} (not tagged for {name})")
            app = None
        env_name = mem.get("environment") or f"{app_name}-env"
        if app is not None:
            env_name = str(_json(app).get("properties", {}).get("managedEnvironmentId") or env_name).rsplit("/", 1)[-1]
            ctx.step(f"delete container app {app_name}")
            with azure_errors(f"delete container app {app_name}"):
                wait(cl.aca.container_apps.begin_delete(rg, app_name), ctx, f"delete container app {app_name}")
            deleted.append(f"container app {app_name}")
        deleted += images.drop_remembered_acr_pulls(ctx, mem)
        images.release_remembered_registry(ctx, mem, deployment=name, subscription=sub, resource_group=rg,
                                           deleted=deleted, kept=kept)
        with azure_errors(f"read environment {env_name}"):
            env = none_if_missing(lambda: cl.aca.managed_environments.get(rg, env_name))
        if env is not None:
            if not is_ours(env.tags, name):
                kept.append(f"environment {env_name} (not created by this deployment)")
            else:
                with azure_errors(f"list apps in {env_name}"):
                    env_id = str(env.id or "").lower()
                    others = [a.name for a in cl.aca.container_apps.list_by_resource_group(rg)
                              if str(_json(a).get("properties", {}).get("managedEnvironmentId") or "").lower() == env_id]
                if others:
                    kept.append(f"environment {env_name} (still hosts {', '.join(others)})")
                else:
                    ctx.step(f"delete Container Apps environment {env_name}")
                    with azure_errors(f"delete environment {env_name}"):
                        wait(cl.aca.managed_environments.begin_delete(rg, env_name), ctx,
                             f"delete environment {env_name}")
                    deleted.append(f"environment {env_name}")
        memory_path(ctx, TARGET, name).unlink(missing_ok=True)
        return self._destroyed(name, rg, deleted, kept)


# ----------------------------------------------------------------- helpers


def _curl(host: str) -> str:
    from .https_endpoint import curl
    return curl(host, SCORE_PATH)


def _log_line(raw: str) -> str:
    """The log stream sends JSON lines ({"TimeStamp", "Log"}); plain text passes through."""
    try:
        doc = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(doc, dict) and "Log" in doc:
        return f"{doc.get('TimeStamp', '')} {doc['Log']}".strip()
    return raw
