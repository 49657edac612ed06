"""stable-baselines3 agents built from plain configs, on Gymnasium vector envs.

:class:`GymnasiumVecEnv` adapts a Gymnasium ``VectorEnv`` with same-step autoreset (such
as the native ``AlmgrenChrissVectorEnv``) to SB3's ``VecEnv`` API, so SB3 trains on a whole
batch of episodes per step instead of a Python loop over copies. :func:`make_sb3_model`
builds PPO, A2C or DQN (discrete actions) and PPO, SAC or TD3 (continuous) with their
hyperparameters from a mapping (a Hydra ``agent`` group).
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.vec_env import VecEnv

logger = logging.getLogger(__name__)

__all__ = ["SB3_ALGORITHMS", "GymnasiumVecEnv", "make_sb3_model", "without_log_folder"]

#: algorithm name -> (class, supports discrete, supports continuous)
SB3_ALGORITHMS: dict[str, tuple[type[BaseAlgorithm], bool, bool]] = {
    "ppo": (PPO, True, True),
    "a2c": (A2C, True, True),
    "dqn": (DQN, True, False),
    "sac": (SAC, False, True),
    "td3": (TD3, False, True),
}


class GymnasiumVecEnv(VecEnv):
    """SB3 ``VecEnv`` view of a Gymnasium vector env with same-step autoreset.

    Terminal observations go to ``infos[i]["terminal_observation"]`` and truncations to
    ``infos[i]["TimeLimit.truncated"]``, as SB3 expects.
    """

    def __init__(self, venv: gym.vector.VectorEnv) -> None:
        if venv.metadata.get("autoreset_mode") != AutoresetMode.SAME_STEP:
            raise ValueError("GymnasiumVecEnv needs a vector env with autoreset_mode='SameStep'")
        self.venv = venv
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)
        self._actions: np.ndarray | None = None
        self._seed: int | None = None

    def reset(self) -> np.ndarray:
        obs, _ = self.venv.reset(seed=self._seed)
        self._seed = None
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self):
        obs, rewards, terminated, truncated, info = self.venv.step(self._actions)
        dones = np.logical_or(terminated, truncated)
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if dones.any():
            final = info.get("final_obs")
            for i in np.flatnonzero(dones):
                infos[i]["terminal_observation"] = final[i] if final is not None else obs[i]
                infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
                if "execution" in info:
                    infos[i]["execution"] = {k: v[i] for k, v in info["execution"].items() if not k.startswith("_")}
        return obs, rewards.astype(np.float32), dones, infos

    def seed(self, seed: int | None = None):
        self._seed = seed
        return [seed] * self.num_envs

    def close(self) -> None:
        self.venv.close()

    def get_attr(self, attr_name, indices=None):
        return [getattr(self.venv, attr_name)] * len(self._get_indices(indices))

    def set_attr(self, attr_name, value, indices=None):
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name, *args, indices=None, **kwargs):
        return [getattr(self.venv, method_name)(*args, **kwargs)] * len(self._get_indices(indices))

    def env_is_wrapped(self, wrapper_class, indices=None):
        return [False] * len(self._get_indices(indices))

    def _get_indices(self, indices):
        if indices is None:
            return range(self.num_envs)
        return [indices] if isinstance(indices, int) else indices


def make_sb3_model(
    algorithm: str,
    env: VecEnv | gym.Env,
    seed: int,
    hyperparameters: Mapping[str, Any] | None = None,
    tensorboard_log: str | None = None,
) -> BaseAlgorithm:
    """An SB3 model named ``algorithm`` (a key of :data:`SB3_ALGORITHMS`) on ``env``.

    :param hyperparameters: keyword arguments of the algorithm's constructor (for example
        ``learning_rate``, ``n_steps``, ``policy_kwargs``); ``policy`` defaults to ``"MlpPolicy"``.
    :raises ValueError: for an unknown algorithm or one that does not support the env's
        action space (naming both).
    """
    try:
        cls, discrete, continuous = SB3_ALGORITHMS[algorithm]
    except KeyError:
        raise ValueError(f"unknown SB3 algorithm {algorithm!r}; known: {sorted(SB3_ALGORITHMS)}") from None
    space = env.action_space
    if isinstance(space, gym.spaces.Discrete) and not discrete:
        raise ValueError(f"{algorithm} needs a continuous (Box) action space, got {space!r}")
    if isinstance(space, gym.spaces.Box) and not continuous:
        raise ValueError(f"{algorithm} needs a Discrete action space, got {space!r}")
    params = dict(hyperparameters or {})
    policy = params.pop("policy", "MlpPolicy")
    model = cls(policy, env, seed=seed, tensorboard_log=tensorboard_log, verbose=0, device="cpu", **params)
    return model if tensorboard_log is not None else without_log_folder(model)


def without_log_folder(model: BaseAlgorithm) -> BaseAlgorithm:
    """``model`` with a logger that writes nothing and creates no folder; returns ``model``.

    SB3 configures a logger at every ``learn()``: with no ``tensorboard_log`` and ``verbose=0``
    it writes nothing, but still creates an empty ``<tempdir>/SB3-<date and time>`` folder, one
    per call. A model given its own logger keeps it (SB3's ``set_logger``)."""
    model.set_logger(Logger(folder=None, output_formats=[]))
    return model
