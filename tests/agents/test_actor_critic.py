"""The advantage actor-critic: interface, seeding, persistence and learning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from execgym.agents.actor_critic import ActorCritic, ActorCriticConfig
from execgym.baselines import make_baseline
from execgym.envs.almgren_chriss import AlmgrenChrissEnv
from execgym.envs.almgren_chriss_vector import AlmgrenChrissVectorEnv
from execgym.experiments.lib.evaluation import compare_policies

KW = dict(n_steps=10, reward="mean_variance", action="participation")


def venv(n=16, **kw):
    return AlmgrenChrissVectorEnv(n, autoreset_mode="SameStep", **{**KW, **kw})


def params(agent):
    return torch.cat([p.detach().flatten() for p in list(agent.actor.parameters()) + list(agent.critic.parameters())])


def test_same_seed_same_learning_curve_different_seed_different():
    a = ActorCritic(venv(), seed=3).learn(2_000, progress=False)
    b = ActorCritic(venv(), seed=3).learn(2_000, progress=False)
    c = ActorCritic(venv(), seed=4).learn(2_000, progress=False)
    assert torch.equal(params(a), params(b))
    assert not torch.equal(params(a), params(c))


def test_predict_follows_sb3_conventions():
    agent = ActorCritic(venv(), seed=0)
    env = AlmgrenChrissEnv(**KW)
    obs, info = env.reset(seed=0)
    action, state = agent.predict(obs, deterministic=True)
    assert env.action_space.contains(action) and state is None
    batch, _ = agent.predict(np.stack([obs] * 3), deterministic=True)
    assert batch.shape == (3,) and (batch == action).all()
    with pytest.raises(TypeError, match="obs, info"):
        agent.predict((obs, info))


def test_save_load_predicts_the_same_and_resumes(tmp_path):
    agent = ActorCritic(venv(), seed=1).learn(1_600, progress=False)
    path = agent.save(tmp_path / "agent.pt")
    loaded = ActorCritic.load(path)
    obs = np.random.default_rng(0).normal(size=(20, 6))
    np.testing.assert_array_equal(agent.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0])
    resumed = ActorCritic.load(path, env=venv())
    resumed.learn(800, progress=False)
    rollout = resumed.config.n_steps * 16  # learn() runs whole rollouts, as SB3 does
    assert agent.num_timesteps + 800 <= resumed.num_timesteps < agent.num_timesteps + 800 + rollout
    with pytest.raises(RuntimeError, match="no environment"):
        loaded.learn(10)


def test_learns_the_almgren_chriss_schedule_under_the_mean_variance_reward():
    agent = ActorCritic(venv(64), ActorCriticConfig(n_steps=10, gae_lambda=1.0), seed=0)
    make = lambda: AlmgrenChrissEnv(**KW)  # noqa: E731
    task = make().task
    before = compare_policies({"agent": agent}, make, 200, seed=5)["mv_cost_bps"].mean()
    agent.learn(150_000, progress=False)
    df = compare_policies({"agent": agent, "ac": make_baseline("almgren_chriss", task),
                           "twap": make_baseline("twap", task)}, make, 200, seed=5)
    means = df.groupby("policy")["mv_cost_bps"].mean()
    assert means["agent"] < before and means["agent"] < means["twap"]
    assert means["agent"] < 1.03 * means["ac"]


def test_bad_arguments():
    with pytest.raises(TypeError, match="Discrete"):
        ActorCritic(AlmgrenChrissVectorEnv(2, autoreset_mode="SameStep", n_steps=5), seed=0)
    with pytest.raises(ValueError, match="SameStep"):
        ActorCritic(AlmgrenChrissVectorEnv(2, **KW), seed=0)
    with pytest.raises(ValueError, match="gamma"):
        ActorCriticConfig(gamma=1.5)
    with pytest.raises(ValueError, match="learning_rate"):
        ActorCriticConfig(learning_rate=0.0)
