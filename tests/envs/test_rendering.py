"""render_mode on every id: None everywhere, "ansi" and "rgb_array" on the single envs, and
the rollouts of the tools RL researchers use (CleanRL's wrappers, SB3's make_vec_env)."""

from __future__ import annotations

import re
import warnings

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.env_util import make_vec_env

import execgym
from execgym.envs.almgren_chriss_vector import AlmgrenChrissVectorEnv
from execgym.envs.lob_vector import LOBExecutionVectorEnv

IDS = sorted(execgym.ENV_IDS)
#: short episodes, so that every rollout ends
SHORT = {"execgym/SmartOrderRouting-v0": {}, "execgym/LOBReplay-v0": {"horizon_s": 300.0, "decision_interval_s": 30.0}}


def _short(env_id: str) -> dict:
    if "AlmgrenChriss" in env_id:
        return {"n_steps": 10}
    return SHORT.get(env_id, {"horizon_s": 300.0, "decision_interval_s": 30.0, "total_shares": 5000})


@pytest.mark.parametrize("env_id", IDS)
def test_every_id_accepts_render_mode_none_and_says_what_it_renders(env_id):
    env = gym.make(env_id, render_mode=None, **_short(env_id))
    assert env.unwrapped.render_mode is None
    assert env.metadata["render_modes"] == ["ansi", "rgb_array"]
    env.reset(seed=0)
    with pytest.warns(UserWarning, match="render_mode=None"):
        assert env.unwrapped.render() is None
    env.close()


@pytest.mark.parametrize("env_id", IDS)
def test_ansi_renders_time_left_inventory_last_fill_and_spread_of_the_episode(env_id):
    env = gym.make(env_id, render_mode="ansi", **_short(env_id))
    assert env.unwrapped.render().startswith("not reset")
    env.reset(seed=1)
    env.action_space.seed(1)
    _, _, _, _, info = env.step(env.action_space.sample())
    line = env.render()
    assert "\n" not in line
    match = re.match(r"step 1/(\d+) \| time left (.+) \| inventory ([\d,]+)/([\d,]+) shares to (buy|sell) "
                     r"\| last fill (none|[\d,.]+) \| spread (.+)$", line)
    assert match, line
    assert int(match.group(1)) == env.unwrapped.task.n_steps
    assert int(match.group(3).replace(",", "")) == round(info["holdings"])
    assert match.group(5) == env.unwrapped.task.side
    executed = env.unwrapped.task.total_shares - info["holdings"]
    assert (match.group(6) == "none") == (executed == 0)
    env.close()


@pytest.mark.parametrize("env_id", ["execgym/LOBExecution-v0", "execgym/AlmgrenChriss-v0"])
def test_rgb_array_draws_time_and_execution_progress(env_id):
    env = gym.make(env_id, render_mode="rgb_array", **_short(env_id))
    env.reset(seed=0)
    first = env.render()
    assert first.shape == (64, 256, 3) and first.dtype == np.uint8
    env.step(np.array([1.0], np.float32))  # everything at once: the execution bar fills
    full = env.render()
    blue, green = (np.array(c, np.uint8) for c in ((66, 133, 244), (52, 168, 83)))
    assert (first == green).all(axis=2).sum() == 0 and (full == green).all(axis=2).sum() > 0
    assert (full == blue).all(axis=2).sum() > (first == blue).all(axis=2).sum()
    env.close()


@pytest.mark.parametrize("bad", ["human", "ANSI", 1, True])
def test_unknown_render_modes_are_refused_naming_the_value(bad):
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        execgym.envs.lob_execution.LOBExecutionEnv(render_mode=bad)


def test_vector_envs_take_render_mode_none_and_refuse_rendering():
    for cls in (AlmgrenChrissVectorEnv, LOBExecutionVectorEnv):
        cls(2, render_mode=None).close()
        with pytest.raises(ValueError, match="does not render"):
            cls(2, render_mode="ansi")
    vec = gym.make_vec("execgym/LOBExecution-v0", num_envs=2, vectorization_mode="vector_entry_point",
                       render_mode=None)
    assert vec.render_mode is None
    vec.close()


@pytest.mark.parametrize("env_id", IDS)
def test_cleanrl_style_rollout_with_episode_statistics_and_normalised_observations(env_id):
    """CleanRL's make_env: RecordEpisodeStatistics (raw returns), then normalisation, in a
    SyncVectorEnv, render_mode=None (its default without --capture-video)."""
    def thunk():
        env = gym.make(env_id, render_mode=None, **_short(env_id))
        env = gym.wrappers.RecordEpisodeStatistics(env)
        if isinstance(env.action_space, gym.spaces.Box):
            env = gym.wrappers.ClipAction(env)
        env = gym.wrappers.NormalizeObservation(env)
        return gym.wrappers.NormalizeReward(env, gamma=0.99)

    envs = gym.vector.SyncVectorEnv([thunk, thunk])
    envs.action_space.seed(0)
    obs, _ = envs.reset(seed=0)
    raw = envs.envs[0].get_wrapper_attr("env")  # below the reward normaliser
    assert obs.shape == (2, *envs.single_observation_space.shape)
    ended = []
    for _ in range(200):
        obs, reward, term, trunc, info = envs.step(envs.action_space.sample())
        assert np.isfinite(obs).all()
        if "episode" in info:
            ended.extend(info["episode"]["r"][info["_episode"]].tolist())
            lengths = info["episode"]["l"][info["_episode"]]
            assert (lengths >= 1).all() and (lengths <= raw.unwrapped.task.n_steps).all()
        if len(ended) >= 2:
            break
    assert len(ended) >= 2 and np.isfinite(ended).all()
    envs.close()


@pytest.mark.parametrize("env_id", ["execgym/AlmgrenChriss-v0", "execgym/LOBExecutionDiscrete-v0"])
def test_sb3_make_vec_env_builds_without_warnings(env_id):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # SB3 asks for render_mode="rgb_array": supported, so no warning
        vec = make_vec_env(env_id, n_envs=2, seed=0, env_kwargs=_short(env_id))
    vec.reset()
    assert vec.render_mode == "rgb_array" and vec.get_images()[0].shape == (64, 256, 3)
    vec.close()
