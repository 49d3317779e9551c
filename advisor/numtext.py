"""Numbers as text, memoized: `fmt(x, spec)` is `format(x, spec)` for the float presentation types.

Formatting a float costs about as much as a dozen dict lookups, and a recommendation words the same
figures many times: each option's notes, reasons and criteria repeat the profile's peak, p95 and
service time, and scores, prices and SKU sizes recur across recommendations. The memo is keyed on
the number alone (and bounded), never on a profile.
"""
from __future__ import annotations

import math
from typing import Final

#: largest number of texts kept per format spec (the table is cleared when full)
FMT_MAX: Final = 8192
_BY_SPEC: Final[dict[str, dict[float, str]]] = {}
#: 0.0 per spec (kept apart: -0.0 == 0.0 as a dict key, but they format differently)
_ZERO: Final[dict[str, str]] = {}


def fmt(x: float, spec: str) -> str:
    """format(x, spec) for a float presentation type (e, f, g, %): ints format the same as the equal float
    under those types, so an int and its float share an entry. 0.0 has its own table and -0.0 and NaN are not
    memoized (-0.0 == 0.0 as a key, and NaN never equals itself)."""
    if x == 0.0:
        if math.copysign(1.0, x) < 0.0:
            return format(x, spec)
        z = _ZERO.get(spec)
        if z is None:
            _check(spec)
            z = _ZERO[spec] = format(0.0, spec)
        return z
    if x != x:
        return format(x, spec)
    memo = _BY_SPEC.get(spec)
    if memo is None:
        _check(spec)
        memo = _BY_SPEC[spec] = {}
    s = memo.get(x)
    if s is None:
        if len(memo) >= FMT_MAX:
            memo.clear()
        s = memo[x] = format(x, spec)
    return s


def _check(spec: str) -> None:
    if spec[-1:] not in ("e", "f", "g", "%"):
        raise ValueError(f"fmt: {spec!r} is not a float presentation type")
