"""Drive one target through the Target protocol, as the engine does."""
from __future__ import annotations

from advisor.catalog import targets
from advisor.engine import service_time
from advisor.prices import default_prices
from advisor.sizing import Load

from ..conftest import make_profile


def sized(tid: str, overrides: dict | None = None, **base):
    """(target, profile, plan, cost) for a profile built from dotted overrides."""
    t = targets()[tid]
    p = make_profile(overrides, **base)
    prices = default_prices().for_region(p.region)
    plan = t.size(Load.of(p), service_time(p), prices)
    return t, p, plan, t.monthly_cost(p, plan, prices)
