"""advisor/targets/containerapps.py: serverless containers billed by usage."""
from __future__ import annotations

import pytest

from advisor.sizing import Load

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


def test_two_replicas_always_on_for_an_sla():
    _t, _p, plan, cost = sized("containerapps")
    assert (plan.n_min, plan.n_peak) == (2, 2)
    assert cost.monthly_usd == pytest.approx(121.824 + 30.456 + 4.456, abs=0.01)


def test_gpu_is_a_preview_that_excludes_it_when_required():
    t = sized("containerapps")[0]
    assert "only in preview" in t.constraints(make_profile({"inference.gpu": "required"}))[0]
    assert all(not gpu for _s, gpu in t.sku_candidates(Load.of(make_profile({"inference.gpu": "preferred"})).fit))


def test_it_is_the_only_online_target_that_scales_to_zero():
    t = sized("containerapps")[0]
    assert t.constraints(make_profile({"scale.scale_to_zero": True})) == []
