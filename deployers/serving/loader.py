"""Load an app dir's score.py the way Azure ML's server does: a module with init() and run()."""
from __future__ import annotations

import gc
import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Optional


class ScriptError(RuntimeError):
    """The app dir or its scoring script is unusable (one line, shown at startup)."""


def read_meta(app_dir: Path) -> dict[str, Any]:
    path = app_dir / "serving.json"
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ScriptError(f"{path}: not valid JSON ({exc.__class__.__name__})") from None
    return meta if isinstance(meta, dict) else {}


def import_script(app_dir: Path) -> ModuleType:
    """Import app_dir/score.py as module `score` (helpers next to it stay importable)."""
    path = app_dir / "score.py"
    if not path.is_file():
        raise ScriptError(f"no score.py in {app_dir}")
    model_dir = app_dir / "model"
    if model_dir.is_dir():  # the app dir contract: the model sits next to the script
        os.environ["AZUREML_MODEL_DIR"] = str(model_dir)
    if str(app_dir) not in sys.path:
        sys.path.insert(0, str(app_dir))
    spec = importlib.util.spec_from_file_location("score", path)
    if spec is None or spec.loader is None:
        raise ScriptError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["score"] = module
    spec.loader.exec_module(module)
    for name in ("init", "run"):
        if not callable(getattr(module, name, None)):
            raise ScriptError(f"{path} defines no {name}() function")
    return module


def prepare(app_dir: Path, warmup: Optional[Any] = None) -> tuple[Optional[Callable[[list], list]], Callable[[Any], Any]]:
    """Import + init() (+ one warm-up call); returns (run_batch or None, run).

    Runs on the scoring thread. The collector is off while loading, and the heap is
    frozen afterwards (gc.freeze) so collections stop re-scanning the model and the
    libraries: full collections over a loaded model are what cause p99 spikes.
    """
    enabled = gc.isenabled()
    gc.disable()  # imports allocate millions of objects: collecting during them only costs time
    try:
        module = import_script(app_dir)
        module.init()
        run_batch = getattr(module, "run_batch", None)
        run_batch = run_batch if callable(run_batch) else None
        if warmup is not None:
            try:
                if run_batch is not None:
                    run_batch([warmup])
                else:
                    module.run(json.dumps(warmup))
            except Exception:  # noqa: BLE001 - a bad example must not block serving; requests will tell
                import logging

                logging.getLogger("deployers.serving").warning("warm-up call with the input example failed",
                                                               exc_info=True)
    finally:
        gc.freeze()  # what is loaded now is never collected: keep it out of every later collection
        if enabled:
            gc.enable()
    return run_batch, module.run
