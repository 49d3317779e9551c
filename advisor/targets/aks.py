"""AKS: our Kubernetes manifests on a user node pool of a managed cluster (not an Azure ML Kubernetes endpoint)."""
from __future__ import annotations

import math
from typing import Optional

from ..catalog import VmSku
from ..cost import HOURS_PER_MONTH, money, rate
from ..models import WorkloadProfile
from ..prices import RegionPrices
from ..sizing import Load, Plan
from .base import DATA, InstanceTarget


class AKS(InstanceTarget):
    data_file = DATA / "aks.yaml"
    unit = "node"
    strict_limit = True  # 1,000 nodes per node pool

    @property
    def memory_usable(self) -> float:  # type: ignore[override]
        return float(self.facts.value("node_allocatable"))

    def ha_minimum(self, load: Load) -> int:
        """One node per availability zone for 99.95%, two nodes for 99.9%."""
        sla = load.availability_sla
        return 3 if sla >= 99.95 else (2 if sla >= 99.9 else 1)

    def quota_cores(self, sku: VmSku, n_peak: int, n_max: int) -> tuple[Optional[int], Optional[int]]:
        """A node pool needs nodes x cores (no reserve)."""
        cores = int(math.ceil(sku.vcpu))
        return n_peak * cores, n_max * cores

    @staticmethod
    def production(sla: float) -> bool:
        """availability_sla >= 99.9 needs the Standard tier's financially backed SLA and 3 system nodes."""
        return sla >= 99.9

    def fixed_costs(self, profile: WorkloadProfile, prices: RegionPrices) -> dict[str, float]:
        """A new cluster's system node pool and, for production, the Standard tier fee; nothing for an existing one."""
        if profile.team.existing_aks:
            return {}
        pool = self.facts.value("system_pool")
        prod = self.production(profile.scale.availability_sla)
        out = {}
        hourly = prices.get("vm", pool["sku"])[0]
        if hourly is not None:
            out["system_pool"] = (pool["production_nodes"] if prod else pool["nodes"]) * hourly * HOURS_PER_MONTH
        fee = prices.get("aks-standard")[0]
        if prod and fee is not None:
            out["cluster_fee"] = fee * HOURS_PER_MONTH
        return out

    def cost_notes(self, profile: WorkloadProfile, plan: Plan, prices: RegionPrices) -> list[str]:
        f = self.facts
        notes = []
        if profile.team.existing_aks:
            notes.append("Existing cluster: its system pool and tier fee are already paid; only the new inference node "
                         "pool is counted.")
        else:
            pool = f.value("system_pool")
            prod = self.production(profile.scale.availability_sla)
            fixed = self.fixed_costs(profile, prices)
            (hourly, pool_region), (fee, fee_region) = prices.get("vm", pool["sku"]), prices.get("aks-standard")
            sla = profile.scale.availability_sla
            if hourly is not None:
                nodes = pool["production_nodes"] if prod else pool["nodes"]
                notes.append(f"System node pool: {nodes} x {pool['sku']} at {rate(hourly)}/h = "
                             f"{money(fixed['system_pool'])} ({f.cite('system_pool')}: >= 2 nodes, 3 for production).")
            if prod and fee is not None:
                notes.append(f"Standard tier Uptime SLA {rate(fee)} per cluster-hour x 730 h = "
                             f"{money(fixed['cluster_fee'])}, because availability_sla {sla:g} >= 99.9 needs the "
                             f"financially backed SLA ({f.cite('sla')}).")
                if fee_region != prices.region:
                    notes.append(f"No AKS Standard tier price for {prices.region} in the snapshot: used {fee_region}.")
            elif not prod:
                notes.append("Free tier (no cluster fee; no financially backed SLA) because "
                             f"availability_sla {sla:g} < 99.9 ({f.cite('sla')}).")
            if pool_region and pool_region != prices.region:
                notes.append(f"No {pool['sku']} price for {prices.region} in the snapshot: used {pool_region}.")
        if profile.security.network == "on-premises":
            notes.append("On-premises: your own hardware runs the cluster; the Azure node prices are shown for "
                         "comparison.")
        return notes

    def notes(self, profile: WorkloadProfile, plan: Plan) -> list[str]:
        f = self.facts
        out = ["Deploy mode: plain Kubernetes manifests on a user node pool (not an Azure ML Kubernetes online "
               "endpoint)."]
        if profile.security.auth == "entra":
            out.append(f"Entra ID: Kubernetes online endpoints accept key or aml_token only ({f.short('auth')}); with "
                       "plain manifests put Entra in front (API gateway or ingress auth).")
        if profile.model.from_registry:
            out.append("Registry/catalog model: not supported on Kubernetes online endpoints "
                       f"({f.short('registry_models')}); the model is downloaded and baked into the image instead.")
        return out


__all__ = ["AKS"]
