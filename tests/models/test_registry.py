"""models:/ references against a real embedded MLflow registry (SQLite), register/list, the sample."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from deployers import model_resolution as mr
from deployers.base import DeployContext
from deployers.errors import ModelResolutionError
from deployers.events import EventRecorder

pytestmark = pytest.mark.xdist_group("models")


def test_registry_uri_embedded(tmp_path: Path, clean_env: Path) -> None:
    uri = mr.registry_uri(tmp_path / "st")
    assert uri == f"sqlite:///{(tmp_path / 'st' / 'mlflow' / 'mlflow.db').resolve()}"
    assert (tmp_path / "st" / "mlflow" / "artifacts").is_dir()


def test_sample_is_a_real_working_model(home: Path) -> None:
    import mlflow.pyfunc
    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    info = mr.resolve(mr.SAMPLE_URI, home)
    assert (info.uri, info.name, info.version, info.source) == (mr.SAMPLE_URI, "sample-classifier", "1", "mlflow-registry")
    assert (info.format, info.framework, info.flavor) == ("mlflow", "sklearn", "sklearn")
    data = load_breast_cancer(as_frame=True)
    assert info.input_example["columns"] == list(data.feature_names)
    assert len(info.input_example["data"]) == 2
    assert [c["name"] for c in info.signature["inputs"]] == list(data.feature_names)
    assert any(r.startswith("scikit-learn==") for r in info.requirements)
    assert mr.local_model_dir(info) == home.resolve() / "models" / "sample-classifier" / "1"
    model = mlflow.pyfunc.load_model(info.local_path)
    example = pd.DataFrame(info.input_example["data"], columns=info.input_example["columns"])
    assert list(model.predict(example)) == list(data.target[:2])
    assert (model.predict(data.frame[data.feature_names]) == data.target).mean() > 0.95
    assert "cloudpickle" in (Path(info.local_path) / "MLmodel").read_text()


def test_prepare_sample_again_does_not_retrain(home: Path) -> None:
    before = (home / "mlflow" / "mlflow.db").stat().st_mtime_ns
    info = mr.prepare_sample(home)
    assert info.version == "1"
    assert (home / "mlflow" / "mlflow.db").stat().st_mtime_ns == before  # nothing written to the registry
    [sample] = [m for m in mr.list_registered(home) if m.name == mr.SAMPLE_NAME]
    assert sample.versions == 1


def test_cache_is_reused_and_repaired(home: Path) -> None:
    info = mr.resolve(mr.SAMPLE_URI, home)
    pkl = Path(info.local_path) / "model.pkl"
    stamp = pkl.stat().st_mtime_ns
    assert mr.resolve(mr.SAMPLE_URI, home) == info and pkl.stat().st_mtime_ns == stamp
    # a cache whose origin marker does not match is downloaded again through MLflow
    marker = Path(info.local_path).parent / "1.source.json"
    marker.write_text(json.dumps({"registry": "elsewhere"}))
    events = EventRecorder()
    again = mr.resolve(mr.SAMPLE_URI, home, DeployContext(state_dir=home, events=events))
    assert again == info and any("downloading model" in e.message for e in events.events)
    assert json.loads(marker.read_text())["registry"] != "elsewhere"
    # a cache that lost its files is repaired too
    pkl.unlink()
    assert mr.resolve(mr.SAMPLE_URI, home) == info and pkl.is_file()


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_register_same_content_same_version_then_new_version(home: Path, sample_folder: Path, tmp_path: Path,
                                                             unique_name: str) -> None:
    from mlflow import MlflowClient

    folder = _copy(sample_folder, tmp_path / "my-model")
    first = mr.register(folder, unique_name, home)
    assert (first.uri, first.version, first.source) == (f"models:/{unique_name}/1", "1", "mlflow-registry")
    assert mr.register(folder, unique_name, home).version == "1"
    (folder / "notes.txt").write_text("retrained")
    second = mr.register(folder, unique_name, home)
    assert second.version == "2" and (Path(second.local_path) / "notes.txt").is_file()
    uri = mr.registry_uri(home)
    mv = MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version(unique_name, "2")
    assert mv.tags[mr.HASH_TAG] == mr.content_hash(folder)
    # artifacts were copied into the state dir, not referenced from the user's folder
    assert mv.source.startswith((home.resolve() / "mlflow" / "artifacts").as_uri())
    shutil.rmtree(folder)
    assert mr.resolve(f"models:/{unique_name}/2", home).version == "2"
    [listed] = [m for m in mr.list_registered(home) if m.name == unique_name]
    assert (listed.version, listed.versions, listed.framework, listed.format) == ("2", 2, "sklearn", "mlflow")
    assert listed.uri == f"models:/{unique_name}/2"


def test_alias_and_latest(home: Path, sample_folder: Path, tmp_path: Path, unique_name: str) -> None:
    from mlflow import MlflowClient

    folder = _copy(sample_folder, tmp_path / "m")
    mr.register(folder, unique_name, home)
    (folder / "extra.json").write_text("{}")
    mr.register(folder, unique_name, home)
    uri = mr.registry_uri(home)
    MlflowClient(tracking_uri=uri, registry_uri=uri).set_registered_model_alias(unique_name, "champion", "1")
    by_alias = mr.resolve(f"models:/{unique_name}@champion", home)
    assert (by_alias.version, by_alias.uri) == ("1", f"models:/{unique_name}/1")
    assert not (Path(by_alias.local_path) / "extra.json").exists()
    assert mr.resolve(f"models:/{unique_name}/latest", home).version == "2"
    with pytest.raises(ModelResolutionError) as e:
        mr.resolve(f"models:/{unique_name}@nobody", home)
    assert "alias 'nobody' not found" in e.value.one_line()


@pytest.mark.parametrize("ref,needle", [
    ("models:/sample-classifier/99", "version 99 not found"),
    ("models:/no-such-model-here/1", "'no-such-model-here' version 1 not found"),
    ("models:/no-such-model-here/latest", "no registered model named 'no-such-model-here'"),
])
def test_unknown_registered_model_or_version(home: Path, ref: str, needle: str) -> None:
    with pytest.raises(ModelResolutionError) as e:
        mr.resolve(ref, home)
    line = e.value.one_line()
    assert needle in line and "\n" not in line and "models list" in e.value.hint


@pytest.mark.parametrize("name", ["", "a/b", "../x", "..", "-x", "a b", "x" * 65, "naïve"])
def test_register_rejects_bad_names(home: Path, sample_folder: Path, name: str) -> None:
    with pytest.raises(ModelResolutionError) as e:
        mr.register(sample_folder, name, home)
    assert "invalid model name" in e.value.one_line()


def test_register_rejects_non_mlflow_folder(home: Path, tmp_path: Path) -> None:
    (tmp_path / "model.joblib").write_bytes(b"x")
    with pytest.raises(ModelResolutionError) as e:
        mr.register(tmp_path, "plain", home)
    assert "only MLflow model folders" in e.value.one_line()


def test_list_on_empty_state_dir_creates_nothing(tmp_path: Path, clean_env: Path) -> None:
    assert mr.list_registered(tmp_path / "fresh") == []
    assert not (tmp_path / "fresh" / "mlflow" / "mlflow.db").exists()


def test_mlflow_tracking_uri_is_honoured(sample_folder: Path, tmp_path: Path, clean_env: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    other_db = tmp_path / "team-registry" / "registry.db"
    other_db.parent.mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{other_db}")
    state = tmp_path / "state"
    assert mr.registry_uri(state) == f"sqlite:///{other_db}"
    info = mr.register(_copy(sample_folder, tmp_path / "m"), "team-model", state)
    assert info.version == "1" and other_db.is_file()
    assert not (state / "mlflow" / "mlflow.db").exists()
    assert [m.name for m in mr.list_registered(state)] == ["team-model"]
    assert mr.resolve("models:/team-model/1", state).local_path == str(state.resolve() / "models" / "team-model" / "1")
    with pytest.raises(ModelResolutionError):
        mr.resolve(mr.SAMPLE_URI, state)  # the sample lives in another registry
    # artifacts go under the state dir, never ./mlruns in the working directory
    assert any((state / "mlflow" / "artifacts").iterdir())
    assert not (clean_env / "mlruns").exists()
