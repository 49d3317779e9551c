"""An 'echo' deployer: a third-party plugin that keeps its "remote" state in a JSON file.

It exists to prove plugin discovery through entry points and to exercise the
facade's ledger bookkeeping (locks, resume checkpoints) with a controllable
slow apply (`delay_s`).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from deployers.base import DeployContext, Deployer
from deployers.errors import StalePlanError
from deployers.models import (DeploymentPlan, DeploymentResult, DeploymentSpec, DestroyResult, Finding,
                              InvokeResult, PlannedAction, Status, fingerprint)


class EchoSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    delay_s: float = Field(default=0.0, ge=0, description="seconds each of the 3 apply steps takes")
    message: str = Field(default="hello", description="what invoke echoes back")


class EchoDeployer(Deployer):
    name = "echo"
    title = "Echo (test plugin)"
    description = "Test plugin: records deployments in a JSON file"
    Settings = EchoSettings

    def _store(self, ctx: DeployContext) -> Path:
        return ctx.state_dir / "echo-remote.json"

    def _read(self, ctx: DeployContext) -> dict:
        p = self._store(ctx)
        return json.loads(p.read_text()) if p.is_file() else {}

    def _write(self, ctx: DeployContext, data: dict) -> None:
        self._store(ctx).write_text(json.dumps(data))

    def preflight(self, spec: DeploymentSpec, ctx: DeployContext) -> list[Finding]:
        return [Finding(check="echo", level="pass", message="always fine")]

    def plan(self, spec: DeploymentSpec, ctx: DeployContext) -> DeploymentPlan:
        settings = self.settings_for(spec)
        current = self._read(ctx).get(spec.name)
        desired = fingerprint(settings.model_dump())
        kind = "create" if current is None else ("no-op" if current.get("desired") == desired else "update")
        return DeploymentPlan(spec=spec, target=self.name, settings=settings.model_dump(),
                              actions=[PlannedAction(kind=kind, resource_type="echo", resource=spec.name)],
                              state_fingerprint=fingerprint(current), desired_fingerprint=desired,
                              artifacts={"echo.txt": settings.message})

    def apply(self, plan: DeploymentPlan, ctx: DeployContext) -> DeploymentResult:
        data = self._read(ctx)
        current = data.get(plan.name)
        if not ctx.checkpoints and fingerprint(current) != plan.state_fingerprint:
            raise StalePlanError("the echo deployment changed since this plan was made", "plan again")
        if current and current.get("desired") == plan.desired_fingerprint and current.get("steps") == 3:
            return DeploymentResult(name=plan.name, target=self.name, status="no-change")
        done = int(ctx.checkpoints.get("steps_done", 0))
        for step in range(done + 1, 4):
            ctx.step(f"step {step} of 3")
            ctx.sleep(plan.settings["delay_s"])
            ctx.checkpoint("steps_done", step)
        data[plan.name] = {"desired": plan.desired_fingerprint, "steps": 3, "message": plan.settings["message"],
                           "resumed_from": done}
        self._write(ctx, data)
        return DeploymentResult(name=plan.name, target=self.name, status="succeeded", changed=True,
                                endpoint_url=f"echo://{plan.name}", outputs={"resumed_from_step": done})

    def status(self, name: str, ctx: DeployContext) -> Status:
        cur = self._read(ctx).get(name)
        return Status(name=name, target=self.name, state="running" if cur else "not-found")

    def invoke(self, name: str, payload: Any, ctx: DeployContext) -> InvokeResult:
        cur = self._read(ctx)[name]
        return InvokeResult(status_code=200, latency_ms=0.0, response={"echo": payload, "message": cur["message"]})

    def destroy(self, name: str, ctx: DeployContext) -> DestroyResult:
        data = self._read(ctx)
        existed = data.pop(name, None) is not None
        self._write(ctx, data)
        return DestroyResult(name=name, target=self.name, already_absent=not existed, deleted=[name] if existed else [])
