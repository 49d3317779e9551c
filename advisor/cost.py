"""What every target's cost uses: the hours in a month, the traffic pattern's busy hours, money as text.

- 730 hours a month (the figure Azure's own pricing pages use).
- Always-on targets bill every instance-hour. With autoscale, the peak instance count is billed for
  the pattern's busy hours and the autoscale minimum for the rest (steady traffic: the peak count
  all month).
- Each target's module prices its own meters (advisor/targets/*.py) and lists its assumptions.
"""
from __future__ import annotations

import math

from .prices import RegionPrices

HOURS_PER_MONTH = 730.0
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600.0  # 2,628,000
#: hours per day at the peak instance count, by traffic pattern (assumption)
PEAK_HOURS_PER_DAY = {"steady": 24.0, "diurnal": 8.0, "bursty": 2.0, "sporadic": 1.0}
#: hours per day with any traffic, for scale-to-zero targets (assumption)
ACTIVE_HOURS_PER_DAY = {"steady": 24.0, "diurnal": 16.0, "bursty": 8.0, "sporadic": 3.0}
NOT_INCLUDED = ("Not included: storage, container registry, Log Analytics / Application Insights ingestion, "
                "outbound data transfer, load balancer and public IP, taxes and negotiated discounts.")
CLOSING_NOTES = ("730 hours a month.", NOT_INCLUDED)


def peak_hours(pattern: str) -> float:
    """Hours a month at the peak instance count."""
    return HOURS_PER_MONTH * PEAK_HOURS_PER_DAY[pattern] / 24.0


def instance_hours(pattern: str, n_peak: int, n_base: int, autoscale: bool, busy: float = 1.0,
                   n_min: int = 0) -> float:
    """Instance-hours a month: the peak count for the pattern's busy hours, the base count otherwise; with a
    busy-hours schedule (`busy` < 1, the share of the week) that mix runs inside it and `n_min` outside."""
    if not autoscale:
        return n_peak * HOURS_PER_MONTH
    if pattern == "steady" or n_base >= n_peak:
        inside = n_peak * HOURS_PER_MONTH
    else:
        ph = peak_hours(pattern)
        inside = n_peak * ph + n_base * (HOURS_PER_MONTH - ph)
    return busy * inside + (1.0 - busy) * n_min * HOURS_PER_MONTH


def r2(x: float) -> float:
    """x to the cent (half up, deterministic)."""
    return math.floor(x * 100.0 + 0.5) / 100.0


def money(x: float) -> str:
    return f"${x:,.2f}"


def rate(x: float) -> str:
    return f"${x:g}"


def snapshot(prices: RegionPrices) -> str:
    return f"Retail Prices API snapshot {prices.as_of} (USD, Linux, pay-as-you-go)"
