"""Build trainable agents (execgym's actor-critic or SB3 models) from Hydra configs."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Mapping

import gymnasium as gym
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, CheckpointCallback
from stable_baselines3.common.vec_env import VecMonitor

from execgym import envs
from execgym.agents.actor_critic import ActorCritic, ActorCriticConfig
from execgym.agents.sb3 import SB3_ALGORITHMS, GymnasiumVecEnv, make_sb3_model

logger = logging.getLogger(__name__)

__all__ = ["AGENT_KINDS", "Trainable", "build_agent", "load_policy", "make_vector_env"]

AGENT_KINDS = ("actor_critic", *SB3_ALGORITHMS)


def make_vector_env(env_id: str, config: Any, n_envs: int) -> gym.vector.VectorEnv:
    """``n_envs`` copies of the environment with same-step autoreset: the native vector env
    where the id has one, else gymnasium's ``SyncVectorEnv``."""
    if envs.ENV_IDS[env_id][1] is not None:
        return gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="vector_entry_point",
                            config=config, autoreset_mode=AutoresetMode.SAME_STEP).unwrapped
    return gym.vector.SyncVectorEnv([lambda: gym.make(env_id, config=config)] * n_envs,
                                    autoreset_mode=AutoresetMode.SAME_STEP)


class Trainable:
    """One interface over both kinds of agent: ``learn``, ``save``, and ``policy.predict``."""

    def __init__(self, kind: str, model: ActorCritic | BaseAlgorithm) -> None:
        self.kind, self.model = kind, model

    @property
    def policy(self):
        return self.model

    @property
    def num_timesteps(self) -> int:
        return int(self.model.num_timesteps)

    def learn(self, total_timesteps: int, on_update: Callable[[int], bool], checkpoint_dir: Path | None = None,
              checkpoint_every: int = 0, name: str = "agent") -> None:
        """Train; ``on_update(num_timesteps)`` runs after each update (False stops).

        With ``checkpoint_dir``, a checkpoint every ``checkpoint_every`` steps: SB3 models
        through SB3's ``CheckpointCallback``, the actor-critic through its ``save``.
        """
        if isinstance(self.model, ActorCritic):
            next_save = [self.num_timesteps + checkpoint_every]

            def callback(agent: ActorCritic, n: int) -> bool:
                if checkpoint_dir is not None and checkpoint_every and n >= next_save[0]:
                    agent.save(Path(checkpoint_dir) / f"{name}_{n}_steps.pt")
                    next_save[0] = n + checkpoint_every
                return on_update(n)

            self.model.learn(total_timesteps, callback=callback)
            return

        class _Hook(BaseCallback):
            """Calls ``on_update`` after each rollout; a False answer stops at the next step."""

            stop = False

            def _on_step(self) -> bool:
                return not self.stop

            def _on_rollout_end(self) -> None:
                self.stop = on_update(self.num_timesteps) is False

        callbacks: list[BaseCallback] = [_Hook()]
        if checkpoint_dir is not None and checkpoint_every:
            per_env = max(checkpoint_every // self.model.get_env().num_envs, 1)
            callbacks.append(CheckpointCallback(per_env, str(checkpoint_dir), name_prefix=name))
        self.model.learn(total_timesteps, callback=CallbackList(callbacks), reset_num_timesteps=False,
                         progress_bar=False)

    def save(self, path: Path) -> Path:
        if isinstance(self.model, ActorCritic):
            return self.model.save(path.with_suffix(".pt"))
        self.model.save(path.with_suffix(".zip"))
        return path.with_suffix(".zip")


def build_agent(agent_cfg: Mapping[str, Any], env_id: str, env_config: Any, seed: int, n_envs: int,
                tensorboard_dir: str | None = None, resume_from: str | None = None) -> Trainable:
    """An agent from its config group (``kind`` + hyperparameters), on ``n_envs`` env copies.

    :param tensorboard_dir: the learner's own TensorBoard logs (SB3's, or the actor-critic's
        losses, entropy, explained variance, episode returns and steps/s).
    :param resume_from: a checkpoint saved by :meth:`Trainable.save` to continue from.
    """
    cfg = dict(agent_cfg)
    kind = cfg.pop("kind")
    if kind not in AGENT_KINDS:
        raise ValueError(f"agent.kind must be one of {AGENT_KINDS}, got {kind!r}")
    venv = make_vector_env(env_id, env_config, n_envs)
    if kind == "actor_critic":
        if resume_from:
            return Trainable(kind, ActorCritic.load(resume_from, env=venv, tensorboard_log=tensorboard_dir))
        return Trainable(kind, ActorCritic(venv, ActorCriticConfig(**cfg), seed=seed, tensorboard_log=tensorboard_dir))
    # VecMonitor: episode returns and lengths, so SB3 logs rollout/ep_rew_mean and ep_len_mean
    sb3_env = VecMonitor(GymnasiumVecEnv(venv))
    if resume_from:
        cls = SB3_ALGORITHMS[kind][0]
        return Trainable(kind, cls.load(resume_from, env=sb3_env, device="cpu", tensorboard_log=tensorboard_dir))
    return Trainable(kind, make_sb3_model(kind, sb3_env, seed, cfg, tensorboard_log=tensorboard_dir))


def load_policy(path: str | Path):
    """A trained policy from a checkpoint (``.pt``: actor-critic; ``.zip``: SB3), for evaluation."""
    path = Path(path)
    if path.suffix == ".pt":
        return ActorCritic.load(path)
    if path.suffix == ".zip":
        for cls, _, _ in SB3_ALGORITHMS.values():
            try:
                return cls.load(path, device="cpu")
            except (ValueError, KeyError, TypeError, AssertionError):  # wrong algorithm class
                continue
    raise ValueError(f"{path}: not a checkpoint this project can load (.pt actor-critic or .zip SB3)")
