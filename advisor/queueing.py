"""Queueing maths for sizing: an M/M/c queue per deployment.

Requests arrive as a Poisson stream at `lam` per second and are served by `c`
workers fed from one queue, each taking an exponential service time with mean
`s_ms`. Erlang C gives the probability that a request waits; the response time
is that wait plus its own service. Sizing asks for the smallest `c` that answers
95% of requests within the p95 target with utilisation at most 85%: queueing
delay grows sharply near full utilisation, so this is more than peak_rps x S
(Little's law gives the busy workers, a = lam x S, only as the floor).
"""
from __future__ import annotations

import math
from functools import lru_cache

Q = 0.05  # 1 - 0.95: the p95 tail
RHO_MAX = 0.85  # highest utilisation accepted at peak
EXACT_A = 40.0  # offered load up to which Erlang C is computed exactly (recurrence); Halfin-Whitt above


def erlang_c_hw(c: int, a: float) -> float:
    """Halfin-Whitt approximation of Erlang C for large offered loads:
    P(wait) ~ 1 / (1 + beta * Phi(beta) / phi(beta)), beta = (c - a) / sqrt(a)."""
    beta = (c - a) / math.sqrt(a)
    if beta <= 0:
        return 1.0
    if beta > 37.0:
        return 0.0
    phi = math.exp(-0.5 * beta * beta) / math.sqrt(2.0 * math.pi)
    big_phi = 0.5 * (1.0 + math.erf(beta / math.sqrt(2.0)))
    return 1.0 / (1.0 + beta * big_phi / phi)


def erlang_c(c: int, a: float) -> float:
    """Probability that an arrival waits in M/M/c with offered load a = lam / mu (a < c).

    Exact (Erlang B recurrence, O(c)) up to a = EXACT_A; Halfin-Whitt above."""
    if a <= 0:
        return 0.0
    if a >= c:
        return 1.0
    if a > EXACT_A:
        return erlang_c_hw(c, a)
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b / (1.0 - a / c * (1.0 - b))


def _wait_plus_service_tail(theta: float, mu: float, t: float) -> float:
    """P(W + S > t) for independent W ~ Exp(theta) (the wait of a request that queues), S ~ Exp(mu)."""
    if abs(theta - mu) <= 1e-9 * mu:
        return (1.0 + mu * t) * math.exp(-mu * t)
    return (mu * math.exp(-theta * t) - theta * math.exp(-mu * t)) / (mu - theta)


def response_tail(c: int, lam: float, s_ms: float, t_ms: float) -> float:
    """P(response time > t_ms) in M/M/c: no wait with probability 1 - C, else wait plus service."""
    mu = 1000.0 / s_ms
    a = lam / mu
    if a >= c:
        return 1.0
    t = t_ms / 1000.0
    pw = erlang_c(c, a)
    return (1.0 - pw) * math.exp(-mu * t) + pw * _wait_plus_service_tail(c * mu - lam, mu, t)


@lru_cache(maxsize=8192)
def min_servers(lam: float, s_ms: float, target_ms: float, q: float = Q, rho_max: float = RHO_MAX) -> tuple[int, bool]:
    """Smallest c with P(response > target) <= q and utilisation <= rho_max, as (c, met).

    When no c meets the target (the service time alone breaks it: P(S > target) = exp(-target/S) > q),
    returns the c that keeps utilisation at rho_max and met=False. Memoised: every target and every
    sensitivity probe asks it for the same few service times."""
    mu = 1000.0 / s_ms
    a = lam / mu
    c = max(1, math.ceil(a / rho_max - 1e-9))
    if math.exp(-mu * target_ms / 1000.0) > q:
        return c, False
    if a <= 0.0:
        return 1, True
    if response_tail(c, lam, s_ms, target_ms) <= q:
        return c, True
    # the tail falls as c grows: step up (doubling) until it is met, then bisect
    lo, step = c, max(1, int(math.sqrt(a)))
    hi = lo + step
    while response_tail(hi, lam, s_ms, target_ms) > q:
        lo, hi = hi, hi + step
        step *= 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if response_tail(mid, lam, s_ms, target_ms) <= q:
            hi = mid
        else:
            lo = mid
    return hi, True


def p95_ms(c: int, lam: float, s_ms: float, q: float = Q) -> float:
    """The (1 - q) quantile of response time in M/M/c, in ms (inf when the queue is unstable), by bisection
    on the tail (Erlang C does not depend on t, so it is computed once)."""
    mu = 1000.0 / s_ms
    if lam / mu >= c:
        return math.inf
    hi = math.log(1.0 / q) / mu  # the quantile of the service time alone: the answer when nobody waits
    pw = erlang_c(c, lam / mu)
    if pw < 1e-9:
        return hi * 1000.0
    theta = c * mu - lam

    def tail(t: float) -> float:
        return (1.0 - pw) * math.exp(-mu * t) + pw * _wait_plus_service_tail(theta, mu, t)

    lo = 0.0
    while tail(hi) > q:
        lo, hi = hi, hi * 2.0
    while hi - lo > 1e-9 * hi:
        mid = (lo + hi) / 2.0
        if tail(mid) > q:
            lo = mid
        else:
            hi = mid
    return hi * 1000.0
