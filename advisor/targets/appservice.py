"""Azure App Service (Linux container): the model inside a containerised web API on an App Service plan."""
from __future__ import annotations

from typing import Optional

from ..catalog import VmSku, skus
from ..cost import HOURS_PER_MONTH, money, r2
from ..lifecycle import ha_minimum
from ..models import Cost, WorkloadProfile
from ..prices import RegionPrices, plan_key
from ..sizing import Candidate, Fit, Load, Plan
from .base import DATA, InstanceTarget


class AppService(InstanceTarget):
    data_file = DATA / "appservice.yaml"
    unit = "plan instance"
    strict_limit = True  # Basic 3, Standard 10, Premium v3 30 instances

    def sku_candidates(self, fit: Fit) -> list[tuple[VmSku, bool]]:
        """Plans, on CPU only."""
        return [(skus().appservice_plans[name], False) for name in self.facts.value("skus")]

    def permits(self, load: Load, sku: VmSku) -> bool:
        """A rollout other than a simple replace needs deployment slots (Standard and above); 99.95% needs zone
        redundancy (Premium v3)."""
        if load.rollout != "simple" and not skus().appservice_tiers[sku.tier].slots:
            return False
        return load.availability_sla < 99.95 or sku.tier == "PremiumV3"

    def price(self, sku: VmSku, prices: RegionPrices) -> Optional[tuple[float, str]]:
        return prices.hourly("appservice", plan_key(sku.name))

    def limits(self, sku: VmSku) -> tuple[int, bool, str]:
        tier = skus().appservice_tiers[sku.tier]
        return tier.max_instances, tier.autoscale, tier.name

    def paid_already(self, load: Load, hourly: float) -> float:
        """USD a month the team's existing plan already pays: the instances it runs (assumed: the availability
        minimum, of this size, with room for the model). Apps on one plan share its instances."""
        return ha_minimum(load.availability_sla) * HOURS_PER_MONTH * hourly if load.existing_plan else 0.0

    def usage_cost(self, load: Load, c: Candidate, n_peak: int, n_base: int, n_min: int, prices: RegionPrices) -> float:
        """The marginal cost on an existing plan; the whole plan otherwise."""
        full = super().usage_cost(load, c, n_peak, n_base, n_min, prices)
        return max(0.0, full - self.paid_already(load, c.hourly))

    def monthly_cost(self, profile: WorkloadProfile, plan: Plan, prices: RegionPrices) -> Cost:
        cost = super().monthly_cost(profile, plan, prices)
        paid = min(self.paid_already(Load.of(profile), plan.hourly), cost.breakdown["compute"])
        if not paid:
            return cost
        n = ha_minimum(profile.scale.availability_sla)
        note = (f"Existing App Service plan: assumed to run {n} {plan.sku} instance(s) already with room for the "
                f"model (apps on one plan share its instances), so only the capacity beyond them is priced; "
                f"{money(paid)} a month is already paid ({self.facts.short('skus')}).")
        return Cost(monthly_usd=r2(cost.monthly_usd - paid), breakdown={**cost.breakdown,
                    "compute": r2(cost.breakdown["compute"] - paid)}, assumptions=[note, *cost.assumptions])

    def notes(self, profile: WorkloadProfile, plan: Plan) -> list[str]:
        rollout = profile.operations.rollout
        if rollout == "simple":
            return []
        return [f"Rollout '{rollout}' needs deployment slots: Standard tier or above ({self.facts.short('rollout')})."]
