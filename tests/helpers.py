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
