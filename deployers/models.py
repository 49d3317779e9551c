"""Deployment contracts shared by every deployer plugin (DESIGN.md §6).

Everything here is JSON-serialisable: a plan written with `-o plan.json` can
be applied later from another process. Secrets never enter these objects.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

from advisor.models import ModelInfo, Sizing, WorkloadProfile
from advisor.safe_load import short

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")


def validate_deployment_name(name: str) -> str:
    """Deployment names reach resource names, URLs and file names: keep them DNS-safe."""
    if not NAME_RE.match(name or "") or "--" in name:
        raise ValueError(
            f"invalid deployment name {short(name)}: use 3-32 lowercase letters, digits and single dashes, "
            "starting with a letter and ending with a letter or digit")
    return name


class DeploymentSpec(BaseModel):
    """What the user asked for: model + profile + target + name + target settings."""
    model_config = ConfigDict(extra="forbid")

    name: str
    target: str
    model: str  # model URI: models:/n/v, azureml:n:v, or a local path
    profile: WorkloadProfile = Field(default_factory=WorkloadProfile)
    settings: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return validate_deployment_name(v)


ActionKind = Literal["create", "update", "no-op", "delete"]


class PlannedAction(BaseModel):
    kind: ActionKind
    resource_type: str  # e.g. "process", "onlineEndpoint", "kubernetes/Deployment"
    resource: str  # name or id
    detail: str = ""
    changes: dict[str, Any] = Field(default_factory=dict)


class Finding(BaseModel):
    check: str
    level: Literal["pass", "warn", "fail"]
    message: str
    hint: str = ""


class DeploymentPlan(BaseModel):
    """A dry run: the actions apply would take and the artifacts it would use.

    `state_fingerprint` is a hash of the remote/local state read while planning;
    apply re-reads it and refuses the plan when it changed (stale plan).
    """

    plan_id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    created_at: float = Field(default_factory=time.time)
    spec: DeploymentSpec
    target: str
    model_info: Optional[ModelInfo] = None
    sizing: Optional[Sizing] = None
    settings: dict[str, Any] = Field(default_factory=dict)  # resolved settings (no secrets)
    actions: list[PlannedAction] = Field(default_factory=list)
    artifacts: dict[str, str] = Field(default_factory=dict)  # relative path -> text content
    findings: list[Finding] = Field(default_factory=list)
    state_fingerprint: str = ""
    desired_fingerprint: str = ""  # hash of what apply would make: drift checks compare against it
    notes: list[str] = Field(default_factory=list)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def has_changes(self) -> bool:
        return any(a.kind != "no-op" for a in self.actions)

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)


class DeploymentResult(BaseModel):
    name: str
    target: str
    status: Literal["succeeded", "no-change", "failed"]
    changed: bool = False
    endpoint_url: str = ""
    curl: str = ""  # ready to paste; the key appears as a $VARIABLE, never the value
    smoke_latency_ms: Optional[float] = None
    smoke_response: Any = None
    outputs: dict[str, Any] = Field(default_factory=dict)
    message: str = ""
    run_id: str = ""


class Status(BaseModel):
    name: str
    target: str
    state: Literal["running", "stopped", "failed", "not-found", "degraded", "unknown", "provisioning"]
    endpoint_url: str = ""
    message: str = ""
    details: dict[str, Any] = Field(default_factory=dict)


class InvokeResult(BaseModel):
    status_code: int
    latency_ms: float
    response: Any = None
    request_id: str = ""


class DestroyResult(BaseModel):
    name: str
    target: str
    deleted: list[str] = Field(default_factory=list)
    already_absent: bool = False
    message: str = ""


def fingerprint(obj: Any) -> str:
    """Stable hash of JSON-able data (sorted keys)."""
    text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
