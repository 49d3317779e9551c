"""The scoring server on a real MLflow model: shapes, auth, limits, errors, batching isolation."""
from __future__ import annotations

import json
import pickle
from concurrent.futures import ThreadPoolExecutor

import pytest

from .conftest import KEY, request


@pytest.fixture(scope="module")
def reference(mlflow_model, breast_cancer):
    """What the model itself predicts for the first rows (the server must agree exactly)."""
    with open(mlflow_model / "model.pkl", "rb") as fh:
        model = pickle.load(fh)
    rows = breast_cancer.head(6)
    return rows, model.predict(rows).tolist()


def test_liveness_and_readiness_when_ready(mlflow_server):
    assert mlflow_server.request("GET", "/", key=None)[:1] == (200,)
    code, _, body = mlflow_server.request("GET", "/ready", key=None)
    assert code == 200 and body["status"] == "ready" and body["model"] == "tiny-rf"
    assert mlflow_server.stdout_lines == [f"READY {mlflow_server.url}"]
    assert mlflow_server.url.startswith("http://127.0.0.1:")


def test_split_orient_input_data_with_index(mlflow_server, reference):
    rows, expected = reference
    body = {"input_data": {"columns": list(rows.columns), "index": list(range(len(rows))),
                           "data": rows.values.tolist()}}
    code, headers, out = mlflow_server.request("POST", "/score", body)
    assert code == 200, out
    assert out == expected
    assert headers["x-request-id"]


def test_split_orient_columns_in_another_order(mlflow_server, reference):
    rows, expected = reference
    shuffled = rows[list(reversed(rows.columns))]
    body = {"input_data": {"columns": list(shuffled.columns), "data": shuffled.values.tolist()}}
    code, _, out = mlflow_server.request("POST", "/score", body)
    assert code == 200 and out == expected


def test_rows_records_and_data_shapes(mlflow_server, reference):
    rows, expected = reference
    shapes = [
        {"input_data": rows.values.tolist()},
        {"input_data": rows.to_dict(orient="records")},
        {"data": rows.values.tolist()},
        {"data": rows.to_dict(orient="records")},
        {"dataframe_split": {"columns": list(rows.columns), "data": rows.values.tolist()}},
    ]
    for body in shapes:
        code, _, out = mlflow_server.request("POST", "/score", body)
        assert (code, out) == (200, expected), list(body)


def test_one_flat_row(mlflow_server, reference):
    rows, expected = reference
    code, _, out = mlflow_server.request("POST", "/score", {"data": rows.values[0].tolist()})
    assert (code, out) == (200, expected[:1])


def test_missing_key_and_wrong_key_are_401(mlflow_server, reference):
    rows, _ = reference
    body = {"data": rows.values[:1].tolist()}
    code, headers, out = mlflow_server.request("POST", "/score", body, key=None)
    assert code == 401 and "key" in out["error"] and out["request_id"]
    assert headers["www-authenticate"] == "Bearer"
    assert mlflow_server.request("POST", "/score", body, key=KEY[:-1] + "X")[0] == 401
    assert mlflow_server.request("POST", "/score", body, key=KEY + "extra")[0] == 401
    code, _, _ = request(mlflow_server.port, "POST", "/score", body, headers={"Authorization": KEY})
    assert code == 401  # no "Bearer " scheme


def test_oversized_body_is_413(mlflow_server):
    big = {"data": [[1.0] * 30] * 400}  # ~60 KB > --max-body-mb 0.05
    code, _, out = mlflow_server.request("POST", "/score", big)
    assert code == 413 and "larger than" in out["error"]


def test_malformed_json_is_400_without_traceback(mlflow_server):
    code, headers, out = mlflow_server.request("POST", "/score", b'{"data": [[1, 2,')
    assert code == 400
    assert out["error"].startswith("malformed JSON") and out["request_id"] == headers["x-request-id"]
    assert "Traceback" not in json.dumps(out)
    code, _, out = mlflow_server.request("POST", "/score", b"")
    assert code == 400 and "empty body" in out["error"]


def test_wrong_columns_is_422_with_request_id_and_one_log_line(mlflow_server, reference):
    rows, _ = reference
    cols = list(rows.columns)
    cols[3] = "not a feature"
    body = {"input_data": {"columns": cols, "data": rows.values[:2].tolist()}}
    code, headers, out = mlflow_server.request("POST", "/score", body, headers={"X-Request-Id": "req-cols-42"})
    assert code == 422
    assert out["request_id"] == "req-cols-42" == headers["x-request-id"]
    assert "missing column" in out["error"] and "mean area" in out["error"]
    assert "Traceback" not in json.dumps(out)
    lines = [ln for ln in mlflow_server.read_log().splitlines() if "req-cols-42" in ln and "/score" not in ln]
    assert len(lines) == 1 and "WARNING" in lines[0] and "422 missing column" in lines[0]  # (+ the access log line)
    assert "Traceback" not in mlflow_server.read_log()


def test_wrong_width_and_non_numbers_are_422(mlflow_server):
    code, _, out = mlflow_server.request("POST", "/score", {"data": [[1.0, 2.0]]})
    assert code == 422 and "expected 30 values per row" in out["error"]
    code, _, out = mlflow_server.request("POST", "/score", {"data": [["x"] * 30]})
    assert code == 422 and "numbers" in out["error"]
    code, _, out = mlflow_server.request("POST", "/score", {"nothing": 1})
    assert code == 422 and "input_data" in out["error"]


def test_one_bad_request_in_a_concurrent_burst_fails_alone(mlflow_server, reference):
    rows, expected = reference
    good = {"data": rows.values.tolist()}
    bad = {"input_data": {"columns": ["a", "b"], "data": [[1, 2]]}}
    bodies = [bad if i % 7 == 3 else good for i in range(28)]
    with ThreadPoolExecutor(14) as pool:
        results = list(pool.map(lambda b: mlflow_server.request("POST", "/score", b), bodies))
    for body, (code, _, out) in zip(bodies, results):
        if body is bad:
            assert code == 422 and "missing column" in out["error"]
        else:
            assert (code, out) == (200, expected)


def test_other_routes(mlflow_server):
    assert mlflow_server.request("GET", "/score")[0] == 405
    assert mlflow_server.request("GET", "/nope")[0] == 404
    assert mlflow_server.request("HEAD", "/", key=None)[0] == 200


def test_key_never_in_logs_or_stdout(mlflow_server, reference):
    rows, _ = reference
    mlflow_server.request("POST", "/score", {"data": rows.values[:1].tolist()})
    mlflow_server.request("POST", "/score", b"{bad json")
    log = mlflow_server.read_log()
    assert "POST /score 200" in log  # --access-log is on and still shows no key
    assert KEY not in log
    assert all(KEY not in line for line in mlflow_server.stdout_lines)
