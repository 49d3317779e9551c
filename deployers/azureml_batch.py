"""Azure ML batch endpoint deployer (azure-ai-ml): compute cluster, batch endpoint, model deployments, jobs.

For nightly and bulk scoring. A compute cluster sized by the advisor (min 0 nodes, so it costs
nothing between jobs) runs the jobs; the batch endpoint is the stable name callers invoke. A new model
version becomes a new deployment (blue/green names); the endpoint's default moves to it only after a
smoke job on a small sample completed; a failed smoke job leaves the old default in place. Invoking
means submitting a job (a local file or folder is uploaded through the workspace's default datastore),
following it to a terminal status and, on request, downloading its output.

Facts (Microsoft Learn, checked 2026-12-06):
- Batch endpoints support only Microsoft Entra authentication (aad_token) [AUTH].
- ModelBatchDeployment settings and defaults: mini_batch_size 10, max_concurrency_per_instance 1,
  output_action append_row, output_file_name predictions.csv [SETTINGS].
- Compute clusters scale to min_instances after idle_time_before_scale_down (default 120 s) [COMPUTE].
- The 20% quota reserve applies to managed online deployments only; a cluster needs its nodes' vCPUs [QUOTA].

Shares the workspace plumbing of the online endpoint deployer (coordinates, client, model resolution
and registration, ledger lookup) by subclassing it; everything endpoint-specific is overridden here.
"""
from __future__ import annotations

import json
import math
import os
import re
import time
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from pydantic import Field, field_validator, model_validator

from advisor.models import ModelInfo, Sizing

from . import azure_common as ac
from . import azureml_batch_schedule as sched
from . import model_folder
from .azureml import (COLORS, DEFAULT_IMAGE, OFFLINE_NOTE, SKUS, TAG_SPEC, AzureMLDeployer, EndpointName,
                      WorkspaceScope, _Coords, _get, _state_str, _templates, check_core_quota)
from .base import DeployContext
from .errors import ConflictError, DeployError, InputError, NotFoundError, RemoteError, StalePlanError
from .models import (DeploymentPlan, DeploymentResult, DeploymentSpec, DestroyResult, Finding, InvokeResult,
                     PlannedAction, Status, fingerprint)

SRC = {
    "AUTH": "https://learn.microsoft.com/azure/machine-learning/how-to-authenticate-batch-endpoint",
    "SETTINGS": "https://learn.microsoft.com/python/api/azure-ai-ml/azure.ai.ml.entities.modelbatchdeploymentsettings",
    "COMPUTE": "https://learn.microsoft.com/azure/machine-learning/how-to-create-attach-compute-cluster",
    "QUOTA": "https://learn.microsoft.com/azure/machine-learning/how-to-manage-quotas#virtual-machine-quota",
    "JOBS": "https://learn.microsoft.com/azure/machine-learning/how-to-access-data-batch-endpoints-jobs",
    "TROUBLESHOOT": "https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-batch-endpoints",
    # the mini-batch report's columns: "ParallelRunStep Performance Tuning Guide" (Azure ML docs article
    # how-to-tune-performance-of-parallel-run-step, ms.date 09/15/2020). Batch deployments run on the same parallel
    # run engine (the troubleshooting article lists the same logs/ layout); the report is read only when present.
    "PRS": "how-to-tune-performance-of-parallel-run-step (Azure ML docs), section Mini batch processing metrics",
}
JOB_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,254}")  # job and deployment names as we make and list them
COMPUTE_NAME_RE = r"[a-zA-Z][a-zA-Z0-9-]{1,14}[a-zA-Z0-9]"  # 3-16 characters, letter first
TERMINAL = {"completed": "Completed", "failed": "Failed", "canceled": "Canceled", "notresponding": "NotResponding"}
DATASTORE = "workspaceblobstore"
SMOKE_ROWS = 5
SCORING = ("Running", "Finalizing", "Completed", "Failed")  # statuses whose mini-batch report is worth reading
MINI_BATCH_REPORT = "processed_mini-batches.csv"  # logs/sys/job_report/ of the scoring step [PRS]

ComputeName = Annotated[Optional[str], ac.Matches(COMPUTE_NAME_RE, "compute cluster names have 3-16 letters, digits "
                                                                   "or dashes, starting with a letter")]


class AzureMLBatchSettings(WorkspaceScope):
    """Azure ML batch endpoint settings (CLI `--set k=v`, the UI form)."""
    endpoint_name: EndpointName = Field(None, description="Batch endpoint name, 3-32 letters/digits/dashes, unique "
                                                           "in the region (default: the deployment name)")
    compute_name: ComputeName = Field(None, description="Compute cluster to run the jobs on; an existing cluster we "
                                                        "did not create is used as it is (default: <endpoint>-cpu)")
    instance_type: ac.VmSize = Field(None, description="Cluster VM size (default: the advisor's sizing)")
    max_nodes: Optional[int] = Field(None, ge=1, le=1000, description="Cluster maximum nodes (default: the advisor's "
                                                                      "sizing, at least instance_count)")
    idle_seconds: int = Field(120, ge=0, le=86400, description="Idle time before the cluster scales back to 0 nodes")
    instance_count: Optional[int] = Field(None, ge=1, le=1000, description="Nodes a job uses (default: the advisor's "
                                                                           "sizing)")
    mini_batch_size: int = Field(10, ge=1, le=100000, description="Files per mini-batch (the unit run() receives)")
    max_concurrency_per_instance: Optional[int] = Field(None, ge=1, le=256, description="Parallel run() workers per "
                                                                                        "node (default: advisor's "
                                                                                        "workers per node)")
    max_retries: int = Field(3, ge=0, le=100, description="Retries of a failed or timed-out mini-batch")
    retry_timeout: Optional[int] = Field(None, ge=10, le=86400, description="Seconds one mini-batch may take "
                                                                            "(default: 1.5 x the profile's longest "
                                                                            "request, at least 30)")
    error_threshold: int = Field(-1, ge=-1, description="Failed files before the job stops (-1: never stop)")
    logging_level: Literal["debug", "info", "warning"] = Field("info", description="Batch driver log level")
    output_action: Literal["append_row", "summary_only"] = Field("append_row", description="append_row: one output "
                                                                                          "file of every result; "
                                                                                          "summary_only: none")
    output_file_name: str = Field("predictions.csv", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$",
                                  description="Output file name with append_row")
    smoke_input: Optional[str] = Field(None, description="Small sample for the smoke job: a local file/folder, "
                                                         "azureml://... or https://... (default: rows from the "
                                                         "model's input example)")
    smoke_timeout_seconds: int = Field(3600, ge=60, le=86400, description="Longest wait for the smoke job")
    keep_failed: bool = Field(False, description="Keep a deployment whose smoke job failed (not the default)")
    keep_previous: bool = Field(False, description="Keep the previous deployment after the default moved")
    schedule: Optional[str] = Field(None, description="Cron (5 fields, e.g. \"0 2 * * *\"; days and months must be *): "
                                                      "an Azure ML schedule submits a job on schedule_input then")
    schedule_time_zone: str = Field("UTC", description="Time zone of the schedule, as Azure ML names them (UTC, "
                                                       "'W. Europe Standard Time', ...)")
    schedule_input: Optional[str] = Field(None, description="What the scheduled job scores: azureml://datastores/"
                                                            ".../paths/FOLDER/, azureml:ASSET:VERSION or https://...")
    environment_image: ac.ImageReference = Field(DEFAULT_IMAGE, description="Base image for custom (non-MLflow) "
                                                                            "models, e.g. registry/repo:tag")

    @field_validator("smoke_input")
    @classmethod
    def _smoke(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not v.strip():
            raise ValueError("smoke_input is empty")
        if v is not None and ac.scrub(v) != v:  # settings are kept in the plan, the ledger and exports
            raise ValueError("smoke_input holds a secret (a SAS signature, key or token) that the plan would keep: "
                             "use azureml://datastores/... (the workspace signs in) or a local file")
        return v

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: Optional[str]) -> Optional[str]:
        return sched.check_cron(v) if v is not None else None

    @field_validator("schedule_time_zone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return sched.check_time_zone(v)

    @field_validator("schedule_input")
    @classmethod
    def _schedule_input(cls, v: Optional[str]) -> Optional[str]:
        return sched.check_input(v) if v is not None else None

    @model_validator(mode="after")
    def _schedule_needs_input(self) -> "AzureMLBatchSettings":
        if self.schedule and not self.schedule_input:
            raise ValueError("a schedule needs schedule_input (azureml://datastores/.../paths/FOLDER/, "
                             "azureml:ASSET:VERSION or https://...)")
        return self


# ----------------------------------------------------------------- small helpers


def _job_status(job: Any) -> str:
    """Completed / Running / ... whatever spelling the SDK used (enum, camel or upper case)."""
    raw = str(getattr(job, "status", "") or "").split(".")[-1]
    key = raw.replace("_", "").lower()
    names = {"notstarted": "NotStarted", "queued": "Queued", "preparing": "Preparing", "provisioning": "Provisioning",
             "starting": "Starting", "running": "Running", "finalizing": "Finalizing",
             "cancelrequested": "CancelRequested", **TERMINAL}
    return names.get(key, raw or "Unknown")


def _input(value: str) -> tuple[str, str]:
    """(type, path) of an invoke input: a local file/folder (absolute), azureml://..., azureml:name:version or
    https://... Raises InputError for a local path that does not exist."""
    v = value.strip()
    if v.startswith("azureml:") and not v.startswith("azureml://"):
        return "uri_folder", v  # a registered data asset (azureml:name:version / azureml:name@latest)
    if v.startswith(("azureml://", "https://")):
        last = v.rstrip("/").rsplit("/", 1)[-1]
        return ("uri_file" if not v.endswith("/") and "." in last else "uri_folder"), v
    if v.startswith("http://"):
        raise InputError(f"input {v}: plain http is refused", "use https://, azureml://... or a local path")
    p = Path(v).expanduser()
    if not p.exists():
        raise InputError(f"input {v}: no such file or folder",
                         "give a local file or folder, azureml://datastores/... or https://...")
    if p.is_dir():
        # the SDK's upload walks the folder following links: one pointing out would upload that file
        model_folder.check(p, "input")
        if not any(f.is_file() for f in p.rglob("*")):
            raise InputError(f"input {v}: the folder is empty")
    return ("uri_folder" if p.is_dir() else "uri_file"), str(p.resolve())


def _count_mini_batches(report: str) -> tuple[int, int]:
    """(done, failed) from processed_mini-batches.csv: one row per processing round of a mini-batch (columns
    Mini-batch Id, Picked Count, Total, Succeeded, Failed, Status, ...); a retried mini-batch counts by its last
    round. Columns are matched by name, case and spacing ignored."""
    import csv
    import io

    last: dict[str, tuple[int, bool]] = {}
    for row in csv.DictReader(io.StringIO(report)):
        r = {re.sub(r"[\s_-]+", "", str(k or "")).lower(): str(v or "") for k, v in row.items()}
        mb = r.get("minibatchid", "")
        if not mb:
            continue
        picked = int(r.get("pickedcount") or 0) if (r.get("pickedcount") or "").isdigit() else 0
        failed = (r.get("failed") or "0").strip() not in ("", "0") or any(
            word in r.get("status", "").upper() for word in ("EXCEPTION", "TIMEOUT", "FAIL", "ERROR"))
        if mb not in last or picked >= last[mb][0]:
            last[mb] = (picked, failed)
    failed_n = sum(1 for _, f in last.values() if f)
    return len(last) - failed_n, failed_n


def _output_uri(endpoint: str, job: str) -> str:
    """Where a job's scores go: a folder we choose on the default datastore, so we know where to download from."""
    return f"azureml://datastores/{DATASTORE}/paths/deploy-advisor/{endpoint}/{job}/"


def _checked_name(value: str, what: str) -> str:
    """A job or deployment name given by the user, checked before it reaches a URL or a header."""
    if not JOB_NAME_RE.fullmatch(value):
        raise InputError(f"{what} {value[:80]!r}: names have 1-255 letters, digits, '-' or '_'",
                         "`deploy-advisor status NAME` lists the recent jobs and the deployments")
    return value


def _writable_folder(path: Path) -> None:
    """--out: a folder we can create or write into, checked before the job is submitted."""
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if path.exists() and not path.is_dir():
        raise InputError(f"--out {path}: exists and is not a folder", "give a folder (created if missing)")
    if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"--out {path}: cannot write there", "give a folder you can write to")


def _job_name(*parts: str) -> str:
    """Job names: letters, digits, '-' and '_' (we keep them short and unique)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", "-".join(p for p in parts if p)).strip("-")[:200]


def _sample_csv(info: Optional[ModelInfo]) -> Optional[str]:
    """A few CSV rows from the model's input example (the smoke job's default input)."""
    from . import planning

    body = planning.input_example(info)
    data = (body or {}).get("input_data") if isinstance(body, dict) else None
    columns: list = []
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        columns, rows = list(data.get("columns") or []), data["data"]
    elif isinstance(data, list):
        rows = data
    else:
        return None
    rows = [r for r in rows if isinstance(r, list)][:SMOKE_ROWS]
    if not rows:
        return None
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if columns:
        w.writerow(columns)
    w.writerows(rows)
    return buf.getvalue()


def _delete(ctx: DeployContext, what: str, begin) -> bool:
    """Run one delete operation to its end; False when the resource was already gone."""
    from azure.core.exceptions import ResourceNotFoundError

    ac.emit(ctx, "step", what)
    try:
        ac.wait(begin(), ctx, what)
    except (ResourceNotFoundError, NotFoundError):
        return False
    return True


class AzureMLBatchDeployer(AzureMLDeployer):
    name = "azureml-batch"
    title = "Azure ML batch endpoint"
    description = ("Azure Machine Learning batch endpoint: a compute cluster that scales to zero, model deployments "
                   "switched after a smoke job, scoring jobs over files")
    requires_azure = True
    invoked_with_jobs = True
    Settings = AzureMLBatchSettings
    deployment_ops = "batch_deployments"
    code_folder = "code"
    deployment_label = "batch deployment"

    # ------------------------------------------------------------- desired state
    def _compute_name(self, s: AzureMLBatchSettings, c: _Coords, sku: str) -> str:
        if s.compute_name:
            return s.compute_name
        kind = "gpu" if sku in SKUS and SKUS[sku][2] else "cpu"
        return f"{c.endpoint[:12].rstrip('-')}-{kind}"

    def _desired(self, spec: DeploymentSpec, s: AzureMLBatchSettings, c: _Coords, sizing: Sizing, info: ModelInfo,
                 model: dict) -> dict:
        p = spec.profile
        sku = s.instance_type or sizing.sku
        count = s.instance_count or max(1, sizing.instances)
        max_nodes = max(s.max_nodes or max(sizing.max or count, count), count)
        custom = info.format != "mlflow"
        deployment = {
            "model": model["ref"], "compute": self._compute_name(s, c, sku), "instance_count": count,
            "mini_batch_size": s.mini_batch_size,
            "max_concurrency_per_instance": s.max_concurrency_per_instance or max(1, sizing.workers_per_instance or 1),
            "max_retries": s.max_retries,
            "retry_timeout": s.retry_timeout or int(max(30, math.ceil(p.inference.max_request_seconds * 1.5))),
            "error_threshold": s.error_threshold, "logging_level": s.logging_level,
            "output_action": s.output_action,
            "output_file_name": s.output_file_name if s.output_action == "append_row" else None,
            "custom": custom, "image": (s.environment_image or DEFAULT_IMAGE) if custom else None,
        }
        schedule = sched.desired(s, c, deployment["compute"])
        compute = {"name": deployment["compute"], "size": sku, "max_nodes": max_nodes, "idle_seconds": s.idle_seconds,
                   "identity": schedule is not None}  # the scheduled step runs with the cluster's identity
        return {"endpoint": c.endpoint, "compute": compute, "deployment": deployment, "schedule": schedule}

    # ------------------------------------------------------------- remote state
    def _read(self, ml: Any, c: _Coords, ctx: DeployContext, *, monitor: bool = True,
              compute: Optional[str] = None) -> dict:
        """What planning needs from Azure, as plain data (its fingerprint guards against stale plans)."""
        from azure.core.exceptions import ResourceNotFoundError

        state: dict[str, Any] = {"endpoint": None, "deployments": {}, "compute": None, "schedule": None}
        try:
            ws = ml.workspaces.get(c.workspace)
            state["location"] = str(getattr(ws, "location", "") or "")
        except Exception as e:
            raise ac.map_azure_error(e, f"workspace {c.workspace}") from e
        me = ctx.deployment or ""
        if compute:
            try:
                cl = ml.compute.get(compute)
                state["compute"] = {
                    "size": str(getattr(cl, "size", "") or ""), "max_nodes": int(getattr(cl, "max_instances", 0) or 0),
                    "min_nodes": int(getattr(cl, "min_instances", 0) or 0),
                    "idle_seconds": int(getattr(cl, "idle_time_before_scale_down", 0) or 0),
                    "type": str(getattr(cl, "type", "") or ""), "ours": ac.is_ours(cl.tags, me),
                    "state": _state_str(getattr(cl, "provisioning_state", "")),
                    "principal_id": str(getattr(getattr(cl, "identity", None), "principal_id", "") or "")}
            except ResourceNotFoundError:
                pass
            except Exception as e:
                raise ac.map_azure_error(e, f"compute {compute}") from e
        try:
            ep = ml.batch_endpoints.get(c.endpoint)
        except ResourceNotFoundError:
            ep = None
        except Exception as e:
            raise ac.map_azure_error(e, f"batch endpoint {c.endpoint}") from e
        if ep is not None:
            defaults = getattr(ep, "defaults", None)
            default = _get(defaults, "deployment_name", "deploymentName", default="") if defaults else ""
            state["endpoint"] = {"auth_mode": str(ep.auth_mode or ""), "default": default or "",
                                 "state": _state_str(ep.provisioning_state), "ours": ac.is_ours(ep.tags, me),
                                 "scoring_uri": ep.scoring_uri or ""}
            try:
                deps = list(ml.batch_deployments.list(c.endpoint))
            except Exception as e:
                raise ac.map_azure_error(e, f"deployments of {c.endpoint}") from e
            for d in deps:
                state["deployments"][d.name] = {"state": _state_str(d.provisioning_state),
                                                "spec": (d.tags or {}).get(TAG_SPEC, ""),
                                                "ours": ac.is_ours(d.tags, me)}
        state["schedule"] = sched.read(ml, c.endpoint, me)
        return state

    # ------------------------------------------------------------- preflight (preflight() is the online one's)
    def _preflight(self, spec: DeploymentSpec, s: AzureMLBatchSettings, ctx: DeployContext,
                   remote: Optional[dict] = None, quota: bool = True) -> tuple[list[Finding], dict]:
        """Read-only checks; returns (findings, context gathered for planning: coords, sizing, compute, client,
        remote state)."""
        ctx = ctx if ctx.deployment else ctx.for_deployment(spec.name)
        out: list[Finding] = []
        gathered: dict[str, Any] = {}

        def add(check: str, level: str, message: str, hint: str = "") -> None:
            out.append(Finding(check=check, level=level, message=ac.scrub(message), hint=hint))

        p = spec.profile
        c = self._coords(s, spec.name, ctx, strict=False)
        gathered["coords"] = c
        missing = self._check_scope(c, add)
        sizing = self._sizing(p, ctx)
        gathered["sizing"] = sizing
        sku = s.instance_type or sizing.sku
        count = s.instance_count or max(1, sizing.instances)
        compute = self._compute_name(s, c, sku)
        gathered["compute"] = compute
        facts = SKUS.get(sku)
        gpu = bool(facts and facts[2]) or sku.lower().startswith("standard_n")
        if p.inference.gpu == "required" and not gpu:
            add("gpu", "fail", f"the profile requires a GPU but {sku} has none", "pick an NC/ND/NV size")
        if p.security.auth == "entra":
            add("auth", "pass", f"batch endpoints use Microsoft Entra tokens (aad_token), as the profile asks "
                f"[{SRC['AUTH']}]")
        else:
            add("auth", "warn", f"the profile asks for {p.security.auth} auth, but batch endpoints accept only "
                f"Microsoft Entra tokens (aad_token) [{SRC['AUTH']}]",
                "callers need an Entra identity with rights to create jobs (e.g. AzureML Data Scientist)")
        if p.security.network in ("on-premises",):
            add("network", "fail", "batch endpoints run in Azure, not on premises", "use AKS with Azure Arc")
        elif p.security.network in ("managed-vnet", "custom-vnet"):
            add("network", "warn", f"{p.security.network}: the cluster and the datastores need network access "
                "to each other", "see how-to-secure-batch-endpoint on Learn")
        connected = self._connect(ctx, c, add, missing, lambda ml: remote if remote is not None else self._read(
            ml, c, ctx, compute=compute))
        if connected is None:
            return out, gathered
        ml, state = connected
        gathered["ml"], gathered["state"] = ml, state
        location = state.get("location") or p.region
        add("workspace", "pass", f"workspace {c.workspace} reachable in {location or '?'}")
        ep = state["endpoint"]
        if ep is None:
            add("endpoint-name", "pass", f"batch endpoint {c.endpoint} does not exist yet in {c.workspace}",
                "names are unique per region: a clash with another workspace shows at create time")
        elif ep["ours"]:
            add("endpoint-name", "pass", f"batch endpoint {c.endpoint} exists and is ours: it will be updated")
        else:
            add("endpoint-name", "fail", f"batch endpoint {c.endpoint} exists but was not created by deploy-advisor "
                f"for {spec.name}", "choose another --set endpoint_name=... (names are unique per region)")
        cl = state.get("compute")
        if cl is None:
            add("compute", "pass", f"compute cluster {compute} will be created: {sku}, 0-"
                f"{max(s.max_nodes or sizing.max or count, count)} nodes, scale-down after {s.idle_seconds} s idle")
        elif not cl["ours"]:
            level = "pass" if cl["type"] in ("", "amlcompute") else "fail"
            add("compute", level, f"compute {compute} exists and was not created by deploy-advisor: used as it is "
                f"({cl['size']}, {cl['min_nodes']}-{cl['max_nodes']} nodes), never changed or deleted",
                "" if level == "pass" else "batch deployments need an AmlCompute cluster")
            sku = cl["size"] or sku
        elif cl["size"].lower() != sku.lower():
            add("compute", "fail", f"compute {compute} is {cl['size']}; a cluster's VM size cannot change",
                f"--set compute_name=NEW to create a {sku} cluster (or instance_type={cl['size']})")
        else:
            add("compute", "pass", f"compute {compute} exists and is ours")
        gathered["quota_args"] = (location, sku, count)
        if quota and (cl is None or cl["ours"]):
            check_core_quota(ml, location, sku, count, add, reserve=False)
        return out, gathered

    # ------------------------------------------------------------- plan
    def plan(self, spec: DeploymentSpec, ctx: DeployContext) -> DeploymentPlan:
        s = self.settings_for(spec)
        ctx = ctx if ctx.deployment else ctx.for_deployment(spec.name)
        findings, got = self._preflight(spec, s, ctx)
        c: _Coords = got["coords"]
        sizing: Sizing = got["sizing"]
        ml = got.get("ml")
        state = got.get("state")
        notes: list[str] = []
        if state is None:
            notes.append(OFFLINE_NOTE)
            state = {"endpoint": None, "deployments": {}, "compute": None, "schedule": None, "offline": True}
        info, model = self._planned_model(spec, ctx, ml, c, findings)
        desired = self._desired(spec, s, c, sizing, info, model)
        spec_fp = fingerprint(desired["deployment"])
        actions, steps = self._diff(s, c, desired, spec_fp, state, model)
        schedule_fp = sched.fingerprint_of(desired["schedule"])
        sched.findings(desired["schedule"], state.get("schedule"), state.get("compute"), lambda check, level, message,
                       hint="": findings.append(Finding(check=check, level=level, message=message, hint=hint)),
                       mode=spec.profile.inference.mode)
        schedule_actions, steps["schedule"] = sched.diff(desired["schedule"], state.get("schedule"), schedule_fp)
        actions += schedule_actions
        settings = {"coords": c.model_dump(), "desired": desired, "spec_fp": spec_fp, "steps": steps, "model": model,
                    "schedule_fp": schedule_fp,
                    "smoke_input": s.smoke_input, "smoke_timeout_seconds": s.smoke_timeout_seconds,
                    "keep_failed": s.keep_failed, "location": state.get("location") or spec.profile.region}
        artifacts = self._artifacts(spec, c, desired, steps, info)
        if desired["schedule"]:
            artifacts.update(sched.artifacts(spec.name, c, desired["schedule"], schedule_fp))
        if steps.get("smoke") and not s.smoke_input and "sample/sample.csv" not in artifacts:
            # moving an existing default untested is what the smoke job exists to prevent
            replacing = bool(steps.get("previous"))
            findings.append(Finding(
                check="smoke-input", level="fail" if replacing else "warn",
                message=(f"no sample for the smoke job of {steps['target']} (the model has no input example)"
                         + (f": the default would move from {steps['previous']} untested" if replacing else
                            ": it becomes the default without a smoke job")),
                hint="--set smoke_input=PATH|azureml://...|https://... (a few rows in the model's input format)"))
        return DeploymentPlan(spec=spec, target=self.name, model_info=info, sizing=sizing, settings=settings,
                              actions=actions, artifacts=artifacts, findings=findings,
                              state_fingerprint=fingerprint(state), desired_fingerprint=fingerprint(desired),
                              notes=notes + list(sizing.notes))

    def _diff(self, s: AzureMLBatchSettings, c: _Coords, desired: dict, spec_fp: str, state: dict,
              model: dict) -> tuple[list[PlannedAction], dict]:
        """Compare desired with remote state: planned actions (for people) and steps (for apply)."""
        actions: list[PlannedAction] = []
        steps: dict[str, Any] = {}
        if model.get("register"):
            actions.append(PlannedAction(kind="create", resource_type="model", resource=model["ref"],
                                         detail="register the model in the workspace"))
            steps["register_model"] = True
        want, cl = desired["compute"], state.get("compute")
        shape = f"{want['size']}, 0-{want['max_nodes']} nodes, scale to 0 after {want['idle_seconds']} s idle"
        if cl is None:
            actions.append(PlannedAction(kind="create", resource_type="compute", resource=want["name"], detail=shape))
            steps["compute"] = "create"
        elif cl["ours"] and ((cl["max_nodes"], cl["idle_seconds"], cl["min_nodes"]) != (
                want["max_nodes"], want["idle_seconds"], 0) or (want["identity"] and not cl.get("principal_id"))):
            changes = {"max_nodes": [cl["max_nodes"], want["max_nodes"]],
                       "idle_seconds": [cl["idle_seconds"], want["idle_seconds"]]}
            if want["identity"] and not cl.get("principal_id"):
                changes["identity"] = [None, "system_assigned"]
            actions.append(PlannedAction(kind="update", resource_type="compute", resource=want["name"], detail=shape,
                                         changes=changes))
            steps["compute"] = "update"
        else:
            actions.append(PlannedAction(kind="no-op", resource_type="compute", resource=want["name"],
                                         detail="" if cl["ours"] else "not ours: used as it is"))
        ep = state["endpoint"]
        if ep is None:
            actions.append(PlannedAction(kind="create", resource_type="batchEndpoint", resource=c.endpoint,
                                         detail="auth aad_token (Microsoft Entra; the only mode batch supports)"))
            steps["endpoint"] = "create"
        else:
            actions.append(PlannedAction(kind="no-op", resource_type="batchEndpoint", resource=c.endpoint))
        deps = state["deployments"]
        default = (ep or {}).get("default") or ""
        match = next((n for n, d in deps.items() if d["spec"] == spec_fp and d["state"] == "Succeeded"), None)
        d = desired["deployment"]
        if match:
            target = match
            actions.append(PlannedAction(kind="no-op", resource_type="batchDeployment", resource=match))
        else:
            target = next((col for col in COLORS if col != default and col not in deps), None) \
                or next(col for col in COLORS if col != default)
            kind = "update" if target in deps else "create"
            actions.append(PlannedAction(kind=kind, resource_type="batchDeployment", resource=target,
                                         detail=f"{d['model']} on {d['instance_count']} x {want['size']} node(s), "
                                                f"mini-batches of {d['mini_batch_size']}, "
                                                f"{d['max_concurrency_per_instance']} worker(s) per node; then a "
                                                "smoke job", changes={"spec": spec_fp}))
            steps["deployment"] = {"name": target, "op": kind}
        if default == target:
            actions.append(PlannedAction(kind="no-op", resource_type="batchEndpoint/default", resource=c.endpoint,
                                         changes={"default": target}))
        else:
            actions.append(PlannedAction(kind="update", resource_type="batchEndpoint/default", resource=c.endpoint,
                                         detail=f"after a smoke job of {target} completes",
                                         changes={"from": default or None, "to": target}))
            steps["smoke"] = target
            steps["default"] = target
        steps["target"], steps["previous"] = target, (default if default and default != target else None)
        if steps["previous"] and not s.keep_previous and steps["previous"] in deps:
            actions.append(PlannedAction(kind="delete", resource_type="batchDeployment", resource=steps["previous"],
                                         detail="after the default moved to the new deployment"))
            steps["delete_previous"] = steps["previous"]
        for name, dep in deps.items():  # failed leftovers of ours go with the next rollout
            if name not in (target, default) and dep["ours"] and dep["state"] == "Failed" and not s.keep_failed:
                actions.append(PlannedAction(kind="delete", resource_type="batchDeployment", resource=name,
                                             detail="failed deployment kept from an earlier run"))
                steps.setdefault("delete_failed", []).append(name)
        return actions, steps

    def _artifacts(self, spec: DeploymentSpec, c: _Coords, desired: dict, steps: dict,
                   info: ModelInfo) -> dict[str, str]:
        env, conda_env = _templates("azureml_batch"), _templates()
        d, comp = desired["deployment"], desired["compute"]
        tags = ac.tags(spec.name)
        base = {"deployment": spec.name, "endpoint_name": c.endpoint}
        out = {"endpoint.yml": env.get_template("endpoint.yml.j2").render(
            **base, tags=tags, description=f"deploy-advisor deployment {spec.name}"),
            "compute.yml": env.get_template("compute.yml.j2").render(
                **base, compute_name=comp["name"], size=comp["size"], max_nodes=comp["max_nodes"],
                idle_seconds=comp["idle_seconds"], tags=tags)}
        code_dir = conda = None
        if d["custom"]:
            code_dir, conda = "./code", "./environment/conda.yaml"
            from .scoring import render_score_script
            out["code/score.py"] = render_score_script(info)
            out["code/batch_driver.py"] = env.get_template("batch_driver.py.j2").render(
                deployment=spec.name, output_file_name=d["output_file_name"] or "")
            reqs = [r for r in (info.requirements or []) if re.fullmatch(r"[A-Za-z0-9_.\-\[\],<>=!~ ]{1,120}", r)]
            out["environment/conda.yaml"] = conda_env.get_template("conda.yaml.j2").render(
                python_version="3.11", requirements=reqs or ["scikit-learn", "pandas", "joblib"])
        out["deployment.yml"] = env.get_template("deployment.yml.j2").render(
            **base, deployment_name=steps["target"], model=d["model"], compute_name=comp["name"],
            code_dir=code_dir, scoring_script="batch_driver.py", environment_image=d["image"] or DEFAULT_IMAGE,
            conda_file=conda, instance_count=d["instance_count"], mini_batch_size=d["mini_batch_size"],
            max_concurrency_per_instance=d["max_concurrency_per_instance"], output_action=d["output_action"],
            output_file_name=d["output_file_name"] or "", max_retries=d["max_retries"],
            retry_timeout=d["retry_timeout"], error_threshold=d["error_threshold"], logging_level=d["logging_level"],
            tags={**tags, TAG_SPEC: fingerprint(d)})
        out["invoke.sh"] = env.get_template("invoke.sh.j2").render(**base, deployment_name=steps["target"])
        sample = _sample_csv(info)
        if sample:
            out["sample/sample.csv"] = sample
        return out

    # ------------------------------------------------------------- apply
    def apply(self, plan: DeploymentPlan, ctx: DeployContext) -> DeploymentResult:
        ctx, c, ml, resuming = self._start_apply(plan, ctx)
        st = plan.settings
        compute = st["desired"]["compute"]["name"]
        state = self._read(ml, c, ctx, compute=compute)
        if not resuming and fingerprint(state) != plan.state_fingerprint:
            raise StalePlanError(f"batch endpoint {c.endpoint} changed since this plan was made",
                                 "run plan again (or deploy) to see the new changes")
        steps = st["steps"]
        # recorded before anything is created: a destroy after a failed first apply still finds our cluster
        principal = self._recorded(plan.spec.name, ctx).get("schedule_principal") or ""
        self._save_state(ctx, plan, c, compute=compute, schedule_principal=principal)
        if not plan.has_changes:
            ac.emit(ctx, "info", f"{c.endpoint}: nothing to change")
            return self._result(plan, c, state, changed=False, smoke=None)
        if resuming:
            ac.emit(ctx, "info", f"resuming: {len(ctx.checkpoints)} checkpoint(s) from the interrupted run")
        if steps.get("register_model"):
            self._register_model(plan, ml, ctx)
        if steps.get("compute"):
            self._compute(plan, ml, ctx)
        if steps.get("endpoint"):
            self._endpoint(plan, ml, ctx, c)
        target = steps["target"]
        dep = steps.get("deployment")
        smoke = None
        try:
            if dep:
                self._deployment(plan, ml, ctx, c, dep)
            if steps.get("smoke"):
                smoke = self._smoke(plan, ml, ctx, c, target)
        except DeployError as err:
            self._fail(plan, ml, ctx, c, target, err, created=bool(dep))
        if steps.get("default"):
            self._endpoint(plan, ml, ctx, c, default=steps["default"])
        for name in steps.get("delete_failed") or []:
            self._delete_deployment(ml, ctx, c, name, f"delete:{name}")
        if steps.get("delete_previous"):
            self._delete_deployment(ml, ctx, c, steps["delete_previous"], f"delete:{steps['delete_previous']}")
        principal = self._schedule(plan, ml, ctx, c, state)
        state = self._read(ml, c, ctx, compute=compute)
        self._save_state(ctx, plan, c, compute=compute, schedule_principal=principal)
        return self._result(plan, c, state, changed=True, smoke=smoke)

    # -- steps
    def _schedule(self, plan: DeploymentPlan, ml: Any, ctx: DeployContext, c: _Coords, state: dict) -> str:
        """Create/update the schedule (after the endpoint has its default) or delete it; returns the principal
        that holds our role assignment for it (recorded for destroy), or ""."""
        op = plan.settings["steps"].get("schedule")
        compute = plan.settings["desired"]["compute"]["name"]
        if op in ("create", "update"):
            principal = sched.grant(ml, ctx, c, compute)
            self._save_state(ctx, plan, c, compute=compute, schedule_principal=principal)  # destroy revokes it
            sched.create_or_update(plan, ml, ctx, Path(ctx.state_dir))
            return principal
        recorded = self._recorded(plan.spec.name, ctx).get("schedule_principal") or ""
        if op == "delete":
            have = state.get("schedule") or {}
            sched.delete(ml, ctx, sched.name_for(c.endpoint), enabled=have.get("enabled", True))
            if recorded:
                sched.revoke(ml, ctx, c, recorded)
            return ""
        return recorded

    def _compute(self, plan: DeploymentPlan, ml: Any, ctx: DeployContext) -> None:
        from azure.ai.ml.entities import AmlCompute, IdentityConfiguration

        want = plan.settings["desired"]["compute"]
        key, what = "compute", f"compute {want['name']}"
        if ac.done_or_resumed(ctx, key, what):
            return
        ac.emit(ctx, "step", f"{plan.settings['steps']['compute']} {what}: {want['size']}, 0-{want['max_nodes']} "
                f"nodes, scale-down after {want['idle_seconds']} s idle"
                + (", system-assigned identity (for the schedule)" if want.get("identity") else ""))
        identity = IdentityConfiguration(type="system_assigned") if want.get("identity") else None
        entity = AmlCompute(name=want["name"], size=want["size"], min_instances=0, max_instances=want["max_nodes"],
                            idle_time_before_scale_down=want["idle_seconds"], tier="dedicated",
                            tags=ac.tags(plan.spec.name), identity=identity,
                            description=f"deploy-advisor batch cluster for {plan.spec.name}")
        try:
            poller = ml.compute.begin_create_or_update(entity)
        except Exception as e:
            raise ac.map_azure_error(e, what) from e
        ac.wait(poller, ctx, what, key)

    def _endpoint(self, plan: DeploymentPlan, ml: Any, ctx: DeployContext, c: _Coords,
                  default: Optional[str] = None) -> None:
        """Create the endpoint (no default yet), or move its default deployment."""
        from azure.ai.ml.entities import BatchEndpoint

        key = f"default:{default}" if default else "endpoint"
        what = f"default of {c.endpoint} -> {default}" if default else f"batch endpoint {c.endpoint}"
        if ac.done_or_resumed(ctx, key, what):
            return
        ac.emit(ctx, "step", (f"make {default} the default deployment of {c.endpoint}" if default else
                              f"create {what} (auth aad_token)"))
        entity = BatchEndpoint(name=c.endpoint, tags=ac.tags(plan.spec.name),
                               description=f"deploy-advisor deployment {plan.spec.name}",
                               defaults={"deployment_name": default} if default else None)
        try:
            poller = ml.batch_endpoints.begin_create_or_update(entity)
        except Exception as e:
            raise ac.map_azure_error(e, what) from e
        ac.wait(poller, ctx, what, key)

    def _deployment_entity(self, plan: DeploymentPlan, c: _Coords, name: str, state_dir: Path) -> Any:
        from azure.ai.ml.entities import (BatchRetrySettings, CodeConfiguration, Environment, ModelBatchDeployment,
                                          ModelBatchDeploymentSettings)

        d = plan.settings["desired"]["deployment"]
        kw: dict[str, Any] = {}
        if d["custom"]:
            code_dir = self._code_dir(plan, state_dir)
            kw["code_configuration"] = CodeConfiguration(code=str(code_dir), scoring_script="batch_driver.py")
            kw["environment"] = Environment(image=d["image"], conda_file=str(code_dir.parent / "conda.yaml"))
        settings = ModelBatchDeploymentSettings(
            mini_batch_size=d["mini_batch_size"], instance_count=d["instance_count"],
            max_concurrency_per_instance=d["max_concurrency_per_instance"], output_action=d["output_action"],
            output_file_name=d["output_file_name"], error_threshold=d["error_threshold"],
            logging_level=d["logging_level"],
            retry_settings=BatchRetrySettings(max_retries=d["max_retries"], timeout=d["retry_timeout"]))
        return ModelBatchDeployment(name=name, endpoint_name=c.endpoint, model=d["model"], compute=d["compute"],
                                    settings=settings, description=f"deploy-advisor deployment {plan.spec.name}",
                                    tags={**ac.tags(plan.spec.name), TAG_SPEC: plan.settings["spec_fp"]}, **kw)

    def _deployment_step(self, plan: DeploymentPlan, dep: dict, what: str) -> str:
        d = plan.settings["desired"]["deployment"]
        return f"{dep['op']} {what}: {d['model']} on {d['compute']} (not the default yet)"

    def _smoke_input(self, plan: DeploymentPlan, ctx: DeployContext) -> Optional[str]:
        raw = plan.settings.get("smoke_input")
        if raw:
            return raw
        sample = plan.artifacts.get("sample/sample.csv")
        if not sample:
            return None
        folder = Path(ctx.state_dir) / self.name / plan.spec.name / f"smoke-{plan.plan_id}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "sample.csv").write_text(sample, encoding="utf-8")
        return str(folder)

    def _smoke(self, plan: DeploymentPlan, ml: Any, ctx: DeployContext, c: _Coords, name: str) -> Optional[dict]:
        """A small job on the new deployment only; it must complete before the default moves."""
        sample = self._smoke_input(plan, ctx)
        if sample is None:
            ac.emit(ctx, "warning", f"no sample input for {plan.spec.model}: smoke job of {name} skipped",
                    hint="pass --set smoke_input=PATH|azureml://...|https://...")
            return None
        key = f"smoke:{name}"
        entry = ctx.checkpoints.get(key) if isinstance(ctx.checkpoints.get(key), dict) else None
        if entry and entry.get("done"):
            return entry.get("result")
        ac.emit(ctx, "step", f"smoke job on {c.endpoint}/{name} (still not the default)")
        if entry and entry.get("job"):
            job = entry["job"]
            ac.emit(ctx, "info", f"resuming: following smoke job {job} submitted by the interrupted run")
        else:
            job = self._submit(ml, ctx, c, sample, deployment=name,
                               job_name=_job_name(c.endpoint, name, "smoke", plan.plan_id))
            ctx.checkpoint(key, {"job": job, "done": False})
        start = time.monotonic()
        status = self._follow(ml, ctx, job, timeout=float(plan.settings.get("smoke_timeout_seconds") or 3600))
        if status != "Completed":
            raise RemoteError(f"smoke job {job} on {name} ended {status}: {self._job_error(ml, job)}",
                              f"read its logs: `deploy-advisor logs {plan.spec.name} --job {job}`; the default "
                              "deployment was not changed", code="SmokeJobFailed")
        result = {"job": job, "status": status, "seconds": round(time.monotonic() - start, 1)}
        ctx.checkpoint(key, {"job": job, "done": True, "result": result})
        ac.emit(ctx, "info", f"smoke job {job} completed")
        return result

    def _fail(self, plan: DeploymentPlan, ml: Any, ctx: DeployContext, c: _Coords, name: str, err: DeployError,
              *, created: bool) -> None:
        """The default stays where it was; remove (or keep) the new deployment; raise the mapped error."""
        if created and not plan.settings.get("keep_failed"):
            try:
                self._delete_deployment(ml, ctx, c, name, f"cleanup:{name}")
            except DeployError as e2:
                ac.emit(ctx, "error", f"could not delete the failed deployment {name}: {e2.one_line()}")
        elif created:
            err.hint = f"{err.hint}; the failed deployment {name} was kept (not the default)"
        previous = plan.settings["steps"].get("previous")
        ac.emit(ctx, "error", f"rollout failed; the default deployment is still {previous or 'unset'}",
                code=err.code, hint=err.hint)
        raise err

    # -- jobs
    def _submit(self, ml: Any, ctx: DeployContext, c: _Coords, source: str, *, deployment: Optional[str] = None,
                job_name: Optional[str] = None) -> str:
        """Submit a job; a local file or folder is uploaded to the workspace's default datastore first."""
        from azure.ai.ml import Input, Output

        from azure.ai.ml.constants._endpoint import EndpointInvokeFields as F

        kind, path = _input(source)
        name = job_name or _job_name(c.endpoint, time.strftime("%Y%m%d-%H%M%S"), os.urandom(3).hex())
        if not path.startswith(("azureml", "https://")):
            path = self._upload(ml, ctx, path, kind)
        ac.emit(ctx, "step", f"submit job {name} to {c.endpoint}" + (f"/{deployment}" if deployment else "")
                + f" on {path}")

        # azure-ai-ml 1.35 writes the bearer token and the deployment header into its module-level
        # DEFAULT_HEADER dict: a later invoke in this process would reuse a stale deployment (and the
        # token stays in memory). Start clean and leave nothing behind.
        headers = F.DEFAULT_HEADER
        try:
            for k in (F.AUTHORIZATION, F.MODEL_DEPLOYMENT, F.REPEATABILITY_REQUEST_ID):
                headers.pop(k, None)
            job = ml.batch_endpoints.invoke(
                endpoint_name=c.endpoint, deployment_name=deployment, input=Input(type=kind, path=path),
                outputs={"score": Output(type="uri_folder", path=_output_uri(c.endpoint, name))}, job_name=name)
        except Exception as e:
            raise ac.map_azure_error(e, f"submit a job to {c.endpoint}") from e
        finally:
            for k in (F.AUTHORIZATION, F.MODEL_DEPLOYMENT, F.REPEATABILITY_REQUEST_ID):
                headers.pop(k, None)
        return str(job.name or name)

    @staticmethod
    def _upload(ml: Any, ctx: DeployContext, path: str, kind: str) -> str:
        """A local file or folder to the workspace's default datastore; returns its azureml:// URI. Done here, not
        by invoke(), which would draw a progress bar on stderr whatever the client's show_progress says."""
        from azure.ai.ml._artifacts._artifact_utilities import _upload_and_generate_remote_uri

        ac.emit(ctx, "step", f"uploading {path} to the {DATASTORE} datastore")
        try:
            uri = _upload_and_generate_remote_uri(ml._operation_scope, ml.datastores, path, datastore_name=DATASTORE,
                                                  show_progress=False)
        except Exception as e:
            raise ac.map_azure_error(e, f"upload {path}") from e
        return uri.rstrip("/") + "/" if kind == "uri_folder" else uri

    def _follow(self, ml: Any, ctx: DeployContext, job: str, *, timeout: float) -> str:
        """Poll a job until it ends, reporting each status change; returns the final status."""
        interval = float(ctx.client_kwargs.get("polling_interval", 15) if ctx.client_kwargs else 15)
        start, last = time.monotonic(), None
        while True:
            ctx.check_cancelled()
            try:
                status = _job_status(ml.jobs.get(job))
            except Exception as e:
                raise ac.map_azure_error(e, f"job {job}") from e
            counts = self._mini_batches(ml, ctx, job) if status in SCORING else None
            if (status, counts) != last:
                done = f" ({counts[0]} mini-batch(es) done, {counts[1]} failed)" if counts else ""
                ac.emit(ctx, "progress", f"job {job}: {status}{done}", job=job, status=status,
                        elapsed_s=round(time.monotonic() - start, 1),
                        **({"mini_batches_done": counts[0], "mini_batches_failed": counts[1]} if counts else {}))
                last = (status, counts)
            if status in TERMINAL.values():
                return status
            if time.monotonic() - start > timeout:
                raise RemoteError(f"job {job} still {status} after {timeout:.0f} s",
                                  f"it keeps running in Azure: `deploy-advisor status NAME` shows it", code="JobTimeout")
            ctx.sleep(interval)

    def _job_error(self, ml: Any, job: str) -> str:
        """The failed job's error message, from its run record (one line, scrubbed)."""
        try:
            details = ml.jobs._runs_operations.get_run_details(job)  # run history: the job entity has no error
            err = getattr(getattr(details, "error", None), "error", None)
            msg = str(getattr(err, "message", "") or "").strip().splitlines()
            code = str(getattr(err, "code", "") or "")
            if msg:
                return ac.scrub(f"{code + ': ' if code else ''}{msg[0]}")[:400]
        except Exception:  # the error text is a courtesy: the status already says it failed
            pass
        return "no error detail available (see the job in Azure ML studio)"

    def _mini_batches(self, ml: Any, ctx: DeployContext, job: str) -> Optional[tuple[int, int]]:
        """(done, failed) mini-batches so far, from the scoring step's processed_mini-batches.csv report (the
        parallel run behind a batch deployment writes it under logs/sys/job_report/); None until it exists."""
        try:
            for child in self._steps(ml, job):
                files = self._log_files(ml, child.name)
                url = next((u for n, u in files.items() if n.endswith(MINI_BATCH_REPORT)), None)
                if url:
                    return _count_mini_batches(self._read_log(ctx, url))
        except Exception:  # progress detail only: the job's status is what decides
            return None
        return None

    @staticmethod
    def _steps(ml: Any, job: str) -> list[Any]:
        """The job's child runs (the scoring step), from run history: `jobs.list(parent_job_name=)` would GET the
        parent job first, on every poll."""
        return [j for j in ml.jobs._runs_operations.get_run_children(job) if j is not None]

    @staticmethod
    def _log_files(ml: Any, run: str) -> dict[str, str]:
        """A run's log files, name -> SAS URL, from its run-history record (the job entity does not list them)."""
        details = ml.jobs._runs_operations.get_run_details(run)
        files = dict(getattr(details, "log_files", None) or {})
        for url in files.values():
            ac.register_secret(url.split("?", 1)[1] if "?" in url else "")
        return files

    @staticmethod
    def _read_log(ctx: DeployContext, url: str) -> str:
        """GET one log file by its SAS URL (through the context's transport and retries)."""
        from azure.core import PipelineClient
        from azure.core.pipeline import policies as p
        from azure.core.rest import HttpRequest

        kw = ac.sdk_kwargs(ctx)
        client = PipelineClient(base_url="https://localhost", policies=[
            p.RequestIdPolicy(), p.RetryPolicy(**{k: v for k, v in kw.items() if k.startswith("retry_")}),
            p.ContentDecodePolicy()], **({"transport": kw["transport"]} if kw.get("transport") is not None else {}))
        return client.send_request(HttpRequest("GET", url)).text()

    def _job_logs(self, ml: Any, ctx: DeployContext, job: str, tail: int) -> str:
        """The last lines of the job's log files, its scoring step's too (SAS URLs come from the run records,
        never shown)."""
        try:
            runs = [job] + [j.name for j in self._steps(ml, job)]
            files = {f"{run}/{n}" if run != job else n: u for run in runs for n, u in self._log_files(ml, run).items()}
        except Exception as e:
            return f"(logs unavailable: {ac.map_azure_error(e).one_line()})"
        if not files:
            return f"(no log files for job {job} yet)"
        out = []
        for name, url in sorted(files.items()):
            try:
                text = self._read_log(ctx, url)
            except Exception as e:
                text = f"(unavailable: {ac.map_azure_error(e).one_line()})"
            out.append(f"==> {name} <==\n" + "\n".join(ac.scrub(text).splitlines()[-int(tail):]))
        return "\n".join(out)

    def _download(self, ml: Any, ctx: DeployContext, uri: str, out_dir: Path) -> list[str]:
        """Download a job's output folder through the datastore (the SDK's own artifact download)."""
        from azure.ai.ml._artifacts._artifact_utilities import download_artifact_from_aml_uri

        out_dir.mkdir(parents=True, exist_ok=True)
        ac.emit(ctx, "step", f"downloading {uri} to {out_dir}")
        try:
            download_artifact_from_aml_uri(uri=uri, destination=str(out_dir), datastore_operation=ml.datastores)
        except Exception as e:
            raise ac.map_azure_error(e, f"download {uri}") from e
        return sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*") if p.is_file())

    # -- results and local state
    def _result(self, plan: DeploymentPlan, c: _Coords, state: dict, *, changed: bool,
                smoke: Optional[dict]) -> DeploymentResult:
        ep = state["endpoint"] or {}
        uri = ep.get("scoring_uri", "")
        default = ep.get("default") or ""
        cmd = (f"deploy-advisor invoke {plan.spec.name} --input DATA --wait --out out/  # or: az ml batch-endpoint "
               f"invoke -n {c.endpoint} --input DATA -g {c.resource_group} -w {c.workspace}") if uri else ""
        return DeploymentResult(
            name=plan.spec.name, target=self.name, status="succeeded" if changed else "no-change", changed=changed,
            endpoint_url=uri, curl=cmd, smoke_response=smoke,
            smoke_latency_ms=smoke["seconds"] * 1000 if smoke else None,  # the smoke job, end to end
            outputs={"endpoint": c.endpoint, "workspace": c.workspace, "resource_group": c.resource_group,
                     "subscription": c.subscription, "default_deployment": default,
                     "deployments": sorted(state["deployments"]), "auth_mode": "aad_token",
                     "compute": plan.settings["desired"]["compute"]["name"]},
            message=f"{c.endpoint}: default deployment {default or '(none)'}")

    # ------------------------------------------------------------- operate
    def _recent_jobs(self, ml: Any, c: _Coords, limit: int = 5) -> list[dict]:
        """The endpoint's latest jobs as the service lists them (newest first): the endpoint's own job list,
        not a scan of every job in the workspace."""
        rows = []
        try:
            for j in ml.batch_endpoints.list_jobs(endpoint_name=c.endpoint):
                rows.append({"job": j.name, "status": _job_status(j)})
                if len(rows) >= limit:
                    break
        except Exception as e:
            return [{"job": "", "status": f"(jobs unavailable: {ac.map_azure_error(e).one_line()})"}]
        return rows

    def status(self, name: str, ctx: DeployContext) -> Status:
        early, ml, c = self._status_client(name, ctx)
        if early is not None:
            return early
        state = self._read(ml, c, ctx)
        ep = state["endpoint"]
        if ep is None:
            return Status(name=name, target=self.name, state="not-found",
                          message=f"batch endpoint {c.endpoint} not found in {c.workspace}")
        deps, default = state["deployments"], ep["default"]
        if ep["state"] in ("Creating", "Updating") or deps.get(default, {}).get("state") in ("Creating", "Updating"):
            st = "provisioning"
        elif ep["state"] == "Failed" or deps.get(default, {}).get("state") == "Failed":
            st = "failed"
        elif not default:
            st = "stopped"
        elif any(d["state"] == "Failed" for d in deps.values()):
            st = "degraded"
        else:
            st = "running"
        jobs = self._recent_jobs(ml, c)
        return Status(name=name, target=self.name, state=st, endpoint_url=ep["scoring_uri"],
                      message=f"{c.endpoint}: default deployment {default or '(none)'}; "
                              + (f"last job {jobs[0]['job']} {jobs[0]['status']}" if jobs and jobs[0]["job"]
                                 else "no jobs yet") + self._schedule_line(state),
                      details={"endpoint": c.endpoint, "workspace": c.workspace, "default_deployment": default,
                               "auth_mode": "aad_token", "jobs": jobs, "schedule": self._schedule_status(state),
                               "deployments": {k: {kk: vv for kk, vv in v.items() if kk != "ours"}
                                               for k, v in deps.items()}})

    @staticmethod
    def _schedule_line(state: dict) -> str:
        have = state.get("schedule")
        if have is None or not have["ours"]:
            return ""
        return f"; schedule {have['name']} {have['cron']!r} ({have['time_zone']}" + (
            ")" if have["enabled"] else ", disabled)")

    @staticmethod
    def _schedule_status(state: dict) -> Optional[dict]:
        have = state.get("schedule")
        if have is None:
            return None
        return {"name": have["name"], "cron": have["cron"], "time_zone": have["time_zone"],
                "enabled": have["enabled"], "ours": have["ours"]}

    def invoke(self, name: str, payload: Any, ctx: DeployContext) -> InvokeResult:
        """Submit a scoring job: payload {"input": PATH|azureml://...|https://..., "wait": bool, "out": DIR,
        "deployment": NAME}. With wait, follows the job and downloads its output to `out`."""
        if not isinstance(payload, dict) or not payload.get("input"):
            raise InputError("a batch endpoint is invoked with an input, not a JSON body",
                             "deploy-advisor invoke NAME --input PATH|azureml://...|https://... [--wait --out DIR]")
        _input(str(payload["input"]))  # a bad local path fails before any request
        if payload.get("deployment"):
            _checked_name(str(payload["deployment"]), "deployment")
        if payload.get("out"):
            _writable_folder(Path(str(payload["out"])).expanduser())  # not after a job that ran for hours
        ml, c = self._client_for(name, ctx)
        start = time.monotonic()
        job = self._submit(ml, ctx, c, str(payload["input"]), deployment=payload.get("deployment") or None)
        output = _output_uri(c.endpoint, job)
        response: dict[str, Any] = {"job": job, "status": "Submitted", "output": output, "endpoint": c.endpoint}
        code = 202
        if payload.get("wait") or payload.get("out"):
            status = self._follow(ml, ctx, job, timeout=float(payload.get("timeout") or 86400))
            response["status"] = status
            if status == "Completed":
                code = 200
                if payload.get("out"):
                    out_dir = Path(str(payload["out"])).expanduser()
                    response["downloaded_to"] = str(out_dir)
                    response["files"] = self._download(ml, ctx, output, out_dir)
            else:
                code = 500
                response["error"] = self._job_error(ml, job)
                ac.emit(ctx, "error", f"job {job} ended {status}: {response['error']}",
                        hint=f"deploy-advisor logs {name} --job {job}")
        return InvokeResult(status_code=code, latency_ms=round((time.monotonic() - start) * 1000, 1),
                            response=response, request_id=job)

    def logs(self, name: str, ctx: DeployContext, tail: int = 100, job: Optional[str] = None) -> str:
        if job:
            _checked_name(job, "job")
        ml, c = self._client_for(name, ctx)
        if not job:
            jobs = [j for j in self._recent_jobs(ml, c, limit=1) if j.get("job")]
            if not jobs:
                return f"no jobs on {c.endpoint} yet"
            job = jobs[0]["job"]
        return f"==> job {job} <==\n" + self._job_logs(ml, ctx, job, tail)

    def destroy(self, name: str, ctx: DeployContext) -> DestroyResult:
        early, ml, c, ctx = self._destroy_client(name, ctx)
        if early is not None:
            return early
        compute = self._recorded_compute(name, ctx)
        state = self._read(ml, c, ctx, compute=compute)
        ep = state["endpoint"]
        if ep is not None and not ep["ours"]:
            raise ConflictError(f"batch endpoint {c.endpoint} is not tagged as created by deploy-advisor for {name}",
                                "nothing was deleted; delete it yourself if it is really yours")
        deleted: list[str] = []
        have = state.get("schedule")
        if have is not None and have["ours"]:
            if sched.delete(ml, ctx, have["name"], enabled=have["enabled"]):
                deleted.append(f"schedule/{have['name']}")
        elif have is not None:
            ac.emit(ctx, "info", f"schedule {have['name']} was not created by deploy-advisor: left as it is")
        principal = self._recorded(name, ctx).get("schedule_principal") or (state.get("compute") or {}).get(
            "principal_id")
        if principal and sched.revoke(ml, ctx, c, principal):
            deleted.append(f"roleAssignment/{sched.DATA_SCIENTIST}/{compute}")
        if ep is not None:
            if _delete(ctx, f"delete batch endpoint {c.endpoint} (and its deployments)",
                       lambda: ml.batch_endpoints.begin_delete(name=c.endpoint)):
                deleted.append(f"batchEndpoint/{c.endpoint}")
        cl = state.get("compute")
        if cl is not None and cl["ours"]:
            if _delete(ctx, f"delete compute {compute}", lambda: ml.compute.begin_delete(compute)):
                deleted.append(f"compute/{compute}")
        elif cl is not None:
            ac.emit(ctx, "info", f"compute {compute} was not created by deploy-advisor: left as it is")
        self._state_path(ctx, name).unlink(missing_ok=True)
        absent = not deleted
        return DestroyResult(name=name, target=self.name, deleted=deleted, already_absent=absent,
                             message=f"{c.endpoint}: already absent" if absent else f"deleted {', '.join(deleted)}")

    def _recorded(self, name: str, ctx: DeployContext) -> dict:
        """Our state file for this deployment ({} when there is none or it is unreadable)."""
        path = self._state_path(ctx, name)
        try:
            data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _recorded_compute(self, name: str, ctx: DeployContext) -> str:
        """The cluster this deployment uses: our state file, else the ledger's last plan."""
        if self._recorded(name, ctx).get("compute"):
            return str(self._recorded(name, ctx)["compute"])
        try:
            from . import api
            plan = (api.get_deployment(name, ctx) or {}).get("plan") or {}
            return str(plan["settings"]["desired"]["compute"]["name"])
        except (KeyError, TypeError):
            return ""
