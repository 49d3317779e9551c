"""numtext.fmt is format() for float presentation types, memoized: same text, whatever the cache holds."""
import math

import pytest

from advisor import numtext
from advisor.numtext import fmt

SPECS = ["g", ".1f", ".2f", ".3f", ",.2f", ",.0f", ".4g", ".0%", ".1e"]
VALUES = [1.0, 95.0, 0.1, 1234567.891, 1e-7, 2.5, -3.75, 99.95, 1e21, 123.456]


@pytest.mark.parametrize("spec", SPECS)
def test_same_text_as_format_cold_and_warm(spec):
    for x in VALUES:
        assert fmt(x, spec) == format(x, spec)  # first call fills the memo
        assert fmt(x, spec) == format(x, spec)  # second call reads it


@pytest.mark.parametrize("spec", ["g", ".2f", ",.2f", ".0%"])
def test_an_int_and_its_float_share_an_entry_because_they_format_alike(spec):
    assert fmt(5, spec) == format(5, spec) == format(5.0, spec)
    assert fmt(5.0, spec) == format(5.0, spec)


def test_negative_zero_and_nan_are_not_confused_by_the_memo():
    assert fmt(-0.0, "g") == "-0"
    assert fmt(0.0, "g") == "0"
    assert fmt(-0.0, "g") == "-0"
    assert fmt(math.nan, "g") == "nan"
    assert fmt(math.inf, ".1f") == "inf"


def test_integer_presentation_specs_are_refused():
    # ',' or '' would format 5 and 5.0 differently ('5' vs '5.0'), so one memo entry cannot serve both
    with pytest.raises(ValueError, match="not a float presentation type"):
        fmt(5.0, ",")


def test_the_memo_is_bounded():
    for i in range(numtext.FMT_MAX + 10):
        assert fmt(i + 0.5, ".1f") == f"{i + 0.5:.1f}"
    assert len(numtext._BY_SPEC[".1f"]) <= numtext.FMT_MAX


def test_zero_is_memoized_apart_from_negative_zero_and_checked_like_the_rest():
    for spec in ("g", ".2f", ",.0f", ".0%"):
        assert fmt(0.0, spec) == format(0.0, spec)
        assert fmt(0, spec) == format(0, spec)
        assert fmt(-0.0, spec) == format(-0.0, spec)
    with pytest.raises(ValueError, match="not a float presentation type"):
        fmt(0.0, "d")
