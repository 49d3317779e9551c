"""The ledger: a SQLite (WAL) record of deployments, runs and events.

The UI and the CLI may write at once, from several processes and threads:
every call opens its own short transaction (`BEGIN IMMEDIATE`) with a busy
timeout. A per-deployment lock row makes a second concurrent apply fail fast
with the holder's name; a lock whose process is gone is taken over and its run
marked `interrupted`, so the next apply can resume it from its checkpoints.
Secrets never reach this file: callers pass plans and results, which hold none.
"""
from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

from .errors import ConflictError
from .events import Event

SCHEMA = """
CREATE TABLE IF NOT EXISTS deployments (
  name TEXT PRIMARY KEY, target TEXT NOT NULL, status TEXT NOT NULL, endpoint_url TEXT DEFAULT '',
  model_uri TEXT DEFAULT '', spec_json TEXT, plan_json TEXT, outputs_json TEXT DEFAULT '{}',
  created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, deployment TEXT NOT NULL, target TEXT NOT NULL, kind TEXT NOT NULL,
  plan_id TEXT DEFAULT '', plan_json TEXT, status TEXT NOT NULL, pid INTEGER, host TEXT,
  started_at REAL NOT NULL, ended_at REAL, error TEXT DEFAULT '', checkpoints_json TEXT DEFAULT '{}',
  result_json TEXT);
CREATE INDEX IF NOT EXISTS runs_by_deployment ON runs(deployment, started_at);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT, deployment TEXT, ts REAL NOT NULL,
  kind TEXT NOT NULL, message TEXT NOT NULL, data_json TEXT DEFAULT '{}');
CREATE INDEX IF NOT EXISTS events_by_deployment ON events(deployment, id);
CREATE TABLE IF NOT EXISTS locks (
  deployment TEXT PRIMARY KEY, run_id TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL,
  thread TEXT DEFAULT '', acquired_at REAL NOT NULL);
"""


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child counts as dead.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


def _row(row: Optional[sqlite3.Row]) -> Optional[dict[str, Any]]:
    if row is None:
        return None
    d = dict(row)
    for key in list(d):
        if key.endswith("_json"):
            raw = d.pop(key)
            d[key[:-5]] = json.loads(raw) if raw else None
    return d


class Ledger:
    def __init__(self, state_dir: Path | str):
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            os.chmod(self.state_dir, 0o700)
        except OSError:
            pass
        self.path = self.state_dir / "ledger.db"
        self._local = threading.local()
        self._conn().executescript(SCHEMA)  # idempotent; executescript manages its own transaction

    # -- connection -----------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        else:
            db.execute("COMMIT")

    # -- runs and locks -------------------------------------------------------
    def begin_run(self, deployment: str, target: str, kind: str, plan_json: str = "", plan_id: str = "") -> dict:
        """Take the deployment's lock and open a run. Fails fast if someone live holds it."""
        run_id = uuid.uuid4().hex[:12]
        now = time.time()
        me = (os.getpid(), socket.gethostname(), threading.current_thread().name)
        with self._tx() as db:
            held = db.execute("SELECT * FROM locks WHERE deployment=?", (deployment,)).fetchone()
            if held is not None:
                same_host = held["host"] == me[1]
                if not same_host or _pid_alive(held["pid"]):
                    since = time.strftime("%H:%M:%S", time.localtime(held["acquired_at"]))
                    raise ConflictError(
                        f"deployment {deployment!r} is being changed by run {held['run_id']} "
                        f"(pid {held['pid']} on {held['host']}, since {since})",
                        "wait for it to finish, or stop that process; a killed run is resumed by the next apply")
                db.execute("UPDATE runs SET status='interrupted', ended_at=?, error='process ended mid-run' "
                           "WHERE id=? AND status='running'", (now, held["run_id"]))
                db.execute("DELETE FROM locks WHERE deployment=?", (deployment,))
            db.execute("INSERT INTO locks VALUES (?,?,?,?,?,?)", (deployment, run_id, me[0], me[1], me[2], now))
            db.execute("INSERT INTO runs (id, deployment, target, kind, plan_id, plan_json, status, pid, host, started_at)"
                       " VALUES (?,?,?,?,?,?, 'running', ?,?,?)",
                       (run_id, deployment, target, kind, plan_id, plan_json or None, me[0], me[1], now))
        return {"id": run_id, "deployment": deployment, "target": target, "kind": kind, "plan_id": plan_id}

    def finish_run(self, run_id: str, status: str, error: str = "", result: Optional[dict] = None) -> None:
        with self._tx() as db:
            db.execute("UPDATE runs SET status=?, ended_at=?, error=?, result_json=? WHERE id=?",
                       (status, time.time(), error, json.dumps(result) if result is not None else None, run_id))
            db.execute("DELETE FROM locks WHERE run_id=?", (run_id,))

    def checkpoint(self, run_id: str, key: str, value: Any) -> None:
        with self._tx() as db:
            row = db.execute("SELECT checkpoints_json FROM runs WHERE id=?", (run_id,)).fetchone()
            data = json.loads(row["checkpoints_json"] or "{}") if row else {}
            data[key] = value
            db.execute("UPDATE runs SET checkpoints_json=? WHERE id=?", (json.dumps(data), run_id))

    def reap_dead(self) -> int:
        """Mark runs whose process died as interrupted and release their locks."""
        host = socket.gethostname()
        n = 0
        with self._tx() as db:
            for lock in db.execute("SELECT * FROM locks").fetchall():
                if lock["host"] == host and not _pid_alive(lock["pid"]):
                    db.execute("UPDATE runs SET status='interrupted', ended_at=?, error='process ended mid-run' "
                               "WHERE id=? AND status='running'", (time.time(), lock["run_id"]))
                    db.execute("DELETE FROM locks WHERE deployment=?", (lock["deployment"],))
                    n += 1
            orphans = db.execute("SELECT id, pid, host FROM runs WHERE status='running' AND id NOT IN "
                                 "(SELECT run_id FROM locks)").fetchall()
            for r in orphans:
                if r["host"] == host and not _pid_alive(r["pid"] or 0):
                    db.execute("UPDATE runs SET status='interrupted', ended_at=? WHERE id=?", (time.time(), r["id"]))
                    n += 1
        return n

    def last_run(self, deployment: str, kind: Optional[str] = None) -> Optional[dict]:
        q = "SELECT * FROM runs WHERE deployment=?" + (" AND kind=?" if kind else "") + " ORDER BY started_at DESC LIMIT 1"
        args = (deployment, kind) if kind else (deployment,)
        return _row(self._conn().execute(q, args).fetchone())

    def runs(self, deployment: str) -> list[dict]:
        rows = self._conn().execute("SELECT * FROM runs WHERE deployment=? ORDER BY started_at", (deployment,)).fetchall()
        return [_row(r) for r in rows]

    def get_run(self, run_id: str) -> Optional[dict]:
        return _row(self._conn().execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone())

    # -- events ---------------------------------------------------------------
    def add_event(self, event: Event) -> int:
        with self._tx() as db:
            cur = db.execute("INSERT INTO events (run_id, deployment, ts, kind, message, data_json) VALUES (?,?,?,?,?,?)",
                             (event.run_id, event.deployment, event.ts, event.kind, event.message,
                              json.dumps(event.data, default=str)))
            return int(cur.lastrowid)

    def events(self, deployment: Optional[str] = None, run_id: Optional[str] = None, after_id: int = 0,
               limit: int = 1000) -> list[dict]:
        clauses, args = ["id > ?"], [after_id]
        if deployment:
            clauses.append("deployment = ?")
            args.append(deployment)
        if run_id:
            clauses.append("run_id = ?")
            args.append(run_id)
        q = f"SELECT * FROM events WHERE {' AND '.join(clauses)} ORDER BY id LIMIT ?"
        return [_row(r) for r in self._conn().execute(q, (*args, limit)).fetchall()]

    # -- deployments ----------------------------------------------------------
    def upsert_deployment(self, name: str, target: str, status: str, *, endpoint_url: str = "", model_uri: str = "",
                          spec: Optional[dict] = None, plan: Optional[dict] = None,
                          outputs: Optional[dict] = None) -> None:
        now = time.time()
        with self._tx() as db:
            old = db.execute("SELECT * FROM deployments WHERE name=?", (name,)).fetchone()
            if old is None:
                db.execute("INSERT INTO deployments VALUES (?,?,?,?,?,?,?,?,?,?)",
                           (name, target, status, endpoint_url, model_uri, json.dumps(spec) if spec else None,
                            json.dumps(plan) if plan else None, json.dumps(outputs or {}), now, now))
            else:
                db.execute("UPDATE deployments SET target=?, status=?, endpoint_url=?, model_uri=?, spec_json=?, "
                           "plan_json=?, outputs_json=?, updated_at=? WHERE name=?",
                           (target, status, endpoint_url or old["endpoint_url"], model_uri or old["model_uri"],
                            json.dumps(spec) if spec else old["spec_json"],
                            json.dumps(plan) if plan else old["plan_json"],
                            json.dumps(outputs) if outputs is not None else old["outputs_json"], now, name))

    def set_status(self, name: str, status: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE deployments SET status=?, updated_at=? WHERE name=?", (status, time.time(), name))

    def get_deployment(self, name: str) -> Optional[dict]:
        return _row(self._conn().execute("SELECT * FROM deployments WHERE name=?", (name,)).fetchone())

    def list_deployments(self) -> list[dict]:
        rows = self._conn().execute("SELECT * FROM deployments ORDER BY updated_at DESC").fetchall()
        return [_row(r) for r in rows]

    def remove_deployment(self, name: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM deployments WHERE name=?", (name,))
