"""recommend(profile) -> Recommendation: hard constraints, sizing, cost, soft scores, ranking.

Pure: no Azure SDK, no Streamlit, no network, nothing from `deployers`. The
catalog, criteria tables and price snapshot are loaded once per process.

A target's score is the weighted mean of its criterion scores (weight x
per-profile weight factor). Options are ranked by score, then monthly cost,
then the fixed order azureml, aks, appservice, containerapps, azureml-batch.
"""
from __future__ import annotations

import json
from operator import itemgetter
from typing import Any, Optional

from .catalog import TARGET_ORDER, Catalog, Target, get_catalog
from .cost import CostModel, cost_model
from .criteria import FIXED_COST_DEPS, HARD, SIZING_DEPS, Criterion, Inputs, cost_score, criteria
from .models import Excluded, Recommendation, Sizing, WorkloadProfile
from .prices import PriceBook, default_prices, load_prices
from .sizing import GPU_FRAMEWORKS, ServiceTime, build_candidates, estimate_service, priced_skus, size_target

_ORDER = {t: i for i, t in enumerate(TARGET_ORDER)}


def rank_key(score: float, monthly: float, order: int) -> tuple[int, int, int]:
    """Best first: higher score (to 1e-6), then cheaper (to the cent), then the fixed target order."""
    return (-int(score * 1e6 + 0.5), int(monthly * 100.0 + 0.5), order)


class TargetEval:
    """One target's evaluation (internal)."""

    __slots__ = ("tid", "order", "hard", "excluded", "plan", "results", "num", "den", "N", "D", "monthly", "score",
                 "cost_s", "cost_wf")

    def __init__(self, tid: str) -> None:
        self.tid = tid
        self.order = _ORDER[tid]
        self.hard: list[Optional[str]] = []
        self.excluded: list[str] = []
        self.plan: Any = None
        self.results: list[tuple] = []
        self.num = self.den = self.N = self.D = 0.0
        self.monthly = self.score = self.cost_s = self.cost_wf = 0.0

    def rank_key(self) -> tuple:
        return rank_key(self.score, self.monthly, self.order)


class Evaluator:
    """Evaluates one profile, and cheap single-input variations of it (for sensitivity).

    Built once per price book. `begin()` resets the per-recommendation caches
    (service-time estimate, SKU candidates, sizing plans); queueing searches are
    pure functions of numbers and stay cached (bounded).
    """

    def __init__(self, book: PriceBook, catalog: Optional[Catalog] = None) -> None:
        self.cat = catalog or get_catalog()
        self.book = book
        self.crits: tuple[Criterion, ...] = criteria()
        self.soft = self.crits[:-1]  # cost is scored separately, from the plan's monthly cost
        self.cost_crit = self.crits[-1]
        self.targets: list[Target] = [self.cat.targets[t] for t in TARGET_ORDER]
        self._queue_cache: dict = {}
        self._plan_cache: dict = {}
        self._cand_cache: dict = {}
        self._priced_cache: dict = {}  # pure function of catalog + prices: kept across recommendations
        self._service: Optional[tuple] = None
        self._cms: dict[str, CostModel] = {}
        self._getters = {tid: itemgetter(*deps) for tid, deps in SIZING_DEPS.items()}
        # which criteria / hard constraints / sizings read which input
        self.crit_by_attr: dict[str, tuple[int, ...]] = {}
        for i, c in enumerate(self.soft):
            for d in c.deps:
                self.crit_by_attr[d] = self.crit_by_attr.get(d, ()) + (i,)
        self.plan_crits: tuple[int, ...] = self.crit_by_attr.get("plan", ())
        self.hard_by_attr: dict[str, tuple[int, ...]] = {}
        for i, h in enumerate(HARD):
            for d in h.deps:
                self.hard_by_attr[d] = self.hard_by_attr.get(d, ()) + (i,)
        self.sized_by_attr: dict[str, frozenset] = {}
        for tid, deps in SIZING_DEPS.items():
            for d in deps:
                self.sized_by_attr[d] = self.sized_by_attr.get(d, frozenset()) | {tid}
        self.plan_idx_by_attr = {a: tuple(sorted(set(self.crit_by_attr.get(a, ())) | set(self.plan_crits)))
                                 for a in set(self.crit_by_attr) | set(self.sized_by_attr)}
        self.max_weight_by_attr = {a: sum(self.soft[i].weight * self.soft[i].max_wf for i in idx)
                                   for a, idx in self.crit_by_attr.items()}

    # ------------------------------------------------------------ building blocks
    def begin(self) -> None:
        self._plan_cache = {}
        self._cand_cache = {}
        self._service = None
        if len(self._queue_cache) > 50000:
            self._queue_cache = {}

    def cm(self, region: str) -> CostModel:
        m = self._cms.get(region)
        if m is None:
            m = cost_model(self.book, region, self.cat)
            self._cms[region] = m
        return m

    def service(self, P: Inputs) -> ServiceTime:
        key = (P.framework, P.size_mb, P.payload_kb, P.calib_key)
        hit = self._service
        if hit is None or hit[0] != key:
            hit = (key, estimate_service(P.framework, P.size_mb, P.payload_kb, P.calib))
            self._service = hit
        return hit[1]

    def plan(self, P: Inputs, T: Target) -> tuple[Any, str]:
        tid = T.id
        key = (tid, self._getters[tid](P.__dict__))
        hit = self._plan_cache.get(key)
        if hit is None:
            cm = self._cms.get(P.region) or self.cm(P.region)
            ckey = (tid, P.region, P.framework, P.size_mb, P.payload_kb, P.calib_key, P.gpu,
                    P.rollout != "simple" if tid == "appservice" else None, P.sla >= 99.95 if tid == "appservice" else None)
            cands = self._cand_cache.get(ckey)
            if cands is None:
                app = tid == "appservice"
                pkey = (tid, P.region, P.gpu == "required", P.framework in GPU_FRAMEWORKS,
                        P.rollout != "simple" if app else None, P.sla >= 99.95 if app else None)
                priced = self._priced_cache.get(pkey)
                if priced is None:
                    priced = priced_skus(P, T, lambda sku: cm.price(T, sku))
                    self._priced_cache[pkey] = priced
                cands = build_candidates(P, T, self.service(P), priced)
                self._cand_cache[ckey] = cands
            hit = size_target(P, T, None, cm, self._queue_cache, cands)
            self._plan_cache[key] = hit
        return hit

    def _finish(self, P: Inputs, te: TargetEval) -> None:
        cs, cwf = cost_score(P, te.monthly)
        w = self.cost_crit.weight * cwf
        te.cost_s, te.cost_wf = cs, cwf
        te.N, te.D = te.num + cs * w, te.den + w
        te.score = te.N / te.D if te.D > 0 else 0.0

    def evaluate_target(self, P: Inputs, T: Target, explain: bool, hard: Optional[list] = None) -> TargetEval:
        te = TargetEval(T.id)
        te.hard = hard if hard is not None else [h.test(P, T) for h in HARD]
        if True in te.hard:
            te.excluded = [h.reason(P, T) for h, x in zip(HARD, te.hard) if x] if explain else ["excluded"]
            return te
        plan, why = self.plan(P, T)
        if plan is None:
            te.excluded = [f"No {T.title} size fits this workload: {why}."]
            return te
        te.plan = plan
        num = den = 0.0
        res = []
        for c in self.soft:
            r = c.fn(P, T, plan, explain)
            res.append(r)
            w = c.weight * r[1]
            num += r[0] * w
            den += w
        te.results, te.num, te.den = res, num, den
        te.monthly = plan.monthly + (self.cm(P.region).fixed_monthly(P, T.id) if T.id == "aks" else 0.0)
        self._finish(P, te)
        return te

    def evaluate(self, P: Inputs, explain: bool = False) -> list[TargetEval]:
        return [self.evaluate_target(P, T, explain) for T in self.targets]

    # ------------------------------------------------------------ probes (sensitivity)
    def probe(self, P2: Inputs, base: list[TargetEval], attr: str, won: str) -> tuple:
        """The winner after changing one input: (best rank key, best target, rank key of `won` or None).

        Reuses the base evaluation: only the hard constraints, sizing and criteria
        that read `attr` are recomputed; no reason text is built."""
        hidx = self.hard_by_attr.get(attr, ())
        cidx = self.crit_by_attr.get(attr, ())
        sized = self.sized_by_attr.get(attr, ())
        pidx = self.plan_idx_by_attr.get(attr, cidx)
        fixed = attr in FIXED_COST_DEPS
        soft = self.soft
        cost_w = self.cost_crit.weight
        best = None
        best_tid = ""
        mine = None
        for T, b in zip(self.targets, base):
            tid = T.id
            key = None
            if b.excluded:
                if hidx or (tid in sized and True not in b.hard):
                    hard = b.hard
                    if hidx:
                        hard = list(hard)
                        for i in hidx:
                            hard[i] = HARD[i].test(P2, T)
                    if True not in hard:
                        te = self.evaluate_target(P2, T, False, hard)
                        if not te.excluded:
                            key = te.rank_key()
            else:
                excl = False
                for i in hidx:
                    if HARD[i].test(P2, T):
                        excl = True
                        break
                if not excl:
                    plan = b.plan
                    if tid in sized:
                        plan = self.plan(P2, T)[0]
                    if plan is not None:
                        num, den = b.num, b.den
                        res = b.results
                        for i in (cidx if plan is b.plan else pidx):
                            c = soft[i]
                            old = res[i]
                            new = c.fn(P2, T, plan, False)
                            w_old, w_new = c.weight * old[1], c.weight * new[1]
                            num += new[0] * w_new - old[0] * w_old
                            den += w_new - w_old
                        if plan is b.plan:
                            monthly = b.monthly
                        else:
                            monthly = plan.monthly + (b.monthly - b.plan.monthly)
                        if fixed and tid == "aks":
                            monthly = plan.monthly + self.cm(P2.region).fixed_monthly(P2, tid)
                        cs, cwf = cost_score(P2, monthly)
                        w = cost_w * cwf
                        key = (-int((num + cs * w) / (den + w) * 1e6 + 0.5), int(monthly * 100.0 + 0.5), b.order)
            if key is not None and (best is None or key < best):
                best, best_tid = key, tid
            if tid == won:
                mine = key
        return best, best_tid, mine

    def may_flip(self, base: list[TargetEval], win: TargetEval, attr: str) -> bool:
        """False when no value of `attr` can change the winner (bound on the criteria it feeds).

        Only for inputs that feed soft criteria alone (no hard constraint, no sizing)."""
        if attr in self.hard_by_attr or attr in self.sized_by_attr or attr in FIXED_COST_DEPS:
            return True
        W = self.max_weight_by_attr.get(attr, 0.0)
        if W <= 0.0:
            return False
        idx = self.crit_by_attr[attr]
        soft = self.soft
        lb_w = 0.0
        ubs = []
        for b in base:
            if b.excluded:
                continue
            cur_n = cur_d = 0.0
            res = b.results
            for i in idx:
                w = soft[i].weight * res[i][1]
                cur_n += res[i][0] * w
                cur_d += w
            n0, d0 = b.N - cur_n, b.D - cur_d
            if b is win:
                lb_w = n0 / (d0 + W)
            else:
                ubs.append((n0 + 100.0 * W) / (d0 + W))
        return any(ub >= lb_w - 1e-9 for ub in ubs)


def ranked(evals: list[TargetEval]) -> list[TargetEval]:
    """Viable targets, best first (score, then cheaper, then fixed order)."""
    viable = [e for e in evals if not e.excluded]
    viable.sort(key=TargetEval.rank_key)
    return viable


def winner(evals: list[TargetEval]) -> Optional[TargetEval]:
    viable = [e for e in evals if not e.excluded]
    return min(viable, key=TargetEval.rank_key) if viable else None


# ---------------------------------------------------------------- public API

_EVALUATORS: dict[int, Evaluator] = {}


def _evaluator(book: PriceBook) -> Evaluator:
    ev = _EVALUATORS.get(id(book))
    if ev is None or ev.book is not book:
        if len(_EVALUATORS) > 8:
            _EVALUATORS.clear()
        ev = Evaluator(book)
        _EVALUATORS[id(book)] = ev
    return ev


def _book(prices: Any) -> PriceBook:
    if prices is None:
        return default_prices()
    if isinstance(prices, PriceBook):
        return prices
    return load_prices(prices)


def recommend(profile: WorkloadProfile, prices: Any = None, *, sensitivity: bool = True) -> Recommendation:
    """Rank the viable cloud targets for `profile`, with reasons, sizing, cost and sensitivity.

    `prices`: a PriceBook, anything `load_prices` reads (a Retail Prices API
    export), or None for the bundled snapshot. `sensitivity=False` skips the
    "what would change the answer" search (about half the time) for bulk use.
    """
    from . import explain

    book = _book(prices)
    ev = _evaluator(book)
    ev.begin()
    P = Inputs.from_profile(profile)
    evals = ev.evaluate(P, explain=True)
    order = ranked(evals)
    cm = ev.cm(P.region)
    st = ev.service(P)
    options = [explain.build_option(ev, P, e, cm, st) for e in order]
    excluded = [explain.make(Excluded, target=e.tid, reasons=list(e.excluded)) for e in evals if e.excluded]
    sens = explain.sensitivity(ev, P, evals) if order and sensitivity else []
    return explain.make(Recommendation, options=options, excluded=excluded, prices_as_of=book.as_of,
                        sensitivity=sens, inputs=explain.inputs_summary(P, st, book))


def size_for(target: str, profile: WorkloadProfile, prices: Any = None) -> Sizing:
    """The advisor's sizing for one target, even one it would exclude (hard constraints are ignored).

    Deployers use it to size what the user chose. Raises ValueError for an
    unknown target or when no SKU of the target fits the workload."""
    from . import explain

    if target not in _ORDER:
        raise ValueError(f"unknown target {target!r}; expected one of {', '.join(TARGET_ORDER)}")
    ev = _evaluator(_book(prices))
    ev.begin()
    P = Inputs.from_profile(profile)
    T = ev.cat.targets[target]
    plan, why = ev.plan(P, T)
    if plan is None:
        raise ValueError(f"no {T.title} size fits this workload: {why}")
    te = TargetEval(target)
    te.plan = plan
    return explain.build_sizing(ev, P, te, ev.service(P))


def recommend_json(profile: WorkloadProfile, prices: Any = None, indent: Optional[int] = 2) -> str:
    """The DESIGN §5 JSON document: keys sorted, byte-for-byte deterministic."""
    rec = recommend(profile, prices)
    return json.dumps(rec.model_dump(mode="json"), sort_keys=True, indent=indent, ensure_ascii=False,
                      allow_nan=False) + "\n"


__all__ = ["recommend", "recommend_json", "size_for", "Evaluator", "ranked", "winner"]
