"""Compiled tree models (deployers/compiled_trees.py + score.py's _CompiledTreesPredictor).

The claim is exactness: the compiled arrays give scikit-learn's answers bit for bit,
so every check compares JSON text or arrays with ==, never with a tolerance.
"""
from __future__ import annotations

import hashlib
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest

from deployers import compiled_trees, scoring
from deployers.model_resolution import resolve

from .test_scoring_script import load_script


def _pickle_app(tmp_path, model, name="m"):
    folder = tmp_path / f"{name}-model"
    folder.mkdir()
    with open(folder / "model.pkl", "wb") as fh:
        pickle.dump(model, fh)
    info = resolve(str(folder / "model.pkl"), tmp_path / f"{name}-state")
    return scoring.build_app_dir(info, folder, tmp_path / f"{name}-app", compile_trees=True)


def _hard_rows(model, X, n=4000, seed=3):
    """Random rows, rows on the trees' thresholds and on their float32 neighbours."""
    rng = np.random.default_rng(seed)
    trees = model.estimators_ if hasattr(model, "estimators_") else [model]
    feats = np.concatenate([t.tree_.feature for t in trees])
    thr = np.concatenate([t.tree_.threshold for t in trees])
    cols = []
    for f in range(X.shape[1]):
        t = thr[feats == f]
        if t.size == 0:
            cols.append(rng.choice(X[:, f], n))
            continue
        t32 = rng.choice(t, n).astype(np.float32)
        step = rng.integers(-1, 2, n)
        toward = np.select([step < 0, step > 0], [np.float32(-np.inf), np.float32(np.inf)], t32)
        cols.append(np.nextafter(t32, toward).astype(np.float64))
    return np.concatenate([X, np.stack(cols, axis=1), rng.normal(X.mean(0), X.std(0) * 3, (n, X.shape[1]))])


def _models():
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
    from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor, RandomForestClassifier, RandomForestRegressor
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    Xb, yb = load_breast_cancer(return_X_y=True)
    Xi, yi = load_iris(return_X_y=True)
    Xd, yd = load_diabetes(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[yi]
    return [
        ("rf-binary", RandomForestClassifier(n_estimators=30, random_state=0).fit(Xb, yb), Xb),
        ("et-multiclass-str", ExtraTreesClassifier(n_estimators=20, random_state=1).fit(Xi, names), Xi),
        ("tree-classifier", DecisionTreeClassifier(random_state=0).fit(Xb, yb), Xb),
        ("rf-regressor", RandomForestRegressor(n_estimators=15, random_state=0).fit(Xd, yd), Xd),
        ("et-regressor", ExtraTreesRegressor(n_estimators=10, random_state=0).fit(Xd, yd), Xd),
        ("tree-regressor", DecisionTreeRegressor(max_depth=9, random_state=0).fit(Xd, yd), Xd),
    ]


@pytest.mark.parametrize("case", range(6), ids=["rf-binary", "et-multiclass-str", "tree-classifier", "rf-regressor",
                                                 "et-regressor", "tree-regressor"])
def test_compiled_predictions_equal_sklearn_bit_for_bit(tmp_path, monkeypatch, case):
    name, model, X = _models()[case]
    app = _pickle_app(tmp_path, model, name)
    assert (app / "compiled" / "trees.npz").is_file()
    score = load_script(app, monkeypatch, f"score_ct_{name}")
    assert score._predictor.kind == "compiled-trees"
    rows = _hard_rows(model, X)
    got = score.run(json.dumps({"data": rows.tolist()}))
    assert json.dumps(got) == json.dumps(model.predict(rows).tolist())
    if hasattr(model, "predict_proba"):
        assert np.array_equal(score._predictor.raw(rows), model.predict_proba(rows))
    # micro-batching splits the same answers back per request
    parts = score.run_batch([{"data": rows[:3].tolist()}, {"data": rows[3:4].tolist()}])
    assert parts[0] + parts[1] == got[:4]


def test_values_sklearn_treats_specially_go_to_the_real_model(tmp_path, monkeypatch):
    name, model, X = _models()[0]
    app = _pickle_app(tmp_path, model, name)
    score = load_script(app, monkeypatch, "score_ct_special")
    pred = score._predictor
    assert pred._real is None
    for bad in (1e39, float("inf"), float("nan")):  # beyond float32, infinite, missing
        row = X[:1].copy()
        row[0, 3] = bad
        try:
            with np.errstate(over="ignore"):  # sklearn's own float32 cast of 1e39 warns before it refuses
                expected = ("ok", json.dumps(model.predict(row).tolist()))
        except ValueError as exc:
            expected = ("error", str(exc).splitlines()[0])
        try:
            with np.errstate(over="ignore"):
                got = ("ok", json.dumps(pred.predict(row)))
        except ValueError as exc:
            got = ("error", str(exc).splitlines()[0])
        assert got == expected
    assert pred._real is not None and pred._real.kind == "pickle"


def test_mlflow_forest_starts_without_importing_sklearn_scipy_or_pandas(mlflow_app):
    """The cold-start claim itself: a fresh interpreter serves the MLflow forest with numpy alone."""
    code = (
        "import json, os, sys, importlib.util\n"
        f"os.environ['AZUREML_MODEL_DIR'] = {str(mlflow_app / 'model')!r}\n"
        f"spec = importlib.util.spec_from_file_location('score', {str(mlflow_app / 'score.py')!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); m.init()\n"
        "meta = json.load(open(os.path.join(os.path.dirname(m.__file__), 'serving.json')))\n"
        "out = m.run(json.dumps(meta['input_example']))\n"
        "print(json.dumps([m._predictor.kind, out, sorted(k for k in ('sklearn', 'scipy', 'pandas') if k in sys.modules)]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    kind, out, heavy = json.loads(proc.stdout.strip().splitlines()[-1])
    assert kind == "compiled-trees" and heavy == [] and len(out) == 2


def test_a_compiled_file_for_another_model_is_ignored(tmp_path, monkeypatch):
    name, model, X = _models()[0]
    app = _pickle_app(tmp_path, model, name)
    other = _pickle_app(tmp_path, _models()[2][1], "other")
    (app / "compiled" / "trees.npz").write_bytes((other / "compiled" / "trees.npz").read_bytes())
    score = load_script(app, monkeypatch, "score_ct_mismatch")
    assert score._predictor.kind == "pickle"
    assert score.run(json.dumps({"data": X[:5].tolist()})) == model.predict(X[:5]).tolist()


def test_compiled_path_can_be_switched_off(tmp_path, monkeypatch):
    name, model, X = _models()[0]
    app = _pickle_app(tmp_path, model, name)
    monkeypatch.setenv("DEPLOY_ADVISOR_COMPILED", "0")
    assert load_script(app, monkeypatch, "score_ct_off")._predictor.kind == "pickle"


def test_unsupported_models_are_served_from_the_pickle(tmp_path, monkeypatch):
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    X, y = load_breast_cancer(return_X_y=True)
    cases = [
        ("lr", LogisticRegression(max_iter=3000).fit(X, y), "not a tree model"),
        ("jobs", RandomForestClassifier(n_estimators=3, n_jobs=2, random_state=0).fit(X, y), "n_jobs"),
        ("multi", RandomForestClassifier(n_estimators=3, random_state=0).fit(X, np.stack([y, 1 - y], 1)),
         "several outputs"),
    ]
    for name, model, why in cases:
        app = _pickle_app(tmp_path, model, name)
        assert not (app / "compiled").exists()
        assert why in compiled_trees.compile_app_dir(app)
        score = load_script(app, monkeypatch, f"score_ct_{name}")
        assert score._predictor.kind == "pickle"


def test_compiled_file_is_deterministic(tmp_path):
    name, model, X = _models()[1]
    a = _pickle_app(tmp_path, model, "a") / "compiled" / "trees.npz"
    b = _pickle_app(tmp_path, model, "b") / "compiled" / "trees.npz"
    assert hashlib.sha256(a.read_bytes()).hexdigest() == hashlib.sha256(b.read_bytes()).hexdigest()
    with np.load(a, allow_pickle=False) as npz:  # readable without pickle: nothing executes on load
        meta = json.loads(str(npz["meta"]))
    assert meta["model_class"] == "ExtraTreesClassifier" and meta["trees"] == 20


@pytest.mark.parametrize("damage", ["empty", "truncated", "bad-crc"])
def test_a_damaged_compiled_file_falls_back_to_the_pickle(tmp_path, monkeypatch, damage):
    """An accidentally damaged trees.npz (partial copy, full disk, bit rot) must not stop the server:
    the compiled file is an optimisation, the pickle is always there to serve from."""
    name, model, X = _models()[0]
    app = _pickle_app(tmp_path, model, name)
    path = app / "compiled" / "trees.npz"
    good = path.read_bytes()
    mid = len(good) // 2
    path.write_bytes({"empty": b"", "truncated": good[:mid],
                      "bad-crc": good[:mid] + bytes([good[mid] ^ 0xFF]) + good[mid + 1:]}[damage])
    score = load_script(app, monkeypatch, f"score_ct_damaged_{damage.replace('-', '_')}")
    assert score._predictor.kind == "pickle"
    assert score.run(json.dumps({"data": X[:5].tolist()})) == model.predict(X[:5]).tolist()


def test_the_build_time_check_rejects_wrong_arrays_even_with_special_rows(tmp_path):
    """The check must compare the compiled arrays with the model, not the model with itself: rows with a
    NaN are served by the real model, so they must not count. Here the arrays really are wrong (every
    leaf value shifted) and the check rows include NaN and beyond-float32 rows."""
    from sklearn.datasets import load_diabetes
    from sklearn.tree import DecisionTreeRegressor

    X, y = load_diabetes(return_X_y=True)
    model = DecisionTreeRegressor(max_depth=6, random_state=0).fit(X, y)
    app = _pickle_app(tmp_path, model, "regressor")
    good = app / "compiled" / "trees.npz"
    with np.load(good, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays.pop("meta")))
    arrays["value"] = arrays["value"] + 1.0
    wrong = tmp_path / "wrong.npz"
    compiled_trees._write_npz(wrong, arrays, meta)

    script = compiled_trees._load_script(app / "score.py")
    path, fn, columns, types, kind = script._direct_source(str(app / "model"))
    real = script._EstimatorPredictor(model, fn, columns, types, kind)
    special = X[:4].copy()
    special[0, 0], special[1, 1], special[2, 2] = float("nan"), float("inf"), 1e39
    rows = np.concatenate([special, X[:50]])
    compiled = script._load_compiled(path, fn, columns, types, kind, compiled_file=str(good))
    assert compiled_trees._check(script, model, real, compiled, rows) is None
    compiled = script._load_compiled(path, fn, columns, types, kind, compiled_file=str(wrong))
    assert "did not reproduce" in compiled_trees._check(script, model, real, compiled, rows)
    only_special = script._load_compiled(path, fn, columns, types, kind, compiled_file=str(wrong))
    assert compiled_trees._check(script, model, real, only_special, special[:3]) == \
        "no finite rows to check the compiled trees on"


def test_a_large_request_is_served_in_row_chunks_without_a_trees_by_rows_array(tmp_path, monkeypatch):
    """Many rows, many trees, several classes: the same answers as sklearn (tree-by-tree sums)."""
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier

    X, y = load_digits(return_X_y=True)
    model = RandomForestClassifier(n_estimators=40, random_state=0).fit(X, y)
    app = _pickle_app(tmp_path, model, "digits")
    score = load_script(app, monkeypatch, "score_ct_digits")
    rows = np.concatenate([X] * 3)  # 5,391 rows: three chunks of at most 2,048
    assert score._predictor.kind == "compiled-trees"
    assert np.array_equal(score._predictor.raw(rows), model.predict_proba(rows))
    assert score.run(json.dumps({"data": rows.tolist()})) == model.predict(rows).tolist()


def test_only_special_rows_go_to_the_real_model(tmp_path, monkeypatch):
    name, model, X = _models()[3]  # a regressor: NaN rows get a value from sklearn's missing-value routing
    app = _pickle_app(tmp_path, model, name)
    score = load_script(app, monkeypatch, "score_ct_mixed")
    rows = X[:6].copy()
    rows[2, 0] = float("nan")
    try:
        expected = json.dumps(model.predict(rows).tolist())
    except ValueError:
        pytest.skip("this scikit-learn refuses NaN for the forest")
    assert json.dumps(score._predictor.predict(rows)) == expected


def test_models_pickled_by_another_scikit_learn_version_are_not_compiled(tmp_path, monkeypatch):
    """The arrays are checked with this process's scikit-learn; a pickle from another version may be
    served by another one in its image, so it keeps the pickle path."""
    import sklearn.base

    name, model, X = _models()[2]
    folder = tmp_path / "old-model"
    folder.mkdir()
    monkeypatch.setattr(sklearn.base, "__version__", "0.24.2")  # what __getstate__ records, as an old release would
    with open(folder / "model.pkl", "wb") as fh:
        pickle.dump(model, fh)
    monkeypatch.undo()
    app = scoring.build_app_dir(resolve(str(folder / "model.pkl"), tmp_path / "state"), folder, tmp_path / "app",
                                compile_trees=True)
    assert not (app / "compiled").exists()
    assert "pickled by another scikit-learn version" in compiled_trees.compile_app_dir(app)
