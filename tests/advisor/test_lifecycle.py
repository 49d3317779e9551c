"""The shared lifecycle rules (advisor/lifecycle.py): Little's law, headroom, the one HA rule,
the schedule and the second deployment of a rollout."""
from __future__ import annotations

import pytest

from advisor import lifecycle as lc
from advisor.models import parse_profile


def test_long_requests_use_the_profile_duration_unless_measured():
    assert lc.request_duration_s(60, 216, measured=False) == 60  # a 216 ms estimate vs 60 s requests
    assert lc.request_duration_s(60, 216, measured=True) == pytest.approx(0.216)
    assert lc.request_duration_s(1, 216, measured=False) == pytest.approx(0.216)
    assert lc.request_duration_s(5, 4, measured=False) == pytest.approx(0.004)  # a 5 s bound is not a long request
    assert lc.request_duration_s(170, 4, measured=False, p95_latency_ms=500) == pytest.approx(0.004)  # rare outlier
    assert lc.request_duration_s(300, 4, measured=False, p95_latency_ms=120_000) == 120  # the shorter of the two


def test_littles_law_and_instances_per_concurrency():
    assert lc.in_flight(0.1, 60) == pytest.approx(6)
    assert lc.instances_for_concurrency(0.1, 60, 1) == 6
    assert lc.instances_for_concurrency(0.1, 60, 4) == 2
    assert lc.instances_for_concurrency(0.0, 60, 1) == 1


def test_headroom_doubles_only_an_estimate():
    assert lc.headroom(measured=False) == 2.0 and lc.headroom(measured=True) == 1.0


@pytest.mark.parametrize("sla,n", [(99.99, 3), (99.9, 3), (99.5, 2), (99.0, 2), (95, 1)])
def test_one_ha_rule(sla, n):
    assert lc.ha_minimum(sla) == n


def test_schedule_prices_busy_and_idle_hours():
    p = parse_profile({"scale": {"schedule": {"days": "mon-fri", "hours": "08:00-18:00"}}})
    assert lc.busy_fraction(p) == pytest.approx(50 / 168)
    assert lc.scheduled_instance_hours(4, 2, p) == pytest.approx(730 * (50 / 168 * 4 + 118 / 168 * 2))
    assert lc.scheduled_instance_hours(4, 2, parse_profile({})) == pytest.approx(730 * 4)


def test_second_deployment_per_rollout():
    bg = lc.second_deployment("blue-green")
    assert (bg.hours, bg.share) == (48.0, 1.0) and "blue-green" in bg.why
    assert lc.second_deployment("canary").share == 0.1
    assert lc.second_deployment("shadow").hours == 2 * 7 * 24
    assert lc.second_deployment("shadow", can_mirror=False).hours == 0
    assert lc.second_deployment("simple").hours == 0
    assert lc.second_deployment_instances(6, 0.1) == 1 and lc.second_deployment_instances(6, 1.0) == 6
    assert lc.second_deployment_instances(6, 0.0) == 0
