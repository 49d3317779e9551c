"""The comparison criteria: hard constraints that exclude a target, and soft criteria scored 0-100.

Each criterion is data plus a small function:

- table criteria (the rows of the notes' comparison table, isolation, auth,
  rollout, registry models...) live in `advisor/data/criteria.yaml`: a score per
  target for each value of one profile input, and the fact and source that
  justify it;
- criteria that need arithmetic (latency, scalability, availability, quota,
  operations burden, scale to zero, cost) are functions below that read facts
  from `advisor/data/targets.yaml`.

Every function returns `(score, weight_factor, reason, source_url)`; the
reason names its source. Scores depend only on the profile and the target's own
sizing and cost, never on the other targets, so a target's score is a pure
function of the profile (which keeps ranking, sensitivity and monotonicity easy
to reason about). `deps` lists the profile inputs a criterion reads
("plan" = the target's sizing), so sensitivity analysis recomputes only what a
change touches.

Decision on Kubernetes endpoints (DESIGN §4 lists "Entra auth or registry
models on Kubernetes endpoints" as hard constraints): the `aks` target deploys
plain Kubernetes manifests (our own image with the model baked in, our own
scoring server), not an Azure ML Kubernetes online endpoint. Those two facts
therefore rule out only the Azure ML Kubernetes-endpoint *mode*, which the aks
option never uses; they do not exclude the aks target. They lower its `auth`
and `registry` scores instead, and the aks option's sizing notes say why
(Learn: concept-endpoints-online-auth, how-to-attach-kubernetes-anywhere).
Everything else in §4 that is a hard limit excludes: GPU required on App
Service / Container Apps, a request longer than the target's timeout (managed
endpoint 180 s, Kubernetes 300 s, App Service 230 s, Container Apps 240 s),
custom VNet on a managed endpoint, scale to zero on online endpoints / App
Service / AKS, on-premises anywhere but Kubernetes, batch endpoints for
real-time traffic, and the Kubernetes API anywhere but AKS. Sizing adds one
more: a workload that needs more instances than a target allows (App Service
30, an AKS node pool 1,000) or a model that fits no SKU's memory.
"""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Final, Optional, cast

import yaml

from .catalog import DATA_DIR, Catalog, Target, get_catalog
from .numtext import fmt

if TYPE_CHECKING:  # sizing imports this module
    from .sizing import Plan

CRITERIA_FILE = DATA_DIR / "criteria.yaml"

# ---------------------------------------------------------------- the profile, flattened

#: attribute of `Inputs` -> profile path (used in sensitivity "change" strings)
PATHS: Final[dict[str, str]] = {
    "region": "region",
    "framework": "model.framework", "fmt": "model.format", "size_mb": "model.size_mb",
    "from_registry": "model.from_registry", "calib": "model.calibration",
    "mode": "inference.mode", "peak": "inference.peak_rps", "avg": "inference.average_rps",
    "pattern": "inference.pattern", "p95": "inference.p95_latency_ms", "payload_kb": "inference.payload_kb",
    "max_req_s": "inference.max_request_seconds", "gpu": "inference.gpu",
    "stz": "scale.scale_to_zero", "sla": "scale.availability_sla",
    "network": "security.network", "auth": "security.auth",
    "kind": "team.kind", "skill": "team.kubernetes_skill", "existing_aks": "team.existing_aks",
    "existing_web_app": "team.existing_web_app", "needs_k8s": "team.needs_kubernetes_api",
    "drift": "operations.drift_monitoring", "rollout": "operations.rollout", "integrations": "operations.integrations",
    "budget": "budget.monthly_usd",
}
ATTR_OF_PATH = {v: k for k, v in PATHS.items()}

#: inputs that change each target's sizing or cost ("calib_key" stands for model.calibration)
_COMMON = ("region", "framework", "size_mb", "calib_key", "payload_kb", "peak", "avg", "p95")
SIZING_DEPS: Final[dict[str, tuple[str, ...]]] = {
    "azureml": _COMMON + ("gpu", "pattern", "sla"),
    "aks": _COMMON + ("gpu", "pattern", "sla"),
    "appservice": _COMMON + ("pattern", "sla", "rollout"),
    "containerapps": _COMMON + ("pattern", "sla", "stz"),
    "azureml-batch": _COMMON + ("gpu",),
}
SIZING_FIELDS = frozenset(f for deps in SIZING_DEPS.values() for f in deps) | {"calib"}
#: inputs of the SKU-independent monthly costs (AKS system pool and tier fee)
FIXED_COST_DEPS: Final = frozenset({"existing_aks", "sla", "region"})


#: Inputs attributes that hold floats (Inputs.replace converts numbers given for them)
FLOAT_INPUTS: Final = frozenset({"size_mb", "peak", "avg", "p95", "payload_kb", "max_req_s", "sla", "budget"})


class Inputs:
    """A WorkloadProfile flattened to plain attributes (fast to read and to copy).

    `d` holds the same values by attribute name: memo keys and sensitivity probes read inputs by name,
    and a probe's copy is `Inputs(d)` of a changed dict. Never change an Inputs in place."""

    region: str
    framework: str
    fmt: str
    size_mb: float
    from_registry: bool
    calib: Any
    calib_key: Any
    mode: str
    peak: float
    avg: float
    pattern: str
    p95: float
    payload_kb: float
    max_req_s: float
    gpu: str
    stz: bool
    sla: float
    network: str
    auth: str
    kind: str
    skill: str
    existing_aks: bool
    existing_web_app: bool
    needs_k8s: bool
    drift: bool
    rollout: str
    integrations: tuple[str, ...]
    budget: Optional[float]

    d: dict[str, Any]

    def __init__(self, d: dict[str, Any], src: Optional["Inputs"] = None, changed: str = "") -> None:
        """Inputs of the values in `d`; with `src`, d is src.d with the one input `changed` replaced
        (with_value): the attributes are copied from src, which is faster than reading them from d."""
        self.d = d
        if src is not None:
            self.region = src.region
            self.framework = src.framework
            self.fmt = src.fmt
            self.size_mb = src.size_mb
            self.from_registry = src.from_registry
            self.calib = src.calib
            self.calib_key = src.calib_key
            self.mode = src.mode
            self.peak = src.peak
            self.avg = src.avg
            self.pattern = src.pattern
            self.p95 = src.p95
            self.payload_kb = src.payload_kb
            self.max_req_s = src.max_req_s
            self.gpu = src.gpu
            self.stz = src.stz
            self.sla = src.sla
            self.network = src.network
            self.auth = src.auth
            self.kind = src.kind
            self.skill = src.skill
            self.existing_aks = src.existing_aks
            self.existing_web_app = src.existing_web_app
            self.needs_k8s = src.needs_k8s
            self.drift = src.drift
            self.rollout = src.rollout
            self.integrations = src.integrations
            self.budget = src.budget
            setattr(self, changed, d[changed])
            return
        self.region = d['region']
        self.framework = d['framework']
        self.fmt = d['fmt']
        self.size_mb = d['size_mb']
        self.from_registry = d['from_registry']
        self.calib = d['calib']
        self.calib_key = d['calib_key']
        self.mode = d['mode']
        self.peak = d['peak']
        self.avg = d['avg']
        self.pattern = d['pattern']
        self.p95 = d['p95']
        self.payload_kb = d['payload_kb']
        self.max_req_s = d['max_req_s']
        self.gpu = d['gpu']
        self.stz = d['stz']
        self.sla = d['sla']
        self.network = d['network']
        self.auth = d['auth']
        self.kind = d['kind']
        self.skill = d['skill']
        self.existing_aks = d['existing_aks']
        self.existing_web_app = d['existing_web_app']
        self.needs_k8s = d['needs_k8s']
        self.drift = d['drift']
        self.rollout = d['rollout']
        self.integrations = d['integrations']
        self.budget = d['budget']

    @staticmethod
    def from_profile(p: Any) -> "Inputs":
        d = p.__dict__  # the validated models' fields (read directly: this runs once per recommendation)
        m, i, s, sec = d["model"].__dict__, d["inference"].__dict__, d["scale"].__dict__, d["security"].__dict__
        t, o, b = d["team"].__dict__, d["operations"].__dict__, d["budget"].__dict__
        c = m["calibration"]
        budget = b["monthly_usd"]
        return Inputs({
            "region": d["region"],
            "framework": m["framework"], "fmt": m["format"], "size_mb": float(m["size_mb"]),
            "from_registry": m["from_registry"], "calib": c,
            "calib_key": None if c is None else (c.service_ms_batch1, c.per_row_ms, c.max_rps_one_core, c.cores, c.cpu,
                                                 c.measured_at),
            "mode": i["mode"], "peak": float(i["peak_rps"]), "avg": float(i["average_rps"]), "pattern": i["pattern"],
            "p95": float(i["p95_latency_ms"]), "payload_kb": float(i["payload_kb"]),
            "max_req_s": float(i["max_request_seconds"]), "gpu": i["gpu"],
            "stz": s["scale_to_zero"], "sla": float(s["availability_sla"]),
            "network": sec["network"], "auth": sec["auth"],
            "kind": t["kind"], "skill": t["kubernetes_skill"], "existing_aks": t["existing_aks"],
            "existing_web_app": t["existing_web_app"], "needs_k8s": t["needs_kubernetes_api"],
            "drift": o["drift_monitoring"], "rollout": o["rollout"], "integrations": tuple(sorted(set(o["integrations"]))),
            "budget": None if budget is None else float(budget),
        })

    def replace(self, **changes: Any) -> "Inputs":
        """A copy with some inputs changed; numbers given for float inputs become floats (as from_profile
        makes them), so the compiled and the pure-Python Inputs hold the same values."""
        d = dict(self.d)
        for k, v in changes.items():
            d[k] = float(v) if k in FLOAT_INPUTS and v is not None else v
        return Inputs(d)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as Inputs(d): a compiled Inputs has no __dict__ for pickle to copy."""
        return (Inputs, (self.d,))

    def with_value(self, attr: str, value: Any) -> "Inputs":
        """A copy with one input changed (replace() for one attribute, without keyword arguments)."""
        d = self.d.copy()
        d[attr] = value
        return Inputs(d, self, attr)


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


def _cite(cat: Catalog, key: str) -> tuple[str, str]:
    s = cat.sources[key]
    return s.url, s.short


# ---------------------------------------------------------------- hard constraints

class HardConstraint:
    """`test(P, T)` is True when the constraint excludes T; `fn(P, T)` gives the reason (or None)."""

    __slots__ = ("id", "title", "deps", "test", "reason")

    def __init__(self, id: str, title: str, deps: tuple[str, ...], test: Callable[[Inputs, Target], bool],
                 reason: Callable[[Inputs, Target], str]) -> None:
        self.id, self.title, self.deps, self.test, self.reason = id, title, frozenset(deps), test, reason

    def fn(self, P: Inputs, T: Target) -> Optional[str]:
        return self.reason(P, T) if self.test(P, T) else None


def _h_gpu(P: Inputs, T: Target) -> str:
    if T.gpu == "preview":
        regions = ", ".join(T.v("gpu_regions"))
        return (f"inference.gpu=required: Container Apps serverless GPUs are a preview ({regions} in the stored doc), "
                f"need a quota request and are not priced in the snapshot ({T.cite_short('gpu')}: {T.cite('gpu')})")
    return f"inference.gpu=required: {T.title} has no GPU SKUs — {T.note('gpu')} ({T.cite_short('gpu')}: {T.cite('gpu')})"


def _h_timeout(P: Inputs, T: Target) -> str:
    lim = T.request_timeout_s
    return (f"inference.max_request_seconds={fmt(P.max_req_s, 'g')}: longer than {T.title}'s "
            f"{fmt(cast(float, lim), 'g')} s "
            f"request timeout ({T.cite_short('request_timeout_s')}: {T.cite('request_timeout_s')})")


def _h_custom_vnet(P: Inputs, T: Target) -> str:
    return (f"security.network=custom-vnet: \"Managed online endpoints don't support custom virtual networks\" "
            f"({T.cite_short('networks')}: {T.cite('networks')})")


def _h_onprem(P: Inputs, T: Target) -> str:
    return (f"security.network=on-premises: only Kubernetes (AKS or Azure Arc-enabled Kubernetes with the Azure ML "
            f"extension) runs on your own hardware; {T.title} is an Azure-hosted service "
            f"({get_catalog().short('Y')}: {get_catalog().url('Y')})")


def _h_scale_to_zero(P: Inputs, T: Target) -> str:
    return f"scale.scale_to_zero=true: {T.title} cannot scale to zero — {T.note('scale_to_zero')} ({T.cite_short('scale_to_zero')}: {T.cite('scale_to_zero')})"


def _h_realtime(P: Inputs, T: Target) -> str:
    return (f"inference.mode={P.mode}: batch endpoints run asynchronous jobs, not a real-time API "
            f"({T.cite_short('realtime')}: {T.cite('realtime')}); pair the winner with a batch endpoint for the batch "
            "half")


def _h_k8s_api(P: Inputs, T: Target) -> str:
    cat = get_catalog()
    return (f"team.needs_kubernetes_api=true: {T.title} gives no access to the Kubernetes API; 'if you require access "
            f"to the Kubernetes APIs and control plane, use AKS' ({cat.short('C')}: {cat.url('C')})")


HARD: Final[tuple[HardConstraint, ...]] = (
    HardConstraint("realtime", "Real-time API", ("mode",),
                   lambda P, T: P.mode != "batch" and not T.realtime, _h_realtime),
    HardConstraint("gpu", "GPU required", ("gpu",),
                   lambda P, T: P.gpu == "required" and T.gpu is not True, _h_gpu),
    HardConstraint("timeout", "Request timeout", ("max_req_s",),
                   lambda P, T: T.request_timeout_s is not None and P.max_req_s > T.request_timeout_s, _h_timeout),
    HardConstraint("custom_vnet", "Custom virtual network", ("network",),
                   lambda P, T: P.network == "custom-vnet" and "custom-vnet" not in T.networks, _h_custom_vnet),
    HardConstraint("on_premises", "On-premises", ("network",),
                   lambda P, T: P.network == "on-premises" and "on-premises" not in T.networks, _h_onprem),
    HardConstraint("scale_to_zero", "Scale to zero", ("stz",),
                   lambda P, T: P.stz and not T.scale_to_zero, _h_scale_to_zero),
    HardConstraint("kubernetes_api", "Kubernetes API access", ("needs_k8s",),
                   lambda P, T: P.needs_k8s and T.id != "aks", _h_k8s_api),
)


def hard_reasons(P: Inputs, T: Target) -> list[str]:
    out = []
    for h in HARD:
        r = h.fn(P, T)
        if r:
            out.append(r)
    return out


# ---------------------------------------------------------------- soft criteria

Result = tuple  # (score, weight factor, reason, source url): a plain tuple, so compiled code passes it without unboxing


class Criterion:
    """A soft criterion: `fn(P, target, plan, explain) -> (score, weight_factor, reason, source)`.

    `max_wf` is the largest weight factor `fn` can return (used to bound score changes)."""

    __slots__ = ("id", "title", "weight", "deps", "fn", "table", "max_wf", "lookup")

    def __init__(self, id: str, title: str, weight: float, deps: tuple[str, ...], fn: Callable[..., Result],
                 table: Optional[dict] = None, max_wf: float = 1.0, lookup: Optional[tuple[str, dict]] = None) -> None:
        self.id, self.title, self.weight, self.deps, self.fn, self.table = id, title, weight, frozenset(deps), fn, table
        self.max_wf = max_wf
        #: (input, {value: {target: result}}) when `fn` is that plain table lookup (the engine reads it directly)
        self.lookup = lookup


def _load_tables(cat: Catalog, path: Path = CRITERIA_FILE) -> dict[str, dict]:
    raw = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    tables: dict[str, dict] = {}
    for cid, spec in raw.items():
        attr = ATTR_OF_PATH[spec["input"]]
        facts = {}
        for tid, f in spec["facts"].items():
            url, short = _cite(cat, f["src"])
            facts[tid] = (f["text"], url, short)
        wf = spec.get("weight_factor", {})
        ctx = spec.get("context", {})
        results: dict[Any, dict[str, Result]] = {}
        for value, per_target in spec["scores"].items():
            factor = float(wf.get(value, 1.0))
            row = {}
            shown = str(value).lower() if isinstance(value, bool) else value
            context = ctx.get(value)
            setting = f"{spec['input']}={shown}" + (f", {context}" if context else "")
            for tid, score in per_target.items():
                text, url, short = facts[tid]
                lead = f"Not counted ({setting})" if factor == 0 else f"{verdict(score)} ({setting})"
                row[tid] = (float(score), factor, f"{lead}: {text} ({short}).", url)
            results[value] = row
        tables[cid] = {"title": spec["title"], "weight": float(spec["weight"]), "attr": attr, "results": results,
                       "facts": facts, "row": spec.get("row", ""),
                       "max_wf": max([float(x) for x in wf.values()] + ([1.0] if len(wf) < len(spec["scores"]) else []))}
    return tables


def _table_fn(results: dict, attr: str) -> Callable[..., Result]:
    def fn(P: Inputs, T: Target, plan: Any, ex: bool) -> Result:
        return results[getattr(P, attr)][T.id]
    return fn


def _integration_fn(table: dict) -> Callable[..., Result]:
    results, facts = table["results"], table["facts"]

    def fn(P: Inputs, T: Target, plan: Any, ex: bool) -> Result:
        items = P.integrations
        text, url, short = facts[T.id]
        if not items:
            return 70.0, 0.0, "No integrations listed (operations.integrations is empty).", url
        score = sum(results[i][T.id][0] for i in items) / len(items)
        reason = f"{verdict(score)} (operations.integrations={', '.join(items)}): {text} ({short})." if ex else ""
        return score, 1.0, reason, url
    return fn


def _c_latency(P: Inputs, T: Target, plan: Plan, ex: bool) -> Result:
    url = T.cite("request_timeout_s")
    if plan.batch:
        return 90.0, 0.5, ("Batch jobs are asynchronous: no per-request latency target applies; nodes are sized for "
                           f"{fmt(P.peak, 'g')} rows/s at peak ({T.cite_short('realtime')}).") if ex else "", url
    wf = 0.3 if P.mode == "batch" else 1.0
    score = 95.0 if plan.latency_met else 30.0
    parts = []
    if ex:
        if plan.latency_met:
            parts.append(f"M/M/c queue: {plan.c_peak} worker(s) at {fmt(P.peak, 'g')} rps keep p95 within "
                         f"{fmt(P.p95, 'g')} ms (service {fmt(plan.service_ms, '.2f')} ms per request per "
                         "worker)")
        else:
            parts.append(f"the p95 target of {fmt(P.p95, 'g')} ms cannot be met at any instance count: with a mean "
                         f"service time of {fmt(plan.service_ms, '.1f')} ms the M/M/c model puts p95 of service "
                         "alone near 3x that; use a faster SKU, a GPU or a lighter model")
    lim = T.request_timeout_s
    if lim is not None and P.max_req_s > 0.8 * lim:
        score -= 20.0
        if ex:
            parts.append(f"the longest request ({fmt(P.max_req_s, 'g')} s) is within 20% of the {fmt(lim, 'g')} "
                         "s timeout")
    if T.id == "containerapps" and plan.n_min == 0:
        score -= 15.0 if P.pattern in ("sporadic", "bursty") else 10.0
        if ex:
            parts.append("with min replicas 0 the first request after idle waits for a replica to start (cold start, "
                         f"not in the M/M/c figure; {T.cite_short('scale_to_zero')})")
    reason = ""
    if ex:
        text = "; ".join(parts)
        reason = (text[:1].upper() + text[1:]
                  + f" (request timeout {fmt(cast(float, lim), 'g')} s: {T.cite_short('request_timeout_s')}).")
    return max(score, 0.0), wf, reason, url


def _c_scalability(P: Inputs, T: Target, plan: Plan, ex: bool) -> Result:
    tid = T.id
    url = T.cite("max_instances")
    cat = T.catalog
    if plan.batch:
        score = 90.0 if not plan.over_limit else 50.0
        reason = (f"The cluster scales from 0 to {plan.n_peak} node(s) of {plan.sku} per job; cluster size is bounded "
                  f"by your core quota ({T.cite_short('max_instances')}).") if ex else ""
        return score, 1.0, reason, url
    limit = plan.limit
    ratio = plan.n_max / limit if limit else 0.0
    score = 95.0 if ratio <= 0.3 else 85.0 if ratio <= 0.6 else 70.0 if ratio <= 1.0 else 40.0
    parts = [f"{plan.n_peak} instance(s) at peak, autoscale max {plan.n_max}, limit {limit} ({T.cite_short('max_instances')})"] if ex else []
    if plan.over_limit and ex:
        parts.append(f"above the default limit of {limit}: request an increase or split across deployments")
    if tid == "azureml":
        if P.peak > float(T.v("endpoint_rps_limit")):
            score -= 20.0
            if ex:
                parts.append(f"{fmt(P.peak, 'g')} rps is above the default {T.v('endpoint_rps_limit')} requests/s "
                             f"per endpoint (increasable; {T.cite_short('endpoint_rps_limit')})")
        mbps = P.peak * P.payload_kb / 1024.0
        if mbps > float(T.v("bandwidth_mbps")):
            score -= 20.0
            if ex:
                parts.append(f"{fmt(mbps, '.1f')} MB/s of request payload exceeds the default "
                             f"{T.v('bandwidth_mbps')} MBPS per endpoint")
    elif tid == "aks":
        if P.peak >= 200.0 or plan.n_peak >= 10:
            score = max(score, 95.0)
            if ex:
                parts.append("AKS is the notes' choice 'for large-scale, containerized, high-availability "
                             f"deployments' ({cat.short('notes-platforms')})")
    elif tid == "appservice":
        if ex:
            parts.append("App Service is 'designed for web workloads — autoscaling for web traffic and HTTP requests' "
                         f"({cat.short('notes')})")
        if not plan.autoscale and P.pattern != "steady":
            score -= 15.0
            if ex:
                parts.append(f"the {plan.tier} tier has no autoscale, so it runs the peak count all month "
                             f"({cat.short('ASP-SCALE')})")
    elif tid == "containerapps" and ex:
        parts.append("replicas follow HTTP concurrency (default 10 concurrent requests per replica; "
                     f"{T.cite_short('scale_rule')})")
    reason = ("; ".join(parts)[:1].upper() + "; ".join(parts)[1:] + ".") if ex else ""
    return max(score, 0.0), 1.0, reason, url


def _c_availability(P: Inputs, T: Target, plan: Any, ex: bool) -> Result:
    req = P.sla
    url = T.cite("sla")
    tid = T.id
    if req < 99.0:
        why = f"No availability requirement above 99% (scale.availability_sla={fmt(req, 'g')})." if ex else ""
        return 85.0, 0.5, why, url
    sla = T.v("sla")
    verified = T.facts["sla"].verified
    if tid == "azureml-batch":
        return 50.0, 1.0, ("Batch endpoints retry jobs; they offer no serving SLA "
                           f"({T.cite_short('sla')}).") if ex else "", url
    if tid == "aks":
        if req <= 99.9:
            s, why = 90.0, "the Standard tier's Uptime SLA is 99.9% without zones, 99.95% with availability zones"
        elif req <= 99.95:
            s, why = 85.0, "99.95% needs the Standard tier with availability zones"
        else:
            s, why = 45.0, "above the 99.95% Uptime SLA: needs several clusters in several regions"
        return s, 1.0, f"{why.capitalize()} ({T.cite_short('sla')})." if ex else "", url
    if req <= float(sla):
        s = 75.0 if not verified else 90.0
    elif req <= 99.95:
        s = 55.0
    else:
        s = 35.0
    extra = ""
    if tid == "azureml":
        extra = f"; at least {T.v('ha_min_instances')} instances for high availability"
    elif tid == "containerapps" and plan.n_min == 0:
        s -= 10.0
        extra = "; with min replicas 0 the first request after idle waits for a cold start"
    elif tid == "appservice":
        extra = f"; {plan.n_min} instance(s) minimum so one can fail or restart ({T.cite_short('ha_min_instances')})"
    reason = ""
    if ex:
        figure = f"{fmt(sla, 'g')}%" + ("" if verified else " (figure not verified on a Microsoft page)")
        reason = f"Requested {fmt(req, 'g')}%; {T.title} SLA {figure}{extra} ({T.cite_short('sla')})."
    return s, 1.0, reason, url


_AKS_SKILL: Final = {"none": 15.0, "basic": 45.0, "expert": 85.0}
_OPS_OTHER: Final = {"azureml": 90.0, "appservice": 90.0, "containerapps": 85.0, "azureml-batch": 90.0}


def _c_ops(P: Inputs, T: Target, plan: Any, ex: bool) -> Result:
    url = T.cite("ops_burden")
    if T.id == "aks":
        s = _AKS_SKILL[P.skill]
        if P.existing_aks:
            s += 10.0
        if P.kind == "platform":
            s += 5.0
        s = min(s, 98.0)
        reason = ""
        if ex:
            have = "an existing cluster" if P.existing_aks else "no cluster yet"
            reason = (f"{verdict(s)}: with AKS {T.note('ops_burden')}; suits teams that 'prefer Kubernetes and can "
                      f"self-manage infrastructure' ({T.cite_short('recommended_for')}). Team: "
                      f"kubernetes_skill={P.skill}, {P.kind}, {have}.")
        return s, 1.0, reason, url
    s = _OPS_OTHER[T.id]
    reason = f"{verdict(s)}: low operations burden — {T.note('ops_burden') or T.v('recommended_for')} ({T.cite_short('ops_burden')})." if ex else ""
    return s, 1.0, reason, url


def _c_scale_to_zero(P: Inputs, T: Target, plan: Any, ex: bool) -> Result:
    url = T.cite("scale_to_zero")
    can = bool(T.scale_to_zero)
    if P.stz:
        s = 95.0 if can else 0.0
        return s, 1.0, (f"{'Scales' if can else 'Cannot scale'} to zero ({T.cite_short('scale_to_zero')}: "
                        f"{T.note('scale_to_zero')}).") if ex else "", url
    if P.pattern in ("sporadic", "bursty"):
        s = 85.0 if can else 50.0
        reason = (f"Idle hours in a {P.pattern} pattern cost {'little' if can else 'full price'}: "
                  f"{T.note('scale_to_zero') or ('scales to zero' if can else 'no scale to zero')} "
                  f"({T.cite_short('scale_to_zero')}).") if ex else ""
        return s, 0.5, reason, url
    return 70.0, 0.0, f"Scale to zero not needed for a {P.pattern} pattern." if ex else "", url


def _c_quota(P: Inputs, T: Target, plan: Plan, ex: bool) -> Result:
    tid = T.id
    cat = T.catalog
    if tid in ("azureml", "aks", "azureml-batch"):
        cores = plan.quota_cores_max or 0
        if plan.gpus:
            s = 45.0
            why = "GPU VM families default to 0 cores of quota: request it before deploying"
        elif cores <= 24:
            s, why = 90.0, "fits the smallest default dedicated-core quota (24 per region)"
        elif cores <= 100:
            s, why = 70.0, "default dedicated-core quotas are 24-300 per region: you may need a quota request"
        else:
            s, why = 50.0, "needs a quota request (default dedicated-core quotas are 24-300 per region)"
        reason = ""
        if ex:
            fam = cat.vm_skus[plan.sku].family
            if tid == "azureml":
                sku = cat.vm_skus[plan.sku]
                rule = (f"{plan.n_peak} x {int(math.ceil(sku.vcpu))} cores (SKU exempt from the 20% reserve)" if sku.quota_exempt
                        else f"ceil(1.2 x {plan.n_peak}) x {int(math.ceil(sku.vcpu))} = {plan.quota_cores} cores")
                reason = (f"{rule} of {fam} quota at peak, {cores} at autoscale max; {why} "
                          f"({T.cite_short('quota_reserve')}).")
            else:
                reason = f"{cores} cores of {fam} quota at the node maximum; {why} ({cat.short('K')})."
        return s, 1.0, reason, cat.url("K") if tid != "azureml" else T.cite("quota_reserve")
    if tid == "appservice":
        s = 85.0 if plan.n_max <= 10 else 75.0
        return s, 1.0, ("App Service plan quotas are per VM type and `az quota` doesn't cover Microsoft.Web: check "
                        f"the portal's usage page ({cat.short('AE')}).") if ex else "", cat.url("AE")
    return 85.0, 1.0, ("Consumption plan: no core quota to request for CPU replicas "
                       f"({cat.short('V')}).") if ex else "", cat.url("V")


# ---------------------------------------------------------------- upper bounds without a plan
# For sensitivity: the highest (score, weight factor) each plan-reading criterion can give a target,
# knowing the profile but not the sizing. The weight factors are exact (they never depend on the plan).

class _BestPlan:
    """Stand-in plan for `_c_availability`: its only plan input is n_min (0 costs Container Apps 10 points)."""
    n_min = 1


def _ub_scalability(P: Inputs, T: Target) -> tuple[float, float]:
    return (90.0 if T.id == "azureml-batch" else 95.0), 1.0  # only azureml-batch plans are batch plans


def _ub_latency(P: Inputs, T: Target) -> tuple[float, float]:
    if T.id == "azureml-batch":
        return 90.0, 0.5
    score = 95.0
    lim = T.request_timeout_s
    if lim is not None and P.max_req_s > 0.8 * lim:
        score -= 20.0
    return score, 0.3 if P.mode == "batch" else 1.0


_UB_AVAILABILITY: Final[dict[tuple[int, float], tuple[Target, float, float]]] = {}


def _ub_availability(P: Inputs, T: Target) -> tuple[float, float]:
    """Memoized per target object and availability_sla (the only inputs _c_availability reads besides the
    plan); keyed on id(T) and checked against T itself, so another catalog's targets never share an entry."""
    key = (id(T), P.sla)
    hit = _UB_AVAILABILITY.get(key)
    if hit is None or hit[0] is not T:
        if len(_UB_AVAILABILITY) >= 4096:
            _UB_AVAILABILITY.clear()
        r = _c_availability(P, T, _BestPlan, False)
        hit = _UB_AVAILABILITY[key] = (T, r[0], r[1])
    return hit[1], hit[2]


def _ub_quota(P: Inputs, T: Target) -> tuple[float, float]:
    return (90.0 if T.id in ("azureml", "aks", "azureml-batch") else 85.0), 1.0


#: the inputs the bounds below read (besides the target)
PLAN_UPPER_BOUND_DEPS: Final = frozenset({"mode", "max_req_s", "sla"})

#: criterion id -> upper bound function, for the criteria that read the plan
PLAN_UPPER_BOUNDS: Final[dict[str, Callable[[Inputs, Target], tuple[float, float]]]] = {
    "scalability": _ub_scalability, "latency": _ub_latency, "availability": _ub_availability, "quota": _ub_quota,
}


#: For plan-reading criteria whose explained result depends only on a few discrete facts: a key of those
#: facts (the engine memoizes the explained result on it). Keep in step with the functions above.
PLAN_MEMO_KEYS: Final[dict[str, Callable[[Inputs, Target, Any], tuple]]] = {
    "availability": lambda P, T, plan: (T.id, P.sla, plan.n_min),
    "quota": lambda P, T, plan: (T.id, plan.sku, plan.gpus, plan.n_peak, plan.n_max, plan.quota_cores,
                                 plan.quota_cores_max),
}


def cost_score(P: Inputs, monthly: float) -> tuple[float, float]:
    """(score, weight factor) for a monthly cost. Absolute, so it depends only on this target.

    Without a budget: 100 at $20/month, minus 25 points per tenfold ($200 -> 75,
    $2,000 -> 50, $20,000 -> 25). With a budget the criterion weighs double:
    60-100 within budget by headroom, 60 x (budget / cost)^2 above it.
    """
    b = P.budget
    if b is None:
        s = 100.0 - 25.0 * math.log10(max(monthly, 20.0) / 20.0)
        return max(0.0, min(100.0, s)), 1.0
    if monthly <= b:
        return 60.0 + 40.0 * (1.0 - (monthly / b if b > 0 else 0.0)), 2.0
    return 60.0 * (b / monthly) ** 2, 2.0


def cost_reason(P: Inputs, monthly: float, as_of: str) -> str:
    b = P.budget
    head = f"${fmt(monthly, ',.2f')}/month from the {as_of} price snapshot"
    if b is None:
        return f"{head}; no budget set, so cheaper scores higher (100 at $20/month, 25 points less per tenfold)."
    if monthly <= b:
        headroom = fmt(100 * (1 - monthly / b) if b else 0, ".0f")
        return f"{head}: within the ${fmt(b, ',.0f')} budget (budget.monthly_usd), {headroom}% headroom."
    return f"{head}: over the ${fmt(b, ',.0f')} budget (budget.monthly_usd) by ${fmt(monthly - b, ',.2f')}."


@lru_cache(maxsize=1)
def criteria() -> tuple[Criterion, ...]:
    """All soft criteria in display order (cost last; the engine fills it in)."""
    cat = get_catalog()
    t = _load_tables(cat)

    def table(cid: str) -> Criterion:
        spec = t[cid]
        return Criterion(cid, spec["title"], spec["weight"], (spec["attr"],), _table_fn(spec["results"], spec["attr"]), spec,
                         max_wf=spec["max_wf"], lookup=(spec["attr"], spec["results"]))

    plan_deps = ("plan",)
    return (
        table("purpose"),
        table("focus"),
        table("deployment_type"),
        table("training_automl"),
        Criterion("scalability", "Scalability", 1.5, plan_deps + ("peak", "payload_kb", "pattern"), _c_scalability),
        table("gpu"),
        Criterion("integration", t["integration"]["title"], t["integration"]["weight"], ("integrations",),
                  _integration_fn(t["integration"]), t["integration"]),
        table("monitoring"),
        table("ideal_user"),
        table("registry"),
        Criterion("latency", "Latency and request timeout", 2.0,
                  plan_deps + ("peak", "p95", "max_req_s", "mode", "pattern", "stz"), _c_latency),
        table("isolation"),
        table("auth"),
        table("rollout"),
        Criterion("availability", "Availability (SLA)", 1.5, ("sla", "stz", "plan"), _c_availability),
        Criterion("ops_burden", "Operations burden vs team skills", 3.0, ("skill", "existing_aks", "kind"), _c_ops),
        Criterion("scale_to_zero", "Scale to zero / idle cost", 1.5, ("stz", "pattern"), _c_scale_to_zero),
        Criterion("quota", "Quota", 1.0, plan_deps + ("gpu",), _c_quota),
        Criterion("cost", "Cost vs budget", 3.0, ("plan", "budget"), lambda *a: (0.0, 0.0, "", ""), max_wf=2.0),
    )


def criteria_table() -> dict[str, dict]:
    """The loaded table criteria (for documentation and tests)."""
    return _load_tables(get_catalog())
