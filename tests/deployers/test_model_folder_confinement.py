"""A model folder cannot pull other files of this machine into plans, exports, the ledger or an
image: MLmodel's paths stay inside the folder and symlinks that leave it are refused."""
from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest

from deployers import images, model_folder, scoring
from deployers.errors import ModelResolutionError
from deployers.model_resolution import resolve
from tests.conftest import cli, file_texts

CANARY = "outside-canary-91c4"


@pytest.fixture
def outside(tmp_path) -> Path:
    """A readable JSON file outside any model folder (what an attacker would like to exfiltrate)."""
    path = tmp_path / "private" / "secret.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"columns": ["a"], "data": [[CANARY]]}))
    return path


def _mlflow_model(folder: Path, example_path: str = "input_example.json", model_file: str = "model.pkl") -> Path:
    """A minimal real MLflow sklearn folder, written by hand so each test can bend one path."""
    from sklearn.linear_model import LogisticRegression

    folder.mkdir(parents=True)
    (folder / "model.pkl").write_bytes(pickle.dumps(LogisticRegression().fit([[0.0], [1.0]], [0, 1])))
    (folder / "input_example.json").write_text('{"columns": ["a"], "data": [[0.5]]}')
    (folder / "MLmodel").write_text(
        "flavors:\n"
        f"  sklearn: {{pickled_model: {json.dumps(model_file)}, serialization_format: pickle}}\n"
        "  python_function: {loader_module: mlflow.sklearn}\n"
        f"saved_input_example_info: {{artifact_path: {json.dumps(example_path)}, type: dataframe}}\n")
    return folder


@pytest.mark.parametrize("example_path", ["../private/secret.json", "ABSOLUTE", "sub/../../private/secret.json"])
def test_an_input_example_outside_the_folder_is_refused(tmp_path, outside, example_path):
    example_path = str(outside) if example_path == "ABSOLUTE" else example_path
    model = _mlflow_model(tmp_path / "m", example_path=example_path)
    with pytest.raises(ModelResolutionError, match="leads outside the model folder"):
        resolve(str(model), tmp_path / "state")


def test_plan_and_export_refuse_it_in_one_line_and_nothing_leaks(tmp_path, outside):
    model = _mlflow_model(tmp_path / "m", example_path="../private/secret.json")
    for args in (["plan", "--target", "local"], ["export", "--target", "local", "--out", str(tmp_path / "exp")],
                 ["plan", "--target", "aks", "--output", "json"]):
        out = cli(*args, "--model", str(model), "--name", "leaky")
        assert out.returncode == 2, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1 and "leads outside the model folder" in out.stderr
        assert CANARY not in out.stdout + out.stderr
    home = Path(os.environ["DEPLOY_ADVISOR_HOME"])
    for folder in (home, tmp_path / "exp"):
        if folder.exists():
            assert not any(CANARY in text for text in file_texts(folder).values())


def test_a_symlinked_input_example_is_refused(tmp_path, outside):
    model = _mlflow_model(tmp_path / "m")
    (model / "input_example.json").unlink()
    (model / "input_example.json").symlink_to(outside)
    with pytest.raises(ModelResolutionError, match="input_example.json"):
        resolve(str(model), tmp_path / "state")
    plain = tmp_path / "plain"  # a single model file with an example next to it
    plain.mkdir()
    (plain / "model.pkl").write_bytes((model / "model.pkl").read_bytes())
    (plain / "input_example.json").symlink_to(outside)
    with pytest.raises(ModelResolutionError):
        resolve(str(plain / "model.pkl"), tmp_path / "state")


def test_a_flavor_file_outside_the_folder_is_refused(tmp_path):
    (tmp_path / "elsewhere.pkl").write_bytes(b"x")
    model = _mlflow_model(tmp_path / "m", model_file="../elsewhere.pkl")
    with pytest.raises(ModelResolutionError, match="leads outside"):
        resolve(str(model), tmp_path / "state")


@pytest.mark.parametrize("link", ["file", "folder"])
def test_symlinks_leaving_the_folder_never_reach_an_app_dir_or_build_context(tmp_path, outside, link):
    model = _mlflow_model(tmp_path / "m")
    info = resolve(str(model), tmp_path / "state")  # resolved before the link appears (a cache changed later)
    (model / "notes").symlink_to(outside if link == "file" else outside.parent)
    with pytest.raises(ModelResolutionError, match="notes"):
        resolve(str(model), tmp_path / "state2")
    with pytest.raises(ModelResolutionError, match="notes"):
        scoring.build_app_dir(info, model, tmp_path / "app")
    with pytest.raises(ModelResolutionError, match="notes"):
        images.render_build_context(info, model)
    app = tmp_path / "built"
    app.mkdir()
    (app / "score.py").write_text("")
    (app / "leak").symlink_to(outside)
    with pytest.raises(ModelResolutionError):
        images.render_build_context(info, None, app)


def test_links_inside_the_folder_are_fine(tmp_path):
    model = _mlflow_model(tmp_path / "m")
    (model / "copy-of-example.json").symlink_to(model / "input_example.json")
    (model / "sub").mkdir()
    (model / "sub" / "up").symlink_to(model / "model.pkl")
    info = resolve(str(model), tmp_path / "state")
    app = scoring.build_app_dir(info, model, tmp_path / "app")
    assert (app / "model" / "sub" / "up").read_bytes() == (model / "model.pkl").read_bytes()
    assert model_folder.inside(model, "sub/up") == (model / "model.pkl").resolve()
