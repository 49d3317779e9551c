"""ONNX models through onnxruntime: a plain .onnx file and an MLflow onnx flavor, served for real."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper  # noqa: E402

from deployers.model_resolution import resolve  # noqa: E402
from deployers.scoring import build_app_dir  # noqa: E402

W = np.array([[1.0, -1.0], [0.5, 0.5], [-2.0, 1.0], [0.0, 3.0]], dtype=np.float32)
B = np.array([0.1, -0.1], dtype=np.float32)


def linear_classifier() -> "onnx.ModelProto":
    """label = argmax(X @ W + B): small, exact, and built with onnx's own helpers."""
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["XW"]),
         helper.make_node("Add", ["XW", "B"], ["scores"]),
         helper.make_node("ArgMax", ["scores"], ["label"], axis=1, keepdims=0)],
        "linear",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("label", TensorProto.INT64, [None])],
        [helper.make_tensor("W", TensorProto.FLOAT, [4, 2], W.flatten().tolist()),
         helper.make_tensor("B", TensorProto.FLOAT, [2], B.tolist())])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def expected(rows) -> list[int]:
    return (np.asarray(rows, dtype=np.float32) @ W + B).argmax(axis=1).tolist()


ROWS = [[1.0, 2.0, 3.0, 4.0], [4.0, 0.0, 0.0, -1.0], [0.0, 0.0, 1.0, 0.0], [2.0, 2.0, 2.0, 2.0]]


@pytest.fixture(scope="module")
def onnx_file_app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx-model")
    onnx.save(linear_classifier(), str(folder / "model.onnx"))
    info = resolve(str(folder / "model.onnx"), tmp_path_factory.mktemp("state"))
    assert info.framework == "onnx"
    return build_app_dir(info, folder, tmp_path_factory.mktemp("apps") / "onnx")


def test_plain_onnx_file_served_with_batching(onnx_file_app, start_server):
    srv = start_server(onnx_file_app, key=None)
    code, _, out = srv.request("POST", "/score", {"data": ROWS})
    assert (code, out) == (200, expected(ROWS))
    bodies = [{"input_data": [row]} for row in ROWS * 5] + [{"input_data": [[1.0, 2.0]]}]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda b: srv.request("POST", "/score", b), bodies))
    for body, (code, _, out) in zip(bodies[:-1], results[:-1]):
        assert (code, out) == (200, expected(body["input_data"]))
    assert results[-1][0] == 422 and "expected 4 values per row" in results[-1][2]["error"]


def test_mlflow_onnx_flavor_uses_onnxruntime(tmp_path, monkeypatch):
    import importlib.util

    import mlflow.onnx

    folder = tmp_path / "mlflow-onnx"
    mlflow.onnx.save_model(linear_classifier(), str(folder))
    info = resolve(str(folder), tmp_path / "state")
    app = build_app_dir(info, folder, tmp_path / "app")
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(app / "model"))
    spec = importlib.util.spec_from_file_location("score_onnx_flavor", app / "score.py")
    score = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(score)
    score.init()
    assert score._predictor.kind == "onnx"
    assert score.run(json.dumps({"data": ROWS})) == expected(ROWS)


def test_the_scoring_script_turns_onnxruntime_telemetry_off_before_loading_it(onnx_file_app):
    """onnxruntime >= 1.29 posts telemetry on Linux unless ORT_DISABLE_TELEMETRY is set before it initializes;
    a scoring server started without it (as in a container) must set it itself, ahead of its first import."""
    import os
    import subprocess
    import sys

    code = ("import importlib.util, os, sys\n"
            "spec = importlib.util.spec_from_file_location('score', sys.argv[1])\n"
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
            "print(os.environ.get('ORT_DISABLE_TELEMETRY'), 'onnxruntime' in sys.modules)\n")
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    out = subprocess.run([sys.executable, "-c", code, str(onnx_file_app / "score.py")], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "False"]
