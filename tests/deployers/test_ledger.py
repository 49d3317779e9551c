"""The ledger under concurrent writers, lock conflicts and killed runs."""
from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
import threading

import pytest

from deployers.errors import ConflictError
from deployers.events import Event
from deployers.ledger import Ledger


def _writer(path: str, who: str, n: int) -> None:
    led = Ledger(path)
    for i in range(n):
        led.add_event(Event(kind="info", message=f"{who}-{i}", deployment="d"))
        if i % 10 == 0:
            led.upsert_deployment(f"dep-{who}", "local", "running")


def test_concurrent_processes_and_threads_lose_no_rows(tmp_path):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), f"p{i}", 100)) for i in range(3)]
    for p in procs:
        p.start()
    threads = [threading.Thread(target=_writer, args=(str(tmp_path), f"t{i}", 100)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    led = Ledger(tmp_path)
    events = led.events(deployment="d", limit=10_000)
    assert len(events) == 600
    assert len({e["message"] for e in events}) == 600  # no duplicates
    assert {d["name"] for d in led.list_deployments()} == {f"dep-{w}" for w in ("p0", "p1", "p2", "t0", "t1", "t2")}
    mode = led._conn().execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_second_apply_fails_fast_naming_the_holder(tmp_path):
    led = Ledger(tmp_path)
    run = led.begin_run("web", "local", "apply")
    with pytest.raises(ConflictError) as err:
        Ledger(tmp_path).begin_run("web", "local", "apply")
    msg = err.value.one_line()
    assert run["id"] in msg and f"pid {os.getpid()}" in msg
    led.finish_run(run["id"], "succeeded")
    led.begin_run("web", "local", "apply")  # free again


def test_lock_of_a_killed_process_is_taken_over_and_run_marked_interrupted(tmp_path):
    code = ("import sys, os, signal; from deployers.ledger import Ledger; "
            "l = Ledger(sys.argv[1]); r = l.begin_run('web', 'local', 'apply', plan_id='p1'); "
            "l.checkpoint(r['id'], 'pid', 4242); print(r['id'], flush=True); os.kill(os.getpid(), signal.SIGKILL)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == -9
    dead_run = out.stdout.strip()
    led = Ledger(tmp_path)
    new = led.begin_run("web", "local", "apply", plan_id="p2")
    old = led.get_run(dead_run)
    assert old["status"] == "interrupted"
    assert old["checkpoints"] == {"pid": 4242}
    assert new["id"] != dead_run


def test_reap_dead_marks_orphans(tmp_path):
    led = Ledger(tmp_path)
    run = led.begin_run("a", "local", "apply")
    # pretend the holder was another, dead process on this host
    with led._tx() as db:
        db.execute("UPDATE locks SET pid=999999999 WHERE run_id=?", (run["id"],))
        db.execute("UPDATE runs SET pid=999999999 WHERE id=?", (run["id"],))
    assert led.reap_dead() == 1
    assert led.get_run(run["id"])["status"] == "interrupted"
