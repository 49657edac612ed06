"""The contract between execution environments and the policies that run in them.

Every execgym execution environment exposes, as ``env.unwrapped.task``, an
:class:`ExecutionTask` describing the parent order, and its observation starts with
the same four features, so that a baseline written once runs in every environment:

=====  ======================  ===========================================  ==========
index  name                    meaning                                      range
=====  ======================  ===========================================  ==========
0      ``time_left_frac``      decision steps left / ``n_steps``            [0, 1]
1      ``inventory_left_frac`` shares left to trade / ``total_shares``      [0, 1]
2      ``last_volume_ratio``   market volume of the last interval /         [0, inf)
                               its expected volume (1 before the first)
3      ``next_volume_ratio``   expected volume of the coming interval /     [0, inf)
                               mean expected volume per interval
=====  ======================  ===========================================  ==========

Environment-specific features follow from index :data:`N_COMMON_FEATURES` on.

Actions come in two kinds (``ExecutionTask.action_kind``):

* ``"fraction"``: ``Box(0, 1, (1,), float32)``, the fraction of the *remaining* shares
  to trade this step;
* ``"participation"``: ``Discrete(len(participation_rates))``, trade
  ``participation_rates[a]`` times the interval's *expected* market volume (capped by
  the remaining shares);
* ``"placement"``: ``Box([0, -K], [1, K], (2,), float32)``: a limit order for a fraction
  ``a[0]`` of the remaining shares at ``round(a[1])`` ticks behind the own-side touch
  (negative: through it, so that ``-K`` crosses the spread by up to ``K - spread`` ticks);
* ``"routing"``: the schedule of child orders is fixed and the action splits each child
  across venues (``execgym/SmartOrderRouting-v0``, :mod:`execgym.envs.routing`); the share
  conversions below do not apply.

:func:`action_to_shares` and :func:`shares_to_action` convert between the two views,
so environments and policies agree on them by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from execgym.validation import (
    check_choice,
    check_fraction,
    check_int,
    check_positive,
)

#: basis points per unit of relative price (costs are reported in bps of the arrival notional)
BPS = 1e4

__all__ = [
    "ACTION_KINDS",
    "BPS",
    "N_COMMON_FEATURES",
    "OBS_INVENTORY_LEFT",
    "OBS_LAST_VOLUME_RATIO",
    "OBS_NEXT_VOLUME_RATIO",
    "OBS_TIME_LEFT",
    "SIDES",
    "ExecutionTask",
    "PolicyPredictor",
    "action_to_shares",
    "check_participation_rates",
    "decode_observation",
    "shares_to_action",
    "real_action",
    "side_sign",
]

OBS_TIME_LEFT = 0
OBS_INVENTORY_LEFT = 1
OBS_LAST_VOLUME_RATIO = 2
OBS_NEXT_VOLUME_RATIO = 3
N_COMMON_FEATURES = 4

SIDES = ("buy", "sell")
ACTION_KINDS = ("fraction", "participation", "placement", "routing")


@runtime_checkable
class PolicyPredictor(Protocol):
    """What evaluation needs of a policy: stable-baselines3's ``predict`` signature.

    Baselines, execgym's own agents and SB3 models all satisfy it. ``observation`` is
    one observation or a batch ``(M, d)``; the action comes back with the same batch
    shape. ``state`` carries whatever a policy needs beyond the observation (RNN state,
    a schedule's bookkeeping); ``episode_start`` marks the first step of an episode.
    Evaluation calls it with ``deterministic=True``.
    """

    def predict(
        self,
        observation: np.ndarray,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]: ...


def real_action(action: Any, shapes: tuple[tuple[int, ...], ...], integer: bool = False,
                name: str = "action") -> np.ndarray:
    """``action`` as a float64 (or, ``integer``, int64) array of one of the documented ``shapes``.

    Only real numbers pass: strings, bytes, bools, complex numbers and objects raise
    ``TypeError``; an integer action must have an integer dtype; any other shape (a
    transposed batch included) raises ``ValueError``. Both name the value and what was
    expected. Ranges are the caller's to check.
    """
    what = "integers" if integer else "real numbers"
    if isinstance(action, (str, bytes)):
        raise TypeError(f"{name} must be {what}, got {action!r} ({type(action).__name__})")
    try:
        a = np.asarray(action)
    except (ValueError, TypeError) as err:  # ragged sequences
        raise TypeError(f"{name} must be an array of real numbers, got {action!r}") from err
    allowed = "iu" if integer else "iuf"
    if a.dtype.kind not in allowed:
        raise TypeError(f"{name} must be {what}, got {action!r} (dtype {a.dtype})")
    if a.shape not in shapes:
        raise ValueError(f"{name} must have shape {' or '.join(map(str, shapes))}, got {a.shape}: {action!r}")
    return a.astype(np.int64 if integer else np.float64)


def check_participation_rates(rates: Any) -> tuple[float, ...]:
    """``rates`` as a non-empty tuple of floats in (0, 1]; raises naming the bad entry."""
    try:
        out = tuple(rates)
    except TypeError:
        raise TypeError(f"participation_rates must be a sequence of fractions, got {rates!r}") from None
    if not out:
        raise ValueError("participation_rates must not be empty")
    return tuple(check_fraction(f"participation_rates[{i}]", r, allow_zero=False) for i, r in enumerate(out))


def side_sign(side: str) -> int:
    """+1 for a buy, -1 for a sell: the sign of the order's impact on the price."""
    return 1 if check_choice("side", side, SIDES) == "buy" else -1


@dataclass(frozen=True, eq=False)
class ExecutionTask:
    """A parent order and how its environment lets it be traded.

    :param side: ``"buy"`` (acquisition) or ``"sell"`` (liquidation).
    :param total_shares: parent order size (shares, > 0).
    :param n_steps: number of decision intervals; the last one completes the order.
    :param horizon: execution horizon in ``time_unit``.
    :param time_unit: unit of ``horizon`` (``"days"`` or ``"seconds"``).
    :param arrival_price: price at arrival, the shortfall benchmark (currency/share).
    :param expected_volume_shares: expected market volume in each interval, shape
        ``(n_steps,)`` (shares).
    :param action_kind: ``"fraction"`` or ``"participation"`` (module docstring).
    :param participation_rates: the discrete participation choices (fractions of the
        interval's expected volume) for ``"participation"`` actions.
    :param placement_max_offset_ticks: ``K`` of the ``"placement"`` action space.
    :param impact_model: the environment's own impact/volatility parameters where it
        has closed-form ones (for the Almgren-Chriss environment: ``sigma``, ``eta``,
        ``gamma``, ``epsilon``, ``risk_aversion`` in the task's units), else ``None``.
    """

    side: str
    total_shares: float
    n_steps: int
    horizon: float
    time_unit: str
    arrival_price: float
    expected_volume_shares: np.ndarray
    action_kind: str = "fraction"
    participation_rates: tuple[float, ...] = (0.05, 0.10, 0.15, 0.20, 0.25)
    impact_model: dict[str, Any] | None = field(default=None)
    placement_max_offset_ticks: int = 5

    def __post_init__(self) -> None:
        check_choice("side", self.side, SIDES)
        check_positive("total_shares", self.total_shares)
        check_int("n_steps", self.n_steps, minimum=1)
        check_positive("horizon", self.horizon)
        check_positive("arrival_price", self.arrival_price)
        check_choice("action_kind", self.action_kind, ACTION_KINDS)
        vol = np.asarray(self.expected_volume_shares, dtype=np.float64)
        if vol.shape != (self.n_steps,) or not np.all(np.isfinite(vol)) or np.any(vol < 0):
            raise ValueError(
                f"expected_volume_shares must be {self.n_steps} finite values >= 0, got {vol!r}"
            )
        vol.setflags(write=False)
        object.__setattr__(self, "expected_volume_shares", vol)
        object.__setattr__(self, "participation_rates", check_participation_rates(self.participation_rates))
        check_int("placement_max_offset_ticks", self.placement_max_offset_ticks, minimum=1)

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell."""
        return side_sign(self.side)

    @property
    def tau(self) -> float:
        """Interval length ``horizon / n_steps`` (``time_unit``)."""
        return self.horizon / self.n_steps

    @property
    def notional(self) -> float:
        """``total_shares * arrival_price`` (currency): the bps denominator."""
        return self.total_shares * self.arrival_price

    @property
    def expected_volume_fraction_cum(self) -> np.ndarray:
        """Cumulative expected-volume fraction at the end of each interval, shape ``(n_steps,)``."""
        vol = self.expected_volume_shares
        total = vol.sum()
        if total <= 0:
            return np.arange(1, self.n_steps + 1) / self.n_steps
        return np.cumsum(vol) / total


def decode_observation(
    task: ExecutionTask, observation: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read the common header of a batch of observations.

    :param observation: shape ``(M, d)`` with ``d >= N_COMMON_FEATURES``.
    :return: ``(step, remaining_shares, last_volume_ratio)``, each shape ``(M,)``: the
        0-based decision step, the shares left to trade, and the last interval's market
        volume relative to its expectation.
    """
    time_left = observation[:, OBS_TIME_LEFT].astype(np.float64)
    step = np.rint((1.0 - time_left) * task.n_steps).astype(np.int64)
    step = np.clip(step, 0, task.n_steps - 1)
    remaining = observation[:, OBS_INVENTORY_LEFT].astype(np.float64) * task.total_shares
    remaining = np.maximum(remaining, 0.0)
    ratio = observation[:, OBS_LAST_VOLUME_RATIO].astype(np.float64)
    return step, remaining, ratio


def _check_not_routing(task: ExecutionTask) -> None:
    if task.action_kind == "routing":
        raise ValueError("a routing task's actions split child orders across venues; they do not convert to "
                         "shares of the parent order (use execgym.baselines.routing for routing policies)")


def action_to_shares(
    task: ExecutionTask, action: np.ndarray, remaining: np.ndarray, step: np.ndarray
) -> np.ndarray:
    """Shares an action trades, for a batch; never more than ``remaining``.

    :param action: ``(M, 1)`` fractions for ``"fraction"``, ``(M,)`` indices for
        ``"participation"``, ``(M, 2)`` (fraction, offset) for ``"placement"`` (already
        validated against the action space).
    :param remaining: shares left, shape ``(M,)``.
    :param step: 0-based decision step, shape ``(M,)``.
    """
    _check_not_routing(task)
    if task.action_kind == "fraction":
        return np.asarray(action, dtype=np.float64).reshape(-1) * remaining
    if task.action_kind == "placement":
        return np.asarray(action, dtype=np.float64).reshape(-1, 2)[:, 0] * remaining
    rates = np.asarray(task.participation_rates)[np.asarray(action, dtype=np.int64).reshape(-1)]
    return np.minimum(rates * task.expected_volume_shares[step], remaining)


def shares_to_action(
    task: ExecutionTask, shares: np.ndarray, remaining: np.ndarray, step: np.ndarray
) -> np.ndarray:
    """The action that trades (as near as the action space allows) ``shares`` this step.

    For ``"fraction"`` this is exact: ``shares / remaining`` as float32, shape ``(M, 1)``.
    For ``"placement"`` it is that fraction with the most aggressive offset ``-K`` (a
    marketable order), shape ``(M, 2)``. For ``"participation"`` it is the index whose
    traded shares are nearest, shape ``(M,)``.
    """
    _check_not_routing(task)
    shares = np.asarray(shares, dtype=np.float64)
    remaining = np.asarray(remaining, dtype=np.float64)
    if task.action_kind in ("fraction", "placement"):
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.clip(np.where(remaining > 0, shares / remaining, 0.0), 0.0, 1.0).astype(np.float32)
        if task.action_kind == "fraction":
            return frac.reshape(-1, 1)
        offset = np.full_like(frac, -float(task.placement_max_offset_ticks))
        return np.stack([frac, offset], axis=1)
    rates = np.asarray(task.participation_rates)
    candidate = np.minimum(
        rates[None, :] * task.expected_volume_shares[step][:, None], remaining[:, None]
    )
    return np.argmin(np.abs(candidate - shares[:, None]), axis=1).astype(np.int64)
