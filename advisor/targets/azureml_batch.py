"""Azure ML batch endpoint: asynchronous scoring jobs on a compute cluster that scales to zero between jobs.

Sized by throughput, not by latency: nodes = ceil(peak rows/s / (rows/s per node x 80%)), and billed
for the node-hours the month's rows take plus each job's start-up. The SKU candidates are the shared
ones (advisor/targets/base.py), with a row inside a mini-batch as the unit of work.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

from ..cost import CLOSING_NOTES, r2, rate, snapshot
from ..models import Cost, WorkloadProfile
from ..prices import RegionPrices
from ..sizing import Candidate, Load, Plan, ServiceTime, cheaper
from .base import DATA, InstanceTarget

BATCH_UTIL = 0.8  # share of a node's workers kept busy by mini-batches (assumption)


class AzureMLBatch(InstanceTarget):
    data_file = DATA / "azureml_batch.yaml"
    unit = "node"
    hourly_billing = False  # node-hours depend on the rows and the job start-ups, not on instances alone

    def ha_minimum(self, load: Load) -> int:
        return 0  # jobs retry; the cluster scales to zero between them

    def per_request_ms(self, service: ServiceTime) -> float:
        """A row scored inside a mini-batch (far cheaper than a request of its own)."""
        return service.per_row_ms

    def rows_month(self, load: Load) -> float:
        return load.average * 730 * 3600.0

    def node_hours(self, rows_month: float, per_row_ms: float, workers: int, nodes: int) -> float:
        """Hours of compute for the month's rows, plus every job's node start-up."""
        work = rows_month * per_row_ms / 1000.0 / 3600.0 / (workers * BATCH_UTIL)
        return work + float(self.facts.value("jobs_per_month")) * nodes * float(self.facts.value("job_startup_hours"))

    def choose(self, load: Load, cands: Sequence[Candidate], prices: RegionPrices,
               skipped: list[tuple[Candidate, int]]) -> Optional[Plan]:
        """The SKU whose node-hours for the month cost least (ties: fewer nodes), sized for the peak row rate."""
        peak, rows = load.peak_rps, self.rows_month(load)
        best: Optional[tuple] = None
        for c in cands:
            node_rps = c.workers * 1000.0 / c.service_ms
            nodes = max(1, math.ceil(peak / (node_rps * BATCH_UTIL) - 1e-9)) if peak > 0 else 1
            cost = self.node_hours(rows, c.service_ms, c.workers, nodes) * c.hourly
            if cheaper(cost, nodes, best and (best[0], best[1])):
                best = (cost, nodes, c)
        if best is None:
            return None
        cost, nodes, c = best
        sku, cores = c.sku, int(math.ceil(c.sku.vcpu))
        return Plan(target=self.id, sku=sku.name, vcpu=sku.vcpu, mem_gib=sku.mem_gib, gpus=sku.gpus,
                    gpu_model=sku.gpu_model, gpu_used=c.gpu_used, workers=c.workers, service_ms=c.service_ms,
                    hourly=c.hourly, price_region=c.price_region, limit=c.limit, autoscale=True, tier="",
                    c_peak=nodes * c.workers, c_base=0, latency_met=True, n_peak=nodes, n_min=0, n_max=nodes,
                    n_base=0, usage_usd=cost, over_limit=nodes > c.limit, batch=True, rows_month=rows,
                    quota_cores=nodes * cores, quota_cores_max=nodes * cores)

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
