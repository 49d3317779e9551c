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
the trees in a nondeterministic order, so even sklearn's own bits vary),
pickled by the scikit-learn version that checks them.

Compiling loads the model, so it runs only where the model is about to be
served: the local target's apply and the image build (a RUN step in the
Dockerfile), never a plan or an export. The model is unpickled in a child
process (`python -m deployers.compiled_trees APP_DIR`) whose environment is an
allow-list (child_env.py: no credentials), never in the CLI or UI process; a
pickle is opened only when its opcodes name nothing but a tree model's classes
and numpy's array constructors (`pickle_globals`).
"""
from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import subprocess
import sys
import warnings
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
# Every global a plain pickle of a supported tree model names (numpy 1.x and 2.x, pickle protocols 0-5). A pickle
# naming anything else is not opened: unpickling can only call what the pickle names.
_NUMPY_CORE = ("multiarray", "_reconstruct"), ("multiarray", "scalar"), ("numeric", "_frombuffer")
ALLOWED_GLOBALS = frozenset(
    {tuple(name.rsplit(".", 1)) for name in SUPPORTED}
    | {("sklearn.tree._classes", c) for c in ("ExtraTreeClassifier", "ExtraTreeRegressor")}
    | {("sklearn.tree._tree", "Tree"), ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}  # protocol 2 bytes
    | {(mod, "_reconstructor") for mod in ("copyreg", "copy_reg")} | {(mod, "object") for mod in ("builtins", "__builtin__")}
    | {(f"numpy.{core}.{mod}", name) for core in ("core", "_core") for mod, name in _NUMPY_CORE})
TIMEOUT_S = 600
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
        reason = _precheck(app_dir) or _compile_in_child(app_dir)
    except Exception as exc:  # noqa: BLE001 - compiling is an optimisation: never fail a deployment over it
        reason = f"compiling failed ({exc.__class__.__name__}: {str(exc)[:120]})"
    if reason is not None:
        _remove(out)
        log.info("serving the pickle, not compiled trees: %s", reason)
    return reason


def _precheck(app_dir: Path) -> Optional[str]:
    """Why there is nothing to compile, decided without unpickling anything (None: worth a try)."""
    return _inspect(app_dir)[0]


def _inspect(app_dir: Path) -> tuple[Optional[str], Any, Any]:
    """(reason not to compile or None, the rendered script as a module, its _direct_source)."""
    script = _load_script(app_dir / "score.py")
    source = script._direct_source(str(app_dir / "model"))
    if source is None:
        return "the model is not a scikit-learn pickle loaded directly", script, source
    path, fn = source[0], source[1]
    if fn != "predict":
        return f"the MLflow model predicts with {fn}()", script, source
    names = pickle_globals(Path(path))
    if names is None:
        return "the model file is not a plain pickle this compiler can read without loading it", script, source
    unknown = sorted(".".join(n) for n in names - ALLOWED_GLOBALS)
    if unknown:
        return f"the pickle is not a tree model this compiler knows (it names {unknown[0][:80]})", script, source
    return None, script, source


_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING", "STRING"}
_GET_OPS = {"GET", "BINGET", "LONG_BINGET"}
_PUT_OPS = {"PUT", "BINPUT", "LONG_BINPUT"}
_NO_STACK_OPS = {"PROTO", "FRAME", "MEMOIZE", *_PUT_OPS}


def pickle_globals(path: Path) -> Optional[set[tuple[str, str]]]:
    """Every (module, name) the pickle at `path` would import, read from its opcodes without
    running it; None when that cannot be told (not a pickle, a joblib file with raw arrays inside,
    a STACK_GLOBAL whose operands are not plain strings pushed just before it)."""
    import pickletools

    names: set[tuple[str, str]] = set()
    recent: list[object] = []  # what the latest opcodes pushed: a str, or None for anything else
    memo: dict[int, object] = {}
    try:
        with open(path, "rb") as fh:
            for op, arg, _pos in pickletools.genops(fh):
                kind = op.name
                if kind in ("GLOBAL", "INST"):
                    module, _, name = str(arg).partition(" ")
                    names.add((module, name))
                elif kind == "STACK_GLOBAL":
                    if len(recent) < 2 or not all(isinstance(v, str) for v in recent[-2:]):
                        return None
                    names.add((str(recent[-2]), str(recent[-1])))
                if kind == "MEMOIZE":
                    memo[len(memo)] = recent[-1] if recent else None
                elif kind in _PUT_OPS:
                    memo[int(arg)] = recent[-1] if recent else None
                elif kind in _GET_OPS:
                    recent.append(memo.get(int(arg)))
                elif kind in _STRING_OPS:
                    recent.append(arg if isinstance(arg, str) else None)
                elif kind not in _NO_STACK_OPS:
                    recent.append(None)  # pops, builds, containers: the operands before it are gone
                del recent[:-2]
    except (OSError, ValueError, UnicodeDecodeError):  # genops raises ValueError on anything not a pickle
        return None
    return names


def _compile_in_child(app_dir: Path) -> Optional[str]:
    from .child_env import child_env

    env = child_env()
    proc = subprocess.run([sys.executable, "-m", "deployers.compiled_trees", str(app_dir)], capture_output=True,
                          text=True, timeout=TIMEOUT_S, env=env, stdin=subprocess.DEVNULL)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return f"compiling failed ({last[:160]})"
    return json.loads(lines[-1])["reason"]


def main(argv: Optional[list[str]] = None) -> int:
    """Child process: compile one app dir, print {"reason": null | "..."} as the last line."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m deployers.compiled_trees APP_DIR", file=sys.stderr)
        return 2
    app_dir = Path(args[0])
    try:
        reason = _compile(app_dir, app_dir / COMPILED_PATH)
    except Exception as exc:  # noqa: BLE001 - reported as the reason
        reason = f"compiling failed ({exc.__class__.__name__}: {str(exc)[:120]})"
    if reason is not None:
        _remove(app_dir / COMPILED_PATH)  # no partial file (the image build runs only this child)
    print(json.dumps({"reason": reason}))
    return 0


def _compile(app_dir: Path, out: Path) -> Optional[str]:
    import sklearn

    reason, script, source = _inspect(app_dir)
    if reason is not None:
        return reason
    path, fn, columns, types, kind = source
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        model = script._load_pickle(path)
    if any(type(w.message).__name__ == "InconsistentVersionWarning" for w in seen):
        return f"the model was pickled by another scikit-learn version than this one ({sklearn.__version__})"
    qualname = f"{type(model).__module__}.{type(model).__qualname__}"
    if qualname not in SUPPORTED:
        return f"{type(model).__name__} is not a tree model this compiler knows"
    real = script._EstimatorPredictor(model, fn, columns, types, kind)
    arrays, meta = _arrays(model, real)
    if isinstance(arrays, str):
        return arrays
    meta.update(format=script.COMPILED_FORMAT, source_sha256=script._sha256(path), columns=real.columns,
                model_class=type(model).__name__, sklearn_version=sklearn.__version__,
                allow_nan=script._accepts_missing(model))
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
    with np.errstate(over="ignore"):  # "missing values go right" splits use an infinite threshold: skip them
        usable = np.abs(thresholds.astype(np.float32)) < np.finfo(np.float32).max
    feats, thresholds = feats[usable], thresholds[usable]
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
    """None when the compiled arrays give exactly the real model's answers on X. Only finite rows
    count (the others are served by the real model, so they would compare sklearn with itself),
    and the served path must not have fallen back to the real model for any of them."""
    import numpy as np

    with np.errstate(over="ignore", invalid="ignore"):
        X = X[np.isfinite(X.astype(np.float32)).all(axis=1)]
    if len(X) == 0:
        return "no finite rows to check the compiled trees on"
    expected = json.dumps(real.predict(X))
    if json.dumps(script._jsonable(compiled._answers(compiled.raw(X)))) != expected:
        return "the compiled trees did not reproduce the model's predictions exactly"
    if json.dumps(compiled.predict(X)) != expected or compiled._real is not None:
        return "the compiled predictor did not serve the checked rows from its arrays"
    if compiled.classes is not None:
        frame = X if real.frame_columns is None else real._pd.DataFrame(X, columns=real.frame_columns)
        if not np.array_equal(compiled.raw(X), model.predict_proba(frame)):
            return "the compiled trees did not reproduce the model's class probabilities exactly"
    return None


def _remove(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".tmp")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
    try:
        path.parent.rmdir()  # only when empty
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main())
