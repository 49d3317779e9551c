"""Plain-language reasons for each option, and "what would change the answer" (sensitivity).

Sensitivity is plain re-evaluation: for each candidate change - the decisions and requirements in
CATEGORICAL, plus searches over peak_rps, max_request_seconds, availability_sla and the budget - it
evaluates the changed profile from scratch and reports the changes that put another target first.
The peak_rps threshold is found by stepping up (x10, x100) until the winner changes and then
bisecting; the reported bound N was evaluated (at N the answer is unchanged), not extrapolated.
"""
from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any, Callable, Optional

from .cost import money
from .criteria import cost_reason, criteria
from .models import Calibration, Cost, CriterionScore, Option, Sensitivity, Sizing, WorkloadProfile
from .prices import PriceBook, RegionPrices
from .lifecycle import headroom
from .queueing import RHO_MAX, p95_ms
from .sizing import HEADROOM, LONG_REQUEST_MS, MEM_FACTOR, RUNTIME_MB, Load, Plan, ServiceTime, worker_gib

if TYPE_CHECKING:
    from .engine import Evaluation

#: Decisions and requirements tried by sensitivity, in report order: for each profile field, the values
#: to try (the current value is skipped). Workload facts a user can't choose (framework, traffic
#: pattern) are not varied, except by the numeric searches (peak_rps, max_request_seconds, availability,
#: budget).
CATEGORICAL: tuple[tuple[str, tuple[Any, ...]], ...] = (
    ("team.kubernetes_skill", ("expert", "none")),
    ("team.existing_aks", (True, False)),
    ("inference.gpu", ("required", "none")),
    ("scale.scale_to_zero", (True, False)),
    ("security.network", ("custom-vnet", "on-premises", "public")),
    ("team.needs_kubernetes_api", (True, False)),
    ("team.kind", ("data-science", "app-dev", "platform")),
    ("team.existing_web_app", (True, False)),
    ("inference.mode", ("realtime", "batch")),
    ("security.auth", ("entra", "key")),
    ("operations.rollout", ("shadow", "simple")),
    ("operations.drift_monitoring", (True, False)),
    ("model.from_registry", (True, False)),
)
#: each varied input in plain words, for the sensitivity lines people read ("If {words} were {value}")
PLAIN: dict[str, str] = {
    "team.kubernetes_skill": "the team's Kubernetes skill", "team.existing_aks": "an AKS cluster already running",
    "inference.gpu": "the GPU need", "scale.scale_to_zero": "scaling to zero when idle",
    "security.network": "the network isolation", "team.needs_kubernetes_api": "needing the Kubernetes API",
    "team.kind": "the owning team", "team.existing_web_app": "an App Service plan already running",
    "inference.mode": "the inference mode", "security.auth": "the caller authentication",
    "operations.rollout": "the rollout strategy", "operations.drift_monitoring": "drift monitoring",
    "model.from_registry": "a model from an Azure ML registry", "inference.peak_rps": "the peak traffic (requests/s)",
    "inference.max_request_seconds": "the longest request (s)", "scale.availability_sla": "the availability asked (%)",
    "budget.monthly_usd": "the monthly budget (USD)",
}
#: the advisor's own assumption tried by sensitivity: the estimated service time off by these factors
SERVICE_FACTORS = (2.0, 0.5)


def plain(change: str) -> str:
    """A sensitivity change in plain words: "team.kind=app-dev" -> "If the owning team were app-dev"."""
    for op, verb in ((" > ", "were above"), (" < ", "were below"), ("=", "were")):
        if op in change:
            path, value = change.split(op, 1)
            words = {"true": "yes", "false": "no"}.get(value.strip(), value.strip())
            return f"If {PLAIN.get(path.strip(), path.strip())} {verb} {words}"
    return change

PEAK_MAX = 1_000_000.0
PEAK_UP = (10.0, 100.0)
TIMEOUT_STEPS = (180.0, 230.0, 240.0, 1800.0)  # the targets' request timeouts as deployed (FACTS.md)
SENSITIVITY_LIMIT = 14


def r1(x: float) -> float:
    """x to one decimal, half up (deterministic)."""
    return math.floor(x * 10.0 + 0.5) / 10.0


_CITATION = re.compile(r" \((?:Learn|GitHub|your notes|serving-anchors)[^()]*(?:\([^()]*\)[^()]*)*\)")


def without_citations(reason: str, n: int = 160) -> str:
    """The reason without its citations, cut at a word boundary (the full text is in the option)."""
    text = _CITATION.sub("", reason).rstrip(".")
    if len(text) <= n:
        return text
    return text[:n].rsplit(" ", 1)[0] + "…"


# ---------------------------------------------------------------- options

def sizing_notes(profile: WorkloadProfile, target: Any, plan: Plan, st: ServiceTime) -> list[str]:
    """How the plan was sized, step by step; the target adds its own notes at the end."""
    notes = [f"Service time {st.basis}."]
    if plan.batch:
        return notes + target.notes(profile, plan)
    inf = profile.inference
    speed = f" on the {plan.gpu_model} GPU (service time divided by the assumed GPU speed-up)" if plan.gpu_used else ""
    notes.append(f"Workers per instance: {plan.workers}{speed} ({plan.vcpu:g} vCPU, {plan.mem_gib:g} GiB; each worker "
                 f"needs ~{worker_gib(profile.model.size_mb):.2f} GiB = {RUNTIME_MB:g} MB runtime + {MEM_FACTOR:g} x "
                 f"{profile.model.size_mb:g} MB model).")
    a = inf.peak_rps * plan.service_ms / 1000.0
    if plan.latency_met:
        notes.append(f"M/M/c at peak: a = {inf.peak_rps:g} rps x {plan.service_ms:.3f} ms = {a:.3f} busy workers; "
                     f"smallest c with P(response > {inf.p95_latency_ms:g} ms) <= 5% and utilisation <= "
                     f"{RHO_MAX:.0%}: c = {plan.c_peak}.")
    else:
        notes.append(f"M/M/c at peak: a = {a:.3f} busy workers; no c meets p95 <= {inf.p95_latency_ms:g} ms because "
                     f"the service time alone exceeds it, so c = {plan.c_peak} keeps utilisation at {RHO_MAX:.0%}.")
    ha = ""
    if plan.n_peak > -(-plan.c_peak // plan.workers):
        f = target.facts
        cite = f" ({f.short('ha_min_instances')})" if "ha_min_instances" in f else ""
        ha = f", availability minimum {target.ha_minimum(Load.of(profile))} for availability_sla {profile.scale.availability_sla:g}{cite}"
    if plan.service_ms >= LONG_REQUEST_MS:
        d = plan.service_ms / 1000.0
        notes.append(f"Long requests, sized by Little's law: {inf.peak_rps:g} rps x {d:g} s = "
                     f"{inf.peak_rps * d:g} request(s) in flight at peak, one per worker, at most {RHO_MAX:.0%} busy "
                     f"-> {plan.c_peak} worker(s); each instance serves {plan.workers} at once (set that as its "
                     "concurrency limit: beyond it requests queue or are refused).")
    notes.append(f"Instances at peak = max(ceil({plan.c_peak} / {plan.workers}), 1{ha}) = {plan.n_peak}.")
    if plan.autoscale:
        room = max(HEADROOM, headroom(st.measured))
        why = "" if st.measured else "; the service time is estimated, so the maximum carries twice it"
        saturates = plan.n_max * plan.workers * 1000.0 / plan.service_ms
        notes.append(f"Autoscale: min {plan.n_min} (average {min(inf.average_rps, inf.peak_rps):g} rps needs "
                     f"{plan.c_base} worker(s){'; scales to zero' if plan.n_min == 0 else ''}), max {plan.n_max} "
                     f"(ceil({plan.c_peak} x {room:g} / {plan.workers}), limit {plan.limit}{why}); the maximum "
                     f"saturates at about {saturates:,.4g} rps.")
    else:
        notes.append(f"No autoscale on the {plan.tier} tier: {plan.n_peak} instance(s) all the time.")
    if plan.over_limit:
        notes.append(f"{plan.n_peak} instances exceed the default limit of {plan.limit}: request an increase "
                     f"({target.facts.short('max_instances')}).")
    return notes + target.notes(profile, plan)


def sizing(profile: WorkloadProfile, target: Any, plan: Plan, st: ServiceTime) -> Sizing:
    """models.Sizing of a plan (predicted p95 from M/M/c at the provisioned worker count)."""
    predicted = None
    if not plan.batch and plan.service_ms >= LONG_REQUEST_MS:  # long requests: each takes its duration, one per worker
        predicted = r1(plan.service_ms) if plan.latency_met else None
    elif not plan.batch:
        peak = profile.inference.peak_rps
        p = p95_ms(plan.n_peak * plan.workers, peak, plan.service_ms) if peak > 0 else p95_ms(1, 0.0, plan.service_ms)
        predicted = r1(p) if math.isfinite(p) else None
    return Sizing(sku=plan.sku, instances=plan.n_peak, min=plan.n_min, max=plan.n_max,
                  vcpus_per_instance=int(plan.vcpu), workers_per_instance=plan.workers,
                  service_ms=math.floor(plan.service_ms * 1000.0 + 0.5) / 1000.0, service_time_measured=st.measured,
                  predicted_p95_ms=predicted, quota_cores=plan.quota_cores, notes=sizing_notes(profile, target, plan, st),
                  concurrency=plan.workers, in_flight_at_peak=round(profile.inference.peak_rps * plan.service_ms / 1000.0, 2),
                  saturation_rps=None if plan.batch else r1(plan.n_max * plan.workers * 1000.0 / plan.service_ms))


def option(profile: WorkloadProfile, e: "Evaluation", prices: RegionPrices, st: ServiceTime) -> Option:
    plan = e.plan
    assert plan is not None
    crits = criteria()
    budget = profile.budget.monthly_usd
    scored = [CriterionScore(name=c.id, score=r1(r[0]), weight=c.weight * r[1], reason=r[2](), source=r[3])
              for c, r in zip(crits, e.results)]
    scored.append(CriterionScore(name="cost", score=r1(e.cost_score), weight=crits[-1].weight * e.cost_factor,
                                 reason=cost_reason(budget, e.monthly, prices.as_of), source=prices.source))
    size = sizing(profile, e.target, plan, st)
    return Option(target=e.id, score=r1(e.score), criteria=scored, sizing=size, cost=regional_cost(profile, e, prices),
                  reasons=option_reasons(profile, e, scored, size.predicted_p95_ms))


def regional_cost(profile: WorkloadProfile, e: "Evaluation", prices: RegionPrices) -> Cost:
    """The target's cost in its primary region, plus one line per further region of a region list."""
    assert e.plan is not None
    cost = e.target.monthly_cost(profile, e.plan, prices)
    if not e.regional:
        return cost
    breakdown, total = {f"{k} ({prices.region})": v for k, v in cost.breakdown.items()}, cost.monthly_usd
    for other, plan in e.regional:
        c = e.target.monthly_cost(profile, plan, other)
        breakdown[f"region {other.region}"] = c.monthly_usd
        total += c.monthly_usd
    regions = profile.active_regions
    note = (f"Active in {len(regions)} regions ({', '.join(regions)}) behind Azure Front Door: each region runs a "
            "full deployment sized for the whole peak, so either carries the traffic if the other fails; each is "
            "priced at its own region's rates (Front Door itself is not included).")
    return Cost(monthly_usd=round(total, 2), breakdown=breakdown, assumptions=[note, *cost.assumptions])


def option_reasons(profile: WorkloadProfile, e: "Evaluation", scored: list[CriterionScore],
                   predicted: Optional[float]) -> list[str]:
    """The option's headline, its three strongest and two weakest counted criteria, and its size and cost."""
    plan = e.plan
    assert plan is not None
    out = [f"{e.target.title}: {e.target.purpose}."]
    counted = [c for c in scored if c.weight > 0]
    strong = sorted((c for c in counted if c.score >= 85), key=lambda c: (-c.score * c.weight, c.name))
    if strong:
        out.append("Strong on " + ", ".join(f"{c.name.replace('_', ' ')} ({c.score:g})" for c in strong[:3]) + ".")
    weak = sorted((c for c in counted if c.score < 50), key=lambda c: (c.score - 100) * c.weight)
    for c in weak[:2]:
        why = without_citations(c.reason, 260)
        out.append(f"Weak on {c.name.replace('_', ' ')} ({c.score:g}): {why}{'' if why.endswith('…') else '.'}")
    size = f"{plan.n_peak} x {plan.sku}"
    if plan.batch:
        size += f" node(s) per job (cluster min 0, max {plan.n_max})"
    elif plan.autoscale and plan.n_min != plan.n_max:
        size += f" (autoscale {plan.n_min}-{plan.n_max})"
    lat = ""
    if predicted is not None and profile.inference.mode != "batch":
        lat = f", predicted p95 {predicted:g} ms vs {profile.inference.p95_latency_ms:g} ms target"
    out.append(f"Size: {size}{lat}; about {money(e.monthly)}/month.")
    return out


def inputs_summary(profile: WorkloadProfile, st: ServiceTime, book: PriceBook) -> dict[str, str]:
    inf = profile.inference
    src = book.source.rsplit("/", 1)[-1] if book.source else "advisor/data"
    return {
        "service_time": "measured" if st.measured else "estimated",
        "service_time_basis": st.basis,
        "service_ms_per_worker": f"{st.cpu_ms:.3f}",
        "traffic": f"given: peak {inf.peak_rps:g} rps, average {inf.average_rps:g} rps, {inf.pattern} pattern, p95 "
                   f"target {inf.p95_latency_ms:g} ms",
        "prices": f"snapshot {book.as_of} ({src}); regions without a price fall back to eastus",
    }


# ---------------------------------------------------------------- sensitivity

def with_value(profile: WorkloadProfile, path: str, value: Any) -> WorkloadProfile:
    """A copy of the profile with one field (`section.field` or a top-level field) changed."""
    section, _, name = path.rpartition(".")
    if not section:
        return profile.model_copy(update={name: value})
    return profile.model_copy(update={section: getattr(profile, section).model_copy(update={name: value})})


def _shown(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _nice_down(x: float) -> float:
    """x rounded down to two significant figures (a safe 'more than N' bound)."""
    if x <= 0:
        return 0.0
    f = 10.0 ** (math.floor(math.log10(x)) - 1)
    return math.floor(x / f + 1e-9) * f


def _nice_up(x: float) -> float:
    if x <= 0:
        return 0.0
    f = 10.0 ** (math.floor(math.log10(x)) - 1)
    return math.ceil(x / f - 1e-9) * f


class Probe:
    """One changed profile, evaluated: who ranks first, and where the current winner stands."""

    def __init__(self, evals: list["Evaluation"], won: str) -> None:
        from .engine import ranked

        order = ranked(evals)
        self.best = order[0] if order else None
        self.mine = next((e for e in order if e.id == won), None)
        self.lost = next(e for e in evals if e.id == won)  # the current winner's evaluation (viable or not)
        self.flipped = self.best is None or self.best.id != won

    def text(self) -> tuple[str, str]:
        """(new winner id, explanation)."""
        if self.best is None:
            return "none", "No target would remain viable."
        score = -self.best.rank_key()[0] / 1e6
        if self.mine is None:
            reason = self.lost.excluded[0] if self.lost.hard else "no size fits the changed workload"
            return self.best.id, (f"{self.lost.id} would be excluded ({without_citations(reason, 160)}); "
                                  f"{self.best.id} ranks first with {score:.1f}.")
        return self.best.id, (f"{self.best.id} would rank first with {score:.1f} against {self.mine.id} "
                              f"{-self.mine.rank_key()[0] / 1e6:.1f}.")


def sensitivity(profile: WorkloadProfile, evals: list["Evaluation"],
                evaluate: Callable[[WorkloadProfile], list["Evaluation"]]) -> list[Sensitivity]:
    """Single changes to the profile that put another target first (each one evaluated from scratch)."""
    from .engine import ranked

    order = ranked(evals)
    if not order:
        return []
    winner = order[0]
    won = winner.id
    monthly = winner.monthly
    out: list[Sensitivity] = []

    def run(path: str, value: Any) -> Probe:
        return Probe(evaluate(with_value(profile, path, value)), won)

    def add(change: str, probe: Probe, prefix: str = "", said: str = "") -> None:
        new_winner, text = probe.text()
        out.append(Sensitivity(change=change, new_winner=new_winner, explanation=prefix + text,
                               said=said or plain(change)))

    for path, values in CATEGORICAL:
        section, _, name = path.partition(".")
        current = getattr(getattr(profile, section), name)
        for v in values:
            if v == current:
                continue
            probe = run(path, v)
            if probe.flipped:
                add(f"{path}={_shown(v)}", probe)
    _peak_search(profile, run, add)
    inf = profile.inference
    for t in TIMEOUT_STEPS:  # the next request-timeout limit above the current longest request
        if t < inf.max_request_seconds:
            continue
        probe = run("inference.max_request_seconds", t + 1.0)
        if probe.flipped:
            add(f"inference.max_request_seconds > {t:g}", probe)
            break
    nxt = next((x for x in (99.9, 99.95, 99.99) if x > profile.scale.availability_sla), None)
    if nxt is not None:  # the next availability level up
        probe = run("scale.availability_sla", nxt)
        if probe.flipped:
            add(f"scale.availability_sla={nxt:g}", probe)
    from .engine import service_time

    st = service_time(profile)
    if not st.measured:  # the tool's own assumption: the estimated service time, off by 2x either way
        for k in SERVICE_FACTORS:
            cal = Calibration(service_ms_batch1=st.cpu_ms * k, cores=1, cpu=f"estimate x{k:g}")
            probe = run("model.calibration", cal)
            if probe.flipped:
                add(f"assumption: service time x{k:g}", probe, f"the estimated {st.cpu_ms:.1f} ms per request could be "
                    f"off; at {st.cpu_ms * k:.1f} ms ", said=f"If the model were {'slower' if k > 1 else 'faster'} "
                    f"than estimated ({k:g}x the service time; measure it with `deploy-advisor benchmark`)")
    budget = profile.budget.monthly_usd
    if monthly > 1.0 and (budget is None or budget >= monthly):
        b = _nice_down(monthly * 0.95)
        probe = run("budget.monthly_usd", b)
        if probe.flipped:
            # the probed value, not a "<" bound: with a budget set, the budget's headroom scores too, so the
            # answer can change at budgets above the winner's cost as well
            add(f"budget.monthly_usd={b:g}", probe,
                f"{won} costs {money(monthly)}/month; with a budget of ${b:g}, ")
    return out[:SENSITIVITY_LIMIT]


def _bisect(run: Callable[[str, Any], Probe], path: str, same: float, changed: float, hit: Probe,
            steps: int) -> tuple[float, float, Probe]:
    """Geometric bisection between a value where nothing changes and one where the winner changes:
    (the last unchanged value, the first changed one, its probe)."""
    for _ in range(steps):
        mid = math.sqrt(same * changed)
        probe = run(path, mid)
        if probe.flipped:
            changed, hit = mid, probe
        else:
            same = mid
    return same, changed, hit


def _peak_search(profile: WorkloadProfile, run: Callable[[str, Any], Probe], add: Callable[..., None]) -> None:
    """peak_rps thresholds: x10 and x100 the current peak until the winner changes, then three geometric
    bisections (the bound is within ~1.33x of the change); and /5 downwards, with one bisection."""
    path = "inference.peak_rps"
    peak = profile.inference.peak_rps
    start = peak if peak > 0 else 0.5
    lo = start
    for f in PEAK_UP:
        v = min(start * f, PEAK_MAX)
        probe = run(path, v)
        if probe.flipped:
            lo, hi, hit = _bisect(run, path, lo, v, probe, 3)
            n = _nice_down(lo) if lo >= 1 else round(lo, 2)
            add(f"{path} > {n:g}", hit, f"Up to {lo:.4g} rps nothing changes; at {hi:.4g} rps ")
            break
        lo = v
        if v >= PEAK_MAX:
            break
    if peak > 0:
        probe = run(path, peak * 0.2)
        if probe.flipped:
            hi, low, hit = _bisect(run, path, peak, peak * 0.2, probe, 1)
            n = _nice_up(hi) if hi >= 1 else round(hi, 3)
            add(f"{path} < {n:g}", hit, f"Down to {hi:.4g} rps nothing changes; at {low:.4g} rps ")
