"""advisor/targets/appservice.py: a container on an App Service plan."""
from __future__ import annotations

import pytest

from advisor.engine import service_time
from advisor.prices import default_prices
from advisor.sizing import Load, NoFit

from ..conftest import make_profile
from .helpers import sized


def test_basic_plan_for_a_simple_rollout_and_slots_for_blue_green():
    _t, _p, plan, cost = sized("appservice")
    assert (plan.sku, plan.n_peak, plan.autoscale) == ("B1", 3, False)  # 3 x 12.41 at 99.9 %
    assert cost.monthly_usd == pytest.approx(37.23, abs=0.005)
    t, p, plan, _c = sized("appservice", {"operations.rollout": "blue-green"})
    assert plan.sku == "P0v3" and "deployment slots" in t.notes(p, plan)[0]


def test_zone_redundancy_keeps_premium_v3_and_three_instances():
    t, p, plan, _c = sized("appservice", {"scale.availability_sla": 99.95})
    assert plan.tier == "PremiumV3" and plan.n_peak == 3
    assert {s.tier for s, _gpu in t.sku_candidates(Load.of(p).fit)} == {"PremiumV3"}


def test_more_than_30_instances_do_not_fit():
    t = sized("appservice")[0]
    p = make_profile({"model.framework": "transformers", "model.size_mb": 500, "inference.peak_rps": 5000,
                      "inference.average_rps": 1000, "inference.p95_latency_ms": 5000})
    with pytest.raises(NoFit, match="the limit is 30"):
        t.size(Load.of(p), service_time(p), default_prices().for_region("eastus"))


def test_gpu_required_excludes_it():
    t = sized("appservice")[0]
    assert "has no GPU SKUs" in t.constraints(make_profile({"inference.gpu": "required"}))[0]
