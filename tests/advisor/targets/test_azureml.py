"""advisor/targets/azureml.py: managed online endpoint."""
from __future__ import annotations

import pytest

from advisor.sizing import Load, NoFit

from ..conftest import make_profile
from .helpers import sized


def test_ha_minimum_is_three_instances_from_99_9():
    t, p, plan, _c = sized("azureml")
    assert t.ha_minimum(Load.of(p)) == 3 and plan.n_peak == 3
    assert t.ha_minimum(Load.of(make_profile({"scale.availability_sla": 99.5}))) == 2
    assert t.ha_minimum(Load.of(make_profile({"scale.availability_sla": 95}))) == 1


def test_cheapest_sku_and_quota_with_the_20_percent_reserve():
    # 4.24 ms per request, 20 rps: one worker; F4s_v2 (cheapest that fits) x 3 for HA; ceil(1.2 x 3) x 4 = 16 cores
    _t, _p, plan, cost = sized("azureml")
    assert (plan.sku, plan.workers, plan.quota_cores) == ("Standard_F4s_v2", 4, 16)
    assert cost.monthly_usd == pytest.approx(3 * 0.169 * 730, abs=0.005)
    assert any("no surcharge" in a for a in cost.assumptions)


def test_a100_is_exempt_from_the_reserve():
    _t, _p, plan, _c = sized("azureml", {"model.framework": "transformers", "model.size_mb": 30000,
                                         "inference.gpu": "required", "inference.p95_latency_ms": 10000,
                                         "inference.peak_rps": 1, "inference.average_rps": 0.5})
    assert plan.sku == "Standard_NC24ads_A100_v4" and plan.quota_cores == plan.n_peak * 24


def test_hard_constraints_read_its_facts():
    t, p, _plan, _c = sized("azureml")
    assert t.constraints(p) == []
    why = t.constraints(make_profile({"security.network": "custom-vnet", "inference.max_request_seconds": 200}))
    assert len(why) == 2 and "180 s request timeout" in why[0] and "custom virtual networks" in why[1]


def test_notes_give_the_quota_rule_and_worker_count():
    t, p, plan, _c = sized("azureml")
    notes = t.notes(p, plan)
    assert "ceil(1.2 x 3) x 4 = 16 cores" in notes[0] and "WORKER_COUNT = 4" in notes[1]


def test_no_fit_names_the_reason():
    t = sized("azureml")[0]
    p = make_profile({"model.framework": "custom", "model.size_mb": 100_000})
    from advisor.engine import service_time
    from advisor.prices import default_prices
    with pytest.raises(NoFit, match="GiB"):
        t.size(Load.of(p), service_time(p), default_prices().for_region("eastus"))
