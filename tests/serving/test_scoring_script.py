"""score.py rendering and the app dir: the Azure ML init()/run() contract, in process."""
from __future__ import annotations

import importlib.util
import json
import pickle

import jinja2
import pytest

from advisor.models import ModelInfo
from deployers import scoring
from deployers.errors import InputError


def load_script(app_dir, monkeypatch, name="score_under_test"):
    """Import an app dir's score.py as Azure ML does: AZUREML_MODEL_DIR set, then init()."""
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(app_dir / "model"))
    spec = importlib.util.spec_from_file_location(name, app_dir / "score.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.init()
    return module


def test_app_dir_layout_and_metadata(mlflow_app, mlflow_model):
    assert (mlflow_app / "score.py").is_file()
    assert (mlflow_app / "model" / "MLmodel").is_file()
    assert (mlflow_app / "model" / "model.pkl").read_bytes() == (mlflow_model / "model.pkl").read_bytes()
    meta = json.loads((mlflow_app / "serving.json").read_text())
    assert meta["model_name"] == "tiny-rf" and meta["format"] == "mlflow" and meta["flavor"] == "sklearn"
    assert meta["columns"][0] == "mean radius" and len(meta["columns"]) == 30
    example = meta["input_example"]["input_data"]
    assert example["columns"] == meta["columns"] and len(example["data"]) == 2


def test_rendering_is_deterministic_and_compiles(mlflow_app):
    info = ModelInfo(uri="x", name="m", version="3", format="mlflow", framework="sklearn")
    a, b = scoring.render_score_script(info), scoring.render_score_script(info)
    assert a == b
    compile(a, "score.py", "exec")
    assert "MODEL_VERSION = '3'" in a


def test_hostile_model_names_cannot_inject_code(tmp_path):
    marker = tmp_path / "pwned"
    for name in (f'evil"""\nopen({str(marker)!r}, "w")  # ', f"x'\nopen({str(marker)!r}, 'w')\n'"):
        text = scoring.render_score_script(ModelInfo(uri="x", name=name, version="1\n2"))
        namespace: dict = {"__file__": str(tmp_path / "score.py")}
        exec(compile(text, "score.py", "exec"), namespace)  # defines functions only
        assert not marker.exists()
        assert "\n" not in namespace["MODEL_NAME"] and '"' not in namespace["MODEL_NAME"]


def test_strict_undefined_catches_template_mistakes(monkeypatch, tmp_path):
    (tmp_path / "score.py.j2").write_text("X = {{ not_given }}\n")
    monkeypatch.setenv("DEPLOY_ADVISOR_TEMPLATES", str(tmp_path))
    with pytest.raises(jinja2.UndefinedError):
        scoring.render_score_script(ModelInfo(uri="x", name="m"))


def test_max_rows_is_validated():
    with pytest.raises(InputError):
        scoring.render_score_script(ModelInfo(uri="x", name="m"), max_rows=0)


@pytest.mark.parametrize("compiled, kind", [("1", "compiled-trees"), ("0", "mlflow-sklearn")])
def test_mlflow_script_in_process_matches_the_model(mlflow_app, mlflow_model, breast_cancer, monkeypatch,
                                                    compiled, kind):
    """The forest is served from its compiled arrays by default, from the pickle with
    DEPLOY_ADVISOR_COMPILED=0: the same answers and the same input errors either way."""
    monkeypatch.setenv("DEPLOY_ADVISOR_COMPILED", compiled)
    score = load_script(mlflow_app, monkeypatch, f"score_{kind}")
    with open(mlflow_model / "model.pkl", "rb") as fh:
        model = pickle.load(fh)
    rows = breast_cancer.head(5)
    expected = model.predict(rows).tolist()
    assert score._predictor.kind == kind
    body = {"input_data": {"columns": list(rows.columns), "index": [0, 1, 2, 3, 4], "data": rows.values.tolist()}}
    assert score.run(json.dumps(body)) == expected
    out = score.run_batch([body, {"data": rows.values[:2].tolist()}, {"data": [[1, 2]]}])
    assert out[0] == expected and out[1] == expected[:2]
    assert isinstance(out[2], score.InputError) and "expected 30 values" in str(out[2])
    with pytest.raises(score.InputError, match="missing column"):
        score.run(json.dumps({"input_data": [{"mean radius": 1.0}]}))
    with pytest.raises(score.InputError, match="not valid JSON"):
        score.run("{nope")


def test_pyfunc_loader_gives_the_same_answers(mlflow_app, breast_cancer, monkeypatch):
    monkeypatch.setenv("DEPLOY_ADVISOR_PYFUNC", "1")
    score = load_script(mlflow_app, monkeypatch, "score_pyfunc")
    assert score._predictor.kind == "mlflow-pyfunc"
    rows = breast_cancer.head(4)
    body = {"input_data": rows.to_dict(orient="records")}
    via_pyfunc = score.run(json.dumps(body))
    monkeypatch.delenv("DEPLOY_ADVISOR_PYFUNC")
    plain = load_script(mlflow_app, monkeypatch, "score_plain")
    assert plain._predictor.kind == "compiled-trees"
    assert via_pyfunc == plain.run(json.dumps(body))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # unscaled data; the fit is not the point
def test_plain_pickled_sklearn_model_folder(tmp_path, breast_cancer, monkeypatch):
    from sklearn.linear_model import LogisticRegression

    from deployers.model_resolution import resolve

    X = breast_cancer.values[:200]
    y = (X[:, 0] > 14).astype(int)
    model = LogisticRegression(max_iter=500).fit(X, y)
    folder = tmp_path / "plain"
    folder.mkdir()
    with open(folder / "model.pkl", "wb") as fh:
        pickle.dump(model, fh)
    (folder / "unrelated.txt").write_text("not copied? folders are copied whole")
    info = resolve(str(folder / "model.pkl"), tmp_path / "state")
    app = scoring.build_app_dir(info, folder, tmp_path / "app")
    assert sorted(p.name for p in (app / "model").iterdir()) == ["model.pkl"]  # single file: only the file
    score = load_script(app, monkeypatch, "score_pickle")
    assert score._predictor.kind == "pickle"
    assert score.run(json.dumps({"data": X[:3].tolist()})) == model.predict(X[:3]).tolist()


def test_build_app_dir_refuses_to_nest_the_model(tmp_path, mlflow_model):
    info = ModelInfo(uri="x", name="m", format="mlflow", local_path=str(mlflow_model))
    with pytest.raises(InputError):
        scoring.build_app_dir(info, mlflow_model, mlflow_model.parent)


def test_request_example_shapes():
    info = ModelInfo(uri="x", name="m", input_example={"columns": ["a"], "data": [[1]]})
    assert scoring.request_example(info) == {"input_data": {"columns": ["a"], "data": [[1]]}}
    info = ModelInfo(uri="x", name="m", input_example={"data": [[1]]})
    assert scoring.request_example(info) == {"data": [[1]]}
    info = ModelInfo(uri="x", name="m", input_example=[[1, 2]])
    assert scoring.request_example(info) == {"input_data": [[1, 2]]}
    assert scoring.request_example(ModelInfo(uri="x", name="m")) is None


class DictModel:
    """A pyfunc model whose answer is not one entry per row (as many LLM/transformer wrappers do)."""

    def predict(self, context, model_input, params=None):
        return {"n_rows": len(model_input), "total": float(model_input.to_numpy().sum())}


def test_pyfunc_model_with_a_whole_answer(tmp_path, monkeypatch):
    import mlflow.pyfunc
    import pandas as pd

    class Wrapper(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return DictModel().predict(context, model_input, params)

    folder = tmp_path / "pyfunc-dict"
    mlflow.pyfunc.save_model(str(folder), python_model=Wrapper(),
                             input_example=pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}))
    from deployers.model_resolution import resolve

    info = resolve(str(folder), tmp_path / "state")
    app = scoring.build_app_dir(info, folder, tmp_path / "app")
    score = load_script(app, monkeypatch, "score_pyfunc_dict")
    assert score._predictor.kind == "mlflow-pyfunc"
    body = {"input_data": {"columns": ["a", "b"], "data": [[1.0, 3.0], [2.0, 4.0]]}}
    assert score.run(json.dumps(body)) == {"n_rows": 2, "total": 10.0}
    with pytest.raises(RuntimeError, match="cannot be split"):  # the server then scores them one by one
        score.run_batch([body, body])
