"""The nightly schedule of an Azure ML batch endpoint (`--set schedule="0 2 * * *"`).

Azure ML schedules trigger pipeline jobs, not batch endpoints [SCHEDULE]. So the schedule's job is a pipeline
with one command step (templates/azureml_batch/invoke_endpoint.py.j2) that submits a scoring job to the endpoint
and returns. The step runs on the endpoint's compute cluster with the cluster's managed identity [IDENTITY]
(system-assigned, added to a cluster we own), which holds AzureML Data Scientist on the workspace: the
permissions Learn lists for invoking a batch endpoint [INVOKE] [ROLE]. No key or token is stored anywhere.

The exported schedule.yml is what apply creates (apply loads the rendered files with `load_schedule`), so the
export and Azure never drift. Deleting a schedule needs it disabled first [SCHEDULE]; destroy does both.

Facts (Microsoft Learn, checked 2026-12-06):
- Cron has five fields MINUTES HOURS DAYS MONTHS DAYS-OF-WEEK; DAYS and MONTHS are not supported (ignored, treated
  as *); days of week 0-6 (0 = Sunday) or names; the time zone defaults to UTC [SCHEDULE].
- "A schedule must be disabled to be deleted." [SCHEDULE]
- Managed identities (system or user assigned) may invoke batch endpoints [INVOKE]; a job's code gets the
  cluster's default identity with ManagedIdentityCredential(client_id=DEFAULT_IDENTITY_CLIENT_ID) [IDENTITY].
- AzureML Data Scientist: every action in the workspace except compute create/delete and workspace changes [ROLE].
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, Optional

from . import azure_common as ac
from .base import DeployContext
from .errors import InputError, RemoteError
from .models import DeploymentPlan, PlannedAction, fingerprint

SRC = {
    "SCHEDULE": "https://learn.microsoft.com/azure/machine-learning/how-to-schedule-pipeline-job",
    "YAML": "https://learn.microsoft.com/azure/machine-learning/reference-yaml-schedule",
    "INVOKE": "https://learn.microsoft.com/azure/machine-learning/how-to-authenticate-batch-endpoint",
    "IDENTITY": "https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication",
    "ROLE": "https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/ai-machine-learning"
            "#azureml-data-scientist",
}
DATA_SCIENTIST_ROLE_ID = "f6c7c914-8db3-469d-8ca1-694a8f32e121"
DATA_SCIENTIST = "AzureML Data Scientist"
STEP_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
FOLDER = "schedule"  # the export's folder: schedule.yml, pipeline.yml, code/invoke_endpoint.py, environment/conda.yaml
TAG_SPEC = "deploy-advisor-spec"
DAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
FIELDS = (("minutes", 0, 59), ("hours", 0, 23), ("days", 1, 31), ("months", 1, 12), ("days of week", 0, 6))


# ----------------------------------------------------------------- input checks (settings validators)

def check_cron(expr: str) -> str:
    """The cron expression normalised to single spaces; ValueError (one line) for what Azure ML would reject or
    silently ignore."""
    fields = str(expr).split()
    if len(fields) != 5:
        raise ValueError(f"schedule {expr!r} has {len(fields)} field(s); Azure ML cron has 5: MINUTES HOURS DAYS "
                         "MONTHS DAYS-OF-WEEK, e.g. \"0 2 * * *\"")
    for (name, lo, hi), field in zip(FIELDS, fields):
        if name in ("days", "months"):
            if field != "*":
                raise ValueError(f"schedule {expr!r}: Azure ML ignores the {name} field (treats it as *), "
                                 "so it must be *")
            continue
        for item in field.split(","):
            m = re.fullmatch(r"(\*|[A-Za-z0-9]+)(?:-([A-Za-z0-9]+))?(?:/([0-9]+))?", item)
            if not m or (m[1] == "*" and m[2]) or (m[3] is not None and int(m[3]) < 1):
                raise ValueError(f"schedule {expr!r}: {item!r} is not a valid {name} value")
            for part in (m[1], m[2]):
                if part in (None, "*"):
                    continue
                value = DAYS.get(part[:3].lower()) if name == "days of week" and part.isalpha() else (
                    int(part) if part.isdigit() else None)
                if value is None or not lo <= value <= hi:
                    raise ValueError(f"schedule {expr!r}: {part!r} is outside {name} {lo}-{hi}")
    return " ".join(fields)


def check_time_zone(tz: str) -> str:
    """One of the time zone names Azure ML schedules accept (the SDK's TimeZone values, e.g. UTC,
    'W. Europe Standard Time')."""
    if tz == "UTC":
        return tz
    from azure.ai.ml.constants import TimeZone

    names = {t.value.lower(): t.value for t in TimeZone}
    if tz.lower() not in names:
        raise ValueError(f"schedule_time_zone {tz!r} is not an Azure ML time zone (e.g. UTC, "
                         f"'W. Europe Standard Time', 'Pacific Standard Time'; see {SRC['YAML']}#appendix)")
    return names[tz.lower()]


def check_input(value: str) -> str:
    """The scheduled input must be reachable from Azure without us: a datastore path, data asset or https URL."""
    v = value.strip()
    if not v.startswith(("azureml:", "https://")):
        raise ValueError(f"schedule_input {v!r}: a scheduled job reads from Azure, so give azureml://datastores/..."
                         "/paths/FOLDER/, azureml:DATA_ASSET:VERSION or https://... (not a local path)")
    return v


# ----------------------------------------------------------------- desired and remote state

def name_for(endpoint: str) -> str:
    return f"{endpoint}-schedule"


def desired(settings: Any, coords: Any, compute: str) -> Optional[dict]:
    """What the schedule should be (None: no schedule wanted)."""
    if not settings.schedule:
        return None
    from deployers.azureml_batch import _input  # the same input classification as invoke

    kind, path = _input(settings.schedule_input)
    return {"name": name_for(coords.endpoint), "cron": settings.schedule, "time_zone": settings.schedule_time_zone,
            "input_type": kind, "input": path, "compute": compute, "image": STEP_IMAGE, **versions()}


def versions() -> dict[str, str]:
    """The step installs the azure-ai-ml and azure-identity this code was tested with."""
    from importlib.metadata import version

    return {"azure_ai_ml_version": version("azure-ai-ml"), "azure_identity_version": version("azure-identity")}


def read(ml: Any, endpoint: str, me: str) -> Optional[dict]:
    """Our view of the endpoint's schedule, or None when there is none."""
    from azure.core.exceptions import ResourceNotFoundError

    name = name_for(endpoint)
    try:
        sch = ml.schedules.get(name)
    except ResourceNotFoundError:
        return None
    except Exception as e:
        raise ac.map_azure_error(e, f"schedule {name}") from e
    trigger = getattr(sch, "trigger", None)
    return {"name": name, "ours": ac.is_ours(sch.tags, me), "enabled": bool(getattr(sch, "is_enabled", True)),
            "spec": (sch.tags or {}).get(TAG_SPEC, ""), "cron": str(getattr(trigger, "expression", "") or ""),
            "time_zone": str(getattr(trigger, "time_zone", "") or "")}


def findings(want: Optional[dict], have: Optional[dict], compute: Optional[dict], add: Any,
             mode: str = "batch") -> None:
    """Preflight: a schedule of that name we do not own; a foreign cluster without an identity for the step; a
    profile that is not batch scoring."""
    if want is None:
        return
    if mode == "realtime":
        add("schedule-profile", "warn", f"the profile's inference mode is {mode}, not batch: a schedule scores "
            "files on a timetable, not requests", "drop --set schedule=... unless nightly scoring is what you want")
    if have is not None and not have["ours"]:
        add("schedule", "fail", f"schedule {want['name']} exists but was not created by deploy-advisor",
            "it is left as it is; delete or rename it, or use another --set endpoint_name=...")
        return
    if compute is not None and not compute["ours"] and not compute.get("principal_id"):
        add("schedule", "fail", f"compute {want['compute']} has no managed identity for the scheduled step, and "
            "deploy-advisor does not change clusters it did not create",
            f"az ml compute update -n {want['compute']} --identity-type system_assigned (or use our own cluster)")
        return
    add("schedule", "pass", f"schedule {want['name']}: cron {want['cron']!r} ({want['time_zone']}) runs a pipeline "
        f"step on {want['compute']} that submits a job on {want['input']} with the cluster's managed identity "
        f"({DATA_SCIENTIST} on the workspace) [{SRC['SCHEDULE']}]")


def diff(want: Optional[dict], have: Optional[dict], fp: str) -> tuple[list[PlannedAction], Optional[str]]:
    """Planned actions and the apply step: create / update / delete, or None for nothing to do."""
    if want is None:
        if have is not None and have["ours"]:
            return [PlannedAction(kind="delete", resource_type="schedule", resource=have["name"],
                                  detail="no --set schedule any more: disabled, then deleted")], "delete"
        return [], None
    detail = (f"cron {want['cron']!r} ({want['time_zone']}): a pipeline step on {want['compute']} submits a job on "
              f"{want['input']}; grants the cluster's identity {DATA_SCIENTIST} on the workspace")
    if have is None:
        return [PlannedAction(kind="create", resource_type="schedule", resource=want["name"], detail=detail)], "create"
    if not have["ours"]:
        return [PlannedAction(kind="no-op", resource_type="schedule", resource=want["name"],
                              detail="not ours: left as it is")], None
    if have["spec"] == fp and have["enabled"]:
        return [PlannedAction(kind="no-op", resource_type="schedule", resource=want["name"])], None
    changes = {k: [have[k], want[k]] for k in ("cron", "time_zone") if have[k] != want[k]}
    if not have["enabled"]:
        changes["enabled"] = [False, True]
    return [PlannedAction(kind="update", resource_type="schedule", resource=want["name"], detail=detail,
                          changes=changes or {"spec": fp})], "update"


# ----------------------------------------------------------------- the export (and what apply loads)

def artifacts(deployment: str, coords: Any, want: dict, fp: str) -> dict[str, str]:
    """schedule/schedule.yml (load_schedule) with its job schedule/pipeline.yml, the step's code and conda file."""
    from .templating import environment

    env = environment("azureml_batch")
    base = {"deployment": deployment, "endpoint_name": coords.endpoint, "compute_name": want["compute"]}
    from .azureml_batch import _output_uri

    return {
        f"{FOLDER}/schedule.yml": env.get_template("schedule.yml.j2").render(
            **base, schedule_name=want["name"], cron=want["cron"], time_zone=want["time_zone"],
            description=f"deploy-advisor deployment {deployment}: scheduled scoring on {coords.endpoint}",
            tags={**ac.tags(deployment), TAG_SPEC: fp}),
        f"{FOLDER}/pipeline.yml": env.get_template("pipeline.yml.j2").render(
            **base, schedule_name=want["name"], image=want["image"]),
        f"{FOLDER}/code/invoke_endpoint.py": env.get_template("invoke_endpoint.py.j2").render(
            **base, subscription=coords.subscription or "", resource_group=coords.resource_group or "",
            workspace=coords.workspace or "", input_type=want["input_type"], input_path=want["input"],
            output_root=_output_uri(coords.endpoint, "").removesuffix("/")),  # ends in ENDPOINT/
        f"{FOLDER}/environment/conda.yaml": env.get_template("schedule_conda.yaml.j2").render(
            endpoint_name=coords.endpoint, azure_ai_ml_version=want["azure_ai_ml_version"],
            azure_identity_version=want["azure_identity_version"]),
    }


def load(plan: DeploymentPlan, state_dir: Path) -> Any:
    """The JobSchedule from the plan's reviewed artifacts, written to a folder of their own."""
    from azure.ai.ml.entities._load_functions import load_schedule  # not re-exported by azure.ai.ml 1.35

    folder = Path(state_dir) / "azureml-batch" / plan.spec.name / f"schedule-{plan.settings['schedule_fp']}"
    for rel, text in plan.artifacts.items():
        if rel.startswith(FOLDER + "/"):
            path = folder / rel[len(FOLDER) + 1:]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    return load_schedule(folder / "schedule.yml")


# ----------------------------------------------------------------- apply and destroy

def grant(ml: Any, ctx: DeployContext, coords: Any, compute: str) -> str:
    """AzureML Data Scientist on the workspace for the cluster's managed identity; returns its principal id."""
    from . import images

    try:
        cl = ml.compute.get(compute)
        ws_id = ml.workspaces.get(coords.workspace).id
    except Exception as e:
        raise ac.map_azure_error(e, f"compute {compute}") from e
    principal = str(getattr(getattr(cl, "identity", None), "principal_id", "") or "")
    if not principal:
        raise RemoteError(f"compute {compute} has no managed identity for the scheduled step",
                          f"az ml compute update -n {compute} --identity-type system_assigned", code="NoIdentity")
    ac.emit(ctx, "step", f"grant {DATA_SCIENTIST} on workspace {coords.workspace} to compute {compute}'s identity")
    images.ensure_role(_in_subscription(ctx, coords), scope=ws_id, principal_id=principal,
                       role_id=DATA_SCIENTIST_ROLE_ID, role=DATA_SCIENTIST, whom=f"compute {compute}'s identity")
    return principal


def revoke(ml: Any, ctx: DeployContext, coords: Any, principal: str) -> bool:
    """Remove the role assignment grant() made (its name is deterministic)."""
    from . import images

    try:
        ws_id = ml.workspaces.get(coords.workspace).id
    except Exception as e:
        raise ac.map_azure_error(e, f"workspace {coords.workspace}") from e
    return images.delete_role(_in_subscription(ctx, coords), scope=ws_id, principal_id=principal,
                              role_id=DATA_SCIENTIST_ROLE_ID)


def _in_subscription(ctx: DeployContext, coords: Any) -> DeployContext:
    """The role-assignment client needs the workspace's subscription on the context."""
    if ctx.subscription_id == coords.subscription:
        return ctx
    return dataclasses.replace(ctx, subscription_id=coords.subscription)


def create_or_update(plan: DeploymentPlan, ml: Any, ctx: DeployContext, state_dir: Path) -> None:
    want = plan.settings["desired"]["schedule"]
    key, what = "schedule", f"schedule {want['name']}"
    if ac.done_or_resumed(ctx, key, what):
        return
    try:
        entity = load(plan, state_dir)
    except Exception as e:  # our own rendering: a bug, but say it in one line
        raise InputError(f"schedule.yml does not load: {str(e).splitlines()[0] if str(e) else type(e).__name__}") \
            from e
    ac.emit(ctx, "step", f"{plan.settings['steps']['schedule']} {what}: cron {want['cron']!r} ({want['time_zone']})")
    try:
        poller = ml.schedules.begin_create_or_update(entity)
    except Exception as e:
        raise ac.map_azure_error(e, what) from e
    ac.wait(poller, ctx, what, key)


def delete(ml: Any, ctx: DeployContext, name: str, enabled: bool = True) -> bool:
    """Disable (the service deletes only disabled schedules), then delete; False when it was already gone."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        if enabled:
            ac.emit(ctx, "step", f"disable schedule {name}")
            ac.wait(ml.schedules.begin_disable(name), ctx, f"disable schedule {name}")
        ac.emit(ctx, "step", f"delete schedule {name}")
        ac.wait(ml.schedules.begin_delete(name), ctx, f"delete schedule {name}")
    except ResourceNotFoundError:
        return False
    except Exception as e:
        mapped = ac.map_azure_error(e, f"schedule {name}")
        if getattr(mapped, "code", "") in ("NotFound", "ResourceNotFound"):
            return False
        raise mapped from e
    return True


def fingerprint_of(want: Optional[dict]) -> str:
    return fingerprint(want) if want else ""
