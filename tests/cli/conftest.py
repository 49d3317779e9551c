"""Fixtures for the headless CLI tests: a slow, thread-safe test target and spec-file helpers."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def fleet_plugin_path(tmp_path_factory) -> Path:
    """Install the 'filestore' test plugin for real (pip, entry points) into a private folder."""
    target = tmp_path_factory.mktemp("fleet-plugin-site")
    build = tmp_path_factory.mktemp("fleet-plugin-src")
    shutil.copytree(HERE / "plugin_pkg", build / "pkg")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(target), str(build / "pkg")],
                   check=True, capture_output=True, text=True, timeout=300)
    return target


@pytest.fixture
def fleet_env(fleet_plugin_path, monkeypatch) -> dict:
    """Env for `cli(...)` with the plugin importable; the in-process registry sees it too."""
    monkeypatch.syspath_prepend(str(fleet_plugin_path))
    import importlib

    importlib.invalidate_caches()
    from deployers import registry

    registry._cache.pop("filestore", None)
    return {"PYTHONPATH": os.pathsep.join([str(fleet_plugin_path), os.environ.get("PYTHONPATH", "")])}


def write_spec(folder: Path, stem: str, **fields) -> Path:
    """A filestore spec file `<folder>/<stem>.yaml` named `stem` (fields override the defaults)."""
    doc = {"name": stem, "target": "filestore", "model": "m", "settings": {}}
    doc.update(fields)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def json_lines(stderr: str) -> list[dict]:
    """Every stderr line must be one JSON object (events with --output json)."""
    return [json.loads(line) for line in stderr.splitlines() if line.strip()]
