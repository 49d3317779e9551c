"""Calibration (`deployers.benchmarking.measure`) against a small scoring script with a known cost."""
from __future__ import annotations

import json

import pytest

from deployers import benchmarking
from deployers.errors import InputError

from .conftest import script_app

# A predict call costs 3 ms plus 1 ms a row (sleeping, so a busy shared CPU barely skews it):
# the calibration must find that shape.
COSTED = """
import json, time
def init():
    pass
def run_batch(payloads):
    rows = sum(len(p["input_data"]["data"]) for p in payloads)
    time.sleep(0.003 + 0.001 * rows)
    return [[0] * len(p["input_data"]["data"]) for p in payloads]
def run(raw_data):
    return run_batch([json.loads(raw_data)])[0]
"""


def test_measure_finds_service_time_per_row_cost_and_throughput(tmp_path):
    app = script_app(tmp_path / "app", COSTED, {
        "model_name": "costed", "model_version": "1",
        "input_example": {"input_data": {"columns": ["a", "b"], "data": [[1, 2], [3, 4]]}}})
    seen = []
    cal, curve = benchmarking.measure(app, concurrencies=(1, 8), batch_sizes=(1, 8), seconds=0.6,
                                      progress=seen.append)
    assert 3.9 <= cal.service_ms_batch1 <= 16.0  # 4 ms; the upper bound is loose: a loaded 2-core box adds scheduling delay
    assert 0.8 <= cal.per_row_ms <= 1.5  # 1 ms a row
    assert cal.best_batch_size == 8  # rows/s grow with the batch
    assert cal.cores == 1 and cal.measured_at and cal.max_rps_one_core
    http = {p["concurrency"]: p for p in curve if p["kind"] == "http"}
    batch = {p["batch_size"]: p for p in curve if p["kind"] == "batch"}
    assert set(http) == {1, 8} and set(batch) == {1, 8}
    assert all(p["errors"] == 0 and p["requests"] > 0 for p in http.values())
    # micro-batching: 8 concurrent clients get far more than one client through the same core
    assert http[8]["rps"] > 2 * http[1]["rps"]
    assert http[1]["rps"] < 1000 / 4.0  # a lone client can never beat one predict call per request
    assert any("concurrency 8" in m for m in seen)
    json.dumps(curve)  # stored as JSON by the facade


def test_measure_needs_an_input_example(tmp_path):
    app = script_app(tmp_path / "app", COSTED, {"model_name": "x"})
    with pytest.raises(InputError, match="input example"):
        benchmarking.measure(app, seconds=0.5)


def test_load_generator_refuses_non_loopback_targets():
    with pytest.raises(InputError, match="loopback"):
        benchmarking.run_load("10.1.2.3", 80, b"{}", concurrency=1, seconds=0.5)
