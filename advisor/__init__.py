"""The advisor: pure decision logic (no Azure SDK, no Streamlit, no network).

Its hot modules (NATIVE_MODULES) may be compiled with mypyc by
`scripts/build_native.py` (`make setup` runs it). The compiled modules are
built from these same .py files; they are used only while `_native.json`
matches the sources byte for byte, so an edited source is never shadowed by a
stale build. DEPLOY_ADVISOR_PURE=1 forces the plain Python modules (the test
suite runs the advisor tests both ways).
"""
from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Optional

#: advisor modules that scripts/build_native.py compiles (import order does not matter)
NATIVE_MODULES = ("catalog", "sizing", "criteria", "cost", "engine", "explain")
NATIVE_STAMP = "_native.json"
_HERE = Path(__file__).resolve().parent


def native_fingerprint() -> dict[str, Any]:
    """What a build is valid for: this Python and the exact bytes of each compiled source."""
    return {"python": f"{sys.implementation.name}-{sys.version_info[0]}.{sys.version_info[1]}",
            "sources": {m: hashlib.sha256((_HERE / f"{m}.py").read_bytes()).hexdigest() for m in NATIVE_MODULES}}


def _compiled_files() -> list[Path]:
    return [p for m in NATIVE_MODULES for s in importlib.machinery.EXTENSION_SUFFIXES
            if (p := _HERE / f"{m}{s}").exists()]


def _pure_reason() -> Optional[str]:
    """Why the compiled modules must not be used (None: use them if they exist)."""
    if os.environ.get("DEPLOY_ADVISOR_PURE", "") not in ("", "0"):
        return "DEPLOY_ADVISOR_PURE is set"
    if not _compiled_files():
        return "not compiled"
    try:
        stamp = json.loads((_HERE / NATIVE_STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "no build stamp"
    if stamp != native_fingerprint():
        return "stale"
    return None


class _SourceFirst:
    """Meta-path finder that loads the NATIVE_MODULES from their .py files, ahead of any compiled module."""

    names = frozenset(f"{__name__}.{m}" for m in NATIVE_MODULES)

    @classmethod
    def find_spec(cls, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in cls.names:
            return None
        src = _HERE / (fullname.rsplit(".", 1)[1] + ".py")
        return importlib.util.spec_from_file_location(fullname, src)


PURE_REASON = _pure_reason()
if PURE_REASON is not None and _compiled_files():
    sys.meta_path.insert(0, _SourceFirst)  # type: ignore[arg-type]
    if PURE_REASON == "stale":
        warnings.warn("advisor: the compiled modules do not match their sources; running pure Python "
                      "(make setup, or python scripts/build_native.py, rebuilds them)", RuntimeWarning, stacklevel=2)


def native_mode() -> str:
    """'compiled' when the advisor's hot modules run as mypyc extensions, else 'pure Python (reason)'."""
    import types

    from . import engine

    if isinstance(engine.recommend, types.FunctionType):  # a compiled function is a builtin
        return f"pure Python ({PURE_REASON or 'compiled modules not loaded'})"
    return "compiled (mypyc)"
