"""Measured sizing: a calibration from `benchmark` reaches the advisor and moves the instance count."""
from __future__ import annotations

from advisor.engine import recommend
from advisor.models import Calibration, WorkloadProfile
from advisor.engine import size_for


def _profile(calibration: Calibration | None) -> WorkloadProfile:
    return WorkloadProfile.model_validate({
        "inference": {"peak_rps": 400, "average_rps": 100, "p95_latency_ms": 200},
        "model": {"framework": "sklearn", "size_mb": 1,
                  "calibration": calibration.model_dump() if calibration else None}})


def test_slower_measured_service_time_needs_more_instances_and_faster_needs_fewer():
    fast = Calibration(service_ms_batch1=0.5, cores=1, cpu="test")
    slow = Calibration(service_ms_batch1=40.0, cores=1, cpu="test")
    for target in ("azureml", "appservice", "aks"):
        est = size_for(target, _profile(None))
        f = size_for(target, _profile(fast))
        s = size_for(target, _profile(slow))
        capacity = lambda z: z.instances * max(z.vcpus_per_instance, 1)  # noqa: E731
        assert capacity(s) > capacity(est) >= capacity(f), (target, est, f, s)
        assert s.service_time_measured and f.service_time_measured and not est.service_time_measured


def test_benchmark_is_stored_and_used_by_recommend(home_with_sample):
    from deployers import api

    sample = "models:/sample-classifier/1"
    calibration, curve = api.benchmark(sample, seconds=0.5, concurrencies=(1, 4), batch_sizes=(1, 8))
    assert calibration.service_ms_batch1 > 0 and {r["kind"] for r in curve} == {"batch", "http"}
    assert api.stored_benchmark(sample)["calibration"]["service_ms_batch1"] == calibration.service_ms_batch1
    profile, _info, _ = api.profile_with_model(WorkloadProfile(), sample)
    assert profile.model.calibration == calibration
    rec = recommend(profile)
    assert rec.inputs["service_time"] == "measured"
