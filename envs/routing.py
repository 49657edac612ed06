"""Smart order routing, ``execgym/SmartOrderRouting-v0``: split each child order across venues.

A parent order is worked on a fixed schedule of marketable child orders over several
venues (:mod:`execgym.envs.market.simulation.venues`); the agent decides only how each child is split.
Everything the routers of :mod:`execgym.baselines.routing` know comes from the observation,
decoded by :func:`decode_routing_observation`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from execgym.envs.contract import BPS, N_COMMON_FEATURES, ExecutionTask, real_action, side_sign
from execgym.envs.lob_execution import execution_summary
from execgym.envs.market.simulation.venues import VenueMarket, VenueMarketConfig
from execgym.envs.rendering import RENDER_METADATA, RenderMixin, check_render_mode
from execgym.validation import (
    check_choice,
    check_decision_grid,
    check_field_types,
    check_int,
    check_nonnegative,
    config_from_kwargs,
)

logger = logging.getLogger(__name__)

__all__ = ["MAX_OFFSET_BPS", "RoutingConfig", "RoutingView", "SmartOrderRoutingEnv", "decode_routing_observation",
           "split_shares"]

#: price offset (bps) reported for a level absent from a venue's book
MAX_OFFSET_BPS = 100.0
OBS_CHILD, OBS_SPREAD, OBS_MID_MOVE = N_COMMON_FEATURES, N_COMMON_FEATURES + 1, N_COMMON_FEATURES + 2
N_GLOBAL = OBS_MID_MOVE + 1


@dataclass(frozen=True)
class RoutingConfig:
    """Parameters of ``execgym/SmartOrderRouting-v0``: seconds, shares, USD and bps.

    :param side: ``"buy"`` or ``"sell"``.
    :param total_shares: the parent order (shares).
    :param horizon_s: execution horizon (s); a whole number of decision intervals.
    :param decision_interval_s: time between child orders (s); longer than every latency.
    :param n_levels: book levels per venue in the observation (1 to 100).
    :param limit_slippage_bps: each slice is an IOC limited to the decision-time NBBO far
        touch plus (buy) or minus (sell) this many bps of the arrival mid.
    :param unfilled_penalty_bps: shares still unfilled after the last child are charged
        this many bps of the arrival mid each (an urgent clean-up elsewhere).
    :param reward: ``"arrival"``: minus the all-in shortfall against the arrival mid;
        ``"decision_mid"``: minus the routing cost, each child measured against the NBBO
        mid when it was routed (the market's drift left out, which the split changes only
        through shares that fail to fill and roll over: a less noisy signal for learning). See :class:`SmartOrderRoutingEnv`.
    :param market: the venues (a mapping is converted).
    """

    side: str = "buy"
    total_shares: int = 48_000
    horizon_s: float = 600.0
    decision_interval_s: float = 30.0
    n_levels: int = 3
    limit_slippage_bps: float = 5.0
    unfilled_penalty_bps: float = 25.0
    reward: str = "arrival"
    market: VenueMarketConfig = field(default_factory=VenueMarketConfig)

    def __post_init__(self) -> None:
        check_field_types(self)
        check_choice("side", self.side, ("buy", "sell"))
        check_int("total_shares", self.total_shares, minimum=1)
        check_decision_grid(self.horizon_s, self.decision_interval_s)
        if check_int("n_levels", self.n_levels, minimum=1) > 100:
            raise ValueError(f"n_levels must be <= 100 book levels per venue, got {self.n_levels!r}")
        check_nonnegative("limit_slippage_bps", self.limit_slippage_bps)
        check_nonnegative("unfilled_penalty_bps", self.unfilled_penalty_bps)
        check_choice("reward", self.reward, ("arrival", "decision_mid"))
        if isinstance(self.market, Mapping):
            object.__setattr__(self, "market", VenueMarketConfig.from_mapping(self.market))
        if not isinstance(self.market, VenueMarketConfig):
            raise TypeError(f"market must be a VenueMarketConfig or a mapping, got {type(self.market).__name__}")
        slowest = max(v.latency_s for v in self.market.venues)
        if slowest >= self.decision_interval_s:
            raise ValueError(f"decision_interval_s={self.decision_interval_s!r} must exceed every venue's "
                             f"latency_s (largest {slowest!r})")

    @property
    def n_steps(self) -> int:
        return int(round(self.horizon_s / self.decision_interval_s))

    @property
    def n_venues(self) -> int:
        return len(self.market.venues)

    @property
    def nominal_child_shares(self) -> float:
        """``total_shares / n_steps``: the unit of the observation's sizes."""
        return self.total_shares / self.n_steps

    @classmethod
    def from_kwargs(cls, config: RoutingConfig | Mapping[str, Any] | None, **overrides: Any) -> RoutingConfig:
        """A config from an instance, a mapping (e.g. a Hydra node) and/or keyword overrides."""
        return config_from_kwargs(cls, config, overrides)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RoutingView(NamedTuple):
    """A batch of routing observations, decoded (``M`` observations, ``K`` venues, ``L`` levels).

    ``child`` ``(M,)``: this step's child order in nominal children; ``offset_bps``
    ``(M, K, L)``: each level's price beyond the NBBO far touch (bps of arrival mid, >= 0,
    side-adjusted: worse for the order is larger); ``size`` ``(M, K, L)``: shares at the
    level in nominal children; ``fee_bps`` ``(M, K)``: taker fee; ``latency_frac``
    ``(M, K)``: latency / decision interval.
    """

    child: np.ndarray
    offset_bps: np.ndarray
    size: np.ndarray
    fee_bps: np.ndarray
    latency_frac: np.ndarray


def decode_routing_observation(observation: np.ndarray, n_venues: int, n_levels: int) -> RoutingView:
    """Split a batch of observations ``(M, d)`` of :class:`SmartOrderRoutingEnv` into a :class:`RoutingView`."""
    obs = np.asarray(observation, dtype=np.float64)
    obs = obs.reshape(1, -1) if obs.ndim == 1 else obs
    block = 2 * n_levels + 2
    if obs.shape[1] != N_GLOBAL + n_venues * block:
        raise ValueError(f"observation has {obs.shape[1]} features; {n_venues} venues with {n_levels} levels "
                         f"need {N_GLOBAL + n_venues * block}")
    venues = obs[:, N_GLOBAL:].reshape(len(obs), n_venues, block)
    return RoutingView(obs[:, OBS_CHILD], venues[:, :, :n_levels], venues[:, :, n_levels:2 * n_levels],
                       venues[:, :, 2 * n_levels], venues[:, :, 2 * n_levels + 1])


def split_shares(weights: np.ndarray, shares: int) -> np.ndarray:
    """Integer shares per venue in proportion to ``weights`` (>= 0), summing to ``shares``.

    Weights are normalised by their sum (all zero: equal weights); the rounding is by
    largest remainder, ties to the lower index.
    """
    w = np.clip(np.asarray(weights, dtype=np.float64), 0.0, None)
    total = w.sum()
    w = w / total if total > 0 else np.full(len(w), 1.0 / len(w))
    exact = w * shares
    out = np.floor(exact).astype(np.int64)
    short = shares - int(out.sum())
    if short > 0:
        out[np.argsort(-(exact - out), kind="stable")[:short]] += 1
    return out


class SmartOrderRoutingEnv(RenderMixin, gym.Env):
    """Route the child orders of a parent order across venues with different fees and latencies.

    The parent order (``total_shares``, ``side``) is worked in ``n_steps`` marketable child
    orders, one every ``decision_interval_s``: child ``k`` is the remaining shares divided
    by the decisions left (TWAP on what is left; a shortfall rolls into later children).
    The agent splits each child across the ``K`` venues; each slice is an
    immediate-or-cancel order limited to the decision-time NBBO far touch +/-
    ``limit_slippage_bps``, arriving after its venue's latency while the books move
    (:meth:`execgym.envs.market.simulation.venues.VenueMarket.route`). Taker fees are charged per share filled.

    Action space: ``Box(0, 1, (K,), float32)``: split weights over venues. They are
    normalised by their sum (all zero: an equal split) and turned into integer shares by
    largest remainder (:func:`split_shares`).

    Observation space: ``Box(shape=(7 + K (2L + 2),), float32)``, sizes in nominal
    children (``total_shares / n_steps`` shares), prices in bps of the arrival NBBO mid:

    ===========  ===========================  =============================================  ==========
    idx          name                         unit                                           range
    ===========  ===========================  =============================================  ==========
    0            ``time_left_frac``           decisions left / ``n_steps``                   [0, 1]
    1            ``inventory_left_frac``      shares left / ``total_shares``                 [0, 1]
    2            ``last_volume_ratio``        last interval's volume (all venues) / expected [0, inf)
    3            ``next_volume_ratio``        1 (flat schedule)                              {1}
    4            ``child_size``               this step's child / nominal child              [0, inf)
    5            ``nbbo_spread_bps``          NBBO ask - bid (100 if one side is empty)      [-100, 100]
    6            ``nbbo_mid_move_bps``        NBBO mid - arrival mid                         (-inf, inf)
    7 + b k + l  ``offset_bps[k, l]``         venue k's level l beyond the NBBO far touch,   [0, 100]
                                              worse for the order positive (100: absent)
    .. + L       ``size[k, l]``               shares at that level / nominal child           [0, inf)
    .. + 2L      ``taker_fee_bps[k]``         taker fee / arrival mid                        (-inf, inf)
    .. + 2L + 1  ``latency_frac[k]``          latency / ``decision_interval_s``              [0, 1)
    ===========  ===========================  =============================================  ==========

    (``b = 2L + 2`` features per venue; :func:`decode_routing_observation` reads them.)

    Reward (``reward="arrival"``, the default): minus the step's all-in shortfall against
    the arrival NBBO mid, in bps of arrival notional: ``(side * (fill value - filled *
    arrival) + taker fees) / (X * arrival) * 1e4``; after the last child, shares still
    unfilled cost ``unfilled_penalty_bps`` each. The rewards of an episode sum to minus its
    all-in shortfall (latency slippage included, since fills happen on the moved books).
    With ``reward="decision_mid"`` each child is measured against the NBBO mid at its
    decision instead of the arrival mid; the rewards then sum to minus the routing cost
    (``info["execution"]["routing_cost_bps"]``), which is the shortfall less
    ``side * (decision mid - arrival) * filled`` summed over children. The market's drift
    is the same whatever the split (the agent's impact reaches every venue alike) except
    through shares that fail to fill and roll over, so for a router this is nearly the
    same objective with much less noise.

    Episode end: terminated when the order is complete or after the last child; no
    truncation.

    ``info`` every step: ``routed_shares``, ``filled_shares``, ``value_usd`` (fill price x
    size), ``fees_usd``, ``latency_slippage_usd`` (per venue, lists), ``child_shares``,
    ``holdings``, ``decision_mid_usd``, ``cum_shortfall_bps``; at the end ``info["execution"]``: the
    keys of :func:`execgym.envs.lob_execution.execution_summary` (shortfall incl. fees and the
    penalty) plus ``fees_usd``, ``fees_bps``, ``latency_slippage_bps``, ``routing_cost_bps``
    and ``fill_rate`` (shares filled by routed slices / ``total_shares``).
    """

    metadata = dict(RENDER_METADATA)

    def __init__(self, config: RoutingConfig | Mapping[str, Any] | None = None, render_mode: str | None = None,
                 **overrides: Any) -> None:
        super().__init__()
        self.render_mode = check_render_mode(render_mode)
        self.config = RoutingConfig.from_kwargs(config, **overrides)
        cfg = self.config
        self.sign = side_sign(cfg.side)
        K, L = cfg.n_venues, cfg.n_levels
        self.action_space = spaces.Box(0.0, 1.0, shape=(K,), dtype=np.float32)
        venue_low = np.concatenate([np.zeros(L), np.zeros(L), [-np.inf, 0.0]])
        venue_high = np.concatenate([np.full(L, MAX_OFFSET_BPS), np.full(L, np.inf), [np.inf, 1.0]])
        low = np.concatenate([[0, 0, 0, 0, 0, -MAX_OFFSET_BPS, -np.inf], np.tile(venue_low, K)]).astype(np.float32)
        high = np.concatenate([[1, 1, np.inf, np.inf, np.inf, MAX_OFFSET_BPS, np.inf],
                               np.tile(venue_high, K)]).astype(np.float32)
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self._market: VenueMarket | None = None
        self._expected_volume: np.ndarray | None = None
        self._arrival = cfg.market.initial_mid_usd

    @property
    def task(self) -> ExecutionTask:
        """The parent order (action kind ``"routing"``: the schedule is fixed)."""
        cfg = self.config
        if self._expected_volume is None:
            per_s = sum(cfg.market.flow.expected_volume_per_s() * v.liquidity_scale for v in cfg.market.venues)
            self._expected_volume = np.full(cfg.n_steps, per_s * cfg.decision_interval_s)
        return ExecutionTask(side=cfg.side, total_shares=float(cfg.total_shares), n_steps=cfg.n_steps,
                             horizon=cfg.horizon_s, time_unit="s", arrival_price=self._arrival,
                             expected_volume_shares=self._expected_volume, action_kind="routing")

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        cfg = self.config
        market_rng = np.random.default_rng(self.np_random.integers(0, 2**63 - 1))
        if self._market is None:
            self._market = VenueMarket(cfg.market, market_rng)
        else:
            self._market.reset(market_rng)
        bid, _, ask, _ = self._market.nbbo()
        self._arrival = 0.5 * (bid + ask) if math.isfinite(bid + ask) else float(np.mean(self._market.fundamental_usd()))
        self._expected = self.task.expected_volume_shares
        self._step = 0
        self._holdings = int(cfg.total_shares)
        self._last_fill = math.nan
        self._last_volume_ratio = 1.0
        self._acc = dict.fromkeys(("cost", "routing_cost", "executed", "value", "market_volume", "market_value", "fees",
                                   "latency"), 0.0)
        self._unfilled = 0
        return self._observation(), {}

    def _child_shares(self) -> int:
        left = self.config.n_steps - self._step
        return int(math.ceil(self._holdings / left)) if left > 0 else 0

    def _observation(self) -> np.ndarray:
        cfg, m = self.config, self._market
        unit = cfg.nominal_child_shares
        bid, _, ask, _ = m.nbbo()
        far = ask if self.sign > 0 else bid
        prices, sizes = m.ladder("ask" if self.sign > 0 else "bid", cfg.n_levels)
        with np.errstate(invalid="ignore"):
            offset = self.sign * (prices - far) / self._arrival * BPS
        offset = np.clip(np.nan_to_num(offset, nan=MAX_OFFSET_BPS), 0.0, MAX_OFFSET_BPS)
        fee_bps = m.taker_fee_usd / self._arrival * BPS
        latency = m.latency_s / cfg.decision_interval_s
        venues = np.concatenate([offset, sizes / unit, fee_bps[:, None], latency[:, None]], axis=1)
        if math.isfinite(bid + ask):
            spread = (ask - bid) / self._arrival * BPS
            mid_move = (0.5 * (bid + ask) - self._arrival) / self._arrival * BPS
        else:
            spread, mid_move = MAX_OFFSET_BPS, 0.0
        head = [(cfg.n_steps - self._step) / cfg.n_steps, self._holdings / cfg.total_shares, self._last_volume_ratio,
                1.0, self._child_shares() / unit, float(np.clip(spread, -MAX_OFFSET_BPS, MAX_OFFSET_BPS)), mid_move]
        return np.concatenate([head, venues.reshape(-1)]).astype(np.float32)

    def _validate_action(self, action: Any) -> np.ndarray:
        K = self.config.n_venues
        a = real_action(action, ((K,),), name="action (split weights in [0, 1], one per venue)")
        if not np.all(np.isfinite(a)) or np.any(a < 0) or np.any(a > 1):
            raise ValueError(f"action must be {K} split weights in [0, 1] (one per venue), got {action!r}")
        return a

    def _render_state(self) -> dict[str, Any]:
        cfg = self.config
        step = self._step if self._market is not None else None
        spread = "-"
        if step is not None:
            bid, _, ask, _ = self._market.nbbo()
            spread = f"{ask - bid:.4f} USD (NBBO)" if math.isfinite(bid + ask) else "one side empty"
        return dict(step=step, n_steps=cfg.n_steps, time_left=f"{(cfg.n_steps - (step or 0)) * cfg.decision_interval_s:g} s",
                    holdings_shares=self._holdings if step is not None else cfg.total_shares,
                    total_shares=cfg.total_shares, side=cfg.side, last_fill=getattr(self, "_last_fill", math.nan),
                    spread=spread)

    def step(self, action: Any):
        if self._market is None:
            raise RuntimeError("call reset() before step()")
        cfg = self.config
        if self._step >= cfg.n_steps or self._holdings <= 0:
            raise RuntimeError("the episode has ended; call reset()")
        weights = self._validate_action(action)
        m = self._market
        child = self._child_shares()
        sizes = split_shares(weights, child)
        bid, _, ask, _ = m.nbbo()
        far = ask if self.sign > 0 else bid
        if not math.isfinite(far):
            far = self._arrival
        decision_mid = 0.5 * (bid + ask) if math.isfinite(bid + ask) else self._arrival
        limit = far + self.sign * cfg.limit_slippage_bps / BPS * self._arrival
        r = m.route(cfg.side, sizes, limit, cfg.decision_interval_s)
        executed, value, fees = float(r.filled_shares.sum()), float(r.value_usd.sum()), float(r.fees_usd.sum())
        cost = self.sign * (value - executed * self._arrival) + fees
        routing_cost = self.sign * (value - executed * decision_mid) + fees
        self._holdings -= int(executed)
        self._last_fill = value / executed if executed else math.nan
        self._step += 1
        acc = self._acc
        for key, x in (("executed", executed), ("value", value), ("fees", fees),
                       ("market_volume", r.market_volume_shares.sum()), ("market_value", r.market_value_usd.sum()),
                       ("latency", r.latency_slippage_usd.sum())):
            acc[key] += float(x)
        terminated = self._holdings <= 0 or self._step == cfg.n_steps
        if terminated and self._holdings > 0:
            self._unfilled = self._holdings
            penalty = self._unfilled * self._arrival * cfg.unfilled_penalty_bps / BPS
            cost += penalty
            routing_cost += penalty
        acc["cost"] += cost
        acc["routing_cost"] += routing_cost
        notional = cfg.total_shares * self._arrival
        volume = float(r.market_volume_shares.sum())
        expected = self._expected[self._step - 1]
        self._last_volume_ratio = volume / expected if expected > 0 else 1.0
        info: dict[str, Any] = {
            "step": self._step - 1, "child_shares": child, "holdings": float(self._holdings),
            "decision_mid_usd": decision_mid,
            "routed_shares": sizes.tolist(), "filled_shares": r.filled_shares.tolist(), "value_usd": r.value_usd.tolist(),
            "fees_usd": r.fees_usd.tolist(), "latency_slippage_usd": r.latency_slippage_usd.tolist(),
            "cum_shortfall_bps": acc["cost"] / notional * BPS,
        }
        if terminated:
            info["execution"] = self._summary()
        reward = -(cost if cfg.reward == "arrival" else routing_cost) / notional * BPS
        return self._observation(), float(reward), terminated, False, info

    def _summary(self) -> dict[str, float]:
        cfg, acc = self.config, self._acc
        notional = cfg.total_shares * self._arrival
        summary = execution_summary(
            np.float64(acc["cost"]), np.float64(acc["executed"]), np.float64(acc["value"]),
            np.float64(acc["market_volume"]), np.float64(acc["market_value"]), np.float64(self._unfilled),
            np.float64(self._step), np.float64(self._arrival), cfg.total_shares, self.sign, 1.0)
        out = {key: float(value) for key, value in summary.items()}
        out |= {"fees_usd": acc["fees"], "fees_bps": acc["fees"] / notional * BPS,
                "latency_slippage_bps": acc["latency"] / notional * BPS,
                "routing_cost_bps": acc["routing_cost"] / notional * BPS,
                "fill_rate": acc["executed"] / cfg.total_shares}
        return out
