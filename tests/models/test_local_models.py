"""Local model references: MLflow folders, plain model files, and the ways they go wrong."""
from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest

from deployers import model_resolution as mr
from deployers.errors import ModelResolutionError

pytestmark = pytest.mark.xdist_group("models")


def _one_line(err: ModelResolutionError) -> str:
    line = err.one_line()
    assert "\n" not in line and "Traceback" not in line
    return line


@pytest.fixture(scope="module")
def iris_mlflow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real MLflow sklearn model saved by MLflow itself (LogisticRegression on iris)."""
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=300).fit(X, y)
    out = tmp_path_factory.mktemp("iris") / "iris-model"
    mlflow.sklearn.save_model(model, str(out), signature=infer_signature(X, model.predict(X)),
                              input_example=X.head(3), serialization_format="cloudpickle",
                              pip_requirements=["scikit-learn", "cloudpickle"])
    return out


def test_local_mlflow_folder(iris_mlflow: Path, clean_env: Path, tmp_path: Path) -> None:
    from mlflow.models import Model

    info = mr.resolve(str(iris_mlflow), tmp_path)
    assert (info.format, info.framework, info.flavor, info.source) == ("mlflow", "sklearn", "sklearn", "local")
    assert info.name == "iris-model" and info.local_path == str(iris_mlflow.resolve())
    expected_size = sum(p.stat().st_size for p in iris_mlflow.rglob("*") if p.is_file()) / 1_048_576
    assert info.size_mb == pytest.approx(expected_size, abs=0.001) and info.size_mb > 0
    written = (iris_mlflow / "requirements.txt").read_text().split()
    assert info.requirements == written and "scikit-learn" in written and written[0].startswith("mlflow==")
    # the signature matches what MLflow itself reads from the folder
    sig = Model.load(str(iris_mlflow)).signature.to_dict()
    assert info.signature["inputs"] == json.loads(sig["inputs"])
    assert info.signature["outputs"] == json.loads(sig["outputs"])
    assert [c["name"] for c in info.signature["inputs"]][:2] == ["sepal length (cm)", "sepal width (cm)"]
    # the input example is JSON data (split orient) with the 3 saved rows
    assert info.input_example["columns"][0] == "sepal length (cm)"
    assert len(info.input_example["data"]) == 3
    json.dumps(info.input_example)
    assert mr.local_model_dir(info) == iris_mlflow.resolve()
    # pointing at the MLmodel file itself, or a file:// URI, means the same folder
    assert mr.resolve(str(iris_mlflow / "MLmodel"), tmp_path).local_path == info.local_path
    assert mr.resolve(iris_mlflow.resolve().as_uri(), tmp_path).local_path == info.local_path


def _fake_mlflow(folder: Path, flavors: dict, files: dict[str, bytes]) -> Path:
    import yaml
    folder.mkdir(parents=True)
    (folder / "MLmodel").write_text(yaml.safe_dump({"flavors": flavors, "mlflow_version": "3.17.2"}))
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return folder


@pytest.mark.parametrize("flavor,conf,files,framework", [
    ("xgboost", {"data": "model.xgb", "model_format": "xgb"}, {"model.xgb": b"x"}, "xgboost"),
    ("lightgbm", {"data": "model.lgb"}, {"model.lgb": b"x"}, "lightgbm"),
    ("pytorch", {"model_data": "data"}, {"data/model.pth": b"x"}, "pytorch"),
    ("tensorflow", {"saved_model_dir": "tfmodel"}, {"tfmodel/saved_model.pb": b"x"}, "tensorflow"),
    ("onnx", {"data": "model.onnx"}, {"model.onnx": b"x"}, "onnx"),
    ("transformers", {"model_binary": "model"}, {"model/config.json": b"{}"}, "transformers"),
    ("catboost", {"data": "model.cb"}, {"model.cb": b"x"}, "custom"),
])
def test_flavor_maps_to_framework(tmp_path: Path, flavor: str, conf: dict, files: dict, framework: str) -> None:
    first = next(iter(files)).split("/")[0]
    folder = _fake_mlflow(tmp_path / flavor, {
        "python_function": {"loader_module": f"mlflow.{flavor}", "data": first}, flavor: conf}, files)
    info = mr.resolve(str(folder), tmp_path)
    assert (info.framework, info.flavor, info.format) == (framework, flavor, "mlflow")


def test_python_function_only_is_custom(tmp_path: Path) -> None:
    folder = _fake_mlflow(tmp_path / "pyfunc", {
        "python_function": {"loader_module": "mlflow.pyfunc.model", "python_model": "python_model.pkl"}},
        {"python_model.pkl": b"x"})
    info = mr.resolve(str(folder), tmp_path)
    assert (info.framework, info.flavor, info.format) == ("custom", "python_function", "mlflow")
    assert info.signature is None and info.input_example is None


def test_unknown_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelResolutionError) as e:
        mr.resolve(str(missing), tmp_path)
    line = _one_line(e.value)
    assert str(missing) in line and "no such file" in line and "models:/" in e.value.hint
    assert e.value.exit_code == 2


@pytest.mark.parametrize("ref", ["", "s3://bucket/model", "runs:/abc/model", "models:/x", "models:/x/Production",
                                 "models:/a/b/c"])
def test_bad_references(tmp_path: Path, ref: str) -> None:
    with pytest.raises(ModelResolutionError) as e:
        mr.resolve(ref, tmp_path)
    _one_line(e.value)


@pytest.mark.parametrize("mlmodel,why", [
    ("flavors: [unclosed\n  - x: {", "not valid YAML"),
    ("- just\n- a list\n", "not a mapping"),
    ("mlflow_version: 3.17.2\n", "no flavors"),
    ("flavors: {}\n", "no flavors"),
])
def test_corrupt_mlmodel(iris_mlflow: Path, tmp_path: Path, mlmodel: str, why: str) -> None:
    folder = tmp_path / "broken"
    shutil.copytree(iris_mlflow, folder)
    (folder / "MLmodel").write_text(mlmodel)
    with pytest.raises(ModelResolutionError) as e:
        mr.resolve(str(folder), tmp_path)
    line = _one_line(e.value)
    assert why in line and str(folder) in line


def test_missing_model_file(iris_mlflow: Path, tmp_path: Path) -> None:
    folder = tmp_path / "no-weights"
    shutil.copytree(iris_mlflow, folder)
    (folder / "model.pkl").unlink()
    with pytest.raises(ModelResolutionError) as e:
        mr.resolve(str(folder), tmp_path)
    assert "model file 'model.pkl'" in _one_line(e.value) and "missing" in e.value.message


@pytest.fixture(scope="module")
def pickled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_iris(return_X_y=True)
    folder = tmp_path_factory.mktemp("custom") / "tree"
    folder.mkdir()
    (folder / "model.pkl").write_bytes(pickle.dumps(DecisionTreeClassifier(random_state=0).fit(X, y)))
    (folder / "input_example.json").write_text(json.dumps({"data": [X[0].tolist()]}))
    (folder / "requirements.txt").write_text("# pinned\nscikit-learn==1.9.1\n\n")
    return folder


def test_custom_pickle_file_and_folder(pickled: Path, tmp_path: Path) -> None:
    by_file = mr.resolve(str(pickled / "model.pkl"), tmp_path)
    assert (by_file.format, by_file.framework, by_file.flavor, by_file.source) == ("custom", "sklearn", "pickle", "local")
    assert by_file.name == "model" and by_file.local_path == str((pickled / "model.pkl").resolve())
    assert by_file.size_mb == pytest.approx((pickled / "model.pkl").stat().st_size / 1_048_576, abs=0.001)
    assert mr.local_model_dir(by_file) == pickled.resolve()
    assert by_file.input_example == {"data": [[5.1, 3.5, 1.4, 0.2]]}

    by_folder = mr.resolve(str(pickled), tmp_path)
    assert (by_folder.format, by_folder.framework, by_folder.flavor) == ("custom", "sklearn", "pickle")
    assert by_folder.name == "tree" and by_folder.requirements == ["scikit-learn==1.9.1"]
    assert mr.local_model_dir(by_folder) == pickled.resolve()


@pytest.mark.parametrize("files,framework,flavor", [
    ({"model.onnx": b"x", "notes.txt": b"x"}, "onnx", "onnx"),
    ({"m.joblib": b"x"}, "sklearn", "joblib"),
    ({"weights.pt": b"x"}, "pytorch", "torch"),
    ({"config.json": b"{}", "model.safetensors": b"x"}, "transformers", "transformers"),
    ({"saved_model.pb": b"x", "variables/variables.index": b"x"}, "tensorflow", "savedmodel"),
])
def test_custom_folder_framework_guess(tmp_path: Path, files: dict, framework: str, flavor: str) -> None:
    folder = tmp_path / "m"
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    info = mr.resolve(str(folder), tmp_path)
    assert (info.format, info.framework, info.flavor) == ("custom", framework, flavor)


def test_folder_without_a_model(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "README.md").write_text("hello")
    with pytest.raises(ModelResolutionError) as e:
        mr.resolve(str(folder), tmp_path)
    assert "no model file found" in _one_line(e.value)


def test_file_that_is_not_a_model(tmp_path: Path) -> None:
    profile = tmp_path / "profile.yaml"
    profile.write_text("name: x\n")
    with pytest.raises(ModelResolutionError) as e:
        mr.resolve(str(profile), tmp_path)
    assert "not a model file" in _one_line(e.value) and ".onnx" in e.value.hint


def test_local_model_dir_without_local_copy() -> None:
    from advisor.models import ModelInfo
    with pytest.raises(ModelResolutionError) as e:
        mr.local_model_dir(ModelInfo(uri="azureml:m:1", name="m", version="1", source="azureml"))
    assert "no local copy" in _one_line(e.value)
