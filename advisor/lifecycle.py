"""How a deployment lives, priced: requests in flight (Little's law), headroom for an estimated
service time, the one availability rule, the busy-hours schedule, the second deployment of a
rollout and several regions.

Pure functions over the profile and plain numbers, shared by every target's sizing and cost, so
the same rule applies everywhere (issue 20: "one availability rule per target, cited" and
comparable across targets). The numbers that are the advisor's own assumptions, not Azure facts,
are named here and stated in the cost assumptions wherever they are used.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .models import WorkloadProfile

HOURS_PER_MONTH = 730.0
HOURS_PER_WEEK = 168.0

#: A longest request of at least LONG_REQUEST_S, and this much longer than the estimated service time, is a
#: long request (generation, OCR...): its duration is the profile's longest request, not the model-based
#: estimate. Shorter bounds (the default 1 s) are only a timeout bound.
LONG_REQUEST_FACTOR = 10.0
LONG_REQUEST_S = 10.0
#: Autoscale maximum covers this multiple of an *estimated* service time (a guess can be off by 2x).
ESTIMATE_HEADROOM = 2.0

#: Rollout assumptions (the advisor's, stated with the cost): releases per month and how long the second
#: deployment runs per release.
RELEASES_PER_MONTH = 2
BLUE_GREEN_HOURS = 24.0  # green runs next to blue until the switch and a day of rollback window
CANARY_HOURS = 48.0  # the canary takes a small share for two days
CANARY_SHARE = 0.1
SHADOW_HOURS = 7 * 24.0  # mirrored traffic for a week of comparison per release
SHADOW_SHARE = 0.5  # Azure ML mirrors up to 50 % of the traffic


def request_duration_s(max_request_seconds: float, service_ms: float, measured: bool,
                       p95_latency_ms: float = math.inf) -> float:
    """Seconds one request occupies a worker: the (measured or estimated) service time, unless the profile
    says typical requests run far longer than the estimate (its longest request and its p95 target are both
    long) - then the shorter of the two, a conservative duration for Little's law. A long longest request
    with a short p95 target is a rare outlier: the timeout must allow it, sizing follows the typical one."""
    service_s = service_ms / 1000.0
    typical_s = min(max_request_seconds, p95_latency_ms / 1000.0)
    if not measured and typical_s >= LONG_REQUEST_S and typical_s > LONG_REQUEST_FACTOR * service_s:
        return typical_s
    return service_s


def in_flight(rps: float, duration_s: float) -> float:
    """Little's law: requests in flight = arrival rate x time in the system."""
    return rps * duration_s


def instances_for_concurrency(rps: float, duration_s: float, per_instance: int) -> int:
    """Instances needed so every request in flight has a worker (beyond, Azure ML answers 429)."""
    return max(1, math.ceil(in_flight(rps, duration_s) / max(1, per_instance) - 1e-9))


def headroom(measured: bool) -> float:
    """Multiple of the service time the autoscale maximum must carry at peak."""
    return 1.0 if measured else ESTIMATE_HEADROOM


def ha_minimum(availability_sla: float) -> int:
    """The one availability rule for every target: at 99.9 % or more, three instances spread over the
    region's availability zones (one per zone: Azure ML documents "at least 3"; AKS "at least two
    replicas"; App Service and Container Apps zone redundancy two - three covers all); from 99 %, two
    (one may fail or be upgraded); below, one."""
    if availability_sla >= 99.9:
        return 3
    if availability_sla >= 99.0:
        return 2
    return 1


def busy_fraction(profile: WorkloadProfile) -> float:
    """Share of the week the workload is busy: its schedule's hours, or all of it."""
    sched = profile.scale.schedule
    return 1.0 if sched is None else sched.busy_hours_per_week() / HOURS_PER_WEEK


def scheduled_instance_hours(busy_instances: float, idle_instances: float, profile: WorkloadProfile) -> float:
    """Instance-hours a month: `busy_instances` during the schedule's hours, `idle_instances` outside."""
    f = busy_fraction(profile)
    return HOURS_PER_MONTH * (f * busy_instances + (1.0 - f) * idle_instances)


@dataclass(frozen=True)
class SecondDeployment:
    """The extra deployment a rollout runs: hours a month, share of the live capacity, and why."""

    hours: float
    share: float
    why: str


def second_deployment(rollout: str, can_mirror: bool = True) -> SecondDeployment:
    """What a rollout strategy adds to the bill (and to quota while it runs)."""
    if rollout == "blue-green":
        return SecondDeployment(RELEASES_PER_MONTH * BLUE_GREEN_HOURS, 1.0,
                                f"blue-green: a full second deployment for {BLUE_GREEN_HOURS:g} h per release, "
                                f"{RELEASES_PER_MONTH} releases a month")
    if rollout == "canary":
        return SecondDeployment(RELEASES_PER_MONTH * CANARY_HOURS, CANARY_SHARE,
                                f"canary: a second deployment sized for {CANARY_SHARE:.0%} of the traffic for "
                                f"{CANARY_HOURS:g} h per release, {RELEASES_PER_MONTH} releases a month")
    if rollout == "shadow" and can_mirror:
        return SecondDeployment(RELEASES_PER_MONTH * SHADOW_HOURS, SHADOW_SHARE,
                                f"shadow: a second deployment sized for {SHADOW_SHARE:.0%} mirrored traffic for "
                                f"{SHADOW_HOURS / 24:g} days per release, {RELEASES_PER_MONTH} releases a month")
    return SecondDeployment(0.0, 0.0, "")


def second_deployment_instances(live_instances: int, share: float, floor: int = 1) -> int:
    """Instances of the second deployment: its share of the live capacity, at least `floor`."""
    return max(floor, math.ceil(live_instances * share - 1e-9)) if share > 0 else 0


__all__ = ["HOURS_PER_MONTH", "request_duration_s", "in_flight", "instances_for_concurrency", "headroom",
           "ha_minimum", "busy_fraction", "scheduled_instance_hours", "SecondDeployment", "second_deployment",
           "second_deployment_instances"]
