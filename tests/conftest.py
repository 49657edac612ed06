"""Shared fixtures: environments and the policies that run in them."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

import envs  # noqa: E402,F401  (registers execgym/*)
from envs.almgren_chriss import AlmgrenChrissEnv  # noqa: E402


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


@pytest.fixture(params=["sell", "buy"])
def side(request):
    return request.param


@pytest.fixture
def small_env(side):
    return AlmgrenChrissEnv(side=side, n_steps=10)
