"""execgym/AlmgrenChriss-v0: the paper's dynamics, spaces, seeding and errors."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from execgym.baselines.twap import TWAPPolicy
from execgym.envs.almgren_chriss import AlmgrenChrissConfig, AlmgrenChrissEnv
from tests.helpers import run_episode


@pytest.mark.parametrize("env_id", ["execgym/AlmgrenChriss-v0", "execgym/AlmgrenChrissDiscrete-v0"])
def test_registered_envs_pass_gymnasium_and_sb3_checkers(env_id):
    env = gym.make(env_id, n_steps=8)
    gym_check_env(env.unwrapped)
    sb3_check_env(gym.make(env_id, n_steps=8).unwrapped, warn=True)


@pytest.mark.parametrize("env_id", ["execgym/AlmgrenChriss-v0", "execgym/AlmgrenChrissDiscrete-v0"])
@pytest.mark.parametrize("side", ["buy", "sell"])
def test_same_seed_gives_identical_episodes(env_id, side):
    def rollout(seed):
        env = gym.make(env_id, side=side, n_steps=12)
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        out = [obs]
        done = False
        while not done:
            obs, r, term, trunc, info = env.step(env.action_space.sample())
            out += [obs, np.array([r])]
            done = term or trunc
        return np.concatenate([np.ravel(o) for o in out])

    np.testing.assert_array_equal(rollout(7), rollout(7))
    assert not np.array_equal(rollout(7), rollout(8))


def test_episode_trades_the_whole_order_and_rewards_sum_to_minus_shortfall(small_env):
    rewards, infos = run_episode(small_env, TWAPPolicy(small_env.task), seed=3)
    ex = infos[-1]["execution"]
    assert len(infos) == 10
    assert math.isclose(ex["executed_shares"], 1e6, rel_tol=1e-12)
    assert math.isclose(-rewards.sum(), ex["shortfall_bps"], rel_tol=1e-9)
    assert math.isclose(sum(i["shares"] for i in infos), 1e6, rel_tol=1e-12)
    # shares + holdings conserved at every step
    held = 1e6
    for info in infos:
        held -= info["shares"]
        assert math.isclose(info["holdings"], max(held, 0.0), abs_tol=1e-6)


def test_fill_prices_follow_the_papers_impact_model(side):
    cfg = AlmgrenChrissConfig(side=side, n_steps=4, sigma=0.0, total_shares=1000.0,
                              epsilon=0.05, eta=1e-3, gamma=1e-4, horizon_days=1.0)
    env = AlmgrenChrissEnv(cfg)
    env.reset(seed=0)
    s, tau, price = (1 if side == "buy" else -1), 0.25, 50.0
    for frac in [0.5, 0.0, 0.5, 0.3]:
        _, _, _, _, info = env.step(np.array([frac], dtype=np.float32))
        n = info["shares"]
        assert info["mid"] == pytest.approx(price)
        if n > 0:
            assert info["fill_price"] == pytest.approx(price + s * (0.05 + 1e-3 * n / tau))
        else:
            assert math.isnan(info["fill_price"])
        price += s * 1e-4 * n  # permanent impact, no noise
    # the last step traded the rest regardless of the 0.3 action
    assert info["holdings"] == 0.0 and n == pytest.approx(250.0)


def test_buy_and_sell_mirror_each_other():
    # with the same seed the noise enters the two sides' costs with opposite signs, so their
    # sum is twice the deterministic (noise-free) cost
    def shortfall(side, sigma):
        env = AlmgrenChrissEnv(side=side, n_steps=10, sigma=sigma)
        _, infos = run_episode(env, TWAPPolicy(env.task), seed=11)
        return infos[-1]["execution"]["shortfall_usd"]

    no_noise = shortfall("sell", 0.0)
    assert math.isclose(no_noise, shortfall("buy", 0.0), rel_tol=1e-12)
    assert math.isclose(shortfall("sell", 0.95) + shortfall("buy", 0.95), 2 * no_noise, rel_tol=1e-9)
    assert not math.isclose(shortfall("sell", 0.95), no_noise, rel_tol=1e-6)


def test_mean_variance_reward_adds_the_risk_charge_of_held_shares():
    kw = dict(n_steps=10, side="sell")
    env_is = AlmgrenChrissEnv(**kw, reward="shortfall")
    env_mv = AlmgrenChrissEnv(**kw, reward="mean_variance")
    r_is, infos = run_episode(env_is, TWAPPolicy(env_is.task), seed=5)
    r_mv, _ = run_episode(env_mv, TWAPPolicy(env_mv.task), seed=5)
    cfg = env_mv.config
    tau = cfg.horizon_days / cfg.n_steps
    holdings = np.array([i["holdings"] for i in infos])
    charge_bps = cfg.risk_aversion * cfg.sigma**2 * tau * holdings**2 / (1e6 * 50.0) * 1e4
    np.testing.assert_allclose(r_is - r_mv, charge_bps, rtol=1e-9)
    assert math.isclose(-r_mv.sum(), infos[-1]["execution"]["mv_cost_bps"], rel_tol=1e-9)


def test_discrete_actions_trade_participation_of_expected_volume():
    env = AlmgrenChrissEnv(action="participation", n_steps=10, total_shares=5e6)
    env.reset(seed=0)
    expected = env.task.expected_volume_shares
    for k, a in enumerate([0, 4, 2]):
        _, _, _, _, info = env.step(a)
        assert info["shares"] == pytest.approx(env.config.participation_rates[a] * expected[k])
    # capped by what is left
    env = AlmgrenChrissEnv(action="participation", n_steps=10, total_shares=1e5)
    env.reset(seed=0)
    _, _, terminated, _, info = env.step(4)
    assert info["shares"] == 1e5 and info["holdings"] == 0.0 and terminated


def test_observation_reports_time_inventory_volume_and_price_moves():
    env = AlmgrenChrissEnv(n_steps=10, side="buy")
    obs, _ = env.reset(seed=2)
    np.testing.assert_allclose(obs[:3], [1.0, 1.0, 1.0])
    assert obs[4] == 0.0 and obs[5] == 0.0
    obs, _, _, _, info = env.step(np.array([0.25], np.float32))
    d = env.dynamics
    assert obs[0] == pytest.approx(0.9) and obs[1] == pytest.approx(0.75)
    assert obs[2] == pytest.approx(info["market_volume"] / d.expected_volume[0], rel=1e-6)
    assert obs[3] == pytest.approx(d.expected_volume[1] / d.expected_volume.mean(), rel=1e-6)
    move = (env._price - 50.0) / (env.config.sigma * math.sqrt(env.config.horizon_days))
    assert obs[5] == pytest.approx(move, rel=1e-5)
    assert env.observation_space.contains(obs)


@pytest.mark.parametrize("bad", [np.array([np.nan], np.float32), np.array([1.5], np.float32),
                                 np.array([-0.1], np.float32), np.array([0.2, 0.3], np.float32)])
def test_nan_or_out_of_space_actions_raise(bad):
    env = AlmgrenChrissEnv(n_steps=5)
    env.reset(seed=0)
    before = (env._step, env._holdings, env._price)
    with pytest.raises(ValueError, match="action"):
        env.step(bad)
    assert (env._step, env._holdings, env._price) == before  # nothing half-changed


@pytest.mark.parametrize("bad, error", [(5, ValueError), (-1, ValueError), (1.0, TypeError),
                                        (np.array([0.5]), TypeError), (True, TypeError), ("1", TypeError)])
def test_discrete_env_rejects_invalid_indices(bad, error):
    env = AlmgrenChrissEnv(n_steps=5, action="participation")
    env.reset(seed=0)
    with pytest.raises(error, match="index|integers"):
        env.step(bad)


def test_step_before_reset_and_after_the_end_raise():
    env = AlmgrenChrissEnv(n_steps=2)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.array([0.5], np.float32))
    env.reset(seed=0)
    env.step(np.array([1.0], np.float32))
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.array([1.0], np.float32))


@pytest.mark.parametrize(
    "kwargs, match",
    [({"side": "short"}, "side"), ({"total_shares": -1}, "total_shares"), ({"n_steps": 0}, "n_steps"),
     ({"sigma": float("nan")}, "sigma"), ({"reward": "pnl"}, "reward"), ({"action": "x"}, "action"),
     ({"participation_rates": (0.1, 1.5)}, "participation_rates"), ({"eta": -1.0}, "eta"),
     ({"volume_profile": {"decay_frac": 0.0}}, "decay_frac"), ({"drift_usd_per_day": float("inf")}, "drift_usd_per_day")],
)
def test_invalid_config_raises_value_error_naming_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gym.make("execgym/AlmgrenChriss-v0", **kwargs)


def test_a_non_numeric_drift_is_a_type_error_naming_it():
    with pytest.raises(TypeError, match="drift_usd_per_day"):
        AlmgrenChrissEnv(drift_usd_per_day="up")


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_drift_moves_the_price_as_configured_and_leaves_the_noise_unchanged(side):
    """Same seed: every mid is the driftless one plus mu t, and the shortfall moves by
    -s mu sum_k n_k t_k (a rising price helps a seller and hurts a buyer)."""
    mu, n_steps = 0.3, 10
    policy_env = AlmgrenChrissEnv(side=side, n_steps=n_steps)
    policy = TWAPPolicy(policy_env.task)
    _, flat = run_episode(AlmgrenChrissEnv(side=side, n_steps=n_steps), policy, seed=3)
    _, drifting = run_episode(AlmgrenChrissEnv(side=side, n_steps=n_steps, drift_usd_per_day=mu), policy, seed=3)
    tau = 5.0 / n_steps
    times = np.array([i["time_days"] for i in flat])
    np.testing.assert_allclose([i["mid"] for i in drifting], np.array([i["mid"] for i in flat]) + mu * times,
                               rtol=0, atol=1e-9)
    shares = np.array([i["shares"] for i in flat])
    np.testing.assert_array_equal(shares, [i["shares"] for i in drifting])
    sign = 1.0 if side == "buy" else -1.0
    change = drifting[-1]["execution"]["shortfall_usd"] - flat[-1]["execution"]["shortfall_usd"]
    assert change == pytest.approx(sign * mu * np.dot(shares, np.arange(n_steps) * tau), rel=1e-9)
    assert (change > 0) == (side == "buy")


def test_zero_drift_reproduces_the_driftless_walk_bit_for_bit():
    env = AlmgrenChrissEnv(n_steps=6)
    _, default = run_episode(env, TWAPPolicy(env.task), seed=11)
    _, zero = run_episode(AlmgrenChrissEnv(n_steps=6, drift_usd_per_day=0.0), TWAPPolicy(env.task), seed=11)
    assert [i["mid"] for i in default] == [i["mid"] for i in zero]
    # the walk itself: S_{k+1} = S_k + sigma sqrt(tau) xi_k - gamma n_k with the env's own draws
    rng = np.random.default_rng(11)  # gymnasium seeds np_random with default_rng(seed)
    price, mids = 50.0, []
    for i in default:
        mids.append(price)
        xi = rng.standard_normal()
        rng.standard_normal()  # the volume draw
        price = price + 0.95 * math.sqrt(5.0 / 6) * xi - 2.5e-7 * i["shares"]
    assert mids == [i["mid"] for i in default]


def test_unknown_config_field_is_a_type_error():
    with pytest.raises(TypeError, match="n_stepz"):
        AlmgrenChrissEnv(n_stepz=3)


def test_volume_profile_is_u_shaped_and_conserves_daily_volume():
    env = AlmgrenChrissEnv(n_steps=10, horizon_days=1.0)
    vol = env.task.expected_volume_shares
    assert vol.sum() == pytest.approx(env.config.daily_volume_shares)
    assert vol[0] > vol[4] < vol[-1] and vol[0] > vol[-1]  # open > midday < close
