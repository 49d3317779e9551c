"""recommend(profile) -> Recommendation: hard constraints, sizing, cost, soft scores, ranking.

Pure: no Azure SDK, no Streamlit, no network, nothing from `deployers`. The catalog, criteria and
price snapshot are loaded once per process.

For each target: its hard constraints (any one excludes it), then its plan (`target.size`; a
workload no SKU fits excludes it too), then every soft criterion on the profile, the target's facts
and the plan. A target's score is the weighted mean of its criterion scores (weight x per-profile
weight factor). Options are ranked by score, then monthly cost, then the fixed target order.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Optional, Union

from . import explain
from .catalog import targets
from .criteria import Criterion, Result, cost_score, criteria
from .models import Excluded, Recommendation, Sizing, WorkloadProfile
from .prices import PriceBook, RegionPrices, default_prices, load_prices
from .sizing import Load, NoFit, Plan, ServiceTime, estimate_service

if TYPE_CHECKING:
    from .targets import Target


@dataclass
class Evaluation:
    """One target's evaluation for one profile."""

    target: "Target"
    order: int  # position in the tie-break order
    excluded: list[str] = field(default_factory=list)  # why it is not an option; [] = viable
    hard: bool = False  # excluded by a hard constraint (rather than by sizing)
    plan: Optional[Plan] = None
    results: list[Result] = field(default_factory=list)  # per soft criterion but cost, in display order
    cost_score: float = 0.0
    cost_factor: float = 0.0
    score: float = 0.0
    monthly: float = 0.0  # plan.usage_usd plus the target's fixed costs

    @property
    def id(self) -> str:
        return self.target.id

    def rank_key(self) -> tuple[int, int, int]:
        """Best first: higher score (to 1e-6), then cheaper (to the cent), then the fixed target order."""
        assert self.plan is not None
        return (-int(self.score * 1e6 + 0.5), int(self.monthly * 100.0 + 0.5), self.order)


#: the estimate is a pure function of three profile fields: worded once per model (sensitivity asks ~20 times)
_estimated = lru_cache(maxsize=1024)(estimate_service)


def service_time(profile: WorkloadProfile) -> ServiceTime:
    m = profile.model
    if m.calibration is None:
        return _estimated(m.framework, float(m.size_mb), profile.inference.payload_kb)
    return estimate_service(m.framework, float(m.size_mb), profile.inference.payload_kb, m.calibration)


@lru_cache(maxsize=4096)
def plan_for(target: "Target", load: Load, service: ServiceTime, prices: RegionPrices) -> Union[Plan, str]:
    """target.size, memoised on its whole input (all hashable; a Plan is immutable): the plan, or why no SKU fits.
    Sensitivity probes that leave the load alone (team, security, operations...) reuse the plans."""
    try:
        return target.size(load, service, prices)
    except NoFit as why:
        return str(why)


def evaluate_target(profile: WorkloadProfile, load: Load, target: "Target", order: int, service: ServiceTime,
                    prices: RegionPrices, crits: tuple[Criterion, ...]) -> Evaluation:
    """Hard constraints, then the plan, then every soft criterion and the weighted score."""
    e = Evaluation(target, order)
    reasons = target.constraints(profile)
    if reasons:
        e.excluded, e.hard = reasons, True
        return e
    plan = plan_for(target, load, service, prices)
    if isinstance(plan, str):
        e.excluded = [f"No {target.title} size fits this workload: {plan}."]
        return e
    e.plan = plan
    num = den = 0.0
    for c in crits[:-1]:
        r = c.judge(profile, target, plan)
        e.results.append(r)
        w = c.weight * r[1]
        num += r[0] * w
        den += w
    e.monthly = plan.usage_usd + sum(target.fixed_costs(profile, prices).values())
    e.cost_score, e.cost_factor = cost_score(profile.budget.monthly_usd, e.monthly)
    w = crits[-1].weight * e.cost_factor
    e.score = (num + e.cost_score * w) / (den + w) if den + w > 0 else 0.0
    return e


def evaluate(profile: WorkloadProfile, book: PriceBook) -> list[Evaluation]:
    """Every target's evaluation, in tie-break order."""
    prices = book.for_region(profile.region)
    service, load, crits = service_time(profile), Load.of(profile), criteria()
    return [evaluate_target(profile, load, t, i, service, prices, crits) for i, t in enumerate(targets().values())]


def ranked(evals: list[Evaluation]) -> list[Evaluation]:
    """The viable targets, best first."""
    return sorted((e for e in evals if not e.excluded), key=Evaluation.rank_key)


def _book(prices: Any) -> PriceBook:
    if prices is None:
        return default_prices()
    if isinstance(prices, PriceBook):
        return prices
    return load_prices(prices)


def recommend(profile: WorkloadProfile, prices: Any = None, *, sensitivity: bool = True) -> Recommendation:
    """Rank the viable cloud targets for `profile`, with reasons, sizing, cost and sensitivity.

    `prices`: a PriceBook, anything `load_prices` reads (a Retail Prices API export), or None for the
    bundled snapshot. `sensitivity=False` skips the "what would change the answer" search for bulk use."""
    book = _book(prices)
    evals = evaluate(profile, book)
    order = ranked(evals)
    region_prices = book.for_region(profile.region)
    service = service_time(profile)
    return Recommendation(
        options=[explain.option(profile, e, region_prices, service) for e in order],
        excluded=[Excluded(target=e.id, reasons=e.excluded) for e in evals if e.excluded],
        prices_as_of=book.as_of,
        sensitivity=explain.sensitivity(profile, evals, lambda p: evaluate(p, book)) if order and sensitivity else [],
        inputs=explain.inputs_summary(profile, service, book))


def size_for(target: str, profile: WorkloadProfile, prices: Any = None) -> Sizing:
    """The advisor's sizing for one target, even one it would exclude (hard constraints are ignored).

    Deployers use it to size what the user chose. Raises ValueError for an unknown target or when
    no SKU of the target fits the workload."""
    known = targets()
    if target not in known:
        raise ValueError(f"unknown target {target!r}; expected one of {', '.join(known)}")
    t = known[target]
    book = _book(prices)
    service = service_time(profile)
    plan = plan_for(t, Load.of(profile), service, book.for_region(profile.region))
    if isinstance(plan, str):
        raise ValueError(f"no {t.title} size fits this workload: {plan}")
    return explain.sizing(profile, t, plan, service)


def recommend_json(profile: WorkloadProfile, prices: Any = None, indent: Optional[int] = 2) -> str:
    """The DESIGN §5 JSON document: keys sorted, byte-for-byte deterministic."""
    rec = recommend(profile, prices)
    return json.dumps(rec.model_dump(mode="json"), sort_keys=True, indent=indent, ensure_ascii=False,
                      allow_nan=False) + "\n"


__all__ = ["recommend", "recommend_json", "size_for", "evaluate", "ranked", "Evaluation"]
