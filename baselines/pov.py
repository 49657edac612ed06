"""POV: trade a fraction of market volume, adapted so the order completes on time."""

from __future__ import annotations

import numpy as np

from execgym.baselines.schedule import SchedulePolicy
from execgym.envs.contract import ExecutionTask
from execgym.validation import check_fraction

__all__ = ["POVPolicy"]


class POVPolicy(SchedulePolicy):
    """Percentage of volume.

    The interval's market volume is not known before it trades, so it is forecast as
    its expected volume scaled by how the last interval came in against expectation
    (``last_volume_ratio`` in the observation): ``forecast_k = E[V_k] * ratio``. The
    policy trades ``p * forecast_k`` shares.

    * ``adaptive=False``: ``p = target_participation``.
    * ``adaptive=True`` (default): ``p`` is the participation that would finish exactly at
      the horizon if the market traded its expected volume from now on,
      ``remaining / sum_{j>=k} E[V_j]``, clipped to ``[min_participation,
      max_participation]`` (the reference module's adaptive rule). The shares traded,
      ``p * E[V_k] * ratio``, follow the volume the market actually trades: a busy market
      is met with more shares, a quiet one with fewer, and the rate then catches up. (Scaling
      the volume to go by ``ratio`` too would cancel ``ratio`` and turn POV into VWAP.)

    The last step trades what is left, so the order completes by the horizon.

    :param task: the environment's task.
    :param target_participation: fraction of market volume in ``(0, 1]``.
    :param min_participation: lower bound on the adaptive rate, ``<= target``.
    :param max_participation: upper bound on the adaptive rate, ``>= target``.
    :param adaptive: adapt the rate as above, or hold it at the target.
    """

    def __init__(
        self,
        task: ExecutionTask,
        target_participation: float = 0.10,
        min_participation: float = 0.05,
        max_participation: float = 0.20,
        adaptive: bool = True,
    ) -> None:
        super().__init__(task)
        self.target_participation = check_fraction("target_participation", target_participation, allow_zero=False)
        self.min_participation = check_fraction("min_participation", min_participation)
        self.max_participation = check_fraction("max_participation", max_participation, allow_zero=False)
        if not self.min_participation <= self.target_participation <= self.max_participation:
            raise ValueError(
                "need min_participation <= target_participation <= max_participation, got "
                f"{min_participation!r}, {target_participation!r}, {max_participation!r}"
            )
        self.adaptive = bool(adaptive)
        vol = task.expected_volume_shares
        # expected volume from interval k to the end, shape (n_steps,)
        self._volume_to_go = np.cumsum(vol[::-1])[::-1]

    def participation(self, step: np.ndarray, remaining: np.ndarray, volume_ratio: np.ndarray) -> np.ndarray:
        """The participation rate used at ``step``, shape ``(M,)`` (fraction of volume)."""
        if not self.adaptive:
            return np.full(step.shape, self.target_participation)
        volume_to_go = self._volume_to_go[step]
        with np.errstate(divide="ignore", invalid="ignore"):
            required = np.where(volume_to_go > 0, remaining / volume_to_go, np.inf)
        return np.clip(required, self.min_participation, self.max_participation)

    def shares_to_trade(
        self, step: np.ndarray, remaining: np.ndarray, volume_ratio: np.ndarray
    ) -> np.ndarray:
        forecast = self.task.expected_volume_shares[step] * np.maximum(volume_ratio, 0.0)
        return self.participation(step, remaining, volume_ratio) * forecast
