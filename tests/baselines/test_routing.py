"""Routers: what each sends where, from the observation alone, for buys and sells."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from execgym import envs  # noqa: F401
from execgym.baselines import ROUTERS, make_router
from execgym.baselines.cont_kukanov import marketable_cost
from execgym.envs.routing import decode_routing_observation

K, L = 3, 2


def observation(offsets, sizes, fees, latency, child=1.0):
    """A routing observation for K venues and L levels (header values irrelevant to routers)."""
    head = [1.0, 1.0, 1.0, 1.0, child, 1.0, 0.0]
    venues = np.concatenate([np.asarray(offsets, float), np.asarray(sizes, float),
                             np.asarray(fees, float)[:, None], np.asarray(latency, float)[:, None]], axis=1)
    return np.concatenate([head, venues.ravel()]).astype(np.float32)


OBS = observation(offsets=[[0.0, 1.0], [1.0, 2.0], [0.0, 3.0]], sizes=[[0.3, 0.5], [2.0, 2.0], [0.6, 1.0]],
                  fees=[0.3, -0.1, 0.05], latency=[0.01, 0.02, 0.5])


def test_every_router_returns_weights_on_the_simplex_for_one_or_a_batch_of_observations():
    batch = np.stack([OBS, OBS * np.float32(1.0)])
    for name in ROUTERS:
        router = make_router(name, K, L)
        one, _ = router.predict(OBS)
        many, _ = router.predict(batch)
        assert one.shape == (K,) and many.shape == (2, K) and one.dtype == np.float32
        assert np.all(one >= 0) and one.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(many[0], one)
    with pytest.raises(ValueError, match="features"):
        make_router("best_price", 4, L).predict(OBS)
    with pytest.raises(TypeError, match="reset"):
        make_router("best_price", K, L).predict((OBS, {}))
    with pytest.raises(ValueError, match="unknown router"):
        make_router("fastest", K, L)


def test_best_price_sends_all_to_the_best_all_in_touch():
    # all-in touch: 0.3, 0.9, 0.05 bps -> venue 2
    assert make_router("best_price", K, L).predict(OBS)[0].tolist() == [0.0, 0.0, 1.0]


def test_liquidity_proportional_splits_by_touch_depth():
    np.testing.assert_allclose(make_router("liquidity_proportional", K, L).predict(OBS)[0],
                               np.array([0.3, 2.0, 0.6]) / 2.9, rtol=1e-6)


def test_score_router_weighs_price_fee_depth_and_latency_by_configuration():
    cheap = make_router("score", K, L, temperature_bps=0.0, w_latency=0.0, w_depth=0.0)
    assert cheap.predict(OBS)[0].tolist() == [0.0, 0.0, 1.0]  # best price + fee, like best_price
    # venue 2 must walk: 0.6 of the child at its touch, 0.4 three bps deeper -> walk cost 1.2 bps;
    # venue 0 shows 0.8: 0.5 at 1 bp, 0.2 beyond its ladder at 1 + 5 bps -> 1.7 bps
    walk = make_router("score", K, L, temperature_bps=0.0, w_latency=0.0)
    np.testing.assert_allclose(walk.scores(decode_routing_observation(OBS, K, L))[0], [0.3 + 1.7, 0.9, 0.05 + 1.2])
    assert walk.predict(OBS)[0].tolist() == [0.0, 1.0, 0.0]
    # a high price on latency (bps per decision interval) moves flow off the slow venue
    assert make_router("score", K, L, temperature_bps=0.0, w_depth=0.0, w_latency=10.0).predict(OBS)[0][2] == 0.0
    soft = make_router("score", K, L, temperature_bps=1.0).predict(OBS)[0]
    assert np.all(soft > 0) and np.argmax(soft) == np.argmax(walk.predict(OBS)[0])
    with pytest.raises(ValueError, match="w_fee"):
        make_router("score", K, L, w_fee=-1.0)


def test_cont_kukanov_takes_the_cheapest_visible_shares_first():
    # all-in levels: v0 0.3 (0.3), 1.3 (0.5); v1 0.9 (2.0), 1.9; v2 0.05 (0.6), 3.05 -> v2 0.6, v0 0.3, v1 0.1
    np.testing.assert_allclose(make_router("cont_kukanov", K, L).predict(OBS)[0], [0.3, 0.1, 0.6], atol=1e-6)
    big = observation([[0.0, 1.0], [1.0, 2.0], [0.0, 2.0]], [[0.3, 0.5], [1.0, 0.0], [0.2, 0.0]],
                      [0.3, -0.1, 0.05], [0.0, 0.0, 0.0], child=4.0)  # larger than all visible depth (2.0)
    w = make_router("cont_kukanov", K, L).predict(big)[0]
    np.testing.assert_allclose(w * 4.0, [0.8 + 2.0 * 0.8 / 2.0, 1.0 + 2.0 * 1.0 / 2.0, 0.2 + 2.0 * 0.2 / 2.0], rtol=1e-5)


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_in_the_env_cont_kukanovs_split_is_cheapest_on_every_visible_snapshot(side):
    env = gym.make("execgym/SmartOrderRouting-v0", side=side, total_shares=6000, horizon_s=120.0,
                   decision_interval_s=20.0, n_levels=L)
    routers = {name: make_router(name, K, L) for name in ROUTERS}
    obs, _ = env.reset(seed=4)
    done, n_checked = False, 0
    while not done:
        view = decode_routing_observation(obs, K, L)
        child = float(view.child[0])
        prices = np.where(view.size[0] > 0, view.offset_bps[0], np.nan)
        if child <= view.size[0].sum():
            costs = {}
            for name, router in routers.items():
                split = router.predict(obs)[0].astype(np.float64) * child
                if np.all(split <= view.size[0].sum(axis=1) + 1e-5):
                    costs[name] = marketable_cost("buy", prices, view.size[0], view.fee_bps[0],
                                                  np.minimum(split, view.size[0].sum(axis=1)))
            assert all(costs["cont_kukanov"] <= c + 1e-4 for c in costs.values())
            n_checked += 1
        obs, _, done, _, info = env.step(routers["cont_kukanov"].predict(obs)[0])
    assert n_checked >= 3 and info["execution"]["executed_shares"] > 0
