"""The deployer plugin protocol and the context every call receives (DESIGN.md §6).

A plugin subclasses `Deployer`, sets `name` (the target id) and `Settings`
(a pydantic model the CLI `--set k=v` and the UI form are generated from), and
registers under the entry-point group `deploy_advisor.deployers`.
"""
from __future__ import annotations

import os
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Optional

from pydantic import BaseModel, ConfigDict

from .errors import DeployTimeout, Interrupted
from .events import Event, EventSink, null_sink
from .models import (DeploymentPlan, DeploymentResult, DeploymentSpec, DestroyResult, Finding,
                     InvokeResult, Status)


def default_state_dir() -> Path:
    return Path(os.environ.get("DEPLOY_ADVISOR_HOME") or Path.home() / ".deploy-advisor").expanduser()


@dataclass
class DeployContext:
    """Everything a deployer call needs from outside: identity, scope, progress, limits.

    `client_kwargs` is passed to every Azure SDK client constructor; tests put
    `transport=` (the Azure fake), `retry_total`, `polling_interval` there.
    `checkpoints` holds what an interrupted run of the same plan recorded
    (e.g. LRO continuation tokens) so apply can resume instead of redoing work;
    `checkpoint(key, value)` records a new one durably (in the ledger).
    """

    state_dir: Path = field(default_factory=default_state_dir)
    credential: Any = None  # azure-identity credential; built lazily by azure_common when None
    credential_kind: str = "default"
    subscription_id: Optional[str] = None
    resource_group: Optional[str] = None
    location: Optional[str] = None
    events: EventSink = null_sink
    cancel: threading.Event = field(default_factory=threading.Event)
    deadline: Optional[float] = None  # time.monotonic() value
    client_kwargs: dict[str, Any] = field(default_factory=dict)
    checkpoints: dict[str, Any] = field(default_factory=dict)
    on_checkpoint: Optional[Callable[[str, Any], None]] = None
    deployment: str = ""
    run_id: str = ""
    previous_plan: Optional[dict] = None  # the last successfully applied plan (rollback, drift)

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir)
        self.subscription_id = self.subscription_id or os.environ.get("AZURE_SUBSCRIPTION_ID") or None
        self.resource_group = self.resource_group or os.environ.get("AZURE_RESOURCE_GROUP") or None
        self.location = self.location or os.environ.get("AZURE_LOCATION") or None

    # -- progress -------------------------------------------------------------
    def emit(self, kind: str, message: str, **data: Any) -> None:
        self.events(Event(kind=kind, message=message, deployment=self.deployment, run_id=self.run_id, data=data))

    def step(self, message: str, **data: Any) -> None:
        self.emit("step", message, **data)

    # -- limits ---------------------------------------------------------------
    def check_cancelled(self) -> None:
        if self.cancel.is_set():
            raise Interrupted("interrupted by the user", "run the same apply again to resume")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise DeployTimeout("the deployment deadline passed", "raise --timeout or check the target's logs")

    def sleep(self, seconds: float) -> None:
        """Sleep that wakes up on cancellation."""
        if self.cancel.wait(max(0.0, seconds)):
            self.check_cancelled()

    # -- resume ---------------------------------------------------------------
    def checkpoint(self, key: str, value: Any) -> None:
        self.checkpoints[key] = value
        if self.on_checkpoint:
            self.on_checkpoint(key, value)

    def for_deployment(self, name: str, run_id: str = "") -> "DeployContext":
        from dataclasses import replace
        return replace(self, deployment=name, run_id=run_id)


class Deployer(ABC):
    """One deployment target. All methods are synchronous and may be slow."""

    name: ClassVar[str]  # target id, e.g. "local", "azureml"
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""
    requires_azure: ClassVar[bool] = False
    invoked_with_jobs: ClassVar[bool] = False  # invoke submits a job over files (--input), not a request body

    class Settings(BaseModel):
        model_config = ConfigDict(extra="forbid")

    def settings_for(self, spec: DeploymentSpec) -> BaseModel:
        """Validate the spec's settings against this plugin's Settings model."""
        return self.Settings.model_validate(spec.settings)

    @abstractmethod
    def preflight(self, spec: DeploymentSpec, ctx: DeployContext) -> list[Finding]: ...

    @abstractmethod
    def plan(self, spec: DeploymentSpec, ctx: DeployContext) -> DeploymentPlan: ...

    @abstractmethod
    def apply(self, plan: DeploymentPlan, ctx: DeployContext) -> DeploymentResult: ...

    @abstractmethod
    def status(self, name: str, ctx: DeployContext) -> Status: ...

    @abstractmethod
    def invoke(self, name: str, payload: Any, ctx: DeployContext) -> InvokeResult: ...

    @abstractmethod
    def destroy(self, name: str, ctx: DeployContext) -> DestroyResult: ...

    def logs(self, name: str, ctx: DeployContext, tail: int = 100) -> str:
        return ""

    def recorded(self, ctx: DeployContext) -> list[str]:
        """Names of the deployments this target keeps local state for, outside the ledger
        (`deploy-advisor doctor --repair` rebuilds the ledger's deployment list from them)."""
        return []

    def credentials_missing(self, ctx: DeployContext) -> Optional[str]:
        """None when apply can run; otherwise the exact way to sign in (UI disables Apply)."""
        return None

    def export(self, plan: DeploymentPlan, out_dir: Path) -> list[Path]:
        """Write the plan's artifacts (and the plan) so a user can deploy by hand."""
        out_dir = Path(out_dir)
        written = []
        for rel, text in sorted(plan.artifacts.items()):
            path = (out_dir / rel).resolve()
            if out_dir.resolve() not in path.parents:
                raise ValueError(f"artifact path escapes the output folder: {rel}")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
        return written
