"""Cont-Kukanov optimal placement: exact against brute force on small instances."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from execgym.baselines.cont_kukanov import (
    marketable_cost,
    marketable_split,
    optimal_placement,
    placement_cost,
    single_venue_placement,
)


def brute_force_placement(S, Q, xi, h, f, r, lu, lo):
    best = (np.inf, None)
    K = len(Q)
    for x in itertools.product(range(S + 1), repeat=K + 1):
        cost = placement_cost(x[0], np.array(x[1:]), S, Q, xi, h, f, r, lu, lo).mean()
        if cost < best[0] - 1e-12:
            best = (cost, x)
    return best


@pytest.mark.parametrize("seed", range(6))
def test_placement_milp_matches_brute_force_over_all_integer_splits(seed):
    rng = np.random.default_rng(seed)
    K, S, N = 2, int(rng.integers(3, 7)), 5
    Q = rng.integers(0, 4, size=K).astype(float)
    xi = rng.integers(0, 10, size=(N, K)).astype(float)
    h, f = 0.005, 0.003
    r = rng.uniform(-0.002, 0.003, size=K)
    # alternate between a dear overfill and a cheap one; with a dear one (even seeds) a plain LP,
    # which relaxes fill = min(capacity, L) to fill <= min(capacity, L) and so lets the trader
    # refuse fills, finds a lower cost than any real split (checked when this test was written)
    lu = float(rng.uniform(0.01, 0.05))
    lo = float(rng.uniform(0.0, 0.004)) if seed % 2 else float(rng.uniform(0.01, 0.05))
    res = optimal_placement(S, Q, xi, h, f, r, lu, lo)
    cost, split = brute_force_placement(S, Q, xi, h, f, r, lu, lo)
    assert res.cost == pytest.approx(cost, abs=1e-12)
    assert placement_cost(res.market, res.limits, S, Q, xi, h, f, r, lu, lo).mean() == pytest.approx(cost, abs=1e-12)
    assert 0 <= res.market <= S and np.all((0 <= res.limits) & (res.limits <= S))


def test_placement_known_answers_for_a_certain_outflow():
    # one scenario, the queue at venue 0 clears with room for all S shares: post everything there
    S, Q, xi = 10, np.array([2.0, 0.0]), np.array([[20.0, 0.0]])
    res = optimal_placement(S, Q, xi, 0.005, 0.003, [0.002, 0.004], 0.05, 0.05)
    assert res.market == 0 and res.limits.tolist() == [10.0, 0.0]
    assert res.cost == pytest.approx(-(0.005 + 0.002) * 10)
    # no venue can fill: a market order for exactly S beats the underfill penalty
    res = optimal_placement(S, Q, np.array([[1.0, 0.0]]), 0.005, 0.003, [0.002, 0.004], 0.05, 0.05)
    assert res.market == 10 and res.cost == pytest.approx(0.008 * 10)


@pytest.mark.parametrize("seed", range(4))
def test_one_venue_closed_form_quantile_is_optimal_when_overfill_is_prohibitive(seed):
    rng = np.random.default_rng(seed)
    S, Q = 40, float(rng.integers(0, 20))
    xi = rng.poisson(35.0, size=(30, 1)).astype(float)
    h, f, r, lu = 0.005, 0.003, float(rng.uniform(0.0, 0.003)), float(rng.uniform(0.01, 0.03))
    closed = single_venue_placement(S, Q, xi, h, f, r, lu)
    assert closed.market + closed.limits[0] == S
    exact = optimal_placement(S, [Q], xi, h, f, [r], lu, lambda_over=10.0)
    assert closed.cost == pytest.approx(exact.cost, abs=1e-12)
    with pytest.raises(ValueError, match="lambda_under"):
        single_venue_placement(S, Q, xi, h, f, r, lambda_under=0.008)


def test_placement_rejects_bad_input_with_its_name():
    with pytest.raises(ValueError, match="outflows"):
        optimal_placement(5, [1.0, 2.0], np.zeros((3, 3)), 0.01, 0.0, [0.0, 0.0], 0.1, 0.1)
    with pytest.raises(ValueError, match="rebates"):
        optimal_placement(5, [1.0, 2.0], np.zeros((3, 2)), 0.01, 0.0, [0.0], 0.1, 0.1)
    with pytest.raises(ValueError, match="lambda_under"):
        optimal_placement(5, [1.0, 2.0], np.zeros((3, 2)), 0.01, 0.0, [0.0, 0.0], -0.1, 0.1)
    with pytest.raises(ValueError, match="S"):
        optimal_placement(0, [1.0], np.zeros((3, 1)), 0.01, 0.0, [0.0], 0.1, 0.1)


def ladders(rng, side, K=3, L=2):
    """Random ladders: asks rising (buy) or bids falling (sell) from a touch per venue."""
    touch = 100.0 + rng.integers(-2, 3, size=K) * 0.01
    steps = np.cumsum(rng.integers(1, 3, size=(K, L)), axis=1) - 1
    prices = touch[:, None] + (1 if side == "buy" else -1) * steps * 0.01
    sizes = rng.integers(0, 5, size=(K, L)).astype(float)
    prices[sizes == 0] = np.nan
    fees = rng.choice([-0.002, 0.0, 0.003, 0.006], size=K)
    return prices, sizes, fees


@pytest.mark.parametrize("side", ["buy", "sell"])
@pytest.mark.parametrize("seed", range(8))
def test_greedy_marketable_split_is_optimal_against_brute_force(side, seed):
    rng = np.random.default_rng(seed)
    prices, sizes, fees = ladders(rng, side)
    depth = sizes.sum(axis=1).astype(int)
    shares = int(rng.integers(1, depth.sum() + 1))
    split = marketable_split(side, prices, sizes, fees, shares)
    assert split.sum() == shares and np.all(split <= depth)
    best = min(marketable_cost(side, prices, sizes, fees, x)
               for x in itertools.product(*[range(d + 1) for d in depth]) if sum(x) == shares)
    assert marketable_cost(side, prices, sizes, fees, split) == pytest.approx(best, abs=1e-9)


def test_marketable_split_prefers_a_worse_price_when_its_fee_makes_it_cheaper():
    prices = np.array([[100.00, 100.01], [100.01, 100.02]])
    sizes = np.array([[100.0, 100.0], [100.0, 100.0]])
    fees = np.array([0.003, -0.001])  # 100.003 vs 100.009 at the touch: venue 0; 100.013 > 100.009
    assert marketable_split("buy", prices, sizes, fees, 150).tolist() == [100.0, 50.0]
    bids = np.array([[100.00, 99.99], [99.99, 99.98]])  # sell: proceeds net of fee 99.997 vs 99.991
    assert marketable_split("sell", bids, sizes, fees, 150).tolist() == [100.0, 50.0]
    with pytest.raises(ValueError, match="visible depth"):
        marketable_split("buy", prices, sizes, fees, 401)
    with pytest.raises(ValueError, match="side"):
        marketable_split("short", prices, sizes, fees, 1)
