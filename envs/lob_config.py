"""What every LOB execution env shares besides its episode core: the configs, the action
and observation spaces, the action check, the task and the episode summary.

Units: seconds, shares, ticks and bps, as in the field names and docstrings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Mapping

import numpy as np
from gymnasium import spaces

from execgym.envs.contract import (
    ACTION_KINDS,
    BPS,
    ExecutionTask,
    check_participation_rates,
    real_action,
)
from execgym.envs.lob_core import MAX_SPREAD_OBS, N_OBS
from execgym.envs.market.simulation.flow import ImpactConfig
from execgym.envs.market.simulation.simulator import MarketSimulator, SimulatorConfig
from execgym.validation import (
    check_choice,
    check_decision_grid,
    check_field_types,
    check_int,
    check_nonnegative,
    config_from_kwargs,
)

__all__ = ["LOBContractConfig", "LOBExecutionConfig", "check_actions", "default_market", "execution_summary",
           "lob_action_space", "lob_observation_space", "lob_task", "simulated_expected_volume", "volume_arrays"]


def default_market() -> SimulatorConfig:
    """The environment's default market: the simulator's defaults, from the open, with price
    diffusion of 0.3 ticks/sqrt(s) (about 13 bps over the 30-minute default horizon at $100)."""
    return SimulatorConfig(start_of_day_s=0.0, impact=ImpactConfig(sigma_ticks_per_sqrt_s=0.3))


@dataclass(frozen=True)
class LOBContractConfig:
    """The parent order, action and observation parameters every LOB execution env shares
    (seconds, shares, ticks and bps); subclasses add their market.

    :param side: ``"sell"`` or ``"buy"``.
    :param total_shares: parent order (shares, a multiple of the market's lot size).
    :param horizon_s: execution horizon (seconds).
    :param decision_interval_s: time between decisions (seconds); ``horizon_s`` must be a
        whole number of intervals.
    :param action: ``"participation"`` (discrete), ``"fraction"`` (continuous) or
        ``"placement"`` (size and price offset); see :mod:`execgym.envs.contract`.
    :param participation_rates: discrete choices (fractions of the interval's expected volume).
    :param placement_max_offset_ticks: ``K`` of the placement action.
    :param keep_unfilled: placement only: keep the previous unfilled child order when the
        new one has the same price (its size is adjusted, keeping its queue position if
        it shrinks) instead of cancelling it before placing the new one.
    :param risk_penalty_bps: optional risk penalty per step, ``risk_penalty_bps *
        inventory_left_frac^2`` (bps of arrival notional), subtracted from the reward.
    :param unfilled_penalty_bps: shares the book cannot absorb at the horizon are
        charged at this many bps of the arrival price each, in the shortfall.
    :param imbalance_levels: levels per side of the depth-imbalance feature.
    :param volatility_window: decisions in the recent-volatility feature.
    """

    side: str = "sell"
    total_shares: int = 20_000
    horizon_s: float = 1800.0
    decision_interval_s: float = 30.0
    action: str = "fraction"
    participation_rates: tuple[float, ...] = (0.05, 0.10, 0.15, 0.20, 0.25)
    placement_max_offset_ticks: int = 5
    keep_unfilled: bool = False
    risk_penalty_bps: float = 0.0
    unfilled_penalty_bps: float = 100.0
    imbalance_levels: int = 5
    volatility_window: int = 20

    def __post_init__(self) -> None:
        check_field_types(self)
        check_choice("side", self.side, ("buy", "sell"))
        check_int("total_shares", self.total_shares, minimum=1)
        check_decision_grid(self.horizon_s, self.decision_interval_s)
        check_choice("action", self.action, ACTION_KINDS)
        object.__setattr__(self, "participation_rates", check_participation_rates(self.participation_rates))
        check_int("placement_max_offset_ticks", self.placement_max_offset_ticks, minimum=1)
        check_nonnegative("risk_penalty_bps", self.risk_penalty_bps)
        check_nonnegative("unfilled_penalty_bps", self.unfilled_penalty_bps)
        check_int("imbalance_levels", self.imbalance_levels, minimum=1)
        check_int("volatility_window", self.volatility_window, minimum=2)

    @property
    def n_steps(self) -> int:
        """Number of decisions."""
        return int(round(self.horizon_s / self.decision_interval_s))

    @classmethod
    def from_kwargs(cls, config: Any, **overrides: Any) -> Any:
        """A config from an instance, a mapping (e.g. a Hydra node) and/or keyword overrides."""
        return config_from_kwargs(cls, config, overrides, tuple_fields=("participation_rates",))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LOBExecutionConfig(LOBContractConfig):
    """Parameters of ``execgym/LOBExecution-v0``: those of :class:`LOBContractConfig` and the market.

    :param market: the simulated market (a mapping is converted).
    """

    market: SimulatorConfig = field(default_factory=lambda: default_market())

    def __post_init__(self) -> None:
        check_field_types(self)
        super().__post_init__()
        if isinstance(self.market, Mapping):
            object.__setattr__(self, "market", SimulatorConfig.from_mapping(self.market))
        if not isinstance(self.market, SimulatorConfig):
            raise TypeError(f"market must be a SimulatorConfig or a mapping, got {type(self.market).__name__}")
        if self.total_shares % self.market.lot_size:
            raise ValueError(f"total_shares={self.total_shares!r} must be a multiple of lot_size={self.market.lot_size}")


def lob_action_space(config: LOBContractConfig) -> spaces.Space:
    """``Discrete(n rates)`` (participation), ``Box(0, 1, (1,))`` (fraction) or
    ``Box([0, -K], [1, K])`` (placement)."""
    if config.action == "participation":
        return spaces.Discrete(len(config.participation_rates))
    if config.action == "fraction":
        return spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
    k = float(config.placement_max_offset_ticks)
    return spaces.Box(np.array([0.0, -k], np.float32), np.array([1.0, k], np.float32), dtype=np.float32)


def lob_observation_space() -> spaces.Box:
    """The bounds of :data:`~execgym.envs.lob_core.OBS_NAMES`."""
    low = np.array([0, 0, 0, 0, 0, -1, -MAX_SPREAD_OBS / 2, 0, -np.inf, 0, 0], dtype=np.float32)
    high = np.array([1, 1, np.inf, np.inf, MAX_SPREAD_OBS, 1, MAX_SPREAD_OBS / 2, np.inf, np.inf, 1, 1],
                    dtype=np.float32)
    assert low.size == N_OBS
    return spaces.Box(low, high, dtype=np.float32)


def check_actions(config: LOBContractConfig, actions: Any, m: int | None) -> np.ndarray:
    """The actions of ``m`` markets (``None``: one env's single action) as an ``(M, 2)``
    float64 array (column 1: the placement's offset), after checking them: real numbers of
    exactly the documented shape, inside the action space. Raises ``TypeError`` /
    ``ValueError`` naming the value and what was expected (and the env index in a batch)."""
    single = m is None
    if single and type(actions) is np.ndarray and actions.dtype.kind == "f" and config.action != "participation" \
            and actions.shape == ((2,) if config.action == "placement" else (1,)):
        # the common case, checked without the general path: a float array of the right shape
        x = float(actions[0])
        if 0.0 <= x <= 1.0 and (config.action == "fraction" or abs(float(actions[1])) <= config.placement_max_offset_ticks):
            out = np.zeros((1, 2))
            out[0, 0] = x if config.action == "placement" else float(np.float32(x))
            if config.action == "placement":
                out[0, 1] = float(actions[1])
            return out
    n = 1 if single else m
    out = np.zeros((n, 2))

    def refuse(i: int, column: int | None, expected: str) -> None:
        if single:
            what = "action" if column is None else f"action[{column}]"
            raise ValueError(f"{what} must be {expected}, got {actions!r}")
        value = a[i] if column is None else a[i, column]
        what = "actions" if column is None else f"actions[:, {column}]"
        raise ValueError(f"{what} must be {expected}; env {i} got {value!r}")

    if config.action == "participation":
        rates = config.participation_rates
        a = real_action(actions, ((), (1,)) if single else ((m,), (m, 1)), integer=True,
                        name="action" if single else "actions").reshape(-1)
        bad = (a < 0) | (a >= len(rates))
        if bad.any():
            refuse(int(np.flatnonzero(bad)[0]), None, f"an integer index in [0, {len(rates)}) into "
                                                      f"participation_rates {rates}")
        out[:, 0] = a
        return out
    width = 2 if config.action == "placement" else 1
    shapes = ((width,),) if single else (((m, 2),) if width == 2 else ((m, 1), (m,)))  # never a transposed batch
    a = real_action(actions, shapes, name="action" if single else "actions").reshape(n, width)
    bad = ~((a[:, 0] >= 0.0) & (a[:, 0] <= 1.0))
    if bad.any():
        refuse(int(np.flatnonzero(bad)[0]), 0, "a fraction of remaining shares in [0, 1]")
    if width == 2:
        k = config.placement_max_offset_ticks
        bad = ~(np.abs(a[:, 1]) <= k)
        if bad.any():
            refuse(int(np.flatnonzero(bad)[0]), 1, f"an offset in [-{k}, {k}] ticks")
        out[:] = a
    else:
        out[:, 0] = a[:, 0].astype(np.float32)  # the Box is float32: the same rounding in every env
    return out


def simulated_expected_volume(config: LOBExecutionConfig) -> np.ndarray:
    """Expected market volume in each decision interval of the simulated market (shares), ``(n_steps,)``."""
    sim = MarketSimulator(replace(config.market, warmup_s=0.0), np.random.default_rng(0))
    edges = np.arange(config.n_steps + 1) * config.decision_interval_s
    return np.diff([0.0] + [sim.expected_volume_shares(0.0, b) for b in edges[1:]])


def volume_arrays(config: LOBContractConfig, expected_volume_shares: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the episode core reads of the volumes: (participation rates, expected volume per
    interval in shares, each interval's expected volume over the mean with a trailing 0)."""
    expected = np.asarray(expected_volume_shares, dtype=np.float64)
    mean = expected.mean()
    next_ratio = np.append(expected / mean if mean > 0 else np.ones_like(expected), 0.0)
    return np.asarray(config.participation_rates, dtype=np.float64), expected, next_ratio


def lob_task(config: LOBContractConfig, expected_volume_shares: np.ndarray, arrival_ticks: float,
             tick_size: float) -> ExecutionTask:
    """The parent order of a LOB execution env (seconds; arrival price in currency)."""
    return ExecutionTask(
        side=config.side, total_shares=float(config.total_shares), n_steps=config.n_steps, horizon=config.horizon_s,
        time_unit="s", arrival_price=arrival_ticks * tick_size, expected_volume_shares=expected_volume_shares,
        action_kind=config.action, participation_rates=config.participation_rates,
        placement_max_offset_ticks=config.placement_max_offset_ticks, impact_model=None)


def execution_summary(cost, executed, value, market_volume, market_value, unfilled, steps, arrival,
                      total_shares: float, sign: int, tick: float) -> dict[str, np.ndarray]:
    """The episode summary of the LOB environments, from their accumulators (floats or ``(M,)`` arrays).

    Inputs in ticks and shares: ``cost`` (shortfall, tick-shares), ``executed``, ``value``
    (sum of fill size x price), ``market_volume``, ``market_value``, ``unfilled``, ``steps``
    and the ``arrival`` mid. Keys: ``shortfall_usd``, ``shortfall_bps``, ``executed_shares``,
    ``avg_fill_price`` and ``market_vwap`` (currency), ``arrival_price``,
    ``vwap_slippage_bps`` (+ = worse), ``participation`` (own / all traded volume),
    ``mv_cost_usd`` / ``mv_cost_bps`` (NaN: no closed-form variance here), ``n_steps``,
    ``unfilled_at_horizon``.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        avg = np.where(executed > 0, value / executed, np.nan)
        vwap = np.where(market_volume > 0, market_value / market_volume, np.nan)
        return {
            "shortfall_usd": cost * tick,
            "shortfall_bps": cost / (total_shares * arrival) * BPS,
            "executed_shares": executed + 0.0,
            "avg_fill_price": avg * tick,
            "arrival_price": arrival * tick,
            "market_vwap": vwap * tick,
            "vwap_slippage_bps": np.where(executed > 0, sign * (avg - vwap) / vwap * BPS, np.nan),
            "participation": np.where(market_volume > 0, executed / market_volume, np.nan),
            "mv_cost_usd": np.full(np.shape(cost), np.nan),
            "mv_cost_bps": np.full(np.shape(cost), np.nan),
            "n_steps": steps + 0.0,
            "unfilled_at_horizon": unfilled + 0.0,
        }
