"""The ledger: a SQLite (WAL) record of deployments, runs and events.

The UI and the CLI may write at once, from several processes and threads:
every call opens its own short transaction (`BEGIN IMMEDIATE`) with a busy
timeout. A per-deployment lock row makes a second concurrent apply fail fast
with the holder's name; a lock whose process is gone is taken over and its run
marked `interrupted`, so the next apply can resume it from its checkpoints.
Secrets never reach this file: callers pass plans and results, which hold none.
"""
from __future__ import annotations

import errno
import functools
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

from . import statedir
from .errors import ConflictError, StateError
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


SCHEMA_VERSION = 1
# MIGRATIONS[i] brings a ledger from user_version i to i + 1. 0 -> 1 is the baseline: a ledger written
# before versioning (user_version 0) already has these tables, and CREATE ... IF NOT EXISTS keeps them.
MIGRATIONS: list[str] = [SCHEMA]

DOCTOR_HINT = "`deploy-advisor doctor --repair` moves it aside and rebuilds the deployment list from the local state"


def state_error(exc: BaseException, path: Path) -> StateError:
    """sqlite3 and OS errors about the ledger file -> one line saying what is wrong and what to do."""
    text = str(exc).splitlines()[0][:200] if str(exc) else exc.__class__.__name__
    low = text.lower()
    errno_ = getattr(exc, "errno", None)
    if "not a database" in low or "malformed" in low or "truncated" in low:
        return StateError(f"the ledger at {path} is damaged ({text})", DOCTOR_HINT)
    if "readonly" in low or "read-only" in low or errno_ in (errno.EACCES, errno.EPERM, errno.EROFS) \
            or "unable to open" in low:
        return StateError(f"the ledger at {path} cannot be written ({text})",
                          "list, status and invoke still work; make the state dir (DEPLOY_ADVISOR_HOME) "
                          "writable to deploy, apply or destroy")
    if "full" in low or "disk i/o" in low or errno_ in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return StateError(f"cannot write the ledger at {path} ({text})",
                          "free space on that disk and run the command again; an interrupted apply resumes")
    return StateError(f"the ledger at {path} failed ({text})", DOCTOR_HINT)


def _mapped(method):
    """Ledger methods raise StateError (one line, a hint) instead of sqlite3/OS errors."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.Error, OSError) as e:
            raise state_error(e, self.path) from e
    return wrapper


_header_checked: set[Path] = set()  # ledger files whose header this process has read (see Ledger._check_file)
_header_lock = threading.Lock()


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring the ledger to SCHEMA_VERSION, one recorded step at a time, each in one transaction."""
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version >= SCHEMA_VERSION:
                conn.execute("COMMIT")
                return
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


class Ledger:
    """Opened lazily: reading a ledger that does not exist yet is an empty answer (nothing is created);
    the first write creates it (0600, schema written before the file appears under its name)."""

    def __init__(self, state_dir: Path | str):
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / "ledger.db"
        self._local = threading.local()
        self._migrated = False

    # -- connection -----------------------------------------------------------
    def _open(self, read_only: bool = False) -> sqlite3.Connection:
        if read_only:  # a read-only state dir: no -shm can be made, so read the file as it is
            conn = sqlite3.connect(f"{self.path.as_uri()}?mode=ro&immutable=1", uri=True, isolation_level=None,
                                   check_same_thread=False)
        else:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        if not read_only:
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            conn.close()
            raise StateError(f"the ledger at {self.path} has schema version {version}; this deploy-advisor "
                             f"knows up to {SCHEMA_VERSION}", "upgrade deploy-advisor, or point "
                             "DEPLOY_ADVISOR_HOME at another state dir")
        if not read_only and not self._migrated:
            _migrate(conn)
            self._migrated = True
        return conn

    def _check_file(self) -> None:
        """Refuse a damaged file before SQLite touches it (it would replay a leftover WAL into it)."""
        if self.path.stat().st_size == 0:  # SQLite would take it for a new, empty ledger: every deployment forgotten
            raise StateError(f"the ledger at {self.path} is damaged (0 bytes: truncated)", DOCTOR_HINT)
        with _header_lock:
            # Reading the header opens and closes the file, and closing any descriptor of a file drops every
            # POSIX lock this process holds on it, SQLite's included (sqlite.org/howtocorrupt.html, 2.2).
            # So only before this process's first connection to it: later ones are opened after this returns.
            key = self.path.resolve()
            if key in _header_checked:
                return
            with open(self.path, "rb") as f:
                header = f.read(16)
            if header != b"SQLite format 3\x00":
                raise StateError(f"the ledger at {self.path} is damaged (not an SQLite database)", DOCTOR_HINT)
            _header_checked.add(key)

    def close(self) -> None:
        """Close this thread's connection (the last one to close removes the -wal and -shm files)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _create(self) -> None:
        """Write the schema into a private temp file, then link it in place (never a half-made ledger)."""
        statedir.ensure(self.state_dir)
        tmp = self.path.with_name(f".ledger.db.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            statedir.private_file(tmp)
            conn = sqlite3.connect(tmp, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                _migrate(conn)
            finally:
                conn.close()
            try:
                os.link(tmp, self.path)
            except FileExistsError:  # another process created it first: use theirs
                pass
        finally:
            for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
                leftover.unlink(missing_ok=True)

    def _conn(self, write: bool = False) -> Optional[sqlite3.Connection]:
        """This thread's connection; None when reading a ledger that does not exist yet."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and not (write and self._local.read_only):
            return conn
        if not self.path.exists():
            if not write:
                return None
            self._create()
        statedir.ensure(self.state_dir)  # warns (once) when the folder is open to others
        self._check_file()
        try:
            conn, read_only = self._open(), False
        except sqlite3.OperationalError as e:
            if write or "locked" in str(e):
                raise
            # a read-only or full state dir: SQLite cannot make the -shm file a WAL reader needs
            conn, read_only = self._open(read_only=True), True
        self.close()  # a read-only connection this thread had before
        self._local.conn, self._local.read_only = conn, read_only
        return conn

    def _rows(self, query: str, args: tuple = ()) -> list[sqlite3.Row]:
        conn = self._conn()
        if conn is None:
            return []
        try:
            return conn.execute(query, args).fetchall()
        finally:
            if self._local.read_only:  # a snapshot that ignores writers: take a fresh one next time
                self.close()

    @property
    def schema_version(self) -> int:
        conn = self._conn()
        return conn.execute("PRAGMA user_version").fetchone()[0] if conn is not None else 0

    @_mapped
    def check(self) -> str:
        """'missing' (no ledger yet) or 'ok' after SQLite's quick_check; StateError when damaged."""
        conn = self._conn()
        if conn is None:
            return "missing"
        verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            raise sqlite3.DatabaseError(f"database disk image is malformed: {verdict}")
        return "ok"

    @_mapped
    def move_aside(self) -> Path:
        """Rename a damaged ledger (and its WAL files) out of the way; the next write starts a new one."""
        self.close()
        self._migrated = False
        aside = self.path.with_name(f"ledger.db.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(self.path, aside)
        for suffix in ("-wal", "-shm"):
            extra = Path(f"{self.path}{suffix}")
            if extra.exists():
                os.replace(extra, Path(f"{aside}{suffix}"))
        return aside

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._conn(write=True)
        assert db is not None  # a write creates the ledger when it is missing
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        else:
            db.execute("COMMIT")

    # -- runs and locks -------------------------------------------------------
    @_mapped
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

    @_mapped
    def finish_run(self, run_id: str, status: str, error: str = "", result: Optional[dict] = None) -> None:
        with self._tx() as db:
            db.execute("UPDATE runs SET status=?, ended_at=?, error=?, result_json=? WHERE id=?",
                       (status, time.time(), error, json.dumps(result) if result is not None else None, run_id))
            db.execute("DELETE FROM locks WHERE run_id=?", (run_id,))

    @_mapped
    def checkpoint(self, run_id: str, key: str, value: Any) -> None:
        with self._tx() as db:
            row = db.execute("SELECT checkpoints_json FROM runs WHERE id=?", (run_id,)).fetchone()
            data = json.loads(row["checkpoints_json"] or "{}") if row else {}
            data[key] = value
            db.execute("UPDATE runs SET checkpoints_json=? WHERE id=?", (json.dumps(data), run_id))

    @_mapped
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

    @_mapped
    def last_run(self, deployment: str, kind: Optional[str] = None) -> Optional[dict]:
        q = "SELECT * FROM runs WHERE deployment=?" + (" AND kind=?" if kind else "") + " ORDER BY started_at DESC LIMIT 1"
        args = (deployment, kind) if kind else (deployment,)
        return next((_row(r) for r in self._rows(q, args)), None)

    @_mapped
    def runs(self, deployment: str) -> list[dict]:
        rows = self._rows("SELECT * FROM runs WHERE deployment=? ORDER BY started_at", (deployment,))
        return [_row(r) for r in rows]

    @_mapped
    def get_run(self, run_id: str) -> Optional[dict]:
        return next((_row(r) for r in self._rows("SELECT * FROM runs WHERE id=?", (run_id,))), None)

    # -- events ---------------------------------------------------------------
    @_mapped
    def add_event(self, event: Event) -> int:
        with self._tx() as db:
            cur = db.execute("INSERT INTO events (run_id, deployment, ts, kind, message, data_json) VALUES (?,?,?,?,?,?)",
                             (event.run_id, event.deployment, event.ts, event.kind, event.message,
                              json.dumps(event.data, default=str)))
            return int(cur.lastrowid)

    @_mapped
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
        return [_row(r) for r in self._rows(q, (*args, limit))]

    # -- deployments ----------------------------------------------------------
    @_mapped
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

    @_mapped
    def set_status(self, name: str, status: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE deployments SET status=?, updated_at=? WHERE name=?", (status, time.time(), name))

    @_mapped
    def get_deployment(self, name: str) -> Optional[dict]:
        return next((_row(r) for r in self._rows("SELECT * FROM deployments WHERE name=?", (name,))), None)

    @_mapped
    def list_deployments(self) -> list[dict]:
        rows = self._rows("SELECT * FROM deployments ORDER BY updated_at DESC")
        return [_row(r) for r in rows]

    @_mapped
    def remove_deployment(self, name: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM deployments WHERE name=?", (name,))
