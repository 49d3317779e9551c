"""Every target (built-in) implements the protocol, and its cost explains exactly its plan's monthly figure."""
from __future__ import annotations

import pytest

from advisor.catalog import TARGET_ORDER, targets
from advisor.cost import CLOSING_NOTES, r2
from advisor.prices import default_prices
from advisor.targets import Target

from .helpers import sized

PROFILES = [{}, {"inference.pattern": "diurnal", "inference.peak_rps": 300, "inference.average_rps": 40},
            {"inference.mode": "batch", "inference.max_request_seconds": 900}]


@pytest.mark.parametrize("tid", TARGET_ORDER)
def test_implements_the_protocol(tid):
    t = targets()[tid]
    assert isinstance(t, Target) and t.id == tid and t.title and t.purpose


@pytest.mark.parametrize("tid", TARGET_ORDER)
@pytest.mark.parametrize("overrides", PROFILES)
def test_the_explained_cost_is_the_plans_cost(tid, overrides):
    t, p, plan, cost = sized(tid, overrides)
    fixed = t.fixed_costs(p, default_prices().for_region(p.region))
    assert cost.monthly_usd == pytest.approx(r2(plan.usage_usd + sum(fixed.values())), abs=0.011)
    assert cost.monthly_usd == pytest.approx(sum(cost.breakdown.values()), abs=0.02)
    assert tuple(cost.assumptions[-2:]) == CLOSING_NOTES
