"""Azure App Service (Linux container): the model inside a containerised web API on an App Service plan."""
from __future__ import annotations

from typing import Optional

from ..catalog import VmSku, skus
from ..models import WorkloadProfile
from ..prices import RegionPrices
from ..sizing import Fit, Load, Plan
from .base import DATA, InstanceTarget


class AppService(InstanceTarget):
    data_file = DATA / "appservice.yaml"
    unit = "plan instance"
    strict_limit = True  # Basic 3, Standard 10, Premium v3 30 instances

    def ha_minimum(self, load: Load) -> int:
        """Two instances so one can fail or restart; three (one per zone) for zone redundancy at 99.95%."""
        sla = load.availability_sla
        if sla >= 99.95:
            return int(self.facts.value("zone_min_instances"))
        return int(self.facts.value("ha_min_instances")) if sla >= 99.9 else 1

    def sku_candidates(self, fit: Fit) -> list[tuple[VmSku, bool]]:
        """Plans on CPU only; a rollout other than a simple replace needs deployment slots (Standard and above),
        99.95% needs zone redundancy (Premium v3)."""
        table = skus()
        out = []
        for name in self.facts.value("skus"):
            plan = table.appservice_plans[name]
            if fit.rollout != "simple" and not table.appservice_tiers[plan.tier].slots:
                continue
            if fit.availability_sla >= 99.95 and plan.tier != "PremiumV3":
                continue
            out.append((plan, False))
        return out

    def price(self, sku: VmSku, prices: RegionPrices) -> Optional[tuple[float, str]]:
        return prices.hourly("appservice", sku.name)

    def limits(self, sku: VmSku) -> tuple[int, bool, str]:
        tier = skus().appservice_tiers[sku.tier]
        return tier.max_instances, tier.autoscale, tier.name

    def notes(self, profile: WorkloadProfile, plan: Plan) -> list[str]:
        rollout = profile.operations.rollout
        if rollout == "simple":
            return []
        return [f"Rollout '{rollout}' needs deployment slots: Standard tier or above ({self.facts.short('rollout')})."]
