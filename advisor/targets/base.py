"""What the built-in targets share: facts from a YAML file, and always-on instance sizing and cost.

`CloudTarget` loads a target's data file (its facts with their sources and its rows of the table
criteria) and applies the generic hard constraints. `InstanceTarget` adds the sizing and cost of a
target that runs whole instances billed by the hour (managed endpoint, AKS node pool, App Service
plan); a subclass states only what differs: its SKUs, availability minimum, limits and extra costs.
"""
from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Optional, Sequence

from ..catalog import Facts, VmSku, read_sources, read_yaml, skus, sources
from ..cost import CLOSING_NOTES, PEAK_HOURS_PER_DAY, instance_hours, r2, rate, snapshot
from ..criteria import hard_reasons
from ..models import Cost, WorkloadProfile
from ..prices import RegionPrices
from ..lifecycle import ha_minimum, headroom, second_deployment, second_deployment_instances
from ..sizing import (GPU_FRAMEWORKS, GPU_SPEEDUP, HEADROOM, Candidate, Fit, Load, NoFit, Plan, ServiceTime, cheaper,
                      effective_service_ms, instances, make_plan, no_fit_reason, servers)
from ..sizing import fit as fits

DATA = Path(__file__).resolve().parents[1] / "data" / "targets"


class CloudTarget:
    """A target described by a YAML file (id, title, purpose, facts, scores); see advisor/targets/__init__.py."""

    data_file: Path  # set by each subclass

    def __init__(self) -> None:
        raw = read_yaml(self.data_file)
        known = {**sources(), **read_sources(raw.get("sources"))}
        self.id: str = raw["id"]
        self.title: str = raw["title"]
        self.purpose: str = raw["purpose"]
        self.facts = Facts(self.id, raw["facts"], known, raw.get("scores"))

    def constraints(self, profile: WorkloadProfile) -> list[str]:
        return hard_reasons(profile, self)

    def ha_minimum(self, load: Load) -> int:
        """The one availability rule every target shares (advisor/lifecycle.py): 3 instances over the zones
        from 99.9 %, 2 from 99 %, else 1."""
        return ha_minimum(load.availability_sla)

    def sku_candidates(self, fit: Fit) -> list[tuple[VmSku, bool]]:
        """The target's VM sizes; GPU 'required' keeps GPU sizes only, whose GPU is used when the framework can."""
        accel = fit.framework in GPU_FRAMEWORKS
        table = skus().vm
        out = []
        for name in self.facts.value("skus"):
            sku = table[name]
            if fit.gpu == "required" and not sku.is_gpu:
                continue
            out.append((sku, sku.is_gpu and accel))
        return out

    def fixed_costs(self, profile: WorkloadProfile, prices: RegionPrices) -> dict[str, float]:
        return {}

    def notes(self, profile: WorkloadProfile, plan: Plan) -> list[str]:
        return []


def beats(k: Candidate, c: Candidate) -> bool:
    """Whether k serves at least as well as c for no more money per hour, whatever the load: the same service
    time, at least as many workers, a limit and autoscale at least as good. Then c can never be chosen (on a tie
    the earlier SKU wins anyway)."""
    return (k.service_ms == c.service_ms and k.hourly <= c.hourly and k.workers >= c.workers and k.limit >= c.limit
            and k.autoscale >= c.autoscale)


class InstanceTarget(CloudTarget):
    """A target of whole instances billed per instance-hour; the cheapest SKU that serves the peak wins."""

    unit = "instance"  # what one instance is called in the cost notes
    strict_limit = False  # True: a plan above the instance limit is not offered at all
    memory_usable = 0.8  # share of an instance's memory left to the serving workers (assumption)
    #: the monthly cost is instance-hours x the hourly price, so a SKU beaten on every count can be dropped
    hourly_billing = True

    # ------------------------------------------------------------ what a subclass may change
    def price(self, sku: VmSku, prices: RegionPrices) -> Optional[tuple[float, str]]:
        """(USD per instance-hour, region of the price), or None when the snapshot has none."""
        return prices.hourly("vm", sku.name)

    def limits(self, sku: VmSku) -> tuple[int, bool, str]:
        """(most instances, whether it autoscales, tier name) on this SKU."""
        return int(self.facts.value("max_instances")), True, ""

    def quota_cores(self, sku: VmSku, n_peak: int, n_max: int) -> tuple[Optional[int], Optional[int]]:
        """Cores of quota a plan needs at peak and at the autoscale max (None: no core quota applies)."""
        return None, None

    def cost_notes(self, profile: WorkloadProfile, plan: Plan, prices: RegionPrices) -> list[str]:
        """Assumptions of this target's own meters and fixed costs."""
        return []

    # ------------------------------------------------------------ sizing
    @lru_cache(maxsize=1024)
    def candidates(self, fit: Fit, service: ServiceTime, prices: RegionPrices) -> tuple[tuple[Candidate, ...], tuple[str, ...]]:
        """The priced SKUs that hold the model, with workers and service time; and why the others do not.
        Memoised on its whole input: a change of traffic alone keeps the candidates."""
        unpriced: list[str] = []
        too_small: list[str] = []
        out: list[Candidate] = []
        for sku, gpu_used in self.sku_candidates(fit):
            price = self.price(sku, prices)
            if price is None:
                unpriced.append(f"{sku.name}: no price in the snapshot")
                continue
            workers, why = fits(sku, gpu_used, fit.size_mb, self.memory_usable)
            if not workers:
                too_small.append(why)
                continue
            speedup = GPU_SPEEDUP.get(sku.gpu_model, 5.0) if gpu_used else 1.0
            limit, autoscale, tier = self.limits(sku)
            c = Candidate(sku, gpu_used, workers, service.cpu_ms / speedup, price[0], price[1], limit, autoscale, tier)
            if not (self.hourly_billing and any(beats(k, c) for k in out)):
                out.append(c)
        return tuple(out), tuple(unpriced + too_small)

    def size(self, load: Load, service: ServiceTime, prices: RegionPrices) -> Plan:
        """The cheapest plan; GPU 'preferred' tries the GPU SKUs first and falls back to CPU."""
        cands, reasons = self.candidates(load.fit, service, prices)
        if load.gpu == "preferred" and any(c.gpu_used for c in cands):
            plan = self.choose(load, [c for c in cands if c.sku.is_gpu], prices, [])
            if plan is not None:
                return plan
            cands = tuple(c for c in cands if not c.sku.is_gpu)
        skipped: list[tuple[Candidate, int]] = []
        plan = self.choose(load, cands, prices, skipped)
        if plan is None:
            raise NoFit(no_fit_reason(skipped, list(reasons), self.facts.short("max_instances")))
        return plan

    def floor(self, load: Load, c: Candidate, c_base: int, ha: int, n_peak: int) -> tuple[int, int]:
        """(autoscale minimum, instances outside the busy hours) for a candidate."""
        n_min = min(instances(c_base, c.workers, ha), n_peak)
        return (n_min, n_min) if c.autoscale else (n_peak, n_peak)

    def usage_cost(self, load: Load, c: Candidate, n_peak: int, n_base: int, n_min: int, prices: RegionPrices) -> float:
        """Monthly USD of running this candidate (the SKU-dependent part), its rollout's second deployment
        included."""
        hours = instance_hours(load.pattern, n_peak, n_base, c.autoscale, load.busy, n_min)
        return (hours + self.rollout_hours(load.fit.rollout, n_peak)[0]) * c.hourly

    def rollout_hours(self, rollout: str, n_peak: int) -> tuple[float, str]:
        """(instance-hours a month, why) of the second deployment a rollout runs: none where deployment slots
        share the plan's instances, a mirror only where the target mirrors traffic (advisor/lifecycle.py)."""
        if rollout == "simple":
            return 0.0, ""
        modes = self.facts.value("rollout") or {}
        if modes.get("slots"):
            return 0.0, (f"{rollout}: the staging slot runs on the same plan's instances - no extra cost, but it shares "
                         f"their capacity while it runs ({self.facts.short('rollout')}).")
        second = second_deployment(rollout, can_mirror=bool(modes.get("mirror")))
        n = second_deployment_instances(n_peak, second.share)
        if not n:
            return 0.0, ""
        return n * second.hours, (f"Rollout: {second.why}: {n} {self.unit}(s) x {second.hours:g} h a month; it needs "
                                  f"its own quota while it runs ({self.facts.short('rollout')}).")

    def choose(self, load: Load, cands: Sequence[Candidate], prices: RegionPrices,
               skipped: list[tuple[Candidate, int]]) -> Optional[Plan]:
        """The cheapest candidate for this load (ties: fewer instances, then catalog order); candidates above a
        strict instance limit go to `skipped` with their instance count."""
        ha = self.ha_minimum(load)
        best: Optional[tuple] = None
        best_met: Optional[tuple] = None  # the cheapest that meets the p95 target wins over a cheaper one that misses
        for c in cands:
            held = effective_service_ms(load, c.service_ms)
            if held != c.service_ms:  # a long request holds its worker for its whole duration
                c = replace(c, service_ms=held)
            c_peak, met, c_base = servers(load, c.service_ms)
            n_peak = instances(c_peak, c.workers, ha)
            if self.strict_limit and n_peak > c.limit:
                skipped.append((c, n_peak))
                continue
            n_min, n_base = self.floor(load, c, c_base, ha, n_peak)
            cost = self.usage_cost(load, c, n_peak, n_base, n_min, prices)
            if cheaper(cost, n_peak, best and (best[0], best[1])):
                best = (cost, n_peak, c, c_peak, met, c_base, n_min, n_base)
            if met and cheaper(cost, n_peak, best_met and (best_met[0], best_met[1])):
                best_met = (cost, n_peak, c, c_peak, met, c_base, n_min, n_base)
        best = best_met or best
        if best is None:
            return None
        cost, n_peak, c, c_peak, met, c_base, n_min, n_base = best
        return make_plan(self.id, c, c_peak, met, c_base, n_peak, n_min, n_base, cost, self.quota_cores,
                         max(HEADROOM, headroom(load.measured)))

    # ------------------------------------------------------------ cost
    def monthly_cost(self, profile: WorkloadProfile, plan: Plan, prices: RegionPrices) -> Cost:
        pattern, unit = profile.inference.pattern, self.unit
        load = Load.of(profile)
        hours = instance_hours(pattern, plan.n_peak, plan.n_base, plan.autoscale, load.busy, plan.n_min)
        total = hours * plan.hourly
        breakdown = {"compute": r2(total)}
        notes = [f"Prices: {snapshot(prices)}; {plan.sku} at {rate(plan.hourly)} per {unit}-hour in {plan.price_region}."]
        extra_hours, why = self.rollout_hours(profile.operations.rollout, plan.n_peak)
        if extra_hours:
            breakdown["rollout (second deployment)"] = r2(extra_hours * plan.hourly)
            total += extra_hours * plan.hourly
        if why:
            notes.append(why)
        sched = profile.scale.schedule
        if sched is not None and plan.autoscale:
            notes.append(f"Schedule: busy {sched.days} {sched.hours} ({sched.timezone}), {load.busy:.0%} of the week; "
                         f"outside it the autoscale minimum of {plan.n_min} {unit}(s) runs (a scheduled autoscale rule) "
                         f"= {hours:,.1f} {unit}-hours a month.")
        elif not plan.autoscale:
            notes.append(f"{plan.n_peak} {unit}(s) x 730 h/month ({plan.tier} has no autoscale"
                         f"{', so the schedule cannot scale it in' if sched is not None else ''}).")
        elif pattern == "steady":
            notes.append(f"{plan.n_peak} {unit}(s) x 730 h/month (steady traffic: sized for peak all month).")
        elif plan.n_base >= plan.n_peak:
            notes.append(f"{plan.n_peak} {unit}(s) x 730 h/month (the autoscale minimum already covers the peak).")
        else:
            ph = PEAK_HOURS_PER_DAY[pattern]
            notes.append(f"Autoscale: {plan.n_peak} {unit}(s) for {ph:g} h/day at peak, {plan.n_base} for the other "
                         f"{24 - ph:g} h ({pattern} pattern) = {hours:,.1f} {unit}-hours a month.")
        for item, usd in self.fixed_costs(profile, prices).items():
            breakdown[item] = r2(usd)
            total += usd
        notes += self.cost_notes(profile, plan, prices)
        if plan.price_region and plan.price_region != prices.region:
            notes.append(f"No {plan.sku} price for {prices.region} in the snapshot: used {plan.price_region}.")
        return Cost(monthly_usd=r2(total), breakdown=breakdown, assumptions=notes + list(CLOSING_NOTES))


__all__ = ["CloudTarget", "InstanceTarget", "NoFit", "DATA"]
