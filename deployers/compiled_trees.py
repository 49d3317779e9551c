"""Compile a scikit-learn tree model in an app dir into arrays the scoring script predicts with numpy alone.

Why: importing scikit-learn (with SciPy and pandas) is most of a scoring
server's cold start, ~1 s of the ~1.2 s it takes to serve the sample forest
on this class of machine, and a forest's predict spends most of its time in
per-tree Python overhead. `templates/score.py.j2` (`_CompiledTreesPredictor`)
replays sklearn's own arithmetic on the arrays written here, so the answers
are the same bit for bit; `compile_app_dir` proves it before keeping the file,
by loading the rendered script and comparing its compiled predictor with the
real model on the input example and on rows placed on, just above and just
below every threshold the trees use. Any mismatch, any unsupported model, any
error: no file, and the script loads the pickle as before.

Supported: DecisionTree / RandomForest / ExtraTrees, classifier or regressor,
one output, numeric inputs, forests with n_jobs None or 1 (several jobs add
the trees in a nondeterministic order, so even sklearn's own bits vary).
"""
from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import zipfile
from pathlib import Path
from typing import Any, Optional

log = logging.getLogger(__name__)

COMPILED_PATH = Path("compiled") / "trees.npz"
SUPPORTED = {
    "sklearn.tree._classes.DecisionTreeClassifier", "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.ensemble._forest.RandomForestClassifier", "sklearn.ensemble._forest.RandomForestRegressor",
    "sklearn.ensemble._forest.ExtraTreesClassifier", "sklearn.ensemble._forest.ExtraTreesRegressor",
}
MAX_NODES = 5_000_000  # beyond this the arrays cost more memory than the compiled path saves time
CHECK_ROWS = 3000
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member dates: the same model gives the same bytes (image tags hash them)


def compile_app_dir(app_dir: Path) -> Optional[str]:
    """Write app_dir/compiled/trees.npz when the app's model can be compiled and checks out.

    Returns None when written, else the one-line reason it was not (logged at info level:
    the script then loads the pickle, which is always correct)."""
    app_dir = Path(app_dir)
    out = app_dir / COMPILED_PATH
    try:
        reason = _compile(app_dir, out)
    except Exception as exc:  # noqa: BLE001 - compiling is an optimisation: never fail a deployment over it
        reason = f"compiling failed ({exc.__class__.__name__}: {str(exc)[:120]})"
    if reason is not None:
        _remove(out)
        log.info("serving the pickle, not compiled trees: %s", reason)
    return reason


def _compile(app_dir: Path, out: Path) -> Optional[str]:
    script = _load_script(app_dir / "score.py")
    source = script._direct_source(str(app_dir / "model"))
    if source is None:
        return "the model is not a scikit-learn pickle loaded directly"
    path, fn, columns, types, kind = source
    if fn != "predict":
        return f"the MLflow model predicts with {fn}()"
    model = script._load_pickle(path)
    qualname = f"{type(model).__module__}.{type(model).__qualname__}"
    if qualname not in SUPPORTED:
        return f"{type(model).__name__} is not a tree model this compiler knows"
    real = script._EstimatorPredictor(model, fn, columns, types, kind)
    arrays, meta = _arrays(model, real)
    if isinstance(arrays, str):
        return arrays
    meta.update(format=script.COMPILED_FORMAT, source_sha256=script._sha256(path), columns=real.columns,
                model_class=type(model).__name__)
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_npz(out, arrays, meta)
    compiled = script._load_compiled(path, fn, columns, types, kind, compiled_file=str(out))
    if compiled is None:
        return "the compiled file did not load back"
    return _check(script, model, real, compiled, _check_rows(app_dir, script, real, arrays))


def _load_script(path: Path) -> Any:
    """The rendered score.py as a private module: the checks run the code that will serve."""
    spec = importlib.util.spec_from_file_location(f"_deploy_advisor_score_{abs(hash(str(path)))}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _arrays(model: Any, real: Any) -> tuple[Any, dict]:
    """All trees as one set of flat arrays with global node ids; leaves point to themselves."""
    import numpy as np

    forest = hasattr(model, "estimators_")
    trees = list(model.estimators_) if forest else [model]
    if getattr(model, "n_outputs_", 1) != 1:
        return "models with several outputs are not compiled", {}
    if forest and getattr(model, "n_jobs", None) not in (None, 1):
        return "a forest with n_jobs > 1 sums its trees in no fixed order", {}
    if not real.numeric or real.frame_columns is not None and real.columns != real.frame_columns:
        return "the inputs are not plain numeric columns in the model's own order", {}
    classifier = hasattr(model, "classes_")
    if classifier:
        classes = np.asarray(model.classes_)
        if classes.dtype.kind not in "biufU":
            return f"class labels of dtype {classes.dtype} cannot be stored without pickle", {}
    total = sum(int(t.tree_.node_count) for t in trees)
    if total > MAX_NODES:
        return f"{total:,} tree nodes is more than {MAX_NODES:,}", {}
    left, right, feature, threshold, value, roots = [], [], [], [], [], []
    base = 0
    depth = 0
    for est in trees:
        tree = est.tree_
        n = int(tree.node_count)
        ids = np.arange(n, dtype=np.int64)
        leaf = tree.children_left < 0
        left.append(np.where(leaf, ids, tree.children_left).astype(np.int64) + base)
        right.append(np.where(leaf, ids, tree.children_right).astype(np.int64) + base)
        feature.append(np.where(leaf, 0, tree.feature).astype(np.int64))
        threshold.append(np.where(leaf, 0.0, tree.threshold).astype(np.float64))
        value.append(np.asarray(tree.value, dtype=np.float64)[:, 0, :])
        roots.append(base)
        base += n
        depth = max(depth, int(tree.max_depth))
    arrays = {"left": np.concatenate(left), "right": np.concatenate(right), "feature": np.concatenate(feature),
              "threshold": np.concatenate(threshold), "value": np.ascontiguousarray(np.concatenate(value)),
              "roots": np.asarray(roots, dtype=np.int64)}
    if classifier:
        arrays["classes"] = classes
    width = real.width if real.width is not None else int(model.n_features_in_)
    return arrays, {"n_features": width, "depth": depth, "forest": forest, "classifier": classifier,
                    "trees": len(trees), "nodes": total}


def _write_npz(out: Path, arrays: dict, meta: dict) -> None:
    """np.savez with fixed dates and sorted members (deterministic bytes), written atomically."""
    import numpy as np

    tmp = out.with_name(out.name + ".tmp")
    members = dict(arrays, meta=np.asarray(json.dumps(meta, sort_keys=True)))
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(members):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(members[name]), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE), buf.getvalue())
    os.replace(tmp, out)


def _check_rows(app_dir: Path, script: Any, real: Any, arrays: dict) -> Any:
    """The input example, then rows whose every value sits on, just above or just below one of the
    trees' thresholds for that feature (float32 neighbours: where a cast or a comparison could differ)."""
    import numpy as np

    rows = []
    try:
        example = json.loads((app_dir / "serving.json").read_text(encoding="utf-8")).get("input_example")
        if example is not None:
            rows = [list(map(float, r)) for r in script.parse_rows(example, real)]
    except (OSError, ValueError, TypeError, script.InputError):
        rows = []
    width = real.width if real.width is not None else int(arrays["feature"].max()) + 1
    rng = np.random.default_rng(0)
    is_split = arrays["left"] != np.arange(len(arrays["left"]))
    feats, thresholds = arrays["feature"][is_split], arrays["threshold"][is_split]
    cols = []
    for f in range(width):
        t = thresholds[feats == f]
        if t.size == 0:
            cols.append(rng.normal(0.0, 1.0, CHECK_ROWS))
            continue
        picked = rng.choice(t, CHECK_ROWS)
        t32 = picked.astype(np.float32)
        nudge = rng.integers(0, 4, CHECK_ROWS)
        col = np.select([nudge == 0, nudge == 1, nudge == 2],
                        [picked, t32.astype(np.float64),
                         np.nextafter(t32, np.float32(np.inf)).astype(np.float64)],
                        np.nextafter(t32, np.float32(-np.inf)).astype(np.float64))
        cols.append(col)
    grid = np.stack(cols, axis=1) if cols else np.zeros((0, width))
    if rows:
        grid = np.concatenate([np.asarray(rows, dtype=np.float64).reshape(-1, width), grid])
    return grid


def _check(script: Any, model: Any, real: Any, compiled: Any, X: Any) -> Optional[str]:
    """None when the compiled predictor gives exactly the real model's answers on X."""
    import numpy as np

    if json.dumps(compiled.predict(X)) != json.dumps(real.predict(X)):
        return "the compiled trees did not reproduce the model's predictions exactly"
    if compiled.classes is not None:
        frame = X if real.frame_columns is None else real._pd.DataFrame(X, columns=real.frame_columns)
        if not np.array_equal(compiled.raw(X), model.predict_proba(frame)):
            return "the compiled trees did not reproduce the model's class probabilities exactly"
    return None


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    try:
        path.parent.rmdir()  # only when empty
    except OSError:
        pass
