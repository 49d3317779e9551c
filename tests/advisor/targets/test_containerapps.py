"""advisor/targets/containerapps.py: serverless containers billed by usage."""
from __future__ import annotations

import pytest

from advisor.engine import service_time
from advisor.prices import default_prices
from advisor.sizing import Load, NoFit

from ..conftest import make_profile
from .helpers import sized

SPORADIC = {"model.framework": "onnx", "model.size_mb": 90, "inference.peak_rps": 2, "inference.average_rps": 0.01,
            "inference.pattern": "sporadic", "scale.scale_to_zero": True, "scale.availability_sla": 99.0}


def test_scale_to_zero_bills_only_active_seconds_less_the_free_grant():
    # 91.25 active replica-hours of 1 vCPU / 2 GiB: (328,500 - 180,000) x $0.000024 + (657,000 - 360,000) x $0.000003
    t, p, plan, cost = sized("containerapps", SPORADIC)
    assert (plan.sku, plan.n_min, plan.n_peak) == ("1vCPU-2Gi", 0, 1)
    assert t.ha_minimum(Load.of(p)) == 0
    assert cost.monthly_usd == pytest.approx(4.455, abs=0.006)
    assert cost.breakdown["requests"] == 0 and any("Scales to zero" in a for a in cost.assumptions)


def test_three_replicas_always_on_for_an_sla():
    # vCPU 3 x 2,628,000 s - 180,000 free = 7,704,000 x 0.000024 = 184.896; memory 3 x 2 GiB x 2,628,000
    # - 360,000 = 15,408,000 x 0.000003 = 46.224; requests 4.456
    _t, _p, plan, cost = sized("containerapps")
    assert (plan.n_min, plan.n_peak) == (3, 3)
    assert cost.monthly_usd == pytest.approx(184.896 + 46.224 + 4.456, abs=0.01)


def test_min_zero_where_the_pattern_allows_it():
    t = sized("containerapps")[0]
    p = make_profile({"inference.pattern": "sporadic", "scale.availability_sla": 99.0, "inference.p95_latency_ms": 5000})
    assert t.ha_minimum(Load.of(p)) == 0
    assert t.ha_minimum(Load.of(make_profile({"inference.pattern": "sporadic", "scale.availability_sla": 99.0}))) == 2


def test_serverless_gpus_are_ga_in_their_regions_but_not_priced():
    t = sized("containerapps")[0]
    why = t.constraints(make_profile({"inference.gpu": "required"}))[0]
    assert "only in australiaeast, swedencentral, westeurope, westus, westus3, not in eastus" in why
    p = make_profile({"inference.gpu": "required"}, region="swedencentral")
    assert t.constraints(p) == []
    with pytest.raises(NoFit, match="no GPU-second meter"):
        t.size(Load.of(p), service_time(p), default_prices().for_region(p.region))
    assert all(not gpu for _s, gpu in t.sku_candidates(Load.of(make_profile({"inference.gpu": "preferred"})).fit))


def test_it_is_the_only_online_target_that_scales_to_zero():
    t = sized("containerapps")[0]
    assert t.constraints(make_profile({"scale.scale_to_zero": True})) == []
