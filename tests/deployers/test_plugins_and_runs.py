"""Third-party plugin discovery through real entry points, and the facade's run bookkeeping
(idempotence, stale plans, locks, resume after kill -9) exercised through that plugin."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from tests.conftest import VENV_BIN, cli, wait_for


@pytest.fixture
def plugin_env(echo_plugin_path, monkeypatch):
    monkeypatch.syspath_prepend(str(echo_plugin_path))
    import importlib

    importlib.invalidate_caches()
    from deployers import registry

    registry._cache.pop("echo", None)
    return {"PYTHONPATH": os.pathsep.join([str(echo_plugin_path), os.environ.get("PYTHONPATH", "")])}


def test_entry_point_plugin_is_discovered(plugin_env):
    from deployers import registry

    assert registry.available()["echo"] == "da_echo_plugin:EchoDeployer"
    assert "echo" in registry.installed_targets()
    out = cli("targets", "--output", "json", env=plugin_env)
    assert out.returncode == 0, out.stderr
    names = {t["name"]: t for t in json.loads(out.stdout)}
    assert names["echo"]["title"] == "Echo (test plugin)"
    assert {"local", "echo"} <= set(names)


def test_without_the_plugin_the_target_is_unknown():
    out = cli("plan", "--target", "echo", "--model", "x", "--name", "abc")
    assert out.returncode == 2
    assert "unknown target 'echo'" in out.stderr and "Traceback" not in out.stderr


def test_apply_is_idempotent_and_stale_plans_are_refused(plugin_env):
    from deployers import api
    from deployers.errors import StalePlanError

    spec = api.make_spec("echo-one", "echo", "m", api.parse_profile({}), {"message": "hi"})
    first = api.plan(spec)
    second_plan_made_early = api.plan(spec)
    res = api.apply(first)
    assert res.status == "succeeded" and res.changed
    again = api.apply(api.plan(spec))
    assert again.status == "no-change"
    with pytest.raises(StalePlanError):
        api.apply(second_plan_made_early)
    runs = api.runs("echo-one")
    kinds = [e["kind"] for e in api.deployment_events("echo-one", run_id=runs[0]["id"])]
    assert kinds == ["step", "step", "step", "step", "done"]  # apply, 3 plugin steps, done
    assert api.deployment_events("echo-one", run_id=runs[2]["id"])[-1]["kind"] == "error"
    assert [r["status"] for r in runs] == ["succeeded", "no-change", "failed"]
    assert api.invoke("echo-one", {"x": 1}).response == {"echo": {"x": 1}, "message": "hi"}
    assert api.destroy("echo-one").deleted == ["echo-one"]
    assert api.destroy("echo-one").already_absent
    assert api.status("echo-one").state == "not-found"


def test_kill_9_mid_apply_then_apply_again_resumes(plugin_env, tmp_path, isolated_home):
    from deployers import api

    plan_file = tmp_path / "plan.json"
    # 5 s a step: the kill must land while the run is still going, even when starting the second CLI is slow
    out = cli("plan", "--target", "echo", "--model", "m", "--name", "slow", "--set", "delay_s=5",
              "-o", str(plan_file), env=plugin_env)
    assert out.returncode == 0, out.stderr
    proc = subprocess.Popen([str(VENV_BIN / "deploy-advisor"), "apply", str(plan_file)],
                            env={**os.environ, **plugin_env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    led = api.ledger()

    def first_step_done():
        run = led.last_run("slow")
        return run and (run.get("checkpoints") or {}).get("steps_done", 0) >= 1

    wait_for(first_step_done)
    # a second apply while the first holds the lock fails fast and names the holder
    busy = cli("apply", str(plan_file), env=plugin_env, timeout=30)
    assert busy.returncode == 1 and "is being changed by run" in busy.stderr and f"pid {proc.pid}" in busy.stderr
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    again = cli("apply", str(plan_file), "--output", "json", env=plugin_env, timeout=60)
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert result["status"] == "succeeded"
    assert result["outputs"]["resumed_from_step"] >= 1  # did not redo the finished steps
    statuses = [r["status"] for r in api.runs("slow")]
    assert statuses == ["interrupted", "succeeded"]
    assert "resuming interrupted run" in again.stderr
