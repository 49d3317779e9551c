"""The mypyc-compiled advisor: same documents as pure Python, used only while it matches its sources."""
from __future__ import annotations

import importlib.machinery
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import advisor
from advisor.engine import recommend_json
from advisor.models import load_profile

from .conftest import ROOT

_DUMP = """
import json, sys, glob
sys.path.insert(0, {root!r}); sys.path.insert(0, {bench!r})
import advisor
from advisor.engine import recommend_json
from advisor.models import load_profile
from recommend import generate
docs = [recommend_json(load_profile(p)) for p in sorted(glob.glob({examples!r}))]
docs += [recommend_json(p) for p in generate(300, 5)]
print(json.dumps({{"mode": advisor.native_mode(), "docs": docs}}))
"""


def _run(code: str, env_extra: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DEPLOY_ADVISOR_PURE"}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _compiled_present(pkg: Path) -> bool:
    return any((pkg / f"engine{s}").exists() for s in importlib.machinery.EXTENSION_SUFFIXES)


def _stamp_matches(pkg: Path) -> bool:
    assert pkg == ROOT / "advisor"
    return advisor.native_status(ignore_env=True) is None


def test_pure_python_gives_the_same_documents_byte_for_byte():
    """Whatever mode this process runs in (compiled after `make setup`), a pure-Python child agrees on the
    11 example profiles and 300 generated ones."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from recommend import generate
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    examples = sorted((ROOT / "examples" / "profiles").glob("*.yaml"))
    mine = [recommend_json(load_profile(p)) for p in examples] + [recommend_json(p) for p in generate(300, 5)]
    code = _DUMP.format(root=str(ROOT), bench=str(ROOT / "benchmarks"),
                        examples=str(ROOT / "examples" / "profiles" / "*.yaml"))
    proc = _run(code, {"DEPLOY_ADVISOR_PURE": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    child = json.loads(proc.stdout)
    assert child["mode"] == "pure Python (DEPLOY_ADVISOR_PURE is set)"
    assert len(child["docs"]) == len(mine) == len(examples) + 300
    diffs = [i for i, (a, b) in enumerate(zip(mine, child["docs"])) if a != b]
    assert diffs == [], f"{len(diffs)} documents differ, first at index {diffs[0]} (mode here: {advisor.native_mode()})"


def test_mode_follows_the_build_and_the_switch():
    code = "import advisor, advisor.engine as e; print(advisor.native_mode()); print(e.__file__)"
    here = _run(code, {})
    assert here.returncode == 0, here.stderr
    mode, path = here.stdout.splitlines()
    if _compiled_present(ROOT / "advisor") and _stamp_matches(ROOT / "advisor"):
        assert mode == "compiled (mypyc)" and not path.endswith(".py")
    else:
        assert mode.startswith("pure Python (") and path.endswith("engine.py")
    pure = _run(code, {"DEPLOY_ADVISOR_PURE": "1"})
    mode, path = pure.stdout.splitlines()
    assert mode == "pure Python (DEPLOY_ADVISOR_PURE is set)" and path.endswith("engine.py")


def _built_copy(tmp_path: Path) -> Path:
    """A copy of the package with a build that matches its sources: the real one when `make setup` built it,
    else unloadable stand-in files and a stamp naming them (the loader must never try to load them)."""
    pkg = tmp_path / "advisor"
    shutil.copytree(ROOT / "advisor", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    if not _compiled_present(pkg):
        suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
        for m in advisor.NATIVE_MODULES + ("_native__mypyc",):
            (pkg / f"{m}{suffix}").write_bytes(b"not an ELF file")
        files = {p.name: p.stat().st_size for p in pkg.glob(f"*{suffix}")}
        (pkg / advisor.NATIVE_STAMP).write_text(json.dumps(dict(advisor.native_fingerprint(), extensions=files)),
                                                encoding="utf-8")
    return pkg


def _assert_runs_from_source(root: Path, reason: str, warning: str) -> None:
    """Recommend with the package copy under `root`: every hot module from its .py, the mode naming
    `reason`, and `warning` said once on stderr."""
    names = ", ".join(f"advisor.{m}" for m in advisor.NATIVE_MODULES)
    code = (f"import sys; sys.path.insert(0, {str(root)!r})\n"
            f"import advisor, {names}\n"
            "from advisor.models import load_profile\n"
            f"r = advisor.engine.recommend(load_profile({str(ROOT / 'examples' / 'profiles' / 'churn-realtime.yaml')!r}))\n"
            "print(advisor.native_mode())\n"
            "print(' '.join(sys.modules['advisor.' + m].__file__ for m in advisor.NATIVE_MODULES))\n"
            "print(r.options[0].target)")
    proc = _run(code, {}, cwd=root)
    assert proc.returncode == 0, proc.stderr[-2000:]
    mode, files, top = proc.stdout.splitlines()
    assert mode == f"pure Python ({reason})"
    assert all(f.startswith(str(root / "advisor")) and f.endswith(".py") for f in files.split()), files
    assert top
    assert proc.stderr.count(warning) == 1


def test_an_edited_source_is_never_shadowed_by_an_old_build(tmp_path):
    """A copy of the package whose cost.py changed after the build runs every hot module from source, with
    one warning, and still recommends."""
    pkg = _built_copy(tmp_path)
    with open(pkg / "cost.py", "a", encoding="utf-8") as f:
        f.write("\n# edited after the build\n")
    _assert_runs_from_source(tmp_path, "stale", "do not match their sources")


def test_a_partial_set_of_compiled_files_is_never_mixed_with_the_sources(tmp_path):
    """One module's extension (or the shared library holding all their code) missing: every hot module runs
    from source, with one warning, instead of a mix that fails or a shared library found elsewhere."""
    for victim in ("engine", "_native__mypyc"):
        pkg = _built_copy(tmp_path / victim)
        for f in pkg.glob(f"{victim}.*"):
            if f.suffix != ".py":
                f.unlink()
        _assert_runs_from_source(tmp_path / victim, "incomplete build", "not the set the last build installed")


def test_inputs_pickle_and_replace_agree_in_both_modes():
    from advisor.criteria import Inputs

    from .conftest import make_profile

    P = Inputs.from_profile(make_profile())
    Q = pickle.loads(pickle.dumps(P.replace(peak=3, budget=200, sla=99, region="westeurope")))
    assert type(Q.peak) is float and Q.peak == 3.0 and Q.budget == 200.0 and type(Q.sla) is float
    assert Q.region == "westeurope" and Q.d == {**P.d, "peak": 3.0, "budget": 200.0, "sla": 99.0,
                                                  "region": "westeurope"}
    assert all(getattr(Q, k) == v for k, v in Q.d.items())


def test_a_failed_build_leaves_pure_python_and_is_not_retried_for_the_same_sources(tmp_path):
    """No working C compiler: one line, exit 0, no extension files or stamp; the next run says so at once."""
    for part in ("advisor", "scripts"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__", "*.so", "_native.json"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    env = {k: v for k, v in os.environ.items() if k not in ("DEPLOY_ADVISOR_PURE", "DEPLOY_ADVISOR_REBUILD")}
    env["CC"] = str(tmp_path / "no-such-compiler")
    script = [sys.executable, "scripts/build_native.py"]
    first = subprocess.run(script, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "mypyc build failed, the advisor stays pure Python" in first.stdout
    assert not list((tmp_path / "advisor").glob("*.so")) and not (tmp_path / "advisor" / "_native.json").exists()
    again = subprocess.run(script, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "the build failed before for these sources" in again.stdout
    check = subprocess.run(script + ["--check"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert check.returncode == 1 and "not compiled" in check.stdout


def test_the_profile_guided_build_trains_on_every_target_and_gpu_need():
    """scripts/native_training.py is what a GCC build is tuned on: it must run every target to the top and
    every GPU path, or the build would be tuned for a part of the advisor only."""
    import importlib.util

    from advisor.engine import recommend
    from advisor.models import parse_profile

    spec = importlib.util.spec_from_file_location("native_training", ROOT / "scripts" / "native_training.py")
    training = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(training)
    winners, gpus, n = set(), set(), 0
    for data in training.variations():
        rec = recommend(parse_profile(data))
        n += 1
        winners.add(rec.options[0].target if rec.options else None)
        gpus.add(data["inference"]["gpu"])
    assert n >= 1000
    assert {"azureml", "aks", "appservice", "azureml-batch", "containerapps"} <= winners
    assert gpus == {"none", "preferred", "required"}
