"""Property tests for the request parser (hypothesis): any body gives predictions or ONE error
line — never another exception — within time and memory bounds.

Two layers: the server's `parse_body` (bytes -> JSON or a 400 line) and the scoring script's
`run_batch` (JSON -> predictions, or an InputError the server answers 422)."""
from __future__ import annotations

import json
import pickle
import time
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deployers import scoring
from deployers.model_resolution import resolve
from deployers.serving.app import parse_body

from .test_scoring_script import load_script

COLUMNS = ["a", "b", "c", "d"]
PER_EXAMPLE_S = 1.0
PROFILE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                          HealthCheck.too_slow])


@pytest.fixture(scope="module")
def score(tmp_path_factory):
    """The rendered score.py serving a LogisticRegression fitted on named columns a-d."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    tmp = tmp_path_factory.mktemp("parser")
    X = pd.DataFrame([[0.0, 1.0, 2.0, 3.0], [3.0, 2.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0], [2.0, 0.0, 2.0, 0.0]],
                     columns=COLUMNS)
    folder = tmp / "model"
    folder.mkdir()
    (folder / "model.pkl").write_bytes(pickle.dumps(LogisticRegression().fit(X, [0, 1, 0, 1])))
    app = scoring.build_app_dir(resolve(str(folder / "model.pkl"), tmp / "state"), folder, tmp / "app")
    mp = pytest.MonkeyPatch()
    module = load_script(app, mp, "score_parser_props")
    yield module
    mp.undo()


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=10 ** 300, max_value=10 ** 320),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=6), st.dictionaries(st.sampled_from(COLUMNS + ["x", "data", "columns"]) | st.text(max_size=4),
                                                 inner, max_size=5)), max_leaves=40)
rows = st.lists(st.lists(scalars, min_size=0, max_size=6), max_size=5)
payloads = st.one_of(
    json_values,
    st.builds(lambda v: {"input_data": v}, json_values),
    st.builds(lambda v: {"data": v}, rows),
    st.builds(lambda cols, v: {"input_data": {"columns": cols, "data": v}},
              st.lists(st.sampled_from(COLUMNS + ["zz"]), max_size=5), rows),
    st.builds(lambda recs: {"dataframe_records": recs},
              st.lists(st.dictionaries(st.sampled_from(COLUMNS + ["zz"]), scalars, max_size=5), max_size=4)),
)


def _one_line(text: str) -> bool:
    return bool(text) and "\n" not in text and len(text) <= 400


@PROFILE
@given(payload=payloads)
def test_any_payload_is_predictions_or_one_input_error(score, payload):
    started = time.perf_counter()
    result = score.run_batch([payload])[0]
    assert time.perf_counter() - started < PER_EXAMPLE_S
    if isinstance(result, Exception):
        assert isinstance(result, score.InputError), repr(result)
        assert result.http_status == 422 and _one_line(str(result))
    else:
        assert isinstance(result, list) and all(v in (0, 1) for v in result)


@PROFILE
@given(payload=payloads)
def test_any_payload_as_a_json_body_goes_the_same_way(score, payload):
    try:
        body = json.dumps(payload).encode()  # NaN/Infinity as Python's json writes them (and reads them back)
    except ValueError:
        return
    parsed, error = parse_body(body)
    assert error is None
    result = score.run_batch([parsed])[0]
    assert isinstance(result, (list, score.InputError))


@PROFILE
@given(body=st.binary(max_size=300))
def test_any_bytes_are_json_or_one_400_line(body):
    parsed, error = parse_body(body)
    assert (error is None) or (parsed is None and _one_line(error))


@settings(max_examples=40, deadline=None)
@given(depth=st.integers(min_value=1, max_value=300_000), opener=st.sampled_from([b"[", b'{"a":']))
def test_deep_nesting_is_bounded(score, depth, opener):
    closer = b"]" if opener == b"[" else b"}"
    body = opener * depth + b"1" + closer * depth
    started = time.perf_counter()
    parsed, error = parse_body(body)
    if error is None:
        result = score.run_batch([parsed])[0]
        assert isinstance(result, (list, score.InputError))
    else:
        assert error == "the JSON is nested too deeply"
    assert time.perf_counter() - started < PER_EXAMPLE_S


def test_worst_bodies_at_the_size_limit_stay_within_memory_and_time(score):
    """2 MB of the cheapest-to-send, costliest-to-parse shapes (the server's limit is 10 MB; the
    costs are linear, and tracemalloc makes a bigger body slow to test)."""
    limit = 2 * 1024 * 1024
    bodies = [b"[" * (limit // 2) + b"]" * (limit // 2),
              b'{"data": [' + b",".join([b"[1,2,3,4]"] * (limit // 10 - 2)) + b"]}",
              b'{"data": [[' + b"9" * (limit - 20) + b",1,2,3]]}"]
    for body in bodies:
        tracemalloc.start()
        started = time.perf_counter()
        parsed, error = parse_body(body)
        result = score.run_batch([parsed])[0] if error is None else error
        took = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert isinstance(result, (list, str, score.InputError))
        assert took < 10 and peak < 40 * limit, (len(body), took, peak)
        del parsed, result
