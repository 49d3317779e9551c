"""advisor/targets/aks.py: our manifests on an AKS node pool."""
from __future__ import annotations

import pytest

from advisor.sizing import Load

from ..conftest import make_profile
from .helpers import sized


def test_a_new_production_cluster_adds_system_pool_and_tier_fee():
    # 3 x DS2_v2 user nodes (one per zone at 99.9 %) 319.74 + 3 x D4s_v3 system nodes 420.48 + Standard tier 73.00
    _t, _p, plan, cost = sized("aks")
    assert (plan.sku, plan.n_peak) == ("Standard_DS2_v2", 3)
    assert cost.breakdown == {"compute": 319.74, "system_pool": 420.48, "cluster_fee": 73.0}
    assert cost.monthly_usd == pytest.approx(813.22, abs=0.005)


def test_an_existing_cluster_counts_only_the_new_nodes():
    t, p, plan, cost = sized("aks", {"team.existing_aks": True})
    assert t.fixed_costs(p, None) == {} and cost.breakdown == {"compute": 319.74}


def test_ha_minimum_is_the_shared_rule():
    # one rule for every target (issue 20): 3 replicas over the zones from 99.9 %, 2 from 99 %, else 1
    t = sized("aks")[0]
    assert [t.ha_minimum(Load.of(make_profile({"scale.availability_sla": s}))) for s in (95, 99.0, 99.9, 99.95)] \
        == [1, 2, 3, 3]


def test_on_premises_is_allowed_and_kubernetes_endpoint_limits_are_notes():
    t, p, plan, _c = sized("aks", {"security.network": "on-premises", "security.auth": "entra",
                                   "model.from_registry": True})
    assert t.constraints(p) == []
    notes = " ".join(t.notes(p, plan))
    assert "plain Kubernetes manifests" in notes and "key or aml_token only" in notes and "baked into the image" in notes


def test_quota_is_nodes_times_cores():
    _t, _p, plan, _c = sized("aks")
    assert plan.quota_cores == plan.n_peak * 2
