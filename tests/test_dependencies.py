"""Declared dependencies match the code (what deptry checks, from the AST and the installed metadata).

Every third-party module the package imports belongs to a distribution declared in pyproject.toml (the core
or an extra); tests, benchmarks and scripts may also use the dev group. And every declared distribution is
imported somewhere, or listed in NEEDED_WITHOUT_IMPORT with the reason.
"""
from __future__ import annotations

import ast
import importlib.util
import sys
import tomllib
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

RUNTIME = ["advisor", "deployers", "ui", "app.py"]
DEV_ONLY = ["tests", "benchmarks", "scripts"]
OURS = {"advisor", "deployers", "ui", "tests", "app", "da_echo_plugin", "da_fleet_plugin", "recommend", "__future__"}
# Declared but reached without an `import` in our code, and why.
NEEDED_WITHOUT_IMPORT = {
    "sqlalchemy": "MLflow's SQLite tracking and model registry store (mlflow-skinny leaves it out)",
    "alembic": "MLflow migrates the SQLite registry schema with it",
    "setuptools": "builds the package (`pip install -e .`, the wheel test) with --no-build-isolation",
    "pytest-xdist": "`make test` runs pytest -n 2",
    "mlflow": "tests/fakes/mlflow_server.py runs its tracking server; its files overlay mlflow-skinny's package",
}


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _names(requirements) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def declared() -> tuple[set[str], set[str], set[str]]:
    """(core, every extra, dev group) distribution names; the self-referencing `all` extra adds nothing new."""
    project = _pyproject()
    core = _names(project["project"]["dependencies"])
    extras = set().union(*(_names(reqs) for reqs in project["project"]["optional-dependencies"].values()))
    dev = _names(project["dependency-groups"]["dev"])
    return core, extras - {"deploy-advisor"}, dev


def _rendered_score_script() -> str:
    """templates/score.py.j2 as the server runs it (its imports are the served model's runtime needs)."""
    from advisor.models import ModelInfo
    from deployers.scoring import render_score_script

    return render_score_script(ModelInfo(uri="models:/m/1", name="m"))


def _imports(paths: list[str], extra_sources: tuple[str, ...] = ()) -> set[str]:
    """Dotted module names imported by the Python files under `paths` (absolute imports only)."""
    found: set[str] = set()
    sources = [(str(path), path.read_text(encoding="utf-8")) for rel in paths
               for path in ([ROOT / rel] if (ROOT / rel).is_file() else sorted((ROOT / rel).rglob("*.py")))]
    for name, text in [*sources, *(("rendered template", s) for s in extra_sources)]:
        for node in ast.walk(ast.parse(text, filename=name)):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module)
    return {m for m in found if m.split(".")[0] not in OURS and m.split(".")[0] not in sys.stdlib_module_names}


@lru_cache(maxsize=1)
def _owners() -> dict[Path, frozenset[str]]:
    """Installed file -> the distributions that install it (mlflow, mlflow-skinny and mlflow-tracing all ship
    mlflow/__init__.py)."""
    owners: dict[Path, set[str]] = {}
    for dist in metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"])
        for f in dist.files or []:
            if f.suffix == ".py":
                owners.setdefault(Path(f.locate()).resolve(), set()).add(name)
    return {path: frozenset(names) for path, names in owners.items()}


def distribution_of(module: str) -> frozenset[str]:
    """The distributions that provide `module` (deepest importable prefix, so azure.mgmt.web is not azure-core)."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        try:
            spec = importlib.util.find_spec(".".join(parts[:n]))
        except (ImportError, ValueError):
            continue
        if spec is not None and spec.origin and spec.origin not in ("built-in", "frozen"):
            owners = _owners().get(Path(spec.origin).resolve())
            if owners:
                return owners
    return frozenset({f"<nothing installed provides {module}>"})


def test_everything_the_package_imports_is_declared_in_the_core_or_an_extra():
    core, extras, dev = declared()
    imported = _imports(RUNTIME, (_rendered_score_script(),))
    undeclared = {m: sorted(d) for m in imported if not (d := distribution_of(m)) & (core | extras)}
    assert not undeclared, f"imported by the package but not declared (core or an extra): {undeclared}"


def test_everything_tests_and_tools_import_is_declared():
    core, extras, dev = declared()
    undeclared = {m: sorted(d) for m in _imports(DEV_ONLY) if not (d := distribution_of(m)) & (core | extras | dev)}
    assert not undeclared, f"imported by tests/benchmarks/scripts but not declared (add to the dev group): {undeclared}"


def test_every_declared_dependency_is_used():
    core, extras, dev = declared()
    used = set().union(*(distribution_of(m) for m in _imports(RUNTIME + DEV_ONLY, (_rendered_score_script(),))))
    unused = (core | extras | dev) - used - set(NEEDED_WITHOUT_IMPORT)
    assert not unused, f"declared but never imported (drop it, or say why in NEEDED_WITHOUT_IMPORT): {sorted(unused)}"
