"""The common base of execgym's execution baselines.

A baseline decides how many shares to trade this step from the decision step, the
shares left and the last interval's market volume, all read from the observation's
common header (:mod:`execgym.envs.contract`). :class:`SchedulePolicy` turns that into SB3's
``predict`` interface for single observations and batches, and into whichever action
space the environment uses.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from execgym.envs.contract import (
    N_COMMON_FEATURES,
    ExecutionTask,
    decode_observation,
    shares_to_action,
)

__all__ = ["SchedulePolicy"]


class SchedulePolicy(ABC):
    """Base class: subclasses implement :meth:`shares_to_trade` on batches.

    At the last decision step every policy trades all remaining shares, so each
    baseline completes its order whether or not the environment forces it.

    :param task: the environment's :class:`~execgym.envs.contract.ExecutionTask`
        (``env.unwrapped.task``).
    """

    #: placement tasks: the limit orders' offset behind the own-side touch (ticks; ``None``:
    #: marketable orders, ``-K``); the last step always crosses, so the order completes
    placement_offset_ticks: float | None = None

    def __init__(self, task: ExecutionTask) -> None:
        if not isinstance(task, ExecutionTask):
            raise TypeError(
                f"task must be an execgym.envs.contract.ExecutionTask (env.unwrapped.task), got {type(task).__name__}"
            )
        self.task = task

    def _set_placement_offset(self, offset_ticks: float | None) -> None:
        """Rest the slices as limit orders ``offset_ticks`` behind the own-side touch
        (placement tasks only; ``None``: marketable orders)."""
        if offset_ticks is None:
            return
        k = self.task.placement_max_offset_ticks
        if self.task.action_kind != "placement":
            raise ValueError(f"placement_offset_ticks={offset_ticks!r} needs a placement task, this one's actions "
                             f"are {self.task.action_kind!r}")
        if isinstance(offset_ticks, bool) or not isinstance(offset_ticks, (int, float)) or not -k <= offset_ticks <= k:
            raise ValueError(f"placement_offset_ticks must be a number in [-{k}, {k}], got {offset_ticks!r}")
        self.placement_offset_ticks = float(offset_ticks)

    @abstractmethod
    def shares_to_trade(
        self, step: np.ndarray, remaining: np.ndarray, volume_ratio: np.ndarray
    ) -> np.ndarray:
        """Shares to trade now, shape ``(M,)``.

        :param step: 0-based decision step, shape ``(M,)``.
        :param remaining: shares left to trade, shape ``(M,)``.
        :param volume_ratio: last interval's market volume / its expected volume, ``(M,)``.
        """

    def predict(
        self,
        observation: np.ndarray,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """SB3's inference signature; returns ``(action, state)`` with ``state`` unchanged.

        :param observation: one observation ``(d,)`` or a batch ``(M, d)``.
        :param deterministic: ignored: a baseline's schedule is its algorithm (a
            randomised TWAP randomises by design, from its own seed).
        """
        if isinstance(observation, tuple):
            raise TypeError(
                "predict() got a tuple; you probably passed the (obs, info) pair that "
                "env.reset() returns. Pass only the observation: obs, info = env.reset()"
            )
        obs = np.asarray(observation, dtype=np.float64)
        if obs.ndim not in (1, 2) or obs.shape[-1] < N_COMMON_FEATURES:
            raise ValueError(
                f"observation must have shape (d,) or (M, d) with d >= {N_COMMON_FEATURES}, "
                f"got {obs.shape}"
            )
        if not np.all(np.isfinite(obs)):
            raise ValueError(f"observation must be finite, got {observation!r}")
        batch = np.atleast_2d(obs)
        step, remaining, ratio = decode_observation(self.task, batch)
        shares = np.asarray(self.shares_to_trade(step, remaining, ratio), dtype=np.float64)
        shares = np.clip(shares, 0.0, remaining)
        shares = np.where(step >= self.task.n_steps - 1, remaining, shares)
        action = shares_to_action(self.task, shares, remaining, step)
        if self.placement_offset_ticks is not None:
            last = step >= self.task.n_steps - 1
            action[:, 1] = np.where(last, action[:, 1], np.float32(self.placement_offset_ticks))
        return (action[0] if obs.ndim == 1 else action), state

    def __repr__(self) -> str:
        return f"{type(self).__name__}(side={self.task.side!r}, total_shares={self.task.total_shares:g})"
