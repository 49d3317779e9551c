"""The wheel is the product: build it from the sources, install it into a fresh venv and use it as a user would,
from a folder outside the checkout: --version, `export` for every target, a local deploy / invoke / destroy.

Speed, honestly: dependencies are not downloaded again. The fresh venv sees the dependencies already installed
for this test run through one line in a .pth file (this interpreter's site-packages), and the wheel goes in with
`pip install --no-deps`. A path line in a .pth only extends sys.path (the .pth files in that folder, such as the
editable install of the checkout, are not run), and the child processes get no PYTHONPATH, so deploy-advisor's
own files (code, templates, UI) can only come from the wheel: the first test asserts exactly that. What full
`mlflow` adds to mlflow-skinny (in the dev lock for one test's tracking server) is hidden from these runs.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("wheel")]  # one worker builds the wheel and venv once
SAMPLE = "models:/sample-classifier/1"
SOURCES = ["pyproject.toml", "README.md", "advisor", "deployers", "ui", "templates"]
PACKAGES = ["advisor", "deployers", "ui"]
# Top-level modules that full `mlflow` adds to mlflow-skinny (its server, plotting, docker, recipes).
FULL_MLFLOW_ONLY = ["flask", "flask_cors", "docker", "graphene", "gunicorn", "huey", "matplotlib", "skops"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """`pip wheel` of a copy of the sources (setuptools builds in-tree; the checkout stays clean)."""
    src = tmp_path_factory.mktemp("wheel-src")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "--no-deps",
                    "--no-build-isolation", "--no-index", "-w", str(dist), str(src)],
                   check=True, capture_output=True, text=True, timeout=300)
    (built,) = dist.glob("deploy_advisor-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv holding the wheel, with this environment's site-packages as its dependencies."""
    root = tmp_path_factory.mktemp("wheel-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    python = root / "bin" / "python"
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True).strip())
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "zz_dependencies.pth").write_text("".join(f"{p}\n" for p in sorted(deps)))
    # The dev lock adds full `mlflow` (for a test's tracking server); a user's install has mlflow-skinny only.
    # Hide what full mlflow brings on top, so these runs fail if the package came to need any of it.
    (site / "zz_runtime_only.pth").write_text(f"import sys; sys.modules.update(dict.fromkeys({FULL_MLFLOW_ONLY!r}))\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--disable-pip-version-check",
                    "--no-deps", "--no-index", str(wheel)], check=True, capture_output=True, text=True, timeout=300)
    return root


@pytest.fixture
def run(venv, home_with_sample, tmp_path):
    """Run a command of the installed wheel from a folder outside the checkout, as a user's shell would."""
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["DEPLOY_ADVISOR_HOME"] = str(home_with_sample)

    def _run(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run([str(venv / "bin" / args[0]), *args[1:]], cwd=work, env=env, capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    _run.work = work
    return _run


def test_the_packages_own_files_come_from_the_wheel(run, venv, wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for package in PACKAGES:  # every module of the checkout is in the wheel (pyproject's package list is explicit)
        for path in (ROOT / package).rglob("*.py"):
            assert path.relative_to(ROOT).as_posix() in names, f"{path} is not in the wheel"
    for path in (ROOT / "templates").rglob("*"):
        if path.is_file():
            assert f"deployers/templates/{path.relative_to(ROOT / 'templates').as_posix()}" in names
    probe = run("python", "-c", "import json, advisor, deployers, ui, deployers.serving, deployers.templating as t; "
                                "print(json.dumps([advisor.__file__, deployers.__file__, ui.__file__, "
                                "deployers.serving.__file__, str(t.template_root())]))")
    assert probe.returncode == 0, probe.stderr
    for path in json.loads(probe.stdout):
        assert Path(path).resolve().is_relative_to(venv.resolve()), path
    version = run("deploy-advisor", "--version")
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert version.returncode == 0 and version.stdout.strip() == f"deploy-advisor {declared}"


def _targets(run) -> list[str]:
    out = run("deploy-advisor", "targets", "--output", "json")
    assert out.returncode == 0, out.stderr
    return [t["name"] for t in json.loads(out.stdout) if t["deployable"]]


def test_export_every_target_from_the_wheel(run, wheel):
    targets = _targets(run)
    assert {"local", "azureml", "aks", "appservice"} <= set(targets)
    for target in targets:
        model = "azureml:fraud:3" if target == "azureml" else SAMPLE
        out = run("deploy-advisor", "export", "--target", target, "--model", model, "--name", f"w-{target}",
                  "--resource-group", "rg-demo", "--workspace", "mlw-demo", "--out", f"exports/{target}",
                  "--install", str(wheel))
        assert out.returncode == 0, f"{target}: {out.stderr}"
        exp = run.work / "exports" / target
        assert (exp / "wheels" / wheel.name).read_bytes() == wheel.read_bytes()
        workflow = (exp / ".github" / "workflows" / f"deploy-w-{target}.yml").read_text()
        assert f"exports/{target}/wheels/{wheel.name}" in workflow and "sha256sum --check" in workflow
        assert (exp / "EXPORT.md").is_file() and any((exp / "artifacts").iterdir())


def test_local_deploy_invoke_destroy_from_the_wheel(run):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = run("deploy-advisor", "deploy", "--target", "local", "--model", SAMPLE, "--name", "wheel-demo", "--yes",
              "--set", f"port={port}", "--output", "json")
    assert out.returncode == 0, out.stderr
    try:
        body = {"input_data": [[float(i % 7) for i in range(30)]]}  # the sample model: 30 numeric features
        inv = run("deploy-advisor", "invoke", "wheel-demo", "--data", json.dumps(body), "--output", "json")
        assert inv.returncode == 0, inv.stderr
        assert json.loads(inv.stdout)["status_code"] == 200
    finally:
        gone = run("deploy-advisor", "destroy", "wheel-demo", "--yes")
    assert gone.returncode == 0, gone.stderr


def test_the_ui_runs_from_the_installed_package(run, venv):
    """`deploy-advisor ui` serves the app the wheel holds; its script renders the first page without an error."""
    import time
    import urllib.request

    app = run("python", "-c", "from importlib import resources; from streamlit.testing.v1 import AppTest; "
                              "at = AppTest.from_file(str(resources.files('ui') / 'streamlit_app.py'), "
                              "default_timeout=60).run(); print(len(at.exception), at.title[0].value if at.title else '')")
    assert app.returncode == 0 and app.stdout.split()[0] == "0", app.stdout + app.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    server = subprocess.Popen([str(venv / "bin" / "deploy-advisor"), "ui", "--port", str(port)], cwd=run.work, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "the UI did not start"
                time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(timeout=30)
    deadline = time.monotonic() + 30  # the Streamlit child went with its parent
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).close()
        except OSError:
            break
        assert time.monotonic() < deadline, "the UI server outlived `deploy-advisor ui`"
        time.sleep(0.3)
