"""Requirement verdicts (advisor/verdicts.py) on hand-built options, against the real target facts."""
from __future__ import annotations

from advisor.catalog import targets
from advisor.models import Cost, Option, Recommendation, Sizing, parse_profile
from advisor.verdicts import ASYNC_PATTERN, review, review_option


def opt(target: str, monthly: float = 100.0, *, n_min: int = 3, sat: float | None = 100.0, p95: float | None = 50.0):
    return Option(target=target, score=80.0, criteria=[], reasons=[],
                  sizing=Sizing(sku="X", instances=n_min, min=n_min, max=n_min + 2, predicted_p95_ms=p95,
                                saturation_rps=sat),
                  cost=Cost(monthly_usd=monthly))


def verdicts(profile: dict, target: str, **kw):
    p = parse_profile(profile)
    return {v.requirement: v for v in review_option(p, targets()[target], opt(target, **kw))}


def test_request_longer_than_every_limit_points_to_the_asynchronous_pattern():
    v = verdicts({"inference": {"max_request_seconds": 400, "p95_latency_ms": 500_000}}, "appservice")["timeout"]
    assert v.status == "not-met" and "230 s" in v.detail and v.change == ASYNC_PATTERN
    assert v.source.startswith("https://learn.microsoft.com/")


def test_batch_jobs_have_no_http_timeout():
    v = verdicts({"inference": {"mode": "batch", "max_request_seconds": 3600, "p95_latency_ms": 3_600_000}},
                 "azureml-batch")["timeout"]
    assert v.status == "met" and "jobs have no HTTP request timeout" in v.detail


def test_endpoint_rps_limit_is_met_with_a_limit_increase():
    v = verdicts({"inference": {"peak_rps": 900, "average_rps": 100}}, "azureml", sat=2000)["rps"]
    assert v.status == "met-with-change" and "500" in v.detail and "increase" in v.change


def test_plan_that_saturates_below_peak_is_not_met():
    assert verdicts({"inference": {"peak_rps": 50}}, "containerapps", sat=40)["rps"].status == "not-met"


def test_predicted_p95_against_the_target():
    assert verdicts({"inference": {"p95_latency_ms": 100}}, "azureml", p95=80)["p95"].status == "met"
    assert verdicts({"inference": {"p95_latency_ms": 100}}, "azureml", p95=180)["p95"].status == "not-met"


def test_sla_above_one_region_needs_a_second_region_and_two_regions_meet_it():
    one = verdicts({"scale": {"availability_sla": 99.99}}, "azureml")["sla"]
    assert one.status == "met-with-change" and "Front Door" in one.change
    two = verdicts({"region": ["eastus", "westeurope"], "scale": {"availability_sla": 99.99}}, "azureml")["sla"]
    assert two.status == "met" and "2 regions" in two.detail


def test_scale_to_zero_and_network_and_auth():
    v = verdicts({"scale": {"scale_to_zero": True}}, "azureml")
    assert v["scale_to_zero"].status == "not-met"
    assert verdicts({"scale": {"scale_to_zero": True}}, "containerapps", n_min=0)["scale_to_zero"].status == "met"
    assert verdicts({"security": {"network": "custom-vnet"}}, "azureml")["network"].status == "not-met"
    assert verdicts({"security": {"auth": "key"}}, "azureml-batch")["auth"].status == "not-met"
    entra = verdicts({"security": {"auth": "entra"}}, "aks")["auth"]
    assert entra.status == "met-with-change" and "API gateway" in entra.change


def test_budget_verdict_flag_and_headline():
    p = parse_profile({"budget": {"monthly_usd": 50}})
    rec = Recommendation(options=[opt("appservice", 80), opt("azureml", 400)], excluded=[], prices_as_of="x")
    review(rec, p, targets())
    assert [o.fits_budget for o in rec.options] == [False, False]
    assert rec.options[0].verdict("budget").status == "not-met" and not rec.meets_all
    assert rec.headline.startswith("No option fits the budget of $50.00/month; the closest is Azure App Service")


def test_headline_when_nothing_meets_every_requirement():
    p = parse_profile({"inference": {"max_request_seconds": 900, "p95_latency_ms": 1_000_000}})
    rec = Recommendation(options=[opt("containerapps")], excluded=[], prices_as_of="x")
    review(rec, p, targets())
    assert not rec.meets_all and rec.headline.startswith("No target meets every requirement")
    assert "timeout" in rec.headline


def test_headline_when_the_top_option_meets_everything():
    rec = Recommendation(options=[opt("azureml")], excluded=[], prices_as_of="x")
    review(rec, parse_profile({}), targets())
    assert rec.meets_all and rec.headline == "Azure ML managed online endpoint meets every stated requirement."
