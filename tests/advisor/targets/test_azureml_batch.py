"""advisor/targets/azureml_batch.py: batch endpoint jobs on a cluster that scales to zero."""
from __future__ import annotations

import math

import pytest

from ..conftest import make_profile
from .helpers import sized

BATCH = {"model.framework": "lightgbm", "model.size_mb": 60, "inference.payload_kb": 1, "inference.mode": "batch",
         "inference.peak_rps": 2000, "inference.average_rps": 46, "inference.max_request_seconds": 900,
         "region": "westeurope"}


def test_nodes_from_throughput_and_node_hours_cost():
    # 0.1255 ms per row, 2 workers per DS2_v2 node: 15,936 rows/s per node -> ceil(2000 / (15,936 x 0.8)) = 1 node
    # rows 120,888,000 x 0.1255 ms / 3.6e6 / 1.6 = 2.634 h + 30 jobs x 0.1 h = 5.634 h x $0.136 = $0.77
    t, p, plan, cost = sized("azureml-batch", BATCH)
    assert (plan.sku, plan.n_peak, plan.n_min, plan.batch) == ("Standard_DS2_v2", 1, 0, True)
    assert cost.monthly_usd == pytest.approx(0.77, abs=0.005)
    assert "rows/s per node" in t.notes(p, plan)[0]


def test_more_rows_need_more_nodes():
    _t, _p, plan, _c = sized("azureml-batch", {**BATCH, "inference.peak_rps": 100_000})
    node_rps = plan.workers * 1000 / plan.service_ms
    assert plan.n_peak == math.ceil(100_000 / (node_rps * 0.8))


def test_not_a_real_time_api():
    t = sized("azureml-batch", BATCH)[0]
    assert "not a real-time API" in t.constraints(make_profile())[0]
    assert t.constraints(make_profile(BATCH)) == []
