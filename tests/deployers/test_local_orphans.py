"""No orphaned local servers: whatever kills or fails a deploy (kill -9, Ctrl-C, a model that does
not load, a readiness timeout), `list` and `status` show the deployment, `destroy` stops what
was started, and the next deploy never starts a second server beside a first one."""
from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from deployers.local import _servers_under
from tests.conftest import VENV_BIN, cli, wait_for

SAMPLE = "models:/sample-classifier/1"
pytestmark = pytest.mark.xdist_group("local-target")


def _base(name: str) -> Path:
    return Path(os.environ["DEPLOY_ADVISOR_HOME"]) / "local" / name


def _start_deploy(name: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([str(VENV_BIN / "deploy-advisor"), "deploy", "--target", "local", "--model", SAMPLE,
                             "--name", name, "--yes", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)


def _listed(name: str) -> dict:
    out = cli("list", "--output", "json")
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert name in rows, rows
    return rows[name]


def _destroy_and_check_gone(name: str, pids: list[int]) -> None:
    out = cli("destroy", name, "--yes", "--output", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["already_absent"] is False
    wait_for(lambda: not _servers_under(_base(name), workers=True), timeout=15)
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(") ")[1][:1]


def test_kill_9_between_launch_and_record_then_list_status_redeploy_destroy(home_with_sample):
    proc = _start_deploy("orphan")
    try:
        server = wait_for(lambda: _servers_under(_base("orphan")), timeout=60)[0]
    finally:
        proc.kill()  # kill -9 right after the launch
        proc.wait(10)
    state_file = _base("orphan") / "state.json"
    state = json.loads(state_file.read_text())
    assert state["app_dir"] == server["app_dir"]  # the intent was on disk before the launch
    state["pid"] = None  # what a kill landing before the pid was written leaves (the window is microseconds)
    state_file.write_text(json.dumps(state))

    assert _listed("orphan")["status"] == "provisioning"
    wait_for(lambda: json.loads(cli("status", "orphan", "--output", "json").stdout)["state"] == "running", timeout=60)
    again = cli("deploy", "--target", "local", "--model", SAMPLE, "--name", "orphan", "--yes", "--output", "json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["status"] == "no-change"
    servers = _servers_under(_base("orphan"))
    assert [s["pid"] for s in servers] == [server["pid"]]  # adopted, no duplicate
    _destroy_and_check_gone("orphan", [server["pid"]])


def test_ctrl_c_while_the_model_loads_leaves_a_deployment_destroy_stops(home_with_sample):
    proc = _start_deploy("interrupted")
    try:
        server = wait_for(lambda: _servers_under(_base("interrupted")), timeout=60)[0]
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert len(err.decode().strip().splitlines()[-1:]) == 1 and b"Traceback" not in err
    assert _listed("interrupted")["status"] in ("provisioning", "running")
    from deployers import api

    api.ledger().remove_deployment("interrupted")  # even with the ledger row lost, status and destroy find it
    status = json.loads(cli("status", "interrupted", "--output", "json").stdout)
    assert status["state"] in ("running", "provisioning") and status["details"]["pid"] == server["pid"]
    _destroy_and_check_gone("interrupted", [server["pid"]])


def test_a_model_that_does_not_load_is_a_failed_deployment_destroy_can_remove(home_with_sample, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "model.pkl").write_bytes(b"\x80\x04not really a pickle")
    out = cli("deploy", "--target", "local", "--model", str(bad / "model.pkl"), "--name", "broken", "--yes")
    assert out.returncode == 1 and "the scoring script's init() failed: UnpicklingError" in out.stderr.splitlines()[-1]
    assert _listed("broken")["status"] == "failed"
    assert not _servers_under(_base("broken"), workers=True)
    gone = cli("destroy", "broken", "--yes", "--output", "json")
    assert gone.returncode == 0 and json.loads(gone.stdout)["already_absent"] is False


def test_a_readiness_timeout_stops_the_server_it_started(home_with_sample):
    out = cli("deploy", "--target", "local", "--model", SAMPLE, "--name", "slow", "--yes",
              "--set", "ready_timeout_s=0.05")
    assert out.returncode == 1 and "did not become ready" in out.stderr
    assert not _servers_under(_base("slow"), workers=True)
    assert _listed("slow")["status"] == "failed"
    cli("destroy", "slow", "--yes")


def test_status_sees_a_stopped_worker(home_with_sample):
    from deployers import api

    result = api.deploy(api.make_spec("paused", "local", SAMPLE, api.parse_profile({}), settings={"workers": 2}))
    try:
        workers = [s["pid"] for s in _servers_under(_base("paused"), workers=True) if s["pid"] != result.outputs["pid"]]
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGSTOP)
        try:
            st = api.status("paused")
            assert st.state == "degraded" and st.details["stopped_pids"] == [workers[0]], st
            assert "SIGSTOP" in st.message
        finally:
            os.kill(workers[0], signal.SIGCONT)
        assert api.status("paused").state == "running"
    finally:
        api.destroy("paused")


def test_no_launch_when_the_intent_cannot_be_written(home_with_sample):
    """The write-ahead record comes first: when it fails (here state.json's temp file cannot be
    created, as on a full disk) nothing is started and the failure is one line."""
    base = _base("nospace")
    base.mkdir(parents=True)
    (base / "state.tmp").mkdir()  # _write_state's temp file
    out = cli("deploy", "--target", "local", "--model", SAMPLE, "--name", "nospace", "--yes")
    assert out.returncode != 0 and len(out.stderr.strip().splitlines()[-1:]) == 1 and "Traceback" not in out.stderr
    assert not _servers_under(base, workers=True)
    assert _listed("nospace")["status"] == "failed"
