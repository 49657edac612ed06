"""SB3 agents from configs, and the Gymnasium vector env adapter."""

from __future__ import annotations

import tempfile

import numpy as np
import pytest

from execgym.agents.sb3 import GymnasiumVecEnv, make_sb3_model
from execgym.envs.almgren_chriss_vector import AlmgrenChrissVectorEnv


def test_adapter_reports_terminal_observations_like_sb3_expects():
    vec = GymnasiumVecEnv(AlmgrenChrissVectorEnv(3, autoreset_mode="SameStep", n_steps=2))
    vec.seed(0)
    obs = vec.reset()
    assert obs.shape == (3, 6)
    vec.step_async(np.ones((3, 1), np.float32))
    obs, rewards, dones, infos = vec.step_wait()
    assert dones.all() and all("terminal_observation" in i for i in infos)
    assert all(i["terminal_observation"][1] == 0.0 for i in infos)  # nothing left at the end
    assert np.allclose(obs[:, 1], 1.0)  # already restarted
    assert all(i["execution"]["executed_shares"] == 1e6 for i in infos)


@pytest.mark.parametrize("algo, action", [("ppo", "fraction"), ("ppo", "participation"), ("a2c", "participation"),
                                          ("dqn", "participation"), ("sac", "fraction"), ("td3", "fraction")])
def test_each_algorithm_trains_on_its_action_space(algo, action):
    vec = GymnasiumVecEnv(AlmgrenChrissVectorEnv(4, autoreset_mode="SameStep", n_steps=5, action=action))
    hp = {"learning_starts": 10, "buffer_size": 1000} if algo in ("dqn", "sac", "td3") else {"n_steps": 8}
    model = make_sb3_model(algo, vec, seed=0, hyperparameters=hp)
    model.learn(64)
    assert model.num_timesteps >= 64


def test_training_creates_no_log_folder_unless_tensorboard_is_asked_for(tmp_path, monkeypatch):
    # SB3's own logger, with no TensorBoard folder, creates an empty <tempdir>/SB3-<time>
    # folder at every learn(); the models made here create none, and log where they are told
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("SB3_LOGDIR", raising=False)
    vec = GymnasiumVecEnv(AlmgrenChrissVectorEnv(4, autoreset_mode="SameStep", n_steps=5, action="fraction"))
    hp = {"n_steps": 8, "batch_size": 32}
    make_sb3_model("ppo", vec, seed=0, hyperparameters=hp).learn(32)
    assert not list(tmp_path.glob("SB3-*"))
    tensorboard = tmp_path / "tb"
    make_sb3_model("ppo", vec, seed=0, hyperparameters=hp, tensorboard_log=str(tensorboard)).learn(32)
    assert list(tensorboard.rglob("events.out.tfevents.*")) and not list(tmp_path.glob("SB3-*"))


@pytest.mark.parametrize("algo, action, match", [("dqn", "fraction", "Discrete"), ("sac", "participation", "Box"),
                                                 ("xgboost", "fraction", "unknown")])
def test_wrong_algorithm_for_the_action_space_is_refused(algo, action, match):
    vec = GymnasiumVecEnv(AlmgrenChrissVectorEnv(2, autoreset_mode="SameStep", n_steps=5, action=action))
    with pytest.raises(ValueError, match=match):
        make_sb3_model(algo, vec, seed=0)
