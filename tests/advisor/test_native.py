"""The mypyc-compiled advisor: same documents as pure Python, used only while it matches its sources."""
from __future__ import annotations

import importlib.machinery
import json
import os
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
    try:
        return json.loads((pkg / advisor.NATIVE_STAMP).read_text(encoding="utf-8")) == advisor.native_fingerprint()
    except (OSError, ValueError):
        return False


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


def test_an_edited_source_is_never_shadowed_by_an_old_build(tmp_path):
    """A copy of the package whose cost.py changed after the build (or whose extension files are not even
    loadable) runs every hot module from source, with one warning, and still recommends."""
    pkg = tmp_path / "advisor"
    shutil.copytree(ROOT / "advisor", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    if not _compiled_present(pkg):  # no build here: plant unloadable "extensions" and a stamp for them
        for m in advisor.NATIVE_MODULES:
            (pkg / f"{m}{importlib.machinery.EXTENSION_SUFFIXES[0]}").write_bytes(b"not an ELF file")
        (pkg / advisor.NATIVE_STAMP).write_text(json.dumps(advisor.native_fingerprint()), encoding="utf-8")
    with open(pkg / "cost.py", "a", encoding="utf-8") as f:
        f.write("\n# edited after the build\n")
    code = ("import sys; sys.path.insert(0, {!r})\n"
            "import advisor, advisor.engine as e, advisor.sizing as s, advisor.cost as c\n"
            "from advisor.models import load_profile\n"
            "r = e.recommend(load_profile({!r}))\n"
            "print(advisor.native_mode()); print(e.__file__, s.__file__, c.__file__); print(r.options[0].target)"
            ).format(str(tmp_path), str(ROOT / "examples" / "profiles" / "churn-realtime.yaml"))
    proc = _run(code, {}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    mode, files, top = proc.stdout.splitlines()
    assert mode == "pure Python (stale)"
    assert all(f.startswith(str(pkg)) and f.endswith(".py") for f in files.split())
    assert top
    assert proc.stderr.count("do not match their sources") == 1
