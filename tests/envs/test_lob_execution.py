"""execgym/LOBExecution-v0: spaces, seeding, shortfall accounting, the horizon, baselines."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

from execgym.baselines import make_baseline
from execgym.envs.lob_execution import OBS_NAMES, LOBExecutionConfig, LOBExecutionEnv
from execgym.envs.market.simulation.flow import FlowConfig
from execgym.envs.market.simulation.simulator import SimulatorConfig
from execgym.experiments.lib.evaluation import compare_policies
from tests.envs.reference_lob_env import ReferenceLOBEnv

IDS = ["execgym/LOBExecution-v0", "execgym/LOBExecutionDiscrete-v0", "execgym/LOBExecutionPlacement-v0"]
SMALL = dict(horizon_s=300.0, decision_interval_s=10.0, total_shares=5_000)


@pytest.mark.parametrize("env_id", IDS)
def test_registered_variants_pass_gymnasium_and_sb3_checkers(env_id):
    gym_check_env(gym.make(env_id, **SMALL).unwrapped)
    sb3_check_env(gym.make(env_id, **SMALL).unwrapped, warn=True)


@pytest.mark.parametrize("env_id", IDS)
def test_same_seed_gives_an_identical_episode_including_the_background_flow(env_id):
    def rollout(seed):
        env = gym.make(env_id, **SMALL)
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        out, done = [obs], False
        while not done:
            obs, r, term, trunc, info = env.step(env.action_space.sample())
            out += [obs, [r, info["market_volume"]]]
            done = term or trunc
        return np.concatenate([np.ravel(o) for o in out])

    np.testing.assert_array_equal(rollout(3), rollout(3))
    assert not np.array_equal(rollout(3), rollout(4))


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("side", ["buy", "sell"])
def test_rewards_sum_to_the_shortfall_recomputed_from_the_fills(env_id, side):
    env = gym.make(env_id, side=side, **SMALL)
    env.action_space.seed(1)
    obs, _ = env.reset(seed=1)
    sign = 1 if side == "buy" else -1
    total_reward, prices, sizes, done = 0.0, [], [], False
    while not done:
        obs, r, term, trunc, info = env.step(env.action_space.sample())
        total_reward += r
        prices.append(info["fill_prices"])
        sizes.append(info["fill_sizes"])
        done = term or trunc
    ex = info["execution"]
    prices, sizes = np.concatenate(prices), np.concatenate(sizes)
    assert sizes.sum() == ex["executed_shares"] == 5_000 and info["unfilled_at_horizon"] == 0
    arrival = ex["arrival_price"]
    recomputed_bps = sign * float((sizes * (prices - arrival)).sum()) / (5_000 * arrival) * 1e4
    assert ex["shortfall_bps"] == pytest.approx(recomputed_bps, abs=1e-9)
    assert -total_reward == pytest.approx(recomputed_bps, abs=1e-9)
    assert ex["avg_fill_price"] == pytest.approx((prices * sizes).sum() / sizes.sum())


def test_the_horizon_forces_the_remainder_through_the_book():
    env = LOBExecutionEnv(**SMALL, side="buy")
    env.reset(seed=2)
    done, steps = False, 0
    while not done:
        _, _, done, _, info = env.step(np.array([0.0], np.float32))  # never trade voluntarily
        steps += 1
        if not done:
            assert info["shares"] == 0
    assert steps == env.config.n_steps
    assert info["shares"] == 5_000 and info["execution"]["executed_shares"] == 5_000


def test_an_order_the_book_cannot_absorb_is_reported_and_penalised():
    thin = SimulatorConfig(warmup_s=60.0, flow=FlowConfig(depth_shares=(200.0, 200.0), market_rate_per_s=0.0))
    env = LOBExecutionEnv(horizon_s=20.0, decision_interval_s=10.0, total_shares=50_000, market=thin,
                          unfilled_penalty_bps=500.0)
    env.reset(seed=0)
    env.step(np.array([0.0], np.float32))
    _, reward, done, _, info = env.step(np.array([0.0], np.float32))
    unfilled = info["unfilled_at_horizon"]
    ex = info["execution"]
    assert done and unfilled > 0 and ex["executed_shares"] == 50_000 - unfilled
    # the penalty: 500 bps of the arrival price per unfilled share, in the shortfall
    penalty_bps = unfilled * 500.0 / 50_000
    assert ex["shortfall_bps"] > penalty_bps


def test_placement_rests_passively_and_observes_its_queue_position():
    env = LOBExecutionEnv(**SMALL, action="placement", side="sell")
    obs, _ = env.reset(seed=5)
    assert obs[OBS_NAMES.index("has_resting_order")] == 0.0 and env.resting_child() is None
    obs, _, _, _, info = env.step(np.array([0.2, 2.0], np.float32))  # 2 ticks behind the best ask
    child = env.resting_child()
    assert child is not None  # (this seed) not reached yet: it rests behind the touch, in its queue
    assert obs[OBS_NAMES.index("has_resting_order")] == 1.0
    assert child["price_ticks"] >= env._touch()[1]
    assert obs[OBS_NAMES.index("queue_ahead_frac")] == pytest.approx(
        child["queue_ahead_shares"] / child["level_shares"], rel=1e-6)
    # a crossing placement trades at once
    _, _, _, _, info = env.step(np.array([0.5, -5.0], np.float32))
    assert info["shares"] > 0


def test_keep_unfilled_modifies_the_resting_child_in_place():
    env = LOBExecutionEnv(**SMALL, action="placement", keep_unfilled=True, side="buy")
    env.reset(seed=6)
    env.step(np.array([0.3, 4.0], np.float32))
    first = env.resting_child()
    assert first is not None  # (this seed) 4 ticks behind the touch: not reached in 10 s
    env.step(np.array([0.1, 4.0], np.float32))
    again = env.resting_child()
    assert again["order_id"] == first["order_id"]  # same order, smaller: kept its place
    assert again["remaining_shares"] < first["remaining_shares"]
    assert again["queue_ahead_shares"] <= first["queue_ahead_shares"]


def test_observation_features_match_the_book():
    """The book's own analytics (the pinned Python env's ``OrderBook``, the same market from
    the same seed) give the observed spread, imbalance and microprice."""
    env = LOBExecutionEnv(**SMALL)
    obs, _ = env.reset(seed=7)
    reference = ReferenceLOBEnv(**SMALL)
    reference.reset(seed=7)
    book = reference._sim.book
    assert env._touch() == (book.best_bid, book.best_ask)
    assert obs[OBS_NAMES.index("spread_ticks")] == book.spread
    assert obs[OBS_NAMES.index("depth_imbalance")] == pytest.approx(book.imbalance(5), abs=1e-6)
    assert obs[OBS_NAMES.index("microprice_offset_ticks")] == pytest.approx(book.microprice - book.mid, abs=1e-5)
    assert env.observation_space.contains(obs)


@pytest.mark.parametrize("bad", [np.array([np.nan], np.float32), np.array([1.5], np.float32),
                                 np.array([0.5, 0.5], np.float32)])
def test_invalid_actions_raise_and_change_nothing(bad):
    env = LOBExecutionEnv(**SMALL)
    env.reset(seed=0)
    before = env._markets.get_state()
    with pytest.raises(ValueError, match="action"):
        env.step(bad)
    after = env._markets.get_state()
    for name, value in before["arrays"].items():
        np.testing.assert_array_equal(value, after["arrays"][name], err_msg=name)


@pytest.mark.parametrize("kwargs, match", [
    ({"horizon_s": 95.0, "decision_interval_s": 10.0}, "whole number"),
    ({"total_shares": 0}, "total_shares"),
    ({"action": "twap"}, "action"),
    ({"side": "long"}, "side"),
    ({"unfilled_penalty_bps": -1.0}, "unfilled_penalty_bps"),
    ({"market": {"tick_size": -0.01}}, "tick_size"),
])
def test_bad_config_raises_naming_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LOBExecutionConfig(**kwargs)


def test_works_in_sb3_and_gymnasium_vector_envs():
    # "envs:" makes gymnasium import the registering module first, in any (sub)process
    make = lambda: gym.make("execgym:execgym/LOBExecutionDiscrete-v0", **SMALL)  # noqa: E731
    for vec in (DummyVecEnv([make, make]), SubprocVecEnv([make, make])):
        vec.seed(0)
        obs = vec.reset()
        assert obs.shape == (2, len(OBS_NAMES))
        for _ in range(35):  # past the end: SB3 autoresets
            obs, rewards, dones, infos = vec.step(np.array([1, 3]))
        vec.close()
    sync = gym.vector.SyncVectorEnv([make, make])
    obs, _ = sync.reset(seed=0)
    obs, rewards, term, trunc, infos = sync.step(np.array([0, 4]))
    assert obs.shape == (2, len(OBS_NAMES))
    sync.close()


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_vwap_tracks_market_vwap_better_than_twap_and_pov_stays_in_bounds(side):
    make = lambda: gym.make("execgym/LOBExecution-v0", side=side)  # noqa: E731
    task = make().unwrapped.task
    policies = {"twap": make_baseline("twap", task), "vwap": make_baseline("vwap", task),
                "pov": make_baseline("pov", task, min_participation=0.03, max_participation=0.2)}
    df = compare_policies(policies, make, 30, seed=1)
    rms = df.groupby("policy")["vwap_slippage_bps"].apply(lambda s: float(np.sqrt((s**2).mean())))
    std = df.groupby("policy")["vwap_slippage_bps"].std()
    assert rms["vwap"] < rms["twap"] and std["vwap"] < 0.7 * std["twap"]
    pov = df[df["policy"] == "pov"]["participation"]
    assert ((pov >= 0.03) & (pov <= 0.2)).all()
    assert (df["executed_shares"] == 20_000).all()
