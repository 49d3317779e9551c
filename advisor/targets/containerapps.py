"""Azure Container Apps (Consumption): serverless containers, HTTP-scaled replicas, scale to zero.

Priced by usage, not by the hour: vCPU-seconds and GiB-seconds (active and idle rates) plus requests,
less the monthly free grant. Replicas are active while traffic flows (the pattern's active hours) and
idle otherwise at the autoscale minimum.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Optional

from ..catalog import VmSku, skus
from ..cost import ACTIVE_HOURS_PER_DAY, CLOSING_NOTES, HOURS_PER_MONTH, PEAK_HOURS_PER_DAY, SECONDS_PER_MONTH, r2, rate, snapshot
from ..models import Cost, WorkloadProfile
from ..prices import ACA_METERS, RegionPrices
from ..sizing import Candidate, Fit, Load, NoFit, Plan
from .base import DATA, InstanceTarget

VCPU_ACTIVE, VCPU_IDLE, MEMORY_ACTIVE, MEMORY_IDLE, REQUESTS = ACA_METERS


def tiered_cost(quantity: float, tiers: tuple) -> float:
    """Cost of `quantity` units under tiers ((min_units, price), ...) sorted by min_units."""
    total = 0.0
    for i, (lo, price) in enumerate(tiers):
        hi = tiers[i + 1][0] if i + 1 < len(tiers) else math.inf
        if quantity <= lo:
            break
        total += (min(quantity, hi) - lo) * price
    return total


COLD_START_MS = 5000.0  # a p95 target this loose absorbs a replica's cold start (assumption)


class ContainerApps(InstanceTarget):
    data_file = DATA / "containerapps.yaml"
    unit = "replica"
    memory_usable = 0.9
    hourly_billing = False  # vCPU-seconds and GiB-seconds less a free grant: not proportional to an hourly price

    def ha_minimum(self, load: Load) -> int:
        """Min replicas 0 when scale to zero is asked, or where the pattern allows it (sporadic traffic, no
        HA SLA, a p95 target that absorbs a cold start); else the shared availability rule."""
        if load.scale_to_zero or (load.pattern == "sporadic" and load.availability_sla < 99.9
                                  and load.p95_latency_ms >= COLD_START_MS):
            return 0
        return super().ha_minimum(load)

    def sku_candidates(self, fit: Fit) -> list[tuple[VmSku, bool]]:
        """Whole-vCPU replica sizes on CPU. Serverless GPU replicas are GA, but the price snapshot has no
        GPU-second meter, so a GPU-required workload is not sized here (it says so)."""
        if fit.gpu == "required":
            raise NoFit("serverless GPUs (T4, A100) are generally available in this region, but the price snapshot "
                        "has no GPU-second meter, so the advisor cannot size or price them; see "
                        f"{self.facts.cite('gpu')}")
        return [(skus().containerapps[name], False) for name in self.facts.value("skus")]

    @lru_cache(maxsize=64)
    def meters(self, prices: RegionPrices) -> Optional[dict[str, tuple]]:
        """{meter: tiers ((min units, USD per unit), ...)}, or None when the snapshot lacks one (read once per
        region's prices)."""
        got = {m: prices.get("aca", m)[0] for m in ACA_METERS}
        return None if any(v is None for v in got.values()) else got

    def price(self, sku: VmSku, prices: RegionPrices) -> Optional[tuple[float, str]]:
        """An active replica-hour at the top tier's rates (what the candidates are compared by before usage)."""
        m = self.meters(prices)
        if m is None:
            return None
        hourly = sku.vcpu * m[VCPU_ACTIVE][-1][1] * 3600.0 + sku.mem_gib * m[MEMORY_ACTIVE][-1][1] * 3600.0
        return hourly, prices.get("aca", VCPU_ACTIVE)[1]

    def floor(self, load: Load, c: Candidate, c_base: int, ha: int, n_peak: int) -> tuple[int, int]:
        """Scale to zero: min replicas 0, and while traffic flows the replicas the average rate needs."""
        n_min, n_base = super().floor(load, c, c_base, ha, n_peak)
        if load.scale_to_zero:
            return 0, min(max(-(-c_base // c.workers), 1), n_peak)
        return n_min, n_base

    def usage(self, load: Load, sku: VmSku, n_peak: int, n_base: int, n_min: int,
              prices: RegionPrices) -> tuple[dict[str, float], dict[str, float]]:
        """({breakdown item: USD}, {quantity: amount}) of a month of replicas."""
        pattern = load.pattern
        ph = HOURS_PER_MONTH * PEAK_HOURS_PER_DAY[pattern] / 24.0
        ah = HOURS_PER_MONTH * ACTIVE_HOURS_PER_DAY[pattern] / 24.0
        active_rh = load.busy * (n_peak * ph + n_base * (ah - ph))  # outside a busy-hours schedule: no traffic
        idle_rh = n_min * (HOURS_PER_MONTH - load.busy * ah)
        q = {"vcpu_active": sku.vcpu * active_rh * 3600.0, "vcpu_idle": sku.vcpu * idle_rh * 3600.0,
             "memory_active": sku.mem_gib * active_rh * 3600.0, "memory_idle": sku.mem_gib * idle_rh * 3600.0,
             "requests": load.average * SECONDS_PER_MONTH,
             "active_rh": active_rh, "idle_rh": idle_rh}
        m = self.meters(prices)
        assert m is not None  # (a candidate exists only when every meter is priced)
        billed = dict(q)
        if not self.grant_in_tiers(m):
            # the grant covers the first vCPU-s / GiB-s / requests of the month: active seconds first
            g = self.facts.value("free_grant")
            gv, gm, gr = float(g["vcpu_seconds"]), float(g["gib_seconds"]), float(g["requests"])
            billed["vcpu_active"] = max(0.0, q["vcpu_active"] - gv)
            billed["vcpu_idle"] = max(0.0, q["vcpu_idle"] - max(0.0, gv - q["vcpu_active"]))
            billed["memory_active"] = max(0.0, q["memory_active"] - gm)
            billed["memory_idle"] = max(0.0, q["memory_idle"] - max(0.0, gm - q["memory_active"]))
            billed["requests"] = max(0.0, q["requests"] - gr)
        parts = {"vcpu_active": tiered_cost(billed["vcpu_active"], m[VCPU_ACTIVE]),
                 "vcpu_idle": tiered_cost(billed["vcpu_idle"], m[VCPU_IDLE]),
                 "memory_active": tiered_cost(billed["memory_active"], m[MEMORY_ACTIVE]),
                 "memory_idle": tiered_cost(billed["memory_idle"], m[MEMORY_IDLE]),
                 "requests": tiered_cost(billed["requests"], m[REQUESTS])}
        return parts, q

    @staticmethod
    def grant_in_tiers(m: dict[str, tuple]) -> bool:
        """A zero-price first tier means the price export already encodes the free grant."""
        return len(m[VCPU_ACTIVE]) > 1 and m[VCPU_ACTIVE][0][1] == 0.0

    def usage_cost(self, load: Load, c: Candidate, n_peak: int, n_base: int, n_min: int, prices: RegionPrices) -> float:
        """Replicas' usage plus the rollout's second revision, billed as active replica-hours."""
        return (sum(self.usage(load, c.sku, n_peak, n_base, n_min, prices)[0].values())
                + self.rollout_hours(load.fit.rollout, n_peak)[0] * c.hourly)

    def monthly_cost(self, profile: WorkloadProfile, plan: Plan, prices: RegionPrices) -> Cost:
        sku = skus().containerapps[plan.sku]
        parts, q = self.usage(Load.of(profile), sku, plan.n_peak, plan.n_base, plan.n_min, prices)
        m = self.meters(prices)
        assert m is not None
        region = prices.get("aca", VCPU_ACTIVE)[1]
        pattern = profile.inference.pattern
        notes = [f"Prices: {snapshot(prices)}; Container Apps Consumption meters in {region}: vCPU "
                 f"{rate(m[VCPU_ACTIVE][-1][1])}/s active, {rate(m[VCPU_IDLE][-1][1])}/s idle; memory "
                 f"{rate(m[MEMORY_ACTIVE][-1][1])}/GiB-s active, {rate(m[MEMORY_IDLE][-1][1])}/GiB-s idle; "
                 f"{rate(m[REQUESTS][-1][1] * 1e6)} per million requests.",
                 f"Replicas of {sku.vcpu:g} vCPU / {sku.mem_gib:g} GiB: {q['active_rh']:,.0f} active replica-hours "
                 f"({plan.n_peak} at peak for {PEAK_HOURS_PER_DAY[pattern]:g} h/day, {plan.n_base} otherwise while "
                 f"traffic flows, traffic {ACTIVE_HOURS_PER_DAY[pattern]:g} h/day for a {pattern} pattern) and "
                 f"{q['idle_rh']:,.0f} idle replica-hours (min replicas {plan.n_min}).",
                 f"Usage: {q['vcpu_active']:,.0f} active + {q['vcpu_idle']:,.0f} idle vCPU-s, {q['memory_active']:,.0f} "
                 f"active + {q['memory_idle']:,.0f} idle GiB-s, {q['requests']:,.0f} requests (average_rps x 2,628,000 s)."]
        if self.grant_in_tiers(m):
            notes.append("The price export's zero-price first tier is taken as the monthly free grant.")
        else:
            g = self.facts.value("free_grant")
            notes.append(f"Free grant per subscription per month: {g['vcpu_seconds']:,} vCPU-s, {g['gib_seconds']:,} "
                         f"GiB-s and {g['requests']:,} requests ({self.facts.cite('free_grant')}); assumed unused by "
                         "other apps in the subscription.")
        extra_hours, why = self.rollout_hours(profile.operations.rollout, plan.n_peak)
        if extra_hours:
            parts["rollout (second revision)"] = extra_hours * plan.hourly
        if why:
            notes.append(why.replace("deployment", "revision") + " Billed as active replica-hours.")
        if profile.scale.schedule is not None:
            sched = profile.scale.schedule
            notes.append(f"Schedule: busy {sched.days} {sched.hours} ({sched.timezone}); no traffic outside it, where "
                         f"the minimum of {plan.n_min} replica(s) idles.")
        if profile.scale.scale_to_zero:
            notes.append("Scales to zero: no usage charges while no replica runs.")
        if region != prices.region:
            notes.append(f"No Container Apps price for {prices.region} in the snapshot: used {region}.")
        return Cost(monthly_usd=r2(sum(parts.values())), breakdown={k: r2(v) for k, v in parts.items()},
                    assumptions=notes + list(CLOSING_NOTES))
