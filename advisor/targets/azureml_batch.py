"""Azure ML batch endpoint: asynchronous scoring jobs on a compute cluster that scales to zero between jobs.

Sized by throughput, not by latency: nodes = ceil(peak rows/s / (rows/s per node x 80%)), and billed
for the node-hours the month's rows take plus each job's start-up.
"""
from __future__ import annotations

import math
from typing import Optional

from ..cost import CLOSING_NOTES, r2, rate, snapshot
from ..models import Cost, WorkloadProfile
from ..prices import RegionPrices
from ..sizing import GPU_SPEEDUP, Load, NoFit, Plan, ServiceTime, cheaper, fit
from .base import DATA, CloudTarget

BATCH_UTIL = 0.8  # share of a node's workers kept busy by mini-batches (assumption)


class AzureMLBatch(CloudTarget):
    data_file = DATA / "azureml_batch.yaml"
    memory_usable = 0.8

    def ha_minimum(self, load: Load) -> int:
        return 0  # jobs retry; the cluster scales to zero between them

    def rows_month(self, load: Load) -> float:
        return load.average * 730 * 3600.0

    def node_hours(self, rows_month: float, per_row_ms: float, workers: int, nodes: int) -> float:
        """Hours of compute for the month's rows, plus every job's node start-up."""
        work = rows_month * per_row_ms / 1000.0 / 3600.0 / (workers * BATCH_UTIL)
        return work + float(self.facts.value("jobs_per_month")) * nodes * float(self.facts.value("job_startup_hours"))

    def size(self, load: Load, service: ServiceTime, prices: RegionPrices) -> Plan:
        """The SKU whose node-hours for the month cost least (ties: fewer nodes); GPU 'preferred' tries the GPU
        SKUs first and falls back to CPU."""
        unpriced, too_small, cands = [], [], []
        for sku, gpu_used in self.sku_candidates(load.fit):
            price = prices.hourly("vm", sku.name)
            if price is None:
                unpriced.append(f"{sku.name}: no price in the snapshot")
                continue
            workers, why = fit(sku, gpu_used, load.fit.size_mb, self.memory_usable)
            if not workers:
                too_small.append(why)
                continue
            per_row = service.per_row_ms / GPU_SPEEDUP.get(sku.gpu_model, 5.0) if gpu_used else service.per_row_ms
            cands.append((sku, gpu_used, workers, per_row, price))
        if load.gpu == "preferred" and any(c[1] for c in cands):
            plan = self.choose(load, [c for c in cands if c[0].is_gpu])
            if plan is not None:
                return plan
            cands = [c for c in cands if not c[0].is_gpu]
        plan = self.choose(load, cands)
        if plan is None:
            reasons = (unpriced + too_small)[-1:]
            raise NoFit(reasons[0] if reasons else "no SKU of this target applies")
        return plan

    def choose(self, load: Load, cands: list[tuple]) -> Optional[Plan]:
        """The cheapest of (sku, gpu_used, workers, ms per row, (hourly, price region)) candidates."""
        peak, rows = load.peak_rps, self.rows_month(load)
        best: Optional[tuple] = None
        for sku, gpu_used, workers, per_row, price in cands:
            node_rps = workers * 1000.0 / per_row
            nodes = max(1, math.ceil(peak / (node_rps * BATCH_UTIL) - 1e-9)) if peak > 0 else 1
            cost = self.node_hours(rows, per_row, workers, nodes) * price[0]
            if cheaper(cost, nodes, best and (best[0], best[1])):
                best = (cost, nodes, sku, gpu_used, workers, per_row, price)
        if best is None:
            return None
        cost, nodes, sku, gpu_used, workers, per_row, (hourly, region) = best
        cores = int(math.ceil(sku.vcpu))
        limit = int(self.facts.value("max_instances"))
        return Plan(target=self.id, sku=sku.name, vcpu=sku.vcpu, mem_gib=sku.mem_gib, gpus=sku.gpus,
                    gpu_model=sku.gpu_model, gpu_used=gpu_used, workers=workers, service_ms=per_row, hourly=hourly,
                    price_region=region, limit=limit, autoscale=True, tier="", c_peak=nodes * workers, c_base=0,
                    latency_met=True, n_peak=nodes, n_min=0, n_max=nodes, n_base=0, usage_usd=cost,
                    over_limit=nodes > limit, batch=True, rows_month=rows, quota_cores=nodes * cores,
                    quota_cores_max=nodes * cores)

    def monthly_cost(self, profile: WorkloadProfile, plan: Plan, prices: RegionPrices) -> Cost:
        f = self.facts
        hours = self.node_hours(plan.rows_month, plan.service_ms, plan.workers, plan.n_peak)
        total = hours * plan.hourly
        notes = [f"Prices: {snapshot(prices)}; {plan.sku} at {rate(plan.hourly)}/h in {plan.price_region}.",
                 f"Rows per month = min(average_rps, peak_rps) x 730 h x 3600 s = {plan.rows_month:,.0f}; "
                 f"{plan.service_ms:.3f} ms per row in mini-batches on each of {plan.workers} worker(s) per node at "
                 f"{BATCH_UTIL:.0%} efficiency.",
                 f"{hours:,.1f} node-hours a month including {f.value('jobs_per_month'):g} jobs x {plan.n_peak} node(s) "
                 f"x {f.value('job_startup_hours'):g} h start-up; the cluster scales to zero between jobs "
                 f"({f.cite('scale_to_zero')})."]
        return Cost(monthly_usd=r2(total), breakdown={"compute": r2(total)}, assumptions=notes + list(CLOSING_NOTES))

    def notes(self, profile: WorkloadProfile, plan: Plan) -> list[str]:
        node_rps = plan.workers * 1000.0 / plan.service_ms
        notes = [f"Per row in mini-batches: {plan.service_ms:.3f} ms per worker; {plan.workers} worker(s) per "
                 f"{plan.sku} node = {node_rps:,.0f} rows/s per node.",
                 f"Nodes = ceil({profile.inference.peak_rps:g} rows/s / ({node_rps:,.0f} x {BATCH_UTIL:.0%})) = "
                 f"{plan.n_peak}; the cluster scales to 0 between jobs (min 0, max {plan.n_max})."]
        if plan.over_limit:
            notes.append(f"More than {plan.limit} nodes: check your core quota before relying on this size.")
        return notes
