"""Sizing against worked examples; the arithmetic is written out in each test."""
from __future__ import annotations

import math

import pytest

from advisor.engine import recommend
from advisor.models import Calibration
from advisor.queueing import erlang_c, erlang_c_hw, min_servers, p95_ms, response_tail
from advisor.sizing import estimate_service

from .conftest import make_profile


def option(rec, target):
    return next(o for o in rec.options if o.target == target)


# ---------------------------------------------------------------- service time

def test_service_time_estimate_default_profile():
    # sklearn, 40 MB, 4 KB payload:
    #   3 ms (sklearn base) + 0.02 ms/MB x 40 MB + 0.4 ms server + 0.01 ms/KB x 4 KB = 4.24 ms
    st = estimate_service("sklearn", 40, 4)
    assert st.cpu_ms == pytest.approx(3 + 0.02 * 40 + 0.4 + 0.01 * 4) == pytest.approx(4.24)
    assert not st.measured and "estimated" in st.basis
    # batch: 20 rows per predict call cost about one request (serving-anchors: forest 1 row ~ 64 rows)
    assert st.per_row_ms == pytest.approx(4.24 / 20)


def test_service_time_from_calibration_is_measured():
    cal = Calibration(service_ms_batch1=3.05, cores=1, cpu="AMD EPYC", measured_at="2026-06-20")
    st = estimate_service("sklearn", 0.4, 4, cal)
    # measured 3.05 ms predict + 0.4 ms server + 0.04 ms payload = 3.49 ms
    assert st.cpu_ms == pytest.approx(3.49) and st.measured
    assert "one worker per vCPU" in st.basis and "AMD EPYC" in st.basis
    cal2 = Calibration(service_ms_batch1=3.05, max_rps_one_core=300, per_row_ms=0.05)
    st2 = estimate_service("sklearn", 0.4, 4, cal2)
    assert st2.cpu_ms == pytest.approx(1000 / 300) and st2.per_row_ms == 0.05


def test_recommendation_says_which_inputs_were_measured():
    est = recommend(make_profile())
    assert est.inputs["service_time"] == "estimated"
    cal = make_profile({"model.calibration": {"service_ms_batch1": 3.05, "cores": 1, "cpu": "AMD EPYC"}})
    rec = recommend(cal)
    assert rec.inputs["service_time"] == "measured"
    assert all(o.sizing.service_time_measured for o in rec.options)
    assert rec.options[0].sizing.notes[0].startswith("Service time measured")


# ---------------------------------------------------------------- queueing

def test_erlang_c_small_textbook_value():
    # M/M/2 with a = 1: B(1) = 1/2, B(2) = 1*(1/2)/(2 + 1/2) = 0.2; C = B / (1 - rho(1 - B)) = 0.2 / (1 - 0.5*0.8) = 1/3
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = rho


def test_halfin_whitt_is_close_to_exact_above_the_switch():
    # the exact recurrence is used up to a = 40; above it Halfin-Whitt. At a = 40 the two agree within 0.02.
    for c in (44, 48, 55):
        b = 1.0
        for k in range(1, c + 1):
            b = 40 * b / (k + 40 * b)
        exact = b / (1 - 40 / c * (1 - b))
        assert abs(erlang_c_hw(c, 40.0) - exact) < 0.02


def test_mm1_p95_closed_form():
    # M/M/1: response time ~ Exp(mu - lambda); S = 10 ms -> mu = 100/s, lambda = 50/s:
    #   p95 = ln(20) / (100 - 50) s = 59.91 ms
    assert p95_ms(1, 50, 10) == pytest.approx(math.log(20) / 50 * 1000, rel=1e-6)
    assert p95_ms(1, 0, 10) == pytest.approx(math.log(20) * 10, rel=1e-6)  # no queue: p95 of Exp(S)


def test_mmc_needs_more_workers_than_a_straight_division():
    # lambda = 150 rps, S = 10 ms, p95 target 40 ms. Straight division: 150 x 0.010 = 1.5 -> 2 workers.
    lam, s, target = 150.0, 10.0, 40.0
    mu, t = 100.0, 0.040
    # c = 2: B(1) = 1.5/2.5 = 0.6, B(2) = 1.5*0.6/(2 + 0.9) = 0.3103, C = 0.3103/(1 - 0.75*0.6897) = 0.6429
    #        theta = 2*100 - 150 = 50; P(W+S > t) = (mu e^-theta t - theta e^-mu t)/(mu - theta) = 0.2524
    #        tail = (1 - C) e^-mu t + C * 0.2524 = 0.3571*0.0183 + 0.6429*0.2524 = 0.169 > 0.05
    c2 = 0.3103 / (1 - 0.75 * (1 - 0.3103))
    h2 = (mu * math.exp(-50 * t) - 50 * math.exp(-mu * t)) / (mu - 50)
    assert (1 - c2) * math.exp(-mu * t) + c2 * h2 == pytest.approx(0.169, abs=0.002)
    assert response_tail(2, lam, s, target) == pytest.approx(0.169, abs=0.002)
    # c = 3: B(3) = 1.5*0.3103/(3 + 0.4655) = 0.1343, C = 0.1343/(1 - 0.5*0.8657) = 0.2368
    #        theta = 150; P(W+S > t) = (100 e^-6 - 150 e^-4)/(100 - 150) = 0.0500
    #        tail = 0.7632*0.0183 + 0.2368*0.0500 = 0.0258 <= 0.05  -> 3 workers
    assert response_tail(3, lam, s, target) == pytest.approx(0.0258, abs=0.001)
    assert min_servers(lam, s, target) == (3, True)


def test_latency_target_below_the_service_time_cannot_be_met():
    # p95 of the exponential service alone is ln(20) x S = 3.0 x 10 ms = 30 ms > 25 ms target:
    # no c meets it, so c keeps utilisation at 85%: ceil(1.5 / 0.85) = 2
    assert min_servers(150, 10, 25) == (2, False)


def test_large_loads_use_square_root_staffing_not_a_linear_scan():
    c, met = min_servers(100_000, 10, 200)  # a = 1,000 busy workers
    assert met and c == math.ceil(1000 / 0.85)  # the 85% utilisation cap binds at this size


# ---------------------------------------------------------------- per-target rules

def test_worked_example_managed_endpoint_default_profile():
    # S = 4.24 ms, peak 20 rps -> a = 0.0848; M/M/1 P(T > 500 ms) = e^-(235.8-20)*0.5 ~ 0 -> c = 1 worker.
    # Standard_F4s_v2: 4 vCPU, 8 GiB; one worker needs (300 + 1.5*40)/1024 = 0.35 GiB, 8*0.8/0.35 = 18 fit -> 4 workers.
    # instances = max(ceil(1/4), HA minimum 3 for availability_sla 99.9) = 3
    # quota = ceil(1.2 x 3) x 4 cores = 4 x 4 = 16 cores
    o = option(recommend(make_profile()), "azureml")
    s = o.sizing
    assert (s.sku, s.workers_per_instance, s.instances, s.min, s.max) == ("Standard_F4s_v2", 4, 3, 3, 3)
    assert s.quota_cores == 16
    assert s.service_ms == pytest.approx(4.24)
    assert any("ceil(1.2 x 3) x 4 = 16" in n for n in s.notes)


def test_managed_endpoint_without_ha_requirement_runs_one_instance():
    o = option(recommend(make_profile({"scale.availability_sla": 95})), "azureml")
    # quota for 1 x F4s_v2 = ceil(1.2 x 1) x 4 = 8 cores (the "Additional needed: 8" of mslearn-azure-ml#30)
    assert (o.sizing.instances, o.sizing.quota_cores) == (1, 8)
    # from 99 % one instance may fail or be upgraded: two, ceil(1.2 x 2) x 4 = 12 cores
    o2 = option(recommend(make_profile({"scale.availability_sla": 99.5})), "azureml")
    assert (o2.sizing.instances, o2.sizing.quota_cores) == (2, 12)


def test_quota_rule_matches_the_learn_example():
    # Learn: 10 x Standard_DS3_v2 (4 cores) needs ceil(1.2 x 10) x 4 = 48 cores
    assert math.ceil(1.2 * 10) * 4 == 48
    # a memory-heavy model pins the SKU to DS3_v2-class memory and 10 instances
    p = make_profile({"model.framework": "custom", "model.size_mb": 2500, "inference.peak_rps": 120,
                      "inference.average_rps": 120, "inference.p95_latency_ms": 2000, "scale.availability_sla": 99.0})
    o = option(recommend(p), "azureml")
    sku_cores = o.sizing.vcpus_per_instance
    assert o.sizing.quota_cores == math.ceil(1.2 * o.sizing.instances) * sku_cores


def test_a100_skips_the_quota_reserve():
    p = make_profile({"model.framework": "transformers", "model.size_mb": 30000, "inference.gpu": "required",
                      "inference.p95_latency_ms": 10000, "inference.peak_rps": 1, "inference.average_rps": 0.5})
    o = option(recommend(p), "azureml")
    # 30 GB x 1.2 = 35 GiB of GPU memory: only the 80 GiB A100 fits; exempt SKU -> n x 24 cores, no 20%
    assert o.sizing.sku == "Standard_NC24ads_A100_v4"
    assert o.sizing.quota_cores == o.sizing.instances * 24


def test_worked_example_gpu_service():
    # pytorch 350 MB, 120 KB: S_cpu = 15 + 0.05*350 + 0.4 + 0.01*120 = 34.1 ms; on a T4 (6x): 5.683 ms per request.
    # one worker per GPU; peak 600 rps -> a = 600 x 0.005683 = 3.41 busy GPUs
    p = make_profile({"model.framework": "pytorch", "model.size_mb": 350, "inference.payload_kb": 120,
                      "inference.peak_rps": 600, "inference.average_rps": 250, "inference.p95_latency_ms": 250,
                      "inference.gpu": "required", "team.existing_aks": True, "scale.availability_sla": 99.95})
    o = option(recommend(p), "aks")
    assert o.sizing.sku.startswith("Standard_NC") and o.sizing.workers_per_instance == 1
    assert o.sizing.service_ms == pytest.approx(34.1 / 6, rel=1e-3)
    c, met = min_servers(600, 34.1 / 6, 250)
    assert met and c >= math.ceil(3.41 / 0.85)
    assert o.sizing.instances == max(c, 3)  # 3 = one node per availability zone for 99.95%
    assert o.sizing.predicted_p95_ms < 250


def test_app_service_beyond_30_instances_is_excluded():
    # transformers 500 MB on CPU: S = 40 + 0.1*500 + 0.4 + 0.04 = 90.44 ms; 5,000 rps -> a = 452.2 -> c = ceil(452.2/0.85) = 532
    # P3v3 (8 vCPU) runs 8 workers -> 67 instances > 30 (Premium v3 limit); managed endpoint: 67 x F8s_v2 > 50
    assert math.ceil(5000 * 0.09044 / 0.85 - 1e-9) == 532 and math.ceil(532 / 8) == 67
    p = make_profile({"model.framework": "transformers", "model.size_mb": 500, "inference.peak_rps": 5000,
                      "inference.average_rps": 1000, "inference.p95_latency_ms": 5000})
    rec = recommend(p)
    ex = {e.target: e.reasons for e in rec.excluded}
    assert "appservice" in ex and "limit is 30" in ex["appservice"][0]
    assert "azureml" in {o.target for o in rec.options}
    assert option(rec, "azureml").sizing.instances > 50  # allowed, with a note to request more
    assert any("exceed the default limit of 50" in n for n in option(rec, "azureml").sizing.notes)


def test_autoscale_min_from_average_and_max_with_headroom():
    # sklearn 40 MB on F4s_v2 (4 workers), S = 4.24 ms, p95 50 ms
    p = make_profile({"inference.peak_rps": 2000, "inference.average_rps": 400, "inference.p95_latency_ms": 50,
                      "inference.pattern": "diurnal"})
    o = option(recommend(p), "azureml")
    c_peak, _ = min_servers(2000, 4.24, 50)   # a = 8.48
    c_avg, _ = min_servers(400, 4.24, 50)     # a = 1.70
    assert o.sizing.instances == max(math.ceil(c_peak / 4), 3)
    assert o.sizing.min == max(math.ceil(c_avg / 4), 3)
    # the service time is estimated, so the maximum carries twice it (issue 20): c_peak x 2 workers
    assert o.sizing.max == max(o.sizing.instances, math.ceil(c_peak * 2.0 / 4))
    assert o.sizing.saturation_rps == pytest.approx(o.sizing.max * 4 * 1000 / 4.24, abs=0.1)
    assert o.sizing.saturation_rps >= 2 * 2000


def test_worked_example_batch_nodes():
    # lightgbm 60 MB, 1 KB: S = 1.5 + 0.6 + 0.4 + 0.01 = 2.51 ms; per row in mini-batches 2.51 / 20 = 0.1255 ms
    # Standard_DS2_v2: 2 workers -> 2 x 1000 / 0.1255 = 15,936 rows/s per node
    # nodes = ceil(2000 / (15,936 x 0.8)) = 1
    p = make_profile({"model.framework": "lightgbm", "model.size_mb": 60, "inference.payload_kb": 1,
                      "inference.mode": "batch", "inference.peak_rps": 2000, "inference.average_rps": 46,
                      "inference.max_request_seconds": 900, "region": "westeurope"})
    o = option(recommend(p), "azureml-batch")
    assert (o.sizing.sku, o.sizing.instances, o.sizing.min, o.sizing.max) == ("Standard_DS2_v2", 1, 0, 1)
    assert o.sizing.service_ms == pytest.approx(0.1255, abs=1e-3)
    assert o.sizing.predicted_p95_ms is None
    p2 = make_profile({"model.framework": "lightgbm", "model.size_mb": 60, "inference.payload_kb": 1,
                       "inference.mode": "batch", "inference.peak_rps": 100_000, "inference.average_rps": 46,
                       "inference.max_request_seconds": 900})
    o2 = option(recommend(p2), "azureml-batch")
    node_rps = o2.sizing.workers_per_instance * 1000 / o2.sizing.service_ms
    assert o2.sizing.instances == math.ceil(100_000 / (node_rps * 0.8))


def test_model_too_big_for_any_sku_excludes_the_target():
    p = make_profile({"model.framework": "custom", "model.size_mb": 60_000})
    rec = recommend(p)
    ex = {e.target: e.reasons[0] for e in rec.excluded}
    assert "appservice" in ex and "GiB" in ex["appservice"]
    assert "containerapps" in ex


def test_container_apps_scale_to_zero_sizing():
    p = make_profile({"scale.scale_to_zero": True, "inference.pattern": "sporadic", "inference.peak_rps": 2,
                      "inference.average_rps": 0.01, "scale.availability_sla": 99.0})
    o = option(recommend(p), "containerapps")
    assert o.sizing.min == 0 and o.sizing.instances == 1 and o.sizing.sku == "1vCPU-2Gi"


@pytest.mark.parametrize("s_ms,target", [(4.24, 500), (10, 40), (10, 25), (34.1, 100), (90, 2000), (2.0, 8)])
def test_servers_never_decrease_as_traffic_grows(s_ms, target):
    # including across the switch from the exact recurrence to Halfin-Whitt at a = 40
    prev = 0
    lam = 0.5
    while lam < 40_000:
        c, _met = min_servers(lam, s_ms, target)
        assert c >= prev, (lam, c, prev)
        prev = c
        lam *= 1.03


def test_size_for_sizes_a_target_the_advisor_would_exclude():
    from advisor.engine import size_for
    # App Service is excluded for GPU-required workloads, but a user who picks it still gets a CPU size
    p = make_profile({"inference.gpu": "required"})
    assert "appservice" in {e.target for e in recommend(p).excluded}
    s = size_for("appservice", p)
    assert s.sku == "B1" and s.instances == 3
    assert size_for("azureml", make_profile()).model_dump() == option(recommend(make_profile()), "azureml").sizing.model_dump()
    with pytest.raises(ValueError, match="unknown target"):
        size_for("local", make_profile())
    with pytest.raises(ValueError, match="GiB"):
        size_for("containerapps", make_profile({"model.size_mb": 100_000}))
