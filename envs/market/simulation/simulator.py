"""A single-asset market: the order book, its background flow and impact dynamics, on a clock.

:class:`MarketSimulator` advances time by any step (seconds), generating and matching the
background events of :mod:`execgym.envs.market.simulation.flow`; between steps an agent submits, cancels
and modifies its own orders (owner :data:`AGENT_OWNER`), which match immediately. Each
step returns a :class:`StepReport` of what happened: all trades, the agent's fills, the
traded volume and VWAP, and the book at the end.

Everything random comes from the ``np.random.Generator`` given to the constructor (or to
:meth:`MarketSimulator.reset`): the same seed reproduces the same event stream exactly.
A separate ``diffusion_rng`` may seed the fundamental's diffusion on its own, so that
several markets (venues, :mod:`execgym.envs.market.simulation.venues`) share one fundamental path while their
order flows stay independent.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from execgym.envs.market.simulation import _book_kernels as K
from execgym.envs.market.simulation import flow as F
from execgym.envs.market.simulation.book import FILL_DTYPE, OrderBook
from execgym.envs.market.simulation.flow import FlowConfig, ImpactConfig
from execgym.envs.market.simulation.rng import new_state
from execgym.validation import check_field_types, check_finite, check_int, check_nonnegative, check_positive

logger = logging.getLogger(__name__)

__all__ = ["AGENT_ID_START", "AGENT_OWNER", "BACKGROUND_OWNER", "MarketSimulator", "SimulatorConfig", "StepReport"]

BACKGROUND_OWNER = 0
AGENT_OWNER = 1
AGENT_ID_START = 1 << 50  # agent order ids start here; background ids count up from 1


@dataclass(frozen=True)
class SimulatorConfig:
    """Configuration of :class:`MarketSimulator`.

    :param tick_size: currency per tick.
    :param lot_size: shares per lot.
    :param initial_mid_ticks: the centre price at the start (ticks; a half-integer gives
        a one-tick spread in the steady state).
    :param warmup_s: seconds of background flow run by :meth:`MarketSimulator.reset` before
        time 0 of the session, so the book starts in its steady state (several ``1/rho``).
    :param start_of_day_s: where in the trading session time 0 falls (seconds after the
        open), for the intraday activity profile.
    :param flow: the background flow.
    :param impact: the impact dynamics.
    :param log_events: keep the book's LOBSTER-convention event log.
    :param diffusion_step_s: grid step of the fundamental's exogenous diffusion (s).
    """

    tick_size: float = 0.01
    lot_size: int = 1
    initial_mid_ticks: float = 10_000.5
    warmup_s: float = 300.0
    start_of_day_s: float = 0.0
    flow: FlowConfig = field(default_factory=FlowConfig)
    impact: ImpactConfig = field(default_factory=ImpactConfig)
    log_events: bool = False
    diffusion_step_s: float = 1.0

    def __post_init__(self) -> None:
        check_field_types(self)
        check_positive("tick_size", self.tick_size)
        check_int("lot_size", self.lot_size, minimum=1)
        check_positive("initial_mid_ticks", self.initial_mid_ticks)
        check_nonnegative("warmup_s", self.warmup_s)
        check_nonnegative("start_of_day_s", self.start_of_day_s)
        check_positive("diffusion_step_s", self.diffusion_step_s)
        if isinstance(self.flow, Mapping):
            object.__setattr__(self, "flow", FlowConfig.from_mapping(self.flow))
        if isinstance(self.impact, Mapping):
            object.__setattr__(self, "impact", ImpactConfig(**self.impact))
        if not isinstance(self.flow, FlowConfig) or not isinstance(self.impact, ImpactConfig):
            raise TypeError("flow and impact must be FlowConfig / ImpactConfig instances or mappings")
        if (self.flow.anchor == "opposite_best" and self.flow.latent_frac == 0.0
                and self.impact.propagator_ticks_per_share > 0.0):
            # the propagator moves the centre m, which this anchor reads only for an empty book
            logger.warning("impact.propagator_ticks_per_share=%g has no effect while the book has both sides: "
                           "flow.anchor='opposite_best' places orders from the opposite best, not from the "
                           "centre the propagator moves (use anchor='reference', or flow.latent_frac > 0)",
                           self.impact.propagator_ticks_per_share)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None = None, **overrides: Any) -> SimulatorConfig:
        """A config from a mapping (e.g. a Hydra node) and keyword overrides."""
        merged = {**dict(values or {}), **overrides}
        return cls(**merged)


#: the trades of an interval without any (read-only: every such report shares it)
_NO_TRADES = np.zeros(0, dtype=FILL_DTYPE)
_NO_TRADES.setflags(write=False)


@dataclass(slots=True)
class StepReport:
    """What happened during one :meth:`MarketSimulator.advance`.

    Prices in ticks, sizes in shares, times in seconds. ``trades`` and ``agent_fills``
    are :data:`~execgym.envs.market.simulation.book.FILL_DTYPE` arrays (the agent's fills include its
    passive orders filled by the background flow); ``vwap_ticks`` is NaN without trades;
    ``value_tick_shares`` is the exact traded value (sum of size x price, tick-shares), and
    ``agent_volume_shares`` / ``agent_value_tick_shares`` the same for the agent's fills.
    """

    t_start_s: float
    t_end_s: float
    trades: np.ndarray
    agent_fills: np.ndarray
    volume_shares: int
    vwap_ticks: float
    value_tick_shares: int
    agent_volume_shares: int
    agent_value_tick_shares: int
    n_events: int
    best_bid: int | None
    best_ask: int | None
    mid_ticks: float | None
    reference_ticks: float


class MarketSimulator:
    """Order book + background flow + impact, advanced by time steps.

    :param config: the market's configuration.
    :param rng: the source of every random number.
    :param diffusion_rng: if given, seeds the fundamental's diffusion stream instead of
        ``rng`` (markets given generators with the same seed share the diffusion path).
    """

    def __init__(self, config: SimulatorConfig | None = None, rng: np.random.Generator | None = None,
                 diffusion_rng: np.random.Generator | None = None) -> None:
        self.config = config if config is not None else SimulatorConfig()
        if not isinstance(self.config, SimulatorConfig):
            raise TypeError(f"config must be a SimulatorConfig, got {type(config).__name__}")
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        self._fp, self._cum_w, self._sizes = F.flow_params(self.config.flow, self.config.impact, self.config.lot_size,
                                              self.config.diffusion_step_s)
        self.reset(rng if rng is not None else np.random.default_rng(), diffusion_rng)

    # -- lifecycle -------------------------------------------------------------------------

    def reset(self, rng: np.random.Generator | None = None, diffusion_rng: np.random.Generator | None = None) -> None:
        """Empty the book, restart the clock and run ``warmup_s`` of background flow.

        :param diffusion_rng: seeds the fundamental's diffusion stream (default: ``rng``).
        """
        for name, value in (("rng", rng), ("diffusion_rng", diffusion_rng)):
            if value is not None and not isinstance(value, np.random.Generator):
                raise TypeError(f"{name} must be a numpy.random.Generator, got {type(value).__name__}")
        if rng is not None:
            self.rng = rng
        cfg = self.config
        # two kernel streams: the order flow, and the fundamental's diffusion (its own
        # stream: the same seed, the same path, whatever the agent does)
        self._rs = new_state(self.rng)
        self._rd = new_state(self.rng)
        if diffusion_rng is not None:
            self._rd = new_state(diffusion_rng)
        depth_levels = len(cfg.flow.depth_shares)
        self.book = OrderBook(tick_size=cfg.tick_size, lot_size=cfg.lot_size, n_levels=1 << 14,
                              base_price_ticks=max(1, int(cfg.initial_mid_ticks) - (1 << 13)),
                              capacity=max(1 << 10, 8 * depth_levels * 16), log_events=cfg.log_events,
                              unmapped_below_id=AGENT_ID_START)  # the flow names its orders' slots
        #: the flow's state: a (1,) FLOW_STATE_DTYPE array (the kernels' record is its element)
        self._fs = F.new_flow_state(cfg.start_of_day_s - cfg.warmup_s, cfg.initial_mid_ticks, cfg.diffusion_step_s)
        self._live = np.zeros(F.live_width(self._fp, 1 << 12), dtype=np.int64)
        self._evbuf = np.zeros((1, K.N_E), dtype=np.int64)
        #: the decision interval's times (start, end, clock at its end: s; reference at its end:
        #: ticks) and counts (background events before and after, best bid and ask, volume,
        #: value, the agent's volume and value) as open_interval / close_interval write them
        self._interval_s = np.zeros(4)
        self._interval_n = np.zeros(8, dtype=np.int64)
        self._next_agent_id = AGENT_ID_START
        if cfg.warmup_s > 0:
            self._run_until(cfg.start_of_day_s)
            self.book.take_fills()
        self._t0 = cfg.start_of_day_s

    @property
    def time_s(self) -> float:
        """Seconds since time 0 of the session (negative during warm-up)."""
        return float(self._fs[0]["t_s"]) - self.config.start_of_day_s

    @property
    def reference_ticks(self) -> float:
        """The price the background flow centres on: fundamental + transient (ticks)."""
        return float(self._fs[0]["fund_ticks"] + F.transient_flat(self._fp, self._fs))

    @property
    def fundamental_ticks(self) -> float:
        """The fundamental (permanent-impact and diffusion) part of the reference (ticks)."""
        return float(self._fs[0]["fund_ticks"])

    # -- the clock -------------------------------------------------------------------------

    def _flow_args(self) -> tuple:
        """The flow kernels' arrays (:func:`~execgym.envs.market.simulation.flow.run_flow_flat`'s
        arguments but the end time): each its own allocation, as the kernels require (they are
        compiled on the promise that their arrays do not overlap)."""
        return (self._rs, self._rd, self._fp, self._cum_w, self._sizes, self._fs, self._live, *self.book.arrays,
                self._evbuf)

    def _run_until(self, t_end: float, status: int | None = None) -> None:
        """Run the flow to ``t_end`` (s), making room as it asks (``status``: what a call just
        returned, if one did)."""
        b = self.book
        refused = None
        while True:
            if status is None:
                status = F.run_flow_flat(*self._flow_args(), t_end)
            if status == K.OK:
                return
            if status == F.LIVE_FULL:
                self._live = F.grown_live(self._fp, self._live, b.arrays[2].shape[0])
                status = None
                continue
            try:  # the pending event is the flow's next one: its count does not move until it is applied
                refused = b.make_room_for(int(self._fs[0]["n_bg_events"]), status, self._evbuf[0], refused)
            except ValueError as err:  # pragma: no cover - the flow emits valid events
                raise RuntimeError(f"background flow produced an invalid event: {err}") from err
            if b.arrays[2].shape[0] > F.MAX_LIVE_SLOTS:  # pragma: no cover - millions of resting orders
                raise RuntimeError(f"the book holds {b.arrays[2].shape[0]} order records, more than the flow's live "
                                   f"list can name ({F.MAX_LIVE_SLOTS}): the flow's depth is far beyond a real book's")
            status = None

    def advance(self, dt_s: float) -> StepReport:
        """Run the background flow for ``dt_s`` seconds and report what happened."""
        if not (type(dt_s) is float and 0.0 < dt_s < math.inf):  # the common case without a call
            dt_s = check_positive("dt_s", dt_s)
        book = self.book
        book.take_fills_raw()
        times, counts = self._interval_s, self._interval_n
        status = F.open_interval(*self._flow_args(), dt_s, AGENT_OWNER, times, counts)
        if status == K.OK:  # the kernel closed the interval over the fill buffer, all its fills
            raw = book.take_fills_raw()
        else:
            self._run_until(float(times[1]), status)
            raw = book.take_fills_raw()
            F.close_interval(self._fp, self._fs, book.arrays[0], raw, AGENT_OWNER, times, counts)
        t_start, _, clock, reference = times.tolist()
        n_before, n_after, bid, ask, volume, value, agent_volume, agent_value = counts.tolist()
        if raw.shape[0]:
            trades = np.frombuffer(raw, dtype=FILL_DTYPE)
            agent_fills = trades[(raw[:, K.F_AGG_OWNER] == AGENT_OWNER) | (raw[:, K.F_REST_OWNER] == AGENT_OWNER)] \
                if agent_volume else _NO_TRADES
        else:
            trades = agent_fills = _NO_TRADES
        vwap = value / volume if volume else math.nan
        bid = None if bid < 0 else bid
        ask = None if ask < 0 else ask
        mid = 0.5 * (bid + ask) if bid is not None and ask is not None else None
        t0 = self._t0
        return StepReport(t_start - t0, clock - t0, trades, agent_fills, volume, vwap, value,
                          agent_volume, agent_value, n_after - n_before, bid, ask, mid, reference)

    # -- the agent's orders ----------------------------------------------------------------

    def _agent_id(self) -> int:
        oid = self._next_agent_id
        self._next_agent_id += 1
        return oid

    def _after_agent_trade(self, fills: np.ndarray) -> np.ndarray:
        signed = int((fills["size_shares"] * fills["aggressor_side"]).sum())
        if signed:
            F.apply_impact_flat(self._fs, self._fp, float(signed))
        if self._fp[F.P_CSZ_SPLIT] == 1.0 and len(fills):
            # a background order the agent's trade left partly filled may change its size group
            # (the cancellation by size's split, :func:`~execgym.envs.market.simulation.flow.regroup`)
            sc, lvl, orders = self.book.arrays[:3]
            raw = fills.view(np.int64).reshape(-1, K.N_F)
            while not F.regroup_resting_flat(self._fp, self._fs, self._live, sc, lvl, orders, raw):
                self._live = F.grown_live(self._fp, self._live, orders.shape[0])
        return fills

    @property
    def _time_ns(self) -> int:
        return int(self._fs[0]["t_s"] * 1e9)

    def apply_external_impact(self, signed_shares: float) -> None:
        """Move the reference as aggressive volume traded elsewhere (another venue) would.

        :param signed_shares: shares of aggressive volume, + for buys; the configured
            transient and permanent impact per share apply, as for the agent's own trades.
        """
        signed = check_finite("signed_shares", signed_shares)
        if signed:
            F.apply_impact_flat(self._fs, self._fp, signed)

    def submit_market(self, side: Any, size_shares: int) -> np.ndarray:
        """The agent's market order; returns its fills (walks the book; impact applies)."""
        return self._after_agent_trade(self.book.market(side, size_shares, order_id=self._agent_id(),
                                                        owner=AGENT_OWNER, time_ns=self._time_ns))

    def submit_limit(self, side: Any, price_ticks: int, size_shares: int) -> tuple[int, np.ndarray]:
        """The agent's limit order; returns ``(order_id, fills)``; the remainder rests."""
        oid = self._agent_id()
        fills = self.book.limit(side, price_ticks, size_shares, order_id=oid, owner=AGENT_OWNER, time_ns=self._time_ns)
        return oid, self._after_agent_trade(fills)

    def submit_ioc(self, side: Any, price_ticks: int, size_shares: int) -> np.ndarray:
        """The agent's immediate-or-cancel order; returns its fills."""
        return self._after_agent_trade(self.book.ioc(side, price_ticks, size_shares, order_id=self._agent_id(),
                                                     owner=AGENT_OWNER, time_ns=self._time_ns))

    def cancel(self, order_id: int, size_shares: int | None = None) -> None:
        """Cancel (part of) one of the agent's resting orders."""
        self._check_agent_order(order_id)
        self.book.cancel(order_id, size_shares, time_ns=self._time_ns)

    def modify(self, order_id: int, price_ticks: int | None = None, size_shares: int | None = None) -> np.ndarray:
        """Modify one of the agent's resting orders (priority rules of :meth:`OrderBook.modify`)."""
        self._check_agent_order(order_id)
        return self._after_agent_trade(self.book.modify(order_id, price_ticks, size_shares, time_ns=self._time_ns))

    def _check_agent_order(self, order_id: int) -> None:
        if order_id not in self.book or self.book.order(order_id).owner != AGENT_OWNER:
            raise ValueError(f"order_id {order_id!r} is not a resting order of the agent")

    def expected_volume_shares(self, t0_s: float, t1_s: float) -> float:
        """Expected background traded volume between two session times (shares).

        Market orders are the traded volume (marketable limit orders are rare in steady
        state); their rate follows the intraday profile.
        """
        if t1_s <= t0_s:
            raise ValueError(f"need t1_s > t0_s, got {t0_s!r}, {t1_s!r}")
        flow = self.config.flow
        per_s = flow.expected_volume_per_s()
        prof = flow.intraday
        if prof is None:
            return per_s * (t1_s - t0_s)
        day = flow.session_s
        frac = prof.cumulative_fraction(np.array([t0_s, t1_s]) / day + self.config.start_of_day_s / day)
        return float(per_s * day * (frac[1] - frac[0]))
