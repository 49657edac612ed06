"""Residual actions around TWAP: the agent chooses how much more or less than the TWAP slice
to trade (and, for limit orders, where to place it), not the raw action.

Residual policy learning (Silver et al. 2018, "Residual policy learning"; Johannink et al.
2019) lets a learner start from a sound controller and learn corrections to it. For
execution the controller is TWAP: the slice ``remaining / steps_left``. A residual action
maps to the env's own action through the common contract only
(:func:`~execgym.envs.contract.decode_observation`,
:func:`~execgym.envs.contract.shares_to_action`), so it works in every execution env and
every action kind:

* continuous (``Box(-1, 1)``): ``a[0]`` scales the slice by ``1 + a[0] * (max_multiplier - 1)``
  for ``a[0] >= 0`` and by ``1 + a[0]`` below (``a = 0``: exactly TWAP's slice; ``-1``: nothing;
  ``+1``: ``max_multiplier`` slices). For ``"placement"`` a second coordinate places the
  order ``round(a[1] * K)`` ticks behind the own-side touch (``0``: at the touch; ``-1``:
  crossing by up to ``K`` ticks, as the baselines' marketable orders; ``+1``: ``K`` ticks
  behind it);
* discrete (``Discrete(len(multipliers))``): one of the given multipliers of the slice
  (placement: as a marketable order, the baselines' way).

The slice is then converted by :func:`~execgym.envs.contract.shares_to_action`: exactly for
``"fraction"`` and ``"placement"``, to the nearest participation rate for ``"participation"``.

:class:`ResidualVectorEnv` presents a vector env in residual actions for training;
:class:`ResidualPolicy` wraps the trained model so that it acts in the env's own actions,
which is how evaluation (and every baseline) meets the env.
"""

from __future__ import annotations

from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from execgym.envs.contract import ExecutionTask, decode_observation, shares_to_action

__all__ = ["ResidualPolicy", "ResidualVectorEnv", "ScheduleResidual"]


class ScheduleResidual:
    """The map from residual actions to the env's actions for one :class:`ExecutionTask`.

    :param multipliers: discrete residual actions (multiples of the TWAP slice); ``None``
        for the continuous ``Box(-1, 1)`` residual.
    :param max_multiplier: the continuous residual's largest multiple of the slice (> 1).
    """

    def __init__(self, task: ExecutionTask, multipliers: Sequence[float] | None = None,
                 max_multiplier: float = 2.0) -> None:
        if task.action_kind == "routing":
            raise ValueError("residual actions need an execution task that trades shares, got a routing task")
        self.task = task
        self.max_multiplier = float(max_multiplier)
        if not self.max_multiplier > 1.0:
            raise ValueError(f"max_multiplier must be > 1, got {max_multiplier!r}")
        if multipliers is not None:
            values = np.asarray(list(multipliers), dtype=np.float64)
            if values.ndim != 1 or len(values) < 2 or not np.all(np.isfinite(values)) or np.any(values < 0):
                raise ValueError(f"multipliers must be at least two finite values >= 0, got {multipliers!r}")
            self.multipliers: np.ndarray | None = values
            self.action_space: spaces.Space = spaces.Discrete(len(values))
        else:
            self.multipliers = None
            width = 2 if task.action_kind == "placement" else 1
            self.action_space = spaces.Box(-1.0, 1.0, (width,), dtype=np.float32)

    def to_env(self, actions: np.ndarray, observations: np.ndarray) -> np.ndarray:
        """The env actions for a batch of residual ``actions`` taken at ``observations``."""
        obs = np.asarray(observations, dtype=np.float64).reshape(len(observations), -1)
        step, remaining, _ = decode_observation(self.task, obs)
        steps_left = np.maximum(self.task.n_steps - step, 1)
        if self.multipliers is not None:
            index = np.asarray(actions, dtype=np.int64).reshape(-1)
            multiple = self.multipliers[index]
            offset = None
        else:
            a = np.clip(np.asarray(actions, dtype=np.float64).reshape(len(obs), -1), -1.0, 1.0)
            multiple = np.where(a[:, 0] >= 0.0, 1.0 + a[:, 0] * (self.max_multiplier - 1.0), 1.0 + a[:, 0])
            offset = a[:, 1] * self.task.placement_max_offset_ticks if a.shape[1] == 2 else None
        shares = np.minimum(multiple * remaining / steps_left, remaining)
        env_action = shares_to_action(self.task, shares, remaining, step)
        if offset is not None:
            env_action[:, 1] = offset.astype(np.float32)
        return env_action


class ResidualVectorEnv(gym.vector.VectorWrapper):
    """A vector execution env in residual actions (:class:`ScheduleResidual`): it keeps each
    copy's last observation, from which the residual is converted."""

    def __init__(self, env: gym.vector.VectorEnv, residual: ScheduleResidual) -> None:
        super().__init__(env)
        self.residual = residual
        self.single_action_space = residual.action_space
        self.action_space = gym.vector.utils.batch_space(residual.action_space, env.num_envs)
        self._obs: np.ndarray | None = None

    def reset(self, *, seed: Any = None, options: Any = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._obs = np.array(obs)
        return obs, info

    def step(self, actions: Any):
        if self._obs is None:
            raise RuntimeError("call reset() before step()")
        obs, rewards, terminated, truncated, info = self.env.step(self.residual.to_env(actions, self._obs))
        self._obs = np.array(obs)  # same-step autoreset: the new episodes' first observations
        return obs, rewards, terminated, truncated, info

    def get_state(self) -> dict[str, Any]:
        """The wrapped env's snapshot and the last observations (exact resume)."""
        return {"env": self.env.get_state(), "obs": None if self._obs is None else self._obs.copy()}

    def set_state(self, state: dict[str, Any]) -> None:
        self.env.set_state(state["env"])
        self._obs = None if state["obs"] is None else np.array(state["obs"])


class ResidualPolicy:
    """A model trained in residual actions, acting in the env's own actions (SB3's ``predict``)."""

    def __init__(self, model: Any, residual: ScheduleResidual) -> None:
        self.model, self.residual = model, residual
        self.observation_space = model.observation_space

    def predict(self, observation: np.ndarray, state: Any = None, episode_start: Any = None,
                deterministic: bool = True) -> tuple[np.ndarray, Any]:
        obs = np.asarray(observation)
        single = obs.ndim == 1
        batch = obs.reshape(1, -1) if single else obs
        actions, state = self.model.predict(batch, state=state, episode_start=episode_start,
                                            deterministic=deterministic)
        env_actions = self.residual.to_env(actions, batch)
        if single:
            env_actions = env_actions[0]
        return env_actions, state
