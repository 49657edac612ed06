"""Helpers shared by tests."""

from __future__ import annotations

import numpy as np


def run_episode(env, policy, seed):
    """Run one episode of ``policy`` from ``env.reset(seed=seed)``; return (rewards, infos)."""
    obs, _ = env.reset(seed=seed)
    rewards, infos, done = [], [], False
    while not done:
        action, _ = policy.predict(obs, deterministic=True)
        obs, reward, terminated, truncated, info = env.step(action)
        rewards.append(reward)
        infos.append(info)
        done = terminated or truncated
    return np.array(rewards), infos


def assert_vector_env_steps_as_single_envs(kw, seed, m=3, n_steps=5):
    """``LOBExecutionVectorEnv(m, **kw)`` reset with ``seed`` gives, market by market, the
    observations and rewards of single ``LOBExecutionEnv``\\ s of ``kw`` reset with ``seed + i``
    under the same random participation actions."""
    from execgym.envs.lob_execution import LOBExecutionConfig, LOBExecutionEnv
    from execgym.envs.lob_vector import LOBExecutionVectorEnv

    venv = LOBExecutionVectorEnv(m, **kw)
    singles = [LOBExecutionEnv(LOBExecutionConfig.from_kwargs(kw)) for _ in range(m)]
    vobs, _ = venv.reset(seed=seed)
    np.testing.assert_array_equal(vobs, np.stack([e.reset(seed=seed + i)[0] for i, e in enumerate(singles)]))
    for a in np.random.default_rng(0).integers(0, 5, size=(n_steps, m)):
        vo, vr, *_ = venv.step(a)
        for i, e in enumerate(singles):
            o, r, *_ = e.step(a[i])
            np.testing.assert_array_equal(vo[i], o)
            assert vr[i] == r
