"""Monthly cost per target from the dated price snapshot, with every assumption listed.

- 730 hours a month (the figure Azure's own pricing pages use).
- Always-on targets (managed endpoint, App Service, AKS nodes) bill every
  instance-hour. With autoscale, the peak instance count is billed for the
  pattern's busy hours and the autoscale minimum for the rest (steady traffic:
  the peak count all month).
- Scale-to-zero targets bill only active time: Container Apps bills
  vCPU-seconds and GiB-seconds (active and idle rates) plus requests, less the
  monthly free grant; batch endpoints bill cluster node-hours while jobs run.
- AKS adds the system node pool and, when availability_sla >= 99.9 (the Free
  tier has no financially backed SLA), the Standard tier's Uptime SLA fee of
  $0.10 per cluster-hour ($73.00 a month) - unless the team already runs a
  cluster, whose fixed costs are already paid.
- A region without a price falls back to eastus, and says so.
"""
from __future__ import annotations

import math
from typing import Final, Optional

from .catalog import Catalog, Target, VmSku
from .criteria import Inputs
from .numtext import fmt
from .prices import FALLBACK_REGION, PriceBook, _norm_plan
from .sizing import BATCH_UTIL, Plan

HOURS_PER_MONTH: Final = 730.0
SECONDS_PER_MONTH: Final = HOURS_PER_MONTH * 3600.0  # 2,628,000
#: hours per day at the peak instance count, by traffic pattern (assumption)
PEAK_HOURS_PER_DAY: Final = {"steady": 24.0, "diurnal": 8.0, "bursty": 2.0, "sporadic": 1.0}
#: hours per day with any traffic, for scale-to-zero targets (assumption)
ACTIVE_HOURS_PER_DAY: Final = {"steady": 24.0, "diurnal": 16.0, "bursty": 8.0, "sporadic": 3.0}
NOT_INCLUDED: Final = ("Not included: storage, container registry, Log Analytics / Application Insights ingestion, "
                       "outbound data transfer, load balancer and public IP, taxes and negotiated discounts.")

ACA_VCPU_ACTIVE: Final = "Standard vCPU Active Usage"
ACA_VCPU_IDLE: Final = "Standard vCPU Idle Usage"
ACA_MEM_ACTIVE: Final = "Standard Memory Active Usage"
ACA_MEM_IDLE: Final = "Standard Memory Idle Usage"
ACA_REQUESTS: Final = "Standard Requests"


def tiered_cost(quantity: float, tiers: tuple) -> float:
    """Cost of `quantity` units under tiers ((min_units, price), ...) sorted by min_units."""
    total = 0.0
    for i, (lo, price) in enumerate(tiers):
        hi = tiers[i + 1][0] if i + 1 < len(tiers) else math.inf
        if quantity <= lo:
            break
        total += (min(quantity, hi) - lo) * price
    return total


def _r2(x: float) -> float:
    return math.floor(x * 100.0 + 0.5) / 100.0


def _money(x: float) -> str:
    return f"${fmt(x, ',.2f')}"


def _rate(x: float) -> str:
    return f"${fmt(x, 'g')}"


class CostModel:
    """Prices for one region resolved once; computes plan costs quickly."""

    def __init__(self, book: PriceBook, region: str, catalog: Catalog) -> None:
        self.book = book
        self.region = region
        self.catalog = catalog
        t = book.resolved(region)
        self.table = t
        self.as_of = book.as_of
        aks = catalog.targets["aks"]
        sysp = aks.v("system_pool")
        self.sys_sku: VmSku = catalog.vm_skus[sysp["sku"]]
        self.sys_nodes = int(sysp["nodes"])
        self.sys_nodes_prod = int(sysp["production_nodes"])
        self.sys_price = t.get(("vm", self.sys_sku.name), (None, ""))
        self.aks_fee = t.get(("aks-standard", ""), (None, ""))
        aca = {m: t.get(("aca", m), (None, "")) for m in (ACA_VCPU_ACTIVE, ACA_VCPU_IDLE, ACA_MEM_ACTIVE, ACA_MEM_IDLE, ACA_REQUESTS)}
        self.aca = aca
        grant = catalog.targets["containerapps"].v("free_grant")
        self.aca_grant = grant
        self.aca_ok = all(v[0] is not None for v in aca.values())
        self.aca_grant_in_tiers = False
        self.aca_region = ""
        if self.aca_ok:
            va, ma = aca[ACA_VCPU_ACTIVE][0], aca[ACA_MEM_ACTIVE][0]
            self.aca_vcpu_h = va[-1][1] * 3600.0
            self.aca_mem_h = ma[-1][1] * 3600.0
            self.aca_region = aca[ACA_VCPU_ACTIVE][1]
            # A zero-price first tier means the export already encodes the free grant.
            self.aca_grant_in_tiers = len(va) > 1 and va[0][1] == 0.0
        # single-tier meters with the grant applied by us: plain per-unit rates (fast path)
        # (typed tuples: the compiled cost paths unpack them into native floats)
        self.aca_linear: Optional[tuple[float, float, float, float, float]] = None
        self.aca_grant_vals: tuple[float, float, float] = (0.0, 0.0, 0.0)
        if self.aca_ok and not self.aca_grant_in_tiers and all(len(v[0]) == 1 for v in aca.values()):
            self.aca_linear = (float(aca[ACA_VCPU_ACTIVE][0][0][1]), float(aca[ACA_VCPU_IDLE][0][0][1]),
                               float(aca[ACA_MEM_ACTIVE][0][0][1]), float(aca[ACA_MEM_IDLE][0][0][1]),
                               float(aca[ACA_REQUESTS][0][0][1]))
            self.aca_grant_vals = (float(grant["vcpu_seconds"]), float(grant["gib_seconds"]), float(grant["requests"]))
        self._fixed: dict[bool, float] = {}
        batch = catalog.targets["azureml-batch"]
        self.jobs = float(batch.v("jobs_per_month"))
        self.startup_h = float(batch.v("job_startup_hours"))

    # ------------------------------------------------------------ prices
    def price(self, target: Target, sku: VmSku) -> Optional[tuple[float, str]]:
        """(USD per instance-hour, region of the price) or None when unknown."""
        tid = target.id
        if tid == "appservice":
            v = self.table.get(("appservice", _norm_plan(sku.name)))
        elif tid == "containerapps":
            if not self.aca_ok:
                return None
            return sku.vcpu * self.aca_vcpu_h + sku.mem_gib * self.aca_mem_h, self.aca_region
        else:
            v = self.table.get(("vm", sku.name))
        if v is None or v[0] is None:
            return None
        return v

    # ------------------------------------------------------------ building blocks (used by sizing)
    @staticmethod
    def hours_at(P: Inputs, n_peak: int, n_base: int, autoscale: bool) -> float:
        """Instance-hours a month: the peak count for the pattern's busy hours, the base count otherwise."""
        if not autoscale or P.pattern == "steady" or n_base >= n_peak:
            return n_peak * HOURS_PER_MONTH
        ph = HOURS_PER_MONTH * PEAK_HOURS_PER_DAY[P.pattern] / 24.0
        return n_peak * ph + n_base * (HOURS_PER_MONTH - ph)

    @staticmethod
    def peak_hours(pattern: str) -> float:
        return HOURS_PER_MONTH * PEAK_HOURS_PER_DAY[pattern] / 24.0

    def vm_monthly(self, P: Inputs, n_peak: int, n_base: int, autoscale: bool, hourly: float) -> float:
        return self.hours_at(P, n_peak, n_base, autoscale) * hourly

    def instance_hours(self, P: Inputs, plan: Plan) -> float:
        return self.hours_at(P, plan.n_peak, plan.n_base, plan.autoscale)

    def aca_parts(self, P: Inputs, sku: VmSku, n_peak: int, n_base: int, n_min: int) -> tuple[dict[str, float], tuple]:
        ph = HOURS_PER_MONTH * PEAK_HOURS_PER_DAY[P.pattern] / 24.0
        ah = HOURS_PER_MONTH * ACTIVE_HOURS_PER_DAY[P.pattern] / 24.0
        active_rh = n_peak * ph + n_base * (ah - ph)
        idle_rh = n_min * (HOURS_PER_MONTH - ah)
        va, vi = sku.vcpu * active_rh * 3600.0, sku.vcpu * idle_rh * 3600.0
        ma, mi = sku.mem_gib * active_rh * 3600.0, sku.mem_gib * idle_rh * 3600.0
        avg = P.avg if P.avg < P.peak else P.peak
        req = avg * SECONDS_PER_MONTH
        if not self.aca_grant_in_tiers:
            # the grant covers the first vCPU-s / GiB-s / requests of the month: active seconds first
            g = self.aca_grant
            gv, gm, gr = float(g["vcpu_seconds"]), float(g["gib_seconds"]), float(g["requests"])
            va_b = max(0.0, va - gv)
            vi_b = max(0.0, vi - max(0.0, gv - va))
            ma_b = max(0.0, ma - gm)
            mi_b = max(0.0, mi - max(0.0, gm - ma))
            req_b = max(0.0, req - gr)
        else:
            va_b, vi_b, ma_b, mi_b, req_b = va, vi, ma, mi, req
        a = self.aca
        parts = {
            "vcpu_active": tiered_cost(va_b, a[ACA_VCPU_ACTIVE][0]),
            "vcpu_idle": tiered_cost(vi_b, a[ACA_VCPU_IDLE][0]),
            "memory_active": tiered_cost(ma_b, a[ACA_MEM_ACTIVE][0]),
            "memory_idle": tiered_cost(mi_b, a[ACA_MEM_IDLE][0]),
            "requests": tiered_cost(req_b, a[ACA_REQUESTS][0]),
        }
        return parts, (va, vi, ma, mi, req, active_rh, idle_rh, ah)

    def aca_monthly(self, P: Inputs, sku: VmSku, n_peak: int, n_base: int, n_min: int) -> float:
        if self.aca_linear is None:  # tiered meters: the general path
            parts, _q = self.aca_parts(P, sku, n_peak, n_base, n_min)
            return sum(parts.values())
        rva, rvi, rma, rmi, rreq = self.aca_linear
        sku_vcpu: float = sku.vcpu
        sku_mem: float = sku.mem_gib
        ph = HOURS_PER_MONTH * PEAK_HOURS_PER_DAY[P.pattern] / 24.0
        ah = HOURS_PER_MONTH * ACTIVE_HOURS_PER_DAY[P.pattern] / 24.0
        active_s = (n_peak * ph + n_base * (ah - ph)) * 3600.0
        idle_s = n_min * (HOURS_PER_MONTH - ah) * 3600.0
        gv, gm, gr = self.aca_grant_vals
        va, vi = sku_vcpu * active_s, sku_vcpu * idle_s
        ma, mi = sku_mem * active_s, sku_mem * idle_s
        avg = P.avg if P.avg < P.peak else P.peak
        req = avg * SECONDS_PER_MONTH - gr
        total = (va - gv) * rva if va > gv else 0.0
        rest = gv - va
        total += ((vi - rest) * rvi if vi > rest else 0.0) if rest > 0 else vi * rvi
        total += (ma - gm) * rma if ma > gm else 0.0
        rest = gm - ma
        total += ((mi - rest) * rmi if mi > rest else 0.0) if rest > 0 else mi * rmi
        if req > 0:
            total += req * rreq
        return total

    def batch_hours(self, rows_month: float, per_row_ms: float, workers: int, nodes: int) -> float:
        work_h = rows_month * per_row_ms / 1000.0 / 3600.0 / (workers * BATCH_UTIL)
        return work_h + self.jobs * nodes * self.startup_h

    def batch_monthly(self, rows_month: float, per_row_ms: float, workers: int, nodes: int, hourly: float) -> float:
        return self.batch_hours(rows_month, per_row_ms, workers, nodes) * hourly

    def batch_node_hours(self, plan: Plan) -> float:
        return self.batch_hours(plan.rows_month, plan.service_ms, plan.workers, plan.n_peak)

    def aks_fixed(self, P: Inputs) -> dict[str, float]:
        if P.existing_aks:
            return {}
        out: dict[str, float] = {}
        prod = P.sla >= 99.9
        nodes = self.sys_nodes_prod if prod else self.sys_nodes
        if self.sys_price[0] is not None:
            out["system_pool"] = nodes * self.sys_price[0] * HOURS_PER_MONTH
        if prod and self.aks_fee[0] is not None:
            out["cluster_fee"] = self.aks_fee[0] * HOURS_PER_MONTH
        return out

    def fixed_monthly(self, P: Inputs, tid: str) -> float:
        """Costs that don't depend on the SKU (AKS system pool and tier fee)."""
        if tid != "aks" or P.existing_aks:
            return 0.0
        prod = P.sla >= 99.9
        v = self._fixed.get(prod)
        if v is None:
            v = sum(self.aks_fixed(P).values())
            self._fixed[prod] = v
        return v

    # ------------------------------------------------------------ totals
    def plan_monthly(self, P: Inputs, target: Target, plan: Plan) -> float:
        """Monthly USD of a plan."""
        tid = target.id
        if tid == "containerapps":
            return self.aca_monthly(P, self.catalog.containerapps_sizes[plan.sku], plan.n_peak, plan.n_base, plan.n_min)
        if tid == "azureml-batch":
            return self.batch_node_hours(plan) * plan.hourly
        return self.instance_hours(P, plan) * plan.hourly + self.fixed_monthly(P, tid)

    def full(self, P: Inputs, target: Target, plan: Plan, explain: bool = True) -> tuple[float, dict[str, float], list[str]]:
        """(monthly USD, breakdown, assumptions)."""
        tid = target.id
        breakdown: dict[str, float] = {}
        notes: list[str] = []
        region = self.region
        snap = f"Retail Prices API snapshot {self.as_of} (USD, Linux, pay-as-you-go)"
        if tid == "containerapps":
            sku_ = self.catalog.containerapps_sizes[plan.sku]
            parts, (va, vi, ma, mi, req, active_rh, idle_rh, ah) = self.aca_parts(P, sku_, plan.n_peak, plan.n_base, plan.n_min)
            breakdown = {k: _r2(v) for k, v in parts.items()}
            total = sum(parts.values())
            if explain:
                sku = self.catalog.containerapps_sizes[plan.sku]
                a = self.aca
                notes.append(f"Prices: {snap}; Container Apps Consumption meters in {self.aca_region}: vCPU "
                             f"{_rate(a[ACA_VCPU_ACTIVE][0][-1][1])}/s active, {_rate(a[ACA_VCPU_IDLE][0][-1][1])}/s "
                             f"idle; memory {_rate(a[ACA_MEM_ACTIVE][0][-1][1])}/GiB-s active, "
                             f"{_rate(a[ACA_MEM_IDLE][0][-1][1])}/GiB-s idle; {_rate(a[ACA_REQUESTS][0][-1][1] * 1e6)} "
                             "per million requests.")
                notes.append(f"Replicas of {fmt(sku.vcpu, 'g')} vCPU / {fmt(sku.mem_gib, 'g')} GiB: "
                             f"{fmt(active_rh, ',.0f')} active replica-hours ({plan.n_peak} at peak for "
                             f"{fmt(PEAK_HOURS_PER_DAY[P.pattern], 'g')} h/day, {plan.n_base} otherwise while "
                             f"traffic flows, traffic {fmt(ACTIVE_HOURS_PER_DAY[P.pattern], 'g')} h/day for a "
                             f"{P.pattern} pattern) and {fmt(idle_rh, ',.0f')} idle replica-hours (min replicas "
                             f"{plan.n_min}).")
                notes.append(f"Usage: {fmt(va, ',.0f')} active + {fmt(vi, ',.0f')} idle vCPU-s, "
                             f"{fmt(ma, ',.0f')} active + {fmt(mi, ',.0f')} idle GiB-s, {fmt(req, ',.0f')} "
                             "requests (average_rps x 2,628,000 s).")
                g = self.aca_grant
                if self.aca_grant_in_tiers:
                    notes.append("The price export's zero-price first tier is taken as the monthly free grant.")
                else:
                    notes.append(f"Free grant per subscription per month: {format(g['vcpu_seconds'], ',')} vCPU-s, "
                                 f"{format(g['gib_seconds'], ',')} GiB-s and {format(g['requests'], ',')} requests "
                                 f"({self.catalog.targets['containerapps'].cite('free_grant')}); assumed unused by "
                                 "other apps in the subscription.")
                if P.stz:
                    notes.append("Scales to zero: no usage charges while no replica runs.")
                if self.aca_region != region:
                    notes.append(f"No Container Apps price for {region} in the snapshot: used {self.aca_region}.")
        elif tid == "azureml-batch":
            nh = self.batch_node_hours(plan)
            total = nh * plan.hourly
            breakdown = {"compute": _r2(total)}
            if explain:
                notes.append(f"Prices: {snap}; {plan.sku} at {_rate(plan.hourly)}/h in {plan.price_region}.")
                notes.append("Rows per month = min(average_rps, peak_rps) x 730 h x 3600 s = "
                             f"{fmt(plan.rows_month, ',.0f')}; {fmt(plan.service_ms, '.3f')} ms per row in "
                             f"mini-batches on each of {plan.workers} worker(s) per node at "
                             f"{fmt(BATCH_UTIL, '.0%')} efficiency.")
                notes.append(f"{fmt(nh, ',.1f')} node-hours a month including {fmt(self.jobs, 'g')} jobs x "
                             f"{plan.n_peak} node(s) x {fmt(self.startup_h, 'g')} h start-up; the cluster scales to "
                             f"zero between jobs ({self.catalog.targets['azureml-batch'].cite('scale_to_zero')}).")
        else:
            ih = self.instance_hours(P, plan)
            compute = ih * plan.hourly
            breakdown = {"compute": _r2(compute)}
            total = compute
            if explain:
                unit = "plan instance" if tid == "appservice" else ("node" if tid == "aks" else "instance")
                notes.append(f"Prices: {snap}; {plan.sku} at {_rate(plan.hourly)} per {unit}-hour in "
                             f"{plan.price_region}.")
                if not plan.autoscale:
                    notes.append(f"{plan.n_peak} {unit}(s) x 730 h/month ({plan.tier} has no autoscale).")
                elif P.pattern == "steady":
                    notes.append(f"{plan.n_peak} {unit}(s) x 730 h/month (steady traffic: sized for peak all month).")
                elif plan.n_base >= plan.n_peak:
                    notes.append(f"{plan.n_peak} {unit}(s) x 730 h/month (the autoscale minimum already covers the "
                                 "peak).")
                else:
                    ph = PEAK_HOURS_PER_DAY[P.pattern]
                    notes.append(f"Autoscale: {plan.n_peak} {unit}(s) for {fmt(ph, 'g')} h/day at peak, "
                                 f"{plan.n_base} for the other {fmt(24 - ph, 'g')} h ({P.pattern} pattern) = "
                                 f"{fmt(ih, ',.1f')} {unit}-hours a month.")
                if tid == "azureml":
                    notes.append("Managed endpoints bill the VMs only, no surcharge "
                                 f"({self.catalog.targets['azureml'].cite('recommended_for')}); the 20% quota reserve "
                                 f"is not billed ({self.catalog.targets['azureml'].cite('quota_reserve')}).")
            if tid == "aks":
                fixed = self.aks_fixed(P)
                for k, v in fixed.items():
                    breakdown[k] = _r2(v)
                    total += v
                if explain:
                    aks = self.catalog.targets["aks"]
                    if P.existing_aks:
                        notes.append("Existing cluster: its system pool and tier fee are already paid; only the new "
                                     "inference node pool is counted.")
                    else:
                        prod = P.sla >= 99.9
                        nodes = self.sys_nodes_prod if prod else self.sys_nodes
                        if self.sys_price[0] is not None:
                            notes.append(f"System node pool: {nodes} x {self.sys_sku.name} at "
                                         f"{_rate(self.sys_price[0])}/h = {_money(fixed.get('system_pool', 0.0))} "
                                         f"({aks.cite('system_pool')}: >= 2 nodes, 3 for production).")
                        if prod and self.aks_fee[0] is not None:
                            notes.append(f"Standard tier Uptime SLA {_rate(self.aks_fee[0])} per cluster-hour x 730 h "
                                         f"= {_money(fixed['cluster_fee'])}, because availability_sla "
                                         f"{fmt(P.sla, 'g')} >= 99.9 needs the financially backed SLA "
                                         f"({aks.cite('sla')}).")
                            if self.aks_fee[1] != region:
                                notes.append(f"No AKS Standard tier price for {region} in the snapshot: used "
                                             f"{self.aks_fee[1]}.")
                        elif not prod:
                            notes.append("Free tier (no cluster fee; no financially backed SLA) because "
                                         f"availability_sla {fmt(P.sla, 'g')} < 99.9 ({aks.cite('sla')}).")
                        if self.sys_price[1] and self.sys_price[1] != region:
                            notes.append(f"No {self.sys_sku.name} price for {region} in the snapshot: used "
                                         f"{self.sys_price[1]}.")
                    if P.network == "on-premises":
                        notes.append("On-premises: your own hardware runs the cluster; the Azure node prices are "
                                     "shown for comparison.")
            if explain and plan.price_region and plan.price_region != region:
                notes.append(f"No {plan.sku} price for {region} in the snapshot: used {plan.price_region}.")
        if explain:
            notes.append("730 hours a month.")
            notes.append(NOT_INCLUDED)
        return total, breakdown, notes


def cost_model(book: PriceBook, region: str, catalog: Catalog) -> CostModel:
    """A CostModel for (book, region), built once and kept on the book."""
    cache = book._cost_models
    cm = cache.get(region)
    if cm is None:
        cm = CostModel(book, region, catalog)
        cache[region] = cm
    return cm


__all__ = ["CostModel", "cost_model", "tiered_cost", "HOURS_PER_MONTH", "SECONDS_PER_MONTH",
           "PEAK_HOURS_PER_DAY", "ACTIVE_HOURS_PER_DAY", "FALLBACK_REGION"]
