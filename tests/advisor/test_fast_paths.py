"""The engine's fast paths give exactly what the plain computations give.

recommend() sizes through CandTable / size_fast (memoized per model-size step and per
server counts), decides sensitivity probes with upper bounds (probe, light_flips), shares
CriterionScore objects between recommendations and memoizes explanations on categorical
inputs. Each test below compares one of those with the straightforward computation on
generated profiles (the benchmark's generator, which varies every input).
"""
from __future__ import annotations

import json
import math
import sys
from typing import Iterator

import pytest

from advisor.criteria import Inputs
from advisor.engine import Evaluator, _evaluator, ranked, recommend, recommend_json, winner
from advisor.explain import CATEGORICAL, SharedCriterionScore
from advisor.models import CriterionScore, Recommendation, WorkloadProfile
from advisor.prices import default_prices
from advisor.sizing import _hypo_tail, erlang_c, p95_ms, size_target

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from recommend import generate  # noqa: E402

PLAN_FIELDS = ("target", "sku", "vcpu", "mem_gib", "gpus", "gpu_model", "gpu_used", "workers", "service_ms", "c_peak",
               "c_base", "n_peak", "n_min", "n_max", "latency_met", "autoscale", "tier", "hourly", "price_region",
               "quota_cores", "quota_cores_max", "monthly", "over_limit", "batch", "rows_month", "limit", "n_base")


@pytest.fixture(scope="module")
def profiles() -> list[WorkloadProfile]:
    return generate(400, 31)


def _fields(plan) -> tuple:
    return tuple(getattr(plan, f) for f in PLAN_FIELDS)


def test_fast_sizing_equals_the_reference_sizing(profiles):
    """Evaluator.plan (CandTable + size_fast) against sizing.size_target, field by field, every target;
    and again for the changed profiles sensitivity sizes (peak x10 / x0.2, GPU required, next SLA)."""
    ev = _evaluator(default_prices())
    compared = 0
    for p in profiles:
        P0 = Inputs.from_profile(p)
        for P in (P0, P0.replace(peak=P0.peak * 10), P0.replace(peak=P0.peak * 0.2), P0.replace(gpu="required"),
                  P0.replace(sla=99.95), P0.replace(gpu="preferred")):
            ev.begin()
            for T in ev.targets:
                fast, why = ev.plan(P, T)
                ref, ref_why = size_target(P, T, ev.service(P), ev.cm(P.region), {})
                if ref is None:
                    assert fast is None and why == ref_why, (T.id, P.d)
                else:
                    assert fast is not None and _fields(fast) == _fields(ref), (T.id, P.d)
                    compared += 1
    assert compared > 5000


def _p95_reference(c: int, lam: float, s_ms: float, q: float = 0.05) -> float:
    """p95_ms as first written (nested functions); the engine's version is the same arithmetic in one loop."""
    mu = 1000.0 / s_ms
    a = lam / mu
    if a >= c:
        return math.inf
    pw = erlang_c(c, a)
    if pw < 1e-9:
        return math.log(1.0 / q) / mu * 1000.0
    theta = c * mu - lam

    def f(t):
        return (1.0 - pw) * math.exp(-mu * t) + pw * _hypo_tail(theta, mu, t) - q

    def dens(t):
        d1 = (1.0 - pw) * mu * math.exp(-mu * t)
        if abs(theta - mu) <= 1e-9 * mu:
            d2 = mu * mu * t * math.exp(-mu * t)
        else:
            d2 = theta * mu / (mu - theta) * (math.exp(-theta * t) - math.exp(-mu * t))
        return d1 + pw * d2

    lo, hi = 0.0, math.log(1.0 / q) / mu
    while f(hi) > 0.0:
        lo, hi = hi, hi * 2.0
    t = hi
    for _ in range(60):
        ft = f(t)
        if ft > 0:
            lo = t
        else:
            hi = t
        d = dens(t)
        nt = t + ft / d if d > 0 else (lo + hi) / 2
        if not (lo < nt < hi):
            nt = (lo + hi) / 2
        if abs(nt - t) <= 1e-7 * max(t, 1e-6):
            t = nt
            break
        t = nt
    return t * 1000.0


def test_p95_is_bit_for_bit_the_reference():
    import random
    rng = random.Random(3)
    for _ in range(3000):
        s = 10 ** rng.uniform(-1, 3)
        c = rng.randint(1, 400)
        lam = rng.uniform(0, 0.999) * c * 1000.0 / s
        assert p95_ms(c, lam, s) == _p95_reference(c, lam, s)
    assert p95_ms(2, 100.0, 10.0) == _p95_reference(2, 100.0, 10.0)  # theta == mu: W + S is Gamma(2, mu)


def _evaluated(profiles: list) -> Iterator[tuple]:
    """(evaluator, inputs, base evaluation with reasons, winner) of each profile that has a winner."""
    ev = _evaluator(default_prices())
    for p in profiles:
        P = Inputs.from_profile(p)
        ev.begin()
        base = ev.evaluate(P, True)
        w = winner(base)
        if w is not None:
            yield ev, P, base, w


def test_probes_match_a_full_re_evaluation_for_every_change_tried(profiles):
    """Like test_engine's check, on the benchmark's generator and every change sensitivity tries: the bounds
    that skip targets never change the answer."""
    compared = 0
    for ev, P, base, w in _evaluated(profiles[:220]):
        changes = [(a, v) for a, values in CATEGORICAL for v in values if getattr(P, a) != v]
        start = P.peak if P.peak > 0 else 0.5
        changes += [("peak", start * f) for f in (10.0, 100.0, 3.16, 0.2, 0.45)]
        changes += [("sla", 99.95), ("sla", 99.99), ("budget", 50.0), ("max_req_s", 181.0), ("max_req_s", 241.0)]
        for attr, value in changes:
            P2 = P.replace(**{attr: value})
            best, tid, mine = ev.probe(P2, base, attr, w.tid)
            full = ranked(Evaluator(ev.book).evaluate(P2, False))
            if not full:
                assert best is None, (attr, value)
                continue
            assert (tid, best) == (full[0].tid, full[0].rank_key()), (attr, value, P.d)
            again = next((e for e in full if e.tid == w.tid), None)
            assert (mine is None) == (again is None) and (mine is None or mine == again.rank_key()), (attr, value)
            compared += 1
    assert compared > 3000


def test_light_flips_agrees_with_probe(profiles):
    checked = 0
    for ev, P, base, w in _evaluated(profiles):
        for attr, values in CATEGORICAL + (("budget", (10.0, 100.0, 1000.0)),):
            if not ev.spec(attr).is_light:
                continue
            for v in values:
                if v == getattr(P, attr):
                    continue
                best, tid, _mine = ev.probe(P.replace(**{attr: v}), base, attr, w.tid)
                flipped = tid != w.tid or best is None
                assert ev.light_flips(P, base, w, attr, v) == flipped, (attr, v, P.d)
                checked += 1
    assert checked > 1000


def test_monthly_lower_bound_is_a_lower_bound(profiles):
    ev = _evaluator(default_prices())
    checked = 0
    for p in profiles:
        P0 = Inputs.from_profile(p)
        for P in (P0, P0.replace(peak=P0.peak * 10)):
            ev.begin()
            for T in ev.targets:
                plan, _why = ev.plan(P, T)
                if plan is None:
                    continue
                monthly = plan.monthly + (ev.cm(P.region).fixed_monthly(P, T.id) if T.id == "aks" else 0.0)
                assert ev.monthly_lb(P, T) <= monthly, (T.id, P.d)
                checked += 1
    assert checked > 1500


def test_warm_caches_give_the_same_json_as_a_cold_engine(profiles):
    """Memoized explanations, shared criterion scores and shared probe plans are pure: a fresh Evaluator
    (nothing cached) writes the same document as the long-running one."""
    import advisor.engine as engine

    book = default_prices()
    for p in profiles[:60]:
        recommend(p)  # warm
    warm = [recommend_json(p) for p in profiles[:60]]
    saved = dict(engine._EVALUATORS)
    try:
        cold = []
        for p in profiles[:60]:
            engine._EVALUATORS.clear()
            engine._EVALUATORS[id(book)] = Evaluator(book)
            cold.append(recommend_json(p))
    finally:
        engine._EVALUATORS.clear()
        engine._EVALUATORS.update(saved)
    assert warm == cold


def test_shared_criterion_scores_are_immutable_and_behave_like_criterion_scores(profiles):
    rec = recommend(profiles[0])
    shared = [c for o in rec.options for c in o.criteria if isinstance(c, SharedCriterionScore)]
    assert shared and all(isinstance(c, CriterionScore) for c in shared)
    c = shared[0]
    plain = CriterionScore.model_validate(c.model_dump())
    assert c == plain and plain == c and c.model_dump() == plain.model_dump()
    assert json.loads(c.model_dump_json()) == c.model_dump(mode="json")
    assert repr(c) == repr(plain)
    with pytest.raises(Exception):
        c.score = 0.0
    again = Recommendation.model_validate(rec.model_dump())
    assert again.model_dump(mode="json") == rec.model_dump(mode="json")
    assert again == rec


def test_availability_bound_memo_never_mixes_two_catalogs(tmp_path):
    """The availability upper bound is memoized per target object: a second catalog whose azureml SLA fact
    differs gets its own bound, not the first catalog's."""
    from advisor.catalog import TARGETS_FILE, load_catalog
    from advisor.criteria import PLAN_UPPER_BOUNDS

    text = TARGETS_FILE.read_text(encoding="utf-8")
    changed = text.replace("sla: {value: 99.9, verified: false, src: A,", "sla: {value: 99.99, verified: true, src: A,", 1)
    assert changed != text
    other = tmp_path / "targets.yaml"
    other.write_text(changed, encoding="utf-8")
    a, b = load_catalog(), load_catalog(other)
    P = Inputs.from_profile(WorkloadProfile.model_validate({"scale": {"availability_sla": 99.95}}))
    ub = PLAN_UPPER_BOUNDS["availability"]
    first = ub(P, a.targets["azureml"])
    second = ub(P, b.targets["azureml"])
    assert first != second  # 99.95 > 99.9 (unverified) scores lower than 99.95 <= 99.99 (verified)
    assert ub(P, a.targets["azureml"]) == first and ub(P, b.targets["azureml"]) == second
