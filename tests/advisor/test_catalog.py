"""The target catalog is data with a source for every fact."""
from __future__ import annotations

import re

from advisor.catalog import TARGET_ORDER, get_catalog, target_summaries
from advisor.criteria import criteria_table

URL = re.compile(r"^(https://(learn\.microsoft\.com|github\.com)/\S+|seed/azure-ml-notes\.md#\S+|shared/reference/\S+)$")


def test_every_source_is_a_url_or_the_notes():
    cat = get_catalog()
    for key, src in cat.sources.items():
        assert URL.match(src.url), (key, src.url)
        assert src.short


def test_every_target_fact_names_a_known_source():
    cat = get_catalog()
    assert tuple(cat.targets) == ("azureml", "aks", "appservice", "containerapps", "azureml-batch")
    for tid, t in cat.targets.items():
        for name, fact in t.facts.items():
            assert fact.src in cat.sources, (tid, name)
            assert t.cite(name).startswith(("https://", "seed/", "shared/")), (tid, name)


REQUIRED = ("recommended_for", "realtime", "gpu", "scale_to_zero", "min_instances", "max_instances",
            "request_timeout_s", "auth", "networks", "rollout", "drift_monitoring", "registry_models", "sla", "skus",
            "ops_burden")


def test_each_target_has_the_facts_the_criteria_read():
    for t in get_catalog().targets.values():
        missing = [f for f in REQUIRED if f not in t.facts]
        assert not missing, (t.id, missing)


def test_limits_from_azure_targets_md():
    t = get_catalog().targets
    assert [t[x].request_timeout_s for x in ("azureml", "aks", "appservice", "containerapps")] == [180, 300, 230, 240]
    assert t["azureml-batch"].request_timeout_s is None
    assert t["azureml"].max_instances == 50 and t["appservice"].max_instances == 30
    assert t["azureml"].v("ha_min_instances") == 3
    assert t["azureml"].v("quota_reserve") == 0.2
    assert t["aks"].auth == ("key", "aml_token")  # no Entra on Kubernetes online endpoints
    assert "custom-vnet" not in t["azureml"].networks
    assert t["aks"].networks[-1] == "on-premises"
    assert not t["azureml"].scale_to_zero and t["containerapps"].scale_to_zero and t["azureml-batch"].scale_to_zero
    assert t["appservice"].gpu is False and t["containerapps"].gpu == "preview"
    assert not t["azureml"].facts["sla"].verified and t["aks"].facts["sla"].verified


def test_sku_specs_match_the_reference_table():
    vm = get_catalog().vm_skus
    assert (vm["Standard_DS3_v2"].vcpu, vm["Standard_DS3_v2"].mem_gib) == (4, 14)
    assert (vm["Standard_F4s_v2"].vcpu, vm["Standard_F4s_v2"].mem_gib) == (4, 8)
    assert (vm["Standard_NC6s_v3"].gpu_model, vm["Standard_NC6s_v3"].gpu_mem_gib) == ("V100", 16)
    assert vm["Standard_NC24ads_A100_v4"].quota_exempt and not vm["Standard_NC4as_T4_v3"].quota_exempt
    plans = get_catalog().appservice_plans
    assert [p.tier for p in plans.values()].count("Basic") == 3
    assert get_catalog().appservice_tiers["Basic"].max_instances == 3


def test_criteria_tables_cover_every_value_and_target():
    tables = criteria_table()
    for cid, spec in tables.items():
        for value, row in spec["results"].items():
            assert set(row) == set(TARGET_ORDER), (cid, value)
            for tid, (score, wf, reason, url) in row.items():
                assert 0 <= score <= 100 and wf >= 0
                assert url and "(" in reason, (cid, value, tid)


def test_target_summaries_for_the_cli():
    rows = target_summaries()
    assert [r["id"] for r in rows] == list(TARGET_ORDER)
    assert all(r["source"].startswith("https://") for r in rows)
