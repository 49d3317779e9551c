"""Sizing: SKU, instance count and autoscale range per target.

The method, in order:

1. Service time S per request on one worker (one vCPU, or one GPU): measured
   when `profile.model.calibration` is present, otherwise estimated from the
   framework and model size (`estimate_service`). GPU SKUs divide S by a
   per-GPU speed-up for frameworks that use the GPU.
2. Workers per instance: one per vCPU (managed endpoints: WORKER_COUNT =
   max_concurrent_requests_per_instance), limited by memory: each worker holds
   the runtime (~300 MB, measured in serving-anchors.md) plus the model.
3. Servers needed at peak: the smallest c for which an M/M/c queue (Poisson
   arrivals at peak_rps, exponential service with mean S, c workers fed from one
   queue) answers 95% of requests within the p95 target, with utilisation at most
   85%. This is Erlang C, not peak_rps x S: queueing delay grows sharply near
   full utilisation.
4. Instances = ceil(c / workers), raised to the target's HA minimum (managed
   endpoints: 3 when availability_sla >= 99.9, per Learn), checked against the
   target's limits (App Service 30, managed endpoint 50 per deployment...).
5. Autoscale: min from the average rate (and HA), max = peak servers x 1.25
   headroom.
6. Among the SKUs that fit, the cheapest per month wins (ties: fewer
   instances, then catalog order).

Batch endpoints are sized by throughput instead: nodes = ceil(peak rows/s /
(rows/s per node x 80%)).
"""
from __future__ import annotations

import math
from bisect import bisect_right
from typing import TYPE_CHECKING, Any, Callable, Final, Optional, cast

from .catalog import Target, VmSku
from .criteria import Inputs
from .numtext import fmt

if TYPE_CHECKING:  # cost imports this module
    from .cost import CostModel

Q: Final = 0.05  # 1 - 0.95: the p95 tail
RHO_MAX: Final = 0.85  # highest utilisation accepted at peak
HEADROOM: Final = 1.25  # autoscale max above the peak need
EXACT_A: Final = 40.0  # offered load up to which Erlang C is computed exactly (recurrence); Halfin-Whitt above

# Per-request service-time estimate on one vCPU when nothing was measured:
# base + per_mb * size_mb (ms). Anchored on serving-anchors.md: a 100-tree
# scikit-learn forest costs ~3 ms per predict call; linear models ~0.1 ms.
BASE_MS: Final = {"sklearn": 3.0, "xgboost": 1.5, "lightgbm": 1.5, "onnx": 2.0, "pytorch": 15.0,
                  "tensorflow": 15.0, "transformers": 40.0, "custom": 10.0}
PER_MB_MS: Final = {"sklearn": 0.02, "xgboost": 0.01, "lightgbm": 0.01, "onnx": 0.02, "pytorch": 0.05,
                    "tensorflow": 0.05, "transformers": 0.1, "custom": 0.05}
SERVER_OVERHEAD_MS: Final = 0.4  # HTTP + JSON per request in azmlinfsrv (serving-anchors.md: 0.39 ms)
_SERVER_OVERHEAD_TXT: Final = str(SERVER_OVERHEAD_MS)  # (worded once: str() of a float is not cheap)
PAYLOAD_MS_PER_KB: Final = 0.01  # JSON parse of the request body (assumption: ~100 MB/s)
RUNTIME_MB: Final = 300.0  # resident memory of one serving worker before the model (serving-anchors.md: ~290 MB)
MEM_FACTOR: Final = 1.5  # in-memory model size / file size (assumption)
GPU_MEM_FACTOR: Final = 1.2  # GPU memory needed / model file size (weights + activations, assumption)
GPU_FRAMEWORKS: Final = frozenset({"pytorch", "tensorflow", "transformers", "onnx", "custom"})
GPU_SPEEDUP: Final = {"T4": 6.0, "V100": 10.0, "A100": 20.0}  # vs one vCPU (assumption, per request)
# rows per predict call in a batch job cost far less than one request each
# (serving-anchors.md: the forest costs the same for 1 row or 64).
BATCH_GAIN: Final = {"sklearn": 20.0, "xgboost": 20.0, "lightgbm": 20.0, "onnx": 10.0, "pytorch": 4.0,
                     "tensorflow": 4.0, "transformers": 2.0, "custom": 4.0}
BATCH_UTIL: Final = 0.8
MEM_USABLE: Final = 0.8  # share of a VM / plan instance's memory left to the workers (assumption)
ACA_MEM_USABLE: Final = 0.9


class ServiceTime:
    __slots__ = ("cpu_ms", "per_row_ms", "measured", "basis", "cores_note")

    def __init__(self, cpu_ms: float, per_row_ms: float, measured: bool, basis: str, cores_note: str = "") -> None:
        self.cpu_ms = cpu_ms
        self.per_row_ms = per_row_ms
        self.measured = measured
        self.basis = basis
        self.cores_note = cores_note


def estimate_service(framework: str, size_mb: float, payload_kb: float, calibration: Any = None) -> ServiceTime:
    """Mean service time of one request on one worker (one vCPU), in ms."""
    payload = PAYLOAD_MS_PER_KB * payload_kb
    if calibration is not None:
        call = calibration.service_ms_batch1
        if calibration.max_rps_one_core:
            ms = 1000.0 / calibration.max_rps_one_core
            how = f"1000 / max_rps_one_core {fmt(calibration.max_rps_one_core, 'g')}"
        else:
            ms = call + SERVER_OVERHEAD_MS + payload
            how = (f"predict {fmt(call, 'g')} ms + server {_SERVER_OVERHEAD_TXT} ms "
                   f"+ payload {fmt(payload, '.2f')} ms")
        per_row = calibration.per_row_ms if calibration.per_row_ms > 0 else ms / BATCH_GAIN.get(framework, 4.0)
        cpu = f" of {calibration.cpu}" if calibration.cpu else ""
        when = f", measured {calibration.measured_at}" if calibration.measured_at else ""
        basis = (f"measured: {fmt(ms, '.2f')} ms per request per worker ({how}) on {calibration.cores} "
                 f"core(s){cpu}{when}; scaled to each SKU as one worker per vCPU, assuming a cloud vCPU is as fast as "
                 "the benchmark core")
        return ServiceTime(ms, per_row, True, basis)
    base = BASE_MS.get(framework, 10.0)
    per_mb = PER_MB_MS.get(framework, 0.05)
    ms = base + per_mb * size_mb + SERVER_OVERHEAD_MS + payload
    basis = (f"estimated: {fmt(ms, '.2f')} ms per request per vCPU = {fmt(base, 'g')} ms ({framework}) + "
             f"{fmt(per_mb, 'g')} ms/MB x {fmt(size_mb, 'g')} MB + {_SERVER_OVERHEAD_TXT} ms server + "
             f"{fmt(payload, '.2f')} ms payload; run `deploy-advisor benchmark --model URI` to measure it")
    return ServiceTime(ms, ms / BATCH_GAIN.get(framework, 4.0), False, basis)


# ---------------------------------------------------------------- queueing (M/M/c)

def _hypo_tail(theta: float, mu: float, t: float) -> float:
    """P(W + S > t) for independent W ~ Exp(theta), S ~ Exp(mu)."""
    if abs(theta - mu) <= 1e-9 * mu:
        return (1.0 + mu * t) * math.exp(-mu * t)
    return (mu * math.exp(-theta * t) - theta * math.exp(-mu * t)) / (mu - theta)


_SQRT2: Final = math.sqrt(2.0)
_SQRT2PI: Final = math.sqrt(2.0 * math.pi)


def erlang_c_hw(c: int, a: float) -> float:
    """Halfin-Whitt approximation of Erlang C for large offered loads:
    P(wait) ~ 1 / (1 + beta * Phi(beta) / phi(beta)), beta = (c - a) / sqrt(a)."""
    beta = (c - a) / math.sqrt(a)
    if beta <= 0:
        return 1.0
    if beta > 37.0:
        return 0.0
    phi = math.exp(-0.5 * beta * beta) / _SQRT2PI
    big_phi = 0.5 * (1.0 + math.erf(beta / _SQRT2))
    return 1.0 / (1.0 + beta * big_phi / phi)


def erlang_c(c: int, a: float) -> float:
    """Probability that an arrival waits in M/M/c with offered load a = lambda/mu (a < c).

    Exact (Erlang B recurrence, O(c)) up to a = EXACT_A; Halfin-Whitt above.
    """
    if a <= 0:
        return 0.0
    if a >= c:
        return 1.0
    if a > EXACT_A:
        return erlang_c_hw(c, a)
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    rho = a / c
    return b / (1.0 - rho * (1.0 - b))


def response_tail(c: int, lam: float, s_ms: float, t_ms: float) -> float:
    """P(response time > t_ms) in M/M/c: wait (Erlang C) plus own service."""
    mu = 1000.0 / s_ms
    a = lam / mu
    if a >= c:
        return 1.0
    t = t_ms / 1000.0
    pw = erlang_c(c, a)
    return (1.0 - pw) * math.exp(-mu * t) + pw * _hypo_tail(c * mu - lam, mu, t)


def min_servers(lam: float, s_ms: float, target_ms: float, q: float = Q, rho_max: float = RHO_MAX) -> tuple[int, bool]:
    """Smallest c with P(response > target) <= q and utilisation <= rho_max.

    Returns (c, met). When the target cannot be met at any c (the service time
    alone breaks it: P(S > target) = exp(-target/S) > q), returns the c that
    keeps utilisation at rho_max and met=False.
    """
    mu = 1000.0 / s_ms
    a = lam / mu
    c_util = max(1, math.ceil(a / rho_max - 1e-9))
    t = target_ms / 1000.0
    floor_tail = math.exp(-mu * t)
    if floor_tail > q:
        return c_util, False
    if a <= 0.0:
        return 1, True
    if a > EXACT_A:
        # Halfin-Whitt: P(wait) in O(1); the tail falls with c, so search up from c_util
        def ok(c: int) -> bool:
            pw = erlang_c_hw(c, a)
            return (1.0 - pw) * floor_tail + pw * _hypo_tail(c * mu - lam, mu, t) <= q
        if ok(c_util):
            return c_util, True
        lo, step = c_util, max(1, int(math.sqrt(a)))
        hi = lo + step
        while not ok(hi):
            lo, hi = hi, hi + step
            step *= 2
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if ok(mid):
                hi = mid
            else:
                lo = mid
        return hi, True
    b = 1.0
    k = 0
    while True:
        k += 1
        b = a * b / (k + a * b)
        if k < c_util:
            continue
        rho = a / k
        pw = b / (1.0 - rho * (1.0 - b))
        theta = k * mu - lam
        if (1.0 - pw) * floor_tail + pw * _hypo_tail(theta, mu, t) <= q:
            return k, True


def p95_ms(c: int, lam: float, s_ms: float, q: float = Q) -> float:
    """The q-quantile (p95) of response time in M/M/c, in ms (inf when unstable).

    Solves P(response > t) = q by safeguarded Newton steps on
    f(t) = (1 - C) e^(-mu t) + C P(W + S > t) - q (C = Erlang C), with the
    density as derivative. Written out in one loop (the same arithmetic as
    `response_tail` / `_hypo_tail`): it runs for every option of every
    recommendation."""
    mu = 1000.0 / s_ms
    a = lam / mu
    if a >= c:
        return math.inf
    pw = erlang_c(c, a)
    if pw < 1e-9:  # queueing is negligible: p95 of the exponential service alone
        return math.log(1.0 / q) / mu * 1000.0
    theta = c * mu - lam
    same = abs(theta - mu) <= 1e-9 * mu  # W + S is Gamma(2, mu) rather than hypoexponential
    npw = 1.0 - pw
    mdiff = mu - theta
    dcoef = theta * mu / mdiff if not same else 0.0
    lo, hi = 0.0, math.log(1.0 / q) / mu
    while True:  # bracket: f(hi) <= 0
        e_mu = math.exp(-mu * hi)
        h = (1.0 + mu * hi) * e_mu if same else (mu * math.exp(-theta * hi) - theta * e_mu) / mdiff
        if not npw * e_mu + pw * h - q > 0.0:
            break
        lo, hi = hi, hi * 2.0
    t = hi
    for _ in range(60):
        e_mu = math.exp(-mu * t)
        if same:
            ft = npw * e_mu + pw * ((1.0 + mu * t) * e_mu) - q
            d = npw * mu * e_mu + pw * (mu * mu * t * e_mu)
        else:
            e_th = math.exp(-theta * t)
            ft = npw * e_mu + pw * ((mu * e_th - theta * e_mu) / mdiff) - q
            d = npw * mu * e_mu + pw * (dcoef * (e_th - e_mu))
        if ft > 0:
            lo = t
        else:
            hi = t
        nt = t + ft / d if d > 0 else (lo + hi) / 2
        if not (lo < nt < hi):
            nt = (lo + hi) / 2
        if abs(nt - t) <= 1e-7 * max(t, 1e-6):
            t = nt
            break
        t = nt
    return t * 1000.0


# ---------------------------------------------------------------- plans


class Plan:
    """One SKU's sizing for one target (internal; engine turns it into models.Sizing)."""

    __slots__ = ("target", "sku", "vcpu", "mem_gib", "gpus", "gpu_model", "workers", "service_ms", "c_peak", "c_base",
                 "n_peak", "n_min", "n_max", "latency_met", "autoscale", "tier", "hourly", "price_region",
                 "quota_cores", "quota_cores_max", "monthly", "over_limit", "batch", "rows_month",
                 "gpu_used", "limit", "n_base", "cands")

    target: str
    sku: str
    vcpu: float
    mem_gib: float
    gpus: int
    gpu_model: str
    workers: int
    service_ms: float
    c_peak: int
    c_base: int
    n_peak: int
    n_min: int
    n_max: int
    latency_met: bool
    autoscale: bool
    hourly: float
    price_region: str

    def __init__(self) -> None:
        self.over_limit = False
        self.batch = False
        self.rows_month = 0.0
        self.quota_cores: Optional[int] = None
        self.quota_cores_max: Optional[int] = None
        self.gpu_used = False
        self.tier = ""
        self.monthly = 0.0
        self.limit = 0
        self.n_base = 0
        self.cands: Any = None  # the CandSet it was chosen from (fast path only)

    def same_facts(self, o: "Plan") -> bool:
        """Equal to `o` in every field but service_ms and cands: the criteria (without explanations) and the
        cost give both the same results (sensitivity probes use it to keep a target's results)."""
        return (self.n_peak == o.n_peak and self.sku == o.sku and self.monthly == o.monthly and self.n_min == o.n_min
                and self.n_max == o.n_max and self.n_base == o.n_base and self.c_peak == o.c_peak
                and self.c_base == o.c_base and self.latency_met == o.latency_met and self.workers == o.workers
                and self.target == o.target and self.vcpu == o.vcpu and self.mem_gib == o.mem_gib
                and self.gpus == o.gpus and self.gpu_model == o.gpu_model and self.gpu_used == o.gpu_used
                and self.autoscale == o.autoscale and self.tier == o.tier and self.hourly == o.hourly
                and self.price_region == o.price_region and self.quota_cores == o.quota_cores
                and self.quota_cores_max == o.quota_cores_max and self.over_limit == o.over_limit
                and self.batch == o.batch and self.rows_month == o.rows_month and self.limit == o.limit)


def _ha_min(tid: str, sla: float, stz: bool, target: Target) -> int:
    if tid == "azureml":
        return target.ha_min if sla >= 99.9 else 1
    if tid == "aks":
        return 3 if sla >= 99.95 else (2 if sla >= 99.9 else 1)
    if tid == "appservice":
        return target.zone_min if sla >= 99.95 else (target.ha_min if sla >= 99.9 else 1)
    if tid == "containerapps":
        if stz:
            return 0
        return target.ha_min if sla >= 99.9 else 1
    return 0  # batch


class Cand:
    """A SKU that fits the model, with its workers, service time and price (internal)."""

    __slots__ = ("sku", "gpu_used", "workers", "s_ms", "per_row", "hourly", "region", "limit", "autoscale", "tier")

    def __init__(self, sku: VmSku, gpu_used: bool, workers: int, s_ms: float, per_row: float, hourly: float,
                 region: str, limit: int, autoscale: bool, tier: str) -> None:
        self.sku, self.gpu_used, self.workers, self.s_ms, self.per_row = sku, gpu_used, workers, s_ms, per_row
        self.hourly, self.region, self.limit, self.autoscale, self.tier = hourly, region, limit, autoscale, tier


def candidate_skus(P: Inputs, target: Target) -> list[tuple[VmSku, bool]]:
    """SKUs to try, each with whether the GPU is used. GPU 'required' keeps GPU SKUs only."""
    out = []
    tid = target.id
    if tid == "appservice":
        tiers = target.catalog.appservice_tiers
        need_slots = P.rollout != "simple"
        for s in target.skus:
            if need_slots and not tiers[s.tier].slots:
                continue  # blue-green / canary / shadow need deployment slots
            if P.sla >= 99.95 and s.tier != "PremiumV3":
                continue  # zone redundancy needs Premium v2/v3
            out.append((s, False))
        return out
    if tid == "containerapps":
        return [(s, False) for s in target.skus]
    accel = P.framework in GPU_FRAMEWORKS
    for s in target.skus:
        if P.gpu == "required" and not s.is_gpu:
            continue
        out.append((s, s.is_gpu and accel))
    return out


def priced_skus(P: Inputs, target: Target, price: Callable[[VmSku], Optional[tuple[float, str]]]) -> tuple[tuple, tuple]:
    """The target's SKUs for this profile with their price, limits and GPU use - the part that does
    not depend on the model's size (the engine keeps it across recommendations).

    Returns (rows, reasons): rows of (sku, gpu_used, hourly, price_region, limit, autoscale, tier)."""
    tid = target.id
    tiers = target.catalog.appservice_tiers if tid == "appservice" else None
    rows = []
    reasons = []
    for sku, gpu_used in candidate_skus(P, target):
        pr = price(sku)
        if pr is None:
            reasons.append(f"{sku.name}: no price in the snapshot")
            continue
        if tiers is not None:
            t = tiers[sku.tier]
            rows.append((sku, gpu_used, pr[0], pr[1], t.max_instances, t.autoscale, sku.tier))
        else:
            rows.append((sku, gpu_used, pr[0], pr[1], target.max_instances, True, ""))
    return tuple(rows), tuple(reasons)


def build_candidates(P: Inputs, target: Target, st: ServiceTime, priced: tuple[tuple, tuple]) -> tuple[list[Cand], list[str]]:
    """SKUs that can hold the model, with workers and service time; SKUs dominated by a cheaper one
    with at least as many workers (same service time, limits and autoscale) are dropped - they can
    never be chosen."""
    tid = target.id
    usable = target.v("node_allocatable", None) if tid == "aks" else None
    usable = float(usable) if usable else (ACA_MEM_USABLE if tid == "containerapps" else MEM_USABLE)
    worker_gib = (RUNTIME_MB + MEM_FACTOR * P.size_mb) / 1024.0
    rows, why = priced
    reasons: list[str] = list(why)
    out: list[Cand] = []
    for sku, gpu_used, hourly, region, limit, autoscale, tier in rows:
        if gpu_used:
            need = P.size_mb * GPU_MEM_FACTOR / 1024.0
            if need > sku.gpu_mem_gib:
                reasons.append(f"{sku.name}: the model needs ~{fmt(need, '.1f')} GiB of GPU memory, the "
                               f"{sku.gpu_model} has {fmt(sku.gpu_mem_gib, 'g')} GiB")
                continue
            workers = sku.gpus
            speedup = GPU_SPEEDUP.get(sku.gpu_model, 5.0)
            s_ms, per_row = st.cpu_ms / speedup, st.per_row_ms / speedup
            if workers * worker_gib > sku.mem_gib * usable:
                reasons.append(f"{sku.name}: not enough host memory for the model")
                continue
        else:
            workers = min(int(sku.vcpu), int(sku.mem_gib * usable / worker_gib))
            s_ms, per_row = st.cpu_ms, st.per_row_ms
            if workers < 1:
                reasons.append(f"{sku.name}: one worker needs ~{fmt(worker_gib, '.2f')} GiB; "
                               f"{fmt(sku.mem_gib, 'g')} GiB x {fmt(usable, 'g')} is usable")
                continue
        c = Cand(sku, gpu_used, workers, s_ms, per_row, hourly, region, limit, autoscale, tier)
        if tid in ("azureml", "aks", "appservice"):
            if any(k.s_ms == s_ms and k.hourly <= hourly and k.workers >= workers and k.limit >= limit
                   and k.autoscale >= autoscale for k in out):
                continue
        out.append(c)
    return out, reasons


def choose(P: Inputs, target: Target, cands: list[Cand], cm: CostModel, cache: dict,
           skipped: Optional[list] = None) -> Optional[Plan]:
    """The cheapest candidate for this load (ties: fewer instances, then catalog order).

    `cm` is a cost.CostModel; `plan.monthly` is the SKU-dependent monthly cost
    (the AKS system pool and tier fee are added by the caller: cm.fixed_monthly)."""
    tid = target.id
    ha = _ha_min(tid, P.sla, P.stz, target)
    peak = P.peak
    avg = P.avg if P.avg < peak else peak
    p95 = P.p95
    best: Any = None
    best_cost = 0.0
    best_n = 0
    if tid == "azureml-batch":
        rows = avg * 730 * 3600.0
        for c in cands:
            node_rps = c.workers * 1000.0 / c.per_row
            nodes = max(1, math.ceil(peak / (node_rps * BATCH_UTIL) - 1e-9)) if peak > 0 else 1
            cost = cm.batch_monthly(rows, c.per_row, c.workers, nodes, c.hourly)
            if best is None or cost < best_cost - 1e-6 or (cost <= best_cost + 1e-6 and nodes < best_n):
                best, best_cost, best_n = (c, c.per_row, nodes), cost, nodes
        return None if best is None else _make_plan(P, target, best, best_cost)
    aca = tid == "containerapps"
    limited = tid in ("appservice", "aks")
    steady = P.pattern == "steady"
    ph = cm.peak_hours(P.pattern)
    oh = 730.0 - ph
    for c in cands:
        w = c.workers
        key = (c.s_ms, peak, avg, p95)
        hit = cache.get(key)
        if hit is None:
            hit = (min_servers(peak, c.s_ms, p95), min_servers(avg, c.s_ms, p95) if avg > 0 else (0, True))
            cache[key] = hit
        (c_peak, met), (c_base, _m) = hit
        if peak <= 0:
            c_peak = 0
        need = -(-c_peak // w)
        n_peak = need if need > ha else ha
        if n_peak < 1:
            n_peak = 1
        if limited and n_peak > c.limit:
            if skipped is not None:
                skipped.append((c, n_peak))
            continue
        nb = -(-c_base // w)
        n_min = nb if nb > ha else ha
        if n_min < 1:
            n_min = 1
        if n_min > n_peak:
            n_min = n_peak
        if aca:
            n_base = n_min
            if P.stz:
                n_min = 0
                n_base = nb if nb > 1 else 1
                if n_base > n_peak:
                    n_base = n_peak
            cost = cm.aca_monthly(P, c.sku, n_peak, n_base, n_min)
        else:
            n_base = n_min
            if not c.autoscale:
                n_min = n_base = n_peak
            if steady or not c.autoscale or n_base >= n_peak:
                cost = n_peak * 730.0 * c.hourly
            else:
                cost = (n_peak * ph + n_base * oh) * c.hourly
        if best is None or cost < best_cost - 1e-6 or (cost <= best_cost + 1e-6 and n_peak < best_n):
            best, best_cost, best_n = (c, c_peak, met, c_base, n_peak, n_min, n_base), cost, n_peak
    return None if best is None else _make_plan(P, target, best, best_cost)


def _set_quota(plan: Plan, tid: str, sku: VmSku) -> None:
    """Cores of quota at peak and at the autoscale max: a managed endpoint needs ceil(1.2 x instances)
    x cores free [AD] (unless the SKU is exempt from the reserve); an AKS pool needs instances x cores."""
    if tid != "azureml" and tid != "aks":
        return
    cores = int(math.ceil(sku.vcpu))
    if tid == "aks" or sku.quota_exempt:
        plan.quota_cores, plan.quota_cores_max = plan.n_peak * cores, plan.n_max * cores
    else:
        plan.quota_cores = math.ceil(1.2 * plan.n_peak - 1e-9) * cores
        plan.quota_cores_max = math.ceil(1.2 * plan.n_max - 1e-9) * cores


def _make_plan(P: Inputs, target: Target, sel: tuple, cost: float) -> Plan:
    tid = target.id
    c = sel[0]
    sku = c.sku
    plan = Plan()
    plan.target, plan.sku, plan.vcpu, plan.mem_gib = tid, sku.name, sku.vcpu, sku.mem_gib
    plan.gpus, plan.gpu_model, plan.gpu_used, plan.workers = sku.gpus, sku.gpu_model, c.gpu_used, c.workers
    plan.hourly, plan.price_region, plan.limit, plan.autoscale, plan.tier = c.hourly, c.region, c.limit, c.autoscale, c.tier
    cores = int(math.ceil(sku.vcpu))
    if tid == "azureml-batch":
        _c, per_row, nodes = sel
        plan.batch = True
        plan.service_ms = per_row
        plan.c_peak, plan.c_base = nodes * c.workers, 0
        plan.n_peak, plan.n_min, plan.n_max, plan.n_base = nodes, 0, nodes, 0
        plan.latency_met = True
        plan.rows_month = (P.avg if P.avg < P.peak else P.peak) * 730 * 3600.0
        plan.over_limit = nodes > c.limit
        plan.quota_cores = plan.quota_cores_max = nodes * cores
        plan.monthly = cost
        return plan
    _c, c_peak, met, c_base, n_peak, n_min, n_base = sel
    plan.service_ms = c.s_ms
    n_max = max(n_peak, math.ceil(c_peak * HEADROOM / c.workers - 1e-9))
    if not c.autoscale:
        n_max = n_peak
    plan.over_limit = n_peak > c.limit
    if not plan.over_limit:
        n_max = min(n_max, c.limit)
    plan.c_peak, plan.c_base, plan.latency_met = c_peak, c_base, met
    plan.n_peak, plan.n_min, plan.n_max, plan.n_base = n_peak, n_min, n_max, n_base
    _set_quota(plan, tid, sku)
    plan.monthly = cost
    return plan


def size_for(target: str, profile: Any, prices: Any = None) -> Any:
    """models.Sizing for one target and a WorkloadProfile, even a target the advisor would exclude.

    Raises ValueError for an unknown target or when no SKU fits (see engine.size_for)."""
    from .engine import size_for as _size_for

    return _size_for(target, profile, prices)


def size_target(P: Inputs, target: Target, st: ServiceTime, cm: CostModel, cache: dict,
                cands: Optional[tuple[list[Cand], list[str]]] = None) -> tuple[Optional[Plan], str]:
    """Choose the cheapest SKU that fits. Returns (plan, "") or (None, reason).

    GPU 'preferred' tries the GPU SKUs first and falls back to CPU when no GPU SKU fits."""
    if cands is None:
        cands = build_candidates(P, target, st, priced_skus(P, target, lambda sku: cm.price(target, sku)))
    cl, reasons = cands
    if P.gpu == "preferred" and any(c.gpu_used for c in cl):
        best = choose(P, target, [c for c in cl if c.sku.is_gpu], cm, cache)
        if best is not None:
            return best, ""
        cl = [c for c in cl if not c.sku.is_gpu]
    skipped: list = []
    best = choose(P, target, cl, cm, cache, skipped)
    if best is None:
        why = []
        if skipped:  # report the SKU that came closest
            c, n = min(skipped, key=lambda x: x[1] / x[0].limit)
            src = target.cite_short("max_instances")
            why.append(f"even {c.sku.name} needs {n} instances at peak; the limit is {c.limit} ({src})")
        why += reasons[-1:]  # the largest SKU's reason (catalog order is smallest first)
        return None, "; ".join(why) if why else "no SKU of this target applies"
    return best, ""


# ---------------------------------------------------------------- fast path (used by the engine)
#
# The functions above are the reference: written for reading, and used as-is when a workload fits no
# SKU (to word the reason). The engine sizes through the classes below, which give exactly the same
# plans (tests/advisor/test_fast_paths.py compares them field by field on generated profiles) with
# less work per call:
#
# - the candidate list of a target depends on the model size only through each SKU's worker count
#   (and whether a GPU SKU holds the model); those are step functions of size_mb, so a CandTable keeps
#   one CandSet per distinct step pattern together with the range of sizes known to give it;
# - `choose` for an instance-priced target (managed endpoint, AKS, App Service) depends on the load only
#   through the integer server counts at peak and average, so with one service time its outcome is
#   memoized per CandSet on those integers (bounded; the counts are small integers that many different
#   profiles share); with several (GPU SKUs) a row whose cost lower bound cannot beat the best so far is
#   skipped without running the queueing model for it;
# - sensitivity probes never explain a plan, so they may share one Plan object between all profiles
#   with the same server counts (size_fast(shared=True); its service_ms is NaN).


class CandSet:
    """The candidate SKUs of one target for one step pattern of worker counts (internal).

    rows: (sku, gpu_used, workers, speedup or 0.0 for CPU, hourly, price_region, limit, autoscale, tier),
    in catalog order, dominated rows removed exactly as `build_candidates` does."""

    __slots__ = ("rows", "gpu_rows", "cpu_rows", "any_gpu_used", "memo", "groups", "lb_groups", "plans",
                 "memo_hits", "memo_misses", "plan_hits", "plan_misses")

    def __init__(self, rows: tuple) -> None:
        self.rows = rows
        self.gpu_rows = tuple(r for r in rows if r[0].gpus > 0)
        self.cpu_rows = tuple(r for r in rows if not r[0].gpus > 0)
        self.any_gpu_used = any(r[1] for r in rows)
        self.memo: dict = {}
        #: shared plans for sensitivity probes (size_fast(shared=True)), by the same key as `memo` plus `met`
        self.plans: dict = {}
        self.memo_hits = self.memo_misses = self.plan_hits = self.plan_misses = 0
        #: distinct service-time groups (0.0 = CPU, else the GPU speed-up) of rows, gpu_rows, cpu_rows
        self.groups = tuple(tuple(dict.fromkeys(r[3] for r in rs)) for rs in (rows, self.gpu_rows, self.cpu_rows))
        #: per service-time group: (speed-up or 0.0, min hourly / workers, min hourly), for cost lower bounds
        lb: dict = {}
        for r in rows:
            a, b = lb.get(r[3], (math.inf, math.inf))
            lb[r[3]] = (min(a, r[4] / r[2]), min(b, r[4]))
        self.lb_groups = tuple((k, a, b) for k, (a, b) in lb.items())


class CandTable:
    """All CandSets of one priced SKU list (one target, region, GPU requirement...), by model size.

    The worker count of each SKU is non-increasing in size_mb (and so is whether a GPU SKU holds the
    model), so a step pattern seen at sizes s1 < s2 holds for every size in [s1, s2]: the table keeps,
    per pattern, the interval of sizes seen with it and answers sizes inside an interval without
    recomputing. Exact: a size outside every interval is computed, then widens its pattern's interval."""

    __slots__ = ("tid", "rows", "usable", "dominance", "los", "his", "sets", "by_sig", "hits", "misses")

    def __init__(self, target: Target, priced: tuple[tuple, tuple]) -> None:
        tid = target.id
        self.tid = tid
        usable = target.v("node_allocatable", None) if tid == "aks" else None
        self.usable = float(usable) if usable else (ACA_MEM_USABLE if tid == "containerapps" else MEM_USABLE)
        rows = []
        for sku, gpu_used, hourly, region, limit, autoscale, tier in priced[0]:
            speed = GPU_SPEEDUP.get(sku.gpu_model, 5.0) if gpu_used else 0.0
            rows.append((sku, gpu_used, hourly, region, limit, autoscale, tier, speed, sku.mem_gib * self.usable,
                         int(sku.vcpu), sku.gpus, sku.gpu_mem_gib))
        self.rows = tuple(rows)
        self.dominance = tid in ("azureml", "aks", "appservice")
        self.los: list[float] = []
        self.his: list[float] = []
        self.sets: list[CandSet] = []
        self.by_sig: dict[tuple, int] = {}
        self.hits = self.misses = 0

    def signature(self, size_mb: float) -> tuple:
        worker_gib = (RUNTIME_MB + MEM_FACTOR * size_mb) / 1024.0
        need = size_mb * GPU_MEM_FACTOR / 1024.0
        sig = []
        for r in self.rows:
            if r[1]:
                sig.append(0 if (need > r[11] or r[10] * worker_gib > r[8]) else r[10])
            else:
                w = int(r[8] / worker_gib)
                sig.append(r[9] if r[9] < w else w)
        return tuple(sig)

    def get(self, size_mb: float) -> CandSet:
        los = self.los
        i = bisect_right(los, size_mb) - 1
        if i >= 0 and size_mb <= self.his[i]:
            self.hits += 1
            return self.sets[i]
        self.misses += 1
        sig = self.signature(size_mb)
        j = self.by_sig.get(sig)
        if j is not None:  # widen the pattern's interval (no other pattern can lie in between: monotone)
            if size_mb < los[j]:
                los[j] = size_mb
            if size_mb > self.his[j]:
                self.his[j] = size_mb
            return self.sets[j]
        cs = self._build(sig)
        k = bisect_right(los, size_mb)
        los.insert(k, size_mb)
        self.his.insert(k, size_mb)
        self.sets.insert(k, cs)
        self.by_sig = {s: (n if n < k else n + 1) for s, n in self.by_sig.items()}
        self.by_sig[sig] = k
        return cs

    def _build(self, sig: tuple) -> CandSet:
        out: list[tuple] = []
        for r, w in zip(self.rows, sig):
            if w < 1:
                continue
            sku, gpu_used, hourly, region, limit, autoscale, tier, speed = r[:8]
            if self.dominance and any(k[3] == speed and k[4] <= hourly and k[2] >= w and k[6] >= limit
                                      and k[7] >= autoscale for k in out):
                continue
            out.append((sku, gpu_used, w, speed, hourly, region, limit, autoscale, tier))
        return CandSet(tuple(out))


#: largest number of memoized `choose` outcomes kept per CandSet
CHOOSE_MEMO_MAX: Final = 4096


def servers(cache: dict, lam: float, s_ms: float, p95: float) -> tuple[int, bool]:
    """min_servers, memoized in `cache` (the engine keeps one per recommendation)."""
    key = (lam, s_ms, p95)
    hit = cache.get(key)
    if hit is None:
        hit = cache[key] = min_servers(lam, s_ms, p95)
    return hit


def choose_fast(P: Inputs, target: Target, cs: CandSet, subset: int, rows: tuple, st: ServiceTime, cm: CostModel,
                qcache: dict, ha: int, shared: bool = False) -> Optional[Plan]:
    """`choose` on a CandSet's rows: the same plan, the same arithmetic."""
    tid = target.id
    peak = P.peak
    avg = P.avg if P.avg < peak else peak
    r: tuple  # a candidate row (typed: native indexing when compiled)
    if tid == "azureml-batch":
        best: Any = None
        best_cost = 0.0
        best_n = 0
        rows_m = avg * 730 * 3600.0
        cpu_row = st.per_row_ms
        jobs, startup_h = cm.jobs, cm.startup_h
        for r in rows:
            speedup, w, hourly = cast(float, r[3]), cast(int, r[2]), cast(float, r[4])
            per_row = cpu_row / speedup if r[1] else cpu_row
            node_rps = w * 1000.0 / per_row
            nodes = max(1, math.ceil(peak / (node_rps * BATCH_UTIL) - 1e-9)) if peak > 0 else 1
            # cm.batch_monthly(rows_m, per_row, w, nodes, hourly), written out (same arithmetic)
            cost = (rows_m * per_row / 1000.0 / 3600.0 / (w * BATCH_UTIL) + jobs * nodes * startup_h) * hourly
            if best is None or cost < best_cost - 1e-6 or (cost <= best_cost + 1e-6 and nodes < best_n):
                best, best_cost, best_n = (r, per_row, nodes), cost, nodes
        if best is None:
            return None
        r, per_row, nodes = best
        return _make_plan(P, target, (Cand(r[0], r[1], r[2], per_row, per_row, r[4], r[5], r[6], r[7], r[8]), per_row,
                                      nodes), best_cost)
    p95 = P.p95
    cpu_ms = st.cpu_ms
    if tid == "containerapps":
        counts = {}
        for r in rows:
            sp = r[3]
            if sp not in counts:
                s_ms = cpu_ms / sp if r[1] else cpu_ms
                cp = servers(qcache, peak, s_ms, p95)
                cb = servers(qcache, avg, s_ms, p95) if avg > 0 else (0, True)
                counts[sp] = (s_ms, 0 if peak <= 0 else cp[0], cp[1], cb[0])
        best = None
        best_cost = 0.0
        best_n = 0
        stz = P.stz
        for r in rows:
            cnt = counts[r[3]]
            c_peak, c_base, w = cast(int, cnt[1]), cast(int, cnt[3]), cast(int, r[2])
            need = -(-c_peak // w)
            n_peak = need if need > ha else ha
            if n_peak < 1:
                n_peak = 1
            nb = -(-c_base // w)
            n_min = nb if nb > ha else ha
            if n_min < 1:
                n_min = 1
            if n_min > n_peak:
                n_min = n_peak
            n_base = n_min
            if stz:
                n_min = 0
                n_base = nb if nb > 1 else 1
                if n_base > n_peak:
                    n_base = n_peak
            cost = cm.aca_monthly(P, r[0], n_peak, n_base, n_min)
            if best is None or cost < best_cost - 1e-6 or (cost <= best_cost + 1e-6 and n_peak < best_n):
                best, best_cost, best_n = (r, n_peak, n_min, n_base), cost, n_peak
        if best is None:
            return None
        r, n_peak, n_min, n_base = best
        s_ms, c_peak, met, c_base = counts[r[3]]
    else:
        pattern = P.pattern
        ph = cm.peak_hours(pattern)
        limited = tid == "appservice" or tid == "aks"
        if len(cs.groups[subset]) == 1:
            r0 = rows[0] if rows else None
            if r0 is None:
                return None
            s_ms = cpu_ms / cast(float, r0[3]) if r0[1] else cpu_ms
            cp = servers(qcache, peak, s_ms, p95)
            cb = servers(qcache, avg, s_ms, p95) if avg > 0 else (0, True)
            count = (s_ms, 0 if peak <= 0 else cp[0], cp[1], cb[0])
            key = (subset, ha, pattern, count[1], count[3])
            if shared:
                plan = cs.plans.get(key + (count[2],))
                if plan is not None:
                    cs.plan_hits += 1
                    return plan
                cs.plan_misses += 1
            memo = cs.memo
            hit = memo.get(key)
            if hit is None:
                cs.memo_misses += 1
                hit = _choose_fixed(rows, {r0[3]: count}, ha, limited, pattern == "steady", ph)
                if len(memo) >= CHOOSE_MEMO_MAX:
                    memo.clear()
                memo[key] = hit
            else:
                cs.memo_hits += 1
            counts = {r0[3]: count}
        else:
            counts = {}
            hit = _choose_fixed(rows, counts, ha, limited, pattern == "steady", ph,
                                (qcache, cpu_ms, peak, avg, p95))
        if hit is None:
            return None
        sel: tuple = hit  # indexed, not unpacked: an unpack of an untyped value iterates it generically
        r = sel[0]
        n_peak, n_min, n_base, best_cost = cast(int, sel[1]), cast(int, sel[2]), cast(int, sel[3]), cast(float, sel[4])
        group: tuple = counts[r[3]]
        s_ms, c_peak, met, c_base = cast(float, group[0]), cast(int, group[1]), cast(bool, group[2]), cast(int, group[3])
        if shared and len(counts) == 1 and len(cs.groups[subset]) == 1:
            # one plan object for every profile with these server counts: its service time is not theirs
            plan = _plan_from_row(P, target, r, math.nan, c_peak, met, c_base, n_peak, n_min, n_base, best_cost)
            if len(cs.plans) >= CHOOSE_MEMO_MAX:
                cs.plans.clear()
            cs.plans[key + (met,)] = plan
            return plan
    return _plan_from_row(P, target, r, s_ms, c_peak, met, c_base, n_peak, n_min, n_base, best_cost)


def _plan_from_row(P: Inputs, target: Target, r: tuple, s_ms: float, c_peak: int, met: bool, c_base: int, n_peak: int,
                   n_min: int, n_base: int, cost: float) -> Plan:
    """`_make_plan` for an instance-priced or Container Apps selection (same fields, same arithmetic)."""
    tid = target.id
    sku: VmSku = r[0]  # typed: native attribute reads and comparisons when compiled
    workers = cast(int, r[2])
    limit = cast(int, r[6])
    autoscale = cast(bool, r[7])
    plan = Plan()
    plan.target, plan.sku, plan.vcpu, plan.mem_gib = tid, sku.name, sku.vcpu, sku.mem_gib
    plan.gpus, plan.gpu_model, plan.gpu_used, plan.workers = sku.gpus, sku.gpu_model, r[1], workers
    plan.hourly, plan.price_region, plan.limit, plan.autoscale, plan.tier = r[4], r[5], limit, autoscale, r[8]
    plan.service_ms = s_ms
    n_max = max(n_peak, math.ceil(c_peak * HEADROOM / workers - 1e-9))
    if not autoscale:
        n_max = n_peak
    plan.over_limit = over = n_peak > limit
    if not over:
        n_max = min(n_max, limit)
    plan.c_peak, plan.c_base, plan.latency_met = c_peak, c_base, met
    plan.n_peak, plan.n_min, plan.n_max, plan.n_base = n_peak, n_min, n_max, n_base
    _set_quota(plan, tid, sku)
    plan.monthly = cost
    return plan


def _choose_fixed(rows: tuple, counts: dict, ha: int, limited: bool, steady: bool, ph: float,
                  lazy: Any = None) -> Optional[tuple]:
    """The selection of `choose` for instance-priced targets, from the server counts alone.

    With `lazy` = (queue cache, cpu_ms, peak, avg, p95), `counts` starts empty and a service time's
    counts are computed (min_servers) only for a row that could still win: a row whose lower bound
    (the utilisation cap alone gives ceil(load / 85% / workers) instances at peak, the availability
    minimum off-peak) is more than the tolerance above the best cost so far can replace nothing, so it
    is skipped - typically the GPU SKUs of a light CPU model. Same selection as evaluating every row."""
    oh = 730.0 - ph
    best: Any = None
    best_cost = 0.0
    best_n = 0
    h1 = ha if ha > 1 else 1
    cpu_ms: float  # typed (lazy is an untyped tuple): native arithmetic when compiled
    peak: float
    avg: float
    p95: float
    s_ms: float
    r: tuple  # typed: native indexing when compiled
    cnt: tuple
    qcache: dict
    if lazy is not None:  # (without it, `counts` has every group's counts and these are never read)
        qcache, cpu_ms, peak, avg, p95 = lazy
    for r in rows:
        got = counts.get(r[3])
        w = cast(int, r[2])
        hourly = cast(float, r[4])
        if got is not None:
            cnt = got
        else:
            s_ms = cpu_ms / cast(float, r[3]) if r[1] else cpu_ms
            if best is not None:
                mu = 1000.0 / s_ms
                cu = max(1, math.ceil(peak / mu / RHO_MAX - 1e-9))
                n = -(-cu // w)
                if n < h1:
                    n = h1
                if (n * ph + h1 * oh) * hourly * (1.0 - 1e-9) > best_cost + 1e-6:
                    continue
            cp = servers(qcache, peak, s_ms, p95)
            cb = servers(qcache, avg, s_ms, p95) if avg > 0 else (0, True)
            cnt = counts[r[3]] = (s_ms, 0 if peak <= 0 else cp[0], cp[1], cb[0])
        c_peak, c_base = cast(int, cnt[1]), cast(int, cnt[3])
        need = -(-c_peak // w)
        n_peak = need if need > ha else ha
        if n_peak < 1:
            n_peak = 1
        if limited and n_peak > cast(int, r[6]):
            continue
        nb = -(-c_base // w)
        n_min = nb if nb > ha else ha
        if n_min < 1:
            n_min = 1
        if n_min > n_peak:
            n_min = n_peak
        n_base = n_min
        autoscale = cast(bool, r[7])
        if not autoscale:
            n_min = n_base = n_peak
        if steady or not autoscale or n_base >= n_peak:
            cost = n_peak * 730.0 * hourly
        else:
            cost = (n_peak * ph + n_base * oh) * hourly
        if best is None or cost < best_cost - 1e-6 or (cost <= best_cost + 1e-6 and n_peak < best_n):
            best, best_cost, best_n = (r, n_peak, n_min, n_base), cost, n_peak
    return None if best is None else best + (best_cost,)


def size_fast(P: Inputs, target: Target, cs: CandSet, st: ServiceTime, cm: CostModel, qcache: dict,
              shared: bool = False) -> Optional[Plan]:
    """`size_target` on a CandSet (None when no SKU fits; the engine asks size_target for the reason).

    shared=True (sensitivity probes, which never explain a plan): the plan may be an object shared with
    other profiles that have the same server counts - all its fields are theirs too except `service_ms`,
    which is NaN."""
    ha = _ha_min(target.id, P.sla, P.stz, target)
    best: Optional[Plan] = None
    if P.gpu == "preferred" and cs.any_gpu_used:
        best = choose_fast(P, target, cs, 1, cs.gpu_rows, st, cm, qcache, ha, shared)
        if best is None:
            best = choose_fast(P, target, cs, 2, cs.cpu_rows, st, cm, qcache, ha, shared)
    else:
        best = choose_fast(P, target, cs, 0, cs.rows, st, cm, qcache, ha, shared)
    if best is not None:
        best.cands = cs
    return best
