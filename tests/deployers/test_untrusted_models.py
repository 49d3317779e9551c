"""A model is code (unpickling runs it): a dry run or an export never loads it, and the child
processes that do load it (the local server, the benchmark, the tree compiler) see no credentials.

The hostile model writes its process environment to a marker file when unpickled; its code also
names the scikit-learn tree modules, which fooled the old byte-substring "is it a tree?" check.
"""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from deployers import child_env, compiled_trees, registry, scoring
from deployers.model_resolution import resolve
from tests.conftest import cli

SECRET = "canary-client-secret-5d1e"
BUILTIN_TARGETS = ("local", "azureml", "aks", "appservice")


class _Hostile:
    """Unpickling calls eval(code): it records os.environ in `marker`, returns None."""

    def __init__(self, marker: Path) -> None:
        self.code = (f"__import__('pathlib').Path({str(marker)!r}).write_text("
                     "__import__('json').dumps(dict(__import__('os').environ)))"
                     " and None  # sklearn.tree._classes sklearn.ensemble._forest RandomForestClassifier")

    def __reduce__(self):
        return (eval, (self.code,))


@pytest.fixture
def hostile(tmp_path) -> tuple[Path, Path]:
    """(model file, marker path)."""
    marker = tmp_path / "unpickled.json"
    folder = tmp_path / "hostile-model"
    folder.mkdir()
    model = folder / "model.pkl"
    model.write_bytes(pickle.dumps(_Hostile(marker)))
    return model, marker


@pytest.fixture
def secret_env(tmp_path, no_azure_sign_in) -> dict[str, str]:
    """A credential in the CLI's environment (no client id: the Azure targets still plan offline)."""
    return {"AZURE_CLIENT_SECRET": SECRET, "MLFLOW_TRACKING_TOKEN": SECRET, "AZURE_CONFIG_DIR": str(tmp_path / "noaz")}


def _targets() -> list[str]:
    found = registry.installed_targets()
    assert set(BUILTIN_TARGETS) <= set(found)
    return found


@pytest.mark.parametrize("command", ["plan", "export"])
def test_plan_and_export_never_load_the_model(command, hostile, secret_env, tmp_path):
    model, marker = hostile
    for target in _targets():
        args = [command, "--target", target, "--model", str(model), "--name", f"hostile-{target}"]
        if command == "export":
            args += ["--out", str(tmp_path / f"export-{target}")]
        out = cli(*args, env=secret_env)
        assert out.returncode == 0, (target, out.stderr)
        assert not marker.exists(), f"`{command} --target {target}` unpickled the model"
        assert SECRET not in out.stdout + out.stderr


def _seen_env(marker: Path) -> dict[str, str]:
    assert marker.is_file(), "the child never loaded the model: the test proves nothing"
    return json.loads(marker.read_text())


def _assert_no_credentials(env: dict[str, str]) -> None:
    leaked = sorted(k for k in env if k.startswith(("AZURE_", "MLFLOW_", "IDENTITY_", "MSI_")))
    assert leaked == [] and SECRET not in json.dumps(env), leaked
    assert "PATH" in env and "PYTHONPATH" in env


@pytest.mark.xdist_group("local-target")
def test_the_local_server_loads_the_model_without_credentials(hostile, secret_env):
    model, marker = hostile
    out = cli("deploy", "--target", "local", "--model", str(model), "--name", "hostile", "--yes",
              env={**secret_env, "DEPLOY_ADVISOR_WORKERS": "2"})  # the supervisor's workers load it
    assert out.returncode == 1 and "exited while loading the model" in out.stderr  # it returned None, not a model
    _assert_no_credentials(_seen_env(marker))


def test_the_benchmark_loads_the_model_without_credentials(hostile, secret_env):
    model, marker = hostile
    (model.parent / "input_example.json").write_text('{"columns": ["a"], "data": [[1.0]]}')
    out = cli("benchmark", "--model", str(model), env=secret_env)
    assert out.returncode != 0
    _assert_no_credentials(_seen_env(marker))


def test_the_tree_compiler_never_opens_a_pickle_that_names_other_code(hostile, tmp_path):
    model, marker = hostile
    app = scoring.build_app_dir(resolve(str(model), tmp_path / "state"), model.parent, tmp_path / "app",
                                compile_trees=True)
    assert not marker.exists() and not (app / "compiled").exists()
    assert "builtins.eval" in compiled_trees.compile_app_dir(app)
    assert compiled_trees.pickle_globals(model) == {("builtins", "eval")}


def test_pickle_globals_reads_every_protocol_and_refuses_what_it_cannot_tell(tmp_path):
    from sklearn.ensemble import RandomForestRegressor

    forest = RandomForestRegressor(n_estimators=2, random_state=0).fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
    path = tmp_path / "m.pkl"
    for protocol in range(0, pickle.HIGHEST_PROTOCOL + 1):
        path.write_bytes(pickle.dumps(forest, protocol=protocol))
        names = compiled_trees.pickle_globals(path)
        assert names is not None and names <= compiled_trees.ALLOWED_GLOBALS, (protocol, names)
        assert ("sklearn.ensemble._forest", "RandomForestRegressor") in names
    # STACK_GLOBAL whose operands come from anything but plain strings pushed just before it
    path.write_bytes(b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94\x85\x94\x93\x94.")  # a tuple, then STACK_GLOBAL
    assert compiled_trees.pickle_globals(path) is None
    path.write_bytes(b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94\x93\x94.")  # the plain form names os.system
    assert compiled_trees.pickle_globals(path) == {("os", "system")}
    path.write_bytes(b"not a pickle at all")
    assert compiled_trees.pickle_globals(path) is None


def test_child_env_is_an_allow_list():
    parent = {"PATH": "/bin", "HOME": "/h", "LC_ALL": "C", "OMP_NUM_THREADS": "1", "DEPLOY_ADVISOR_WORKERS": "2",
              "PYTHONPATH": "/extra", "AZURE_CLIENT_SECRET": SECRET, "IDENTITY_HEADER": SECRET,
              "SOMETHING_NEW_TOKEN": SECRET, "DEPLOY_ADVISOR_HOME": "/state", "AWS_SECRET_ACCESS_KEY": SECRET}
    env = child_env.child_env({"EXTRA": "1"}, source=parent)
    assert SECRET not in json.dumps(env)
    assert set(env) == {"PATH", "HOME", "LC_ALL", "OMP_NUM_THREADS", "DEPLOY_ADVISOR_WORKERS", "PYTHONPATH", "EXTRA"}
    assert env["PYTHONPATH"].split(":") == [str(child_env.ROOT), "/extra"]


def test_images_compile_trees_at_build_time_from_the_shipped_files_only(tmp_path):
    """The plan's build context holds the pickle, not compiled arrays; the Dockerfile's RUN step
    compiles them with nothing but the files the context ships (run here as the build would)."""
    import os
    import subprocess
    import sys

    from sklearn.ensemble import RandomForestClassifier

    from deployers import images

    folder = tmp_path / "forest"
    folder.mkdir()
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]], [0, 1, 1])
    (folder / "model.pkl").write_bytes(pickle.dumps(forest))
    (folder / "input_example.json").write_text('[[0.5, 0.5]]')
    files = images.render_build_context(resolve(str(folder / "model.pkl"), tmp_path / "state"), folder)
    assert not any(rel.startswith("app/compiled/") for rel in files)
    assert "RUN python -m deployers.compiled_trees /app" in files["Dockerfile"]
    context = tmp_path / "context"
    images.export_build_context(files, context)
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(context)}  # the image's PYTHONPATH: shipped code only
    run = subprocess.run([sys.executable, "-m", "deployers.compiled_trees", str(context / "app")], env=env,
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and json.loads(run.stdout.splitlines()[-1]) == {"reason": None}, run.stderr
    assert (context / "app" / "compiled" / "trees.npz").is_file()
