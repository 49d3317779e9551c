"""Server lifecycle and batching with small scoring scripts that control timing and errors."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from .conftest import ROOT, request, script_app

SLOW_INIT = """
import json, time
def init():
    time.sleep(float(open(__file__.replace("score.py", "init_seconds")).read()))
def run(raw_data):
    return {"echo": json.loads(raw_data)}
"""

RECORDING = """
import json, os, time
LOG = os.path.join(os.path.dirname(__file__), "batches.jsonl")
def init():
    pass
def run_batch(payloads):
    with open(LOG, "a") as fh:
        fh.write(json.dumps(len(payloads)) + "\\n")
    time.sleep(0.15)
    if any(p.get("fail") == "batch" for p in payloads):
        raise ValueError("poisoned batch member")
    return [{"id": p["id"], "double": p["id"] * 2} for p in payloads]
def run(raw_data):
    return run_batch([json.loads(raw_data)])[0]
"""

SLOW_RUN = """
import json, time
def init():
    pass
def run(raw_data):
    data = json.loads(raw_data)
    time.sleep(data.get("sleep", 0))
    return {"slept": data.get("sleep", 0)}
"""


def test_liveness_200_and_readiness_503_until_init_finishes(tmp_path, start_server):
    app = script_app(tmp_path / "app", SLOW_INIT)
    (app / "init_seconds").write_text("2.0")
    srv = start_server(app, key=None, wait_ready=False)
    port = None
    deadline = time.monotonic() + 30
    while port is None and time.monotonic() < deadline:  # the port is only known from the log
        for line in srv.read_log().splitlines():
            if "serving" in line and "http://127.0.0.1:" in line:
                port = int(line.split("http://127.0.0.1:")[1].split()[0])
        time.sleep(0.02)
    assert port, srv.read_log()
    code, _, body = _retry(lambda: request(port, "GET", "/"))
    assert code == 200 and body == {"status": "alive"}
    code, _, body = request(port, "GET", "/ready")
    assert code == 503 and body["status"] == "loading"
    assert request(port, "GET", "/live")[0] == 200  # loading is alive: the startup probe waits on /ready
    code, headers, body = request(port, "POST", "/score", {"data": 1})
    assert code == 503 and headers["retry-after"] == "1"
    srv.wait_ready(30)
    assert request(port, "GET", "/ready")[0] == 200
    assert request(port, "POST", "/score", {"data": 1})[2] == {"echo": {"data": 1}}


def _retry(fn, seconds: float = 10.0):
    deadline = time.monotonic() + seconds
    while True:
        try:
            return fn()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def test_concurrent_requests_are_coalesced_and_answered_in_order(tmp_path, start_server):
    app = script_app(tmp_path / "app", RECORDING)
    srv = start_server(app, key=None, extra=("--max-batch", "8"))
    ids = list(range(24))
    with ThreadPoolExecutor(24) as pool:
        results = list(pool.map(lambda i: srv.request("POST", "/score", {"id": i}), ids))
    assert [r[0] for r in results] == [200] * 24
    assert [r[2] for r in results] == [{"id": i, "double": 2 * i} for i in ids]
    sizes = [json.loads(x) for x in (app / "batches.jsonl").read_text().split()]
    assert sum(sizes) == 24
    assert max(sizes) > 1, sizes  # requests that queued during a predict shared the next call
    assert max(sizes) <= 8  # --max-batch holds
    assert len(sizes) < 24


def test_a_lone_request_is_not_delayed_by_batching(tmp_path, start_server):
    app = script_app(tmp_path / "app", RECORDING)
    srv = start_server(app, key=None)
    for i in range(3):
        assert srv.request("POST", "/score", {"id": i})[0] == 200
    assert [json.loads(x) for x in (app / "batches.jsonl").read_text().split()] == [1, 1, 1]


def test_max_wait_fills_a_batch(tmp_path, start_server):
    app = script_app(tmp_path / "app", RECORDING)
    srv = start_server(app, key=None, extra=("--max-wait-ms", "400", "--max-batch", "4"))
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: srv.request("POST", "/score", {"id": i}), range(4)))
    assert all(r[0] == 200 for r in results)
    assert [json.loads(x) for x in (app / "batches.jsonl").read_text().split()] == [4]


def test_when_run_batch_raises_members_are_retried_alone(tmp_path, start_server):
    app = script_app(tmp_path / "app", RECORDING)
    srv = start_server(app, key=None)
    bodies = [{"id": i, "fail": "batch"} if i == 5 else {"id": i} for i in range(12)]
    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(lambda b: srv.request("POST", "/score", b), bodies))
    for body, (code, _, out) in zip(bodies, results):
        if body.get("fail"):
            assert code == 500 and out["error"] == "ValueError: poisoned batch member" and out["request_id"]
        else:
            assert (code, out) == (200, {"id": body["id"], "double": 2 * body["id"]})
    assert "poisoned batch member" in srv.read_log()


def test_scoring_timeout_is_504_and_server_keeps_serving(tmp_path, start_server):
    app = script_app(tmp_path / "app", SLOW_RUN)
    srv = start_server(app, key=None, extra=("--timeout-s", "0.5"))
    started = time.monotonic()
    code, _, out = srv.request("POST", "/score", {"sleep": 2})
    assert code == 504 and "timed out" in out["error"] and out["request_id"]
    assert time.monotonic() - started < 1.8
    time.sleep(0.1)
    code, _, out = srv.request("GET", "/ready")  # the scoring thread is still busy past the timeout
    assert code == 503 and out["status"] == "stuck"
    code, _, out = srv.request("GET", "/live")  # liveness fails too: a restart frees a stuck thread
    assert code == 503 and out["status"] == "stuck"
    assert srv.request("GET", "/")[0] == 200  # the event loop itself still answers
    time.sleep(max(0.0, started + 2.3 - time.monotonic()))  # the slow call ends; the server recovers
    assert srv.request("GET", "/ready")[0] == 200 and srv.request("GET", "/live")[0] == 200
    code, _, out = srv.request("POST", "/score", {"sleep": 0})
    assert (code, out) == (200, {"slept": 0})


def test_sigterm_drains_in_flight_requests_then_exits_0(tmp_path, start_server):
    app = script_app(tmp_path / "app", SLOW_RUN)
    srv = start_server(app, key=None)
    result = {}

    def slow():
        result["r"] = srv.request("POST", "/score", {"sleep": 1.5})

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.4)
    srv.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    refused = False
    try:
        request(srv.port, "GET", "/", timeout=2)
    except OSError:
        refused = True
    t.join(10)
    assert result["r"][0] == 200 and result["r"][2] == {"slept": 1.5}
    assert srv.proc.wait(10) == 0
    assert refused, "the server kept accepting connections after SIGTERM"


def test_init_failure_exits_3_with_one_line(tmp_path):
    app = script_app(tmp_path / "app", "def init():\n    raise RuntimeError('no weights here')\ndef run(raw_data):\n    pass\n")
    proc = subprocess.run([sys.executable, "-m", "deployers.serving", "--app-dir", str(app), "--port", "0",
                           "--no-auth", "--workers", "1"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3
    assert "init() failed: RuntimeError: no weights here" in proc.stderr
    assert "READY" not in proc.stdout


def test_refuses_public_address_without_allow_public(tmp_path):
    app = script_app(tmp_path / "app", SLOW_RUN)
    proc = subprocess.run([sys.executable, "-m", "deployers.serving", "--app-dir", str(app), "--host", "0.0.0.0",
                           "--port", "0", "--no-auth"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "not a loopback address" in proc.stderr and "--allow-public" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_bad_key_file_is_one_line_error(tmp_path):
    app = script_app(tmp_path / "app", SLOW_RUN)
    (tmp_path / "short").write_text("abc\n")
    for key_file, message in ((tmp_path / "missing", "cannot read"), (tmp_path / "short", "at least 16")):
        proc = subprocess.run([sys.executable, "-m", "deployers.serving", "--app-dir", str(app), "--port", "0",
                               "--key-file", str(key_file)], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2 and message in proc.stderr
        assert "abc" not in proc.stderr


def test_several_workers_share_the_port_and_stop_cleanly(tmp_path, start_server):
    app = script_app(tmp_path / "app", """
import json, os
def init():
    pass
def run(raw_data):
    return {"pid": os.getpid()}
""")
    srv = start_server(app, key=None, extra=("--workers", "2"))
    assert srv.stdout_lines == [f"READY {srv.url}"]
    pids = set()
    for _ in range(40):
        code, _, out = srv.request("POST", "/score", {"data": []})
        assert code == 200
        pids.add(out["pid"])
    assert srv.proc.pid not in pids  # the supervisor only supervises
    assert 1 <= len(pids) <= 2
    assert srv.stop() == 0


def test_worker_count_comes_from_env_or_usable_cores(monkeypatch):
    import os

    from deployers.serving.server import UsageError, default_workers

    monkeypatch.delenv("DEPLOY_ADVISOR_WORKERS", raising=False)
    assert default_workers() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("DEPLOY_ADVISOR_WORKERS", "3")
    assert default_workers() == 3
    monkeypatch.setenv("DEPLOY_ADVISOR_WORKERS", "many")
    try:
        default_workers()
    except UsageError as exc:
        assert "whole number" in str(exc)
    else:
        raise AssertionError("a bad DEPLOY_ADVISOR_WORKERS was accepted")
