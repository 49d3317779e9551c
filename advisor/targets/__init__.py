"""Advice targets: one module per target, each a class implementing `Target`.

A target is its facts (a YAML file with a source for every fact, and its rows of the table
criteria) plus the behaviour no fact can express: which SKUs it offers for a profile, its
availability minimum, how it sizes and what a plan costs. The criteria (advisor/criteria.py)
are generic: they read `target.facts` and the plan, never a target id.

More targets plug in through the entry-point group `deploy_advisor.targets`
(`name = "package.module:Class"`); see tests/advisor_target_pkg for a complete one.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..catalog import Facts, VmSku
from ..models import Cost, WorkloadProfile
from ..prices import RegionPrices
from ..sizing import Fit, Load, Plan, ServiceTime


@runtime_checkable
class Target(Protocol):
    """What the engine, the criteria and the explanations need from a target."""

    id: str  # as in DESIGN.md §3, e.g. "azureml"
    title: str
    purpose: str
    facts: Facts  # every fact with its source; read by the generic criteria and hard constraints

    def __hash__(self) -> int:
        """Targets are hashable (by identity): the engine memoises plans per target."""

    def constraints(self, profile: WorkloadProfile) -> list[str]:
        """Why the target cannot serve this profile at all (hard constraints), one line each; [] when it can."""

    def sku_candidates(self, fit: Fit) -> list[tuple[VmSku, bool]]:
        """The sizes to try, each with whether its GPU is used, smallest first."""

    def ha_minimum(self, load: Load) -> int:
        """Fewest instances the requested availability needs (0 when it may scale to zero)."""

    def size(self, load: Load, service: ServiceTime, prices: RegionPrices) -> Plan:
        """The cheapest plan for this load, its `usage_usd` included; raises sizing.NoFit. `load` holds every
        profile field sizing may read (so the engine can memoise plans on it)."""

    def fixed_costs(self, profile: WorkloadProfile, prices: RegionPrices) -> dict[str, float]:
        """Monthly costs that do not depend on the plan (an AKS cluster's system pool and tier fee), by item."""

    def monthly_cost(self, profile: WorkloadProfile, plan: Plan, prices: RegionPrices) -> Cost:
        """The monthly cost with its breakdown and every assumption: plan.usage_usd plus the fixed costs."""

    def notes(self, profile: WorkloadProfile, plan: Plan) -> list[str]:
        """Target-specific sizing notes shown with the option (quota rule, deploy mode...)."""


__all__ = ["Target"]
