"""The advisor: pure decision logic (no Azure SDK, no Streamlit, no network).

Its hot modules (NATIVE_MODULES) may be compiled with mypyc by
`scripts/build_native.py` (`make setup` runs it). The compiled modules are
built from these same .py files; they are used only while `_native.json`
matches the sources byte for byte, so an edited source is never shadowed by a
stale build. DEPLOY_ADVISOR_PURE=1 forces the plain Python modules (the test
suite runs the advisor tests both ways).

Writing the hot modules for the compiler (benchmarks/recommend_instructions.py
measures the effect): numbers in text go through numtext.fmt(x, spec) (a memo
over format(x, spec); format() itself for an integer spec, or a figure that
rarely repeats, such as the scores in sensitivity texts), since
mypyc turns an f-string format spec into a str.format call per field; a value read
from an untyped tuple or dict into typed arithmetic is cast or annotated where
it is assigned, since assigning Any to a declared variable makes it Any again;
module-level constants are Final.
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
NATIVE_MODULES = ("numtext", "catalog", "sizing", "criteria", "cost", "engine", "explain")
NATIVE_STAMP = "_native.json"
_HERE = Path(__file__).resolve().parent


def native_fingerprint() -> dict[str, Any]:
    """What a build is valid for: this Python and the exact bytes of each compiled source."""
    return {"python": f"{sys.implementation.name}-{sys.version_info[0]}.{sys.version_info[1]}",
            "sources": {m: hashlib.sha256((_HERE / f"{m}.py").read_bytes()).hexdigest() for m in NATIVE_MODULES}}


def compiled_files() -> dict[str, int]:
    """{file name: size} of the extension files this interpreter would import from the package: one per
    NATIVE_MODULES entry and the shared library (`_native__mypyc`) that holds the compiled code of them all."""
    out = {}
    for m in NATIVE_MODULES + ("_native__mypyc",):
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            p = _HERE / f"{m}{suffix}"
            if p.exists():
                out[p.name] = p.stat().st_size
    return out


def native_status(ignore_env: bool = False) -> Optional[str]:
    """Why the compiled modules must not be used, or None when they may: the stamp that
    scripts/build_native.py wrote last must match the sources byte for byte and list exactly the
    extension files present (a partial or foreign set of files is never mixed with the sources)."""
    if not ignore_env and os.environ.get("DEPLOY_ADVISOR_PURE", "") not in ("", "0"):
        return "DEPLOY_ADVISOR_PURE is set"
    present = compiled_files()
    if not present:
        return "not compiled"
    try:
        stamp = json.loads((_HERE / NATIVE_STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "no build stamp"
    try:
        current = native_fingerprint()
    except OSError:
        return "stale"
    if not isinstance(stamp, dict) or {k: stamp.get(k) for k in current} != current:
        return "stale"
    if stamp.get("extensions") != present:
        return "incomplete build"
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


PURE_REASON = native_status()
if PURE_REASON is not None and compiled_files() and _SourceFirst not in sys.meta_path:
    sys.meta_path.insert(0, _SourceFirst)  # type: ignore[arg-type]
    _WHY = {"stale": "do not match their sources", "incomplete build": "are not the set the last build installed"}
    if PURE_REASON in _WHY:
        warnings.warn(f"advisor: the compiled modules {_WHY[PURE_REASON]}; running pure Python "
                      "(make setup, or python scripts/build_native.py, rebuilds them)", RuntimeWarning, stacklevel=2)


def native_mode() -> str:
    """'compiled' when the advisor's hot modules run as mypyc extensions, else 'pure Python (reason)'."""
    import types

    from . import engine

    if isinstance(engine.recommend, types.FunctionType):  # a compiled function is a builtin
        return f"pure Python ({PURE_REASON or 'compiled modules not loaded'})"
    return "compiled (mypyc)"
