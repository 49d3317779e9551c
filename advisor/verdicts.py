"""Requirement verdicts: for each option, one line per stated requirement - met, met with a change
(naming what to request or set), or not met (naming what would satisfy it) - plus the headline that
leads the answer and the per-option "fits budget" verdict.

Verdicts read the target's facts (advisor/data, each with its Learn source) and the option's own
sizing and cost; no verdict names a target id. An architect reads these lines first: they say
whether the recommendation can be signed as it stands.
"""
from __future__ import annotations

import math
from typing import Any, Optional

from .models import Option, Recommendation, Verdict, WorkloadProfile

MET, CHANGE, NOT_MET = "met", "met-with-change", "not-met"

#: what satisfies a request longer than every synchronous timeout (issue 20: never an empty answer)
ASYNC_PATTERN = ("use the asynchronous pattern: submit a job to a batch endpoint (or put a queue in front) "
                 "and poll for the result")


def _fmt_s(seconds: float) -> str:
    return f"{seconds:g} s" if seconds < 600 else f"{seconds / 60:g} min"


def _money(x: float) -> str:
    return f"${x:,.0f}" if x >= 100 else f"${x:,.2f}"


def _v(requirement: str, status: str, detail: str, change: str = "", source: str = "") -> Verdict:
    # built from this module's own literals and fact strings: no validation pass needed (one per requirement
    # per option on every recommendation)
    return Verdict.model_construct(requirement=requirement, status=status, detail=detail, change=change, source=source)


def mode_verdict(p: WorkloadProfile, t: Any) -> Optional[Verdict]:
    realtime = bool(t.facts.value("realtime"))
    if p.inference.mode in ("realtime", "both") and not realtime:
        return _v("mode", NOT_MET, f"a synchronous real-time API is asked for; {t.title} runs asynchronous jobs",
                  ASYNC_PATTERN, t.facts.cite("realtime"))
    if p.inference.mode == "batch" and realtime:
        return _v("mode", CHANGE, f"batch scoring is asked for; {t.title} serves requests, not jobs",
                  "call it from your own job (e.g. a Data Factory pipeline) in chunks", t.facts.cite("realtime"))
    return _v("mode", MET, "real-time API" if realtime else "asynchronous batch jobs", source=t.facts.cite("realtime"))


def timeout_verdict(p: WorkloadProfile, t: Any) -> Verdict:
    need = p.inference.max_request_seconds
    limit = t.facts.value("request_timeout_s")
    src = t.facts.cite("request_timeout_s")
    if limit is None:
        return _v("timeout", MET, f"requests of {_fmt_s(need)}: jobs have no HTTP request timeout", source=src)
    default = t.facts.value("request_timeout_default_s", limit)
    setting = t.facts.value("request_timeout_setting", "")
    if need <= default:
        return _v("timeout", MET, f"longest request {_fmt_s(need)} within the {_fmt_s(default)} timeout", source=src)
    if need <= limit:
        how = f"set {setting} to at least {_fmt_s(math.ceil(need))}" if setting else \
            f"raise the timeout to at least {_fmt_s(math.ceil(need))}"
        return _v("timeout", CHANGE, f"longest request {_fmt_s(need)} exceeds the default {_fmt_s(default)} "
                  f"(maximum {_fmt_s(limit)})", how, t.facts.cite("request_timeout_setting") or src)
    return _v("timeout", NOT_MET, f"longest request {_fmt_s(need)} exceeds the {_fmt_s(limit)} maximum request timeout",
              ASYNC_PATTERN, src)


def rps_verdicts(p: WorkloadProfile, t: Any, o: Option) -> list[Verdict]:
    out = []
    peak = p.inference.peak_rps
    cap = t.facts.value("endpoint_rps_limit")
    if cap is not None and peak > cap:
        out.append(_v("rps", CHANGE, f"peak {peak:g} rps is above the {cap:g} requests/s per-endpoint limit",
                      f"request an endpoint limit increase above {cap:g} requests/s before go-live "
                      "(or split the traffic over several endpoints)", t.facts.cite("endpoint_rps_limit")))
    elif o.sizing.saturation_rps is not None and o.sizing.saturation_rps < peak:
        out.append(_v("rps", NOT_MET, f"peak {peak:g} rps; the plan saturates at {o.sizing.saturation_rps:g} rps",
                      "a larger SKU or a higher instance limit"))
    else:
        out.append(_v("rps", MET, f"peak {peak:g} rps" + (f"; the plan saturates at {o.sizing.saturation_rps:g} rps"
                                                          if o.sizing.saturation_rps else "")))
    mbps = t.facts.value("bandwidth_mbps")
    if mbps is not None:
        need = peak * p.inference.payload_kb / 1024
        if need > mbps:
            out.append(_v("bandwidth", CHANGE, f"{need:.1f} MB/s at peak is above the {mbps:g} MBPS per-endpoint limit "
                          "(requests beyond it are delayed)", "request a bandwidth limit increase",
                          t.facts.cite("bandwidth_mbps")))
        else:
            out.append(_v("bandwidth", MET, f"{need:.2f} MB/s at peak, within {mbps:g} MBPS", source=t.facts.cite("bandwidth_mbps")))
    return out


def _within(requirement: str, value: float, limit: float, met: str, over: str, change: str) -> Verdict:
    """Met when `value` stays within `limit`; else not met, with what would satisfy it."""
    return _v(requirement, MET, met) if value <= limit else _v(requirement, NOT_MET, over, change)


def p95_verdict(p: WorkloadProfile, o: Option) -> Optional[Verdict]:
    predicted, target = o.sizing.predicted_p95_ms, p.inference.p95_latency_ms
    if predicted is None:
        return None
    return _within("p95", predicted, target, f"predicted p95 {predicted:,.0f} ms within the {target:,.0f} ms target",
                   f"predicted p95 {predicted:,.0f} ms above the {target:,.0f} ms target",
                   "a faster SKU, more instances, or a looser target")


def sla_verdict(p: WorkloadProfile, t: Any, o: Option) -> Optional[Verdict]:
    want = p.scale.availability_sla
    if p.inference.mode == "batch" or want <= 0:
        return None
    name = "workload_sla" if "workload_sla" in t.facts else "sla"
    one, src = t.facts.value(name), t.facts.cite(name)
    if one is None:
        return _v("sla", NOT_MET, f"{want:g} % asked; batch jobs carry no availability SLA", ASYNC_PATTERN, src)
    scope = t.facts.note("sla_scope")
    how = (f"from {o.sizing.min} replicas spread over availability zones" if t.facts.value("sla_scope") == "control-plane"
           else f"{one:g} % for one region")
    detail = how + (f" ({scope})" if scope else "") + ("" if t.facts.verified(name) else
                                                       "; the figure is not verified on a Microsoft page")
    regions = p.active_regions
    if len(regions) > 1:
        combined = 100 * (1 - (1 - one / 100) ** len(regions))
        status = MET if combined >= want else NOT_MET
        return _v("sla", status, f"{detail}; active in {len(regions)} regions behind Azure Front Door: "
                  f"about {combined:.4g} % for {want:g} % asked", "" if status == MET else "add a region", src)
    if want > one:
        return _v("sla", CHANGE, f"{want:g} % asked; {detail}",
                  "add a second region behind Azure Front Door (active-active): one region does not offer it", src)
    return _v("sla", MET, f"{want:g} % asked; {detail}", source=src)


def budget_verdict(p: WorkloadProfile, o: Option) -> Optional[Verdict]:
    budget, cost = p.budget.monthly_usd, o.cost.monthly_usd
    if budget is None:
        return None
    return _within("budget", cost, budget, f"{_money(cost)}/month within the {_money(budget)} budget",
                   f"{_money(cost)}/month, {_money(cost - budget)} over the {_money(budget)} budget",
                   f"a budget of at least {_money(cost)}/month, or fewer requirements")


def network_verdict(p: WorkloadProfile, t: Any) -> Verdict:
    want = p.security.network
    if want in tuple(t.facts.value("networks") or ()):
        return _v("network", MET, f"{want} supported", source=t.facts.cite("networks"))
    return _v("network", NOT_MET, f"{want} is not offered ({t.facts.note('networks') or 'see the source'})",
              "a target that offers it", t.facts.cite("networks"))


def auth_verdict(p: WorkloadProfile, t: Any) -> Verdict:
    want = p.security.auth
    offered = tuple(t.facts.value("auth") or ())
    if want in offered:
        return _v("auth", MET, f"{want} auth supported", source=t.facts.cite("auth"))
    changes = t.facts.value("auth_changes") or {}
    if want in changes:
        return _v("auth", CHANGE, f"{want} auth is not built in", changes[want], t.facts.cite("auth_changes"))
    return _v("auth", NOT_MET, f"{want} auth is not offered (offers {', '.join(offered)})",
              f"use {offered[0]} auth" if offered else "", t.facts.cite("auth"))


def scale_to_zero_verdict(p: WorkloadProfile, t: Any, o: Option) -> Optional[Verdict]:
    if not p.scale.scale_to_zero:
        return None
    if t.facts.value("scale_to_zero") and o.sizing.min == 0:
        return _v("scale_to_zero", MET, "scales to zero when idle; no usage charge at zero", source=t.facts.cite("scale_to_zero"))
    return _v("scale_to_zero", NOT_MET, f"keeps at least {max(o.sizing.min, 1)} instance(s) running "
              f"({t.facts.note('scale_to_zero') or 'no scale to zero'})", "a target that scales to zero, or accept the idle cost",
              t.facts.cite("scale_to_zero"))


def gpu_verdict(p: WorkloadProfile, t: Any) -> Optional[Verdict]:
    if p.inference.gpu != "required":
        return None
    regions = t.facts.value("gpu_regions")
    if t.facts.value("gpu") and regions:
        listed = sorted({r for rs in regions.values() for r in rs}) if isinstance(regions, dict) else list(regions)
        if p.region not in listed:
            return _v("gpu", NOT_MET, f"no GPUs offered in {p.region}", f"deploy in {', '.join(listed)}",
                      t.facts.cite("gpu_regions"))
    if t.facts.value("gpu"):
        return _v("gpu", MET, "GPU SKUs offered", source=t.facts.cite("gpu"))
    return _v("gpu", NOT_MET, "no GPU SKUs", "a target with GPUs", t.facts.cite("gpu"))


def review_option(p: WorkloadProfile, t: Any, o: Option) -> list[Verdict]:
    """Every stated requirement of `p` against option `o` on target `t`, in the order an architect reads them."""
    found = [mode_verdict(p, t), *rps_verdicts(p, t, o), p95_verdict(p, o),
             timeout_verdict(p, t),
             sla_verdict(p, t, o), budget_verdict(p, o), network_verdict(p, t), auth_verdict(p, t),
             scale_to_zero_verdict(p, t, o), gpu_verdict(p, t)]
    return [v for v in found if v is not None]


def _breaks(o: Option, *, but: str = "") -> int:
    return sum(1 for v in o.verdicts if v.status == NOT_MET and v.requirement != but)


def review(rec: Recommendation, profile: WorkloadProfile, targets: dict[str, Any]) -> Recommendation:
    """Fill each option's verdicts and fits-budget flag and write the headline. Returns `rec` (changed
    in place)."""
    budget = profile.budget.monthly_usd
    for o in rec.options:
        o.verdicts = review_option(profile, targets[o.target], o)
        o.fits_budget = None if budget is None else o.cost.monthly_usd <= budget
    if not rec.options:
        rec.meets_all, rec.headline = False, "No target can serve this workload: see the exclusions."
        return rec
    rec.meets_all = any(_breaks(o) == 0 for o in rec.options)
    none_fit = budget is not None and not any(o.fits_budget for o in rec.options)
    top = rec.options[0]
    title = targets[top.target].title
    if not rec.meets_all and none_fit and any(_breaks(o, but="budget") == 0 for o in rec.options):
        cheapest = min(rec.options, key=lambda o: o.cost.monthly_usd)
        rec.headline = (f"No option fits the budget of {_money(budget)}/month; the closest is "
                        f"{targets[cheapest.target].title} at {_money(cheapest.cost.monthly_usd)}/month.")
    elif not rec.meets_all:
        broken = ", ".join(v.requirement.replace("_", " ") for v in top.verdicts if v.status == NOT_MET)
        rec.headline = (f"No target meets every requirement: the closest options follow, each with what it breaks; "
                        f"{title} breaks {broken}.")
    else:
        changes = [v.requirement.replace("_", " ") for v in top.verdicts if v.status == CHANGE]
        rec.headline = f"{title} meets every stated requirement" + (
            f", with a change for {', '.join(changes)}." if changes else ".")
    return rec


__all__ = ["review", "review_option", "ASYNC_PATTERN"]
