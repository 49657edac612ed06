"""VWAP: trade along the expected intraday volume profile, with a participation cap."""

from __future__ import annotations

import numpy as np

from execgym.baselines.schedule import SchedulePolicy
from execgym.envs.contract import ExecutionTask
from execgym.validation import check_fraction

__all__ = ["VWAPPolicy"]


class VWAPPolicy(SchedulePolicy):
    """Volume-weighted average price: holdings follow the expected cumulative volume.

    After step ``k`` the target holdings are ``X (1 - C_k)``, where ``C_k`` is the
    fraction of the horizon's expected market volume that falls in intervals
    ``0..k`` (``task.expected_volume_shares``). Each step trades down to the target,
    but never more than ``max_participation`` times the interval's expected volume; what
    the cap holds back is caught up later, and the last step trades the rest.

    :param task: the environment's task.
    :param max_participation: cap on shares per step as a fraction of the interval's
        expected market volume, in ``(0, 1]``; 1 means effectively uncapped for small orders.
    """

    def __init__(self, task: ExecutionTask, max_participation: float = 0.25) -> None:
        super().__init__(task)
        self.max_participation = check_fraction("max_participation", max_participation, allow_zero=False)
        cum = task.expected_volume_fraction_cum
        self.target_holdings = task.total_shares * (1.0 - cum)
        self.target_holdings[-1] = 0.0

    def shares_to_trade(
        self, step: np.ndarray, remaining: np.ndarray, volume_ratio: np.ndarray
    ) -> np.ndarray:
        wanted = np.maximum(remaining - self.target_holdings[step], 0.0)
        cap = self.max_participation * self.task.expected_volume_shares[step]
        return np.minimum(wanted, cap)
