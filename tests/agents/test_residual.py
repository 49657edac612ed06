"""Residual actions around TWAP: the neutral action is TWAP's, in every action kind and on
both sides; multiples, offsets and clipping map as documented; the vector wrapper and the
policy wrapper agree with the map; passive TWAP rests its slices and crosses at the end."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from execgym import envs  # noqa: F401  (registers the ids)
from execgym.agents.residual import ResidualPolicy, ResidualVectorEnv, ScheduleResidual
from execgym.baselines import make_baseline
from execgym.envs.lob_vector import LOBExecutionVectorEnv

KW = dict(total_shares=20_000, horizon_s=600.0, decision_interval_s=30.0)


def lob(action, side, **kw):
    return gym.make("execgym/LOBExecution-v0", side=side, action=action, **{**KW, **kw})


@pytest.mark.parametrize("side", ["buy", "sell"])
@pytest.mark.parametrize("action", ["fraction", "placement", "participation"])
def test_neutral_residual_is_twap_along_an_episode(action, side):
    env = lob(action, side)
    task = env.unwrapped.task
    twap = make_baseline("twap", task)
    discrete = ScheduleResidual(task, [0.0, 1.0, 2.0])
    continuous = None if action == "participation" else ScheduleResidual(task)
    obs, _ = env.reset(seed=3)
    done = False
    while not done:
        expected, _ = twap.predict(obs[None])
        np.testing.assert_array_equal(discrete.to_env(np.array([1]), obs[None]), expected)
        if continuous is not None:
            got = continuous.to_env(np.zeros((1, continuous.action_space.shape[0])), obs[None])
            if action == "placement":
                assert got[0, 1] == 0.0  # neutral offset: at the touch
                got[:, 1] = expected[:, 1]
            np.testing.assert_array_equal(got, expected)
        obs, _, done, _, _ = env.step(expected[0])


def test_multiples_offsets_and_clipping():
    env = lob("placement", "sell")
    task = env.unwrapped.task
    obs, _ = env.reset(seed=0)
    res = ScheduleResidual(task, max_multiplier=3.0)
    slice_frac = 1.0 / task.n_steps  # at the first step, TWAP trades 1/n of what remains
    batch = np.repeat(obs[None], 5, axis=0)
    a = np.array([[0.0, 0.0], [1.0, 1.0], [-1.0, -1.0], [0.5, 0.2], [7.0, -9.0]])
    out = res.to_env(a, batch)
    np.testing.assert_allclose(out[:, 0], np.array([1.0, 3.0, 0.0, 2.0, 3.0]) * slice_frac, rtol=1e-6)
    np.testing.assert_allclose(out[:, 1], [0.0, 5.0, -5.0, 1.0, -5.0])  # K = 5: offsets, clipped to [-K, K]
    assert res.action_space == gym.spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
    disc = ScheduleResidual(task, [0.0, 2.0, 1000.0])
    out = disc.to_env(np.array([0, 1, 2]), batch[:3])
    np.testing.assert_allclose(out[:, 0], [0.0, 2.0 * slice_frac, 1.0], rtol=1e-6)  # never more than remains
    np.testing.assert_array_equal(out[:, 1], -5.0)  # discrete residuals place marketable orders


@pytest.mark.parametrize("kwargs, match", [
    (dict(multipliers=[1.0]), "at least two"),
    (dict(multipliers=[0.0, -1.0]), "at least two finite values >= 0"),
    (dict(multipliers=[0.0, float("nan")]), "finite"),
    (dict(max_multiplier=1.0), "max_multiplier must be > 1"),
])
def test_bad_residual_specs_are_refused(kwargs, match):
    task = lob("fraction", "sell").unwrapped.task
    with pytest.raises(ValueError, match=match):
        ScheduleResidual(task, **kwargs)


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_vector_wrapper_steps_as_the_mapped_actions(side):
    cfg = dict(side=side, action="placement", **KW)
    base = LOBExecutionVectorEnv(4, autoreset_mode="SameStep", **cfg)
    wrapped = ResidualVectorEnv(LOBExecutionVectorEnv(4, autoreset_mode="SameStep", **cfg),
                                ScheduleResidual(base.task))
    obs_b, _ = base.reset(seed=7)
    obs_w, _ = wrapped.reset(seed=7)
    rng = np.random.default_rng(0)
    for step in range(25):  # through the first episodes' ends (same-step autoreset)
        a = rng.uniform(-1, 1, size=(4, 2)).astype(np.float32)
        obs_b, r_b, t_b, _, _ = base.step(wrapped.residual.to_env(a, obs_b))
        obs_w, r_w, t_w, _, _ = wrapped.step(a)
        np.testing.assert_array_equal(obs_b, obs_w)
        np.testing.assert_array_equal(r_b, r_w)
        np.testing.assert_array_equal(t_b, t_w)
        if step == 10:
            state = wrapped.get_state()
            later = [wrapped.step(np.zeros((4, 2), np.float32))[0] for _ in range(3)]
            wrapped.set_state(state)
            again = [wrapped.step(np.zeros((4, 2), np.float32))[0] for _ in range(3)]
            for x, y in zip(later, again):
                np.testing.assert_array_equal(x, y)
            wrapped.set_state(state)
    assert wrapped.action_space.shape == (4, 2)


def test_policy_wrapper_acts_in_the_env_actions():
    env = lob("participation", "buy")
    task = env.unwrapped.task

    class Constant:
        observation_space = env.observation_space

        def predict(self, obs, state=None, episode_start=None, deterministic=True):
            return np.full(len(obs), 2, dtype=np.int64), state

    residual = ScheduleResidual(task, [0.0, 1.0, 2.0])
    policy = ResidualPolicy(Constant(), residual)
    obs, _ = env.reset(seed=1)
    action, _ = policy.predict(obs)
    assert np.ndim(action) == 0 and env.action_space.contains(action)
    assert action == residual.to_env(np.array([2]), obs[None])[0]


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_passive_twap_rests_its_slices_and_crosses_at_the_end(side):
    env = lob("placement", side)
    task = env.unwrapped.task
    passive = make_baseline("twap", task, placement_offset_ticks=0)
    crossing = make_baseline("twap", task)
    obs, _ = env.reset(seed=2)
    done, k = False, 0
    while not done:
        a, _ = passive.predict(obs)
        b, _ = crossing.predict(obs)
        assert a[0] == b[0]  # same slices
        assert a[1] == (-task.placement_max_offset_ticks if k == task.n_steps - 1 else 0.0)
        obs, _, done, _, info = env.step(a)
        k += 1
    assert info["execution"]["executed_shares"] == task.total_shares
    with pytest.raises(ValueError, match="needs a placement task"):
        make_baseline("twap", lob("fraction", side).unwrapped.task, placement_offset_ticks=0)
    with pytest.raises(ValueError, match=r"in \[-5, 5\], got 6"):
        make_baseline("twap", task, placement_offset_ticks=6)
