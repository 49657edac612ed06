"""The vectorised Almgren-Chriss environment has the single environment's dynamics."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from scipy import stats

from execgym.baselines.pov import POVPolicy
from execgym.baselines.twap import TWAPPolicy
from execgym.envs.almgren_chriss import AlmgrenChrissEnv
from execgym.envs.almgren_chriss_vector import AlmgrenChrissVectorEnv
from tests.helpers import run_episode

NOISE_FREE = dict(sigma=0.0, volume_profile={"noise_sigma": 0.0})


def _vector_episode(venv, policy, seed):
    """One synchronous episode of every copy; returns per-step obs, rewards and the summary."""
    obs, _ = venv.reset(seed=seed)
    all_obs, all_rewards = [obs], []
    for _ in range(venv.config.n_steps):
        action, _ = policy.predict(obs, deterministic=True)
        obs, rewards, terminated, _, info = venv.step(action)
        all_obs.append(obs)
        all_rewards.append(rewards)
        if terminated.all():
            return np.stack(all_obs), np.stack(all_rewards), info["execution"]
    raise AssertionError("episodes did not end within n_steps")


@pytest.mark.parametrize("action, drift", [("fraction", 0.0), ("participation", 0.0), ("fraction", 0.3)])
def test_zero_noise_paths_are_identical_to_the_single_env(side, action, drift):
    kw = dict(side=side, n_steps=12, action=action, drift_usd_per_day=drift, **NOISE_FREE)
    venv = AlmgrenChrissVectorEnv(3, **kw)
    single = AlmgrenChrissEnv(**kw)
    policy = POVPolicy(single.task)  # adapts to observed volume, so it exercises the whole obs
    vec_obs, vec_rewards, summary = _vector_episode(venv, policy, seed=0)
    rewards, infos = run_episode(single, policy, seed=123)  # seed is irrelevant without noise
    obs, _ = single.reset(seed=0)
    singles = [obs]
    for _ in infos:
        obs, *_ = single.step(policy.predict(obs)[0])
        singles.append(obs)
    for m in range(3):
        np.testing.assert_allclose(vec_obs[:, m, :], np.stack(singles), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(vec_rewards[:, m], rewards, rtol=1e-12)
    assert summary["shortfall_bps"][0] == pytest.approx(infos[-1]["execution"]["shortfall_bps"], rel=1e-12)


def test_shortfall_distribution_matches_the_single_env(side):
    n = 1500
    kw = dict(side=side, n_steps=10)
    venv = AlmgrenChrissVectorEnv(n, **kw)
    policy = TWAPPolicy(venv.task)
    _, _, summary = _vector_episode(venv, policy, seed=1)
    vec = summary["shortfall_bps"]
    single = AlmgrenChrissEnv(**kw)
    ref = np.array([run_episode(single, policy, seed=10_000 + i)[1][-1]["execution"]["shortfall_bps"]
                    for i in range(n)])
    assert stats.ks_2samp(vec, ref).pvalue > 1e-3
    se = np.sqrt(vec.var() / n + ref.var() / n)
    assert abs(vec.mean() - ref.mean()) < 4 * se


def test_same_seed_same_batch_and_different_seed_different_batch():
    def run(seed):
        venv = AlmgrenChrissVectorEnv(5, n_steps=6)
        return _vector_episode(venv, TWAPPolicy(venv.task), seed)[1]

    np.testing.assert_array_equal(run(4), run(4))
    assert not np.array_equal(run(4), run(5))


def test_next_step_autoreset_restarts_finished_episodes_with_zero_reward():
    venv = AlmgrenChrissVectorEnv(2, n_steps=4)
    venv.reset(seed=0)
    # env 0 sells everything at once, env 1 a quarter each step
    _, r, term, _, info = venv.step(np.array([[1.0], [0.25]], np.float32))
    assert term.tolist() == [True, False]
    assert info["_execution"].tolist() == [True, False]
    assert info["execution"]["executed_shares"][0] == pytest.approx(1e6)
    obs, r, term, _, _ = venv.step(np.array([[0.5], [0.25]], np.float32))
    assert r[0] == 0.0 and not term[0]
    np.testing.assert_allclose(obs[0, :2], [1.0, 1.0])  # fresh episode, action ignored
    assert obs[1, 0] == pytest.approx(0.5)


def test_same_step_autoreset_returns_final_obs_in_info():
    venv = AlmgrenChrissVectorEnv(2, n_steps=4, autoreset_mode="SameStep")
    venv.reset(seed=0)
    obs, r, term, _, info = venv.step(np.array([[1.0], [0.25]], np.float32))
    assert term.tolist() == [True, False]
    assert info["_final_obs"].tolist() == [True, False]
    assert info["final_obs"][0][1] == 0.0  # terminal obs: nothing left
    np.testing.assert_allclose(obs[0, :2], [1.0, 1.0])  # already restarted
    assert r[0] < 0.0


def test_make_vec_uses_the_native_vector_env():
    venv = gym.make_vec("execgym/AlmgrenChrissDiscrete-v0", num_envs=8,
                        vectorization_mode="vector_entry_point", n_steps=5)
    assert isinstance(venv.unwrapped, AlmgrenChrissVectorEnv)
    obs, _ = venv.reset(seed=0)
    assert obs.shape == (8, 6) and venv.observation_space.contains(obs)
    obs, *_ = venv.step(venv.action_space.sample())
    assert venv.observation_space.contains(obs)


@pytest.mark.parametrize("bad, match", [(np.nan, "env 1"), (1.2, "env 1"), (-0.5, "env 1")])
def test_invalid_actions_raise_naming_the_env_and_leave_state_unchanged(bad, match):
    venv = AlmgrenChrissVectorEnv(3, n_steps=4)
    venv.reset(seed=0)
    before = venv._holdings.copy(), venv._step_idx.copy()
    actions = np.array([[0.1], [bad], [0.2]], np.float32)
    with pytest.raises(ValueError, match=match):
        venv.step(actions)
    np.testing.assert_array_equal(venv._holdings, before[0])
    np.testing.assert_array_equal(venv._step_idx, before[1])


def test_wrong_action_shape_raises():
    venv = AlmgrenChrissVectorEnv(3, n_steps=4)
    venv.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        venv.step(np.zeros((2, 1), np.float32))


def test_invalid_num_envs_raise():
    with pytest.raises(ValueError, match="num_envs"):
        AlmgrenChrissVectorEnv(0)
    with pytest.raises(TypeError, match="num_envs"):
        AlmgrenChrissVectorEnv(2.5)
