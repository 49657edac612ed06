"""Reward functions of the execution environments, in basis points of arrival notional.

Both work elementwise on floats or ``(M,)`` arrays, so single and vectorised
environments share them.

* :class:`ShortfallReward`: minus the step's implementation-shortfall increment,
  ``-cost_k / (X S_0) * 1e4`` bps, where ``cost_k = side * n_k * (fill_k - S_0)``
  (currency; positive is a cost for buys and sells alike). The episode's rewards sum to
  minus its implementation shortfall in bps.
* :class:`MeanVarianceReward`: also charges the risk of the shares still held,
  ``-(cost_k + lambda * var_rate * x_k^2) / (X S_0) * 1e4`` bps, with ``x_k`` the shares
  left after the step and ``var_rate = sigma^2 tau`` the price variance per step
  (currency^2 / share^2). For any deterministic schedule the expected sum is
  ``-(E + lambda V) / (X S_0) * 1e4``: the Almgren-Chriss objective, so the AC schedule is
  the optimum an agent should find.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from execgym.envs.contract import BPS
from execgym.validation import check_choice, check_nonnegative, check_positive

__all__ = ["REWARD_KINDS", "MeanVarianceReward", "ShortfallReward", "make_reward"]

REWARD_KINDS = ("shortfall", "mean_variance")


@dataclass(frozen=True)
class ShortfallReward:
    """Minus the step's implementation shortfall, in bps of ``notional`` (currency)."""

    notional: float

    def __post_init__(self) -> None:
        check_positive("notional", self.notional)

    def __call__(self, cost: np.ndarray | float, holdings_after: np.ndarray | float) -> np.ndarray | float:
        return -cost * (BPS / self.notional)


@dataclass(frozen=True)
class MeanVarianceReward:
    """Minus (shortfall + ``risk_aversion * var_rate * holdings^2``), in bps of ``notional``.

    :param notional: arrival notional ``X S_0`` (currency).
    :param risk_aversion: ``lambda`` (1/currency).
    :param var_rate: price variance per step, ``sigma^2 tau`` (currency^2/share^2).
    """

    notional: float
    risk_aversion: float
    var_rate: float

    def __post_init__(self) -> None:
        check_positive("notional", self.notional)
        check_nonnegative("risk_aversion", self.risk_aversion)
        check_nonnegative("var_rate", self.var_rate)

    def risk_charge(self, holdings_after: np.ndarray | float) -> np.ndarray | float:
        """``lambda * var_rate * x^2`` (currency)."""
        return self.risk_aversion * self.var_rate * holdings_after * holdings_after

    def __call__(self, cost: np.ndarray | float, holdings_after: np.ndarray | float) -> np.ndarray | float:
        return -(cost + self.risk_charge(holdings_after)) * (BPS / self.notional)


def make_reward(kind: str, notional: float, risk_aversion: float, var_rate: float):
    """Build the reward named ``kind`` (one of :data:`REWARD_KINDS`)."""
    check_choice("reward", kind, REWARD_KINDS)
    if kind == "shortfall":
        return ShortfallReward(notional)
    return MeanVarianceReward(notional, risk_aversion, var_rate)
