"""Shared fixtures: an isolated state dir for every test, and the sample model prepared once;
helpers for the Azure deployer tests (no sign-in, an event recorder, a DEBUG log, files as text)."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
# What exported workflows install in tests: the git repository at an exact commit (export refuses a bare name).
PINNED_INSTALL = "deploy-advisor @ git+https://github.com/example/deploy-advisor@" + "0123456789abcdef" * 2 + "01234567"

# onnxruntime (>= 1.29 on Linux) posts telemetry to mobile.events.data.microsoft.com unless this is set before it
# initializes in a process: tests that load ONNX models in-process (mlflow's onnx flavor) made a later test's blob
# proxy see that CONNECT. Set here, before any test imports onnxruntime; servers started by tests inherit it.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """No test touches ~/.deploy-advisor or a real Azure config."""
    home = tmp_path / "da-home"
    monkeypatch.setenv("DEPLOY_ADVISOR_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    for var in ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP", "AZUREML_WORKSPACE_NAME", "AZURE_LOCATION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DEPLOY_ADVISOR_INSTALL", PINNED_INSTALL)  # exports refuse to run without a pinned artifact
    return home


@pytest.fixture
def no_azure_sign_in(tmp_path, monkeypatch):
    """No az CLI token cache and no credential environment variables: nothing to sign in with."""
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "no-az-cli"))
    for var in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
                "AZURE_USERNAME", "AZURE_PASSWORD", "AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_ENDPOINT", "MSI_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def events():
    from deployers.events import EventRecorder

    return EventRecorder()


@pytest.fixture
def debug_log(tmp_path) -> Path:
    """A file receiving every log record (root logger at DEBUG) while the test runs: secrets must not reach it."""
    path = tmp_path / "run.log"
    handler = logging.FileHandler(path)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()


def file_texts(folder: Path) -> dict[Path, str]:
    """Every file under `folder` as text, bytes decoded as latin-1 so a SQLite DB or WAL is searchable too."""
    return {p: p.read_bytes().decode("latin-1") for p in Path(folder).rglob("*") if p.is_file()}


def wait_for(pred, timeout: float = 30.0):
    """pred()'s first truthy value, polled every 50 ms; AssertionError after `timeout` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture(scope="session")
def sample_home(tmp_path_factory) -> Path:
    """A state dir with the sample model registered (trained once per session); copy it per test."""
    home = tmp_path_factory.mktemp("sample-home")
    env = {**os.environ, "DEPLOY_ADVISOR_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    subprocess.run([str(VENV_BIN / "deploy-advisor"), "models", "prepare-sample"], env=env, check=True,
                   capture_output=True, text=True, timeout=300)
    return home


@pytest.fixture
def home_with_sample(sample_home, isolated_home) -> Path:
    import shutil

    shutil.copytree(sample_home, isolated_home, dirs_exist_ok=True)
    return isolated_home


@pytest.fixture(scope="session")
def echo_plugin_path(tmp_path_factory) -> Path:
    """Install the test plugin package for real (pip, entry points) into a private folder."""
    target = tmp_path_factory.mktemp("plugin-site")
    build = tmp_path_factory.mktemp("plugin-src")
    import shutil

    shutil.copytree(ROOT / "tests" / "plugin_pkg", build / "pkg")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(target), str(build / "pkg")],
                   check=True, capture_output=True, text=True, timeout=300)
    return target


def cli(*args: str, env: dict | None = None, timeout: float = 120, input: str | None = None):
    """Run the installed console script as a user would."""
    return subprocess.run([str(VENV_BIN / "deploy-advisor"), *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout, input=input,
                          stdin=None if input is not None else subprocess.DEVNULL)
