"""Azure ML managed online endpoint: Azure ML runs the VMs, the serving stack, monitoring and safe rollout."""
from __future__ import annotations

import math
from typing import Optional

from ..catalog import VmSku, skus
from ..models import WorkloadProfile
from ..prices import RegionPrices
from ..sizing import Load, Plan
from .base import DATA, InstanceTarget


class AzureML(InstanceTarget):
    data_file = DATA / "azureml.yaml"

    def quota_cores(self, sku: VmSku, n_peak: int, n_max: int) -> tuple[Optional[int], Optional[int]]:
        """ceil(1.2 x instances) x cores must be free (the 20% reserve), unless the SKU is exempt from it."""
        cores = int(math.ceil(sku.vcpu))
        if sku.quota_exempt:
            return n_peak * cores, n_max * cores
        factor = 1.0 + float(self.facts.value("quota_reserve"))
        return math.ceil(factor * n_peak - 1e-9) * cores, math.ceil(factor * n_max - 1e-9) * cores

    def cost_notes(self, profile: WorkloadProfile, plan: Plan, prices: RegionPrices) -> list[str]:
        return [f"Managed endpoints bill the VMs only, no surcharge ({self.facts.cite('recommended_for')}); the 20% "
                f"quota reserve is not billed ({self.facts.cite('quota_reserve')})."]

    def notes(self, profile: WorkloadProfile, plan: Plan) -> list[str]:
        f = self.facts
        sku = skus().vm[plan.sku]
        if sku.quota_exempt:
            quota = (f"Quota: {plan.n_peak} x {int(sku.vcpu)} = {plan.quota_cores} cores ({sku.name} skips the 20% "
                     f"reserve; {f.short('quota_reserve')}).")
        else:
            quota = (f"Quota: ceil(1.2 x {plan.n_peak}) x {int(sku.vcpu)} = {plan.quota_cores} cores of {sku.family} "
                     f"(at autoscale max: {plan.quota_cores_max}); {f.short('quota_reserve')}.")
        return [quota, f"Set max_concurrent_requests_per_instance = WORKER_COUNT = {plan.workers} ({f.short('workers')})."]
