"""Plain-language reasons for each option, and "what would change the answer" (sensitivity).

Sensitivity tries single changes to the profile - the decisions and
requirements in CATEGORICAL, plus searches over peak_rps, max_request_seconds,
availability_sla and the budget - and reports the ones that put another target
first. Each try re-scores only what the change touches (Evaluator.probe; a test
checks it agrees with scoring from scratch). The peak_rps threshold is found by
stepping up (x10, x100) until the winner changes and then bisecting; the
reported bound N was evaluated (at N the answer is unchanged), not extrapolated.
"""
from __future__ import annotations

import math
import re
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Callable, Final, Optional, cast

from pydantic import ConfigDict

from .cost import CostModel
from .criteria import PATHS, Criterion, Inputs, cost_reason
from .models import Cost, CriterionScore, Option, Sensitivity, Sizing
from .numtext import fmt
from .prices import PriceBook
from .sizing import BATCH_UTIL, HEADROOM, RHO_MAX, RUNTIME_MB, MEM_FACTOR, ServiceTime, p95_ms

if TYPE_CHECKING:  # engine imports this module
    from .catalog import Target
    from .engine import Evaluator, TargetEval

#: Decisions and requirements tried by sensitivity, in report order: for each
#: input, the values to try (the current value is skipped). Workload facts
#: that a user can't choose (framework, traffic pattern) are not varied, except
#: the numeric searches below (peak_rps, max_request_seconds, availability, budget).
CATEGORICAL: Final[tuple[tuple[str, tuple[Any, ...]], ...]] = (
    ("skill", ("expert", "none")),
    ("existing_aks", (True, False)),
    ("gpu", ("required", "none")),
    ("stz", (True, False)),
    ("network", ("custom-vnet", "on-premises", "public")),
    ("needs_k8s", (True, False)),
    ("kind", ("data-science", "app-dev", "platform")),
    ("existing_web_app", (True, False)),
    ("mode", ("realtime", "batch")),
    ("auth", ("entra", "key")),
    ("rollout", ("shadow", "simple")),
    ("drift", (True, False)),
    ("from_registry", (True, False)),
)
PEAK_MAX: Final = 1_000_000.0
TIMEOUT_STEPS = (180.0, 230.0, 240.0, 300.0)


_FIELDS_SET: Final[dict[type, set]] = {}
_new_object: Final = object.__new__


def new(cls: Any, values: dict) -> Any:
    """Build a pydantic model from a dict of all its fields, without validation (the engine's own
    values are already valid): what `model_construct` does, minus the defaults and checks.
    tests/advisor check the result dumps exactly like `model_validate` of the same data."""
    if len(values) < len(cls.model_fields):  # fields added later (issue 20) get their defaults
        values = {**{k: f.get_default(call_default_factory=True) for k, f in cls.model_fields.items()
                     if k not in values}, **values}
    m = _new_object(cls)
    # object.__setattr__ compiles to one generic C setattr (no call through a slot wrapper and its argument
    # tuple, as a stored descriptor `__set__` would); it bypasses the model's __setattr__, as pydantic does
    object.__setattr__(m, "__dict__", values)
    fs = _FIELDS_SET.get(cls)
    if fs is None:
        fs = _FIELDS_SET[cls] = set(cls.model_fields)
    object.__setattr__(m, "__pydantic_fields_set__", fs)
    object.__setattr__(m, "__pydantic_extra__", None)
    object.__setattr__(m, "__pydantic_private__", None)
    return m


def make(cls: Any, **values: Any) -> Any:
    """`new(cls, values)` with keyword arguments; every field must be given (all are "set")."""
    return new(cls, values)


class SharedCriterionScore(CriterionScore):
    """A CriterionScore that many recommendations share (its content depends only on categorical inputs,
    so the engine builds it once): frozen, so no caller can change it under the others; equal to a
    CriterionScore with the same fields and serialised exactly like one."""

    model_config = ConfigDict(frozen=True)

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, CriterionScore):
            return self.__dict__ == other.__dict__
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self.__dict__.values()))


setattr(SharedCriterionScore, "__name__", "CriterionScore")
setattr(SharedCriterionScore, "__qualname__", "CriterionScore")


def r1(x: float) -> float:
    """x to one decimal (half up); faster than round(x, 1) and just as deterministic."""
    return math.floor(x * 10.0 + 0.5) / 10.0


def r2(x: float) -> float:
    return math.floor(x * 100.0 + 0.5) / 100.0


def _fmt_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return fmt(v, "g")
    return str(v)


def _nice_down(x: float) -> float:
    """x rounded down to two significant figures (a safe 'more than N' bound)."""
    if x <= 0:
        return 0.0
    e = math.floor(math.log10(x)) - 1
    f = 10.0 ** e
    return math.floor(x / f + 1e-9) * f


def _nice_up(x: float) -> float:
    if x <= 0:
        return 0.0
    e = math.floor(math.log10(x)) - 1
    f = 10.0 ** e
    return math.ceil(x / f - 1e-9) * f


_CITATION: Final = re.compile(r" \((?:Learn|GitHub|your notes|serving-anchors)[^()]*(?:\([^()]*\)[^()]*)*\)")


def _short(reason: str, n: int = 160) -> str:
    """The reason without its citations, cut at a word boundary (the full text is in the option)."""
    text = _CITATION.sub("", reason).rstrip(".")
    if len(text) <= n:
        return text
    return text[: n].rsplit(" ", 1)[0] + "…"


# ---------------------------------------------------------------- options

#: the sizing constants as the notes print them (formatted once: every option's notes quote them)
_RHO_TXT: Final = f"{RHO_MAX:.0%}"
_BATCH_UTIL_TXT: Final = f"{BATCH_UTIL:.0%}"
_HEADROOM_TXT: Final = f"{HEADROOM:g}"
_WORKER_MEM_TXT: Final = f"{RUNTIME_MB:g} MB runtime + {MEM_FACTOR:g} x "

def sizing_notes(ev: Evaluator, P: Inputs, e: TargetEval, st: ServiceTime) -> list[str]:
    plan = e.plan
    assert plan is not None
    T = ev.cat.targets[e.tid]
    notes = [f"Service time {st.basis}."]
    worker_gib = (RUNTIME_MB + MEM_FACTOR * P.size_mb) / 1024.0
    if plan.batch:
        node_rps = plan.workers * 1000.0 / plan.service_ms
        notes.append(f"Per row in mini-batches: {fmt(plan.service_ms, '.3f')} ms per worker; {plan.workers} "
                     f"worker(s) per {plan.sku} node = {fmt(node_rps, ',.0f')} rows/s per node.")
        notes.append(f"Nodes = ceil({fmt(P.peak, 'g')} rows/s / ({fmt(node_rps, ',.0f')} x {_BATCH_UTIL_TXT})) = "
                     f"{plan.n_peak}; the cluster scales to 0 between jobs (min 0, max {plan.n_max}).")
        if plan.over_limit:
            notes.append(f"More than {plan.limit} nodes: check your core quota before relying on this size.")
        return notes
    speed = ""
    if plan.gpu_used:
        speed = f" on the {plan.gpu_model} GPU (service time divided by the assumed GPU speed-up)"
    notes.append(f"Workers per instance: {plan.workers}{speed} ({fmt(plan.vcpu, 'g')} vCPU, "
                 f"{fmt(plan.mem_gib, 'g')} GiB; each worker needs ~{fmt(worker_gib, '.2f')} GiB = "
                 f"{_WORKER_MEM_TXT}{fmt(P.size_mb, 'g')} MB model).")
    a = P.peak * plan.service_ms / 1000.0
    if plan.latency_met:
        notes.append(f"M/M/c at peak: a = {fmt(P.peak, 'g')} rps x {fmt(plan.service_ms, '.3f')} ms = "
                     f"{fmt(a, '.3f')} busy workers; smallest c with P(response > {fmt(P.p95, 'g')} ms) <= 5% "
                     f"and utilisation <= {_RHO_TXT}: c = {plan.c_peak}.")
    else:
        notes.append(f"M/M/c at peak: a = {fmt(a, '.3f')} busy workers; no c meets p95 <= {fmt(P.p95, 'g')} ms "
                     f"because the service time alone exceeds it, so c = {plan.c_peak} keeps utilisation at "
                     f"{_RHO_TXT}.")
    ha = ""
    if T.id == "azureml" and P.sla >= 99.9:
        ha = f", HA minimum {T.v('ha_min_instances')} for availability_sla >= 99.9 ({T.cite_short('ha_min_instances')})"
    elif T.id in ("appservice", "containerapps", "aks") and plan.n_peak > -(-plan.c_peak // plan.workers):
        ha = f", availability minimum {plan.n_min if plan.n_min else plan.n_peak}"
    notes.append(f"Instances at peak = max(ceil({plan.c_peak} / {plan.workers}), 1{ha}) = {plan.n_peak}.")
    avg = min(P.avg, P.peak)
    if plan.autoscale:
        notes.append(f"Autoscale: min {plan.n_min} (average {fmt(avg, 'g')} rps needs {plan.c_base} worker(s)"
                     f"{'; scales to zero' if plan.n_min == 0 else ''}), max {plan.n_max} "
                     f"(ceil({plan.c_peak} x {_HEADROOM_TXT} / {plan.workers}), limit {plan.limit}).")
    else:
        notes.append(f"No autoscale on the {plan.tier} tier: {plan.n_peak} instance(s) all the time.")
    if plan.over_limit:
        notes.append(f"{plan.n_peak} instances exceed the default limit of {plan.limit}: request an increase "
                     f"({T.cite_short('max_instances')}).")
    if T.id == "azureml":
        sku = ev.cat.vm_skus[plan.sku]
        if sku.quota_exempt:
            notes.append(f"Quota: {plan.n_peak} x {int(sku.vcpu)} = {plan.quota_cores} cores ({sku.name} skips the 20% "
                         f"reserve; {T.cite_short('quota_reserve')}).")
        else:
            notes.append(f"Quota: ceil(1.2 x {plan.n_peak}) x {int(sku.vcpu)} = {plan.quota_cores} cores of "
                         f"{sku.family} (at autoscale max: {plan.quota_cores_max}); {T.cite_short('quota_reserve')}.")
        notes.append(f"Set max_concurrent_requests_per_instance = WORKER_COUNT = {plan.workers} "
                     f"({T.cite_short('workers')}).")
    elif T.id == "aks":
        notes.append("Deploy mode: plain Kubernetes manifests on a user node pool (not an Azure ML Kubernetes online "
                     "endpoint).")
        if P.auth == "entra":
            notes.append("Entra ID: Kubernetes online endpoints accept key or aml_token only "
                         f"({T.cite_short('auth')}); with plain manifests put Entra in front (API gateway or ingress "
                         "auth).")
        if P.from_registry:
            notes.append("Registry/catalog model: not supported on Kubernetes online endpoints "
                         f"({T.cite_short('registry_models')}); the model is downloaded and baked into the image "
                         "instead.")
    elif T.id == "appservice" and P.rollout != "simple":
        notes.append(f"Rollout '{P.rollout}' needs deployment slots: Standard tier or above "
                     f"({T.cite_short('rollout')}).")
    return notes


def _criterion(c: Criterion, r: tuple, cls: Any) -> tuple:
    """(CriterionScore, info) for one criterion result; info = (score, weight, name, reason, kind, text) with kind
    1 = a strength (counted, score >= 85), 2 = a weakness (counted, score < 50), 0 = neither, and text its words
    in the option's reasons (option_reasons), built here so that a shared result words them once."""
    score, weight = r1(r[0]), c.weight * r[1]
    kind = 0 if not weight > 0 else (1 if score >= 85 else (2 if score < 50 else 0))
    text = ""
    if kind == 1:
        text = f"{c.id.replace('_', ' ')} ({fmt(score, 'g')})"
    elif kind == 2:
        why = _short_memo(r[2], 260)
        text = f"Weak on {c.id.replace('_', ' ')} ({fmt(score, 'g')}): {why}{'' if why.endswith('…') else '.'}"
    return new(cls, {"name": c.id, "score": score, "weight": weight, "reason": r[2], "source": r[3]}), \
        (score, weight, c.id, r[2], kind, text)


def build_option(ev: Evaluator, P: Inputs, e: TargetEval, cm: CostModel, st: ServiceTime) -> Option:
    T = ev.cat.targets[e.tid]
    plan = e.plan
    assert plan is not None
    crits = []
    flagged = []  # infos of strengths and weaknesses, in display order
    ev.n_options += 1
    results = e.results
    memo = ev.cs_memo
    h: Optional[tuple]
    for i in range(len(results)):
        r = results[i]
        h = memo.get(id(r))
        if h is None or h[0] is not r:
            if ev.shareable[i]:  # a memoized result object: its CriterionScore is shared
                if len(memo) >= 16384:
                    memo.clear()
                cs, info = _criterion(ev.soft[i], r, SharedCriterionScore)
                h = memo[id(r)] = (r, cs, info)
                ev.stats["criterion_memo_miss"] += 1
            else:  # a result of this evaluation only
                cs, info = _criterion(ev.soft[i], r, CriterionScore)
                crits.append(cs)
                if info[4]:
                    flagged.append(info)
                continue
        crits.append(h[1])
        if h[2][4]:
            flagged.append(h[2])
    monthly, breakdown, assumptions = ev.full_cost(cm, P, T, plan)
    cs, info = _criterion(ev.cost_crit, (e.cost_s, e.cost_wf, cost_reason(P, monthly, cm.as_of), _price_source(cm.book)),
                          CriterionScore)
    crits.append(cs)
    if info[4]:
        flagged.append(info)
    sizing = build_sizing(ev, P, e, st)
    cost = new(Cost, {"monthly_usd": r2(monthly), "breakdown": breakdown, "assumptions": assumptions})
    reasons = option_reasons(ev, P, e, T, monthly, sizing.predicted_p95_ms, flagged)
    return new(Option, {"target": e.tid, "score": r1(e.score), "criteria": crits, "sizing": sizing, "cost": cost,
                        "reasons": reasons})


def build_sizing(ev: Evaluator, P: Inputs, e: TargetEval, st: ServiceTime) -> Sizing:
    """models.Sizing for an evaluated target (predicted p95 from M/M/c at the provisioned worker count)."""
    plan = e.plan
    assert plan is not None
    predicted = None
    if not plan.batch:
        c_actual = plan.n_peak * plan.workers
        p = p95_ms(c_actual, P.peak, plan.service_ms) if P.peak > 0 else p95_ms(1, 0.0, plan.service_ms)
        predicted = r1(p) if math.isfinite(p) else None
    return new(Sizing, {
        "sku": plan.sku, "instances": plan.n_peak, "min": plan.n_min, "max": plan.n_max,
        "vcpus_per_instance": int(plan.vcpu), "workers_per_instance": plan.workers,
        "service_ms": math.floor(plan.service_ms * 1000.0 + 0.5) / 1000.0, "service_time_measured": st.measured,
        "predicted_p95_ms": predicted, "quota_cores": plan.quota_cores,
        "notes": sizing_notes(ev, P, e, st), "concurrency": plan.workers,
        "in_flight_at_peak": r2(P.peak * plan.service_ms / 1000.0),
        "saturation_rps": None if plan.batch else r1(plan.n_max * plan.workers * 1000.0 / plan.service_ms)})


#: sort key: a C itemgetter, cheaper per element than a Python-level key function
_FIRST: Final = itemgetter(0)
_SECOND: Final = itemgetter(1)
_PRICE_SOURCES: Final[dict[str, str]] = {}


def _price_source(book: PriceBook) -> str:
    """Where prices came from: the API URL, the bundled file (a path independent of the checkout), or the export."""
    hit = _PRICE_SOURCES.get(book.source)
    if hit is not None:
        return hit
    src = book.source.replace("\\", "/")
    if not src:
        out = "advisor/data"
    elif "/advisor/data/" in src:
        out = "advisor/data/" + src.rsplit("/", 1)[-1]
    else:
        out = src
    _PRICE_SOURCES[book.source] = out
    return out


_SHORT: Final[dict[tuple[str, int], str]] = {}


def _short_memo(reason: str, n: int) -> str:
    key = (reason, n)
    hit = _SHORT.get(key)
    if hit is None:
        if len(_SHORT) >= 8192:
            _SHORT.clear()
        hit = _SHORT[key] = _short(reason, n)
    return hit


def option_reasons(ev: Evaluator, P: Inputs, e: TargetEval, T: Target, monthly: float, predicted: Optional[float],
                   crits: list) -> list[str]:
    """Reasons for one option. `crits`: the strengths and weaknesses (infos from _criterion), in display order."""
    plan = e.plan
    assert plan is not None
    out = [T.headline]
    strong = []
    weak = []
    for c in crits:
        score, weight = cast(float, c[0]), cast(float, c[1])  # typed: native arithmetic when compiled
        if c[4] == 1:
            strong.append((-score * weight, c[2], c))
        else:
            weak.append(((score - 100) * weight, c))
    if strong:  # by (-score x weight, name): two stable sorts, each on keys of one type (list.sort's fast paths)
        strong.sort(key=_SECOND)
        strong.sort(key=_FIRST)
        out.append("Strong on " + ", ".join([c[5] for _k, _n, c in strong[:3]]) + ".")
    if weak:
        weak.sort(key=_FIRST)
        for _k, c in weak[:2]:
            out.append(c[5])
    size = f"{plan.n_peak} x {plan.sku}"
    if plan.batch:
        size += f" node(s) per job (cluster min 0, max {plan.n_max})"
    elif plan.autoscale and plan.n_min != plan.n_max:
        size += f" (autoscale {plan.n_min}-{plan.n_max})"
    lat = ""
    if predicted is not None and P.mode != "batch":
        lat = f", predicted p95 {fmt(predicted, 'g')} ms vs {fmt(P.p95, 'g')} ms target"
    out.append(f"Size: {size}{lat}; about ${fmt(monthly, ',.2f')}/month.")
    return out


def inputs_summary(P: Inputs, st: ServiceTime, book: PriceBook) -> dict[str, str]:
    src = book.source.rsplit("/", 1)[-1] if book.source else "advisor/data"
    return {
        "service_time": "measured" if st.measured else "estimated",
        "service_time_basis": st.basis,
        "service_ms_per_worker": fmt(st.cpu_ms, ".3f"),
        "traffic": f"given: peak {fmt(P.peak, 'g')} rps, average {fmt(P.avg, 'g')} rps, {P.pattern} pattern, p95 "
                   f"target {fmt(P.p95, 'g')} ms",
        "prices": f"snapshot {book.as_of} ({src}); regions without a price fall back to eastus",
    }


# ---------------------------------------------------------------- sensitivity

def _flip_text(ev: Evaluator, P2: Inputs, base_w: TargetEval, result: tuple) -> tuple[str, str]:
    """(new winner id, explanation) for a probe whose winner differs."""
    best, tid, mine = result
    if best is None:
        return "none", "No target would remain viable."
    new_score = -best[0] / 1e6
    if mine is None:
        why = ev.hard_all(P2)[ev.targets_index[base_w.tid]][1]
        reason = why[0] if why else "no size fits the changed workload"
        return tid, (f"{base_w.tid} would be excluded ({_short_memo(reason, 160)}); "
                     f"{tid} ranks first with {format(new_score, '.1f')}.")
    return tid, (f"{tid} would rank first with {format(new_score, '.1f')} "
                 f"against {base_w.tid} {format(-mine[0] / 1e6, '.1f')}.")


def sensitivity(ev: Evaluator, P: Inputs, evals: list, limit: int = 14) -> list[Sensitivity]:
    """Single changes to the profile that put another target first."""
    from .engine import winner

    base_w = winner(evals)
    if base_w is None:
        return []
    out: list[Sensitivity] = []
    won = base_w.tid

    def run(attr: str, value: Any) -> tuple[bool, Inputs, tuple]:
        P2 = P.with_value(attr, value)
        result = ev.probe(P2, evals, attr, won)
        return result[1] != won or result[0] is None, P2, result

    def add(change: str, P2: Inputs, result: tuple, prefix: str = "") -> None:
        new_w, text = _flip_text(ev, P2, base_w, result)
        out.append(new(Sensitivity, {"change": change, "new_winner": new_w, "explanation": prefix + text}))

    d = P.d
    for attr, values in CATEGORICAL:
        cur = d[attr]
        if not ev.may_flip(evals, base_w, attr):
            continue
        light = ev.spec(attr).is_light
        for v in values:
            if v == cur:
                continue
            if light and not ev.light_flips(P, evals, base_w, attr, v):
                continue  # decided without building the changed profile
            flipped, P2, result = run(attr, v)
            if flipped:
                add(f"{PATHS[attr]}={_fmt_value(v)}", P2, result)
    _peak_search(P, run, add)
    for t in TIMEOUT_STEPS:  # the next request-timeout limit above the current longest request
        if t < P.max_req_s:
            continue
        flipped, P2, result = run("max_req_s", t + 1.0)
        if flipped:
            add(f"inference.max_request_seconds > {fmt(t, 'g')}", P2, result)
            break
    nxt = next((x for x in (99.9, 99.95, 99.99) if x > P.sla), None)
    if nxt is not None:  # the next availability level up
        flipped, P2, result = run("sla", nxt)
        if flipped:
            add(f"scale.availability_sla={fmt(nxt, 'g')}", P2, result)
    if base_w.monthly > 1.0 and (P.budget is None or P.budget >= base_w.monthly):
        b = _nice_down(base_w.monthly * 0.95)
        flipped, P2, result = run("budget", b)
        if flipped:
            add(f"budget.monthly_usd < {fmt(_nice_up(base_w.monthly), 'g')}", P2, result,
                f"{won} costs ${fmt(base_w.monthly, ',.2f')}/month; with a budget of ${fmt(b, 'g')}, ")
    return out[:limit]


PEAK_UP = (10.0, 100.0)
PEAK_DOWN = (0.2,)


def _peak_search(P: Inputs, run: Callable[[str, Any], tuple[bool, Inputs, tuple]], add: Any) -> None:
    """peak_rps thresholds: x10 and x100 the current peak until the winner changes, then three
    geometric bisections (the bound is within ~1.33x of the change); and /5 downwards."""
    start = P.peak if P.peak > 0 else 0.5
    lo = start
    for f in PEAK_UP:
        v = min(start * f, PEAK_MAX)
        flipped, P2, probe = run("peak", v)
        if flipped:
            hi, hit = v, (P2, probe)
            for _ in range(3):
                mid = math.sqrt(lo * hi)
                flipped, P3, probe3 = run("peak", mid)
                if flipped:
                    hi, hit = mid, (P3, probe3)
                else:
                    lo = mid
            n = _nice_down(lo) if lo >= 1 else round(lo, 2)
            add(f"inference.peak_rps > {fmt(n, 'g')}", hit[0], hit[1], f"Up to {format(lo, '.4g')} rps nothing "
                                                                          f"changes; at {format(hi, '.4g')} rps ")
            break
        lo = v
        if v >= PEAK_MAX:
            break
    if P.peak > 0:
        hi = P.peak
        for f in PEAK_DOWN:
            v = P.peak * f
            flipped, P2, probe = run("peak", v)
            if flipped:
                lo_, hit = v, (P2, probe)
                for _ in range(1):
                    mid = math.sqrt(lo_ * hi)
                    flipped, P3, probe3 = run("peak", mid)
                    if flipped:
                        lo_, hit = mid, (P3, probe3)
                    else:
                        hi = mid
                n = _nice_up(hi) if hi >= 1 else round(hi, 3)
                add(f"inference.peak_rps < {fmt(n, 'g')}", hit[0], hit[1], f"Down to {format(hi, '.4g')} rps "
                                                                              "nothing changes; at "
                                                                              f"{format(lo_, '.4g')} rps ")
                break
            hi = v
