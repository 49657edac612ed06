"""``execgym/SmartOrderRouting-v0``: spaces, seeding, the all-in shortfall and its parts, both sides."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from execgym import envs  # noqa: F401
from execgym.envs.routing import RoutingConfig, SmartOrderRoutingEnv, decode_routing_observation, split_shares

SMALL = dict(total_shares=6000, horizon_s=120.0, decision_interval_s=20.0)


def make(**kw):
    return gym.make("execgym/SmartOrderRouting-v0", **{**SMALL, **kw})


def run(env, seed, action):
    obs, _ = env.reset(seed=seed)
    rows, done = [(obs, None, None)], False
    while not done:
        obs, reward, done, truncated, info = env.step(action(obs))
        assert not truncated
        rows.append((obs, reward, info))
    return rows


def test_env_passes_gymnasium_and_sb3_checkers():
    check_env(SmartOrderRoutingEnv(**SMALL), skip_render_check=True)
    sb3_check_env(SmartOrderRoutingEnv(**SMALL, side="sell"), warn=False)


def test_same_seed_same_episode_and_another_seed_another():
    def episode(seed):
        rows = run(make(), seed, lambda obs: np.array([0.5, 0.2, 0.3], np.float32))
        return np.concatenate([np.concatenate([o for o, _, _ in rows]), [r for _, r, _ in rows[1:]]])

    assert np.array_equal(episode(11), episode(11))
    assert not np.array_equal(episode(11), episode(12))


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_rewards_sum_to_minus_the_all_in_shortfall_of_fills_fees_and_penalty(side):
    env = make(side=side)
    rows = run(env, 3, lambda obs: np.array([0.2, 0.5, 0.3], np.float32))
    ex = rows[-1][2]["execution"]
    sign = 1 if side == "buy" else -1
    arrival = ex["arrival_price"]
    value = sum(sum(info["value_usd"]) for _, _, info in rows[1:])
    filled = sum(sum(info["filled_shares"]) for _, _, info in rows[1:])
    fees = sum(sum(info["fees_usd"]) for _, _, info in rows[1:])
    penalty = ex["unfilled_at_horizon"] * arrival * env.unwrapped.config.unfilled_penalty_bps / 1e4
    expected_usd = sign * (value - filled * arrival) + fees + penalty
    assert ex["shortfall_usd"] == pytest.approx(expected_usd, rel=1e-12)
    assert sum(r for _, r, _ in rows[1:]) == pytest.approx(-ex["shortfall_bps"], rel=1e-9)
    assert ex["shortfall_bps"] == pytest.approx(expected_usd / (6000 * arrival) * 1e4)
    assert ex["fees_usd"] == pytest.approx(fees) and ex["executed_shares"] == filled
    assert ex["fill_rate"] == pytest.approx(filled / 6000)
    # the parent order is done: everything filled, or the rest charged
    assert filled + ex["unfilled_at_horizon"] == 6000


def test_fees_follow_the_venue_taker_fee_and_a_taker_rebate_lowers_the_shortfall():
    env = make()
    fees = env.unwrapped.config.market.venues
    for k in range(3):
        action = np.eye(3, dtype=np.float32)[k]
        rows = run(env, 5, lambda obs: action)
        for _, _, info in rows[1:]:
            assert info["routed_shares"][k] == info["child_shares"] and sum(info["routed_shares"]) == info["child_shares"]
            np.testing.assert_allclose(info["fees_usd"], np.array(info["filled_shares"]) * [v.taker_fee_usd_per_share
                                                                                         for v in fees])
    assert fees[1].taker_fee_usd_per_share < 0  # the inverted venue pays takers


def test_unfilled_shares_roll_into_later_children_and_the_rest_is_charged():
    # a thin market and a tight limit: children cannot fill, the shortfall carries the penalty
    env = make(total_shares=60_000, limit_slippage_bps=0.0, unfilled_penalty_bps=40.0)
    rows = run(env, 1, lambda obs: np.array([1.0, 0.0, 0.0], np.float32))
    children = [info["child_shares"] for _, _, info in rows[1:]]
    ex = rows[-1][2]["execution"]
    assert ex["unfilled_at_horizon"] > 0 and ex["fill_rate"] < 1.0
    assert children[-1] == 60_000 - sum(sum(info["filled_shares"]) for _, _, info in rows[1:-1])
    assert ex["shortfall_bps"] > 40.0 * ex["unfilled_at_horizon"] / 60_000 - 5.0


def test_observation_reports_the_ladders_relative_to_the_nbbo_fees_and_latencies():
    env = make(side="sell")
    obs, _ = env.reset(seed=2)
    u = env.unwrapped
    cfg = u.config
    view = decode_routing_observation(obs, cfg.n_venues, cfg.n_levels)
    bids, sizes = u._market.ladder("bid", cfg.n_levels)
    best = np.nanmax(bids)
    np.testing.assert_allclose(view.offset_bps[0], np.nan_to_num((best - bids) / u.task.arrival_price * 1e4, nan=100.0),
                               atol=1e-3)
    assert view.offset_bps[0, :, 0].min() == 0.0 and np.all(np.diff(view.offset_bps[0], axis=1) >= 0)
    np.testing.assert_allclose(view.size[0], sizes / (6000 / 6), rtol=1e-6)
    np.testing.assert_allclose(view.latency_frac[0], [0.2 / 20, 0.5 / 20, 2.0 / 20], rtol=1e-6)
    np.testing.assert_allclose(view.fee_bps[0], [v.taker_fee_usd_per_share / u.task.arrival_price * 1e4
                                                 for v in cfg.market.venues], rtol=1e-5)
    assert view.child[0] == pytest.approx(1.0) and obs[0] == 1.0 and obs[1] == 1.0


def test_split_shares_is_proportional_sums_to_the_child_and_splits_evenly_without_weights():
    assert split_shares(np.array([0.5, 0.25, 0.25]), 101).tolist() == [51, 25, 25]
    assert split_shares(np.array([0.0, 0.0, 0.0]), 7).tolist() == [3, 2, 2]
    assert split_shares(np.array([0.2, 0.0, 0.6]), 1000).tolist() == [250, 0, 750]
    for seed in range(20):
        w = np.random.default_rng(seed).random(4)
        assert split_shares(w, 997).sum() == 997


def test_bad_actions_and_configs_raise_naming_the_problem():
    env = make()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="split weights"):
        env.step(np.array([0.5, 0.5], np.float32))
    with pytest.raises(ValueError, match="split weights"):
        env.step(np.array([0.5, 1.5, 0.0], np.float32))
    with pytest.raises(ValueError, match="latency"):
        RoutingConfig(decision_interval_s=2.0, horizon_s=20.0)  # slow_wide has a 2 s latency
    with pytest.raises(ValueError, match="horizon_s"):
        RoutingConfig(horizon_s=45.0, decision_interval_s=30.0)
    with pytest.raises(TypeError, match="unknown"):
        RoutingConfig.from_kwargs({"venues": 3})
    with pytest.raises(ValueError, match="routing"):
        from execgym.envs.contract import action_to_shares
        action_to_shares(env.unwrapped.task, np.ones((1, 3)), np.ones(1), np.zeros(1, dtype=int))


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_decision_mid_rewards_sum_to_the_routing_cost_the_shortfall_less_the_drift(side):
    weights = lambda obs: np.array([0.3, 0.3, 0.4], np.float32)  # noqa: E731
    by_arrival = run(make(side=side), 8, weights)
    by_decision = run(make(side=side, reward="decision_mid"), 8, weights)
    ex, ex2 = by_arrival[-1][2]["execution"], by_decision[-1][2]["execution"]
    np.testing.assert_equal(ex, ex2)  # the reward changes nothing else: same episode, same summary (NaN = NaN)
    sign = 1 if side == "buy" else -1
    drift_usd = sum(sign * (info["decision_mid_usd"] - ex["arrival_price"]) * sum(info["filled_shares"])
                    for _, _, info in by_decision[1:])
    notional = 6000 * ex["arrival_price"]
    assert ex["routing_cost_bps"] == pytest.approx(ex["shortfall_bps"] - drift_usd / notional * 1e4, abs=1e-9)
    assert sum(r for _, r, _ in by_decision[1:]) == pytest.approx(-ex["routing_cost_bps"], rel=1e-9)
    assert abs(drift_usd) > 0  # the mid did move
    with pytest.raises(ValueError, match="reward"):
        RoutingConfig(reward="vwap")
