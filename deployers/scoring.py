"""The scoring script and the "app dir" every target serves (DESIGN.md §7).

`render_score_script` renders `templates/score.py.j2` (Azure ML's init()/run()
contract plus a batch-aware `run_batch`); `build_app_dir` lays out what the
local server, the container images and Azure ML all load:

    dest/score.py      the rendered script
    dest/model/        a copy of the model folder (or the single model file)
    dest/serving.json  model name/version/flavor/format, columns and a ready /score body
    dest/compiled/     a tree model's arrays, checked against the model (compiled_trees.py), when it has one

Everything rendered is deterministic (no timestamps) so plan fingerprints are
stable, and user-controlled text reaches the template only as Python literals
(`repr`) or through a strict character whitelist.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any, Optional

from advisor.models import ModelInfo

from . import compiled_trees, model_folder, templating
from .errors import InputError

SCORE_TEMPLATE = "score.py.j2"
DEFAULT_MAX_ROWS = 100_000
_COMMENT_SAFE = re.compile(r"[^A-Za-z0-9_.:/@+ -]")
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".git", ".DS_Store")


def _comment_safe(text: str, limit: int = 120) -> str:
    """Names also appear in comments/docstrings: whitelist characters so nothing can break out."""
    return _COMMENT_SAFE.sub("_", text or "")[:limit]


def _environment():
    return templating.environment(py=_py_literal)


def _py_literal(value: Any) -> str:
    """A Python literal for a str/int/float/bool/None/list value (repr is exact and escapes quotes)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_py_literal(v) for v in value) + "]"
    raise TypeError(f"cannot render {type(value).__name__} into score.py")


def render_score_script(model_info: ModelInfo, *, max_rows: int = DEFAULT_MAX_ROWS) -> str:
    """The score.py text for this model (same text for every target)."""
    if not (1 <= int(max_rows) <= 10_000_000):
        raise InputError(f"max_rows must be between 1 and 10,000,000 (got {max_rows})")
    name = _comment_safe(model_info.name) or "model"
    version = _comment_safe(model_info.version or "", 60)
    text = _environment().get_template(SCORE_TEMPLATE).render(
        model_name=name, model_version=version, model_format=model_info.format,
        framework=model_info.framework, max_rows=int(max_rows))
    compile(text, "score.py", "exec")  # a template bug must fail here, not in a container
    return text


def request_example(model_info: ModelInfo, model_dir: Optional[Path] = None) -> Optional[dict[str, Any]]:
    """A ready `/score` body from the model's input example (Azure ML's `input_data` shape)."""
    example = model_info.input_example
    if example is None and model_dir is not None:
        for name in ("input_example.json",):
            path = model_folder.inside(model_dir, name)
            if path.is_file():
                try:
                    example = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    example = None
    if isinstance(example, str):
        try:
            example = json.loads(example)
        except ValueError:
            return None
    if example is None:
        return None
    if isinstance(example, dict) and ("input_data" in example or ("data" in example and "columns" not in example)):
        return example
    if isinstance(example, (dict, list)):
        return {"input_data": example}
    return None


def _signature_columns(model_info: ModelInfo) -> Optional[list[str]]:
    sig = model_info.signature or {}
    inputs = sig.get("inputs") if isinstance(sig, dict) else None
    if isinstance(inputs, str):
        try:
            inputs = json.loads(inputs)
        except ValueError:
            return None
    if isinstance(inputs, list) and inputs and all(isinstance(c, dict) and c.get("name") for c in inputs):
        return [str(c["name"]) for c in inputs]
    return None


def _copy_model(model_info: ModelInfo, model_dir: Path, target: Path) -> None:
    """Copy the model folder; a single-file model brings only its file (and input example)."""
    src_file = Path(model_info.local_path) if model_info.local_path else None
    if src_file is not None and src_file.is_file() and src_file.parent.resolve() == model_dir.resolve() \
            and not (model_dir / "MLmodel").exists():
        target.mkdir(parents=True)
        shutil.copy2(src_file, target / src_file.name)
        example = model_folder.inside(model_dir, "input_example.json")
        if example.is_file():
            shutil.copy2(example, target / "input_example.json")
        return
    model_folder.check(model_dir)  # copytree follows links: none may leave the folder
    shutil.copytree(model_dir, target, ignore=_SKIP, symlinks=False)


def build_app_dir(model_info: ModelInfo, model_dir: Path, dest: Path, *, compile_trees: bool = False) -> Path:
    """Lay out dest/score.py, dest/model/, dest/serving.json (and dest/compiled/); returns dest.

    `compile_trees=True` also compiles a tree model into plain arrays. That unpickles the model
    (runs its code, in a child without credentials), so only the steps that are about to serve it
    ask for it: the local apply, and the image build (the Dockerfile runs the compiler). A plan,
    an export or a benchmark leave the pickle as it is (what Azure ML's own server loads).

    `dest` may exist (it is refreshed); the model is copied, never linked, so the
    app dir stays valid if the registry cache is cleaned.
    """
    model_dir = Path(model_dir)
    dest = Path(dest)
    if not model_dir.is_dir():
        raise InputError(f"model folder not found: {model_dir}", "resolve the model again")
    if dest.resolve() == model_dir.resolve() or dest.resolve() in model_dir.resolve().parents:
        raise InputError(f"the app folder {dest} must not contain the model folder {model_dir}")
    dest.mkdir(parents=True, exist_ok=True)
    if (dest / "model").exists():
        shutil.rmtree(dest / "model")
    _copy_model(model_info, model_dir, dest / "model")
    (dest / "score.py").write_text(render_score_script(model_info), encoding="utf-8")
    meta = {
        "model_name": model_info.name,
        "model_version": model_info.version,
        "flavor": model_info.flavor,
        "framework": model_info.framework,
        "format": model_info.format,
        "columns": _signature_columns(model_info),
        "input_example": request_example(model_info, model_dir),
        "score_script": "score.py",
        "model_dir": "model",
    }
    (dest / "serving.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    if compile_trees:
        compiled_trees.compile_app_dir(dest)
    else:
        shutil.rmtree(dest / "compiled", ignore_errors=True)
    return dest
