"""The one loader for user documents: hostile YAML/JSON is one error line, fast and small (issue 17 item 2).

Property tests (hypothesis) feed the profile parser arbitrary text, YAML-shaped token soup and real
documents; each call must return a profile or raise ProfileError whose message is one short line,
within a time and memory bound.
"""
from __future__ import annotations

import json
import time
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.models import ProfileError, WorkloadProfile, load_profile, parse_profile_text
from advisor.safe_load import MAX_BYTES, MAX_DEPTH, DocumentError, load_json, load_yaml, short

# 9 levels of 9 aliases: 351 bytes that expand to 9**9 (387 million) strings in plain yaml.safe_load.
ALIAS_BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]" for p, c in zip("abcdefgh", "bcdefghi")]
    + ["name: *i"])

# Hostile or broken documents, each with what its one-line error must say. The count is in the report.
HOSTILE_YAML = [
    (ALIAS_BOMB, "aliases (*'a') are not allowed"),
    ("a: &x {b: 1}\nc: *x\n", "aliases"),
    ("base: &b {peak_rps: 1}\ninference:\n  <<: *b\n", "aliases"),
    ("name: a\nname: b\n", "duplicate key 'name'"),
    ("inference: {peak_rps: 1, peak_rps: 2}", "duplicate key 'peak_rps'"),
    ("[" * 60_000, f"nested deeper than {MAX_DEPTH} levels"),
    ("{a: " * 15_000, f"nested deeper than {MAX_DEPTH} levels"),
    ("".join(f"{' ' * i}k:\n" for i in range(200)), f"nested deeper than {MAX_DEPTH} levels"),
    ("- " * 500 + "x", f"nested deeper than {MAX_DEPTH} levels"),
    ("inference:\n  peak_rps: " + "9" * 5000, "a number longer than 100 characters"),
    ("budget: {monthly_usd: " + "1" * 3000 + ".5}", "a number longer than 100 characters"),
    ("x: !!python/object/apply:os.system [id]", "could not determine a constructor"),
    ("x: !" + "t" * 50_000 + " 1", "could not determine a constructor"),
    ("name: " + "x" * (MAX_BYTES + 1), f"larger than {MAX_BYTES // 1000} kB"),
    ("[" * (MAX_BYTES + 1), f"larger than {MAX_BYTES // 1000} kB"),
    ("inference: [1, 2\n", "not valid YAML or JSON at line 2"),
    ("? [a, b]\n: 1\n", "a mapping key must be a plain value"),
    ("\t- x", "not valid YAML or JSON"),
    ("name: \x1b[31mred", "characters are not allowed"),
    ("a: 1\n---\nb: 2\n", "but found another document"),
]

HOSTILE_JSON = [
    ('{"name": "a", "name": "b"}', "duplicate key 'name'"),
    ('{"inference": {"peak_rps": NaN}}', "NaN is not a JSON number"),
    ('{"budget": {"monthly_usd": Infinity}}', "Infinity is not a JSON number"),
    ('{"x": ' + "9" * 5000 + "}", "a number longer than 100 characters"),
    ("[" * 30_000 + "]" * 30_000, f"nested deeper than {MAX_DEPTH} levels"),
    ('{"a": ' * 70 + "1" + "}" * 70, f"nested deeper than {MAX_DEPTH} levels"),
    ("name: yaml-in-a-json-file", "not valid JSON at line 1, column 1"),
    ('{"a": 1} // comment', "not valid JSON"),
    ("", "not valid JSON"),
]


def _bounded(call, *, seconds: float = 10.0, peak_mb: float = 64.0):
    """Run call() under tracemalloc; assert it stayed within the time and memory bounds."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        return call()
    finally:
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert elapsed < seconds, f"took {elapsed:.2f} s"
        assert peak < peak_mb * 1e6, f"peak {peak / 1e6:.1f} MB"


def _one_line(message: str, limit: int = 400) -> None:
    assert "\n" not in message and "Traceback" not in message
    assert 0 < len(message) <= limit, len(message)


@pytest.mark.parametrize("text, needle", HOSTILE_YAML, ids=range(len(HOSTILE_YAML)))
def test_hostile_yaml_profile_is_one_short_line(text, needle):
    with pytest.raises(ProfileError) as e:
        _bounded(lambda: parse_profile_text(text, "p.yaml"), peak_mb=32)
    _one_line(str(e.value))
    assert str(e.value).startswith("p.yaml: ") and needle in str(e.value)


@pytest.mark.parametrize("text, needle", HOSTILE_JSON, ids=range(len(HOSTILE_JSON)))
def test_hostile_json_profile_is_one_short_line(tmp_path, text, needle):
    path = tmp_path / "p.json"
    path.write_text(text or " ")
    with pytest.raises(ProfileError) as e:
        _bounded(lambda: parse_profile_text(text or " x", str(path)), peak_mb=32)
    _one_line(str(e.value))
    assert needle in str(e.value)


def test_alias_bomb_is_refused_in_a_millisecond_and_kilobytes():
    t0 = time.perf_counter()
    tracemalloc.start()
    with pytest.raises(DocumentError, match=r"line 2, column 8: aliases"):
        load_yaml(ALIAS_BOMB, "bomb.yaml")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert time.perf_counter() - t0 < 10 and peak < 1e6  # memory is the sharp bound; time only catches a spin


def test_json_profile_is_strict_json_yaml_profile_still_reads_json(tmp_path):
    j = tmp_path / "p.json"
    j.write_text('{"inference": {"peak_rps": 7}}')
    assert load_profile(j).inference.peak_rps == 7
    j.write_text("inference:\n  peak_rps: 7\n")  # YAML is not JSON
    with pytest.raises(ProfileError, match="not valid JSON at line 1, column 1"):
        load_profile(j)
    y = tmp_path / "p.yaml"
    y.write_text('{"inference": {"peak_rps": 7}}')
    assert load_profile(y).inference.peak_rps == 7


def test_profile_larger_than_the_cap_is_refused_before_reading(tmp_path):
    p = tmp_path / "big.yaml"
    p.write_text("#" * (MAX_BYTES + 10))
    with pytest.raises(ProfileError, match=f"larger than {MAX_BYTES // 1000} kB"):
        load_profile(p)


def test_plain_yaml_still_loads_merges_written_inline():
    assert load_yaml("a: 1\nb: [1, 2.5, {c: ~}]\n<<: {d: x}\n") == {"a": 1, "b": [1, 2.5, {"c": None}], "d": "x"}
    assert load_yaml("a: &anchor 1\n") == {"a": 1}  # an anchor nobody refers to is harmless
    assert load_yaml("") is None
    assert load_json('{"a": [1, 2.5, null, true]}') == {"a": [1, 2.5, None, True]}


def test_what_we_write_we_read_back_even_with_shared_objects():
    from advisor.safe_load import dump_yaml

    shared = {"days": "mon-fri"}
    value = {"a": shared, "b": shared, "c": [shared, shared]}
    text = dump_yaml(value)
    assert "&" not in text and "*" not in text  # yaml.safe_dump writes &id001 / *id001 here
    assert load_yaml(text) == value


def test_validation_messages_never_repr_an_unbounded_value():
    huge = "x" * 200_000
    for text in (f"inference:\n  gpu: {huge}\n", f"inference:\n  peak_rps: {huge}\n", f"name: [{huge}]\n",
                 f"{huge}: 1\n", "team: {kind: [" + ", ".join(["a" * 1000] * 200) + "]}"):
        with pytest.raises(ProfileError) as e:
            parse_profile_text(text, "p.yaml")
        _one_line(str(e.value))


def test_short_is_bounded_for_any_value():
    class Boom:
        def __repr__(self):
            raise RuntimeError("no repr")

    nested: list = []
    for _ in range(10_000):
        nested = [nested]
    for value in ("a" * 10**6, list(range(10**5)), {str(i): i for i in range(10**4)}, 10**5000, nested, Boom(),
                  "line\nbreak"):
        text = short(value)
        assert len(text) <= 80 and "\n" not in text


# ---------------------------------------------------------------- properties

YAMLISH = st.lists(st.sampled_from(list("[]{}:,-&*!|>'\"#?<%@` \n\t") +
                                   ["a", "b", "9", ".", "e", "name", "inference", "peak_rps", "&a ", "*a",
                                    "<<", "!!", "---", "...", "~", "true", "1e999", ".nan"]),
                   max_size=150).map("".join)
JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
                       lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
                       max_leaves=30)
PROFILE_KEYS = st.sampled_from(["name", "region", "inference", "scale", "budget", "model", "team", "security",
                                "operations", "peak_rps", "gpu", "monthly_usd", "schedule"])
PROFILE_LIKE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=15),
                            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(PROFILE_KEYS, inner, max_size=5),
                            max_leaves=25)


def _profile_or_one_line(text: str, source: str) -> None:
    try:
        result = _bounded(lambda: parse_profile_text(text, source))
    except ProfileError as e:
        _one_line(str(e), 400 + len(source))
    else:
        assert isinstance(result, WorkloadProfile)


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.text(max_size=400))
def test_any_text_is_a_profile_or_one_line(text):
    _profile_or_one_line(text, "p.yaml")
    _profile_or_one_line(text, "p.json")


@FAST
@given(YAMLISH)
def test_yaml_token_soup_is_a_profile_or_one_line(text):
    _profile_or_one_line(text, "p.yaml")


@FAST
@given(JSONISH)
def test_any_json_value_is_a_profile_or_one_line(value):
    _profile_or_one_line(json.dumps(value), "p.json")
    _profile_or_one_line(json.dumps(value), "p.yaml")


@FAST
@given(PROFILE_LIKE)
def test_profile_shaped_documents_are_a_profile_or_one_line(value):
    import yaml

    _profile_or_one_line(yaml.safe_dump(value), "p.yaml")
    _profile_or_one_line(json.dumps(value), "p.json")
