"""App Service target: the scoring image as a Linux Web App for Containers (azure-mgmt-web).

Shape of a deployment: a Linux App Service plan (SKU and instance count from the
advisor's sizing, autoscale from its min/max), one web app running the image
(pulled from ACR with the app's managed identity), health check on the scoring
server's readiness route, and — from the Standard tier up — a `staging` slot.
The first deploy goes straight to production; later versions go to the slot,
must start, pass the health check and a smoke test there, and only then swap.
If production fails its health check after the swap we swap back.

The scoring key is generated at apply time and lives only in the app settings
(slot-sticky); invoke reads it back from Azure. It never enters plans, events,
results, artifacts or the ledger.

Facts used (each with its source): advisor/data/skus.yaml (plan SKUs, tier limits),
advisor/data/targets/appservice.yaml (230 s request timeout), and the App Service docs cited below.
"""
from __future__ import annotations

import json
import math
import os
import re
import secrets
import shlex
from contextlib import contextmanager
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Annotated, Any, Iterator, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

from advisor.models import ModelInfo, Sizing, WorkloadProfile

from . import templating
from .azure_common import (ClientSet, ImageReference, ImageRepository, Location, Matches, RegistryName,
                           ResourceGroup, SubscriptionId)
from .base import DeployContext
from .errors import ConflictError, DeployError, InputError, RemoteError
from .extras import needs_extra
from .models import (DeploymentPlan, DeploymentResult, DeploymentSpec, DestroyResult, Finding, InvokeResult,
                     PlannedAction, Status, fingerprint)
from .webapp import ImageWebAppDeployer, auth_and_image_findings, credentials_missing_for, smoke_outcome

TARGET = "appservice"

PORT = 8080  # the scoring server's port inside the image (templates/Dockerfile.j2)
READY_PATH = "/ready"  # readiness route of deployers.serving: 503 until init() finished
SCORE_PATH = "/score"
KEY_SETTING = "SCORING_KEY"
KEY_FILE = "/tmp/scoring/key"  # written from the app setting at container start (see startup_command)
INSIGHTS_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
SECRET_SETTINGS = (KEY_SETTING, INSIGHTS_SETTING)
INSIGHTS_API = "2020-02-02"
PRODUCTION = "production"

# 230 s: Azure Load Balancer idle timeout in front of every App Service request [advisor/data/sources.yaml key M].
REQUEST_TIMEOUT_S = 230
# WEBSITES_CONTAINER_START_TIME_LIMIT: default 230, max 1800 (App Service Linux docs,
# https://github.com/Azure/app-service-linux-docs/pull/29 ; azure-targets.md preflight #10).
START_LIMIT_DEFAULT, START_LIMIT_MAX = 230, 1800
# Extra start time per MB of model: pulling the layer and deserialising the model, assumed at a
# conservative ~5 MB/s on the smallest plans (a 1 GB model -> ~430 s).
START_SECONDS_PER_MB = 0.2
# A monthly budget under this is a dev/test budget: one Premium v3 P0v3 instance alone costs
# ~$57/month (targets-reference price note), so Premium with 2 instances would not fit.
DEV_BUDGET_USD = 100.0
# Free/Shared plans: no Always On, no custom container SLA, CPU minutes quota — unfit for serving.
# https://learn.microsoft.com/azure/app-service/overview-hosting-plans
UNFIT_SKUS = {"F1": "Free", "D1": "Shared"}
# SKUs missing from advisor/data/skus.yaml (vCPU / memory from the plan tables [ASP-PLANS], [E]).
EXTRA_SKUS = {
    "S2": {"vcpu": 2, "mem_gib": 3.5, "tier": "Standard"},
    "S3": {"vcpu": 4, "mem_gib": 7, "tier": "Standard"},
    "P1mv3": {"vcpu": 2, "mem_gib": 16, "tier": "PremiumMV3"},
    "P2mv3": {"vcpu": 4, "mem_gib": 32, "tier": "PremiumMV3"},
    "P3mv3": {"vcpu": 8, "mem_gib": 64, "tier": "PremiumMV3"},
    "P4mv3": {"vcpu": 16, "mem_gib": 128, "tier": "PremiumMV3"},
    "P5mv3": {"vcpu": 32, "mem_gib": 256, "tier": "PremiumMV3"},
}
EXTRA_TIERS = {"PremiumMV3": {"max_instances": 30, "autoscale": True, "slots": True, "src": "ASP-LIMITS"}}
BASIC_BY_VCPU = {1: "B1", 2: "B2", 4: "B3"}
PREMIUM_BY_VCPU = {1: "P0v3", 2: "P1v3", 4: "P2v3", 8: "P3v3"}

APP_RE = re.compile(r"^(?=.{2,60}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
SLOT_RE = re.compile(r"^(?=.{2,59}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
SKU_RE = r"^[A-Za-z0-9]{2,8}$"


# ----------------------------------------------------------------- facts


@lru_cache(maxsize=1)
def _catalog() -> tuple[dict[str, dict], dict[str, dict], dict[str, str]]:
    """(plan SKUs, tiers, source URLs) from the advisor's catalog, plus the SKUs and tiers it does not list."""
    from advisor.catalog import skus as advisor_skus, sources

    facts = advisor_skus()
    plans = {k: {"vcpu": v.vcpu, "mem_gib": v.mem_gib, "tier": v.tier} for k, v in facts.appservice_plans.items()}
    for k, v in EXTRA_SKUS.items():
        plans.setdefault(k, dict(v))
    tiers = {k: {"max_instances": t.max_instances, "autoscale": t.autoscale, "slots": t.slots, "src": "ASP-LIMITS"}
             for k, t in facts.appservice_tiers.items()}
    for k, v in EXTRA_TIERS.items():
        tiers.setdefault(k, dict(v))
    return plans, tiers, {k: src.url for k, src in sources().items()}


def source_url(key: str) -> str:
    return _catalog()[2].get(key, key)


def normalize_sku(name: str) -> str:
    """'p1V3' -> 'P1v3' (ARM is case-insensitive; our tables are not)."""
    skus = _catalog()[0]
    for known in list(skus) + list(UNFIT_SKUS):
        if known.lower() == (name or "").lower():
            return known
    return name


def sku_facts(name: str) -> Optional[dict]:
    """vcpu, mem_gib, tier, max_instances, autoscale, slots for a plan SKU (None if unknown)."""
    skus, tiers, _ = _catalog()
    s = skus.get(normalize_sku(name))
    if s is None:
        return None
    t = tiers.get(s["tier"], {})
    return {"name": normalize_sku(name), **s, "max_instances": int(t.get("max_instances", 1)),
            "autoscale": bool(t.get("autoscale")), "slots": bool(t.get("slots")), "src": t.get("src", "ASP-LIMITS")}


def start_time_limit(size_mb: float) -> int:
    """WEBSITES_CONTAINER_START_TIME_LIMIT for a model of this size, within App Service's bounds."""
    need = START_LIMIT_DEFAULT + math.ceil(max(size_mb, 0.0) * START_SECONDS_PER_MB)
    return int(min(START_LIMIT_MAX, max(START_LIMIT_DEFAULT, need)))


def is_dev_profile(profile: WorkloadProfile) -> bool:
    """Dev/test workloads get Basic: availability below 99.9 % or a small budget."""
    budget = profile.budget.monthly_usd
    return profile.scale.availability_sla < 99.9 or (budget is not None and budget < DEV_BUDGET_USD)


def default_sku(sizing: Optional[Sizing], profile: WorkloadProfile) -> str:
    """Premium v3 for production, Basic for dev/test, keeping the advisor's per-instance size."""
    facts = sku_facts(sizing.sku) if sizing and sizing.sku else None
    vcpu = int(facts["vcpu"]) if facts else (sizing.vcpus_per_instance if sizing and sizing.vcpus_per_instance else 2)
    if is_dev_profile(profile):
        if facts and facts["tier"] == "Basic":
            return facts["name"]
        return BASIC_BY_VCPU[min(BASIC_BY_VCPU, key=lambda v: (abs(v - vcpu), -v))]
    if facts and facts["tier"] in ("PremiumV3", "PremiumMV3"):
        return facts["name"]
    return PREMIUM_BY_VCPU[min(PREMIUM_BY_VCPU, key=lambda v: (abs(v - vcpu), -v))]


def startup_command(port: int, key_file: str = KEY_FILE) -> str:
    """Container start command for App Service.

    The image's CMD reads the key from a file (a Kubernetes Secret mount on AKS);
    App Service only hands settings over as environment variables, so the start
    command writes the setting to a private file first and removes it from the
    environment of the server process.
    """
    folder = shlex.quote(os.path.dirname(key_file) or ".")
    kf = shlex.quote(key_file)
    script = (f'umask 077 && mkdir -p {folder} && printf %s "${KEY_SETTING}" > {kf} && unset {KEY_SETTING} && '
              f"exec python -m deployers.serving --app-dir /app --host 0.0.0.0 --allow-public --port {int(port)} "
              f"--key-file {kf}")
    return f"sh -c {shlex.quote(script)}"


# ----------------------------------------------------------------- settings


class AppServiceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subscription: SubscriptionId = Field(None, description=(
        "Azure subscription id (default: AZURE_SUBSCRIPTION_ID)"))
    resource_group: ResourceGroup = Field(None, description=(
        "Resource group for the plan and the app (default: AZURE_RESOURCE_GROUP); it must exist"))
    location: Location = Field(None, description=(
        "Azure region (default: AZURE_LOCATION, else the profile's region)"))
    app_name: Optional[str] = Field(None, description=(
        "Web app name, globally unique as <app>.azurewebsites.net: 2-60 lowercase letters, digits, hyphens "
        "(default: the deployment name)"))
    plan_name: Annotated[Optional[str], Matches(r"[A-Za-z0-9-]{1,60}", "plan_name must be 1-60 letters, digits "
                                                                        "and hyphens")] = Field(None, description=(
        "App Service plan name (default: <app>-plan). An existing plan not created by deploy-advisor is used "
        "as it is and never deleted"))
    sku: Optional[str] = Field(None, pattern=SKU_RE, description=(
        "Plan SKU, e.g. P1v3, P0v3, S1, B1 (default: from the advisor's sizing — Premium v3 for production, "
        "Basic for dev/test profiles)"))
    instances: Optional[int] = Field(None, ge=1, le=30, description=(
        "Plan instance count (default: from sizing; at most 3 on Basic, 10 on Standard, 30 on Premium)"))
    autoscale_min: Optional[int] = Field(None, ge=1, le=30, description="Autoscale minimum instances (default: sizing min)")
    autoscale_max: Optional[int] = Field(None, ge=1, le=30, description="Autoscale maximum instances (default: sizing max)")
    registry: RegistryName = Field(None, description=(
        "Azure Container Registry to build the scoring image in (ACR Tasks) and pull it from (default: the ACR "
        "tagged managed-by: deploy-advisor in the resource group, else a new Basic one; the same rule as aks)"))
    registry_resource_group: ResourceGroup = Field(None, description=(
        "Resource group of the registry (default: the app's resource group)"))
    repository: ImageRepository = Field(None, description="Image repository in the registry (default: deploy-advisor/<name>)")
    image: ImageReference = Field(None, description=(
        "A ready image to run instead of building one, e.g. myacr.azurecr.io/scoring:1.0"))
    port: int = Field(PORT, ge=1, le=65535, description="Port the scoring server listens on in the container (WEBSITES_PORT)")
    start_time_limit: Optional[int] = Field(None, ge=START_LIMIT_DEFAULT, le=START_LIMIT_MAX, description=(
        "Seconds App Service waits for the container to start (default: 230 plus time for the model size)"))
    slot: str = Field("staging", description="Deployment slot that receives new versions before the swap")
    app_insights: Optional[bool] = Field(None, description=(
        "Create Application Insights and connect it (default: when the profile asks for monitoring)"))
    assign_acr_pull: bool = Field(True, description=(
        "Grant the app's managed identity AcrPull on the registry (needs Owner or User Access Administrator)"))
    smoke_test: bool = Field(True, description="Score the model's input example before swapping and after")
    health_timeout: Optional[int] = Field(None, ge=10, le=7200, description=(
        "Seconds to wait for a new version to pass the health check (default: start_time_limit + 120)"))
    health_poll_seconds: float = Field(10.0, ge=1, le=300, description="Seconds between health-check polls")
    keep_failed: bool = Field(False, description=(
        "Keep a staging slot whose version failed its checks (default: delete it; production is never touched)"))

    @field_validator("app_name", "slot")
    @classmethod
    def _dns_label(cls, v: Optional[str], info: Any) -> Optional[str]:
        if v is None:
            return v
        rx = APP_RE if info.field_name == "app_name" else SLOT_RE
        if not rx.match(v):
            limit = "2-60" if info.field_name == "app_name" else "2-59"
            raise ValueError(f"{info.field_name} must be {limit} lowercase letters, digits and hyphens, not starting "
                             "or ending with a hyphen")
        if v == PRODUCTION:
            raise ValueError("'production' is the name of the main slot")
        return v


class Resolved(BaseModel):
    """Every name and number apply needs, resolved at plan time (stored in plan.settings; no secrets)."""
    model_config = ConfigDict(extra="ignore")

    deployment: str
    subscription: str = ""
    resource_group: str = ""
    location: str
    app_name: str
    plan_name: str
    sku: str
    tier: str
    instances: int
    autoscale: Optional[dict[str, int]] = None  # {"min", "max", "default"} or None
    slots_supported: bool
    slot: str
    image: str = ""
    image_source: str  # "user" | "acr-build"
    registry: str = ""
    registry_resource_group: str = ""
    registry_how: str = ""  # images.RegistryChoice.how: given | found | new
    repository: str = ""
    port: int = PORT
    start_time_limit: int = START_LIMIT_DEFAULT
    app_insights: bool = False
    insights_name: str = ""
    assign_acr_pull: bool = True
    smoke_test: bool = True
    health_timeout: int = 350
    health_poll_seconds: float = 10.0
    keep_failed: bool = False
    model_uri: str = ""
    state_read: bool = False

    @property
    def uses_acr(self) -> bool:
        return bool(self.registry) and ".azurecr.io/" in self.image

    @property
    def registry_id(self) -> str:
        from .images import registry_resource_id
        return registry_resource_id(self.subscription, self.registry_resource_group, self.registry)

    @property
    def plan_id(self) -> str:
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.Web/serverfarms/{self.plan_name}")

    @property
    def autoscale_name(self) -> str:
        return f"{self.plan_name}-autoscale"

    @property
    def insights_id(self) -> str:
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.Insights/components/{self.insights_name}")


# ----------------------------------------------------------------- SDK plumbing


@contextmanager
def _azure(what: str) -> Iterator[None]:
    """Turn any azure-core exception into a DeployError with a hint (secrets scrubbed)."""
    from azure.core.exceptions import AzureError

    from .azure_common import map_azure_error

    try:
        yield
    except DeployError:
        raise
    except AzureError as e:
        raise map_azure_error(e, what) from e


def _missing(fn: Any) -> Any:
    """fn() or None when Azure answers 404."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return fn()
    except ResourceNotFoundError:
        return None


class _Clients(ClientSet):
    """The SDK clients one call needs, built lazily with the context's credential and kwargs."""

    @cached_property
    def web(self) -> Any:
        with needs_extra("appservice"):
            from azure.mgmt.web import WebSiteManagementClient
        return WebSiteManagementClient(self.credential, self.subscription, **self.kwargs)

    @cached_property
    def monitor(self) -> Any:
        with needs_extra("appservice"):
            from azure.mgmt.monitor import MonitorManagementClient
        return MonitorManagementClient(self.credential, self.subscription, **self.kwargs)

    @cached_property
    def arm(self) -> Any:
        with needs_extra("appservice"):
            from azure.mgmt.resource.resources import ResourceManagementClient
        return ResourceManagementClient(self.credential, self.subscription, **self.kwargs)

    @cached_property
    def endpoint(self) -> Any:
        """The app's own URLs (health, /score): same transport and retry settings (deployers.https_endpoint)."""
        from .https_endpoint import Endpoint
        return Endpoint(self.ctx, self.kwargs, "https://azurewebsites.net")


def _props(model: Any) -> dict:
    """A typespec model (MutableMapping) or dict as plain JSON."""
    if model is None:
        return {}
    try:
        return json.loads(json.dumps(dict(model), default=lambda o: dict(o) if hasattr(o, "keys") else str(o)))
    except (TypeError, ValueError):
        return {}


def _host_of(site: Any) -> str:
    return str(getattr(site, "default_host_name", None) or "")


# ----------------------------------------------------------------- the deployer


class AppServiceDeployer(ImageWebAppDeployer):
    name = TARGET
    title = "Azure App Service (Linux container)"
    description = ("Web App for Containers on a Linux App Service plan: managed identity pulls the scoring image "
                   "from ACR, health check on /ready, zero-downtime updates through a staging slot and swap.")
    requires_azure = True
    Settings = AppServiceSettings
    signed_out_skips = "name, region and quota checks"

    # ---- resolution ----------------------------------------------------------
    def _resolve(self, spec: DeploymentSpec, s: AppServiceSettings, ctx: DeployContext, info: Optional[ModelInfo],
                 sizing: Optional[Sizing]) -> tuple[Resolved, list[str]]:
        notes: list[str] = []
        profile = spec.profile
        app = s.app_name or spec.name
        sku = normalize_sku(s.sku) if s.sku else default_sku(sizing, profile)
        if sku in UNFIT_SKUS:
            raise InputError(f"sku {sku} ({UNFIT_SKUS[sku]} tier) cannot serve a model: no Always On, shared CPU "
                             "minutes and no deployment slots", "use B1 for dev/test or P0v3/P1v3 for production")
        facts = sku_facts(sku)
        if facts is None:
            known = ", ".join(sorted(_catalog()[0]))
            raise InputError(f"unknown App Service plan sku {s.sku!r}", f"use one of: {known}")
        if not s.sku:
            why = (f"dev/test profile (availability < 99.9% or budget < ${DEV_BUDGET_USD:.0f}/month)"
                   if is_dev_profile(profile) else "production profile")
            notes.append(f"plan SKU {sku} ({facts['tier']}) chosen for a {why}")
        size_instances = sizing.instances if sizing else 1
        instances = s.instances or size_instances
        if instances > facts["max_instances"]:
            notes.append(f"{instances} instances exceed the {facts['tier']} limit of {facts['max_instances']}: "
                         f"capped [{source_url(facts['src'])}]")
            instances = facts["max_instances"]
        autoscale = None
        lo = s.autoscale_min or (sizing.min if sizing else instances)
        hi = s.autoscale_max or (sizing.max if sizing else instances)
        lo, hi = max(1, min(lo, facts["max_instances"])), max(1, min(hi, facts["max_instances"]))
        if hi < lo:
            raise InputError(f"autoscale_max ({hi}) is below autoscale_min ({lo})", "raise autoscale_max")
        if facts["autoscale"] and hi > lo:
            instances = min(max(instances, lo), hi)
            autoscale = {"min": lo, "max": hi, "default": instances}
        elif hi > lo:
            notes.append(f"{facts['tier']} plans have no autoscale [{source_url('ASP-SCALE')}]: fixed at {instances} "
                         "instance(s)")
        if not facts["slots"]:
            notes.append(f"{facts['tier']} plans have no deployment slots [{source_url('P')}]: updates replace "
                         "production in place (a short restart)")
        registry_rg = s.registry_resource_group or s.resource_group or ctx.resource_group or ""
        repository = s.repository or f"deploy-advisor/{spec.name}"
        image_source, image = ("user", s.image) if s.image else ("acr-build", "")
        ops = profile.operations
        insights = s.app_insights if s.app_insights is not None else (
            "app-insights" in ops.integrations or ops.drift_monitoring)
        limit = s.start_time_limit or start_time_limit(info.size_mb if info and info.size_mb else profile.model.size_mb)
        r = Resolved(
            deployment=spec.name, subscription=s.subscription or ctx.subscription_id or "",
            resource_group=s.resource_group or ctx.resource_group or "",
            location=s.location or ctx.location or profile.region, app_name=app,
            plan_name=s.plan_name or f"{app}-plan"[:60], sku=sku, tier=facts["tier"], instances=instances,
            autoscale=autoscale, slots_supported=facts["slots"], slot=s.slot, image=image, image_source=image_source,
            registry=s.registry or "", registry_resource_group=registry_rg, repository=repository, port=s.port,
            start_time_limit=limit, app_insights=bool(insights), insights_name=f"{app}-insights"[:255],
            assign_acr_pull=s.assign_acr_pull, smoke_test=s.smoke_test,
            health_timeout=s.health_timeout or limit + 120, health_poll_seconds=s.health_poll_seconds,
            keep_failed=s.keep_failed, model_uri=spec.model)
        if s.image and s.registry and ".azurecr.io/" not in s.image:
            notes.append("image is not in an Azure Container Registry: pulled without the managed identity")
        return r, notes

    # ---- desired and observed state -----------------------------------------
    def _app_settings(self, r: Resolved) -> dict[str, str]:
        """Non-secret app settings (the key and the App Insights connection are added at apply time)."""
        return {"WEBSITES_PORT": str(r.port), "WEBSITES_CONTAINER_START_TIME_LIMIT": str(r.start_time_limit),
                "WEBSITES_ENABLE_APP_SERVICE_STORAGE": "false", "DEPLOY_ADVISOR_MODEL": r.model_uri}

    def _site_config(self, r: Resolved) -> dict[str, Any]:
        return {"linuxFxVersion": f"DOCKER|{r.image}", "appCommandLine": startup_command(r.port),
                "acrUseManagedIdentityCreds": r.uses_acr, "alwaysOn": True, "healthCheckPath": READY_PATH,
                "minTlsVersion": "1.2", "ftpsState": "Disabled", "http20Enabled": True}

    def _desired(self, r: Resolved, plan_owned: bool = True) -> dict[str, Any]:
        return {
            "plan": {"sku": r.sku, "capacity": "autoscale" if r.autoscale else r.instances, "linux": True}
            if plan_owned else "unmanaged",
            "autoscale": r.autoscale,
            "site": {"config": self._site_config(r), "httpsOnly": True, "settings": self._app_settings(r),
                     "key": True, "sticky": [KEY_SETTING], "app_insights": r.app_insights, "ours": True},
        }

    def _observe(self, cl: _Clients, r: Resolved) -> dict[str, Any]:
        """What is in Azure now, reduced to what we manage (no secret values)."""
        from .azure_common import is_ours

        rg, app = r.resource_group, r.app_name
        out: dict[str, Any] = {"plan": None, "autoscale": None, "site": None, "slot": None, "plan_owned": True}
        with _azure(f"read App Service plan {r.plan_name}"):
            plan = _missing(lambda: cl.web.app_service_plans.get(rg, r.plan_name))
        if plan is not None:
            owned = is_ours(plan.tags, r.deployment)
            sku = plan.sku or {}
            auto = None
            with _azure(f"read autoscale setting {r.autoscale_name}"):
                setting = _missing(lambda: cl.monitor.autoscale_settings.get(rg, r.autoscale_name))
            if setting is not None and is_ours(setting.tags, r.deployment) and setting.profiles:
                cap = setting.profiles[0].capacity
                auto = {"min": int(cap.minimum), "max": int(cap.maximum), "default": int(cap.default)}
            sku_name, count = normalize_sku(str(sku.get("name") or "")), int(sku.get("capacity") or 1)
            # the count autoscale chose is not drift
            capacity = "autoscale" if auto and auto["min"] <= count <= auto["max"] else count
            out["plan_owned"] = owned
            out["plan"] = {"sku": sku_name, "capacity": capacity, "linux": bool(plan.reserved)} if owned else "unmanaged"
            out["plan_info"] = {"sku": sku_name, "linux": bool(plan.reserved), "sites": plan.number_of_sites,
                                "ours": owned, "capacity": count}
            out["autoscale"] = auto
        with _azure(f"read web app {app}"):
            site = _missing(lambda: cl.web.web_apps.get(rg, app))
        if site is None:
            return out
        ours = is_ours(site.tags, r.deployment)
        with _azure(f"read configuration of {app}"):
            conf = _props(cl.web.web_apps.get_configuration(rg, app).get("properties"))
            settings = dict((cl.web.web_apps.list_application_settings(rg, app).properties or {}))
            sticky = list((_props(cl.web.web_apps.list_slot_configuration_names(rg, app).get("properties"))
                           .get("appSettingNames") or []))
        want = self._site_config(r)
        out["site"] = {
            "config": {k: conf.get(k) for k in want},
            "httpsOnly": bool(site.https_only),
            "settings": {k: v for k, v in settings.items() if k not in SECRET_SETTINGS},
            "key": bool(settings.get(KEY_SETTING)), "sticky": sorted(sticky),
            "app_insights": bool(settings.get(INSIGHTS_SETTING)), "ours": ours,
        }
        out["site_info"] = {"host": _host_of(site), "state": site.state,
                            "principal": (site.identity or {}).get("principalId") if site.identity else None}
        if r.slots_supported:
            with _azure(f"read slot {r.slot} of {app}"):
                slot = _missing(lambda: cl.web.web_apps.get_slot(rg, app, r.slot))
            if slot is not None:
                out["slot"] = {"image": (_props(cl.web.web_apps.get_configuration_slot(rg, app, r.slot).get("properties"))
                                         .get("linuxFxVersion")), "ours": is_ours(slot.tags, r.deployment)}
        return out

    @staticmethod
    def _comparable(observed: dict[str, Any]) -> dict[str, Any]:
        return {"plan": observed.get("plan"), "autoscale": observed.get("autoscale"), "site": observed.get("site")}

    @staticmethod
    def _state_hash(observed: dict[str, Any]) -> str:
        return fingerprint({k: observed.get(k) for k in ("plan", "autoscale", "site", "slot", "plan_owned")})

    def _actions(self, r: Resolved, observed: Optional[dict]) -> list[PlannedAction]:
        """create / update / no-op per resource, from the difference between desired and observed."""
        acts: list[PlannedAction] = []
        known = observed is not None
        obs = observed or {}
        plan_owned = obs.get("plan_owned", True)
        desired = self._desired(r, plan_owned)
        plan_now = obs.get("plan")
        if plan_now is None:
            acts.append(PlannedAction(kind="create", resource_type="Microsoft.Web/serverfarms", resource=r.plan_name,
                                      detail=f"Linux plan {r.sku} ({r.tier}) x{r.instances}" +
                                      ("" if known else " (Azure state not read)"),
                                      changes={"sku": r.sku, "instances": r.instances}))
        elif plan_now == "unmanaged":
            info = obs.get("plan_info") or {}
            acts.append(PlannedAction(kind="no-op", resource_type="Microsoft.Web/serverfarms", resource=r.plan_name,
                                      detail=f"existing plan ({info.get('sku')}) not created by deploy-advisor: used as it is"))
        elif plan_now != desired["plan"]:
            acts.append(PlannedAction(kind="update", resource_type="Microsoft.Web/serverfarms", resource=r.plan_name,
                                      detail=f"plan -> {r.sku} x{r.instances}", changes=_diff(plan_now, desired["plan"])))
        else:
            acts.append(PlannedAction(kind="no-op", resource_type="Microsoft.Web/serverfarms", resource=r.plan_name))
        auto_now = obs.get("autoscale")
        if r.autoscale and auto_now != r.autoscale:
            acts.append(PlannedAction(kind="create" if auto_now is None else "update",
                                      resource_type="Microsoft.Insights/autoscalesettings", resource=r.autoscale_name,
                                      detail=f"CPU-based autoscale {r.autoscale['min']}-{r.autoscale['max']} instances",
                                      changes={"autoscale": [auto_now, r.autoscale]}))
        elif not r.autoscale and auto_now is not None:
            acts.append(PlannedAction(kind="delete", resource_type="Microsoft.Insights/autoscalesettings",
                                      resource=r.autoscale_name, detail=f"{r.tier} plans do not autoscale"))
        elif r.autoscale:
            acts.append(PlannedAction(kind="no-op", resource_type="Microsoft.Insights/autoscalesettings",
                                      resource=r.autoscale_name))
        site_now = obs.get("site")
        want = desired["site"]
        if r.app_insights and not (site_now or {}).get("app_insights"):
            acts.append(PlannedAction(kind="create", resource_type="Microsoft.Insights/components",
                                      resource=r.insights_name, detail="Application Insights (connection string "
                                      "set as an app setting at apply time)"))
        if r.image_source == "acr-build" and (site_now is None or site_now["config"].get("linuxFxVersion")
                                              != want["config"]["linuxFxVersion"]):
            acts.append(PlannedAction(kind="create", resource_type="image", resource=r.image or r.repository,
                                      detail=f"ACR Tasks build in {r.registry} (skipped when the tag exists)"))
        if site_now is None:
            acts.append(PlannedAction(kind="create", resource_type="Microsoft.Web/sites", resource=r.app_name,
                                      detail=f"first deploy straight to production: {r.image or '<image>'}",
                                      changes={"image": r.image}))
            if r.uses_acr and r.assign_acr_pull:
                acts.append(PlannedAction(kind="create", resource_type="Microsoft.Authorization/roleAssignments",
                                          resource=f"AcrPull on {r.registry}", detail="for the app's managed identity"))
        elif site_now != want:
            changes = _diff(site_now, want)
            if r.slots_supported:
                slot_exists = obs.get("slot") is not None
                acts.append(PlannedAction(kind="update" if slot_exists else "create",
                                          resource_type="Microsoft.Web/sites/slots", resource=f"{r.app_name}/{r.slot}",
                                          detail=f"new version on the {r.slot} slot, health check + smoke test there",
                                          changes=changes))
                if r.uses_acr and r.assign_acr_pull:
                    acts.append(PlannedAction(kind="create" if not slot_exists else "no-op",
                                              resource_type="Microsoft.Authorization/roleAssignments",
                                              resource=f"AcrPull on {r.registry}",
                                              detail=f"for the {r.slot} slot's managed identity"))
                acts.append(PlannedAction(kind="update", resource_type="Microsoft.Web/sites/slotsswap",
                                          resource=f"{r.app_name}/{r.slot} -> production",
                                          detail="swap when the slot is healthy; swap back if production then fails"))
            else:
                acts.append(PlannedAction(kind="update", resource_type="Microsoft.Web/sites", resource=r.app_name,
                                          detail="in-place update of production (no slots on this tier)", changes=changes))
        else:
            acts.append(PlannedAction(kind="no-op", resource_type="Microsoft.Web/sites", resource=r.app_name))
        return acts

    # ---- findings that need no Azure -----------------------------------------
    def _static_findings(self, spec: DeploymentSpec, r: Resolved, info: Optional[ModelInfo]) -> list[Finding]:
        p = spec.profile
        f: list[Finding] = []
        facts = sku_facts(r.sku) or {}
        f.append(Finding(check="names", level="pass",
                         message=f"app {r.app_name}, plan {r.plan_name}, slot {r.slot} follow the naming rules "
                                 "(site 2-60, slot 2-59 characters)"))
        if p.inference.gpu == "required":
            f.append(Finding(check="gpu", level="fail", message="the profile requires a GPU, and App Service has no GPU "
                             f"plans (none in the P0v3...P5mV3 list) [{source_url('E')}]",
                             hint="deploy to azureml (GPU SKUs) or aks with a GPU node pool"))
        elif p.inference.gpu == "preferred":
            f.append(Finding(check="gpu", level="warn", message="the profile prefers a GPU; App Service runs on CPU only",
                             hint="expect CPU latency, or use azureml / aks for a GPU"))
        else:
            f.append(Finding(check="gpu", level="pass", message="CPU-only model: any plan fits"))
        secs = p.inference.max_request_seconds
        if secs > REQUEST_TIMEOUT_S:
            f.append(Finding(check="request-timeout", level="fail",
                             message=f"requests up to {secs:g} s exceed App Service's {REQUEST_TIMEOUT_S} s request "
                                     f"timeout [{source_url('M')}]",
                             hint="use aks (up to 300 s) or a batch endpoint for long requests"))
        elif secs > 0.8 * REQUEST_TIMEOUT_S:
            f.append(Finding(check="request-timeout", level="warn",
                             message=f"requests up to {secs:g} s are close to the {REQUEST_TIMEOUT_S} s timeout"))
        else:
            f.append(Finding(check="request-timeout", level="pass",
                             message=f"longest request {secs:g} s < {REQUEST_TIMEOUT_S} s timeout"))
        if p.scale.scale_to_zero:
            f.append(Finding(check="scale-to-zero", level="warn", message="App Service keeps at least one instance "
                             f"running (and billed) [{source_url('G')}]", hint="containerapps or a batch endpoint scale to zero"))
        size_gib = (info.size_mb if info and info.size_mb else p.model.size_mb) / 1024
        mem = float(facts.get("mem_gib", 0))
        need = size_gib * 2.5 + 0.5  # model in memory while loading + Python/server overhead
        if mem and size_gib > mem:
            f.append(Finding(check="memory", level="fail", message=f"a {size_gib:.1f} GiB model cannot load on {r.sku} "
                             f"({mem:g} GiB per instance)", hint="pick a memory-optimised plan (P1mv3 and up)"))
        elif mem and need > mem:
            f.append(Finding(check="memory", level="warn", message=f"{r.sku} has {mem:g} GiB; a {size_gib:.2f} GiB model "
                             f"needs about {need:.1f} GiB while loading", hint="pick a larger plan SKU"))
        else:
            f.append(Finding(check="memory", level="pass", message=f"{r.sku}: {mem:g} GiB per instance"))
        need_start = start_time_limit((info.size_mb if info and info.size_mb else p.model.size_mb))
        if need_start >= START_LIMIT_MAX:
            f.append(Finding(check="start-time", level="warn", message="the model is large enough that the container "
                             f"may need more than the {START_LIMIT_MAX} s start limit",
                             hint="bake the model into a smaller format or use azureml / aks"))
        else:
            f.append(Finding(check="start-time", level="pass",
                             message=f"WEBSITES_CONTAINER_START_TIME_LIMIT={r.start_time_limit} s, WEBSITES_PORT={r.port}"))
        if not r.slots_supported:
            level = "warn" if p.operations.rollout != "simple" or p.scale.availability_sla >= 99.9 else "pass"
            f.append(Finding(check="slots", level=level, message=f"{r.tier} has no deployment slots: updates restart "
                             "production", hint="use S1 or Premium v3 for zero-downtime swaps"))
        if p.operations.rollout in ("canary", "shadow"):
            f.append(Finding(check="rollout", level="warn", message=f"{p.operations.rollout} rollout is not automated here: "
                             "the deployer validates on the staging slot and swaps (blue-green)",
                             hint="App Service slot traffic % routing can be set by hand for a canary"))
        if p.security.network == "on-premises":
            f.append(Finding(check="network", level="fail", message="App Service cannot run on-premises",
                             hint="use aks with Azure Arc"))
        elif p.security.network != "public":
            f.append(Finding(check="network", level="warn", message=f"{p.security.network} networking is not configured "
                             "by this deployer (the app is public, key-protected)",
                             hint="add VNet integration / private endpoints after the deploy"))
        f += auth_and_image_findings(p, r, auth_hint="enable App Service authentication (Easy Auth) on the app")
        return f

    # ---- preflight (the outline is ImageWebAppDeployer.preflight) -------------------
    def _remote_findings(self, ctx: DeployContext, r: Resolved) -> list[Finding]:
        from .azure_common import is_ours

        cl = _Clients(ctx, r.subscription)
        out: list[Finding] = []
        try:
            with _azure("check the app name"):
                site = _missing(lambda: cl.web.web_apps.get(r.resource_group, r.app_name))
                if site is not None:
                    if is_ours(site.tags, r.deployment):
                        out.append(Finding(check="name-available", level="pass",
                                           message=f"{r.app_name} exists and is ours: it will be updated"))
                    else:
                        out.append(Finding(check="name-available", level="fail",
                                           message=f"web app {r.app_name} exists and was not created for this deployment",
                                           hint="choose another app_name"))
                else:
                    from azure.mgmt.web.models import ResourceNameAvailabilityRequest
                    ans = cl.web.check_name_availability(ResourceNameAvailabilityRequest(
                        name=r.app_name, type="Microsoft.Web/sites"))
                    if ans.name_available:
                        out.append(Finding(check="name-available", level="pass",
                                           message=f"{r.app_name}.azurewebsites.net is available"))
                    else:
                        out.append(Finding(check="name-available", level="fail",
                                           message=f"{r.app_name}.azurewebsites.net is taken ({ans.reason}: {ans.message})",
                                           hint="web app names are global: choose another app_name"))
        except DeployError as e:
            out.append(Finding(check="name-available", level="warn", message=f"could not check the name: {e.message}",
                               hint=e.hint))
        try:
            with _azure("read the App Service plan"):
                plan = _missing(lambda: cl.web.app_service_plans.get(r.resource_group, r.plan_name))
            if plan is not None and not plan.reserved:
                out.append(Finding(check="plan", level="fail", message=f"plan {r.plan_name} is a Windows plan",
                                   hint="containers need a Linux plan: choose another plan_name"))
            elif plan is not None and not is_ours(plan.tags, r.deployment):
                cur = normalize_sku(str((plan.sku or {}).get("name") or ""))
                out.append(Finding(check="plan", level="warn" if cur != r.sku else "pass",
                                   message=f"existing plan {r.plan_name} ({cur}) is used as it is"
                                   + (f", not resized to {r.sku}" if cur != r.sku else "")))
        except DeployError as e:
            out.append(Finding(check="plan", level="warn", message=f"could not read the plan: {e.message}", hint=e.hint))
        try:
            with _azure("list regions"):
                regions = list(cl.web.list_geo_regions(sku=r.tier, linux_workers_enabled=True))
            names = {re.sub(r"[^a-z0-9]", "", str(g.get("name") or "").lower()) for g in regions}
            names |= {re.sub(r"[^a-z0-9]", "", str((g.get("properties") or {}).get("displayName") or "").lower())
                      for g in regions}
            if r.location in names:
                out.append(Finding(check="region", level="pass", message=f"{r.location} offers Linux {r.tier} plans"))
            else:
                out.append(Finding(check="region", level="fail", message=f"{r.location} does not offer Linux {r.tier} plans",
                                   hint="pick another region or SKU"))
        except DeployError as e:
            out.append(Finding(check="region", level="warn", message=f"could not list regions: {e.message}", hint=e.hint))
        out.append(self._quota_finding(cl, r))
        return out

    def _quota_finding(self, cl: _Clients, r: Resolved) -> Finding:
        """Plan quota per VM type, where Microsoft.Web exposes it (`az quota` does not cover it [AE])."""
        need = r.autoscale["max"] if r.autoscale else r.instances
        try:
            with _azure("read App Service usage"):
                usages = list(cl.web.get_usages_in_location.list(r.location))
        except DeployError as e:
            return Finding(check="quota", level="warn", message=f"App Service quota not readable here: {e.message}",
                           hint=f"check Quotas in the portal [{source_url('AE')}]")
        tier = r.tier.lower()
        for u in usages:
            label = " ".join(str(x or "") for x in ((u.name or {}).get("value"), (u.name or {}).get("localizedValue"))).lower()
            if tier in label.replace(" ", "") and u.limit is not None:
                free = int(u.limit) - int(u.current_value or 0)
                if free < need:
                    return Finding(check="quota", level="fail", message=f"{r.tier} quota: {free} instances free in "
                                   f"{r.location}, {need} needed", hint="request a quota increase or pick another tier")
                return Finding(check="quota", level="pass", message=f"{r.tier} quota: {free} free, {need} needed")
        return Finding(check="quota", level="warn", message=f"no {r.tier} quota figure published for {r.location}",
                       hint=f"check Quotas in the portal [{source_url('AE')}]")

    # ---- plan ------------------------------------------------------------------
    def plan(self, spec: DeploymentSpec, ctx: DeployContext) -> DeploymentPlan:
        from . import images

        s = self._settings(spec)
        info, sizing, download = self._model_for_plan(spec, ctx, s)
        r, notes = self._resolve(spec, s, ctx, info, sizing)
        build: dict[str, Any] = {}
        missing = credentials_missing_for(r, ctx)
        choice = None
        if r.image_source == "acr-build":
            choice, build = images.plan_web_image(ctx, r, info, given=s.registry,
                                                  given_resource_group=s.registry_resource_group,
                                                  read_azure=not missing, with_files=download is None)
            notes.append(choice.describe())
        findings = self._static_findings(spec, r, info)
        observed: Optional[dict] = None
        if missing:
            notes.append(self._state_not_read_note(missing))
        else:
            cl = _Clients(ctx, r.subscription)
            observed = self._observe(cl, r)
            r.state_read = True
            if observed.get("site") and not observed["site"]["ours"]:
                raise ConflictError(f"web app {r.app_name} exists and is not managed by this deployment",
                                    "choose another app_name")
        actions = self._actions(r, observed)
        if choice is not None and choice.plan_action() is not None:
            actions.insert(0, choice.plan_action())
        if download is not None:
            actions.insert(0, download)
        plan_owned = (observed or {}).get("plan_owned", True)
        return DeploymentPlan(
            spec=spec, target=TARGET, model_info=info, sizing=sizing, settings=r.model_dump(mode="json"),
            actions=actions, artifacts=self._artifacts(r, build, plan_owned), findings=findings,
            state_fingerprint=self._state_hash(observed) if observed is not None else "",
            desired_fingerprint=fingerprint(self._desired(r, plan_owned)), notes=notes)

    def _artifacts(self, r: Resolved, build: dict[str, Any], plan_owned: bool) -> dict[str, str]:
        """ARM template + parameters + README to do the same by hand, and the image build context."""
        arts: dict[str, str] = {}
        arts["appservice/azuredeploy.json"] = templating.read_template("appservice/azuredeploy.json")
        params = {
            "deploymentName": r.deployment, "location": r.location, "appName": r.app_name, "planName": r.plan_name,
            "createPlan": plan_owned, "sku": r.sku, "skuTier": r.tier, "instances": r.instances,
            "slotsSupported": r.slots_supported, "slotName": r.slot, "autoscale": bool(r.autoscale),
            "autoscaleMin": (r.autoscale or {}).get("min", r.instances),
            "autoscaleMax": (r.autoscale or {}).get("max", r.instances),
            "image": r.image or "<set: registry/repository:tag>", "registryName": r.registry if r.uses_acr else "",
            "registryResourceGroup": r.registry_resource_group or r.resource_group, "port": r.port,
            "startupCommand": startup_command(r.port), "startTimeLimit": r.start_time_limit,
            "healthCheckPath": READY_PATH, "enableAppInsights": r.app_insights, "appInsightsName": r.insights_name,
            "modelUri": r.model_uri, "scoringKeySetting": KEY_SETTING,
        }
        arts["appservice/azuredeploy.parameters.json"] = json.dumps({
            "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
            "contentVersion": "1.0.0.0",
            "parameters": {k: {"value": v} for k, v in params.items()}}, indent=2) + "\n"
        image_files: dict[str, str] = {}
        binary: list[str] = []
        for rel, data in build.items():
            text = _as_text(data)
            if text is None:
                binary.append(rel)  # model weights: rebuilt from the model by `plan`, not exported as text
            else:
                image_files[f"image/{rel}"] = text
        env = templating.environment("appservice")
        q = shlex.quote
        arts["appservice/README.md"] = env.get_template("README.md.j2").render(
            r=r, q=q, image_files=bool(image_files), binary=sorted(binary), key_setting=KEY_SETTING,
            rg=q(r.resource_group or "<resource-group>"), app=q(r.app_name), slot=q(r.slot),
            registry=q(r.registry or "<registry>"), image=q(r.image or "<image>"),
            tag_ref=q(r.image.split(".azurecr.io/", 1)[-1] if r.image else "<repository:tag>"))
        arts.update(image_files)
        return arts

    # ---- apply -------------------------------------------------------------------
    def apply(self, plan: DeploymentPlan, ctx: DeployContext) -> DeploymentResult:
        from . import images
        from .azure_common import emit, register_secret

        r = Resolved.model_validate(plan.settings)
        self._require_applyable(r, ctx)
        files = images.apply_model_files(ctx, plan, r) if r.image_source == "acr-build" else {}
        cl = _Clients(ctx, r.subscription)
        resuming = bool(ctx.checkpoints)
        ctx.step(f"read the current state of {r.app_name}")
        observed = self._observe(cl, r)
        if observed.get("site") and not observed["site"]["ours"]:
            raise ConflictError(f"web app {r.app_name} exists and is not managed by this deployment",
                                "choose another app_name")
        plan_owned = observed.get("plan_owned", True)
        desired = self._desired(r, plan_owned)
        half_swapped = resuming and ctx.checkpoints.get("appservice.phase") in ("swapping", "swapped")
        if self._comparable(observed) == desired and not half_swapped:
            host = (observed.get("site_info") or {}).get("host") or f"{r.app_name}.azurewebsites.net"
            self._remember(ctx, r, plan_owned)
            return DeploymentResult(name=r.deployment, target=TARGET, status="no-change", changed=False,
                                    endpoint_url=f"https://{host}{SCORE_PATH}", curl=_curl(host),
                                    message="already up to date", outputs=self._outputs(r, host, observed))
        if not resuming:
            self._refuse_if_changed(plan, observed, r)
        if r.image_source == "acr-build":
            r.image = images.ensure_web_image(ctx, r, files)
        self._ensure_plan(cl, ctx, r, observed)
        self._ensure_autoscale(cl, ctx, r, observed)
        insights = self._ensure_insights(cl, ctx, r) if r.app_insights else None
        if insights:
            register_secret(insights)
        site_now = observed.get("site")
        want = desired["site"]
        if site_now is None:
            result = self._first_deploy(cl, ctx, r, plan, insights, plan_owned)
        elif site_now != want or half_swapped:
            result = self._update(cl, ctx, r, plan, insights, observed, plan_owned)
        else:
            host = (observed.get("site_info") or {}).get("host") or f"{r.app_name}.azurewebsites.net"
            self._remember(ctx, r, plan_owned)
            emit(ctx, "info", "the web app is up to date; only the plan or autoscale changed")
            result = DeploymentResult(name=r.deployment, target=TARGET, status="succeeded", changed=True,
                                      endpoint_url=f"https://{host}{SCORE_PATH}", curl=_curl(host),
                                      message="plan updated", outputs=self._outputs(r, host, None))
        return result

    def _ensure_plan(self, cl: _Clients, ctx: DeployContext, r: Resolved, observed: dict) -> None:
        from azure.mgmt.web.models import AppServicePlan, AppServicePlanProperties, SkuDescription

        from .azure_common import pending, tags, wait

        now = observed.get("plan")
        if now == "unmanaged":
            info = observed.get("plan_info") or {}
            if not info.get("linux"):
                raise InputError(f"plan {r.plan_name} is a Windows plan", "containers need a Linux plan")
            return
        want = self._desired(r)["plan"]
        if now == want and not pending(ctx, "appservice.plan"):
            return
        capacity = r.instances
        if now is not None and r.autoscale and now.get("capacity") == "autoscale":
            capacity = (observed.get("plan_info") or {}).get("capacity") or r.instances  # keep what autoscale chose
        ctx.step(f"{'create' if now is None else 'update'} App Service plan {r.plan_name} ({r.sku})")
        body = AppServicePlan(location=r.location, kind="linux", tags=tags(r.deployment),
                              sku=SkuDescription(name=r.sku, tier=r.tier, capacity=capacity),
                              properties=AppServicePlanProperties(reserved=True))
        with _azure(f"create plan {r.plan_name}"):
            token = pending(ctx, "appservice.plan")
            poller = (cl.web.app_service_plans.begin_create_or_update(r.resource_group, r.plan_name, body,
                                                                       continuation_token=token) if token else
                      cl.web.app_service_plans.begin_create_or_update(r.resource_group, r.plan_name, body))
            wait(poller, ctx, f"App Service plan {r.plan_name}", "appservice.plan")

    def _ensure_autoscale(self, cl: _Clients, ctx: DeployContext, r: Resolved, observed: dict) -> None:
        from datetime import timedelta

        from azure.mgmt.monitor.models import (AutoscaleProfile, AutoscaleSettingResource, MetricTrigger,
                                               ScaleAction, ScaleCapacity, ScaleRule)

        from .azure_common import is_ours, tags

        now = observed.get("autoscale")
        if not r.autoscale:
            if now is not None:
                ctx.step(f"delete autoscale setting {r.autoscale_name} ({r.tier} plans do not autoscale)")
                with _azure("delete autoscale setting"):
                    setting = _missing(lambda: cl.monitor.autoscale_settings.get(r.resource_group, r.autoscale_name))
                    if setting is not None and is_ours(setting.tags, r.deployment):
                        cl.monitor.autoscale_settings.delete(r.resource_group, r.autoscale_name)
            return
        if now == r.autoscale:
            return
        a = r.autoscale

        def rule(op: str, threshold: float, window: int, direction: str, cooldown: int) -> ScaleRule:
            return ScaleRule(
                metric_trigger=MetricTrigger(metric_name="CpuPercentage", metric_namespace="microsoft.web/serverfarms",
                                             metric_resource_uri=r.plan_id, time_grain=timedelta(minutes=1),
                                             statistic="Average", time_window=timedelta(minutes=window),
                                             time_aggregation="Average", operator=op, threshold=threshold),
                scale_action=ScaleAction(direction=direction, type="ChangeCount", value="1",
                                         cooldown=timedelta(minutes=cooldown)))

        body = AutoscaleSettingResource(
            location=r.location, tags=tags(r.deployment), enabled=True, target_resource_uri=r.plan_id,
            profiles=[AutoscaleProfile(name="deploy-advisor", capacity=ScaleCapacity(
                minimum=str(a["min"]), maximum=str(a["max"]), default=str(a["default"])),
                rules=[rule("GreaterThan", 70, 5, "Increase", 5), rule("LessThan", 30, 10, "Decrease", 10)])])
        ctx.step(f"autoscale {r.plan_name}: {a['min']}-{a['max']} instances on CPU")
        with _azure(f"autoscale setting {r.autoscale_name}"):
            cl.monitor.autoscale_settings.create_or_update(r.resource_group, r.autoscale_name, body)

    def _ensure_insights(self, cl: _Clients, ctx: DeployContext, r: Resolved) -> Optional[str]:
        """Application Insights component (generic ARM resource); returns its connection string."""
        from azure.mgmt.resource.resources.models import GenericResource

        from .azure_common import pending, tags, wait

        with _azure("read Application Insights"):
            comp = _missing(lambda: cl.arm.resources.get_by_id(r.insights_id, api_version=INSIGHTS_API))
            if comp is None or not (comp.properties or {}).get("ConnectionString"):
                ctx.step(f"create Application Insights {r.insights_name}")
                token = pending(ctx, "appservice.insights")
                body = GenericResource(location=r.location, kind="web", tags=tags(r.deployment),
                                       properties={"Application_Type": "web"})
                poller = (cl.arm.resources.begin_create_or_update_by_id(r.insights_id, body, api_version=INSIGHTS_API,
                                                                     continuation_token=token) if token else
                          cl.arm.resources.begin_create_or_update_by_id(r.insights_id, body, api_version=INSIGHTS_API))
                wait(poller, ctx, f"Application Insights {r.insights_name}", "appservice.insights")
                comp = cl.arm.resources.get_by_id(r.insights_id, api_version=INSIGHTS_API)
        conn = (comp.properties or {}).get("ConnectionString")
        if not conn:
            ctx.emit("warning", "Application Insights has no connection string yet: the app runs without it")
        return conn

    def _site_body(self, r: Resolved, key: str, insights: Optional[str], slot: bool = False) -> Any:
        from azure.mgmt.web.models import ManagedServiceIdentity, NameValuePair, Site, SiteConfig, SiteProperties

        from .azure_common import tags

        settings = [NameValuePair(name=k, value=v) for k, v in self._app_settings(r).items()]
        settings.append(NameValuePair(name=KEY_SETTING, value=key))
        if insights:
            settings.append(NameValuePair(name=INSIGHTS_SETTING, value=insights))
        c = self._site_config(r)
        config = SiteConfig(linux_fx_version=c["linuxFxVersion"], app_command_line=c["appCommandLine"],
                            acr_use_managed_identity_creds=c["acrUseManagedIdentityCreds"], always_on=True,
                            health_check_path=READY_PATH, min_tls_version="1.2", ftps_state="Disabled",
                            http20_enabled=True, app_settings=settings)
        return Site(location=r.location, kind="app,linux,container", tags=tags(r.deployment),
                    identity=ManagedServiceIdentity(type="SystemAssigned"),
                    properties=SiteProperties(server_farm_id=r.plan_id, reserved=True, https_only=True,
                                              site_config=config))

    def _put_site(self, cl: _Clients, ctx: DeployContext, r: Resolved, key: str, insights: Optional[str],
                  slot: Optional[str]) -> Any:
        from .azure_common import pending, wait

        ck = f"appservice.site.{slot or PRODUCTION}"
        token = pending(ctx, ck)
        what = f"web app {r.app_name}" + (f" slot {slot}" if slot else "")
        with _azure(what):
            if slot:
                poller = (cl.web.web_apps.begin_create_or_update_slot(r.resource_group, r.app_name, slot, None,
                                                                       continuation_token=token) if token else
                          cl.web.web_apps.begin_create_or_update_slot(r.resource_group, r.app_name, slot,
                                                                       self._site_body(r, key, insights, True)))
            else:
                poller = (cl.web.web_apps.begin_create_or_update(r.resource_group, r.app_name, None,
                                                                  continuation_token=token) if token else
                          cl.web.web_apps.begin_create_or_update(r.resource_group, r.app_name,
                                                                  self._site_body(r, key, insights)))
            wait(poller, ctx, what, ck)
            # read back through GET: the LRO's final body may not carry the identity
            return (cl.web.web_apps.get_slot(r.resource_group, r.app_name, slot) if slot
                    else cl.web.web_apps.get(r.resource_group, r.app_name))

    def _sticky_key(self, cl: _Clients, r: Resolved) -> None:
        """Mark the scoring key slot-specific so a swap never moves keys between slots."""
        from azure.mgmt.web.models import SlotConfigNames, SlotConfigNamesResource

        with _azure("slot-specific settings"):
            cur = _props(cl.web.web_apps.list_slot_configuration_names(r.resource_group, r.app_name).get("properties"))
            names = sorted(set(cur.get("appSettingNames") or []) | {KEY_SETTING})
            if names != sorted(cur.get("appSettingNames") or []):
                cl.web.web_apps.update_slot_configuration_names(r.resource_group, r.app_name, SlotConfigNamesResource(
                    properties=SlotConfigNames(app_setting_names=names,
                                               connection_string_names=cur.get("connectionStringNames") or [])))

    def _grant_pull(self, cl: _Clients, ctx: DeployContext, r: Resolved, site: Any, slot: Optional[str]) -> Optional[str]:
        """AcrPull for the (slot's) managed identity; restart so the pull retries with it."""
        from . import images

        if not (r.uses_acr and r.assign_acr_pull):
            return None
        principal = (site.identity or {}).get("principalId") if site.identity else None
        if not principal:
            ctx.emit("warning", "the web app has no managed identity principal yet: AcrPull not granted")
            return None
        created = images.ensure_acr_pull(ctx, registry_id=r.registry_id, principal_id=principal)
        if created:
            with _azure("restart after granting AcrPull"):
                if slot:
                    cl.web.web_apps.restart_slot(r.resource_group, r.app_name, slot)
                else:
                    cl.web.web_apps.restart(r.resource_group, r.app_name)
        return principal

    def _first_deploy(self, cl: _Clients, ctx: DeployContext, r: Resolved, plan: DeploymentPlan,
                      insights: Optional[str], plan_owned: bool) -> DeploymentResult:
        from .azure_common import register_secret

        key = None
        if ctx.checkpoints.get("appservice.site.production"):  # resuming: the key is already in Azure
            key = self._read_key(cl, r, None, missing_ok=True)
        key = key or secrets.token_urlsafe(32)
        register_secret(key)
        ctx.step(f"create web app {r.app_name} running {r.image} (first deploy: straight to production)")
        site = self._put_site(cl, ctx, r, key, insights, None)
        self._remember(ctx, r, plan_owned)
        self._sticky_key(cl, r)
        principal = self._grant_pull(cl, ctx, r, site, None)
        self._remember(ctx, r, plan_owned, principals=[principal] if principal else [])
        host = _host_of(site) or f"{r.app_name}.azurewebsites.net"
        ok, why, smoke = self._verify(cl, ctx, r, host, key, plan, "production")
        if not ok:
            raise RemoteError(f"{r.app_name} was created but failed its checks: {why}",
                              f"see `deploy-advisor logs {r.deployment}`; fix the image and apply again",
                              code="ContainerUnhealthy")
        return self._succeeded(r, host, smoke, "created", principal)

    def _update(self, cl: _Clients, ctx: DeployContext, r: Resolved, plan: DeploymentPlan, insights: Optional[str],
                observed: dict, plan_owned: bool) -> DeploymentResult:
        from .azure_common import emit, register_secret

        prod_host = (observed.get("site_info") or {}).get("host") or f"{r.app_name}.azurewebsites.net"
        key = self._read_key(cl, r, None, missing_ok=True)
        if not key:
            key = secrets.token_urlsafe(32)
            emit(ctx, "warning", "production had no scoring key: a new one is set on both slots")
        register_secret(key)
        principals = list(self._remembered(ctx, r.deployment).get("principals") or [])
        if not r.slots_supported:
            ctx.step(f"update {r.app_name} in place ({r.tier} has no slots): production restarts")
            before = (observed.get("site") or {}).get("config", {}).get("linuxFxVersion")
            site = self._put_site(cl, ctx, r, key, insights, None)
            self._sticky_key(cl, r)
            ok, why, smoke = self._verify(cl, ctx, r, prod_host, key, plan, "production")
            if not ok:
                raise RemoteError(f"the new version failed on {r.app_name}: {why}",
                                  f"production was updated in place; to roll back set image={before.split('|', 1)[-1]}"
                                  if before else "see the logs", code="ContainerUnhealthy")
            return self._succeeded(r, _host_of(site) or prod_host, smoke, "updated in place", None)
        phase = ctx.checkpoints.get("appservice.phase")
        if phase not in ("swapping", "swapped"):
            ctx.step(f"deploy {r.image} to the {r.slot} slot (production keeps serving)")
            self._sticky_key(cl, r)
            slot_site = self._put_site(cl, ctx, r, key, insights, r.slot)
            principal = self._grant_pull(cl, ctx, r, slot_site, r.slot)
            if principal and principal not in principals:
                principals.append(principal)
            self._remember(ctx, r, plan_owned, principals=principals)
            slot_host = _host_of(slot_site) or f"{r.app_name}-{r.slot}.azurewebsites.net"
            ok, why, smoke = self._verify(cl, ctx, r, slot_host, key, plan, f"slot {r.slot}")
            if not ok:
                if not r.keep_failed:
                    with _azure(f"delete the failed {r.slot} slot"):
                        cl.web.web_apps.delete_slot(r.resource_group, r.app_name, r.slot)
                    kept = f"the {r.slot} slot was deleted"
                else:
                    kept = f"the {r.slot} slot was kept for debugging ({slot_host})"
                raise RemoteError(f"the new version failed on the {r.slot} slot: {why}; production was not touched, "
                                  f"{kept}", f"see `deploy-advisor logs {r.deployment}`", code="StagingUnhealthy")
            ctx.checkpoint("appservice.phase", "swapping")
            self._swap(cl, ctx, r, "appservice.swap", f"swap {r.slot} into production")
            ctx.checkpoint("appservice.phase", "swapped")
        else:
            ctx.emit("info", f"resuming the swap of {r.slot} into production")
            if phase == "swapping" and not self._swap_landed(cl, r, ctx):
                self._swap(cl, ctx, r, "appservice.swap", f"swap {r.slot} into production")
            ctx.checkpoint("appservice.phase", "swapped")
        ok, why, smoke = self._verify(cl, ctx, r, prod_host, key, plan, "production after the swap")
        if not ok:
            emit(ctx, "error", f"production failed after the swap ({why}): swapping back")
            self._swap(cl, ctx, r, "appservice.swapback", f"swap back {r.slot} and production")
            ctx.checkpoint("appservice.phase", "swapped-back")
            ok_back, why_back, _ = self._verify(cl, ctx, r, prod_host, key, plan, "production after swapping back",
                                                smoke_test=False)
            state = "the previous version serves production again" if ok_back else \
                f"the previous version is back but not healthy either ({why_back})"
            raise RemoteError(f"the new version failed on production after the swap ({why}); swapped back: {state}",
                              f"the failing version is on the {r.slot} slot; see `deploy-advisor logs {r.deployment}`",
                              code="SwappedBack")
        ctx.checkpoint("appservice.phase", "verified")
        return self._succeeded(r, prod_host, smoke, f"updated through the {r.slot} slot (previous version kept there "
                               "for a manual swap back)", None)

    def _swap_landed(self, cl: _Clients, r: Resolved, ctx: DeployContext) -> bool:
        """After a crash mid-swap: did the swap happen? (swapping again would undo it)."""
        from .azure_common import pending, wait

        token = pending(ctx, "appservice.swap")
        if token:  # the swap was accepted and is still running: follow it instead of re-issuing it
            with _azure("resume the swap"):
                wait(cl.web.web_apps.begin_swap_slot(r.resource_group, r.app_name, r.slot, None,
                                                     continuation_token=token), ctx, "swap (resumed)", "appservice.swap")
            return True
        with _azure("read production after the interrupted swap"):
            conf = _props(cl.web.web_apps.get_configuration(r.resource_group, r.app_name).get("properties"))
        return conf.get("linuxFxVersion") == self._site_config(r)["linuxFxVersion"]

    def _swap(self, cl: _Clients, ctx: DeployContext, r: Resolved, ck: str, what: str) -> None:
        from azure.mgmt.web.models import CsmSlotEntity

        from .azure_common import pending, wait

        ctx.step(what)
        token = pending(ctx, ck)
        with _azure(what):
            poller = (cl.web.web_apps.begin_swap_slot(r.resource_group, r.app_name, r.slot, None,
                                                       continuation_token=token) if token else
                      cl.web.web_apps.begin_swap_slot(r.resource_group, r.app_name, r.slot,
                                                       CsmSlotEntity(target_slot=PRODUCTION, preserve_vnet=True)))
            wait(poller, ctx, what, ck)

    def _read_key(self, cl: _Clients, r: Resolved, slot: Optional[str], missing_ok: bool = False) -> Optional[str]:
        """The scoring key from the app settings (fetched when needed, never stored)."""
        from .azure_common import register_secret

        with _azure("read the scoring key"):
            settings = (cl.web.web_apps.list_application_settings_slot(r.resource_group, r.app_name, slot) if slot
                        else cl.web.web_apps.list_application_settings(r.resource_group, r.app_name))
        key = (settings.properties or {}).get(KEY_SETTING)
        if key:
            register_secret(key)
        elif not missing_ok:
            raise RemoteError(f"{r.app_name} has no {KEY_SETTING} app setting", "apply the deployment again")
        return key

    # ---- health and smoke --------------------------------------------------------
    def _verify(self, cl: _Clients, ctx: DeployContext, r: Resolved, host: str, key: str, plan: DeploymentPlan,
                what: str, smoke_test: Optional[bool] = None) -> tuple[bool, str, Optional[dict]]:
        """Wait for the readiness route, then score the model's input example. (ok, why, smoke)."""
        ok, why = self._wait_ready(cl, ctx, host, r, what)
        if not ok:
            return False, why, None
        if not (r.smoke_test if smoke_test is None else smoke_test):
            return True, "", None
        return smoke_outcome(ctx, plan.model_info, lambda payload: self._score(cl, host, key, payload), what)

    def _wait_ready(self, cl: _Clients, ctx: DeployContext, host: str, r: Resolved, what: str) -> tuple[bool, str]:
        return cl.endpoint.wait_ready(host, what, r.health_timeout, r.health_poll_seconds, READY_PATH)

    def _score(self, cl: _Clients, host: str, key: str, payload: Any) -> tuple[int, float, Any]:
        return cl.endpoint.score(host, key, payload, REQUEST_TIMEOUT_S, SCORE_PATH)

    # ---- results and local memory ------------------------------------------------
    def _outputs(self, r: Resolved, host: str, observed: Optional[dict]) -> dict[str, Any]:
        return {"app": r.app_name, "resource_group": r.resource_group, "subscription": r.subscription,
                "plan": r.plan_name, "sku": r.sku, "instances": r.instances, "image": r.image,
                "slot": r.slot if r.slots_supported else None, "host": host,
                "log_stream": f"https://{r.app_name}.scm.azurewebsites.net/api/logstream"}

    def _succeeded(self, r: Resolved, host: str, smoke: Optional[dict], how: str,
                   principal: Optional[str]) -> DeploymentResult:
        return DeploymentResult(name=r.deployment, target=TARGET, status="succeeded", changed=True,
                                endpoint_url=f"https://{host}{SCORE_PATH}", curl=_curl(host),
                                smoke_latency_ms=(smoke or {}).get("latency_ms"),
                                smoke_response=(smoke or {}).get("response"),
                                message=f"{r.app_name} {how}: {r.image}", outputs=self._outputs(r, host, None))

    @staticmethod
    def _state_path(ctx: DeployContext, name: str) -> Path:
        from .azure_common import memory_path
        return memory_path(ctx, TARGET, name)

    def recorded(self, ctx: DeployContext) -> list[str]:
        return sorted(p.stem for p in self._state_path(ctx, "_").parent.glob("*.json"))

    def _remember(self, ctx: DeployContext, r: Resolved, plan_owned: bool,
                  principals: Optional[list[str]] = None) -> None:
        """Where this deployment lives (no secrets), so status/invoke/destroy find it by name."""
        from .azure_common import remember

        prev = self._remembered(ctx, r.deployment)
        data = {"subscription": r.subscription, "resource_group": r.resource_group, "app_name": r.app_name,
                "plan_name": r.plan_name, "plan_owned": plan_owned, "slot": r.slot, "location": r.location,
                "autoscale_name": r.autoscale_name, "insights_name": r.insights_name if r.app_insights else "",
                "registry_id": r.registry_id if r.uses_acr and r.assign_acr_pull else "",
                "registry": r.registry if r.image_source == "acr-build" else "",
                "registry_resource_group": r.registry_resource_group,
                "principals": sorted(set((prev.get("principals") or []) + (principals or [])))}
        remember(ctx, TARGET, r.deployment, data)

    def _locate(self, name: str, ctx: DeployContext) -> Resolved:
        """The deployment's names: from what apply remembered, else the defaults for this context."""
        mem, sub, rg, app = self._remembered_scope(name, ctx)
        return Resolved(deployment=name, subscription=sub, resource_group=rg, location=mem.get("location") or "",
                        app_name=app, plan_name=mem.get("plan_name") or f"{app}-plan"[:60], sku="", tier="",
                        instances=1, slots_supported=True, slot=mem.get("slot") or "staging", image_source="user",
                        insights_name=mem.get("insights_name") or "", state_read=True)

    def _site_for(self, cl: _Clients, r: Resolved) -> Any:
        """Our web app for this deployment, or None (a same-named app that is not ours counts as none)."""
        from .azure_common import is_ours

        with _azure(f"read web app {r.app_name}"):
            site = _missing(lambda: cl.web.web_apps.get(r.resource_group, r.app_name))
        if site is not None and not is_ours(site.tags, r.deployment):
            return None
        return site

    # ---- status / invoke / logs / destroy -----------------------------------------
    def status(self, name: str, ctx: DeployContext) -> Status:
        r = self._locate(name, ctx)
        cl = _Clients(ctx, r.subscription)
        site = self._site_for(cl, r)
        if site is None:
            return Status(name=name, target=TARGET, state="not-found", message=f"no web app {r.app_name} in "
                          f"{r.resource_group} tagged for this deployment")
        host = _host_of(site) or f"{r.app_name}.azurewebsites.net"
        with _azure("read configuration"):
            conf = _props(cl.web.web_apps.get_configuration(r.resource_group, r.app_name).get("properties"))
            plan = _missing(lambda: cl.web.app_service_plans.get(r.resource_group, r.plan_name))
            slot = _missing(lambda: cl.web.web_apps.get_slot(r.resource_group, r.app_name, r.slot))
            slot_image = (_props(cl.web.web_apps.get_configuration_slot(r.resource_group, r.app_name, r.slot)
                                 .get("properties")).get("linuxFxVersion") if slot is not None else None)
        details = {"app": r.app_name, "resource_group": r.resource_group, "host": host,
                   "image": str(conf.get("linuxFxVersion") or "").split("|", 1)[-1],
                   "sku": (plan.sku or {}).get("name") if plan is not None else None,
                   "instances": (plan.sku or {}).get("capacity") if plan is not None else None,
                   "slot": r.slot if slot is not None else None,
                   "slot_image": str(slot_image).split("|", 1)[-1] if slot_image else None,
                   "provisioning_state": site.get("properties", {}).get("provisioningState"),
                   "log_stream": f"https://{r.app_name}.scm.azurewebsites.net/api/logstream"}
        arm_state = str(site.state or "")
        if arm_state.lower() == "stopped":
            return Status(name=name, target=TARGET, state="stopped", endpoint_url=f"https://{host}{SCORE_PATH}",
                          message="the web app is stopped", details=details)
        ready, answer = cl.endpoint.probe(host, READY_PATH)
        details["ready"] = answer
        return Status(name=name, target=TARGET, state="running" if ready else "degraded",
                      endpoint_url=f"https://{host}{SCORE_PATH}",
                      message=f"{arm_state or 'Running'}; {READY_PATH}: {answer}", details=details)

    def invoke(self, name: str, payload: Any, ctx: DeployContext) -> InvokeResult:
        r = self._locate(name, ctx)
        cl = _Clients(ctx, r.subscription)
        site = self._site_for(cl, r)
        if site is None:
            raise InputError(f"no web app for deployment {name}", "deploy it first, or check the resource group")
        key = self._read_key(cl, r, None)
        status, latency, body = self._score(cl, _host_of(site) or f"{r.app_name}.azurewebsites.net", key, payload)
        return InvokeResult(status_code=status, latency_ms=round(latency, 2), response=body)

    def logs(self, name: str, ctx: DeployContext, tail: int = 100) -> str:
        from .azure_common import scrub

        r = self._locate(name, ctx)
        cl = _Clients(ctx, r.subscription)
        if self._site_for(cl, r) is None:
            return f"no web app for deployment {name}"
        head = (f"# live log stream: https://{r.app_name}.scm.azurewebsites.net/api/logstream "
                f"(or: az webapp log tail -n {r.app_name} -g {r.resource_group})")
        with _azure("read container logs"):
            stream = cl.web.web_apps.get_web_site_container_logs(r.resource_group, r.app_name)
            raw = b"".join(stream) if stream is not None else b""
        lines = raw.decode("utf-8", "replace").splitlines()[-max(1, int(tail)):]
        return scrub("\n".join([head, *lines]))

    def destroy(self, name: str, ctx: DeployContext) -> DestroyResult:
        from . import images
        from .azure_common import is_ours, pending, wait

        r = self._locate(name, ctx)
        mem = self._remembered(ctx, name)
        cl = _Clients(ctx, r.subscription)
        deleted: list[str] = []
        kept: list[str] = []
        rg, app = r.resource_group, r.app_name
        with _azure(f"read web app {app}"):
            site = _missing(lambda: cl.web.web_apps.get(rg, app))
        if site is not None and not is_ours(site.tags, name):
            kept.append(f"web app {app} (not tagged for {name})")
            site = None
        if site is not None:
            with _azure(f"delete slots of {app}"):
                for slot in cl.web.web_apps.list_slots(rg, app):
                    slot_name = str(slot.name or "").rsplit("/", 1)[-1]
                    if is_ours(slot.tags, name):
                        ctx.step(f"delete slot {slot_name}")
                        cl.web.web_apps.delete_slot(rg, app, slot_name)
                        deleted.append(f"slot {app}/{slot_name}")
                    else:
                        kept.append(f"slot {app}/{slot_name} (not ours)")
            ctx.step(f"delete web app {app}")
            with _azure(f"delete web app {app}"):
                cl.web.web_apps.delete(rg, app, delete_empty_server_farm=False)
            deleted.append(f"web app {app}")
        deleted += images.drop_remembered_acr_pulls(ctx, mem)
        with _azure("delete autoscale setting"):
            setting = _missing(lambda: cl.monitor.autoscale_settings.get(rg, r.autoscale_name))
            if setting is not None and is_ours(setting.tags, name):
                cl.monitor.autoscale_settings.delete(rg, r.autoscale_name)
                deleted.append(f"autoscale {r.autoscale_name}")
        if r.insights_name:
            with _azure("delete Application Insights"):
                comp = _missing(lambda: cl.arm.resources.get_by_id(r.insights_id, api_version=INSIGHTS_API))
                if comp is not None and is_ours(comp.tags, name):
                    wait(cl.arm.resources.begin_delete_by_id(r.insights_id, api_version=INSIGHTS_API), ctx,
                         f"delete Application Insights {r.insights_name}")
                    deleted.append(f"Application Insights {r.insights_name}")
        images.release_remembered_registry(ctx, mem, deployment=name, subscription=r.subscription, resource_group=rg,
                                           deleted=deleted, kept=kept)
        with _azure(f"read plan {r.plan_name}"):
            plan = _missing(lambda: cl.web.app_service_plans.get(rg, r.plan_name))
        if plan is not None:
            if not is_ours(plan.tags, name):
                kept.append(f"plan {r.plan_name} (not created by this deployment)")
            elif plan.number_of_sites:
                kept.append(f"plan {r.plan_name} (still hosts {plan.number_of_sites} other app(s))")
            else:
                ctx.step(f"delete App Service plan {r.plan_name}")
                with _azure(f"delete plan {r.plan_name}"):
                    cl.web.app_service_plans.delete(rg, r.plan_name)
                deleted.append(f"plan {r.plan_name}")
        self._state_path(ctx, name).unlink(missing_ok=True)
        return self._destroyed(name, rg, deleted, kept)


# ----------------------------------------------------------------- helpers


def _as_text(data: Any, limit: int = 1_000_000) -> Optional[str]:
    from .planning import artifact_text
    return artifact_text(data, limit)


def _curl(host: str) -> str:
    from .https_endpoint import curl
    return curl(host, SCORE_PATH)


def _diff(now: Any, want: Any) -> dict[str, Any]:
    from .planning import dotted_diff
    return dotted_diff(now, want)
