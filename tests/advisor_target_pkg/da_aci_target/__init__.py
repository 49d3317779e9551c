"""Azure Container Instances as an advice target: container groups of a fixed size, billed per second, no autoscale.

A plug-in target is this module plus its data file (aci.yaml: facts with sources, and its rows of the
table criteria). It reuses the always-on instance sizing of the built-in targets and prices itself
from the rates in its data file (the bundled price snapshot has no Container Instances meters).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from advisor.catalog import VmSku
from advisor.models import WorkloadProfile
from advisor.prices import RegionPrices
from advisor.sizing import Fit, Load, Plan
from advisor.targets.base import InstanceTarget


class ContainerInstances(InstanceTarget):
    data_file = Path(__file__).with_name("aci.yaml")
    unit = "container group"
    memory_usable = 0.9

    def __init__(self) -> None:
        super().__init__()
        self.sizes = [VmSku(name=s["name"], vcpu=s["vcpu"], mem_gib=s["mem_gib"]) for s in self.facts.value("sizes")]

    def ha_minimum(self, load: Load) -> int:
        """Two container groups behind your own load balancer when an SLA matters (assumption)."""
        return 2 if load.availability_sla >= 99.9 else 1

    def sku_candidates(self, fit: Fit) -> list[tuple[VmSku, bool]]:
        return [(s, False) for s in self.sizes]

    def price(self, sku: VmSku, prices: RegionPrices) -> Optional[tuple[float, str]]:
        rates = self.facts.value("rates")
        return (sku.vcpu * rates["vcpu_second"] + sku.mem_gib * rates["gib_second"]) * 3600.0, prices.region

    def limits(self, sku: VmSku) -> tuple[int, bool, str]:
        return int(self.facts.value("max_instances")), False, "container group"

    def cost_notes(self, profile: WorkloadProfile, plan: Plan, prices: RegionPrices) -> list[str]:
        rates = self.facts.value("rates")
        return [f"Rates from the plug-in's data file: ${rates['vcpu_second']:g} per vCPU-second, "
                f"${rates['gib_second']:g} per GiB-second ({self.facts.cite('rates')})."]
