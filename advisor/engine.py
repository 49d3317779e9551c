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
from .verdicts import review

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
    monthly: float = 0.0  # plan.usage_usd plus the target's fixed costs, in every region it is active in
    budget: Optional[float] = None  # the profile's monthly budget (ranking by closeness when nothing fits it)
    #: the other regions of a region list: (prices, plan) each, sized for the whole peak (active-active)
    regional: list[tuple[RegionPrices, Plan]] = field(default_factory=list)

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
                    prices: RegionPrices, crits: tuple[Criterion, ...],
                    others: tuple[RegionPrices, ...] = (), *, constraints: bool = True) -> Evaluation:
    """One target's evaluation; `constraints=False` sizes and scores it despite its hard constraints (the
    closest options when no target meets every requirement)."""
    e = Evaluation(target, order, budget=profile.budget.monthly_usd)
    reasons = target.constraints(profile) if constraints else []
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
    for other in others:  # each further region runs a full deployment, at its own prices
        extra = plan_for(target, load, service, other)
        if isinstance(extra, str):
            e.excluded, e.plan = [f"No {target.title} size fits this workload in {other.region}: {extra}."], None
            return e
        e.regional.append((other, extra))
        e.monthly += extra.usage_usd + sum(target.fixed_costs(profile, other).values())
    e.cost_score, e.cost_factor = cost_score(profile.budget.monthly_usd, e.monthly)
    w = crits[-1].weight * e.cost_factor
    e.score = (num + e.cost_score * w) / (den + w) if den + w > 0 else 0.0
    return e


def evaluate(profile: WorkloadProfile, book: PriceBook) -> list[Evaluation]:
    """Every target's evaluation, in tie-break order."""
    prices = book.for_region(profile.region)
    others = tuple(book.for_region(r) for r in profile.active_regions[1:])
    service, load, crits = service_time(profile), Load.of(profile), criteria()
    return [evaluate_target(profile, load, t, i, service, prices, crits, others) for i, t in enumerate(targets().values())]


def ranked(evals: list[Evaluation]) -> list[Evaluation]:
    """The viable targets, best first; when a budget is set and none fits it, by closeness to it (the
    cheapest first), since every option then breaks the budget (issue 20)."""
    viable = [e for e in evals if not e.excluded]
    budget = viable[0].budget if viable else None
    if budget is not None and all(e.monthly > budget for e in viable):
        return sorted(viable, key=lambda e: (int(e.monthly * 100.0 + 0.5), e.rank_key()))
    return sorted(viable, key=Evaluation.rank_key)


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
    closest = [] if order else closest_options(profile, evals, book)
    rec = Recommendation(
        options=[explain.option(profile, e, region_prices, service) for e in order or closest],
        excluded=[Excluded(target=e.id, reasons=e.excluded) for e in evals if e.excluded],
        prices_as_of=book.as_of,
        sensitivity=explain.sensitivity(profile, evals, lambda p: evaluate(p, book)) if order and sensitivity else [],
        inputs=explain.inputs_summary(profile, service, book))
    rec = review(rec, profile, targets())
    if closest:  # closest first: the lightest broken hard requirements, then the score
        rec.options.sort(key=lambda o: (sum(HARD.get(v.requirement, 0) for v in o.verdicts if v.status == "not-met"),
                                        -o.score))
        rec = review(rec, profile, targets())  # the headline names the new first option
    return rec


#: how far a broken requirement puts an option when every target breaks one: where it may run (network,
#: GPU) weighs most, then the shape of the API (mode, timeout), then preferences a client or budget can
#: absorb (auth, scale to zero). Availability, budget and latency are degrees, not walls.
HARD = {"network": 3, "gpu": 3, "mode": 2, "timeout": 2, "auth": 1, "scale_to_zero": 1}


def closest_options(profile: WorkloadProfile, evals: list[Evaluation], book: PriceBook) -> list[Evaluation]:
    """Every target excluded by a hard constraint, sized and scored as if it were not (the answer is never
    empty, issue 20); the caller ranks them by what they break."""
    prices = book.for_region(profile.region)
    others = tuple(book.for_region(r) for r in profile.active_regions[1:])
    service, load, crits = service_time(profile), Load.of(profile), criteria()
    out = []
    for e in evals:
        if e.hard:
            again = evaluate_target(profile, load, e.target, e.order, service, prices, crits, others, constraints=False)
            if not again.excluded:
                out.append(again)
    return out


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
