"""Numbers as text, memoized: `fmt(x, spec)` is `format(x, spec)` for the float presentation types.

Formatting a float costs about as much as a dozen dict lookups, and a recommendation words the same
figures many times: each option's notes, reasons and criteria repeat the profile's peak, p95 and
service time, and scores, prices and SKU sizes recur across recommendations. The memo is keyed on
the number alone (and bounded), never on a profile.
"""
from __future__ import annotations

from typing import Final

#: largest number of texts kept per format spec (the table is cleared when full)
FMT_MAX: Final = 8192
_BY_SPEC: Final[dict[str, dict[float, str]]] = {}


def fmt(x: float, spec: str) -> str:
    """format(x, spec) for a float presentation type (e, f, g, %): ints format the same as the equal float
    under those types, so an int and its float share an entry. 0.0 and NaN are not memoized (-0.0 == 0.0 as
    a key, and NaN never equals itself)."""
    if x == 0.0 or x != x:
        return format(x, spec)
    memo = _BY_SPEC.get(spec)
    if memo is None:
        if spec[-1:] not in ("e", "f", "g", "%"):
            raise ValueError(f"fmt: {spec!r} is not a float presentation type")
        memo = _BY_SPEC[spec] = {}
    s = memo.get(x)
    if s is None:
        if len(memo) >= FMT_MAX:
            memo.clear()
        s = memo[x] = format(x, spec)
    return s
