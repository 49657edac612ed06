"""Optimal order placement across venues: Cont and Kukanov (2017).

R. Cont and A. Kukanov, "Optimal order placement in limit order markets", Quantitative
Finance 17(1), 2017. A trader must buy ``S`` shares by a short horizon. She sends a
market order of ``M`` shares and limit orders ``L_k`` at the best quote of venues
``k = 1..K``, where ``Q_k`` shares queue ahead of her. During the horizon the queue at
venue ``k`` loses ``xi_k`` shares (trades and cancellations, random), so her order there
fills ``min((xi_k - Q_k)_+, L_k)``. Costs are measured from the mid, per share: a market
order pays the half spread ``h`` plus the taker fee ``f``; a limit fill earns ``h + r_k``
(rebate ``r_k``). Shares short of ``S`` at the horizon are bought at a penalty
``lambda_u`` per share above the mid, shares beyond ``S`` cost ``lambda_o`` each:

    V(M, L; xi) = (h + f) M - sum_k (h + r_k) min((xi_k - Q_k)_+, L_k)
                  + lambda_u (S - A)_+ + lambda_o (A - S)_+,
    A = M + sum_k min((xi_k - Q_k)_+, L_k).

The optimal split minimises ``E[V]``. :func:`optimal_placement` minimises its sample
average over a fixed set of seeded scenarios of ``xi`` *exactly*: ``V`` is piecewise
linear but not convex in ``L`` (a fill ``min(c, L)`` enters the overfill penalty through
a concave function), so the program is solved as a mixed-integer linear program (HiGHS,
through :func:`scipy.optimize.milp`), with one binary per scenario and venue choosing
which branch of the ``min`` is active. (The linear relaxation ``fill <= min(c, L)`` lets
the trader refuse fills and undershoots the cost when overfilling is dear.) The decision set is ``0 <= M, L_k <= S`` (the
paper's admissible orders), in whole shares by default.

The deterministic special case, used to route marketable child orders
(:func:`marketable_split`): the order takes visible liquidity from each venue's price
ladder and pays the venue's taker fee. Within a venue a marketable order walks the book
in price order, so the cost of ``q`` shares there is convex in ``q`` (its marginal
all-in price never falls), and taking shares greedily by all-in price across venues is
optimal.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from execgym.validation import check_choice, check_int, check_nonnegative

logger = logging.getLogger(__name__)

__all__ = ["PlacementResult", "marketable_cost", "marketable_split", "optimal_placement", "placement_cost",
           "single_venue_placement"]


def _check_placement(S, queues, outflows, rebates):
    S = check_int("S", S, minimum=1)
    Q = np.asarray(queues, dtype=np.float64).reshape(-1)
    xi = np.asarray(outflows, dtype=np.float64)
    if xi.ndim != 2 or xi.shape[1] != len(Q) or len(xi) == 0:
        raise ValueError(f"outflows must be (n_scenarios, {len(Q)}) for {len(Q)} venues, got shape {xi.shape}")
    if np.any(Q < 0) or np.any(xi < 0) or not np.all(np.isfinite(xi)) or not np.all(np.isfinite(Q)):
        raise ValueError("queues and outflows must be finite and >= 0 (shares)")
    r = np.asarray(rebates, dtype=np.float64).reshape(-1)
    if r.shape != Q.shape:
        raise ValueError(f"rebates must have one entry per venue ({len(Q)}), got {rebates!r}")
    return S, Q, xi, r


def placement_cost(M: float, L, S: int, queues, outflows, half_spread: float, taker_fee: float, rebates,
                   lambda_under: float, lambda_over: float) -> np.ndarray:
    """Cont-Kukanov cost ``V(M, L; xi)`` in each scenario (USD, from the mid).

    :param M: market order (shares).
    :param L: limit orders per venue, ``(K,)`` shares.
    :param S: shares to buy.
    :param queues: ``Q_k``, shares ahead at each venue, ``(K,)``.
    :param outflows: ``xi``, ``(N, K)``: shares leaving each queue in each scenario.
    :param half_spread: ``h`` (USD/share); ``taker_fee`` ``f`` and ``rebates`` ``r_k`` likewise.
    :param lambda_under: ``lambda_u``, penalty per share short of ``S`` (USD/share).
    :param lambda_over: ``lambda_o``, penalty per share beyond ``S`` (USD/share).
    :return: ``(N,)`` costs.
    """
    S, Q, xi, r = _check_placement(S, queues, outflows, rebates)
    L = np.asarray(L, dtype=np.float64).reshape(-1)
    fills = np.minimum(np.maximum(xi - Q, 0.0), L)
    A = M + fills.sum(axis=1)
    return ((half_spread + taker_fee) * M - fills @ (half_spread + r)
            + lambda_under * np.maximum(S - A, 0.0) + lambda_over * np.maximum(A - S, 0.0))


class PlacementResult(tuple):
    """``(market_shares, limit_shares (K,), expected_cost_usd)``."""

    __slots__ = ()

    def __new__(cls, market: float, limits: np.ndarray, cost: float) -> PlacementResult:
        return super().__new__(cls, (market, limits, cost))

    market = property(lambda self: self[0])
    limits = property(lambda self: self[1])
    cost = property(lambda self: self[2])


def optimal_placement(S: int, queues, outflows, half_spread: float, taker_fee: float, rebates,
                      lambda_under: float, lambda_over: float, integer: bool = True) -> PlacementResult:
    """The split ``(M, L)`` minimising the sample average of :func:`placement_cost` over ``outflows``.

    Exact (mixed-integer linear program, module docstring); ``integer`` restricts ``M``
    and ``L`` to whole shares. Parameters as in :func:`placement_cost`.
    """
    S, Q, xi, r = _check_placement(S, queues, outflows, rebates)
    check_nonnegative("lambda_under", lambda_under)
    check_nonnegative("lambda_over", lambda_over)
    N, K = xi.shape
    c = np.maximum(xi - Q, 0.0)  # fill capacity of each venue in each scenario
    big = float(max(S, c.max()))
    # variables: M | L (K) | y (N*K fills) | z (N*K branch of the min) | u (N under) | o (N over)
    iM, iL, iy = 0, 1, 1 + K
    iz = iy + N * K
    iu = iz + N * K
    io = iu + N
    n = io + N
    obj = np.zeros(n)
    obj[iM] = half_spread + taker_fee
    obj[iy:iz] = -np.tile(half_spread + r, N) / N
    obj[iu:io] = lambda_under / N
    obj[io:] = lambda_over / N
    rows, lo, hi = [], [], []

    def row(entries, low, high):
        a = np.zeros(n)
        for j, v in entries:
            a[j] += v
        rows.append(a)
        lo.append(low)
        hi.append(high)

    for s in range(N):
        for k in range(K):
            y, z, l = iy + s * K + k, iz + s * K + k, iL + k
            row([(y, 1.0), (l, -1.0)], -np.inf, 0.0)                     # y <= L
            row([(y, 1.0), (l, -1.0), (z, big)], 0.0, np.inf)            # y >= L - big z
            row([(y, 1.0), (z, -big)], c[s, k] - big, np.inf)            # y >= c - big (1 - z)
        fills = [(iy + s * K + k, 1.0) for k in range(K)]
        row([(iu + s, 1.0), (iM, 1.0), *fills], S, np.inf)               # u >= S - A
        row([(io + s, 1.0), (iM, -1.0), *[(j, -v) for j, v in fills]], -S, np.inf)  # o >= A - S
    ub = np.full(n, np.inf)
    ub[iM:iy] = S
    ub[iy:iz] = c.reshape(-1)                                            # y <= c
    ub[iz:iu] = 1.0
    integrality = np.zeros(n)
    integrality[iz:iu] = 1
    if integer:
        integrality[iM:iy] = 1
    res = milp(obj, constraints=LinearConstraint(np.array(rows), lo, hi), bounds=Bounds(np.zeros(n), ub),
               integrality=integrality)
    if not res.success:  # pragma: no cover - the program is always feasible and bounded
        raise RuntimeError(f"placement MILP failed: {res.message}")
    M, L = float(res.x[iM]), res.x[iL:iy].copy()
    if integer:
        M, L = float(round(M)), np.round(L)
    cost = float(placement_cost(M, L, S, Q, xi, half_spread, taker_fee, r, lambda_under, lambda_over).mean())
    return PlacementResult(M, L, cost)


def single_venue_placement(S: int, queue: float, outflows, half_spread: float, taker_fee: float, rebate: float,
                           lambda_under: float) -> PlacementResult:
    """Cont and Kukanov's closed form for one venue when overfilling is never worth it.

    With ``lambda_u > h + f`` (completing with a market order beats the underfill penalty)
    and a prohibitive overfill penalty, the optimum sends ``M = S - L`` as a market order
    and ``L`` as a limit order where ``P(xi - Q > L) = (lambda_u - h - f) / (lambda_u + h + r)``:
    setting the derivative of ``(h + f)(S - L) - (h + r + lambda_u) E[min(c, L)] + lambda_u L``
    (``c = (xi - Q)_+``) to zero. Here ``F`` is the empirical distribution of ``outflows``
    (1-D), so ``L`` is its quantile by the inverted CDF, clipped to ``[0, S]``.

    :return: ``(M, [L], expected cost)``; the cost has no overfill term (there is none).
    """
    S = check_int("S", S, minimum=1)
    if lambda_under <= half_spread + taker_fee:
        raise ValueError(f"lambda_under must exceed half_spread + taker_fee = {half_spread + taker_fee!r}, "
                         f"got {lambda_under!r}")
    xi = np.asarray(outflows, dtype=np.float64).reshape(-1, 1)
    c = np.maximum(xi[:, 0] - check_nonnegative("queue", queue), 0.0)
    p = (lambda_under - half_spread - taker_fee) / (lambda_under + half_spread + rebate)
    L = float(np.clip(np.quantile(c, 1.0 - p, method="inverted_cdf"), 0.0, S)) if p < 1.0 else 0.0
    M = S - L
    cost = float(placement_cost(M, [L], S, [queue], xi, half_spread, taker_fee, [rebate], lambda_under, 0.0).mean())
    return PlacementResult(M, np.array([L]), cost)


def _all_in(side: str, prices, sizes, fees) -> tuple[np.ndarray, np.ndarray]:
    check_choice("side", side, ("buy", "sell"))
    p = np.asarray(prices, dtype=np.float64)
    q = np.asarray(sizes, dtype=np.float64)
    f = np.asarray(fees, dtype=np.float64).reshape(-1)
    if p.ndim != 2 or q.shape != p.shape or f.shape != (p.shape[0],):
        raise ValueError(f"prices and sizes must be (K, L) and fees (K,), got {p.shape}, {q.shape}, {f.shape}")
    if np.any(q < 0) or np.any(np.isnan(p) & (q > 0)):
        raise ValueError("sizes must be >= 0, and every level with size must have a price")
    sign = 1.0 if side == "buy" else -1.0
    return np.where(q > 0, sign * p + f[:, None], np.inf), q


def marketable_cost(side: str, prices, sizes, fees, per_venue_shares) -> float:
    """All-in cost of taking ``per_venue_shares[k]`` shares from each venue's ladder.

    A buy pays ``price + fee`` per share, a sell ``-price + fee`` (cost = minus proceeds
    net of fees), each venue's shares walking its ladder best level first.

    :param prices: ``(K, L)`` ladder prices, best first (NaN for absent levels).
    :param sizes: ``(K, L)`` shares at each level.
    :param fees: ``(K,)`` taker fee per share.
    :raises ValueError: if a venue is asked for more than its ladder shows.
    """
    unit, q = _all_in(side, prices, sizes, fees)
    x = np.asarray(per_venue_shares, dtype=np.float64).reshape(-1)
    if x.shape != (q.shape[0],) or np.any(x < 0):
        raise ValueError(f"per_venue_shares must be {q.shape[0]} values >= 0, got {per_venue_shares!r}")
    if np.any(x > q.sum(axis=1) + 1e-9):
        raise ValueError(f"per_venue_shares {x} exceed the venues' visible depth {q.sum(axis=1)}")
    before = np.cumsum(q, axis=1) - q
    take = np.clip(x[:, None] - before, 0.0, q)
    return float((np.where(take > 0, unit, 0.0) * take).sum())


def marketable_split(side: str, prices, sizes, fees, shares: float) -> np.ndarray:
    """The cheapest split of a marketable order across venues' visible ladders.

    Greedy by all-in price (price + fee for a buy, -price + fee for a sell): take levels
    across all venues from the cheapest on. Optimal because each venue's cost is convex
    in its shares (module docstring). Ties go to the lower venue index.

    :param shares: the order (> 0; at most the total visible depth).
    :return: ``(K,)`` shares per venue.
    """
    unit, q = _all_in(side, prices, sizes, fees)
    check_nonnegative("shares", shares)
    if shares > q.sum() + 1e-9:
        raise ValueError(f"shares={shares!r} exceeds the visible depth of all venues ({q.sum()!r})")
    K, L = q.shape
    # within a venue the ladder is walked in order, so sort by (all-in price, venue, level)
    order = np.lexsort((np.tile(np.arange(L), K), np.repeat(np.arange(K), L), unit.reshape(-1)))
    flat = q.reshape(-1)[order]
    before = np.cumsum(flat) - flat
    take = np.clip(shares - before, 0.0, flat)
    out = np.zeros(K)
    np.add.at(out, order // L, take)
    return out
