"""The plugin contract against the local target, for real: child process, real HTTP on 127.0.0.1."""
from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import VENV_BIN, cli

SAMPLE = "models:/sample-classifier/1"
pytestmark = pytest.mark.xdist_group("local-target")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return False


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind; ignores TIME_WAIT
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def test_deploy_invoke_redeploy_destroy(home_with_sample):
    from deployers import api
    from deployers.events import EventRecorder

    profile = api.parse_profile({"name": "sample"})
    spec = api.make_spec("demo", "local", SAMPLE, profile)
    findings = api.preflight(spec)
    assert all(f.level != "fail" for f in findings), findings
    plan = api.plan(spec)
    assert [a.kind for a in plan.actions] == ["create"]
    assert "score.py" in plan.artifacts and "def init" in plan.artifacts["score.py"]
    rec = EventRecorder()
    result = api.apply(plan, events=rec)
    try:
        assert result.status == "succeeded" and result.endpoint_url.startswith("http://127.0.0.1:")
        assert result.smoke_latency_ms is not None and result.smoke_latency_ms < 5000
        kinds = [e.kind for e in rec.events]
        assert kinds[0] == "step" and kinds[-1] == "done"
        messages = " | ".join(e.message for e in rec.events)
        assert messages.index("start the scoring server") < messages.index("ready after") < messages.index("smoke test passed")
        key_file = Path(result.outputs["key_file"])
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        key = key_file.read_text().strip()
        assert key not in result.model_dump_json() and key not in plan.to_json() and key not in result.curl

        example = json.loads(plan.artifacts["sample-request.json"])
        inv = api.invoke("demo", example)
        assert inv.status_code == 200
        assert len(inv.response) == len(example["input_data"]["data"]) if isinstance(example["input_data"], dict) else True

        # no key -> 401, straight over HTTP
        req = urllib.request.Request(result.endpoint_url, data=json.dumps(example).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=10)
        assert err.value.code == 401

        again = api.apply(api.plan(spec))
        assert again.status == "no-change" and not again.changed

        st = api.status("demo")
        assert st.state == "running" and st.endpoint_url == result.endpoint_url
        pid, port = result.outputs["pid"], result.outputs["port"]
    finally:
        first = api.destroy("demo")
    assert not _pid_alive(pid) and _port_free(port)
    assert first.deleted
    second = api.destroy("demo")
    assert second.already_absent or second.deleted == [] or "nothing" in second.message
    assert api.status("demo").state == "not-found"
    ledger_bytes = (home_with_sample / "ledger.db").read_bytes()
    assert key.encode() not in ledger_bytes


def test_status_notices_a_dead_process(home_with_sample):
    from deployers import api

    spec = api.make_spec("dies", "local", SAMPLE, api.parse_profile({}))
    result = api.deploy(spec)
    try:
        os.killpg(result.outputs["pid"], signal.SIGKILL)
        deadline = time.time() + 10
        while _pid_alive(result.outputs["pid"]) and time.time() < deadline:
            time.sleep(0.05)
        st = api.status("dies")
        assert st.state == "failed" and "not running" in st.message
        # apply again brings it back
        back = api.deploy(spec)
        assert back.status == "succeeded" and api.status("dies").state == "running"
    finally:
        api.destroy("dies")


def test_cli_deploy_survives_the_cli_and_bad_inputs_are_one_line(home_with_sample, tmp_path):
    out = cli("deploy", "--target", "local", "--model", SAMPLE, "--name", "clidemo", "--yes", "--output", "json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    try:
        assert result["status"] == "succeeded"
        # the server outlived the CLI process
        assert _pid_alive(result["outputs"]["pid"])
        from deployers import api
        from deployers.planning import input_example

        body = input_example(api.resolve_model(SAMPLE))
        inv = cli("invoke", "clidemo", "--data", json.dumps(body))
        assert inv.returncode == 0, inv.stderr
        lst = cli("list", "--output", "json")
        assert [d["name"] for d in json.loads(lst.stdout)] == ["clidemo"]
        busy_port = result["outputs"]["port"]
        busy = cli("deploy", "--target", "local", "--model", SAMPLE, "--name", "other", "--yes",
                   "--set", f"port={busy_port}")
        assert busy.returncode == 2 and f"port {busy_port} on 127.0.0.1 is busy" in busy.stderr
        assert "Traceback" not in busy.stderr
    finally:
        cli("destroy", "clidemo", "--yes")
        cli("destroy", "other", "--yes")


@pytest.mark.parametrize("args, needle", [
    (["--model", "/no/such/model"], "no/such/model"),
    (["--model", "models:/sample-classifier/99"], "99"),
])
def test_bad_model_is_one_line(home_with_sample, args, needle):
    out = cli("deploy", "--target", "local", "--name", "bad", "--yes", *args)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert needle in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_corrupt_mlflow_folder_is_one_line(home_with_sample, tmp_path):
    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "MLmodel").write_text("flavors: [this is: not valid")
    out = cli("deploy", "--target", "local", "--name", "bad", "--yes", "--model", str(bad))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_payload_with_wrong_columns_is_a_422_with_request_id(home_with_sample):
    from deployers import api

    result = api.deploy(api.make_spec("cols", "local", SAMPLE, api.parse_profile({})))
    try:
        inv = api.invoke("cols", {"input_data": {"columns": ["nope"], "data": [[1.0]]}})
        assert inv.status_code == 422 and "missing column" in inv.response["error"]
        assert inv.request_id and "Traceback" not in json.dumps(inv.response)
        out = cli("invoke", "cols", "--data", "{not json")
        assert out.returncode == 2 and "not valid JSON" in out.stderr
    finally:
        api.destroy("cols")


def test_kill_9_mid_apply_is_recorded_and_next_apply_resumes(home_with_sample, tmp_path):
    from deployers import api

    plan_file = tmp_path / "plan.json"
    assert cli("plan", "--target", "local", "--model", SAMPLE, "--name", "crash", "-o", str(plan_file)).returncode == 0
    proc = subprocess.Popen([str(VENV_BIN / "deploy-advisor"), "apply", str(plan_file)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    led = api.ledger()
    deadline = time.time() + 60
    while time.time() < deadline:
        run = led.last_run("crash")
        if run and (run.get("checkpoints") or {}).get("pid"):
            break
        time.sleep(0.01)
    proc.kill()
    proc.wait(10)
    again = cli("apply", str(plan_file), "--output", "json")
    try:
        assert again.returncode == 0, again.stderr
        statuses = [r["status"] for r in api.runs("crash")]
        assert statuses[0] in ("interrupted", "succeeded")
        if statuses[0] == "interrupted":
            assert "resuming interrupted run" in again.stderr
        assert json.loads(again.stdout)["status"] in ("succeeded", "no-change")
        assert api.status("crash").state == "running"
    finally:
        api.destroy("crash")
