"""Shared fixtures: one prepared sample registry per test session, isolated env per test.

The sample is trained and registered once (a few seconds) in a session temp
dir; tests that add models to that registry use names of their own.
"""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from deployers import model_resolution as mr

_ENV = ("DEPLOY_ADVISOR_HOME", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "AZURE_SUBSCRIPTION_ID",
        "AZURE_RESOURCE_GROUP", "AZUREML_WORKSPACE_NAME", "AZURE_LOCATION")


@pytest.fixture(scope="session")
def sample_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state dir whose embedded registry already holds models:/sample-classifier/1."""
    home = tmp_path_factory.mktemp("sample-home")
    with pytest.MonkeyPatch.context() as mp:
        for key in _ENV:
            mp.delenv(key, raising=False)
        mp.setenv("DEPLOY_ADVISOR_HOME", str(home))
        mr.prepare_sample(home)
    return home


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No Azure/MLflow settings leak in from the developer's shell; CWD is a scratch folder."""
    for key in _ENV:
        monkeypatch.delenv(key, raising=False)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


@pytest.fixture
def home(sample_home: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DEPLOY_ADVISOR_HOME", str(sample_home))
    return sample_home


@pytest.fixture
def unique_name() -> str:
    return f"m-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def sample_folder(sample_home: Path) -> Path:
    """The sample's cached MLflow folder: a real MLflow model on disk to copy from."""
    return sample_home / "models" / mr.SAMPLE_NAME / "1"
