"""execgym/LOBReplay-v0: the LOBExecution-v0 contract on a recorded LOBSTER day."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from execgym import envs  # noqa: F401
from execgym.envs.lob_execution import LOBExecutionEnv
from execgym.envs.lob_replay import LOBReplayConfig, LOBReplayEnv, expected_volume_over_starts


@pytest.fixture(scope="module")
def env():
    return LOBReplayEnv(horizon_s=300.0, decision_interval_s=30.0, total_shares=2000)


def _run(env, seed, action):
    obs, _ = env.reset(seed=seed)
    observations, rewards, done, info = [obs], [], False, {}
    while not done:
        obs, reward, done, _, info = env.step(action)
        observations.append(obs)
        rewards.append(reward)
    return np.array(observations), np.array(rewards), info


def test_passes_gymnasium_checks_and_shares_the_lob_contract(env):
    check_env(env, skip_render_check=True)
    for action in ("fraction", "participation", "placement"):
        replay, sim = LOBReplayEnv(action=action), LOBExecutionEnv(action=action)
        assert replay.observation_space == sim.observation_space
        assert replay.action_space == sim.action_space
    made = gym.make("execgym/LOBReplay-v0", side="buy")
    assert isinstance(made.unwrapped, LOBReplayEnv) and made.unwrapped.task.side == "buy"


def test_same_seed_same_episode_and_seeded_random_starts(env):
    a = _run(env, 3, np.array([0.2], np.float32))
    start_a = env.start_s
    b = _run(env, 3, np.array([0.2], np.float32))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and env.start_s == start_a
    starts = []
    for seed in range(5):
        env.reset(seed=seed)
        starts.append(env.start_s)
    lo, hi = env.config.start_window_s
    assert len(set(starts)) == 5 and all(lo <= s <= hi - env.config.horizon_s for s in starts)


@pytest.mark.parametrize("side", ["buy", "sell"])
@pytest.mark.parametrize("action", [np.array([0.3], np.float32), np.array([0.3, 1.0], np.float32)])
def test_rewards_sum_to_minus_shortfall_and_shares_are_accounted(side, action):
    kind = "fraction" if action.size == 1 else "placement"
    env = LOBReplayEnv(side=side, action=kind, horizon_s=300.0, total_shares=2000)
    _, rewards, info = _run(env, 1, action)
    ex = info["execution"]
    assert rewards.sum() == pytest.approx(-ex["shortfall_bps"], abs=1e-9)
    assert ex["executed_shares"] + ex["unfilled_at_horizon"] == 2000
    assert 0 < ex["participation"] <= 1
    # the arrival price is the recorded mid at the episode's start
    day, row = env.day, env.day.row_at(env.start_s)
    assert ex["arrival_price"] == pytest.approx(day.mid_ticks(np.array([row]))[0] * day.tick_size)


def test_expected_volumes_follow_the_days_volume_profile():
    cfg = LOBReplayConfig(horizon_s=300.0, start_window_s=(36_000.0, 36_300.0), profile_bucket_s=30.0)
    day = cfg.load_day()
    expected = expected_volume_over_starts(day, cfg)
    executed = np.isin(day.mtype, (4, 5, 6))
    edges = 36_000.0 + 30.0 * np.arange(11)
    which = np.searchsorted(edges, day.time_s[executed], side="right") - 1
    inside = (which >= 0) & (which < 10)
    actual = np.bincount(which[inside], weights=day.size[executed][inside], minlength=10)
    np.testing.assert_allclose(expected, actual)  # one start, bucket = interval: the recorded volumes
    assert LOBReplayEnv(config=cfg).task.expected_volume_shares.tolist() == pytest.approx(expected.tolist())


def test_bad_config_values_name_the_field():
    with pytest.raises(ValueError, match="start_window_s"):
        LOBReplayConfig(start_window_s=(36_000.0, 36_100.0))
    with pytest.raises(ValueError, match="message_file"):
        LOBReplayConfig(message_file="nope.csv")
    with pytest.raises(TypeError, match="unknown LOBReplayConfig parameter"):
        LOBReplayConfig.from_kwargs({"market": {}})
