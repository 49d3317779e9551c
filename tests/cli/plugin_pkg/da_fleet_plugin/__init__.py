"""A 'filestore' deployer: keeps each deployment's "remote" state in its own JSON file.

Why not the shared echo plugin: it rewrites one file holding every deployment, so
parallel applies lose each other's updates. Fleet tests need a target that is safe
under `--parallel`, slow on demand (`delay_s` per step, cancellable, checkpointed)
and able to fail on demand (`fail: true`) to check the worst-exit-code rule, or to
ignore cancellation (`blocking: true`) to check that a second Ctrl-C aborts.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from deployers.base import DeployContext, Deployer
from deployers.errors import RemoteError, StalePlanError
from deployers.models import (DeploymentPlan, DeploymentResult, DeploymentSpec, DestroyResult, Finding,
                              InvokeResult, PlannedAction, Status, fingerprint)

STEPS = 3


class FileStoreSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    delay_s: float = Field(default=0.0, ge=0, le=60, description="seconds each of the 3 apply steps takes")
    message: str = Field(default="hello", max_length=200, description="what invoke echoes back")
    fail: bool = Field(default=False, description="make apply fail at step 2 (tests the exit codes)")
    blocking: bool = Field(default=False, description="sleep without checking for cancellation, like a "
                                                      "deployer stuck in a call (tests the second Ctrl-C)")


class FileStoreDeployer(Deployer):
    name = "filestore"
    title = "File store (test plugin)"
    description = "Test plugin: one JSON file per deployment, safe under --parallel"
    Settings = FileStoreSettings

    def _path(self, ctx: DeployContext, name: str) -> Path:
        return ctx.state_dir / "filestore" / f"{name}.json"

    def _read(self, ctx: DeployContext, name: str) -> Optional[dict]:
        try:
            return json.loads(self._path(ctx, name).read_text())
        except (OSError, ValueError):
            return None

    def _write(self, ctx: DeployContext, name: str, data: dict) -> None:
        path = self._path(ctx, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)

    def preflight(self, spec: DeploymentSpec, ctx: DeployContext) -> list[Finding]:
        return [Finding(check="filestore", level="pass", message="always fine")]

    def plan(self, spec: DeploymentSpec, ctx: DeployContext) -> DeploymentPlan:
        settings = self.settings_for(spec)
        current = self._read(ctx, spec.name)
        desired = fingerprint({"settings": settings.model_dump(), "model": spec.model})
        if current is None:
            kind = "create"
        elif current.get("desired") == desired and current.get("steps") == STEPS:
            kind = "no-op"
        else:
            kind = "update"
        return DeploymentPlan(spec=spec, target=self.name, settings=settings.model_dump(),
                              actions=[PlannedAction(kind=kind, resource_type="file", resource=spec.name)],
                              state_fingerprint=fingerprint(current), desired_fingerprint=desired,
                              artifacts={"message.txt": settings.message})

    def apply(self, plan: DeploymentPlan, ctx: DeployContext) -> DeploymentResult:
        current = self._read(ctx, plan.name)
        if not ctx.checkpoints and fingerprint(current) != plan.state_fingerprint:
            raise StalePlanError("the filestore deployment changed since this plan was made", "plan again")
        if current and current.get("desired") == plan.desired_fingerprint and current.get("steps") == STEPS:
            return DeploymentResult(name=plan.name, target=self.name, status="no-change",
                                    endpoint_url=f"file://{self._path(ctx, plan.name)}")
        done = int(ctx.checkpoints.get("steps_done", 0))
        for step in range(done + 1, STEPS + 1):
            ctx.step(f"step {step} of {STEPS}")
            if plan.settings["blocking"]:
                time.sleep(plan.settings["delay_s"])
            else:
                ctx.sleep(plan.settings["delay_s"])
            if plan.settings["fail"] and step == 2:
                raise RemoteError("the file store refused the write (fail: true)", "set fail: false",
                                  code="InjectedFailure")
            ctx.checkpoint("steps_done", step)
        self._write(ctx, plan.name, {"desired": plan.desired_fingerprint, "steps": STEPS,
                                     "message": plan.settings["message"], "resumed_from": done})
        return DeploymentResult(name=plan.name, target=self.name, status="succeeded", changed=True,
                                endpoint_url=f"file://{self._path(ctx, plan.name)}",
                                outputs={"resumed_from_step": done})

    def status(self, name: str, ctx: DeployContext) -> Status:
        cur = self._read(ctx, name)
        if cur is None:
            return Status(name=name, target=self.name, state="not-found")
        return Status(name=name, target=self.name, state="running" if cur.get("steps") == STEPS else "failed",
                      endpoint_url=f"file://{self._path(ctx, name)}")

    def invoke(self, name: str, payload: Any, ctx: DeployContext) -> InvokeResult:
        cur = self._read(ctx, name) or {}
        return InvokeResult(status_code=200, latency_ms=0.0, response={"echo": payload, "message": cur.get("message")})

    def destroy(self, name: str, ctx: DeployContext) -> DestroyResult:
        path = self._path(ctx, name)
        existed = path.is_file()
        path.unlink(missing_ok=True)
        return DestroyResult(name=name, target=self.name, already_absent=not existed,
                             deleted=[name] if existed else [])
