"""`status --check-drift` and Ctrl-C during a fleet apply (exit 130, runs interrupted, the next apply resumes)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from tests.conftest import VENV_BIN, cli, wait_for

from .conftest import json_lines, write_spec


def test_check_drift_lists_each_difference_from_the_last_applied_plan(tmp_path, fleet_env, isolated_home):
    a = write_spec(tmp_path, "drift-a", settings={"message": "a"})
    write_spec(tmp_path, "drift-b", settings={"message": "b"})
    assert cli("apply", "-f", str(tmp_path), "--yes", env=fleet_env).returncode == 0
    insync = cli("status", "-f", str(tmp_path), "--check-drift", "--output", "json", env=fleet_env)
    assert insync.returncode == 0, insync.stdout
    assert [(i["name"], i["status"], i["drift"]) for i in json.loads(insync.stdout)["items"]] == [
        ("drift-a", "in-sync", []), ("drift-b", "in-sync", [])]

    # someone changes drift-a behind our back, and deletes drift-b
    store = isolated_home / "filestore"
    data = json.loads((store / "drift-a.json").read_text())
    data["desired"] = "edited-by-hand"
    (store / "drift-a.json").write_text(json.dumps(data))
    (store / "drift-b.json").unlink()
    out = cli("status", "-f", str(tmp_path), "--check-drift", "--output", "json", env=fleet_env)
    assert out.returncode == 3  # drift: re-applying would change something
    items = {i["name"]: i for i in json.loads(out.stdout)["items"]}
    assert items["drift-a"]["status"] == "drift" and items["drift-a"]["drift"] == ["update file drift-a"]
    assert items["drift-b"]["drift"] == ["create file drift-b", "status: not-found (expected running)"]

    # by name (from the ledger) and as text: each difference on its own line
    text = cli("status", "drift-a", "--check-drift", env=fleet_env)
    assert text.returncode == 3
    assert "drift-a: DRIFT — 1 difference(s)" in text.stdout and "  - update file drift-a" in text.stdout
    # apply converges, and drift is gone
    assert cli("apply", "-f", str(tmp_path), "--yes", env=fleet_env).returncode == 0
    assert cli("status", "-f", str(a), "--check-drift", env=fleet_env).returncode == 0
    missing = cli("status", "never-deployed", "--check-drift", env=fleet_env)
    assert missing.returncode == 1 and "no deployment named 'never-deployed'" in missing.stderr


@pytest.mark.xdist_group("local-target")
def test_check_drift_notices_a_killed_local_server_and_exports_hold_no_key(tmp_path, home_with_sample):
    from .test_export import assert_no_secret

    spec = tmp_path / "local.yaml"
    spec.write_text("name: drift-local\ntarget: local\nmodel: models:/sample-classifier/1\n"
                    "profile: {name: sample}\n")
    out = cli("apply", "-f", str(spec), "--yes", timeout=300)
    assert out.returncode == 0, out.stderr
    try:
        assert cli("status", "drift-local", "--check-drift").returncode == 0
        # the running deployment has a real key; an export of the same spec must not carry it
        key = (home_with_sample / "local" / "drift-local" / "key").read_text().strip()
        exported = cli("export", "-f", str(spec), "--out", str(tmp_path / "export"))
        assert exported.returncode == 0, exported.stderr
        assert_no_secret(tmp_path / "export", key)
        assert key not in out.stdout + out.stderr + exported.stdout + exported.stderr
        state = json.loads((home_with_sample / "local" / "drift-local" / "state.json").read_text())
        os.killpg(state["pid"], signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and os.path.exists(f"/proc/{state['pid']}"):
            try:
                if open(f"/proc/{state['pid']}/stat").read().split(") ", 1)[1][:1] == "Z":
                    break
            except OSError:
                break
            time.sleep(0.05)
        drift = cli("status", "-f", str(spec), "--check-drift", "--output", "json")
        assert drift.returncode == 3, drift.stdout
        doc = json.loads(drift.stdout)
        assert doc["in_sync"] is False and doc["state"] == "failed"
        assert any(d.startswith("create process drift-local") for d in doc["drift"]), doc["drift"]
        assert any(d.startswith("status: failed (expected running)") for d in doc["drift"]), doc["drift"]
    finally:
        cli("destroy", "drift-local", "--yes")


def test_ctrl_c_once_stops_new_work_marks_runs_interrupted_and_the_next_apply_resumes(tmp_path, fleet_env):
    from deployers import api

    names = ["slow-a", "slow-b", "slow-c", "slow-d"]
    for n in names:
        write_spec(tmp_path, n, settings={"delay_s": 2.0})
    proc = subprocess.Popen([str(VENV_BIN / "deploy-advisor"), "apply", "-f", str(tmp_path), "--parallel", "2",
                             "--yes", "--output", "json"], env={**os.environ, **fleet_env}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    led = api.ledger()

    def two_in_flight_with_progress():
        runs = [led.last_run(n) for n in names]
        started = [r for r in runs if r]
        return len(started) == 2 and all((r.get("checkpoints") or {}).get("steps_done", 0) >= 1 for r in started)

    wait_for(two_in_flight_with_progress)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert time.monotonic() - t0 < 3.0  # calls in flight stop at their next check, not after 2 more 2-s steps
    doc = json.loads(stdout)
    assert doc["interrupted"] is True and doc["exit_code"] == 130
    statuses = {i["name"]: i["status"] for i in doc["items"]}
    assert sorted(statuses.values()) == ["interrupted", "interrupted", "not-started", "not-started"]
    events = json_lines(stderr)  # even the interrupt notice is a JSON line
    assert any(e["kind"] == "warning" and "interrupting" in e["message"] for e in events)
    for n, st in statuses.items():
        runs = api.runs(n)
        if st == "interrupted":
            assert [r["status"] for r in runs] == ["interrupted"] and runs[0]["checkpoints"]["steps_done"] >= 1
        else:
            assert runs == []  # never started

    again = cli("apply", "-f", str(tmp_path), "--parallel", "4", "--yes", "--output", "json", env=fleet_env)
    assert again.returncode == 0, again.stderr
    items = {i["name"]: i for i in json.loads(again.stdout)["items"]}
    for n, st in statuses.items():
        assert items[n]["status"] == "succeeded"
        if st == "interrupted":  # resumed: the stored plan and its checkpoints, not a fresh start
            assert items[n]["result"]["outputs"]["resumed_from_step"] >= 1
            assert items[n]["resumed_run"] == api.runs(n)[0]["id"]
            assert [r["status"] for r in api.runs(n)] == ["interrupted", "succeeded"]
        else:
            assert items[n]["result"]["outputs"]["resumed_from_step"] == 0
    assert "resuming interrupted run" in again.stderr


def test_second_ctrl_c_aborts_at_once(tmp_path, fleet_env):
    from deployers import api

    write_spec(tmp_path, "stuck", settings={"delay_s": 30, "blocking": True})  # ignores the cancel event
    proc = subprocess.Popen([str(VENV_BIN / "deploy-advisor"), "apply", "-f", str(tmp_path / "stuck.yaml"),
                             "--yes"], env={**os.environ, **fleet_env}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    led = api.ledger()
    wait_for(lambda: led.last_run("stuck"))
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    assert proc.poll() is None  # the first Ctrl-C lets the call in flight finish
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 130 and time.monotonic() - t0 < 5, stderr
    assert "Ctrl-C again to abort now" in stderr and "deploy-advisor: interrupted" in stderr
    # the run died with the process: the next apply (reap) records it as interrupted, then resumes it
    led.reap_dead()
    assert led.last_run("stuck")["status"] == "interrupted"
