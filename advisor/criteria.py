"""The comparison criteria: hard constraints that exclude a target, and soft criteria scored 0-100.

Every function here is generic, like a scheduler's score plugin: it reads the profile, the target's
facts (`target.facts`, each with its source) and the target's plan - never a target id. Adding a
target therefore needs no change here; adding a criterion needs one function below (decorated with
`@computed`, named like its key) and one entry in advisor/data/criteria.yaml, which holds every
weight. A table criterion (one with `input:` in criteria.yaml and no function) needs no code at all:
each target's YAML file gives its score per input value and the fact that justifies it.

A soft criterion returns `(score, weight_factor, reason, source_url)`: the weight factor (from the
profile) multiplies the criterion's weight, 0 = shown but not counted; the reason is a function that
words it, called only for the options a recommendation shows. Scores depend only on the
profile and the target's own plan, never on the other targets, so a target's score is a pure
function of the profile.

Decision on Kubernetes endpoints (DESIGN §4 lists "Entra auth or registry models on Kubernetes
endpoints" as hard constraints): the `aks` target deploys plain Kubernetes manifests (our own image
with the model baked in, our own scoring server), not an Azure ML Kubernetes online endpoint. Those
two facts therefore rule out only the Kubernetes-endpoint *mode*, which the aks option never uses;
they lower its `auth` and `registry` scores instead, and the option's sizing notes say why.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from operator import attrgetter
from typing import Any, Callable, Optional

from .catalog import criteria_specs, skus, sources, targets
from .models import WorkloadProfile
from .sizing import Plan

#: (score 0-100, weight factor, reason, source URL). The reason is a function that words it: ranking needs only
#: the scores (sensitivity evaluates a profile some twenty times), so the words are built for the options shown.
Result = tuple[float, float, Callable[[], str], str]


def verdict(score: float) -> str:
    if score >= 85:
        return "Strong fit"
    if score >= 65:
        return "Good fit"
    if score >= 45:
        return "Partial fit"
    if score > 0:
        return "Weak fit"
    return "Does not fit"


def said(text: str) -> Callable[[], str]:
    """A reason worded in advance (table rows), in the shape of one worded on demand."""
    return lambda: text


def sentence(parts: list[str]) -> str:
    """Parts joined with '; ', as one sentence."""
    text = "; ".join(parts)
    return text[:1].upper() + text[1:]


def _cite(key: str) -> str:
    s = sources()[key]
    return f"{s.short}: {s.url}"


# ---------------------------------------------------------------- hard constraints
# Each returns the reason the target cannot serve the profile, or None.

def realtime_api(p: WorkloadProfile, t: Any) -> Optional[str]:
    if p.inference.mode == "batch" or t.facts.value("realtime"):
        return None
    f = t.facts
    return (f"inference.mode={p.inference.mode}: {t.title} runs asynchronous jobs, not a real-time API "
            f"({f.short('realtime')}: {f.cite('realtime')}); pair the winner with a batch endpoint for the batch half")


def gpu_required(p: WorkloadProfile, t: Any) -> Optional[str]:
    f = t.facts
    if p.inference.gpu != "required":
        return None
    if f.value("gpu") is not True:
        return f"inference.gpu=required: {t.title} has no GPU SKUs — {f.note('gpu')} ({f.short('gpu')}: {f.cite('gpu')})"
    regions = f.value("gpu_regions")  # {gpu model: [regions]} where GPUs depend on the region
    listed = sorted({r for names in (regions or {}).values() for r in names})
    if listed and p.region not in listed:
        return (f"inference.gpu=required: {t.title} offers GPUs only in {', '.join(listed)}, not in {p.region} "
                f"({f.short('gpu_regions')}: {f.cite('gpu_regions')})")
    return None


def request_timeout(p: WorkloadProfile, t: Any) -> Optional[str]:
    f = t.facts
    limit = f.value("request_timeout_s")
    if limit is None or p.inference.max_request_seconds <= limit:
        return None
    return (f"inference.max_request_seconds={p.inference.max_request_seconds:g}: longer than {t.title}'s {limit:g} s "
            f"request timeout ({f.short('request_timeout_s')}: {f.cite('request_timeout_s')})")


def custom_vnet(p: WorkloadProfile, t: Any) -> Optional[str]:
    f = t.facts
    if p.security.network != "custom-vnet" or "custom-vnet" in f.value("networks"):
        return None
    return f"security.network=custom-vnet: \"{f.note('networks')}\" ({f.short('networks')}: {f.cite('networks')})"


def on_premises(p: WorkloadProfile, t: Any) -> Optional[str]:
    if p.security.network != "on-premises" or "on-premises" in t.facts.value("networks"):
        return None
    return ("security.network=on-premises: only Kubernetes (AKS or Azure Arc-enabled Kubernetes with the Azure ML "
            f"extension) runs on your own hardware; {t.title} is an Azure-hosted service ({_cite('Y')})")


def scale_to_zero_required(p: WorkloadProfile, t: Any) -> Optional[str]:
    f = t.facts
    if not p.scale.scale_to_zero or f.value("scale_to_zero"):
        return None
    return (f"scale.scale_to_zero=true: {t.title} cannot scale to zero — {f.note('scale_to_zero')} "
            f"({f.short('scale_to_zero')}: {f.cite('scale_to_zero')})")


def kubernetes_api(p: WorkloadProfile, t: Any) -> Optional[str]:
    if not p.team.needs_kubernetes_api or t.facts.value("kubernetes_api"):
        return None
    return (f"team.needs_kubernetes_api=true: {t.title} gives no access to the Kubernetes API; 'if you require access "
            f"to the Kubernetes APIs and control plane, use AKS' ({_cite('C')})")


HARD_CONSTRAINTS: tuple[Callable[[WorkloadProfile, Any], Optional[str]], ...] = (
    realtime_api, gpu_required, request_timeout, custom_vnet, on_premises, scale_to_zero_required, kubernetes_api)


def hard_reasons(p: WorkloadProfile, t: Any) -> list[str]:
    """The reasons of every hard constraint that excludes `t`."""
    out = []
    for rule in HARD_CONSTRAINTS:
        reason = rule(p, t)
        if reason:
            out.append(reason)
    return out


# ---------------------------------------------------------------- computed soft criteria

COMPUTED: dict[str, Callable[[WorkloadProfile, Any, Plan], Result]] = {}


def computed(fn: Callable[[WorkloadProfile, Any, Plan], Result]) -> Callable[[WorkloadProfile, Any, Plan], Result]:
    """Register a soft criterion under its function's name (the key of its entry in criteria.yaml)."""
    COMPUTED[fn.__name__] = fn
    return fn


@computed
def scalability(p: WorkloadProfile, t: Any, plan: Plan) -> Result:
    f = t.facts
    url = f.cite("max_instances")
    if plan.batch:
        return (90.0 if not plan.over_limit else 50.0), 1.0, lambda: (
            f"The cluster scales from 0 to {plan.n_peak} node(s) of {plan.sku} per job; cluster size is bounded by "
            f"your core quota ({f.short('max_instances')})."), url
    ratio = plan.n_max / plan.limit if plan.limit else 0.0
    score = 95.0 if ratio <= 0.3 else 85.0 if ratio <= 0.6 else 70.0 if ratio <= 1.0 else 40.0
    peak = p.inference.peak_rps
    rps_limit = f.value("endpoint_rps_limit")
    over_rps = rps_limit is not None and peak > rps_limit
    mbps_limit, mbps = f.value("bandwidth_mbps"), peak * p.inference.payload_kb / 1024.0
    over_mbps = mbps_limit is not None and mbps > mbps_limit
    large = f.value("large_scale")  # where the notes call this target the large-scale choice
    is_large = large is not None and (peak >= large["peak_rps"] or plan.n_peak >= large["instances"])
    fixed_size = not plan.autoscale and p.inference.pattern != "steady"
    score -= 20.0 * over_rps + 20.0 * over_mbps + 15.0 * fixed_size
    if is_large:
        score = max(score, 95.0)

    def words() -> str:
        parts = [f"{plan.n_peak} instance(s) at peak, autoscale max {plan.n_max}, limit {plan.limit} "
                 f"({f.short('max_instances')})"]
        if plan.over_limit:
            parts.append(f"above the default limit of {plan.limit}: request an increase or split across deployments")
        if over_rps:
            parts.append(f"{peak:g} rps is above the default {rps_limit} requests/s per endpoint (increasable; "
                         f"{f.short('endpoint_rps_limit')})")
        if over_mbps:
            parts.append(f"{mbps:.1f} MB/s of request payload exceeds the default {mbps_limit} MBPS per endpoint")
        if is_large:
            parts.append(f"{f.note('large_scale')} ({f.short('large_scale')})")
        if "scaling" in f:
            parts.append(f"{f.value('scaling')} ({f.short('scaling')})")
        if fixed_size:
            parts.append(f"the {plan.tier} tier has no autoscale, so it runs the peak count all month "
                         f"({f.short('autoscale')})")
        return sentence(parts) + "."
    return max(score, 0.0), 1.0, words, url


@computed
def latency(p: WorkloadProfile, t: Any, plan: Plan) -> Result:
    f = t.facts
    inf = p.inference
    url = f.cite("request_timeout_s")
    if plan.batch:
        return 90.0, 0.5, lambda: (f"Batch jobs are asynchronous: no per-request latency target applies; nodes are "
                                   f"sized for {inf.peak_rps:g} rows/s at peak ({f.short('realtime')})."), url
    limit = f.value("request_timeout_s")
    near_timeout = limit is not None and inf.max_request_seconds > 0.8 * limit
    cold_start = plan.n_min == 0
    score = (95.0 if plan.latency_met else 30.0) - 20.0 * near_timeout
    if cold_start:
        score -= 15.0 if inf.pattern in ("sporadic", "bursty") else 10.0

    def words() -> str:
        if plan.latency_met:
            parts = [f"M/M/c queue: {plan.c_peak} worker(s) at {inf.peak_rps:g} rps keep p95 within "
                     f"{inf.p95_latency_ms:g} ms (service {plan.service_ms:.2f} ms per request per worker)"]
        else:
            parts = [f"the p95 target of {inf.p95_latency_ms:g} ms cannot be met at any instance count: with a mean "
                     f"service time of {plan.service_ms:.1f} ms the M/M/c model puts p95 of service alone near 3x "
                     "that; use a faster SKU, a GPU or a lighter model"]
        if near_timeout:
            parts.append(f"the longest request ({inf.max_request_seconds:g} s) is within 20% of the {limit:g} s "
                         "timeout")
        if cold_start:
            parts.append("with min replicas 0 the first request after idle waits for a replica to start (cold start, "
                         f"not in the M/M/c figure; {f.short('scale_to_zero')})")
        timeout = f" (request timeout {limit:g} s: {f.short('request_timeout_s')})" if limit is not None else ""
        return sentence(parts) + timeout + "."
    return max(score, 0.0), (0.3 if inf.mode == "batch" else 1.0), words, url


@computed
def availability(p: WorkloadProfile, t: Any, plan: Plan) -> Result:
    f = t.facts
    req = p.scale.availability_sla
    url = f.cite("sla")
    if req < 99.0:
        return 85.0, 0.5, lambda: f"No availability requirement above 99% (scale.availability_sla={req:g}).", url
    sla = f.value("sla")
    if sla is None:
        return 50.0, 1.0, lambda: f"{f.note('sla')} ({f.short('sla')}).", url
    levels = f.value("sla_levels")  # a target whose SLA depends on how it is set up
    if levels is not None:
        level = next(x for x in levels if req <= x["upto"])
        why = level["why"]
        return float(level["score"]), 1.0, lambda: f"{why[:1].upper()}{why[1:]} ({f.short('sla')}).", url
    # a target whose SLA covers its control plane, not the workload (AKS): judge the workload figure
    name = "workload_sla" if f.value("sla_scope") == "control-plane" and "workload_sla" in f else "sla"
    sla, verified = f.value(name), f.verified(name)
    score = (90.0 if verified else 75.0) if req <= sla else 55.0 if req <= 99.95 else 35.0
    score -= 10.0 * (plan.n_min == 0)

    def words() -> str:
        extra = ""
        if plan.n_min == 0:
            extra = "; with min replicas 0 the first request after idle waits for a cold start"
        elif "ha_min_instances" in f:
            cite = f" ({f.short('ha_min_instances')})" if f.cite("ha_min_instances") != url else ""
            extra = f"; at least {plan.n_min} instance(s) so one can fail or restart{cite}"
        figure = f"{sla:g}%" + ("" if verified else " (figure not verified on a Microsoft page)")
        scope = f" - {f.note('sla_scope')}" if name == "workload_sla" else ""
        return f"Requested {req:g}%; {t.title} {'workload availability' if scope else 'SLA'} {figure}{scope}{extra} " \
               f"({f.short(name)})."
    return score, 1.0, words, f.cite(name)


@computed
def ops_burden(p: WorkloadProfile, t: Any, plan: Plan) -> Result:
    f = t.facts
    burden = f.value("ops_burden")
    url = f.cite("ops_burden")
    by_skill = burden.get("by_skill")
    if by_skill is None:  # a managed platform: the same for every team
        score = float(burden["score"])
        return score, 1.0, lambda: (f"{verdict(score)}: low operations burden — "
                                    f"{f.note('ops_burden') or f.value('recommended_for')} ({f.short('ops_burden')})."), url
    team = p.team  # the team runs the platform itself: its skills and an existing cluster count
    score = min(by_skill[team.kubernetes_skill] + 10.0 * team.existing_aks + 5.0 * (team.kind == "platform"), 98.0)
    have = "an existing cluster" if team.existing_aks else "no cluster yet"
    return score, 1.0, lambda: (f"{verdict(score)}: {f.note('ops_burden')}; it suits {f.value('recommended_for')} "
                                f"({f.short('recommended_for')}). Team: kubernetes_skill={team.kubernetes_skill}, "
                                f"{team.kind}, {have}."), url


@computed
def scale_to_zero(p: WorkloadProfile, t: Any, plan: Plan) -> Result:
    f = t.facts
    url = f.cite("scale_to_zero")
    can = bool(f.value("scale_to_zero"))
    pattern = p.inference.pattern
    if p.scale.scale_to_zero:
        return (95.0 if can else 0.0), 1.0, lambda: (f"{'Scales' if can else 'Cannot scale'} to zero "
                                                     f"({f.short('scale_to_zero')}: {f.note('scale_to_zero')})."), url
    if pattern in ("sporadic", "bursty"):
        what = f.note("scale_to_zero") or ("scales to zero" if can else "no scale to zero")
        return (85.0 if can else 50.0), 0.5, lambda: (f"Idle hours in a {pattern} pattern cost "
                                                      f"{'little' if can else 'full price'}: {what} "
                                                      f"({f.short('scale_to_zero')})."), url
    return 70.0, 0.0, lambda: f"Scale to zero not needed for a {pattern} pattern.", url


@computed
def quota(p: WorkloadProfile, t: Any, plan: Plan) -> Result:
    f = t.facts
    url = f.cite("quota")
    rule = f.value("quota")
    if rule != "vm-cores":  # no core quota to plan for: the fact says what to check instead
        score = float(rule["score_above"] if "above" in rule and plan.n_max > rule["above"] else rule["score"])
        return score, 1.0, lambda: f"{f.note('quota')} ({f.short('quota')}).", url
    cores = plan.quota_cores_max or 0
    if plan.gpus:
        score, why = 45.0, "GPU VM families default to 0 cores of quota: request it before deploying"
    elif cores <= 24:
        score, why = 90.0, "fits the smallest default dedicated-core quota (24 per region)"
    elif cores <= 100:
        score, why = 70.0, "default dedicated-core quotas are 24-300 per region: you may need a quota request"
    else:
        score, why = 50.0, "needs a quota request (default dedicated-core quotas are 24-300 per region)"

    def words() -> str:
        sku = skus().vm[plan.sku]
        reserve = f.value("quota_reserve")
        if reserve is None:
            return f"{cores} cores of {sku.family} quota at the node maximum; {why} ({f.short('quota')})."
        per = int(math.ceil(sku.vcpu))
        need = (f"{plan.n_peak} x {per} cores (SKU exempt from the {reserve:.0%} reserve)" if sku.quota_exempt
                else f"ceil({1 + reserve:g} x {plan.n_peak}) x {per} = {plan.quota_cores} cores")
        return f"{need} of {sku.family} quota at peak, {cores} at autoscale max; {why} ({f.short('quota_reserve')})."
    return score, 1.0, words, url


@computed
def integration(p: WorkloadProfile, t: Any, plan: Plan) -> Result:
    row = t.facts.row("integration")
    items = sorted(set(p.operations.integrations))
    if not items:
        return 70.0, 0.0, lambda: "No integrations listed (operations.integrations is empty).", row["url"]
    score = sum(row["scores"][i] for i in items) / len(items)
    return score, 1.0, lambda: (f"{verdict(score)} (operations.integrations={', '.join(items)}): {row['text']} "
                                f"({row['short']})."), row["url"]


# ---------------------------------------------------------------- table criteria

def _table(cid: str, spec: dict) -> Callable[[WorkloadProfile, Any, Plan], Result]:
    """A criterion that reads one profile input and scores each target from its row (its YAML `scores:`)."""
    read = attrgetter(spec["input"])
    factors = spec.get("weight_factor", {})
    context = spec.get("context", {})
    results: dict[str, dict[Any, Result]] = {}
    for target in targets().values():
        row = target.facts.row(cid)
        by_value: dict[Any, Result] = {}
        for value, score in row["scores"].items():
            factor = float(factors.get(value, 1.0))
            shown = str(value).lower() if isinstance(value, bool) else value
            setting = f"{spec['input']}={shown}" + (f", {context[value]}" if value in context else "")
            lead = f"Not counted ({setting})" if factor == 0 else f"{verdict(score)} ({setting})"
            by_value[value] = (float(score), factor, said(f"{lead}: {row['text']} ({row['short']})."), row["url"])
        results[target.id] = by_value

    def judge(p: WorkloadProfile, t: Any, plan: Plan) -> Result:
        return results[t.id][read(p)]

    judge.__name__ = cid
    return judge


# ---------------------------------------------------------------- cost

def cost_score(budget: Optional[float], monthly: float) -> tuple[float, float]:
    """(score, weight factor) for a monthly cost. Absolute, so it depends only on this target.

    Without a budget: 100 at $20/month, minus 25 points per tenfold ($200 -> 75, $2,000 -> 50,
    $20,000 -> 25). With a budget the criterion weighs double: 60-100 within budget by headroom,
    60 x (budget / cost)^2 above it."""
    if budget is None:
        return max(0.0, min(100.0, 100.0 - 25.0 * math.log10(max(monthly, 20.0) / 20.0))), 1.0
    if monthly <= budget:
        return 60.0 + 40.0 * (1.0 - (monthly / budget if budget > 0 else 0.0)), 2.0
    return 60.0 * (budget / monthly) ** 2, 2.0


def cost_reason(budget: Optional[float], monthly: float, as_of: str) -> str:
    head = f"${monthly:,.2f}/month from the {as_of} price snapshot"
    if budget is None:
        return f"{head}; no budget set, so cheaper scores higher (100 at $20/month, 25 points less per tenfold)."
    if monthly <= budget:
        headroom = 100 * (1 - monthly / budget) if budget else 0
        return f"{head}: within the ${budget:,.0f} budget (budget.monthly_usd), {headroom:.0f}% headroom."
    return f"{head}: over the ${budget:,.0f} budget (budget.monthly_usd) by ${monthly - budget:,.2f}."


# ---------------------------------------------------------------- all criteria

@dataclass(frozen=True)
class Criterion:
    id: str
    title: str
    weight: float
    judge: Callable[[WorkloadProfile, Any, Plan], Result]  # None for cost, which the engine scores


@lru_cache(maxsize=1)
def criteria() -> tuple[Criterion, ...]:
    """The soft criteria in display order, cost last (scored by the engine from the plan's monthly cost)."""
    out = []
    for cid, spec in criteria_specs().items():
        if cid == "cost":
            judge: Any = None
        elif cid in COMPUTED:
            judge = COMPUTED[cid]
        elif "input" in spec:
            judge = _table(cid, spec)
        else:
            raise ValueError(f"criteria.yaml: {cid} has no input and advisor/criteria.py no function of that name")
        out.append(Criterion(cid, spec["title"], float(spec["weight"]), judge))
    if out[-1].id != "cost":
        raise ValueError("criteria.yaml: cost must be the last criterion")
    return tuple(out)
