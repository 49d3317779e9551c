"""recommend(profile) -> Recommendation: hard constraints, sizing, cost, soft scores, ranking.

Pure: no Azure SDK, no Streamlit, no network, nothing from `deployers`. The
catalog, criteria tables and price snapshot are loaded once per process.

A target's score is the weighted mean of its criterion scores (weight x
per-profile weight factor). Options are ranked by score, then monthly cost,
then the fixed order azureml, aks, appservice, containerapps, azureml-batch.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from operator import itemgetter
from typing import Any, Callable, Final, Optional, cast

from .catalog import TARGET_ORDER, Catalog, Target, VmSku, get_catalog
from .cost import ACTIVE_HOURS_PER_DAY, HOURS_PER_MONTH, SECONDS_PER_MONTH, CostModel, cost_model
from .criteria import (FIXED_COST_DEPS, HARD, PLAN_MEMO_KEYS, PLAN_UPPER_BOUND_DEPS, PLAN_UPPER_BOUNDS, SIZING_DEPS,
                       Criterion, Inputs, cost_score, criteria)
from .models import Excluded, Recommendation, Sizing, WorkloadProfile
from .prices import PriceBook, default_prices, load_prices
from .sizing import (BATCH_UTIL, GPU_FRAMEWORKS, RHO_MAX, CandSet, CandTable, Plan, ServiceTime, _ha_min, estimate_service,
                     priced_skus, size_fast, size_target)

_ORDER: Final = {t: i for i, t in enumerate(TARGET_ORDER)}
#: inputs a target's SKU candidates depend on (Evaluator.candset; plus the service time's inputs, which only
#: scale the candidates' service times and are read from the profile by size_fast)
CANDSET_DEPS: Final = frozenset({"region", "gpu", "framework", "rollout", "sla", "size_mb"})
#: largest number of entries in each memo table (they are cleared when full)
MEMO_MAX: Final = 4096
#: sort key: a C itemgetter, cheaper per element than a Python-level key function
_FIRST: Final = itemgetter(0)


def rank_key(score: float, monthly: float, order: int) -> tuple[int, int, int]:
    """Best first: higher score (to 1e-6), then cheaper (to the cent), then the fixed target order."""
    return (-int(score * 1e6 + 0.5), int(monthly * 100.0 + 0.5), order)


class TargetEval:
    """One target's evaluation (internal)."""

    __slots__ = ("tid", "order", "hard", "hard_any", "excluded", "plan", "results", "num", "den", "N", "D", "monthly",
                 "score", "cost_s", "cost_wf", "ubs", "cents", "rows")

    def __init__(self, tid: str) -> None:
        self.tid = tid
        self.order = _ORDER[tid]
        self.hard: list[Optional[str]] = []
        self.hard_any = False  # a hard constraint excludes this target
        self.excluded: list[str] = []
        self.plan: Optional[Plan] = None
        self.results: list[tuple] = []
        self.num = self.den = self.N = self.D = 0.0
        self.monthly = self.score = self.cost_s = self.cost_wf = 0.0
        self.ubs: dict = {}  # sensitivity: upper bounds on the score per changed input
        self.cents = 0
        self.rows: Any = None  # Evaluator.rows() of the profile this evaluation is for

    def rank_key(self) -> tuple:
        return rank_key(self.score, self.monthly, self.order)


#: (criterion index, criterion, weight, table lookup or None): typed, so the compiled loops unpack them natively
LightEntry = tuple[int, Criterion, float, Optional[tuple[str, dict]]]


class _AttrSpec:
    """What a change of one input touches (precomputed per input, for probes)."""

    __slots__ = ("attr", "hard", "sized", "light", "pidx", "fixed", "cost", "light_np", "same_cands", "row_changes",
                 "is_light", "ub_reads", "ub_key")

    def __init__(self, ev: "Evaluator", attr: str) -> None:
        self.attr = attr
        self.hard = tuple((i, HARD[i].test) for i in ev.hard_by_attr.get(attr, ()))
        self.sized = ev.sized_by_attr.get(attr, frozenset())
        soft = ev.soft
        cidx = ev.crit_by_attr.get(attr, ())
        #: criteria that read `attr` (recomputed when the plan is unchanged): (index, criterion, weight, table lookup)
        self.light: tuple[LightEntry, ...] = tuple((i, soft[i], soft[i].weight, soft[i].lookup) for i in cidx)
        #: criteria recomputed when the plan changes
        self.pidx: tuple[tuple[int, Criterion, float], ...] = tuple(
            (i, soft[i], soft[i].weight) for i in ev.plan_idx_by_attr.get(attr, cidx))
        #: criteria that read `attr` but not the plan (for _heavy_ub)
        self.light_np: tuple[LightEntry, ...] = tuple(x for x in self.light if "plan" not in x[1].deps)
        #: the SKU candidates (CandSet) do not depend on `attr`, so a re-sizing can reuse the base plan's
        self.same_cands = attr not in CANDSET_DEPS
        #: indexes of the rows() entries that read `attr`
        self.row_changes = tuple(i for i, c in enumerate(soft) if "plan" not in c.deps and attr in c.deps)
        self.fixed = attr in FIXED_COST_DEPS
        #: the cost score can move without a new plan (budget, or the AKS fixed costs)
        self.cost = attr == "budget" or self.fixed
        #: the plan criteria's upper bounds (PLAN_UPPER_BOUNDS) read `attr`
        self.ub_reads = attr in PLAN_UPPER_BOUND_DEPS
        #: no hard constraint and no sizing reads `attr`: every target keeps its plan and viability
        self.is_light = not self.hard and not self.sized
        #: TargetEval.ubs key of _heavy_ub's partial sums for `attr` (the plain attr key holds _light_ub's bound)
        self.ub_key = "s:" + attr


class Evaluator:
    """Evaluates one profile, and cheap single-input variations of it (for sensitivity).

    Built once per price book. `begin()` resets the per-recommendation caches
    (service-time estimate, queueing searches). What is kept across
    recommendations is keyed on categorical inputs or on small integers derived from
    a profile, never on a whole profile (cache_report lists them): hard constraints
    and non-plan criteria per categorical inputs, SKU candidates per model-size step
    (sizing.CandTable), the SKU choice and the probe plans per server counts
    (sizing.CandSet), explained cost breakdowns per plan facts, CriterionScore
    objects per memoized result (explain.build_option). Each memo table is bounded.
    """

    def __init__(self, book: PriceBook, catalog: Optional[Catalog] = None) -> None:
        self.cat = catalog or get_catalog()
        self.book = book
        self.crits: tuple[Criterion, ...] = criteria()
        self.soft = self.crits[:-1]  # cost is scored separately, from the plan's monthly cost
        self.cost_crit = self.crits[-1]
        self.targets: list[Target] = [self.cat.targets[t] for t in TARGET_ORDER]
        self.targets_index = {t: i for i, t in enumerate(TARGET_ORDER)}
        self._queue_cache: dict = {}
        #: CandTables: pure functions of catalog + prices, kept across recommendations
        self._tables: dict[tuple, CandTable] = {}
        # the last service-time estimate and the inputs it was made from (compared field by field: natively)
        self._st: Optional[ServiceTime] = None
        self._st_fw = ""
        self._st_size = self._st_payload = 0.0
        self._st_calib: Optional[tuple] = None
        self._cms: dict[str, CostModel] = {}
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
        if any("plan" in c.deps and PLAN_UPPER_BOUNDS.get(c.id) is None for c in self.soft):
            raise ValueError("every criterion that reads the plan needs an upper bound in PLAN_UPPER_BOUNDS")
        self._specs: dict[str, _AttrSpec] = {}
        self.n_exact = 0  # probes: targets evaluated exactly besides the winner (the rest were bounded out)
        self._ub_list: tuple[tuple[float, Callable[[Inputs, Target], tuple[float, float]]], ...] = tuple(
            (c.weight, PLAN_UPPER_BOUNDS[c.id]) for c in self.soft if "plan" in c.deps)
        # memoized pieces (keyed on categorical inputs only; see hard_all, rows, PLAN_MEMO_KEYS)
        self._hard_key = itemgetter(*sorted({d for h in HARD for d in h.deps}))
        self._hard_memo: dict = {}
        self._row_specs: tuple[tuple[Criterion, Optional[tuple[str, dict]], Any, Optional[dict]], ...] = tuple(
            (c, c.lookup, None if c.lookup is not None or "plan" in c.deps else itemgetter(*sorted(c.deps)),
             None if c.lookup is not None or "plan" in c.deps else {})
            for c in self.soft)
        self._weights = tuple(c.weight for c in self.soft)
        #: per soft criterion: {input: position in its memo key} (None when the key is that one input itself)
        self._row_key_pos = tuple({a: (None if len(c.deps) == 1 else k) for k, a in enumerate(sorted(c.deps))}
                                  for c in self.soft)
        self._np_idx = tuple(i for i, c in enumerate(self.soft) if "plan" not in c.deps)
        #: explain.build_option: {id(result): (result, SharedCriterionScore, info)} for the criteria whose explained
        #: results are memoized objects (`shareable`: table rows, `rows`, PLAN_MEMO_KEYS)
        self.shareable = tuple("plan" not in c.deps or c.id in PLAN_MEMO_KEYS for c in self.soft)
        self.cs_memo: dict = {}
        self._cost_memo: dict = {}
        self._plan_memos: tuple[Any, ...] = tuple((PLAN_MEMO_KEYS[c.id], {}) if c.id in PLAN_MEMO_KEYS else None for c in self.soft)
        self.stats: Counter = Counter()  # memo misses and other rare events (cache_report)
        self.n_hard = self.n_cost = self.n_rows = self.n_options = self.n_probes = 0  # lookups (cache_report)
        self.max_weight_by_attr = {a: sum(self.soft[i].weight * self.soft[i].max_wf for i in idx)
                                   for a, idx in self.crit_by_attr.items()}

    # ------------------------------------------------------------ building blocks
    def begin(self) -> None:
        self._queue_cache = {}
        self._st = None

    def cm(self, region: str) -> CostModel:
        m = self._cms.get(region)
        if m is None:
            m = cost_model(self.book, region, self.cat)
            self._cms[region] = m
        return m

    def service(self, P: Inputs) -> ServiceTime:
        st = self._st
        if (st is None or P.size_mb != self._st_size or P.payload_kb != self._st_payload or P.framework != self._st_fw
                or (P.calib_key is not self._st_calib and P.calib_key != self._st_calib)):
            st = self._st = estimate_service(P.framework, P.size_mb, P.payload_kb, P.calib)
            self._st_fw, self._st_size, self._st_payload, self._st_calib = P.framework, P.size_mb, P.payload_kb, P.calib_key
        return st

    def plan(self, P: Inputs, T: Target, why: bool = True) -> tuple[Any, Optional[str]]:
        """(plan, "") or (None, reason). With why=False the reason may be None (not worded)."""
        cm = self._cms.get(P.region) or self.cm(P.region)
        plan = size_fast(P, T, self.candset(P, T, cm), self.service(P), cm, self._queue_cache)
        if plan is not None:
            return plan, ""
        return None, (self._why_not(P, T) if why else None)

    def candset(self, P: Inputs, T: Target, cm: CostModel) -> CandSet:
        """The SKUs that can serve this profile's model on T, with prices and worker counts."""
        tid = T.id
        app = tid == "appservice"
        pkey = (tid, P.region, P.gpu == "required", P.framework in GPU_FRAMEWORKS,
                P.rollout != "simple" if app else None, P.sla >= 99.95 if app else None)
        table = self._tables.get(pkey)
        if table is None:
            table = self._tables[pkey] = CandTable(T, priced_skus(P, T, lambda sku: cm.price(T, sku)))
        return table.get(P.size_mb)

    def full_cost(self, cm: CostModel, P: Inputs, T: Target, plan: Plan) -> tuple[float, dict, list]:
        """cm.full(P, T, plan) with explanations. For instance-priced targets the answer depends only on
        the plan's discrete facts and a few categorical inputs, so it is memoized on them."""
        tid = T.id
        if tid == "containerapps" or tid == "azureml-batch":
            return cm.full(P, T, plan, True)
        self.n_cost += 1
        key = (cm, tid, plan.sku, plan.hourly, plan.price_region, plan.autoscale, plan.tier, plan.n_peak, plan.n_base,
               P.pattern, P.existing_aks, P.sla, P.network == "on-premises")
        hit = self._cost_memo.get(key)
        if hit is None:
            if len(self._cost_memo) >= MEMO_MAX:
                self._cost_memo.clear()
            hit = self._cost_memo[key] = cm.full(P, T, plan, True)
            self.stats["cost_memo_miss"] += 1
        return hit[0], dict(hit[1]), list(hit[2])

    def _why_not(self, P: Inputs, T: Target) -> str:
        """The reason no SKU fits, worded by the reference sizing (sizing.size_target)."""
        cm = self.cm(P.region)
        plan, why = size_target(P, T, self.service(P), cm, {})
        return why

    def _finish(self, P: Inputs, te: TargetEval) -> None:
        cs, cwf = cost_score(P, te.monthly)
        w = self.cost_crit.weight * cwf
        te.cost_s, te.cost_wf = cs, cwf
        te.N, te.D = te.num + cs * w, te.den + w
        te.score = te.N / te.D if te.D > 0 else 0.0
        te.cents = int(te.monthly * 100.0 + 0.5)

    def hard_all(self, P: Inputs) -> tuple:
        """Per target (in TARGET_ORDER): (hard constraint results, reasons, whether any excludes it). Memoized on
        the inputs the constraints read (all categorical), so profiles that share them share the answer."""
        self.n_hard += 1
        d = P.d
        key = self._hard_key(d)
        hit = self._hard_memo.get(key)
        if hit is None:
            hit = []
            for T in self.targets:
                hard = [h.test(P, T) for h in HARD]
                hit.append((tuple(hard), tuple(h.reason(P, T) for h, x in zip(HARD, hard) if x), True in hard))
            hit = tuple(hit)
            if len(self._hard_memo) >= MEMO_MAX:
                self._hard_memo.clear()
            self._hard_memo[key] = hit
            self.stats["hard_memo_miss"] += 1
        return hit

    def rows(self, P: Inputs) -> list:
        """Per soft criterion: {target: result} when the criterion does not read the plan (a table row, or
        memoized on the inputs it reads - all categorical), else None (computed per target and plan)."""
        self.n_rows += 1
        d = P.d
        out = []
        for c, lk, getter, memo in self._row_specs:
            if lk is not None:
                out.append(lk[1][d[lk[0]]])
            elif memo is None:
                out.append(None)
            else:
                key = getter(d)
                row = memo.get(key)
                if row is None:
                    row = self._memo_row(c, memo, key, P)
                    self.stats["rows_memo_miss"] += 1
                out.append(row)
        return out

    def _memo_row(self, c: Criterion, memo: dict, key: Any, P: Inputs) -> dict:
        """Build and keep the {target: result} row of a criterion that reads only categorical inputs
        (`key` is their values in P); the table is cleared when full."""
        if len(memo) >= MEMO_MAX:
            memo.clear()
        row = memo[key] = {T.id: c.fn(P, T, None, True) for T in self.targets}
        return row

    def rows_with(self, rows: Optional[list], P2: Inputs, sp: "_AttrSpec") -> list:
        """rows(P2) from the rows of a profile that differs from P2 in `sp.attr` only."""
        if rows is None:
            return self.rows(P2)
        out = list(rows)
        d = P2.d
        for i in sp.row_changes:
            c, lk, getter, memo = self._row_specs[i]
            if lk is not None:
                out[i] = lk[1][d[lk[0]]]
            else:
                assert memo is not None  # (a criterion that reads the plan is never in row_changes)
                key = getter(d)
                row = memo.get(key)
                if row is None:
                    row = self._memo_row(c, memo, key, P2)
                out[i] = row
        return out

    def evaluate_target(self, P: Inputs, T: Target, explain: bool, hard: Optional[list] = None,
                        rows: Optional[list] = None, reasons: Optional[tuple] = None, shared: bool = False) -> TargetEval:
        """One target for P. shared=True (sensitivity probes: only the rank key is read) may use a plan
        shared with other profiles (size_fast(shared=True)); never combine it with explain."""
        te = TargetEval(T.id)
        te.rows = rows
        if hard is None:
            hard = [h.test(P, T) for h in HARD]
        te.hard = hard
        te.hard_any = True in hard
        if te.hard_any:
            if not explain:
                te.excluded = ["excluded"]
            elif reasons is not None:
                te.excluded = list(reasons)
            else:
                te.excluded = [h.reason(P, T) for h, x in zip(HARD, hard) if x]
            return te
        if shared and not explain:
            cm = self._cms.get(P.region) or self.cm(P.region)
            plan = size_fast(P, T, self.candset(P, T, cm), self.service(P), cm, self._queue_cache, True)
            why = None
        else:
            plan, why = self.plan(P, T, explain)
        if plan is None:
            te.excluded = [f"No {T.title} size fits this workload: {why}."]
            return te
        te.plan = plan
        if rows is None:
            rows = self.rows(P)
        tid = T.id
        num = den = 0.0
        res = []
        memos = self._plan_memos
        # typed locals (wt, r, score, wf) let the compiled loop do float arithmetic unboxed; a value read from an
        # untyped container is annotated or cast where it is assigned, since assigning Any to a declared
        # variable makes mypy (and so mypyc) treat it as Any again
        wt: float
        r: tuple
        for c, row, wt, pm in zip(self.soft, rows, self._weights, memos):
            if row is not None:
                r = row[tid]
            elif explain and pm is not None:
                key = pm[0](P, T, plan)
                hit = pm[1].get(key)
                if hit is None:
                    if len(pm[1]) >= MEMO_MAX:
                        pm[1].clear()
                    hit = pm[1][key] = c.fn(P, T, plan, True)
                r = hit
            else:
                r = c.fn(P, T, plan, explain)
            res.append(r)
            score: float = r[0]
            wf: float = r[1]
            w = wt * wf
            num += score * w
            den += w
        te.results, te.num, te.den = res, num, den
        te.monthly = plan.monthly + (self.cm(P.region).fixed_monthly(P, tid) if tid == "aks" else 0.0)
        self._finish(P, te)
        return te

    def evaluate(self, P: Inputs, explain: bool = False) -> list[TargetEval]:
        rows = self.rows(P)
        hard = self.hard_all(P)
        return [self.evaluate_target(P, T, explain, list(h[0]), rows, h[1]) for T, h in zip(self.targets, hard)]

    # ------------------------------------------------------------ probes (sensitivity)
    def spec(self, attr: str) -> "_AttrSpec":
        sp = self._specs.get(attr)
        if sp is None:
            sp = self._specs[attr] = _AttrSpec(self, attr)
        return sp

    def probe(self, P2: Inputs, base: list[TargetEval], attr: str, won: str) -> tuple:
        """The winner after changing one input: (best rank key, best target, rank key of `won` or None).

        Reuses the base evaluation: only the hard constraints, sizing and criteria
        that read `attr` are recomputed; no reason text is built. `won`'s key is
        computed first; every other target is computed only when an upper bound on
        its score (`_light_ub`, `_heavy_ub`) could still beat the best key found so
        far, best bound first. The answer is the same as evaluating every target
        (tests/advisor/test_engine.py and test_fast_paths.py check it against full re-evaluations)."""
        sp = self._specs.get(attr) or self.spec(attr)
        self.n_probes += 1
        sized = sp.sized
        hard2 = self.hard_all(P2) if sp.hard else None
        best = None
        best_tid = ""
        rest = []
        mine = None
        for k, (T, b) in enumerate(zip(self.targets, base)):
            tid = T.id
            hard = None
            if b.excluded:
                if hard2 is not None:
                    h2 = hard2[k]
                    if h2[2]:
                        continue
                    hard = list(h2[0])
                elif tid in sized and not b.hard_any:
                    hard = list(b.hard)
                else:
                    continue
            elif hard2 is not None and hard2[k][2]:
                continue
            if tid == won:
                mine = best = self._probe_key(P2, T, b, sp, hard)
                if best is not None:
                    best_tid = tid
            else:
                rest.append((T, b, hard))
        if not rest:
            return best, best_tid, mine
        bounded = []
        need = None if best is None else -best[0]
        for T, b, hard in rest:
            if b.excluded or T.id in sized:
                ub = self._heavy_ub(P2, T, b, sp, need)
            else:
                ub = b.ubs.get(attr) or self._light_ub(b, sp)
            bounded.append((ub, T, b, hard))
        if len(bounded) > 1:
            bounded.sort(key=_FIRST, reverse=True)
        for ub, T, b, hard in bounded:
            if best is not None and int(ub * 1e6 + 0.5) < -best[0]:
                break  # sorted: no later bound is higher
            self.n_exact += 1
            key = self._probe_key(P2, T, b, sp, hard)
            if key is not None and (best is None or key < best):
                best, best_tid = key, T.id
        return best, best_tid, mine

    def _heavy_ub(self, P2: Inputs, T: Target, b: TargetEval, sp: "_AttrSpec", need: Optional[int]) -> float:
        """Upper bound on the score of a target that the change re-sizes (or makes viable), without sizing
        it: the criteria that read neither the plan nor `attr` as they were (cached per input), the ones
        that read `attr` recomputed, each plan-reading criterion at its best (PLAN_UPPER_BOUNDS), cost at
        100 - or, when that is not enough to rule the target out against `need`, at `monthly_lb`."""
        wt: float  # typed, with r, score and wf below: unboxed float arithmetic when compiled
        r: tuple
        score: float
        wf: float
        key = sp.ub_key
        st: Optional[tuple] = b.ubs.get(key)
        if st is None:
            base: Optional[tuple] = b.ubs.get("np")
            if base is None:  # all criteria that do not read the plan; and the plan criteria's bounds
                res: list
                if b.excluded:
                    vals: list = b.rows if b.rows is not None else self.rows(P2)  # (only criteria ignoring attr are used)
                    tid = b.tid
                    res = [None if row is None else row[tid] for row in vals]
                else:
                    res = b.results
                n = d = 0.0
                for i in self._np_idx:
                    r = res[i]
                    wt, score, wf = self._weights[i], cast(float, r[0]), cast(float, r[1])
                    w = wt * wf
                    n += score * w
                    d += w
                base = b.ubs["np"] = (n, d, res)
            n, d, res = cast(float, base[0]), cast(float, base[1]), base[2]
            for i, c, wt, lk in sp.light_np:  # take out the criteria that read `attr`
                r = res[i]
                score, wf = cast(float, r[0]), cast(float, r[1])
                w = wt * wf
                n -= score * w
                d -= w
            if not sp.ub_reads:  # the plan criteria's bounds do not read `attr`: add them once per target
                pub = b.ubs.get("pub")
                if pub is None:
                    pn = pd = 0.0
                    for wt, ub in self._ub_list:
                        score, wf = ub(P2, T)
                        w = wt * wf
                        pn += score * w
                        pd += w
                    pub = b.ubs["pub"] = (pn, pd)
                n += cast(float, pub[0])
                d += cast(float, pub[1])
            st = b.ubs[key] = (n, d)
        num, den = cast(float, st[0]), cast(float, st[1])
        if sp.light_np:
            d2 = P2.d
            tid = T.id
            for i, c, wt, lk in sp.light_np:
                r = lk[1][d2[lk[0]]][tid] if lk is not None else c.fn(P2, T, None, False)
                score, wf = cast(float, r[0]), cast(float, r[1])
                w = wt * wf
                num += score * w
                den += w
        if sp.ub_reads:
            for wt, ub in self._ub_list:
                score, wf = ub(P2, T)
                w = wt * wf
                num += score * w
                den += w
        cw = self.cost_crit.weight * (1.0 if P2.budget is None else 2.0)
        den += cw
        if den <= 0:
            return 1e-9
        top = (num + 100.0 * cw) / den * (1.0 + 1e-9) + 1e-9
        if need is not None and int(top * 1e6 + 0.5) < need:
            return top
        cs, _cwf = cost_score(P2, self.monthly_lb(P2, T, b.plan.cands if b.plan is not None and sp.same_cands else None))
        return (num + cs * cw) / den * (1.0 + 1e-9) + 1e-9

    def _probe_key(self, P2: Inputs, T: Target, b: TargetEval, sp: "_AttrSpec", hard: Optional[list]) -> Optional[tuple]:
        """Rank key of one target after the change (None when excluded): incremental when it was viable."""
        if b.excluded:
            te = self.evaluate_target(P2, T, False, hard, self.rows_with(b.rows, P2, sp), shared=True)
            return None if te.excluded else te.rank_key()
        tid = T.id
        base_plan = b.plan
        assert base_plan is not None
        plan = base_plan
        num, den = b.num, b.den
        res = b.results
        same = False  # re-sized to a plan with the same facts: the criteria that do not read `attr` keep their results
        if tid in sp.sized:
            cm = self._cms.get(P2.region) or self.cm(P2.region)
            resized = size_fast(P2, T, plan.cands if sp.same_cands else self.candset(P2, T, cm), self.service(P2), cm,
                                self._queue_cache, True)
            if resized is None:
                return None
            if resized is not base_plan and resized.same_facts(base_plan):
                same = True
            else:
                plan = resized
        if plan is b.plan:
            d2 = P2.d
            for i, c, wt, lk in sp.light:
                old = res[i]
                new = lk[1][d2[lk[0]]][tid] if lk is not None else c.fn(P2, T, plan, False)
                s_old, f_old = cast(float, old[0]), cast(float, old[1])
                s_new, f_new = cast(float, new[0]), cast(float, new[1])
                w_old, w_new = wt * f_old, wt * f_new
                num += s_new * w_new - s_old * w_old
                den += w_new - w_old
            if same:  # the cost as the re-sized branch below computes it
                monthly = plan.monthly + (b.monthly - base_plan.monthly)
            else:
                monthly = b.monthly
                if not sp.cost:
                    w = self.cost_crit.weight * b.cost_wf
                    return (-int((num + b.cost_s * w) / (den + w) * 1e6 + 0.5), b.cents, b.order)
        else:
            for i, c, wt in sp.pidx:
                old = res[i]
                new = c.fn(P2, T, plan, False)
                s_old, f_old = cast(float, old[0]), cast(float, old[1])
                s_new, f_new = cast(float, new[0]), cast(float, new[1])
                w_old, w_new = wt * f_old, wt * f_new
                num += s_new * w_new - s_old * w_old
                den += w_new - w_old
            monthly = plan.monthly + (b.monthly - base_plan.monthly)
        if sp.fixed and tid == "aks":
            monthly = plan.monthly + self.cm(P2.region).fixed_monthly(P2, tid)
        cs, cwf = cost_score(P2, monthly)
        w = self.cost_crit.weight * cwf
        return (-int((num + cs * w) / (den + w) * 1e6 + 0.5), int(monthly * 100.0 + 0.5), b.order)

    def _light_ub(self, b: TargetEval, sp: "_AttrSpec") -> float:
        """Upper bound on a viable target's score when `attr` changes and its plan does not: the criteria
        that read `attr` at 100 with their largest weight (and cost too when `attr` moves it)."""
        res = b.results
        n0, d0 = b.N, b.D
        W = 0.0
        r: tuple
        for i, c, wt, lk in sp.light:
            r = res[i]
            w = wt * cast(float, r[1])
            n0 -= cast(float, r[0]) * w
            d0 -= w
            W += wt * c.max_wf
        if sp.attr == "budget" or (sp.fixed and b.tid == "aks"):
            w = self.cost_crit.weight * b.cost_wf
            n0 -= b.cost_s * w
            d0 -= w
            W += self.cost_crit.weight * self.cost_crit.max_wf
        if W <= 0.0:
            hit = b.score
        else:
            hit = (n0 + 100.0 * W) / (d0 + W) if d0 + W > 0 else 100.0
        hit = hit * (1.0 + 1e-9) + 1e-9
        b.ubs[sp.attr] = hit
        return hit

    def monthly_lb(self, P: Inputs, T: Target, cs: Optional[CandSet] = None) -> float:
        """A lower bound on T's monthly cost for P, from the utilisation cap alone (no queueing model):
        per service-time group, at least ceil(peak load / 85%) workers at peak (so that many worker-hours
        at the group's cheapest price per worker) and the availability minimum of instances all month."""
        tid = T.id
        cm = self._cms.get(P.region) or self.cm(P.region)
        if tid == "containerapps" and cm.aca_linear is None:
            return 0.0  # tiered meters: no simple bound
        if cs is None:
            cs = self.candset(P, T, cm)
        fixed = cm.fixed_monthly(P, tid) if tid == "aks" else 0.0
        if not cs.rows:
            return fixed
        cpu_ms = self.service(P).cpu_ms
        sp: float  # typed group fields and server counts: native arithmetic when compiled
        c: int
        per_worker: float
        hourly: float
        if tid == "azureml-batch":  # the rows' compute at the cheapest price per worker, and one node per job
            rows_m = (P.avg if P.avg < P.peak else P.peak) * 730 * 3600.0
            per_row = self.service(P).per_row_ms
            lb = math.inf
            for sp, per_worker, hourly in cs.lb_groups:
                pr = per_row / sp if sp else per_row
                v = rows_m * pr / 1000.0 / 3600.0 / BATCH_UTIL * per_worker + cm.jobs * cm.startup_h * hourly
                if v < lb:
                    lb = v
            return lb * (1.0 - 1e-9)
        ha = _ha_min(tid, P.sla, P.stz, T)
        h1 = ha if ha > 1 else 1
        ph = cm.peak_hours(P.pattern)
        oh = 730.0 - ph
        lam = P.peak
        p95 = P.p95
        q = self._queue_cache
        lb = math.inf
        if tid == "containerapps":
            # active replica-seconds >= (peak replicas x peak hours + h1 x the other active hours) x 3600; the
            # vCPU, memory and request meters less the free grant (idle meters left out)
            lin = cm.aca_linear
            assert lin is not None
            rva, _rvi, rma, _rmi, rreq = lin
            gv, gm, gr = cm.aca_grant_vals
            ah = HOURS_PER_MONTH * ACTIVE_HOURS_PER_DAY[P.pattern] / 24.0
            avg = P.avg if P.avg < lam else lam
            req = avg * SECONDS_PER_MONTH - gr
            fixed = req * rreq if req > 0 else 0.0
            for r in cs.rows:
                s_ms = cpu_ms
                hit = q.get((lam, s_ms, p95))
                if hit is not None and lam > 0:
                    c = cast(int, hit[0])
                else:
                    c = max(1, math.ceil(lam / (1000.0 / s_ms) / RHO_MAX - 1e-9))
                n = -(-c // cast(int, r[2]))
                if n < h1:
                    n = h1
                active = (n * ph + h1 * (ah - ph)) * 3600.0
                sku: VmSku = r[0]
                va, ma = sku.vcpu * active, sku.mem_gib * active
                v = ((va - gv) * rva if va > gv else 0.0) + ((ma - gm) * rma if ma > gm else 0.0)
                if v < lb:
                    lb = v
            return (lb + fixed) * (1.0 - 1e-9)
        for sp, per_worker, hourly in cs.lb_groups:
            s_ms = cpu_ms / sp if sp else cpu_ms
            hit = q.get((lam, s_ms, p95))
            if hit is not None and lam > 0:  # the exact server count is known (another target computed it)
                c = cast(int, hit[0])
            else:
                mu = 1000.0 / s_ms
                c = max(1, math.ceil(lam / mu / RHO_MAX - 1e-9))
            v = max(c * per_worker * ph, h1 * hourly * ph) + h1 * hourly * oh
            if v < lb:
                lb = v
        return (lb + fixed) * (1.0 - 1e-9)

    def cache_report(self) -> dict[str, tuple[int, int]]:
        """{cache: (hits, lookups)} since this Evaluator was built (for benchmarks/recommend.py). Every
        cache below is keyed on categorical inputs or on small integers derived from the profile (server
        counts, worker counts), never on a whole profile, so its hits come from different profiles that share
        those values."""
        st = self.stats
        nrow = sum(1 for c, lk, g, m in self._row_specs if m is not None)
        tables = list(self._tables.values())
        sets = [cs for t in tables for cs in t.sets]
        nshare = sum(self.shareable)
        out = {
            "hard constraints (per categorical inputs)": (self.n_hard - st["hard_memo_miss"], self.n_hard),
            "criteria rows (per categorical inputs)": (self.n_rows * nrow - st["rows_memo_miss"], self.n_rows * nrow),
            "SKU candidates (per model-size step)": (sum(t.hits for t in tables), sum(t.hits + t.misses for t in tables)),
            "SKU choice (per server counts)": (sum(cs.memo_hits for cs in sets), sum(cs.memo_hits + cs.memo_misses for cs in sets)),
            "probe plans (per server counts)": (sum(cs.plan_hits for cs in sets), sum(cs.plan_hits + cs.plan_misses for cs in sets)),
            "cost breakdowns (per plan facts)": (self.n_cost - st["cost_memo_miss"], self.n_cost),
            "criterion scores (per result)": (self.n_options * nshare - st["criterion_memo_miss"], self.n_options * nshare),
        }
        return out

    def light_flips(self, P: Inputs, base: list[TargetEval], win: TargetEval, attr: str, value: Any) -> bool:
        """Whether setting `attr` (an input that no hard constraint and no sizing reads: `sp.is_light`) to
        `value` changes the winner - decided without building the changed profile: the winner's new rank key
        exactly as `_probe_key` computes it, the other viable targets first against their cached upper bound
        (`_light_ub`), then exactly. Same answer as `probe`."""
        sp = self._specs.get(attr) or self.spec(attr)
        key_w = self._light_key(P, win, sp, value)
        need = -key_w[0]
        for b in base:
            if b.excluded or b is win:
                continue
            ub: float = b.ubs.get(attr) or self._light_ub(b, sp)
            if int(ub * 1e6 + 0.5) < need:
                continue
            self.n_exact += 1
            if self._light_key(P, b, sp, value) < key_w:
                return True
        return False

    def _light_key(self, P: Inputs, b: TargetEval, sp: "_AttrSpec", value: Any) -> tuple:
        """`_probe_key` of a viable target for `attr` = `value` when the change is light (see light_flips)."""
        tid = b.tid
        num, den = b.num, b.den
        res = b.results
        d = P.d
        for i, c, wt, lk in sp.light:
            old = res[i]
            if lk is not None:
                new = lk[1][value][tid]
            else:  # a memoized row: its key with `attr` replaced
                _c, _lk, getter, memo = self._row_specs[i]
                assert memo is not None  # (light changes never touch a criterion that reads the plan)
                key = getter(d)
                pos = self._row_key_pos[i].get(sp.attr)
                key = value if pos is None else key[:pos] + (value,) + key[pos + 1:]
                row = memo.get(key)
                if row is None:
                    row = self._memo_row(c, memo, key, P.with_value(sp.attr, value))
                new = row[tid]
            s_old, f_old = cast(float, old[0]), cast(float, old[1])
            s_new, f_new = cast(float, new[0]), cast(float, new[1])
            w_old, w_new = wt * f_old, wt * f_new
            num += s_new * w_new - s_old * w_old
            den += w_new - w_old
        if not sp.cost or not (sp.attr == "budget" or tid == "aks"):
            w = self.cost_crit.weight * b.cost_wf
            return (-int((num + b.cost_s * w) / (den + w) * 1e6 + 0.5), b.cents, b.order)
        P2 = P.with_value(sp.attr, value)
        monthly = b.monthly
        if sp.fixed and tid == "aks":
            assert b.plan is not None
            monthly = b.plan.monthly + self.cm(P2.region).fixed_monthly(P2, tid)
        cs, cwf = cost_score(P2, monthly)
        w = self.cost_crit.weight * cwf
        return (-int((num + cs * w) / (den + w) * 1e6 + 0.5), int(monthly * 100.0 + 0.5), b.order)

    def may_flip(self, base: list[TargetEval], win: TargetEval, attr: str) -> bool:
        """False when no value of `attr` can change the winner (bound on the criteria it feeds).

        Only for inputs that feed soft criteria alone (no hard constraint, no sizing)."""
        if attr in self.hard_by_attr or attr in self.sized_by_attr or attr in FIXED_COST_DEPS:
            return True
        W: float = self.max_weight_by_attr.get(attr, 0.0)
        if W <= 0.0:
            return False
        idx = self.crit_by_attr[attr]
        soft = self.soft
        lb_w = 0.0
        ubs = []
        r: tuple
        for b in base:
            if b.excluded:
                continue
            cur_n = cur_d = 0.0
            res = b.results
            for i in idx:
                r = res[i]
                w = soft[i].weight * cast(float, r[1])
                cur_n += cast(float, r[0]) * w
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

_EVALUATORS: Final[dict[int, Evaluator]] = {}


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
    from .verdicts import review

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
    rec = explain.make(Recommendation, options=options, excluded=excluded, prices_as_of=book.as_of,
                       sensitivity=sens, inputs=explain.inputs_summary(P, st, book), headline="", meets_all=True)
    return review(rec, profile, ev.cat)


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
