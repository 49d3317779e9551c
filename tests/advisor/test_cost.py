"""Monthly cost against hand-computed figures from the 2026-06-18 snapshot (730 h/month)."""
from __future__ import annotations

import json

import pytest

from advisor.catalog import skus, targets
from advisor.engine import recommend
from advisor.sizing import Load
from advisor.targets.containerapps import tiered_cost
from advisor.prices import load_prices

from .conftest import DATA, make_profile


def cost_of(rec, target):
    o = next(o for o in rec.options if o.target == target)
    return o.cost


def test_managed_endpoint_three_f4s_v2_steady():
    # 3 instances (HA) x $0.169/h (Standard_F4s_v2, eastus) x 730 h = $370.11
    c = cost_of(recommend(make_profile()), "azureml")
    assert c.monthly_usd == pytest.approx(3 * 0.169 * 730, abs=0.005) == pytest.approx(370.11, abs=0.005)
    assert c.breakdown == {"compute": 370.11}
    text = " ".join(c.assumptions)
    assert "2026-06-18" in text and "730 hours a month" in text and "$0.169" in text
    assert "20% quota reserve is not billed" in text and "Not included" in text


def test_managed_endpoint_west_europe_price():
    # 3 x $0.194/h (F4s_v2, westeurope) x 730 = $424.86
    c = cost_of(recommend(make_profile(region="westeurope")), "azureml")
    assert c.monthly_usd == pytest.approx(424.86, abs=0.005)


def test_diurnal_autoscale_hours():
    # peak needs n_peak instances for 8 h/day, the autoscale minimum n_min for the other 16 h:
    #   hours = n_peak x 730 x 8/24 + n_min x 730 x 16/24
    # 4,000 rps x 4.24 ms -> c = 20 workers -> 5 x F4s_v2; 400 rps -> c = 2 -> HA minimum 3
    p = make_profile({"inference.peak_rps": 4000, "inference.average_rps": 400, "inference.p95_latency_ms": 50,
                      "inference.pattern": "diurnal"})
    o = next(o for o in recommend(p).options if o.target == "azureml")
    n_peak, n_min = o.sizing.instances, o.sizing.min
    assert (o.sizing.sku, n_peak, n_min) == ("Standard_F4s_v2", 5, 3)
    expected = (5 * 730 * 8 / 24 + 3 * 730 * 16 / 24) * 0.169  # = (1216.67 + 1460) x 0.169 = 452.36
    assert o.cost.monthly_usd == pytest.approx(expected, abs=0.005) == pytest.approx(452.36, abs=0.005)
    assert any("5 instance(s) for 8 h/day at peak, 3 for the other 16 h" in a for a in o.cost.assumptions)


def test_aks_new_cluster_production():
    # user pool 3 x DS2_v2 (one per zone at 99.9 %): 3 x 0.146 x 730 = 319.74
    # system pool 3 x D4s_v3 (production): 3 x 0.192 x 730 = 420.48
    # Standard tier Uptime SLA: 0.10 x 730 = 73.00               total 813.22
    c = cost_of(recommend(make_profile()), "aks")
    assert c.breakdown == {"compute": 319.74, "system_pool": 420.48, "cluster_fee": 73.0}
    assert c.monthly_usd == pytest.approx(813.22, abs=0.005)
    assert any("$73.00" in a and "99.9" in a for a in c.assumptions)


def test_aks_free_tier_below_99_9():
    # 2 nodes (99.5 %: one may fail) 2 x 0.146 x 730 = 213.16; system pool 2 x 0.192 x 730 = 280.32; Free tier: 493.48
    c = cost_of(recommend(make_profile({"scale.availability_sla": 99.5})), "aks")
    assert c.breakdown == {"compute": 213.16, "system_pool": 280.32}
    assert c.monthly_usd == pytest.approx(493.48, abs=0.005)
    assert any("Free tier" in a for a in c.assumptions)


def test_aks_existing_cluster_counts_only_new_nodes():
    c = cost_of(recommend(make_profile({"team.existing_aks": True})), "aks")
    assert c.breakdown == {"compute": 319.74} and c.monthly_usd == pytest.approx(319.74, abs=0.005)
    assert any("Existing cluster" in a for a in c.assumptions)


def test_app_service_basic_and_premium():
    # simple rollout, steady: 3 x B1 (HA) x 0.017 x 730 = 37.23
    assert cost_of(recommend(make_profile()), "appservice").monthly_usd == pytest.approx(37.23, abs=0.005)
    # blue-green needs slots (Standard+): P0v3 0.0775 < S1 0.095 -> 3 x 0.0775 x 730 = 169.73; the slot
    # shares the plan's instances, so the rollout adds nothing
    rec = recommend(make_profile({"operations.rollout": "blue-green"}))
    o = next(o for o in rec.options if o.target == "appservice")
    assert o.sizing.sku == "P0v3" and o.cost.monthly_usd == pytest.approx(169.73, abs=0.005)
    assert any("staging slot runs on the same plan" in a for a in o.cost.assumptions)


def test_region_without_a_price_falls_back_to_eastus_and_says_so():
    rec = recommend(make_profile({"operations.rollout": "blue-green"}, region="westeurope"))
    c = cost_of(rec, "appservice")
    assert c.monthly_usd == pytest.approx(169.73, abs=0.005)
    assert any("No P0v3 price for westeurope in the snapshot: used eastus" in a for a in c.assumptions)
    c2 = cost_of(recommend(make_profile(region="northeurope")), "azureml")
    assert c2.monthly_usd == pytest.approx(370.11, abs=0.005)
    assert any("used eastus" in a for a in c2.assumptions)


def test_container_apps_scale_to_zero_with_free_grant():
    # onnx 90 MB: S = 2 + 0.02*90 + 0.4 + 0.04 = 4.24 ms; 1 replica of 1 vCPU / 2 GiB, min 0
    # sporadic: peak 1 h/day, traffic 3 h/day -> 730*3/24 = 91.25 active replica-hours = 328,500 s
    #   vCPU: 328,500 - 180,000 free = 148,500 x $0.000024 = 3.564
    #   memory: 657,000 - 360,000 free = 297,000 x $0.000003 = 0.891
    #   requests: 0.01 rps x 2,628,000 s = 26,280 < 2,000,000 free -> 0
    #   idle: none (min replicas 0)                                   total 4.455
    p = make_profile({"model.framework": "onnx", "model.size_mb": 90, "inference.peak_rps": 2,
                      "inference.average_rps": 0.01, "inference.pattern": "sporadic", "scale.scale_to_zero": True,
                      "scale.availability_sla": 99.0})
    c = cost_of(recommend(p), "containerapps")
    assert c.breakdown["vcpu_active"] == pytest.approx(3.56, abs=0.005)
    assert c.breakdown["memory_active"] == pytest.approx(0.89, abs=0.005)
    assert c.breakdown["requests"] == 0 and c.breakdown["vcpu_idle"] == 0
    assert c.monthly_usd == pytest.approx(4.455, abs=0.006)


def test_container_apps_idle_replicas_are_billed_at_idle_rates():
    # default profile, steady, availability 99.9 -> 3 replicas always on, always active (steady traffic 24 h)
    #   vCPU: 3 x 1 x 2,628,000 = 7,884,000 - 180,000 = 7,704,000 x 0.000024 = 184.90
    #   memory: 3 x 2 x 2,628,000 = 15,768,000 - 360,000 = 15,408,000 x 0.000003 = 46.22
    #   requests: 5 x 2,628,000 = 13,140,000 - 2,000,000 = 11,140,000 x 0.4/1e6 = 4.46    total 235.58
    c = cost_of(recommend(make_profile()), "containerapps")
    assert c.monthly_usd == pytest.approx(184.896 + 46.224 + 4.456, abs=0.01)


def test_tiered_export_encodes_the_free_grant():
    p1, p2 = (json.loads((DATA / f).read_text()) for f in ("retail-page-1.json", "retail-page-2.json"))
    prices = load_prices([p1, p2]).for_region("westeurope")
    aca = targets()["containerapps"]
    assert aca.grant_in_tiers(aca.meters(prices))
    p = make_profile({"inference.peak_rps": 2, "inference.average_rps": 0.01, "inference.pattern": "sporadic",
                      "scale.scale_to_zero": True})
    parts, _q = aca.usage(Load.of(p), skus().containerapps["1vCPU-2Gi"], 1, 1, 0, prices)
    # same quantities as above at westeurope rates: 148,500 x 0.000028 + 297,000 x 0.0000035 = 4.158 + 1.0395
    assert sum(parts.values()) == pytest.approx(4.158 + 1.0395, abs=1e-6)


def test_tiered_cost_helper():
    tiers = ((0.0, 0.0), (100.0, 2.0), (200.0, 1.0))
    assert tiered_cost(50, tiers) == 0
    assert tiered_cost(150, tiers) == 100
    assert tiered_cost(250, tiers) == 200 + 50


def test_batch_node_hours():
    # rows = 46 rps x 2,628,000 s = 120,888,000; 0.1255 ms/row over 2 workers at 80%:
    #   120,888,000 x 0.1255 ms / 3,600,000 / 1.6 = 2.634 h, + 30 jobs x 1 node x 0.1 h = 5.634 h
    #   x $0.136/h (DS2_v2, westeurope) = $0.77
    p = make_profile({"model.framework": "lightgbm", "model.size_mb": 60, "inference.payload_kb": 1,
                      "inference.mode": "batch", "inference.peak_rps": 2000, "inference.average_rps": 46,
                      "inference.max_request_seconds": 900, "region": "westeurope"})
    c = cost_of(recommend(p), "azureml-batch")
    hours = 120_888_000 * 0.1255 / 3_600_000 / 1.6 + 3.0
    assert c.monthly_usd == pytest.approx(hours * 0.136, abs=0.005) == pytest.approx(0.77, abs=0.005)


def test_every_option_lists_its_assumptions():
    for p in (make_profile(), make_profile({"inference.mode": "batch", "inference.max_request_seconds": 900})):
        for o in recommend(p).options:
            assert len(o.cost.assumptions) >= 3
            assert any("730 hours" in a for a in o.cost.assumptions)
            assert o.cost.monthly_usd == pytest.approx(sum(o.cost.breakdown.values()), abs=0.02)
