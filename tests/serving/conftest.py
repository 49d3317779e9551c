"""Fixtures for the scoring server: a tiny MLflow model, app dirs, and real server processes.

Every server here is a real child process (`python -m deployers.serving`) on
127.0.0.1 with a free port; tests talk to it over HTTP.
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, Optional

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEY = "k3y-for-tests-0123456789abcdef"


@pytest.fixture(scope="session")
def mlflow_model(tmp_path_factory) -> Path:
    """A small RandomForest on breast_cancer, saved as MLflow would for a user (cloudpickle + example)."""
    import logging

    import mlflow.sklearn
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(X, y)
    out = tmp_path_factory.mktemp("mlflow-model") / "tiny-rf"
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    mlflow.sklearn.save_model(model, str(out), serialization_format="cloudpickle", input_example=X.head(2),
                              pip_requirements=["scikit-learn", "cloudpickle"])
    return out


@pytest.fixture(scope="session")
def mlflow_app(mlflow_model, tmp_path_factory) -> Path:
    from deployers.model_resolution import resolve
    from deployers.scoring import build_app_dir

    info = resolve(str(mlflow_model), tmp_path_factory.mktemp("state"))
    return build_app_dir(info, mlflow_model, tmp_path_factory.mktemp("apps") / "tiny-rf", compile_trees=True)


@pytest.fixture(scope="session")
def breast_cancer():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X


def script_app(folder: Path, body: str, meta: Optional[dict] = None) -> Path:
    """An app dir whose score.py is `body` (tests use these to control timing and errors)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "score.py").write_text(textwrap.dedent(body), encoding="utf-8")
    (folder / "model").mkdir(exist_ok=True)
    (folder / "serving.json").write_text(json.dumps(meta or {"model_name": "script", "model_version": "1"}))
    return folder


class Server:
    """A running `python -m deployers.serving`; `url`, `port`, `log`, `proc`."""

    def __init__(self, app_dir: Path, tmp: Path, *, key: Optional[str] = KEY, extra: tuple = (),
                 wait_ready: bool = True, timeout: float = 90.0, env: Optional[dict] = None) -> None:
        self.log = tmp / f"server-{time.monotonic_ns()}.log"
        args = [sys.executable, "-m", "deployers.serving", "--app-dir", str(app_dir), "--host", "127.0.0.1",
                "--port", "0", "--log-file", str(self.log)]
        if key is None:
            args.append("--no-auth")
        else:
            key_file = tmp / "key"
            key_file.write_text(key + "\n")
            key_file.chmod(0o600)
            args += ["--key-file", str(key_file)]
        if "--workers" not in extra:
            args += ["--workers", "1"]
        args += list(extra)
        self.key = key
        self.proc = subprocess.Popen(args, cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})
        self.port = 0
        self.url = ""
        self._lines: list[str] = []
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()
        if wait_ready:
            self.wait_ready(timeout)

    def _read_stdout(self) -> None:
        for raw in self.proc.stdout:  # type: ignore[union-attr]
            line = raw.decode(errors="replace").rstrip("\n")
            self._lines.append(line)
            if line.startswith("READY "):
                self.url = line.split(" ", 1)[1]
                self.port = int(self.url.rsplit(":", 1)[1])
                self._ready.set()

    @property
    def stdout_lines(self) -> list[str]:
        return list(self._lines)

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.poll() is not None else ""
                raise AssertionError(f"server not ready (rc={self.proc.poll()}): {err[-2000:]}\n"
                                     f"log: {self.read_log()[-2000:]}")

    def read_log(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def request(self, method: str, path: str, body: Any = None, *, key: Optional[str] = "default",
                headers: Optional[dict] = None, timeout: float = 30.0, port: Optional[int] = None) -> tuple[int, dict, Any]:
        return request(port or self.port, method, path, body,
                       key=self.key if key == "default" else key, headers=headers, timeout=timeout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def request(port: int, method: str, path: str, body: Any = None, *, key: Optional[str] = None,
            headers: Optional[dict] = None, timeout: float = 30.0) -> tuple[int, dict, Any]:
    """One HTTP request on a fresh connection; JSON bodies are encoded/decoded."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    hdrs = dict(headers or {})
    if key:
        hdrs["Authorization"] = f"Bearer {key}"
    data = None
    if body is not None:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        data = data.encode() if isinstance(data, str) else data
        hdrs.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, parsed
    finally:
        conn.close()


@pytest.fixture
def start_server(tmp_path):
    """Factory: start_server(app_dir, key=..., extra=(...)); every server is stopped after the test."""
    started: list[Server] = []

    def factory(app_dir: Path, **kw: Any) -> Server:
        srv = Server(app_dir, tmp_path, **kw)
        started.append(srv)
        return srv

    yield factory
    for srv in started:
        srv.stop()


@pytest.fixture(scope="module")
def mlflow_server(mlflow_app, tmp_path_factory):
    """One keyed server on the tiny MLflow model, shared by a module's tests."""
    srv = Server(mlflow_app, tmp_path_factory.mktemp("mlflow-server"),
                 extra=("--max-body-mb", "0.05", "--access-log"))
    yield srv
    srv.stop()
