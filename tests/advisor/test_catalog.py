"""The advisor's data: a source for every fact, and rows for every table criterion."""
from __future__ import annotations

import re
import typing

from advisor.catalog import TARGET_ORDER, criteria_specs, skus, sources, target_summaries, targets
from advisor.models import WorkloadProfile

URL = re.compile(r"^(https://(learn\.microsoft\.com|github\.com)/\S+|seed/azure-ml-notes\.md#\S+|shared/reference/\S+)$")


def test_every_source_is_a_url_or_the_notes():
    for key, src in sources().items():
        assert URL.match(src.url), (key, src.url)
        assert src.short


def test_every_target_fact_names_a_known_source():
    assert tuple(targets())[:5] == ("azureml", "aks", "appservice", "containerapps", "azureml-batch")
    for tid in TARGET_ORDER:
        facts = targets()[tid].facts
        for name in facts.by_name:
            assert URL.match(facts.cite(name)), (tid, name)
        for cid, row in facts.rows.items():
            assert URL.match(row["url"]) and row["text"], (tid, cid)


REQUIRED = ("recommended_for", "realtime", "gpu", "scale_to_zero", "min_instances", "max_instances",
            "request_timeout_s", "auth", "networks", "rollout", "drift_monitoring", "registry_models", "sla", "skus",
            "ops_burden", "quota")


def test_each_target_has_the_facts_the_criteria_read():
    for tid in TARGET_ORDER:
        missing = [f for f in REQUIRED if f not in targets()[tid].facts]
        assert not missing, (tid, missing)


def test_limits_from_azure_targets_md():
    t = {tid: targets()[tid].facts for tid in TARGET_ORDER}
    # the limit as we deploy each target (FACTS.md, checked 2026-12-06): plain AKS manifests sit behind an Azure
    # Load Balancer whose idle timeout the AKS Service annotation raises to 30 min (240 s by default), not the
    # 300 s of Kubernetes endpoints
    assert [t[x].value("request_timeout_s") for x in ("azureml", "aks", "appservice", "containerapps")] == \
        [180, 1800, 230, 240]
    assert t["azureml"].value("request_timeout_default_s") == 5 and t["aks"].value("request_timeout_default_s") == 240
    assert t["azureml-batch"].value("request_timeout_s") is None
    assert t["azureml"].value("max_instances") == 50 and t["appservice"].value("max_instances") == 30
    assert t["azureml"].value("ha_min_instances") == 3
    assert t["azureml"].value("quota_reserve") == 0.2
    assert t["aks"].value("auth") == ["key", "aml_token"]  # no Entra on Kubernetes online endpoints
    assert "custom-vnet" not in t["azureml"].value("networks")
    assert t["aks"].value("networks")[-1] == "on-premises"
    assert not t["azureml"].value("scale_to_zero") and t["containerapps"].value("scale_to_zero")
    assert t["appservice"].value("gpu") is False and t["containerapps"].value("gpu") is True  # GA since 06/2025
    assert "swedencentral" in t["containerapps"].value("gpu_regions")["T4"]
    assert t["aks"].value("sla_scope") == "control-plane"
    assert t["containerapps"].value("max_instances") == 1000 and t["appservice"].value("zone_min_instances") == 2
    assert not t["azureml"].verified("sla") and t["aks"].verified("sla")


def test_sku_specs_match_the_reference_table():
    vm = skus().vm
    assert (vm["Standard_DS3_v2"].vcpu, vm["Standard_DS3_v2"].mem_gib) == (4, 14)
    assert (vm["Standard_F4s_v2"].vcpu, vm["Standard_F4s_v2"].mem_gib) == (4, 8)
    assert "Standard_NC6s_v3" not in vm  # NCv3 retired 30 Sep 2025
    assert (vm["Standard_NC24ads_A100_v4"].gpu_model, vm["Standard_NC24ads_A100_v4"].gpu_mem_gib) == ("A100", 80)
    assert vm["Standard_NC24ads_A100_v4"].quota_exempt and not vm["Standard_NC4as_T4_v3"].quota_exempt
    assert [p.tier for p in skus().appservice_plans.values()].count("Basic") == 3
    assert skus().appservice_tiers["Basic"].max_instances == 3


def _values(path: str) -> set:
    """Every value a profile field can take (its Literal, or true/false)."""
    model: typing.Any = WorkloadProfile
    for part in path.split("."):
        ann = model.model_fields[part].annotation
        model = ann
    args = typing.get_args(ann)
    if ann is bool:
        return {True, False}
    if typing.get_origin(ann) is list:
        args = typing.get_args(args[0])
    return set(args)


def test_table_rows_cover_every_value_of_their_input_for_every_target():
    for cid, spec in criteria_specs().items():
        if "input" not in spec:
            continue
        values = _values(spec["input"])
        assert values, cid
        for tid in TARGET_ORDER:
            row = targets()[tid].facts.row(cid)
            assert set(row["scores"]) == values, (cid, tid)
            assert all(0 <= s <= 100 for s in row["scores"].values())


def test_every_weight_is_in_the_criteria_file():
    assert all(spec["weight"] >= 0 for spec in criteria_specs().values())
    assert list(criteria_specs())[-1] == "cost"


def test_target_summaries_for_the_cli():
    rows = target_summaries()
    assert [r["id"] for r in rows][:5] == list(TARGET_ORDER)
    assert all(r["source"].startswith("https://") for r in rows)
