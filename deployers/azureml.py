"""Azure ML managed online endpoint deployer (azure-ai-ml), with safe rollout.

A new model version goes to a new deployment (blue/green naming) at 0% traffic,
is smoke-tested directly through the `azureml-model-deployment` header, and only
then gets traffic as the profile's rollout asks (simple / blue-green: 100%;
canary: 10% then 100%; shadow: mirror <= 50% and stop). Any failure leaves the
previous traffic map exactly as it was. Every long-running operation records its
continuation token so a crashed apply resumes polling instead of re-issuing PUTs.

Azure SDK imports happen inside methods: importing this module stays cheap.
"""
from __future__ import annotations

import json
import math
import os
import re
import time
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

from advisor.models import ModelInfo, Sizing, WorkloadProfile

from . import azure_common as ac
from . import templating
from .base import DeployContext, Deployer
from .errors import (AuthError, ConflictError, DeployError, InputError, NotFoundError, QuotaError, RemoteError,
                     StalePlanError)
from .extras import needs_extra
from .models import (DeploymentPlan, DeploymentResult, DeploymentSpec, DestroyResult, Finding, InvokeResult,
                     PlannedAction, Status, fingerprint)

ENDPOINT_NAME_RE = re.compile(r"(?!.*--)[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]")  # 3-32, letter first, no "--" [K]
MODEL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
AZUREML_MODEL_RE = re.compile(r"^azureml:(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]{0,254}):(?P<version>[A-Za-z0-9_.-]{1,64})$")
COLORS = ("blue", "green")
TAG_SPEC = "deploy-advisor-spec"
MAX_TIMEOUT_MS = 180_000  # request_timeout_ms max for managed online endpoints [K]
MAX_MIRROR = 50  # mirror traffic <= 50% [O]
MAX_DEPLOYMENTS_PER_ENDPOINT = 20  # [K]
MAX_ENDPOINTS_PER_REGION = 100  # per subscription and region, all endpoint types [K]
QUOTA_RESERVE = 0.2  # ceil(1.2 x instances) x cores must be free [AD]
DEFAULT_IMAGE = "mcr.microsoft.com/azureml/minimal-py311-inference:latest"

OFFLINE_NOTE = ("remote state not read (no Azure access): every resource is planned as new; sign in and plan again "
                "before applying")
SRC = {
    "K": "https://learn.microsoft.com/azure/machine-learning/how-to-manage-quotas#azure-machine-learning-online-endpoints-and-batch-endpoints",
    "D": "https://learn.microsoft.com/azure/machine-learning/reference-managed-online-endpoints-vm-sku-list",
    "AD": "https://learn.microsoft.com/azure/machine-learning/how-to-manage-quotas#virtual-machine-quota",
    "O": "https://learn.microsoft.com/azure/machine-learning/how-to-safely-rollout-online-endpoints",
    "J": "https://learn.microsoft.com/azure/machine-learning/how-to-autoscale-endpoints",
    "R": "https://learn.microsoft.com/azure/machine-learning/how-to-authenticate-online-endpoint",
    "U": "https://learn.microsoft.com/azure/machine-learning/concept-secure-online-endpoint",
}

# VM sizes supported by managed online endpoints (Learn SKU list [D]): name -> (vCPUs, memory GiB, GPUs).
SKUS: dict[str, tuple[int, float, int]] = {
    "Standard_DS1_v2": (1, 3.5, 0), "Standard_DS2_v2": (2, 7, 0), "Standard_DS3_v2": (4, 14, 0),
    "Standard_DS4_v2": (8, 28, 0), "Standard_DS5_v2": (16, 56, 0),
    "Standard_F2s_v2": (2, 4, 0), "Standard_F4s_v2": (4, 8, 0), "Standard_F8s_v2": (8, 16, 0),
    "Standard_F16s_v2": (16, 32, 0), "Standard_F32s_v2": (32, 64, 0), "Standard_F48s_v2": (48, 96, 0),
    "Standard_F64s_v2": (64, 128, 0), "Standard_F72s_v2": (72, 144, 0),
    "Standard_D2as_v4": (2, 8, 0), "Standard_D4as_v4": (4, 16, 0), "Standard_D8as_v4": (8, 32, 0),
    "Standard_D16as_v4": (16, 64, 0), "Standard_D32as_v4": (32, 128, 0),
    "Standard_D2a_v4": (2, 8, 0), "Standard_D4a_v4": (4, 16, 0), "Standard_D8a_v4": (8, 32, 0),
    "Standard_E2s_v3": (2, 16, 0), "Standard_E4s_v3": (4, 32, 0), "Standard_E8s_v3": (8, 64, 0),
    "Standard_E16s_v3": (16, 128, 0), "Standard_E32s_v3": (32, 256, 0), "Standard_E48s_v3": (48, 384, 0),
    "Standard_E64s_v3": (64, 432, 0),
    "Standard_NC4as_T4_v3": (4, 28, 1), "Standard_NC8as_T4_v3": (8, 56, 1), "Standard_NC16as_T4_v3": (16, 110, 1),
    "Standard_NC64as_T4_v3": (64, 440, 4), "Standard_NC6s_v3": (6, 112, 1), "Standard_NC12s_v3": (12, 224, 2),
    "Standard_NC24s_v3": (24, 448, 4), "Standard_NC24ads_A100_v4": (24, 220, 1),
    "Standard_NC48ads_A100_v4": (48, 440, 2), "Standard_NC96ads_A100_v4": (96, 880, 4),
    "Standard_ND96asr_v4": (96, 900, 8), "Standard_ND96amsr_A100_v4": (96, 1900, 8),
    "Standard_ND40rs_v2": (40, 672, 8), "Standard_NV6ads_A10_v5": (6, 55, 1), "Standard_NV12ads_A10_v5": (12, 110, 1),
}
SMALL_SKUS = {"Standard_DS1_v2", "Standard_DS2_v2", "Standard_F2s_v2", "Standard_D2as_v4", "Standard_D2a_v4",
              "Standard_E2s_v3"}  # below DS3_v2 / F4s_v2: the SDK itself warns these may be too small
EndpointName = Annotated[Optional[str], ac.Matches(ENDPOINT_NAME_RE.pattern, (
    "endpoint names have 3-32 characters: letters, digits and single dashes, starting with a letter and ending "
    "with a letter or digit"))]
WorkspaceName = Annotated[Optional[str], ac.Matches(r"[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}",
                                                    "workspace names have 3-33 letters, digits, '-' or '_'")]


class WorkspaceScope(BaseModel):
    """Where an Azure ML deployment lives: the first settings of every Azure ML target."""
    model_config = ConfigDict(extra="forbid")

    subscription: ac.SubscriptionId = Field(None, description="Azure subscription id (default: AZURE_SUBSCRIPTION_ID or "
                                                          "the workspace config.json)")
    resource_group: ac.ResourceGroup = Field(None, description="Resource group of the workspace (default: "
                                                            "AZURE_RESOURCE_GROUP or config.json)")
    workspace: WorkspaceName = Field(None, description="Azure ML workspace name (default: AZUREML_WORKSPACE_NAME or "
                                                       "config.json)")


class AzureMLSettings(WorkspaceScope):
    """Azure ML managed online endpoint settings (CLI `--set k=v`, the UI form)."""
    endpoint_name: EndpointName = Field(None, description="Online endpoint name, 3-32 letters/digits/dashes, unique "
                                                           "in the region (default: the deployment name)")
    auth_mode: Optional[Literal["key", "aml_token", "aad_token"]] = Field(
        None, description="Data-plane auth: key, aml_token or aad_token (Entra ID); default from the profile's "
                          "security.auth")
    instance_type: ac.VmSize = Field(None, description="VM size, e.g. Standard_DS3_v2 (default: the advisor's "
                                                           "sizing)")
    instance_count: Optional[int] = Field(None, ge=1, le=50, description="Instances of the deployment (default: the "
                                                                         "advisor's sizing)")
    min_instances: Optional[int] = Field(None, ge=1, le=50, description="Autoscale minimum (default: sizing min)")
    max_instances: Optional[int] = Field(None, ge=1, le=50, description="Autoscale maximum (default: sizing max)")
    autoscale: bool = Field(True, description="Create an Azure Monitor autoscale setting when max > min")
    request_timeout_ms: Optional[int] = Field(None, ge=1000, le=MAX_TIMEOUT_MS,
                                              description="Request timeout in ms, at most 180000 (default: from the "
                                                          "profile's longest request)")
    max_concurrent_requests_per_instance: Optional[int] = Field(
        None, ge=1, le=1000, description="Concurrent requests per instance; matched to the server's workers "
                                         "(WORKER_COUNT) by default")
    probe_initial_delay: Optional[int] = Field(None, ge=1, le=3600, description="Liveness/readiness probe initial "
                                                                                "delay in s (default: sized to the "
                                                                                "model)")
    probe_failure_threshold: Optional[int] = Field(None, ge=1, le=100, description="Probe failures before restart "
                                                                                   "(default 30)")
    app_insights: Optional[bool] = Field(None, description="Application Insights on the deployment (default: on when "
                                                           "the profile asks for drift monitoring or app-insights)")
    data_collection: Optional[bool] = Field(None, description="Collect model inputs/outputs for monitoring "
                                                              "(default: on with drift monitoring)")
    rollout: Optional[Literal["simple", "blue-green", "canary", "shadow"]] = Field(
        None, description="Traffic strategy for a new version (default: the profile's operations.rollout)")
    canary_percent: int = Field(10, ge=1, le=50, description="Traffic share of the new version during a canary")
    canary_observe_seconds: int = Field(60, ge=0, le=3600, description="How long the canary runs before going to "
                                                                       "100%")
    mirror_percent: int = Field(10, ge=1, le=MAX_MIRROR, description="Share of live traffic mirrored to a shadow "
                                                                     "deployment (<= 50)")
    keep_failed: bool = Field(False, description="Keep a failed deployment (at 0% traffic) to read its logs")
    keep_previous: bool = Field(False, description="Keep the previous deployment (at 0% traffic) after a rollout")
    smoke_input: Optional[str] = Field(None, description="JSON body for the smoke test (default: the model's input "
                                                         "example)")
    environment_image: str = Field(DEFAULT_IMAGE, description="Base image for custom (non-MLflow) models")

    @field_validator("smoke_input")
    @classmethod
    def _smoke(cls, v: Optional[str]) -> Optional[str]:
        if v is not None:
            try:
                json.loads(v)
            except ValueError as e:
                raise ValueError(f"smoke_input must be JSON ({e})") from None
        return v


# ----------------------------------------------------------------- small helpers


def workspace_config() -> dict[str, str]:
    """subscription / resource group / workspace from config.json, searched as MLClient.from_config does
    (also what model resolution uses for `azureml:NAME:VERSION`)."""
    here = Path.cwd()
    for folder in (here, *here.parents):
        for cfg in (folder / ".azureml" / "config.json", folder / "aml_config" / "config.json",
                    folder / "config.json"):
            if cfg.is_file():
                try:
                    data = json.loads(cfg.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                if isinstance(data, dict) and data.get("workspace_name"):
                    return {"subscription": data.get("subscription_id") or "",
                            "resource_group": data.get("resource_group") or "",
                            "workspace": data.get("workspace_name") or ""}
    return {}


def _quiet_sdk() -> None:
    """azure-ai-ml's poller prints a '.' to stdout per poll; `--output json` must own stdout."""
    from azure.ai.ml._utils import _azureml_polling as polling
    from azure.mgmt.core.polling.arm_polling import ARMPolling

    if not getattr(polling.AzureMLPolling, "_deploy_advisor_quiet", False):
        polling.AzureMLPolling.update_status = ARMPolling.update_status  # same behaviour, minus the print
        polling.AzureMLPolling._deploy_advisor_quiet = True


def _templates(folder: str = "azureml"):
    return templating.environment(folder)


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    """Read a value from an SDK object defensively: attribute, then __dict__ (camelCase or snake_case), then dict."""
    for n in names:
        v = obj.get(n) if isinstance(obj, dict) else getattr(obj, n, None)
        if v is None and not isinstance(obj, dict):
            v = getattr(obj, "__dict__", {}).get(n)
        if v is not None:
            return v
    return default


def _norm_auth(mode: Any) -> str:
    """key / aml_token / aad_token, whichever spelling the SDK or the REST API used."""
    return str(mode or "").lower().replace("_", "")


def _state_str(value: Any) -> str:
    s = str(value or "")
    return s.split(".")[-1].capitalize() if s else ""


def plan_timeout_ms(endpoint: Any) -> Optional[int]:
    """Largest request timeout among an endpoint's deployments (the client waits a bit longer)."""
    best = None
    for d in getattr(endpoint, "deployments", None) or []:
        rs = getattr(d, "request_settings", None)
        t = getattr(rs, "request_timeout_ms", None)
        if t:
            best = max(best or 0, int(t))
    return best


def _with_traffic(ep: Any, traffic: dict, mirror: dict) -> Any:
    """The endpoint with exactly these traffic / mirror shares: every deployment not named gets 0."""
    ep.traffic = {**{k: 0 for k in (ep.traffic or {})}, **traffic}
    ep.mirror_traffic = {**{k: 0 for k in (ep.mirror_traffic or {})}, **mirror}
    return ep


def _endpoint_or_none(ml: Any, c: "_Coords") -> Any:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return ml.online_endpoints.get(c.endpoint)
    except ResourceNotFoundError:
        return None
    except Exception as e:
        raise ac.map_azure_error(e, f"endpoint {c.endpoint}") from e


def check_core_quota(ml: Any, location: str, sku: str, n: int, add, *, reserve: bool, held: int = 0) -> None:
    """`n` instances of `sku` must fit the family's and the region's free dedicated vCPUs [AD].

    With `reserve` (managed online deployments), ceil(1.2 x n) x vCPUs must be free; `held` instances of the
    same size already run (an in-place scale), so their cores are already counted in the current usage.
    Compute clusters (batch endpoints) take no reserve: max nodes x vCPUs is what they can hold.
    """
    try:
        sizes = list(ml.compute.list_sizes(location=location))
        usages = list(ml.compute.list_usage(location=location))
    except Exception as e:
        add("quota", "warn", f"could not read quota: {ac.map_azure_error(e).message}",
            "check Quotas > Machine learning in the portal")
        return
    size = next((z for z in sizes if str(_get(z, "name", default="")).lower() == sku.lower()), None)
    if size is None:
        add("sku-region", "fail", f"{sku} is not offered in {location}", "pick another size or region")
        return
    family = str(_get(size, "family", default="") or "")
    vcpus = int(_get(size, "v_cp_us", "vCPUs", "vcpus", default=0) or SKUS.get(sku, (0,))[0])
    needed = max(0, (math.ceil((1 + QUOTA_RESERVE) * n) if reserve else n) * vcpus - held * vcpus)

    def row(pred) -> Optional[tuple[int, int]]:
        for u in usages:
            nm = _get(u, "name", default={}) or {}
            value = str(_get(nm, "value", default="") or "")
            local = str(_get(nm, "localized_value", "localizedValue", default="") or "")
            if pred(value, local):
                cur = _get(u, "current_value", "currentValue", default=0)
                lim = _get(u, "limit", default=0)
                return int(cur or 0), int(lim or 0)
        return None

    fam = row(lambda v, l: family and v.lower() == family.lower())
    total = row(lambda v, l: "total" in (v + l).lower() and "dedicated" in (v + l).lower()
                and "low" not in (v + l).lower())
    note = f" (ceil(1.2 x {n}) x {vcpus} vCPU, 20% reserved for upgrades)" if reserve else f" ({n} x {vcpus} vCPU)"
    if held:
        note += f", {held} instance(s) already running"
    for label, r in ((f"{family or sku} family", fam), ("regional total", total)):
        if r is None:
            add("quota", "warn", f"no {label} quota row for {sku}", "check Quotas > Machine learning")
            continue
        free = r[1] - r[0]
        if free < needed:
            add("quota", "fail", f"{label}: {free} of {r[1]} vCPUs free, {needed} needed{note}",
                "request more quota (portal: Quotas > Machine learning) or lower instance_type/instances")
        else:
            add("quota", "pass", f"{label}: {free} of {r[1]} vCPUs free, {needed} needed{note}")


class _Coords(BaseModel):
    subscription: str
    resource_group: str
    workspace: str
    endpoint: str


# ----------------------------------------------------------------- the deployer


class AzureMLDeployer(Deployer):
    name = "azureml"
    title = "Azure ML managed online endpoint"
    description = ("Azure Machine Learning managed online endpoint: blue/green deployments with smoke test, traffic "
                   "split or mirroring, Azure Monitor autoscale")
    requires_azure = True
    Settings = AzureMLSettings
    deployment_ops = "online_deployments"  # the MLClient operations for this endpoint kind's deployments
    code_folder = "score"  # where a custom model's scoring code sits in the artifacts (and is uploaded from)
    deployment_label = "deployment"  # how events and errors name one of its deployments

    # ------------------------------------------------------------- coordinates and clients
    def _coords(self, settings: AzureMLSettings, name: str, ctx: DeployContext, *, strict: bool = True) -> _Coords:
        # ctx already holds AZURE_SUBSCRIPTION_ID / AZURE_RESOURCE_GROUP from the environment (DeployContext)
        sub = settings.subscription or ctx.subscription_id
        rg = settings.resource_group or ctx.resource_group
        ws = settings.workspace or os.environ.get("AZUREML_WORKSPACE_NAME")
        if not (sub and rg and ws):  # config.json only fills what is missing
            cfg = workspace_config()
            sub, rg, ws = sub or cfg.get("subscription"), rg or cfg.get("resource_group"), ws or cfg.get("workspace")
        if strict:
            missing = [k for k, v in (("AZURE_SUBSCRIPTION_ID", sub), ("AZURE_RESOURCE_GROUP", rg),
                                      ("AZUREML_WORKSPACE_NAME", ws)) if not v]
            if missing:
                raise InputError(f"no Azure ML workspace configured (missing {', '.join(missing)})",
                                 "set " + " / ".join(missing) + ", pass --set subscription=... resource_group=... "
                                 "workspace=..., or put the workspace's config.json here")
        return _Coords(subscription=sub or "", resource_group=rg or "", workspace=ws or "",
                       endpoint=settings.endpoint_name or name)

    def _ml(self, ctx: DeployContext, c: _Coords) -> Any:
        with needs_extra("azureml"):
            from azure.ai.ml import MLClient

        _quiet_sdk()
        # show_progress=False: uploads would draw tqdm bars on stderr, where --output json puts its event lines
        return MLClient(ac.get_credential(ctx), c.subscription, c.resource_group, c.workspace,
                        **{"show_progress": False, **ac.sdk_kwargs(ctx)})

    def _monitor(self, ctx: DeployContext, c: _Coords) -> Any:
        with needs_extra("azureml"):
            from azure.mgmt.monitor import MonitorManagementClient

        return MonitorManagementClient(ac.get_credential(ctx), c.subscription, **ac.sdk_kwargs(ctx))

    def _ids(self, c: _Coords) -> dict[str, str]:
        ws = (f"/subscriptions/{c.subscription}/resourceGroups/{c.resource_group}/providers/"
              f"Microsoft.MachineLearningServices/workspaces/{c.workspace}")
        return {"workspace": ws, "endpoint": f"{ws}/onlineEndpoints/{c.endpoint}",
                "autoscale_name": f"{c.endpoint}-autoscale"[:64]}

    def credentials_missing(self, ctx: DeployContext) -> Optional[str]:
        """Only the sign-in: subscription / resource group / workspace may come from the spec's settings,
        which this hook cannot see; plan findings and apply report those with the exact variable names."""
        return ac.credentials_missing(ctx, need_subscription=False, need_resource_group=False)

    def _signed_in(self, ctx: DeployContext, c: _Coords) -> Optional[str]:
        return ac.credentials_missing(ctx, subscription_id=c.subscription, resource_group=c.resource_group)

    # ------------------------------------------------------------- desired state
    def _sizing(self, profile: WorkloadProfile, ctx: DeployContext) -> Sizing:
        from . import planning
        try:
            return planning.sizing_for(self.name, profile)
        except Exception as e:  # the advisor's sizing is optional for deploying: fall back to safe defaults
            ac.emit(ctx, "warning", f"advisor sizing unavailable ({e.__class__.__name__}); using Standard_DS3_v2")
            n = 3 if profile.scale.availability_sla >= 99.9 else 1
            return Sizing(sku="Standard_DS3_v2", instances=n, min=n, max=max(n, 5), vcpus_per_instance=4,
                          workers_per_instance=4, notes=["fallback sizing: the advisor's sizing was unavailable"])

    def _model(self, spec: DeploymentSpec, ctx: DeployContext, ml: Any) -> tuple[ModelInfo, dict]:
        """ModelInfo + how apply references it: {"ref": "azureml:n:v", "register": bool, "type": ...}."""
        m = AZUREML_MODEL_RE.match(spec.model.strip())
        if m:
            info = ModelInfo(uri=spec.model, name=m["name"], version=m["version"], source="azureml",
                             framework=spec.profile.model.framework, format=spec.profile.model.format,
                             size_mb=spec.profile.model.size_mb)
            exists: Optional[bool] = None
            if ml is not None:
                try:
                    model = ml.models.get(m["name"], version=m["version"])
                    exists = True
                    mtype = str(getattr(model, "type", "") or "").lower()
                    flavors = dict(getattr(model, "flavors", None) or {})
                    info.format = "mlflow" if mtype == "mlflow_model" or flavors else "custom"
                    info.flavor = next(iter(flavors), "") or mtype
                except Exception as e:
                    err = ac.map_azure_error(e, f"model {spec.model}")
                    if isinstance(err, NotFoundError) or getattr(e, "status_code", None) == 404:
                        exists = False
                    else:
                        raise err from e
            return info, {"ref": spec.model, "register": False, "exists": exists, "name": m["name"],
                          "version": m["version"]}
        if spec.model.startswith("azureml:") or spec.model.startswith("azureml://"):
            raise InputError(f"{spec.model}: use azureml:NAME:VERSION for Azure ML models",
                             "registry models (azureml://registries/...) are not supported by this deployer yet")
        from . import planning
        info = planning.resolve_model(spec, ctx)
        base = re.sub(r"[^A-Za-z0-9_.-]+", "-", info.name or spec.name).strip("-.") or spec.name
        name = base[:200] if MODEL_NAME_RE.match(base[:200]) else spec.name
        version = re.sub(r"[^A-Za-z0-9_.-]", "", str(info.version or "")) or "1"
        exists = None
        if ml is not None:
            try:
                ml.models.get(name, version=version)
                exists = True
            except Exception as e:
                if getattr(e, "status_code", None) == 404 or isinstance(ac.map_azure_error(e), NotFoundError):
                    exists = False
                else:
                    raise ac.map_azure_error(e, f"model {name}:{version}") from e
        return info, {"ref": f"azureml:{name}:{version}", "register": not exists, "exists": exists, "name": name,
                      "version": version, "local": True}

    def _planned_model(self, spec: DeploymentSpec, ctx: DeployContext, ml: Any, c: _Coords,
                       findings: list[Finding]) -> tuple[ModelInfo, dict]:
        """The model facts and reference for a plan; a registered model that is not there is a failing finding."""
        info, model = self._model(spec, ctx, ml)
        if model.get("exists") is False and not model.get("register"):
            findings.append(Finding(check="model", level="fail", message=f"model {model['ref']} not found in "
                                    f"workspace {c.workspace}", hint="check the name/version with `az ml model list`"))
        return info, model

    def _desired(self, spec: DeploymentSpec, s: AzureMLSettings, c: _Coords, sizing: Sizing, info: ModelInfo,
                 model: dict) -> dict:
        p = spec.profile
        auth = s.auth_mode or ("aad_token" if p.security.auth == "entra" else "key")
        count = s.instance_count or max(1, sizing.instances)
        lo = s.min_instances or max(1, min(sizing.min or count, count))
        hi = max(s.max_instances or max(sizing.max or count, count), lo)
        if s.instance_count and not s.min_instances:
            lo = min(lo, count)
        workers = s.max_concurrent_requests_per_instance or max(1, sizing.workers_per_instance or 1)
        timeout = s.request_timeout_ms or int(min(MAX_TIMEOUT_MS, max(5000, math.ceil(
            p.inference.max_request_seconds * 1000 * 1.5))))
        size = info.size_mb or p.model.size_mb or 0
        probe = {"initial_delay": s.probe_initial_delay or int(min(600, 10 + size / 50)),
                 "period": 10, "timeout": int(min(30, 2 + size // 1000)),
                 "failure_threshold": s.probe_failure_threshold or 30}
        monitoring = p.operations.drift_monitoring or "app-insights" in p.operations.integrations
        custom = info.format != "mlflow"
        deployment = {
            "model": model["ref"], "instance_type": s.instance_type or sizing.sku, "request_timeout_ms": timeout,
            "max_concurrent_requests_per_instance": workers, "probe": probe,
            "app_insights": monitoring if s.app_insights is None else s.app_insights,
            "data_collection": p.operations.drift_monitoring if s.data_collection is None else s.data_collection,
            "environment_variables": {"WORKER_COUNT": str(workers)},
            "custom": custom, "image": s.environment_image if custom else None,
        }
        return {"endpoint": c.endpoint, "auth_mode": auth, "deployment": deployment, "instance_count": count,
                "autoscale": {"min": lo, "max": hi} if (s.autoscale and hi > lo) else None,
                "rollout": s.rollout or p.operations.rollout}

    # ------------------------------------------------------------- remote state
    def _read(self, ml: Any, c: _Coords, ctx: DeployContext, *, monitor: bool = True) -> dict:
        """What planning needs from Azure, as plain data (its fingerprint guards against stale plans)."""
        state: dict[str, Any] = {"endpoint": None, "deployments": {}, "autoscale": None}
        try:
            ws = ml.workspaces.get(c.workspace)
            state["location"] = str(getattr(ws, "location", "") or "")
        except Exception as e:
            raise ac.map_azure_error(e, f"workspace {c.workspace}") from e
        ep = _endpoint_or_none(ml, c)
        if ep is not None:
            tags = dict(ep.tags or {})
            state["endpoint"] = {
                "auth_mode": str(ep.auth_mode or "").lower(), "traffic": {k: int(v) for k, v in (ep.traffic or {}).items()},
                "mirror": {k: int(v) for k, v in (ep.mirror_traffic or {}).items()},
                "state": _state_str(ep.provisioning_state), "ours": ac.is_ours(tags, ctx.deployment or ""),
                "tags": {k: v for k, v in tags.items() if k.startswith(("managed-by", "deploy-advisor"))},
                "scoring_uri": ep.scoring_uri or "",
            }
            try:
                deps = list(ml.online_deployments.list(c.endpoint))
            except Exception as e:
                raise ac.map_azure_error(e, f"deployments of {c.endpoint}") from e
            for d in deps:
                state["deployments"][d.name] = {
                    "state": _state_str(d.provisioning_state), "spec": (d.tags or {}).get(TAG_SPEC, ""),
                    "instance_type": d.instance_type, "instance_count": d.instance_count,
                    "ours": ac.is_ours(d.tags, ctx.deployment or ""),
                }
        if monitor:
            state["autoscale"] = self._read_autoscale(ctx, c)
        return state

    def _read_autoscale(self, ctx: DeployContext, c: _Coords) -> Optional[dict]:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            a = self._monitor(ctx, c).autoscale_settings.get(c.resource_group, self._ids(c)["autoscale_name"])
        except ResourceNotFoundError:
            return None
        except Exception as e:
            raise ac.map_azure_error(e, "autoscale setting") from e
        prof = (a.profiles or [None])[0]
        cap = getattr(prof, "capacity", None)
        return {"target": str(a.target_resource_uri or "").lower(), "ours": ac.is_ours(a.tags, ctx.deployment or ""),
                "min": int(getattr(cap, "minimum", 0) or 0), "max": int(getattr(cap, "maximum", 0) or 0)}

    # ------------------------------------------------------------- preflight
    def preflight(self, spec: DeploymentSpec, ctx: DeployContext) -> list[Finding]:
        s = self.settings_for(spec)
        findings, _ = self._preflight(spec, s, ctx)
        return findings

    def _preflight(self, spec: DeploymentSpec, s: AzureMLSettings, ctx: DeployContext,
                   remote: Optional[dict] = None, quota: bool = True) -> tuple[list[Finding], dict]:
        """Read-only checks; returns (findings, context gathered for planning)."""
        ctx = ctx if ctx.deployment else ctx.for_deployment(spec.name)
        out: list[Finding] = []
        gathered: dict[str, Any] = {}

        def add(check: str, level: str, message: str, hint: str = "") -> None:
            out.append(Finding(check=check, level=level, message=ac.scrub(message), hint=hint))

        p = spec.profile
        c = self._coords(s, spec.name, ctx, strict=False)
        gathered["coords"] = c
        ep = c.endpoint
        missing = self._check_scope(c, add)
        sizing = self._sizing(p, ctx)
        gathered["sizing"] = sizing
        sku = s.instance_type or sizing.sku
        count = s.instance_count or sizing.instances
        facts = SKUS.get(sku)
        if facts is None:
            add("sku", "fail", f"{sku} is not on the managed online endpoint VM list",
                f"pick a size from {SRC['D']}")
        elif sku in SMALL_SKUS:
            add("sku", "warn", f"{sku} ({facts[0]} vCPU, {facts[1]} GiB) may be too small",
                "Standard_DS3_v2 (or F4s_v2 for MLflow models) is the smallest recommended size")
        else:
            add("sku", "pass", f"{sku}: {facts[0]} vCPU, {facts[1]} GiB" + (f", {facts[2]} GPU" if facts[2] else ""))
        if facts:
            need_gib = (p.model.size_mb or 0) * 3 / 1024 + 1.5
            if need_gib > facts[1]:
                add("sku-memory", "warn", f"a {p.model.size_mb:.0f} MB model may need ~{need_gib:.1f} GiB; {sku} has "
                    f"{facts[1]} GiB", "pick a larger instance_type")
            if p.inference.gpu == "required" and not facts[2]:
                add("gpu", "fail", f"the profile requires a GPU but {sku} has none", "pick an NC/ND/NV size")
        # timeouts vs the profile
        longest_ms = p.inference.max_request_seconds * 1000
        if longest_ms > MAX_TIMEOUT_MS:
            add("request-timeout", "fail", f"requests take up to {p.inference.max_request_seconds:g} s; managed "
                f"online endpoints stop at 180 s", "use a batch endpoint, AKS (300 s) or split the work")
        elif s.request_timeout_ms and s.request_timeout_ms < longest_ms:
            add("request-timeout", "warn", f"request_timeout_ms={s.request_timeout_ms} is below the profile's "
                f"longest request ({longest_ms:.0f} ms)", "raise request_timeout_ms")
        else:
            add("request-timeout", "pass", f"longest request {p.inference.max_request_seconds:g} s fits the 180 s cap")
        # auth and network vs the target
        auth = s.auth_mode or ("aad_token" if p.security.auth == "entra" else "key")
        if p.security.auth == "none":
            add("auth", "warn", "managed online endpoints always require auth; using key auth",
                "callers send the key as a Bearer token")
        else:
            add("auth", "pass", f"auth mode {auth} is supported by managed online endpoints (key, aml_token, "
                "aad_token)")
        if p.security.network in ("custom-vnet", "on-premises"):
            add("network", "fail", f"managed online endpoints don't support {p.security.network} networking",
                "use AKS (custom VNet / Arc) or a workspace managed VNet")
        elif p.security.network == "managed-vnet":
            add("network", "warn", "the workspace needs a provisioned managed VNet",
                "run `az ml workspace provision-network` first")
        rollout = s.rollout or p.operations.rollout
        if rollout == "shadow" and s.mirror_percent > MAX_MIRROR:
            add("rollout", "fail", "mirror traffic is limited to 50%", "lower mirror_percent")
        # remote checks
        connected = self._connect(ctx, c, add, missing, lambda ml: remote if remote is not None else self._read(
            ml, c, ctx))
        if connected is None:
            return out, gathered
        ml, state = connected
        gathered["ml"], gathered["state"] = ml, state
        add("workspace", "pass", f"workspace {c.workspace} reachable in {state.get('location') or '?'}")
        epstate = state["endpoint"]
        if epstate is None:
            add("endpoint-name", "pass", f"endpoint {ep} does not exist yet in {c.workspace}",
                "names are unique per region: a clash with another workspace shows at create time")
        elif epstate["ours"]:
            add("endpoint-name", "pass", f"endpoint {ep} exists and is ours: it will be updated")
        else:
            add("endpoint-name", "fail", f"endpoint {ep} exists but was not created by deploy-advisor for "
                f"{spec.name}", "choose another --set endpoint_name=... (names are unique per region)")
        if epstate and epstate["state"] in ("Creating", "Updating", "Deleting"):
            add("endpoint-state", "warn", f"endpoint {ep} is {epstate['state']}",
                "wait for the running operation before applying")
        n_deps = len(state["deployments"])
        if n_deps + 1 > MAX_DEPLOYMENTS_PER_ENDPOINT:
            add("deployment-limit", "fail", f"{n_deps} deployments on {ep}: the limit is 20 per endpoint",
                "delete unused deployments")
        try:
            endpoints = list(ml.online_endpoints.list())
            n_eps = len(endpoints) + (0 if epstate else 1)
            level = "fail" if n_eps > MAX_ENDPOINTS_PER_REGION else "pass"
            add("endpoint-limit", level, f"{n_eps} online endpoints in {c.workspace} (limit 100 per subscription "
                "and region, summed over all workspaces)", "delete unused endpoints" if level == "fail" else "")
        except Exception as e:
            add("endpoint-limit", "warn", f"could not count endpoints: {ac.map_azure_error(e).message}")
        gathered["quota_args"] = (state.get("location") or p.region, sku, count) if facts else None
        if facts and quota:
            self._quota(ml, state.get("location") or p.region, sku, count, s, sizing, add)
        return out, gathered

    def _check_scope(self, c: _Coords, add) -> list[str]:
        """Findings on the endpoint name and the configured workspace; returns what is missing."""
        if ENDPOINT_NAME_RE.fullmatch(c.endpoint):
            add("name", "pass", f"endpoint name {c.endpoint!r} follows the rules (3-32, letter first, "
                "letters/digits/dashes)")
        else:
            add("name", "fail", f"endpoint name {c.endpoint!r} breaks the naming rules",
                "use 3-32 letters, digits and single dashes, starting with a letter (--set endpoint_name=...)")
        missing = [k for k, v in (("subscription", c.subscription), ("resource group", c.resource_group),
                                  ("workspace", c.workspace)) if not v]
        if missing:
            add("workspace-config", "fail", f"no {', '.join(missing)} configured",
                "set AZURE_SUBSCRIPTION_ID / AZURE_RESOURCE_GROUP / AZUREML_WORKSPACE_NAME or --set them")
        return missing

    def _connect(self, ctx: DeployContext, c: _Coords, add, missing: list[str], read) -> Optional[tuple[Any, dict]]:
        """Sign-in and workspace findings; (MLClient, read(MLClient)) when the workspace answered, else None."""
        who = self._signed_in(ctx, c)
        if who:
            add("credentials", "fail", "no Azure sign-in found", who)
            return None
        add("credentials", "pass", f"Azure credential: {ac.credential_source(ctx)}")
        if missing:
            return None
        try:
            ml = self._ml(ctx, c)
            return ml, read(ml)
        except DeployError as e:
            add("workspace", "fail", f"workspace {c.workspace} not reachable: {e.message}", e.hint)
            return None

    def _quota(self, ml: Any, location: str, sku: str, count: int, s: AzureMLSettings, sizing: Sizing, add,
               held: int = 0) -> None:
        """Core quota incl. the 20% reserve: ceil(1.2 x n) x vCPUs must be free in the family and in total [AD].

        `held` instances of the same size already run (an in-place scale): their cores are already counted
        in the current usage, so only the difference is needed.
        """
        from advisor.catalog import skus
        try:
            exempt = skus().vm[sku].quota_exempt
        except Exception:  # SKU outside the advisor's catalog: assume the reserve applies
            exempt = False
        n = max(count, (s.max_instances or sizing.max or count) if s.autoscale else count)
        check_core_quota(ml, location, sku, n, add, reserve=not exempt, held=held)


    # ------------------------------------------------------------- plan
    def plan(self, spec: DeploymentSpec, ctx: DeployContext) -> DeploymentPlan:
        s = self.settings_for(spec)
        ctx = ctx if ctx.deployment else ctx.for_deployment(spec.name)
        findings, got = self._preflight(spec, s, ctx, quota=False)
        c: _Coords = got["coords"]
        sizing: Sizing = got["sizing"]
        ml = got.get("ml")
        state = got.get("state")
        notes: list[str] = []
        if state is None:
            notes.append(OFFLINE_NOTE)
            state = {"endpoint": None, "deployments": {}, "autoscale": None, "offline": True}
        info, model = self._planned_model(spec, ctx, ml, c, findings)
        desired = self._desired(spec, s, c, sizing, info, model)
        spec_fp = fingerprint(desired["deployment"])
        actions, steps = self._diff(spec, s, c, desired, spec_fp, state, model)
        if ml is not None and got.get("quota_args"):
            dep = steps.get("deployment")
            if dep is None:
                findings.append(Finding(check="quota", level="pass", message="no new capacity is requested"))
            else:
                held = 0
                old = state["deployments"].get(dep["name"]) if dep["op"] == "scale" else None
                if old and old.get("instance_type") == desired["deployment"]["instance_type"]:
                    held = int(old.get("instance_count") or 0)
                location, sku, _ = got["quota_args"]

                def add(check: str, level: str, message: str, hint: str = "") -> None:
                    findings.append(Finding(check=check, level=level, message=message, hint=hint))

                self._quota(ml, location, sku, desired["instance_count"], s, sizing, add, held=held)
        settings = {
            "coords": c.model_dump(), "auth_mode": desired["auth_mode"], "desired": desired, "spec_fp": spec_fp,
            "steps": steps, "model": model, "smoke_input": s.smoke_input, "keep_failed": s.keep_failed,
            "canary_percent": s.canary_percent, "canary_observe_seconds": s.canary_observe_seconds,
            "mirror_percent": s.mirror_percent, "location": state.get("location") or spec.profile.region,
        }
        artifacts = self._artifacts(spec, c, desired, steps, info, model)
        return DeploymentPlan(spec=spec, target=self.name, model_info=info, sizing=sizing, settings=settings,
                              actions=actions, artifacts=artifacts, findings=findings,
                              state_fingerprint=fingerprint(state), desired_fingerprint=fingerprint(desired),
                              notes=notes + list(sizing.notes))

    def _diff(self, spec: DeploymentSpec, s: AzureMLSettings, c: _Coords, desired: dict, spec_fp: str, state: dict,
              model: dict) -> tuple[list[PlannedAction], dict]:
        """Compare desired with remote state: planned actions (for people) and steps (for apply)."""
        actions: list[PlannedAction] = []
        steps: dict[str, Any] = {}
        ep = state["endpoint"]
        deps = state["deployments"]
        if model.get("register"):
            actions.append(PlannedAction(kind="create", resource_type="model", resource=model["ref"],
                                         detail="register the model in the workspace"))
            steps["register_model"] = True
        if ep is None:
            actions.append(PlannedAction(kind="create", resource_type="onlineEndpoint", resource=c.endpoint,
                                         detail=f"auth {desired['auth_mode']}"))
            steps["endpoint"] = "create"
        elif _norm_auth(ep["auth_mode"]) != _norm_auth(desired["auth_mode"]):
            actions.append(PlannedAction(kind="update", resource_type="onlineEndpoint", resource=c.endpoint,
                                         changes={"auth_mode": [ep["auth_mode"], desired["auth_mode"]]}))
            steps["endpoint"] = "update"
        else:
            actions.append(PlannedAction(kind="no-op", resource_type="onlineEndpoint", resource=c.endpoint))
        traffic = dict((ep or {}).get("traffic") or {})
        mirror = dict((ep or {}).get("mirror") or {})
        live = max(((k, v) for k, v in traffic.items() if v > 0), key=lambda kv: kv[1], default=(None, 0))[0]
        match = next((n for n, d in deps.items() if d["spec"] == spec_fp and d["state"] == "Succeeded"), None)
        rollout = desired["rollout"]
        count = desired["instance_count"]
        if match:
            target = match
            if deps[match]["instance_count"] != count:
                actions.append(PlannedAction(kind="update", resource_type="onlineDeployment", resource=match,
                                             changes={"instance_count": [deps[match]["instance_count"], count]}))
                steps["deployment"] = {"name": match, "op": "scale"}
            else:
                actions.append(PlannedAction(kind="no-op", resource_type="onlineDeployment", resource=match))
        else:
            taken = set(deps)
            target = next((col for col in COLORS if col not in taken), None)
            if target is None:  # both colors exist: reuse the one without live traffic
                target = next(col for col in COLORS if traffic.get(col, 0) == 0 and col != live) \
                    if any(traffic.get(col, 0) == 0 and col != live for col in COLORS) else None
            if target is None:
                raise ConflictError(f"endpoint {c.endpoint} has live traffic on both blue and green",
                                    "finish the running rollout first (shift traffic to one deployment)")
            kind = "update" if target in deps else "create"
            actions.append(PlannedAction(kind=kind, resource_type="onlineDeployment", resource=target,
                                         detail=f"{desired['deployment']['model']} on {count} x "
                                                f"{desired['deployment']['instance_type']} at 0% traffic, then a "
                                                "smoke test", changes={"spec": spec_fp}))
            steps["deployment"] = {"name": target, "op": kind}
        # traffic
        previous = live if live and live != target else None
        if previous is None or rollout in ("simple", "blue-green"):
            final = {target: 100}
            stages = [{"traffic": final, "mirror": {}}]
        elif rollout == "canary":
            pct = s.canary_percent
            final = {target: 100}
            stages = [{"traffic": {previous: 100 - pct, target: pct}, "mirror": {}, "observe": True},
                      {"traffic": final, "mirror": {}}]
        else:  # shadow: live traffic stays, a copy of up to 50% goes to the new deployment
            final = {previous: 100}
            stages = [{"traffic": final, "mirror": {target: min(s.mirror_percent, MAX_MIRROR)}}]
        wanted = stages[-1]
        cur_t = {k: v for k, v in traffic.items() if v}
        cur_m = {k: v for k, v in mirror.items() if v}
        if cur_t == wanted["traffic"] and cur_m == wanted["mirror"] and "deployment" not in steps:
            actions.append(PlannedAction(kind="no-op", resource_type="onlineEndpoint/traffic", resource=c.endpoint,
                                         changes={"traffic": cur_t, "mirror": cur_m}))
        else:
            actions.append(PlannedAction(kind="update", resource_type="onlineEndpoint/traffic", resource=c.endpoint,
                                         detail=f"{rollout}: " + " -> ".join(
                                             json.dumps({**st["traffic"], **{f"mirror:{k}": v for k, v in
                                                                             st["mirror"].items()}})
                                             for st in stages),
                                         changes={"from": {"traffic": cur_t, "mirror": cur_m},
                                                  "to": {"traffic": wanted["traffic"], "mirror": wanted["mirror"]}}))
            steps["traffic"] = stages
        steps["target"] = target
        steps["previous"] = previous
        # retire the previous deployment once it has no traffic left
        if previous and rollout != "shadow" and not s.keep_previous and previous in deps:
            actions.append(PlannedAction(kind="delete", resource_type="onlineDeployment", resource=previous,
                                         detail="after the new deployment takes 100% of the traffic"))
            steps["delete_previous"] = previous
        for name, d in deps.items():  # failed leftovers we made (kept for debugging) go with the next rollout
            if name not in (target, previous) and d["ours"] and traffic.get(name, 0) == 0 \
                    and mirror.get(name, 0) == 0 and d["state"] == "Failed" and not s.keep_failed:
                actions.append(PlannedAction(kind="delete", resource_type="onlineDeployment", resource=name,
                                             detail="failed deployment kept from an earlier run"))
                steps.setdefault("delete_failed", []).append(name)
        # autoscale
        auto = desired["autoscale"]
        current = state.get("autoscale")
        serving = target if rollout != "shadow" or previous is None else previous
        autoscale_target = (self._ids(c)["endpoint"] + f"/deployments/{serving}").lower()
        if auto:
            want = {"target": autoscale_target, "min": auto["min"], "max": auto["max"]}
            if current and current["ours"] and {k: current[k] for k in want} == want:
                actions.append(PlannedAction(kind="no-op", resource_type="autoscaleSetting",
                                             resource=self._ids(c)["autoscale_name"]))
            else:
                actions.append(PlannedAction(kind="update" if current else "create", resource_type="autoscaleSetting",
                                             resource=self._ids(c)["autoscale_name"],
                                             detail=f"{auto['min']}-{auto['max']} instances on CPU (out > 70%, "
                                                    f"in < 25%) for {serving}", changes=want))
                steps["autoscale"] = {"deployment": serving, **auto}
        elif current and current["ours"]:
            actions.append(PlannedAction(kind="delete", resource_type="autoscaleSetting",
                                         resource=self._ids(c)["autoscale_name"]))
            steps["autoscale"] = None
        return actions, steps

    def _artifacts(self, spec: DeploymentSpec, c: _Coords, desired: dict, steps: dict, info: ModelInfo,
                   model: dict) -> dict[str, str]:
        env = _templates()
        d = desired["deployment"]
        dep_name = steps["target"]
        tags = ac.tags(spec.name)
        base = {"deployment": spec.name, "endpoint_name": c.endpoint}
        out = {"endpoint.yml": env.get_template("endpoint.yml.j2").render(
            **base, auth_mode=desired["auth_mode"], tags=tags,
            description=f"deploy-advisor deployment {spec.name}")}
        code_dir = conda = None
        if d["custom"]:
            code_dir, conda = "./score", "./environment/conda.yaml"
            from .scoring import render_score_script
            out["score/score.py"] = render_score_script(info)
            reqs = [r for r in (info.requirements or []) if re.fullmatch(r"[A-Za-z0-9_.\-\[\],<>=!~ ]{1,120}", r)]
            out["environment/conda.yaml"] = env.get_template("conda.yaml.j2").render(
                python_version="3.11", requirements=reqs or ["scikit-learn", "pandas", "joblib"])
        out["deployment.yml"] = env.get_template("deployment.yml.j2").render(
            **base, deployment_name=dep_name, model=d["model"], instance_type=d["instance_type"],
            instance_count=desired["instance_count"], code_dir=code_dir, scoring_script="score.py",
            environment_image=d["image"] or DEFAULT_IMAGE, conda_file=conda,
            request_timeout_ms=d["request_timeout_ms"],
            max_concurrent_requests_per_instance=d["max_concurrent_requests_per_instance"], probe=d["probe"],
            app_insights=bool(d["app_insights"]), data_collection=bool(d["data_collection"]),
            environment_variables=d["environment_variables"], tags={**tags, TAG_SPEC: fingerprint(d)})
        smoke = self._smoke_payload(spec.settings.get("smoke_input"), info)
        if smoke is not None:
            out["smoke-request.json"] = json.dumps(smoke, indent=2)
        stages = steps.get("traffic") or []
        cmds = []
        for st in stages:
            t = ",".join(f"{k}={v}" for k, v in sorted(st["traffic"].items()))
            m = ",".join(f"{k}={v}" for k, v in sorted(st["mirror"].items()))
            cmds.append(f'--traffic "{t}"' + (f' --mirror-traffic "{m}"' if m else ""))
        out["deploy.sh"] = env.get_template("deploy.sh.j2").render(
            **base, deployment_name=dep_name, smoke_file="smoke-request.json" if smoke is not None else "",
            traffic_steps=cmds, delete_previous=steps.get("delete_previous") or "")
        return out

    @staticmethod
    def _smoke_payload(raw: Optional[str], info: Optional[ModelInfo]) -> Any:
        if raw:
            return json.loads(raw)
        from . import planning
        try:
            return planning.input_example(info)
        except Exception:  # a malformed example must not break planning: the smoke test is skipped instead
            return None

    # ------------------------------------------------------------- apply
    def _start_apply(self, plan: DeploymentPlan, ctx: DeployContext) -> tuple[DeployContext, _Coords, Any, bool]:
        """What every apply checks first: the plan's target, the sign-in, blocking findings; then the client
        and whether this run resumes an interrupted one. Returns (ctx, coords, MLClient, resuming)."""
        if plan.target != self.name:
            raise InputError(f"this plan is for target {plan.target!r}, not {self.name!r}")
        ctx = ctx if ctx.deployment else ctx.for_deployment(plan.spec.name)
        c = _Coords(**plan.settings["coords"])
        who = self._signed_in(ctx, c)
        if who:
            raise AuthError("no Azure sign-in found", who)
        blocking = [f for f in plan.findings if f.level == "fail"]
        if any(f.check == "credentials" for f in blocking):
            raise StalePlanError("this plan was made without Azure access, so it does not know what exists",
                                 "run plan again now that you are signed in")
        if blocking:
            first = blocking[0]
            cls = QuotaError if first.check == "quota" else InputError
            raise cls(f"preflight failed: {first.check}: {first.message}"
                      + (f" (+{len(blocking) - 1} more)" if len(blocking) > 1 else ""),
                      first.hint or "fix the finding and plan again", code="PreflightFailed")
        ml = self._ml(ctx, c)
        if ctx.checkpoints and ctx.checkpoints.get("plan_id") != plan.plan_id:
            ctx.checkpoints = {}  # checkpoints of another plan (a reused context) must not skip our steps
        resuming = bool(ctx.checkpoints)
        if not resuming:
            ctx.checkpoint("plan_id", plan.plan_id)
        return ctx, c, ml, resuming

    def apply(self, plan: DeploymentPlan, ctx: DeployContext) -> DeploymentResult:
        ctx, c, ml, resuming = self._start_apply(plan, ctx)
        st = plan.settings
        state = self._read(ml, c, ctx)
        if not resuming and fingerprint(state) != plan.state_fingerprint:
            raise StalePlanError(f"endpoint {c.endpoint} changed since this plan was made",
                                 "run plan again (or deploy) to see the new changes")
        steps = st["steps"]
        if not plan.has_changes:
            ac.emit(ctx, "info", f"{c.endpoint}: nothing to change")
            return self._result(plan, ml, c, state, changed=False, smoke=None)
        if resuming:
            ac.emit(ctx, "info", f"resuming: {len(ctx.checkpoints)} checkpoint(s) from the interrupted run")
        ep_before = state["endpoint"] or {}
        original = {"traffic": dict(ep_before.get("traffic") or {}), "mirror": dict(ep_before.get("mirror") or {})}
        if "traffic:original" in ctx.checkpoints:
            original = ctx.checkpoints["traffic:original"]
        else:
            ctx.checkpoint("traffic:original", original)
        if steps.get("register_model"):
            self._register_model(plan, ml, ctx)
        if steps.get("endpoint"):
            self._endpoint(plan, ml, ctx, c, original)
        target = steps["target"]
        smoke = None
        dep = steps.get("deployment")
        if dep:
            try:
                self._deployment(plan, ml, ctx, c, dep)
                if dep["op"] != "scale":
                    smoke = self._smoke(plan, ml, ctx, c, target)
            except DeployError as err:
                self._fail(plan, ml, ctx, c, target, err, original, created=dep["op"] != "scale")
        for stage_no, stage in enumerate(steps.get("traffic") or []):
            try:
                self._traffic(ml, ctx, c, stage, f"traffic:{stage_no}")
                if stage.get("observe"):
                    self._observe(plan, ml, ctx, c, target)
            except DeployError as err:
                self._restore(ml, ctx, c, original)
                self._fail(plan, ml, ctx, c, target, err, original, created=bool(dep and dep["op"] != "scale"),
                           restored=True)
        for name in steps.get("delete_failed") or []:
            self._delete_deployment(ml, ctx, c, name, f"delete:{name}")
        if steps.get("delete_previous"):
            self._delete_deployment(ml, ctx, c, steps["delete_previous"], f"delete:{steps['delete_previous']}")
        if "autoscale" in steps:
            self._autoscale(plan, ctx, c, steps["autoscale"])
        state = self._read(ml, c, ctx, monitor=False)
        self._save_state(ctx, plan, c)
        return self._result(plan, ml, c, state, changed=True, smoke=smoke)

    # -- steps
    def _register_model(self, plan: DeploymentPlan, ml: Any, ctx: DeployContext) -> None:
        """Upload a local / MLflow-registry model into the workspace (blob upload goes through requests)."""
        from azure.ai.ml.constants import AssetTypes
        from azure.ai.ml.entities import Model

        from . import model_folder, model_resolution

        m = plan.settings["model"]
        if ac.completed(ctx, "model"):
            return
        info = plan.model_info
        if info is None:
            raise InputError("the plan has no model facts", "plan again")
        folder = model_resolution.local_model_dir(info)
        model_folder.check(folder)  # the SDK's upload follows links: none may leave the folder
        ac.emit(ctx, "step", f"registering model {m['name']}:{m['version']} from {folder}")
        entity = Model(name=m["name"], version=m["version"], path=str(folder),
                       type=AssetTypes.MLFLOW_MODEL if info.format == "mlflow" else AssetTypes.CUSTOM_MODEL,
                       description=f"registered by deploy-advisor for {plan.spec.name}", tags=ac.tags(plan.spec.name))
        try:
            ml.models.create_or_update(entity)
        except Exception as e:
            raise ac.map_azure_error(e, f"register model {m['name']}:{m['version']}") from e
        ctx.checkpoint("model", {"token": None, "done": True, "what": "register model"})

    def _endpoint(self, plan: DeploymentPlan, ml: Any, ctx: DeployContext, c: _Coords, original: dict) -> None:
        from azure.ai.ml.entities import ManagedOnlineEndpoint

        key, what = "endpoint", f"endpoint {c.endpoint}"
        if ac.done_or_resumed(ctx, key, what):
            return
        ac.emit(ctx, "step", f"{plan.settings['steps']['endpoint']} {what} (auth {plan.settings['auth_mode']})")
        entity = ManagedOnlineEndpoint(name=c.endpoint, auth_mode=plan.settings["auth_mode"],
                                       tags=ac.tags(plan.spec.name),
                                       description=f"deploy-advisor deployment {plan.spec.name}",
                                       traffic=original["traffic"] or None,
                                       mirror_traffic=original["mirror"] or None)
        try:
            poller = ml.online_endpoints.begin_create_or_update(entity)
        except Exception as e:
            raise ac.map_azure_error(e, what) from e
        ac.wait(poller, ctx, what, key)

    def _deployment_entity(self, plan: DeploymentPlan, c: _Coords, name: str, state_dir: Path) -> Any:
        from azure.ai.ml.entities import (CodeConfiguration, DataCollector, DeploymentCollection, Environment,
                                          ManagedOnlineDeployment, OnlineRequestSettings, ProbeSettings)

        desired = plan.settings["desired"]
        d = desired["deployment"]
        probe = d["probe"]
        kw: dict[str, Any] = {}
        if d["custom"]:
            code_dir = self._code_dir(plan, state_dir)
            kw["code_configuration"] = CodeConfiguration(code=str(code_dir), scoring_script="score.py")
            kw["environment"] = Environment(image=d["image"], conda_file=str(code_dir.parent / "conda.yaml"))
        if d["data_collection"]:
            kw["data_collector"] = DataCollector(collections={
                "model_inputs": DeploymentCollection(enabled="true"),
                "model_outputs": DeploymentCollection(enabled="true")})

        def _probe() -> Any:
            return ProbeSettings(initial_delay=probe["initial_delay"], period=probe["period"],
                                 timeout=probe["timeout"], success_threshold=1,
                                 failure_threshold=probe["failure_threshold"])

        return ManagedOnlineDeployment(
            name=name, endpoint_name=c.endpoint, model=d["model"], instance_type=d["instance_type"],
            instance_count=desired["instance_count"],
            request_settings=OnlineRequestSettings(
                request_timeout_ms=d["request_timeout_ms"],
                max_concurrent_requests_per_instance=d["max_concurrent_requests_per_instance"]),
            liveness_probe=_probe(), readiness_probe=_probe(), app_insights_enabled=bool(d["app_insights"]),
            environment_variables=dict(d["environment_variables"]),
            tags={**ac.tags(plan.spec.name), TAG_SPEC: plan.settings["spec_fp"]}, **kw)

    def _code_dir(self, plan: DeploymentPlan, state_dir: Path) -> Path:
        """A custom model's scoring code (+ conda.yaml next to it), written from the plan's artifacts (what was
        reviewed): every artifact under `code_folder/`."""
        base = Path(state_dir) / self.name / plan.spec.name / f"code-{plan.settings['spec_fp']}"
        code = base / self.code_folder
        code.mkdir(parents=True, exist_ok=True)
        for rel, text in plan.artifacts.items():
            if rel.startswith(self.code_folder + "/"):
                (code / rel.split("/", 1)[1]).write_text(text, encoding="utf-8")
        (base / "conda.yaml").write_text(plan.artifacts["environment/conda.yaml"], encoding="utf-8")
        return code

    def _deployment(self, plan: DeploymentPlan, ml: Any, ctx: DeployContext, c: _Coords, dep: dict) -> None:
        """Create (or scale) one deployment, resuming its operation after a crash."""
        name = dep["name"]
        key, what = f"deployment:{name}", f"{self.deployment_label} {c.endpoint}/{name}"
        if ac.done_or_resumed(ctx, key, what):
            return
        ac.emit(ctx, "step", self._deployment_step(plan, dep, what))
        entity = self._deployment_entity(plan, c, name, ctx.state_dir)
        try:
            poller = getattr(ml, self.deployment_ops).begin_create_or_update(entity, skip_script_validation=True)
        except Exception as e:
            raise ac.map_azure_error(e, what) from e
        ac.wait(poller, ctx, what, key, progress_every=30.0)

    def _deployment_step(self, plan: DeploymentPlan, dep: dict, what: str) -> str:
        d = plan.settings["desired"]
        return (f"{'scale' if dep['op'] == 'scale' else 'create'} {what}: {d['instance_count']} x "
                f"{d['deployment']['instance_type']} at 0% traffic (Azure ML takes about 8-14 minutes for a new image)")

    def _invoke(self, ml: Any, c: _Coords, payload: Any, deployment: Optional[str], ctx: DeployContext) -> tuple[
            int, Any, float]:
        """POST a payload to the scoring URI (optionally pinned to one deployment); returns status, body, ms.

        The key or token is fetched here, registered with the scrubber and only ever placed in the
        Authorization header: it never reaches results, events or logs.
        """
        from azure.core import PipelineClient
        from azure.core.pipeline import policies as p
        from azure.core.rest import HttpRequest

        try:
            ep = ml.online_endpoints.get(c.endpoint)
            creds = ml.online_endpoints.get_keys(c.endpoint)
        except Exception as e:
            raise ac.map_azure_error(e, f"endpoint {c.endpoint}") from e
        secret = getattr(creds, "primary_key", None) or getattr(creds, "access_token", None) or ""
        if hasattr(secret, "token"):  # an AccessToken (Entra)
            secret = secret.token
        ac.register_secret(str(secret))
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        if deployment:
            headers["azureml-model-deployment"] = deployment
        kw = ac.sdk_kwargs(ctx)
        retry = {k: v for k, v in kw.items() if k.startswith("retry_")}
        client = PipelineClient(base_url=ep.scoring_uri, policies=[
            p.RequestIdPolicy(), p.HeadersPolicy(), p.UserAgentPolicy(sdk_moniker="deploy-advisor"),
            p.RetryPolicy(**retry), p.ContentDecodePolicy(), p.HttpLoggingPolicy()],
            **({"transport": kw["transport"]} if kw.get("transport") is not None else {}))
        timeout = max(5.0, (plan_timeout_ms(ep) or 60_000) / 1000 + 5)
        start = time.perf_counter()
        try:
            resp = client.send_request(HttpRequest("POST", ep.scoring_uri, json=payload, headers=headers),
                                       connection_timeout=10, read_timeout=timeout)
            text = resp.text()
        except Exception as e:
            raise ac.map_azure_error(e, f"score {c.endpoint}") from e
        latency = (time.perf_counter() - start) * 1000
        try:
            body = json.loads(text) if text else None
            if isinstance(body, str):
                try:
                    body = json.loads(body)
                except ValueError:
                    pass
        except ValueError:
            body = ac.scrub(text)
        return int(resp.status_code), ac.scrub_data(body), latency

    def _smoke(self, plan: DeploymentPlan, ml: Any, ctx: DeployContext, c: _Coords, name: str) -> Optional[dict]:
        payload = self._smoke_payload(plan.settings.get("smoke_input"), plan.model_info)
        if payload is None:
            ac.emit(ctx, "warning", f"no input example for {plan.spec.model}: smoke test of {name} skipped",
                    hint="pass --set smoke_input='{\"input_data\": ...}'")
            return None
        ac.emit(ctx, "step", f"smoke test: {name} directly (azureml-model-deployment header), still at 0% traffic")
        status, body, latency = self._invoke(ml, c, payload, name, ctx)
        if status != 200:
            raise RemoteError(f"smoke test of {name} failed: HTTP {status}: {str(body)[:200]}",
                              "fetch the deployment logs (`deploy-advisor logs NAME`) and test the model locally "
                              "with the local target", code="SmokeTestFailed")
        ac.emit(ctx, "info", f"smoke test passed in {latency:.0f} ms", latency_ms=round(latency, 1))
        return {"latency_ms": round(latency, 1), "response": body}

    def _observe(self, plan: DeploymentPlan, ml: Any, ctx: DeployContext, c: _Coords, name: str) -> None:
        """Canary: let it take its share for a while, then check it is still healthy before going to 100%."""
        secs = int(plan.settings.get("canary_observe_seconds") or 0)
        if secs:
            ac.emit(ctx, "step", f"canary: observing {name} for {secs} s")
            ctx.sleep(secs)
        ctx.check_cancelled()
        try:
            dep = ml.online_deployments.get(name, c.endpoint)
        except Exception as e:
            raise ac.map_azure_error(e, f"deployment {name}") from e
        if _state_str(dep.provisioning_state) != "Succeeded":
            raise RemoteError(f"canary {name} is {_state_str(dep.provisioning_state)}", "see the deployment logs",
                              code="CanaryUnhealthy")
        if self._smoke_payload(plan.settings.get("smoke_input"), plan.model_info) is not None:
            self._smoke(plan, ml, ctx, c, name)

    def _traffic(self, ml: Any, ctx: DeployContext, c: _Coords, stage: dict, key: str) -> None:
        what = f"traffic of {c.endpoint}"
        if ac.done_or_resumed(ctx, key, what):
            return
        desc = ", ".join(f"{k} {v}%" for k, v in stage["traffic"].items())
        if stage["mirror"]:
            desc += "; mirror " + ", ".join(f"{k} {v}%" for k, v in stage["mirror"].items())
        ac.emit(ctx, "step", f"traffic: {desc}", traffic=stage["traffic"], mirror=stage["mirror"])
        try:
            ep = _with_traffic(ml.online_endpoints.get(c.endpoint), stage["traffic"], stage["mirror"])
            poller = ml.online_endpoints.begin_create_or_update(ep)
        except DeployError:
            raise
        except Exception as e:
            raise ac.map_azure_error(e, what) from e
        ac.wait(poller, ctx, what, key)

    def _restore(self, ml: Any, ctx: DeployContext, c: _Coords, original: dict) -> None:
        """Put the traffic map back exactly as it was before this run (best effort, reported)."""
        try:
            ep = ml.online_endpoints.get(c.endpoint)
            now = ({k: v for k, v in (ep.traffic or {}).items() if v}, {k: v for k, v in
                                                                       (ep.mirror_traffic or {}).items() if v})
            want = ({k: v for k, v in original["traffic"].items() if v},
                    {k: v for k, v in original["mirror"].items() if v})
            if now == want:
                return
            ac.emit(ctx, "step", f"restoring the previous traffic map {want[0]}")
            ac.wait(ml.online_endpoints.begin_create_or_update(_with_traffic(ep, *want)), ctx,
                    f"restore traffic of {c.endpoint}")
        except Exception as e:  # report, keep the original failure as the error
            ac.emit(ctx, "error", f"could not restore traffic: {ac.map_azure_error(e).one_line()}")

    def _fail(self, plan: DeploymentPlan, ml: Any, ctx: DeployContext, c: _Coords, name: str, err: DeployError,
              original: dict, *, created: bool, restored: bool = False) -> None:
        """Leave traffic as it was, remove (or keep) the failed deployment, and raise the mapped error."""
        if not restored:
            self._restore(ml, ctx, c, original)
        keep = plan.settings.get("keep_failed")
        if created and not keep and name not in {k for k, v in original["traffic"].items() if v} \
                and name not in original["mirror"]:
            try:
                self._delete_deployment(ml, ctx, c, name, f"cleanup:{name}")
            except DeployError as e2:
                ac.emit(ctx, "error", f"could not delete the failed deployment {name}: {e2.one_line()}")
        elif created and keep:
            err.hint = (f"{err.hint}; the failed deployment {name} was kept at 0% traffic: read its logs with "
                        f"`deploy-advisor logs {plan.spec.name}` or `az ml online-deployment get-logs -e "
                        f"{c.endpoint} -n {name} -g {c.resource_group} -w {c.workspace} --lines 200`")
        ac.emit(ctx, "error", f"rollout failed; traffic left as it was ({original['traffic'] or 'none'})",
                code=err.code, hint=err.hint)
        raise err

    def _delete_deployment(self, ml: Any, ctx: DeployContext, c: _Coords, name: str, key: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        what = f"delete {self.deployment_label} {c.endpoint}/{name}"
        if ac.done_or_resumed(ctx, key, what):
            return
        ac.emit(ctx, "step", what)
        try:
            poller = getattr(ml, self.deployment_ops).begin_delete(name=name, endpoint_name=c.endpoint)
        except ResourceNotFoundError:
            return
        except Exception as e:
            raise ac.map_azure_error(e, what) from e
        ac.wait(poller, ctx, what, key)

    def _autoscale(self, plan: DeploymentPlan, ctx: DeployContext, c: _Coords, want: Optional[dict]) -> None:
        """Azure Monitor autoscale on the serving deployment, as Learn's how-to-autoscale-endpoints does [J]."""
        import datetime as dt

        from azure.core.exceptions import ResourceNotFoundError
        from azure.mgmt.monitor.models import (AutoscaleProfile, AutoscaleSettingResource, MetricTrigger, ScaleAction,
                                               ScaleCapacity, ScaleRule)

        key = "autoscale"
        if ac.completed(ctx, key):
            return
        mon = self._monitor(ctx, c)
        name = self._ids(c)["autoscale_name"]
        if want is None:
            ac.emit(ctx, "step", f"delete autoscale setting {name}")
            try:
                mon.autoscale_settings.delete(c.resource_group, name)
            except ResourceNotFoundError:
                pass
            except Exception as e:
                raise ac.map_azure_error(e, "delete autoscale setting") from e
            ctx.checkpoint(key, {"token": None, "done": True, "what": "autoscale"})
            return
        dep_id = self._ids(c)["endpoint"] + f"/deployments/{want['deployment']}"
        lo, hi = int(want["min"]), int(want["max"])
        default = min(max(plan.settings["desired"]["instance_count"], lo), hi)

        def rule(op: str, threshold: int, direction: str, value: int) -> ScaleRule:
            return ScaleRule(
                metric_trigger=MetricTrigger(metric_name="CpuUtilizationPercentage", metric_resource_uri=dep_id,
                                             time_grain=dt.timedelta(minutes=1), statistic="Average",
                                             time_window=dt.timedelta(minutes=5), time_aggregation="Average",
                                             operator=op, threshold=threshold),
                scale_action=ScaleAction(direction=direction, type="ChangeCount", value=str(value),
                                         cooldown=dt.timedelta(minutes=5)))

        body = AutoscaleSettingResource(
            location=plan.settings.get("location") or "eastus", tags=ac.tags(plan.spec.name), enabled=True,
            target_resource_uri=dep_id,
            profiles=[AutoscaleProfile(name="deploy-advisor", capacity=ScaleCapacity(
                minimum=str(lo), maximum=str(hi), default=str(default)),
                rules=[rule("GreaterThan", 70, "Increase", 2), rule("LessThan", 25, "Decrease", 1)])])
        ac.emit(ctx, "step", f"autoscale {want['deployment']}: {lo}-{hi} instances on CPU")
        try:
            mon.autoscale_settings.create_or_update(c.resource_group, name, body)
        except Exception as e:
            raise ac.map_azure_error(e, "autoscale setting") from e
        ctx.checkpoint(key, {"token": None, "done": True, "what": "autoscale"})

    # -- results and local state
    def _state_path(self, ctx: DeployContext, name: str) -> Path:
        return Path(ctx.state_dir) / self.name / f"{name}.json"

    def recorded(self, ctx: DeployContext) -> list[str]:
        return sorted(p.stem for p in self._state_path(ctx, "_").parent.glob("*.json"))

    def _save_state(self, ctx: DeployContext, plan: DeploymentPlan, c: _Coords, **extra: Any) -> None:
        """Where this deployment lives (and `extra` facts a later destroy needs), for status/invoke/destroy."""
        path = self._state_path(ctx, plan.spec.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"coords": c.model_dump(), "plan_id": plan.plan_id, **extra}), encoding="utf-8")
        tmp.replace(path)

    def _known(self, name: str, ctx: DeployContext, strict: bool = True) -> _Coords:
        """Where a deployment lives: our state file, else the ledger's spec, else the configured defaults."""
        path = self._state_path(ctx, name)
        if path.is_file():
            try:
                return _Coords(**json.loads(path.read_text(encoding="utf-8"))["coords"])
            except (OSError, ValueError, KeyError, TypeError):
                pass
        try:
            from . import api
            row = api.get_deployment(name, ctx) or {}
            spec = row.get("spec") or {}
            if spec.get("target") == self.name:
                s = self.Settings.model_validate(spec.get("settings") or {})
                return self._coords(s, name, ctx)
        except DeployError:
            raise
        except Exception:  # no ledger row: use the configured workspace
            pass
        c = self._coords(self.Settings(), name, ctx, strict=False)
        if strict and not (c.subscription and c.resource_group and c.workspace):
            raise InputError(f"no record of where {name!r} was deployed and no Azure ML workspace configured",
                             "set AZURE_SUBSCRIPTION_ID / AZURE_RESOURCE_GROUP / AZUREML_WORKSPACE_NAME")
        return c

    def _result(self, plan: DeploymentPlan, ml: Any, c: _Coords, state: dict, *, changed: bool,
                smoke: Optional[dict]) -> DeploymentResult:
        ep = state["endpoint"] or {}
        uri = ep.get("scoring_uri", "")
        traffic = {k: v for k, v in (ep.get("traffic") or {}).items() if v}
        header = "" if plan.settings["auth_mode"] == "key" else " (a token: az ml online-endpoint get-credentials)"
        curl = (f"curl -sS -X POST {uri} -H \"Authorization: Bearer $AZUREML_ENDPOINT_KEY\" "
                f"-H 'Content-Type: application/json' -d @smoke-request.json"
                f"  # key{header}: az ml online-endpoint get-credentials -n {c.endpoint} -g {c.resource_group} "
                f"-w {c.workspace}") if uri else ""
        return DeploymentResult(
            name=plan.spec.name, target=self.name, status="succeeded" if changed else "no-change", changed=changed,
            endpoint_url=uri, curl=curl, smoke_latency_ms=(smoke or {}).get("latency_ms"),
            smoke_response=(smoke or {}).get("response"),
            outputs={"endpoint": c.endpoint, "workspace": c.workspace, "resource_group": c.resource_group,
                     "subscription": c.subscription, "traffic": traffic,
                     "mirror": {k: v for k, v in (ep.get("mirror") or {}).items() if v},
                     "deployments": sorted(state["deployments"]), "auth_mode": plan.settings["auth_mode"],
                     "live_deployment": max(traffic, key=traffic.get) if traffic else ""},
            message=f"{c.endpoint}: " + (", ".join(f"{k} {v}%" for k, v in traffic.items()) or "no traffic"))

    # ------------------------------------------------------------- operate
    def _status_client(self, name: str, ctx: DeployContext) -> tuple[Optional[Status], Any, _Coords]:
        """(a Status to return at once, or None; the MLClient; where the deployment lives) for status()."""
        c = self._known(name, ctx, strict=False)
        if not (c.subscription and c.resource_group and c.workspace):
            return Status(name=name, target=self.name, state="not-found",
                          message=f"no record of {name!r} and no Azure ML workspace configured"), None, c
        who = self._signed_in(ctx, c)
        if who:
            return Status(name=name, target=self.name, state="unknown", message=f"not signed in: {who}"), None, c
        return None, self._ml(ctx, c), c

    def _destroy_client(self, name: str, ctx: DeployContext) -> tuple[Optional[DestroyResult], Any, _Coords,
                                                                      DeployContext]:
        """(a result to return at once when nothing is recorded, or None; the MLClient; coords; ctx) for destroy()."""
        c = self._known(name, ctx, strict=False)
        if not (c.subscription and c.resource_group and c.workspace):
            return DestroyResult(name=name, target=self.name, already_absent=True,
                                 message=f"no record of where {name!r} was deployed: nothing deleted"), None, c, ctx
        who = self._signed_in(ctx, c)
        if who:
            raise AuthError("no Azure sign-in found", who)
        ctx = ctx if ctx.deployment else ctx.for_deployment(name)
        return None, self._ml(ctx, c), c, ctx

    def status(self, name: str, ctx: DeployContext) -> Status:
        early, ml, c = self._status_client(name, ctx)
        if early is not None:
            return early
        state = self._read(ml, c, ctx, monitor=False)
        ep = state["endpoint"]
        if ep is None:
            return Status(name=name, target=self.name, state="not-found",
                          message=f"endpoint {c.endpoint} not found in {c.workspace}")
        deps = state["deployments"]
        traffic = {k: v for k, v in ep["traffic"].items() if v}
        live_states = [deps[k]["state"] for k in traffic if k in deps]
        if ep["state"] in ("Creating", "Updating") or any(s in ("Creating", "Updating") for s in live_states):
            st = "provisioning"
        elif ep["state"] == "Failed" or (live_states and all(s == "Failed" for s in live_states)):
            st = "failed"
        elif not traffic:
            st = "stopped"
        elif any(d["state"] == "Failed" for d in deps.values()) or any(s != "Succeeded" for s in live_states):
            st = "degraded"
        else:
            st = "running"
        return Status(name=name, target=self.name, state=st, endpoint_url=ep["scoring_uri"],
                      message=f"{c.endpoint}: " + (", ".join(f"{k} {v}%" for k, v in traffic.items()) or "no traffic"),
                      details={"endpoint": c.endpoint, "workspace": c.workspace, "traffic": traffic,
                               "mirror": {k: v for k, v in ep["mirror"].items() if v}, "auth_mode": ep["auth_mode"],
                               "deployments": {k: {kk: vv for kk, vv in v.items() if kk != "ours"}
                                               for k, v in deps.items()}})

    def _client_for(self, name: str, ctx: DeployContext) -> tuple[Any, _Coords]:
        """(MLClient, where it lives) for a deployment by name; signed in, or a one-line AuthError."""
        c = self._known(name, ctx)
        who = self._signed_in(ctx, c)
        if who:
            raise AuthError("no Azure sign-in found", who)
        return self._ml(ctx, c), c

    def invoke(self, name: str, payload: Any, ctx: DeployContext) -> InvokeResult:
        ml, c = self._client_for(name, ctx)
        status, body, latency = self._invoke(ml, c, payload, None, ctx)
        return InvokeResult(status_code=status, latency_ms=round(latency, 1), response=body)

    def logs(self, name: str, ctx: DeployContext, tail: int = 100) -> str:
        c = self._known(name, ctx)
        ml = self._ml(ctx, c)
        state = self._read(ml, c, ctx, monitor=False)
        if state["endpoint"] is None:
            return f"endpoint {c.endpoint} not found"
        traffic = state["endpoint"]["traffic"]
        names = sorted(state["deployments"], key=lambda n: -traffic.get(n, 0))
        out = []
        for dep in names:
            try:
                text = ml.online_deployments.get_logs(name=dep, endpoint_name=c.endpoint, lines=int(tail))
            except Exception as e:
                text = f"(logs unavailable: {ac.map_azure_error(e).one_line()})"
            out.append(f"==> {c.endpoint}/{dep} ({traffic.get(dep, 0)}% traffic) <==\n{ac.scrub(text)}")
        return "\n".join(out)

    def destroy(self, name: str, ctx: DeployContext) -> DestroyResult:
        from azure.core.exceptions import ResourceNotFoundError

        early, ml, c, ctx = self._destroy_client(name, ctx)
        if early is not None:
            return early
        deleted: list[str] = []
        ep = _endpoint_or_none(ml, c)
        if ep is not None and not ac.is_ours(ep.tags, name):
            raise ConflictError(f"endpoint {c.endpoint} is not tagged as created by deploy-advisor for {name}",
                                "nothing was deleted; delete it yourself if it is really yours")
        auto = self._read_autoscale(ctx, c)
        if auto is not None and auto["ours"]:
            ac.emit(ctx, "step", f"delete autoscale setting {self._ids(c)['autoscale_name']}")
            try:
                self._monitor(ctx, c).autoscale_settings.delete(c.resource_group, self._ids(c)["autoscale_name"])
                deleted.append(f"autoscaleSetting/{self._ids(c)['autoscale_name']}")
            except ResourceNotFoundError:
                pass
            except Exception as e:
                raise ac.map_azure_error(e, "delete autoscale setting") from e
        if ep is not None:
            what = f"delete endpoint {c.endpoint} (and its deployments)"
            ac.emit(ctx, "step", what)
            try:
                poller = ml.online_endpoints.begin_delete(name=c.endpoint)
            except ResourceNotFoundError:
                poller = None
            except Exception as e:
                raise ac.map_azure_error(e, what) from e
            if poller is not None:
                ac.wait(poller, ctx, what)
                deleted.append(f"onlineEndpoint/{c.endpoint}")
        self._state_path(ctx, name).unlink(missing_ok=True)
        absent = not deleted
        return DestroyResult(name=name, target=self.name, deleted=deleted, already_absent=absent,
                             message=f"{c.endpoint}: already absent" if absent else
                             f"deleted {', '.join(deleted)}")
