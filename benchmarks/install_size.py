"""Installed size of deploy-advisor: the core and each extra, as a user's `pip install` would lay them out.

For each set it resolves pyproject.toml's dependencies within the pins of requirements.txt (uv pip compile),
installs them with the built wheel into a fresh venv (uv, bytecode compiled like pip does by default) and
prints the venv's size. Needs network access to PyPI the first time (uv's cache after that).

    .venv/bin/python benchmarks/install_size.py            # every set
    .venv/bin/python benchmarks/install_size.py core aks   # some of them

Goal (issue 18): a runtime install <= 900 MB.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UV = Path(sys.executable).parent / "uv"
SETS = ["core", "azureml", "aks", "appservice", "containerapps", "onnx", "ui", "all"]
GOAL_MIB = 900 * 10**6 / 2**20
SOURCES = ["pyproject.toml", "README.md", "advisor", "deployers", "ui", "templates"]


def _size_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) / 2**20


def measure(name: str, wheel: Path, work: Path) -> float:
    lock = work / f"{name}.txt"
    extra = [] if name == "core" else ["--extra", name]
    subprocess.run([str(UV), "pip", "compile", "--quiet", str(ROOT / "pyproject.toml"), *extra,
                    "-c", str(ROOT / "requirements.txt"), "--python-version", "3.11", "--no-emit-package",
                    "deploy-advisor", "-o", str(lock)], check=True)
    venv = work / f"venv-{name}"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run([str(UV), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
                    "--compile-bytecode", "-r", str(lock)], check=True)
    subprocess.run([str(UV), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
                    "--compile-bytecode", "--no-deps", str(wheel)], check=True)
    return _size_mib(venv)


def main(names: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="da-size-") as tmp:
        work = Path(tmp)
        src = work / "src"  # setuptools builds in-tree: build a copy, the checkout stays clean
        src.mkdir()
        for name in SOURCES:
            if (ROOT / name).is_dir():
                shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(ROOT / name, src / name)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                        "--no-index", "-w", str(work / "dist"), str(src)], check=True)
        (wheel,) = (work / "dist").glob("deploy_advisor-*.whl")
        print(f"{'install':<16}{'MiB':>8}  goal <= {GOAL_MIB:.0f} MiB (900 MB)")
        for name in names or SETS:
            size = measure(name, wheel, work)
            label = "deploy-advisor" if name == "core" else f"[{name}]"
            print(f"{label:<16}{size:>8.0f}  {'meets' if size <= GOAL_MIB else 'over'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
