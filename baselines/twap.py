"""TWAP: equal slices over the horizon, optionally randomised."""

from __future__ import annotations

import numpy as np

from execgym.baselines.schedule import SchedulePolicy
from execgym.envs.contract import ExecutionTask
from execgym.validation import check_fraction

__all__ = ["TWAPPolicy"]


class TWAPPolicy(SchedulePolicy):
    """Time-weighted average price: trade ``remaining / steps_left`` each step.

    On schedule this is ``total_shares / n_steps`` per step; after a shortfall (for
    instance a participation action space that cannot hit the slice exactly) it spreads
    what is left evenly over the steps left.

    With ``randomise_frac = r > 0`` each slice is multiplied by an independent draw from
    ``Uniform(1 - r, 1 + r)`` (the reference module's +-20% by default when enabled),
    which hides the pattern from other traders. Because slices are always fractions of
    what is left and the last step trades the rest, the order still completes.

    :param task: the environment's task.
    :param randomise_frac: ``r`` in ``[0, 1]``; 0 disables randomisation.
    :param seed: seed of the policy's own ``np.random.Generator`` (used only if ``r > 0``).
    :param placement_offset_ticks: placement tasks: rest each slice as a limit order this many
        ticks behind the own-side touch (0: at the touch, "passive TWAP"), crossing only at
        the last step; ``None`` (default): marketable orders, as every baseline.
    """

    def __init__(self, task: ExecutionTask, randomise_frac: float = 0.0, seed: int | None = 0,
                 placement_offset_ticks: float | None = None) -> None:
        super().__init__(task)
        self._set_placement_offset(placement_offset_ticks)
        self.randomise_frac = check_fraction("randomise_frac", randomise_frac)
        self._rng = np.random.default_rng(seed)

    def shares_to_trade(
        self, step: np.ndarray, remaining: np.ndarray, volume_ratio: np.ndarray
    ) -> np.ndarray:
        steps_left = np.maximum(self.task.n_steps - step, 1)
        slice_shares = remaining / steps_left
        if self.randomise_frac > 0.0:
            r = self.randomise_frac
            slice_shares = slice_shares * self._rng.uniform(1.0 - r, 1.0 + r, size=slice_shares.shape)
        return slice_shares
