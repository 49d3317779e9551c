"""scripts/pick-python: the interpreter `make` builds .venv with (first usable CPython 3.11, else python3)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "pick-python"


def pick(candidates: list[str]) -> str:
    env = dict(os.environ, PICK_PYTHON_CANDIDATES=" ".join(candidates))
    return subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True, check=True).stdout.strip()


def _fake(tmp_path: Path, name: str, body: str) -> str:
    p = tmp_path / name
    p.write_text("#!/bin/sh\n" + body + "\n")
    p.chmod(0o755)
    return str(p)


def test_the_first_usable_python_311_is_chosen_over_missing_and_unusable_ones(tmp_path):
    broken = _fake(tmp_path, "python3.11", "exit 1")  # e.g. no venv module, or another version
    assert pick(["/nonexistent/python3.11", broken, sys.executable]) == sys.executable


def test_without_a_usable_candidate_it_falls_back_to_python3(tmp_path):
    assert pick(["/nonexistent/python3.11", _fake(tmp_path, "python3.11", "exit 1")]) == "python3"


def test_the_makefile_builds_the_venv_with_it():
    makefile = (SCRIPT.parents[1] / "Makefile").read_text()
    assert "PY ?= $(shell scripts/pick-python)" in makefile
    assert "$(PY) -m venv $(VENV)" in makefile
