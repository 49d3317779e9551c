"""Sizing shared by the targets: service time, workers per SKU, and the cheapest always-on plan.

The method, in order:

1. Service time S per request on one worker (one vCPU, or one GPU): measured
   when `profile.model.calibration` is present, otherwise estimated from the
   framework and model size (`estimate_service`). GPU SKUs divide S by a
   per-GPU speed-up for frameworks that use the GPU.
2. Workers per instance: one per vCPU (managed endpoints: WORKER_COUNT =
   max_concurrent_requests_per_instance), limited by memory: each worker holds
   the runtime (~300 MB, measured in serving-anchors.md) plus the model.
3. Servers needed at peak: the smallest c of an M/M/c queue that meets the p95
   target (advisor/queueing.py).
4. Instances = ceil(c / workers), raised to the target's HA minimum, checked
   against the target's instance limit.
5. Autoscale: min from the average rate (and HA), max = peak servers x 1.25 headroom.
6. Among the SKUs that fit, the cheapest per month wins (ties: fewer instances,
   then catalog order).

Batch endpoints are sized by throughput instead (advisor/targets/azureml_batch.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .catalog import VmSku
from .lifecycle import LONG_REQUEST_S, busy_fraction, headroom, in_flight, request_duration_s
from .queueing import RHO_MAX, min_servers

HEADROOM = 1.25  # autoscale max above the peak need, for a measured service time
LONG_REQUEST_MS = 1000.0 * LONG_REQUEST_S  # such a request holds its worker for its duration (Little's law)

# Per-request service-time estimate on one vCPU when nothing was measured:
# base + per_mb * size_mb (ms). Anchored on serving-anchors.md: a 100-tree
# scikit-learn forest costs ~3 ms per predict call; linear models ~0.1 ms.
BASE_MS = {"sklearn": 3.0, "xgboost": 1.5, "lightgbm": 1.5, "onnx": 2.0, "pytorch": 15.0,
           "tensorflow": 15.0, "transformers": 40.0, "custom": 10.0}
PER_MB_MS = {"sklearn": 0.02, "xgboost": 0.01, "lightgbm": 0.01, "onnx": 0.02, "pytorch": 0.05,
             "tensorflow": 0.05, "transformers": 0.1, "custom": 0.05}
SERVER_OVERHEAD_MS = 0.4  # HTTP + JSON per request in azmlinfsrv (serving-anchors.md: 0.39 ms)
PAYLOAD_MS_PER_KB = 0.01  # JSON parse of the request body (assumption: ~100 MB/s)
RUNTIME_MB = 300.0  # resident memory of one serving worker before the model (serving-anchors.md: ~290 MB)
MEM_FACTOR = 1.5  # in-memory model size / file size (assumption)
GPU_MEM_FACTOR = 1.2  # GPU memory needed / model file size (weights + activations, assumption)
GPU_FRAMEWORKS = frozenset({"pytorch", "tensorflow", "transformers", "onnx", "custom"})
GPU_SPEEDUP = {"T4": 6.0, "V100": 10.0, "A100": 20.0}  # vs one vCPU (assumption, per request)
# rows per predict call in a batch job cost far less than one request each
# (serving-anchors.md: the forest costs the same for 1 row or 64).
BATCH_GAIN = {"sklearn": 20.0, "xgboost": 20.0, "lightgbm": 20.0, "onnx": 10.0, "pytorch": 4.0,
              "tensorflow": 4.0, "transformers": 2.0, "custom": 4.0}


@dataclass(frozen=True)
class ServiceTime:
    """Mean time of one request on one worker (one vCPU), and how it was obtained."""

    cpu_ms: float
    per_row_ms: float  # one row inside a batch job's mini-batch
    measured: bool
    basis: str


def estimate_service(framework: str, size_mb: float, payload_kb: float, cal: Any = None) -> ServiceTime:
    """The service time of one request: measured when the model carries a calibration, else estimated."""
    payload = PAYLOAD_MS_PER_KB * payload_kb
    if cal is not None:
        if cal.max_rps_one_core:
            ms = 1000.0 / cal.max_rps_one_core
            how = f"1000 / max_rps_one_core {cal.max_rps_one_core:g}"
        else:
            ms = cal.service_ms_batch1 + SERVER_OVERHEAD_MS + payload
            how = f"predict {cal.service_ms_batch1:g} ms + server {SERVER_OVERHEAD_MS} ms + payload {payload:.2f} ms"
        per_row = cal.per_row_ms if cal.per_row_ms > 0 else ms / BATCH_GAIN.get(framework, 4.0)
        cpu = f" of {cal.cpu}" if cal.cpu else ""
        when = f", measured {cal.measured_at}" if cal.measured_at else ""
        basis = (f"measured: {ms:.2f} ms per request per worker ({how}) on {cal.cores} core(s){cpu}{when}; scaled to "
                 "each SKU as one worker per vCPU, assuming a cloud vCPU is as fast as the benchmark core")
        return ServiceTime(ms, per_row, True, basis)
    base, per_mb = BASE_MS.get(framework, 10.0), PER_MB_MS.get(framework, 0.05)
    ms = base + per_mb * size_mb + SERVER_OVERHEAD_MS + payload
    basis = (f"estimated: {ms:.2f} ms per request per vCPU = {base:g} ms ({framework}) + {per_mb:g} ms/MB x "
             f"{size_mb:g} MB + {SERVER_OVERHEAD_MS} ms server + {payload:.2f} ms payload; run "
             "`deploy-advisor benchmark --model URI` to measure it")
    return ServiceTime(ms, ms / BATCH_GAIN.get(framework, 4.0), False, basis)


@dataclass(frozen=True)
class Fit:
    """The profile fields that decide which SKUs can serve the model (a target's candidates are memoised on it)."""

    framework: str
    size_mb: float
    gpu: str  # none | preferred | required
    rollout: str
    availability_sla: float


@dataclass(frozen=True)
class Load:
    """The profile fields sizing reads, and nothing else: hashable, so a target's plan is memoised on it
    (engine.plan_for). A sizing rule that needs another field adds it here (or to Fit)."""

    fit: Fit
    peak_rps: float
    average_rps: float
    p95_latency_ms: float
    pattern: str
    scale_to_zero: bool
    max_request_s: float = 1.0  # the longest request: long requests are sized by their duration (Little's law)
    measured: bool = False  # service time measured (calibration): no 2x headroom on it
    busy: float = 1.0  # share of the week inside the busy-hours schedule (outside: the minimum runs)
    existing_plan: bool = False  # the team's App Service plan already runs (marginal cost)
    on_premises: bool = False  # the user's own (Arc-enabled) hardware: no Azure compute billed

    @classmethod
    def of(cls, profile: Any) -> "Load":
        m, i = profile.model, profile.inference
        fit = Fit(m.framework, float(m.size_mb), i.gpu, profile.operations.rollout, profile.scale.availability_sla)
        return cls(fit, i.peak_rps, i.average_rps, i.p95_latency_ms, i.pattern, profile.scale.scale_to_zero,
                   i.max_request_seconds if i.mode != "batch" else 0.0, m.calibration is not None, busy_fraction(profile),
                   profile.team.existing_web_app, profile.security.network == "on-premises")

    @property
    def availability_sla(self) -> float:
        return self.fit.availability_sla

    @property
    def gpu(self) -> str:
        return self.fit.gpu

    @property
    def average(self) -> float:
        """The average rate, never above the peak."""
        return min(self.average_rps, self.peak_rps)


def worker_gib(size_mb: float) -> float:
    """Memory one serving worker needs: the runtime plus the model as loaded."""
    return (RUNTIME_MB + MEM_FACTOR * size_mb) / 1024.0


@dataclass(frozen=True, slots=True)
class Candidate:
    """A SKU that can hold the model, priced: what sizing chooses from."""

    sku: VmSku
    gpu_used: bool
    workers: int
    service_ms: float  # per request per worker (per row for batch)
    hourly: float  # USD per instance-hour (Container Apps: replica-hour of active use)
    price_region: str
    limit: int  # most instances the target allows on this SKU
    autoscale: bool = True
    tier: str = ""


@dataclass(frozen=True, slots=True)
class Plan:
    """One target's chosen size: SKU, worker and instance counts, and the monthly cost it implies."""

    target: str
    sku: str
    vcpu: float
    mem_gib: float
    gpus: int
    gpu_model: str
    gpu_used: bool
    workers: int
    service_ms: float
    hourly: float
    price_region: str
    limit: int
    autoscale: bool
    tier: str
    c_peak: int  # workers needed at peak (M/M/c)
    c_base: int  # workers needed at the average rate
    latency_met: bool
    n_peak: int  # instances at peak
    n_min: int  # autoscale minimum (0 = scales to zero)
    n_max: int  # autoscale maximum
    n_base: int  # instances running outside the peak hours
    usage_usd: float = 0.0  # what running this plan costs a month (the target's fixed_costs come on top)
    over_limit: bool = False
    batch: bool = False
    rows_month: float = 0.0  # batch: rows scored a month
    quota_cores: Optional[int] = None  # cores of quota at peak
    quota_cores_max: Optional[int] = None  # ... and at the autoscale max


class NoFit(ValueError):
    """No SKU of a target fits the workload; str() says why."""


def fit(sku: VmSku, gpu_used: bool, size_mb: float, usable: float) -> tuple[int, str]:
    """(workers per instance, "") for a SKU that holds the model, or (0, why not). `usable` is the share of
    the instance's memory left to the workers."""
    per_worker = worker_gib(size_mb)
    if gpu_used:
        need = size_mb * GPU_MEM_FACTOR / 1024.0
        if need > sku.gpu_mem_gib:
            return 0, (f"{sku.name}: the model needs ~{need:.1f} GiB of GPU memory, the {sku.gpu_model} has "
                       f"{sku.gpu_mem_gib:g} GiB")
        if sku.gpus * per_worker > sku.mem_gib * usable:
            return 0, f"{sku.name}: not enough host memory for the model"
        return sku.gpus, ""
    workers = min(int(sku.vcpu), int(sku.mem_gib * usable / per_worker))
    if workers < 1:
        return 0, f"{sku.name}: one worker needs ~{per_worker:.2f} GiB; {sku.mem_gib:g} GiB x {usable:g} is usable"
    return workers, ""


def effective_service_ms(load: Load, service_ms: float) -> float:
    """Milliseconds one request holds a worker: the service time, or for long requests (generation, OCR...)
    the profile's longest request (advisor/lifecycle.py)."""
    return 1000.0 * request_duration_s(load.max_request_s, service_ms, load.measured, load.p95_latency_ms)


def servers(load: Load, service_ms: float) -> tuple[int, bool, int]:
    """(workers at peak, whether the p95 target is met, workers at the average rate).

    Long requests are sized by Little's law: requests in flight = rate x duration, one worker each, at
    most RHO_MAX busy; the p95 is met when the duration fits the target."""
    peak, avg = load.peak_rps, load.average
    if service_ms >= LONG_REQUEST_MS:
        d = service_ms / 1000.0
        c_peak = math.ceil(in_flight(peak, d) / RHO_MAX - 1e-9)
        c_base = math.ceil(in_flight(avg, d) / RHO_MAX - 1e-9) if avg > 0 else 0
        return (0 if peak <= 0 else max(c_peak, 1)), service_ms <= load.p95_latency_ms, c_base
    c_peak, met = min_servers(peak, service_ms, load.p95_latency_ms)
    c_base = min_servers(avg, service_ms, load.p95_latency_ms)[0] if avg > 0 else 0
    return (0 if peak <= 0 else c_peak), met, c_base


def instances(c: int, workers: int, ha: int) -> int:
    """Instances for c workers: at least the HA minimum, at least one."""
    return max(-(-c // workers), ha, 1)


def make_plan(target: str, c: Candidate, c_peak: int, met: bool, c_base: int, n_peak: int, n_min: int, n_base: int,
              monthly: float, quota: Callable[[VmSku, int, int], tuple[Optional[int], Optional[int]]],
              headroom: float = HEADROOM) -> Plan:
    """The Plan of a chosen always-on candidate: autoscale max with headroom, within the limit; `quota` gives the
    cores of quota (at peak, at the autoscale max) for the SKU and those two instance counts."""
    sku = c.sku
    n_max = max(n_peak, math.ceil(c_peak * headroom / c.workers - 1e-9)) if c.autoscale else n_peak
    over = n_peak > c.limit
    if not over:
        n_max = min(n_max, c.limit)
    quota_cores, quota_cores_max = quota(sku, n_peak, n_max)
    return Plan(target=target, sku=sku.name, vcpu=sku.vcpu, mem_gib=sku.mem_gib, gpus=sku.gpus, gpu_model=sku.gpu_model,
                gpu_used=c.gpu_used, workers=c.workers, service_ms=c.service_ms, hourly=c.hourly,
                price_region=c.price_region, limit=c.limit, autoscale=c.autoscale, tier=c.tier, c_peak=c_peak,
                c_base=c_base, latency_met=met, n_peak=n_peak, n_min=n_min, n_max=n_max, n_base=n_base,
                usage_usd=monthly, over_limit=over, quota_cores=quota_cores, quota_cores_max=quota_cores_max)


def no_fit_reason(skipped: list[tuple[Candidate, int]], reasons: list[str], limit_source: str) -> str:
    """Why no SKU fits: the SKU that came closest to the instance limit, and the largest SKU's reason."""
    why = []
    if skipped:
        c, n = min(skipped, key=lambda x: x[1] / x[0].limit)
        why.append(f"even {c.sku.name} needs {n} instances at peak; the limit is {c.limit} ({limit_source})")
    why += reasons[-1:]  # catalog order is smallest first
    return "; ".join(why) if why else "no SKU of this target applies"


def cheaper(cost: float, n: int, best: Optional[tuple[float, int]]) -> bool:
    """Whether (cost, instances) beats the best so far: cheaper by more than a micro-dollar, or as cheap with
    fewer instances (the first of equals, in catalog order, stays)."""
    return best is None or cost < best[0] - 1e-6 or (cost <= best[0] + 1e-6 and n < best[1])
