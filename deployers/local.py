"""The `local` target: really serve the model on this machine, behind the one scoring contract.

The server is a child process (`python -m deployers.serving`) in its own
session, so it outlives the CLI that started it. Its state (pid, port, what
it serves) lives in `<state>/local/<name>/state.json`; the key in `key`
(mode 0600), never in plans, events or the ledger.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from . import statedir
from .base import DeployContext, Deployer
from .child_env import child_env
from .errors import DeployError, DeployTimeout, InputError, Interrupted, RemoteError, StalePlanError
from .models import (DeploymentPlan, DeploymentResult, DeploymentSpec, DestroyResult, Finding, InvokeResult,
                     PlannedAction, Status, fingerprint)
from .planning import input_example, resolve_model

HOST = "127.0.0.1"


class LocalSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    port: int = Field(default=0, ge=0, le=65535, description="Port on 127.0.0.1 (0 = a free port; kept across updates)")
    auth: bool = Field(default=True, description="Require the generated key as `Authorization: Bearer <key>`")
    workers: int = Field(default=0, ge=0, le=64, description="Server worker processes (0 = from the cores available)")
    max_batch: int = Field(default=64, ge=1, le=4096, description="Most requests coalesced into one predict call")
    max_wait_ms: float = Field(default=0.0, ge=0, le=1000,
                               description="Extra wait to fill a batch (0 = batch only what is already queued)")
    max_body_mb: float = Field(default=10.0, gt=0, le=1024, description="Largest request body accepted (413 above)")
    timeout_s: float = Field(default=60.0, gt=0, le=3600, description="Scoring timeout per request (504 above)")
    ready_timeout_s: float = Field(default=120.0, gt=0, le=3600, description="How long to wait for the model to load")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _port_busy(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT leftovers don't make a port busy
        try:
            s.bind((HOST, port))
        except OSError:
            return True
    return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


def _is_our_server(pid: int, app_dir: str) -> bool:
    """Guard against pid reuse: the process must be our server for this app dir."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"deployers.serving" in cmd and app_dir.encode() in cmd


def _servers_under(base: Path, *, workers: bool = False) -> list[dict]:
    """Every live scoring server serving an app dir under `base`, found in the process table:
    {"pid", "app_dir", "port"}. A server whose pid was never recorded (the CLI killed between
    launching it and writing state.json) is found all the same. Supervisor workers (--listen-fd)
    only with workers=True. Empty where there is no /proc."""
    prefix = str(base) + os.sep
    found = []
    try:
        entries = [p for p in Path("/proc").iterdir() if p.name.isdigit()]
    except OSError:
        return []
    for entry in entries:
        try:
            args = [a.decode(errors="replace") for a in (entry / "cmdline").read_bytes().split(b"\0")]
        except OSError:
            continue
        if "deployers.serving" not in args or "--app-dir" not in args[:-1]:
            continue
        app_dir = args[args.index("--app-dir") + 1]
        if not app_dir.startswith(prefix) or ("--listen-fd" in args and not workers):
            continue
        port = args[args.index("--port") + 1] if "--port" in args[:-1] else "0"
        pid = int(entry.name)
        if _pid_alive(pid):
            found.append({"pid": pid, "app_dir": app_dir, "port": int(port) if port.isdigit() else 0})
    return found


def _stopped_in_group(pid: int) -> list[int]:
    """Processes of the server's process group (the server and its workers) that are stopped
    (state T: SIGSTOP, SIGTSTP, a debugger). Empty where there is no /proc."""
    try:
        group = os.getpgid(pid)
        entries = [p for p in Path("/proc").iterdir() if p.name.isdigit()]
    except OSError:
        return []
    stopped = []
    for entry in entries:
        try:
            fields = (entry / "stat").read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(group) and fields[0] in ("T", "t"):
            stopped.append(int(entry.name))
    return sorted(stopped)


def _http(method: str, url: str, body: Optional[bytes] = None, key: Optional[str] = None,
          timeout: float = 10.0) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class LocalDeployer(Deployer):
    name = "local"
    title = "This machine"
    description = "Serve the model on 127.0.0.1 with the same scoring contract as the cloud targets (no Azure account)."
    requires_azure = False
    Settings = LocalSettings

    # -- state ----------------------------------------------------------------
    def _dir(self, ctx: DeployContext, name: str) -> Path:
        return ctx.state_dir / "local" / name

    def recorded(self, ctx: DeployContext) -> list[str]:
        folder = Path(ctx.state_dir) / "local"
        return sorted(p.parent.name for p in folder.glob("*/state.json")) if folder.is_dir() else []

    def _state(self, ctx: DeployContext, name: str) -> Optional[dict]:
        path = self._dir(ctx, name) / "state.json"
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None

    def _write_state(self, ctx: DeployContext, name: str, state: dict) -> None:
        path = self._dir(ctx, name) / "state.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(path)

    def _running(self, ctx: DeployContext, name: str) -> Optional[dict]:
        """The state of this deployment's live server, or None. state.json is written before the
        launch (write-ahead: app dir, port, log) and again with the pid after it; when the pid never
        made it to disk, the server is found in the process table by its app dir and recorded."""
        st = self._state(ctx, name)
        if not st:
            return None
        pid = st.get("pid")
        if pid and _pid_alive(pid) and _is_our_server(pid, st["app_dir"]):
            return st
        found = [s for s in _servers_under(self._dir(ctx, name)) if s["app_dir"] == st["app_dir"]]
        if not found:
            return None
        st = {**st, "pid": found[0]["pid"], "port": found[0]["port"] or st.get("port")}
        try:
            self._write_state(ctx, name, st)
        except OSError:  # a read-only state dir: still report what runs
            pass
        return st

    def _observe(self, ctx: DeployContext, name: str) -> dict:
        st = self._running(ctx, name)
        if not st:
            return {"running": False}
        return {"running": True, "desired": st.get("desired"), "port": st.get("port")}

    def _key(self, ctx: DeployContext, name: str, create: bool = False) -> Optional[str]:
        path = self._dir(ctx, name) / "key"
        if path.is_file():
            return path.read_text().strip()
        if not create:
            return None
        statedir.subdir(ctx.state_dir, "local", name)
        key = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key)
        return key

    # -- contract -------------------------------------------------------------
    def preflight(self, spec: DeploymentSpec, ctx: DeployContext) -> list[Finding]:
        settings = self.settings_for(spec)
        findings: list[Finding] = []
        try:
            info = resolve_model(spec, ctx)
            findings.append(Finding(check="model", level="pass",
                                    message=f"{info.name} {info.version} ({info.flavor or info.framework}, {info.size_mb:.1f} MB)"))
        except InputError as e:
            findings.append(Finding(check="model", level="fail", message=e.message, hint=e.hint))
        current = self._observe(ctx, spec.name)
        if settings.port and _port_busy(settings.port) and current.get("port") != settings.port:
            findings.append(Finding(check="port", level="fail", message=f"port {settings.port} on {HOST} is busy",
                                    hint="choose another with --set port=N, or 0 for a free one"))
        else:
            findings.append(Finding(check="port", level="pass",
                                    message=f"port {settings.port or 'auto'} on {HOST} is available"))
        if not settings.auth:
            findings.append(Finding(check="auth", level="warn", message="key auth is off: any local process can score",
                                    hint="leave auth on unless you are benchmarking"))
        else:
            findings.append(Finding(check="auth", level="pass", message="key auth on (key stored with mode 0600)"))
        free_mb = shutil.disk_usage(ctx.state_dir if ctx.state_dir.exists() else Path.home()).free / 2**20
        findings.append(Finding(check="disk", level="pass" if free_mb > 500 else "warn",
                                message=f"{free_mb:,.0f} MB free in the state directory"))
        return findings

    def plan(self, spec: DeploymentSpec, ctx: DeployContext) -> DeploymentPlan:
        from . import scoring

        settings = self.settings_for(spec)
        info = resolve_model(spec, ctx)
        score_py = scoring.render_score_script(info)
        desired = fingerprint({"model": [info.uri, info.version, info.size_mb, info.local_path],
                               "score": score_py, "settings": settings.model_dump()})
        current = self._observe(ctx, spec.name)
        if not current["running"]:
            action = PlannedAction(kind="create", resource_type="process", resource=f"{spec.name} on {HOST}",
                                   detail=f"start the scoring server for {info.name} {info.version}")
        elif current.get("desired") == desired:
            action = PlannedAction(kind="no-op", resource_type="process", resource=f"{spec.name} on {HOST}:{current['port']}",
                                   detail="already serving this model with these settings")
        else:
            action = PlannedAction(kind="update", resource_type="process", resource=f"{spec.name} on {HOST}:{current['port']}",
                                   detail=f"restart the server with {info.name} {info.version}")
        example = input_example(info)
        artifacts = {"score.py": score_py, "run.sh": self._run_script(settings)}
        if example is not None:
            artifacts["sample-request.json"] = json.dumps(example, indent=2)
        return DeploymentPlan(spec=spec, target=self.name, model_info=info, settings=settings.model_dump(),
                              actions=[action], artifacts=artifacts, state_fingerprint=fingerprint(current),
                              desired_fingerprint=desired,
                              notes=[f"serves on {HOST} only; the same score.py runs on Azure ML, AKS and App Service"])

    @staticmethod
    def _run_script(settings: LocalSettings) -> str:
        port = settings.port or 8080
        return ("#!/bin/sh\n# Serve this folder's score.py the way deploy-advisor's local target does.\n"
                f"exec python -m deployers.serving --app-dir . --host {HOST} --port {port}"
                + (" --key-file ./key" if settings.auth else " --no-auth") + "\n")

    def apply(self, plan: DeploymentPlan, ctx: DeployContext) -> DeploymentResult:
        from . import model_resolution, scoring

        spec, name = plan.spec, plan.spec.name
        settings = LocalSettings.model_validate(plan.settings)
        current = self._observe(ctx, name)
        resuming = bool(ctx.checkpoints)
        if not resuming and fingerprint(current) != plan.state_fingerprint:
            raise StalePlanError(f"the local deployment {name!r} changed since this plan was made",
                                 "plan again (deploy-advisor plan ...) and apply the new plan")
        if current["running"] and current.get("desired") == plan.desired_fingerprint:
            ctx.step("already serving this model with these settings: no change")
            st = self._state(ctx, name) or {}
            self._wait_ready(ctx, st, settings.ready_timeout_s)  # it may still be loading (e.g. after a crash)
            return self._result(plan, st, changed=False, ctx=ctx)

        info = plan.model_info or resolve_model(spec, ctx)
        base = statedir.subdir(ctx.state_dir, "local", name)
        adopted = self._adopt(ctx, name, plan) if resuming else None
        if adopted:
            st = adopted
        else:
            ctx.check_cancelled()
            app_dir = base / f"app-{plan.desired_fingerprint}"
            if not (app_dir / "score.py").is_file():
                ctx.step(f"prepare the app folder (score.py + model {info.name} {info.version})")
                tmp = base / f".app-{plan.desired_fingerprint}.tmp"
                shutil.rmtree(tmp, ignore_errors=True)
                scoring.build_app_dir(info, model_resolution.local_model_dir(info), tmp, compile_trees=True)
                tmp.replace(app_dir)
            old = self._state(ctx, name)
            port = settings.port or (old or {}).get("port") or _free_port()
            for server in _servers_under(base):  # the recorded one, and any a killed run never recorded
                ctx.step(f"stop the previous server (pid {server['pid']})")
                self._stop(server["pid"])
            if _port_busy(port):
                if settings.port:
                    raise InputError(f"port {port} on {HOST} is busy", "choose another with --set port=N, or 0 for a free one")
                port = _free_port()
            self._key(ctx, name, create=settings.auth)
            st = self._start(ctx, name, app_dir, port, settings, plan.desired_fingerprint)
            ctx.checkpoint("pid", st["pid"])
        try:
            self._wait_ready(ctx, st, settings.ready_timeout_s)
            self._cleanup_old_apps(base, Path(st["app_dir"]))
            return self._result(plan, st, changed=True, ctx=ctx)
        except DeployError as e:  # not ready, or the smoke test failed: leave no half-started server behind
            if not isinstance(e, Interrupted):  # an interrupted apply is resumed: the next one adopts it
                self._stop(st["pid"])
            raise

    def _start(self, ctx: DeployContext, name: str, app_dir: Path, port: int, settings: LocalSettings,
               desired: str) -> dict:
        log_path = self._dir(ctx, name) / "server.log"
        log_offset = log_path.stat().st_size if log_path.exists() else 0
        cmd = [sys.executable, "-m", "deployers.serving", "--app-dir", str(app_dir), "--host", HOST,
               "--port", str(port), "--max-batch", str(settings.max_batch), "--max-wait-ms", str(settings.max_wait_ms),
               "--max-body-mb", str(settings.max_body_mb), "--timeout-s", str(settings.timeout_s)]
        cmd += ["--log-file", str(log_path)]  # rotated by size; stdout (READY) and stray stderr append to it too
        cmd += ["--key-file", str(self._dir(ctx, name) / "key")] if settings.auth else ["--no-auth"]
        if settings.workers:
            cmd += ["--workers", str(settings.workers)]
        ctx.step(f"start the scoring server on {HOST}:{port}")
        st = {"pid": None, "port": port, "app_dir": str(app_dir), "desired": desired, "log": str(log_path),
              "log_offset": log_offset, "started_at": time.time(), "auth": settings.auth}
        self._write_state(ctx, name, st)  # write-ahead: a kill after the launch still leaves what to look for
        with statedir.open_log(log_path) as log:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True, cwd=str(app_dir), close_fds=True, env=child_env())
        st["pid"] = proc.pid
        self._write_state(ctx, name, st)
        return st

    def _adopt(self, ctx: DeployContext, name: str, plan: DeploymentPlan) -> Optional[dict]:
        """Resume: keep a server the interrupted run already started for this plan."""
        st = self._running(ctx, name)
        if st and st.get("desired") == plan.desired_fingerprint:
            ctx.step(f"resume: the server started by the interrupted run is alive (pid {st['pid']})")
            return st
        return None

    def _wait_ready(self, ctx: DeployContext, st: dict, timeout_s: float) -> None:
        started = time.monotonic()
        last_note = 0.0
        while True:
            ctx.check_cancelled()
            if not _pid_alive(st["pid"]):
                lines = self._tail(Path(st["log"]), 20).splitlines()
                why = next((ln for ln in reversed(lines) if ln.startswith("error: ")),  # the server's own one line
                           next((ln for ln in reversed(lines) if " ERROR " in ln), lines[-1] if lines else "no output"))
                raise RemoteError(f"the scoring server exited while loading the model: {why.removeprefix('error: ')[:300]}",
                                  f"see the server log: {st['log']}")
            elapsed = time.monotonic() - started
            if self._announced_ready(st):
                ctx.emit("progress", f"ready after {elapsed:.2f} s", elapsed_s=round(elapsed, 3))
                return
            if elapsed > timeout_s:
                raise DeployTimeout(f"the server did not become ready within {timeout_s:.0f} s",
                                    f"raise --set ready_timeout_s, or see {st['log']}")
            if elapsed - last_note >= 2:
                ctx.emit("progress", f"waiting for the model to load ({elapsed:.0f} s)", elapsed_s=round(elapsed, 1))
                last_note = elapsed
            time.sleep(0.05)

    @staticmethod
    def _announced_ready(st: dict) -> bool:
        """The server prints `READY <url>` once every worker has loaded the model
        (a single /ready probe may reach a worker that is already loaded while another is not)."""
        try:
            with open(st["log"], "rb") as f:
                f.seek(st.get("log_offset", 0))
                return b"READY http://" in f.read()
        except OSError:
            return False

    def _result(self, plan: DeploymentPlan, st: dict, changed: bool, ctx: DeployContext) -> DeploymentResult:
        name = plan.spec.name
        url = f"http://{HOST}:{st['port']}/score"
        key_file = self._dir(ctx, name) / "key"
        example = input_example(plan.model_info)
        smoke_ms, smoke_resp = None, None
        if example is not None:
            inv = self.invoke(name, example, ctx)
            if inv.status_code != 200:
                raise RemoteError(f"smoke test failed: HTTP {inv.status_code} {str(inv.response)[:200]}",
                                  f"see the server log: {st['log']}")
            smoke_ms, smoke_resp = inv.latency_ms, inv.response
            ctx.emit("info", f"smoke test passed in {smoke_ms:.1f} ms", latency_ms=round(smoke_ms, 2))
        auth = f"-H \"Authorization: Bearer $(cat {key_file})\" " if st.get("auth", True) else ""
        body = json.dumps(example) if example is not None else '{"input_data": [[...]]}'
        curl = f"curl -s {auth}-H 'Content-Type: application/json' -d '{body}' {url}"
        return DeploymentResult(name=name, target=self.name, status="succeeded" if changed else "no-change",
                                changed=changed, endpoint_url=url, curl=curl, smoke_latency_ms=smoke_ms,
                                smoke_response=smoke_resp,
                                outputs={"pid": st["pid"], "port": st["port"], "log": st["log"],
                                         "key_file": str(key_file) if st.get("auth", True) else ""},
                                message=f"serving {plan.model_info.name if plan.model_info else plan.spec.model} at {url}")

    def status(self, name: str, ctx: DeployContext) -> Status:
        st = self._state(ctx, name)
        if not st:
            return Status(name=name, target=self.name, state="not-found", message="no local server for this deployment")
        url = f"http://{HOST}:{st['port']}/score"
        live = self._running(ctx, name)
        if live is None:
            return Status(name=name, target=self.name, state="failed", endpoint_url=url,
                          message=f"the server process {st['pid']} is not running (it died or the machine restarted); "
                                  f"apply again to restart it; log: {st['log']}",
                          details={"pid": st["pid"], "log": st["log"]})
        st = live
        try:
            code, _ = _http("GET", f"http://{HOST}:{st['port']}/ready", timeout=2)
        except (OSError, urllib.error.URLError):
            code = 0
        details = {"pid": st["pid"], "port": st["port"], "log": st["log"],
                   "uptime_s": round(time.time() - st.get("started_at", time.time()))}
        stopped = _stopped_in_group(st["pid"])
        if stopped:  # a stopped worker still accepts connections, which then hang: not ready, whatever /ready said
            details["stopped_pids"] = stopped
            return Status(name=name, target=self.name, state="degraded", endpoint_url=url, details=details,
                          message=f"process(es) {', '.join(map(str, stopped))} of the server are stopped (SIGSTOP): "
                                  f"requests they accept hang; `kill -CONT` them or apply again")
        if code == 200:
            return Status(name=name, target=self.name, state="running", endpoint_url=url, message="ready",
                          details=details)
        if code == 0 and self._announced_ready(st):  # it was ready and no longer answers
            return Status(name=name, target=self.name, state="degraded", endpoint_url=url, details=details,
                          message="ready before, but /ready did not answer within 2 s (stopped or stuck?)")
        return Status(name=name, target=self.name, state="provisioning", endpoint_url=url, details=details,
                      message=f"not ready (HTTP {code or 'no answer'})")

    def invoke(self, name: str, payload: Any, ctx: DeployContext) -> InvokeResult:
        st = self._state(ctx, name)
        if not st:
            raise InputError(f"no local deployment named {name!r}", "see `deploy-advisor list`")
        body = payload if isinstance(payload, (bytes, bytearray)) else json.dumps(payload).encode()
        key = self._key(ctx, name) if st.get("auth", True) else None
        started = time.perf_counter()
        try:
            code, raw = _http("POST", f"http://{HOST}:{st['port']}/score", bytes(body), key=key, timeout=120)
        except (OSError, urllib.error.URLError) as e:
            raise RemoteError(f"the local server for {name!r} did not answer ({e.__class__.__name__})",
                              "check `deploy-advisor status NAME`; apply again to restart it") from None
        latency = (time.perf_counter() - started) * 1000
        try:
            response = json.loads(raw)
        except ValueError:
            response = raw.decode(errors="replace")
        request_id = response.get("request_id", "") if isinstance(response, dict) else ""
        return InvokeResult(status_code=code, latency_ms=latency, response=response, request_id=request_id)

    def destroy(self, name: str, ctx: DeployContext) -> DestroyResult:
        base = self._dir(ctx, name)
        st = self._state(ctx, name)
        if not st and not base.exists():
            return DestroyResult(name=name, target=self.name, already_absent=True, message=f"{name}: nothing to destroy")
        deleted = []
        for server in _servers_under(base, workers=True):  # recorded or not: everything serving from here
            if not _pid_alive(server["pid"]):
                continue  # a worker its supervisor already took down
            ctx.step(f"stop the server (pid {server['pid']}) and free port {server['port']}")
            self._stop(server["pid"])
            deleted.append(f"process {server['pid']} on {HOST}:{server['port']}")
        shutil.rmtree(base, ignore_errors=True)
        deleted.append(str(base))
        return DestroyResult(name=name, target=self.name, deleted=deleted, message=f"destroyed {name}")

    def logs(self, name: str, ctx: DeployContext, tail: int = 100) -> str:
        st = self._state(ctx, name)
        return self._tail(Path(st["log"]), tail) if st else ""

    # -- helpers --------------------------------------------------------------
    @staticmethod
    def _tail(path: Path, lines: int) -> str:
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    @staticmethod
    def _stop(pid: int, grace_s: float = 10.0) -> None:
        """SIGTERM lets the server drain in-flight requests; SIGKILL after the grace period.
        Signals go to the pid's process group: the server and its workers."""
        try:
            group = os.getpgid(pid)
            if group == os.getpgrp():  # never our own group (servers run in their own session)
                raise PermissionError
            os.killpg(group, signal.SIGTERM)
        except ProcessLookupError:
            return
        except PermissionError:
            group = pid
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done:
                    return
            except ChildProcessError:
                pass
            if not _pid_alive(pid):
                return
            time.sleep(0.05)
        try:
            os.killpg(group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    @staticmethod
    def _cleanup_old_apps(base: Path, keep: Path) -> None:
        for p in base.glob("app-*"):
            if p != keep and p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
