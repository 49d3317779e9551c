"""AKS: our Kubernetes manifests on a user node pool of a managed cluster (not an Azure ML Kubernetes endpoint)."""
from __future__ import annotations

import math
from typing import Optional

from ..catalog import VmSku
from ..cost import HOURS_PER_MONTH, money, rate
from ..models import Cost, WorkloadProfile
from ..prices import RegionPrices
from ..sizing import Candidate, Load, Plan
from .base import DATA, InstanceTarget


class AKS(InstanceTarget):
    data_file = DATA / "aks.yaml"
    unit = "node"
    strict_limit = True  # 1,000 nodes per node pool

    @property
    def memory_usable(self) -> float:  # type: ignore[override]
        return float(self.facts.value("node_allocatable"))

    def quota_cores(self, sku: VmSku, n_peak: int, n_max: int) -> tuple[Optional[int], Optional[int]]:
        """A node pool needs nodes x cores (no reserve)."""
        cores = int(math.ceil(sku.vcpu))
        return n_peak * cores, n_max * cores

    @staticmethod
    def production(sla: float) -> bool:
        """availability_sla >= 99.9 needs the Standard tier's financially backed SLA and 3 system nodes."""
        return sla >= 99.9

    def usage_cost(self, load: Load, c: Candidate, n_peak: int, n_base: int, n_min: int, prices: RegionPrices) -> float:
        """On-premises the nodes are the user's own hardware (an Arc-enabled cluster): no Azure compute billed."""
        return 0.0 if load.on_premises else super().usage_cost(load, c, n_peak, n_base, n_min, prices)

    def monthly_cost(self, profile: WorkloadProfile, plan: Plan, prices: RegionPrices) -> Cost:
        if profile.security.network != "on-premises":
            return super().monthly_cost(profile, plan, prices)
        f = self.facts
        return Cost(monthly_usd=0.0, breakdown={"compute": 0.0}, assumptions=[
            f"On-premises: {f.value('on_premises')} ({f.cite('on_premises')}); no Azure-hosted cluster is planned "
            "or priced, so no Azure compute is billed. The sizing says how many nodes of that size your cluster "
            "needs for this model.",
            "Azure Arc-enabled Kubernetes and its extensions can carry their own charges (e.g. Defender, "
            "monitoring); not included."])

    def fixed_costs(self, profile: WorkloadProfile, prices: RegionPrices) -> dict[str, float]:
        """A new cluster's system node pool and, for production, the Standard tier fee; nothing for an existing
        one or for the user's own (Arc-enabled, on-premises) cluster."""
        if profile.team.existing_aks or profile.security.network == "on-premises":
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
        return notes

    def notes(self, profile: WorkloadProfile, plan: Plan) -> list[str]:
        f = self.facts
        out = ["Deploy mode: plain Kubernetes manifests on a user node pool (not an Azure ML Kubernetes online "
               "endpoint)."]
        if profile.security.network == "on-premises":
            out = [f"Deploy target: your existing Azure Arc-enabled Kubernetes cluster on your hardware (its kube "
                   f"context), not a new AKS cluster; plain Kubernetes manifests on nodes like {plan.sku} "
                   f"({f.short('on_premises')})."]
        if profile.security.auth == "entra":
            out.append(f"Entra ID: Kubernetes online endpoints accept key or aml_token only ({f.short('auth')}); with "
                       "plain manifests put Entra in front (API gateway or ingress auth).")
        if profile.model.from_registry:
            out.append("Registry/catalog model: not supported on Kubernetes online endpoints "
                       f"({f.short('registry_models')}); the model is downloaded and baked into the image instead.")
        return out


__all__ = ["AKS"]
