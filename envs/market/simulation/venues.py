"""Several venues trading one asset: fragmented order books, a consolidated quote, routing.

Each venue is a :class:`~execgym.envs.market.simulation.simulator.MarketSimulator` with its own tick size
(USD), fee schedule (taker fee and maker rebate, USD per share), latency (seconds between
the router's decision and the order's arrival) and liquidity (a multiple of the base
flow's depth profile and market-order rate). The venues share one fundamental price:

* the exogenous diffusion of every venue is drawn from one shared seed, and its size is
  set in USD (``sigma_usd_per_sqrt_s``) and converted to each venue's ticks, so all
  venues see the same USD path of the fundamental, while their order flows are
  independent;
* the agent's aggressive volume on one venue moves the reference price of every venue
  (:meth:`MarketSimulator.apply_external_impact`), with impact set in USD per share: the
  rest of the market learns of the trade. Background trades stay local to their venue.

:meth:`VenueMarket.route` sends a marketable child order split across venues: every
venue's slice is an immediate-or-cancel order at a limit price fixed at decision time,
and arrives after that venue's latency. All venues run on one clock: the market advances
to each arrival time in turn (latency order), so a slower venue's book moves, and feels
the impact of the faster venues' fills, before its slice arrives.

The consolidated view (:meth:`VenueMarket.nbbo`) is the best bid and ask over venues
(USD), as a national best bid and offer.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

import numpy as np

from execgym.envs.market.simulation.flow import FlowConfig, ImpactConfig
from execgym.envs.market.simulation.simulator import MarketSimulator, SimulatorConfig
from execgym.validation import (
    check_choice,
    check_field_types,
    check_finite,
    check_int,
    check_nonnegative,
    check_positive,
)

logger = logging.getLogger(__name__)

__all__ = ["RouteReport", "VenueConfig", "VenueMarket", "VenueMarketConfig", "default_venues"]


@dataclass(frozen=True)
class VenueConfig:
    """One venue.

    :param name: a label.
    :param tick_size_usd: price increment (USD).
    :param taker_fee_usd_per_share: paid per share of a marketable order (negative: a
        rebate to takers, as on an inverted venue).
    :param maker_rebate_usd_per_share: received per share of a resting order filled
        (negative: a maker fee). Marketable routing does not earn it; the Cont-Kukanov
        placement model (:mod:`execgym.baselines.cont_kukanov`) does.
    :param latency_s: seconds from the routing decision to the order's arrival.
    :param liquidity_scale: multiple of the base flow's depth profile and market-order
        rate (> 0).
    """

    name: str
    tick_size_usd: float = 0.01
    taker_fee_usd_per_share: float = 0.003
    maker_rebate_usd_per_share: float = 0.002
    latency_s: float = 0.0
    liquidity_scale: float = 1.0

    def __post_init__(self) -> None:
        check_field_types(self)
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        check_positive("tick_size_usd", self.tick_size_usd)
        check_finite("taker_fee_usd_per_share", self.taker_fee_usd_per_share)
        check_finite("maker_rebate_usd_per_share", self.maker_rebate_usd_per_share)
        check_nonnegative("latency_s", self.latency_s)
        check_positive("liquidity_scale", self.liquidity_scale)


def default_venues() -> tuple[VenueConfig, ...]:
    """Three stylised venues: a deep, fast, expensive primary; a thin inverted venue that
    pays takers; a deep, slow, cheap venue with a two-cent tick. Latencies are seconds,
    not microseconds, so that the simulated book (about one event per second per level)
    moves meanwhile."""
    return (
        VenueConfig("primary", tick_size_usd=0.01, taker_fee_usd_per_share=0.0030,
                    maker_rebate_usd_per_share=0.0020, latency_s=0.2, liquidity_scale=1.0),
        VenueConfig("inverted", tick_size_usd=0.01, taker_fee_usd_per_share=-0.0010,
                    maker_rebate_usd_per_share=-0.0015, latency_s=0.5, liquidity_scale=0.3),
        VenueConfig("slow_wide", tick_size_usd=0.02, taker_fee_usd_per_share=0.0005,
                    maker_rebate_usd_per_share=0.0, latency_s=2.0, liquidity_scale=1.5),
    )


@dataclass(frozen=True)
class VenueMarketConfig:
    """The venues and the shared fundamental. Prices in USD, sizes in shares, times in s.

    :param venues: the venues (names unique).
    :param initial_mid_usd: the fundamental at the start.
    :param sigma_usd_per_sqrt_s: exogenous diffusion of the fundamental.
    :param transient_usd_per_share: transient impact of aggressive volume (decays at the
        venue's resilience), applied at every venue for the agent's trades.
    :param permanent_usd_per_share: permanent impact, likewise.
    :param flow: the base background flow of a venue with ``liquidity_scale = 1``; its
        depth profile is in shares per tick of distance in the venue's own ticks.
    :param warmup_s: seconds of flow before time 0, so the books start in steady state.
    :param start_of_day_s: where time 0 falls in the session (intraday profile).
    :param diffusion_step_s: grid step of the fundamental's diffusion.
    """

    venues: tuple[VenueConfig, ...] = field(default_factory=default_venues)
    initial_mid_usd: float = 100.005
    sigma_usd_per_sqrt_s: float = 0.003
    transient_usd_per_share: float = 2e-6
    permanent_usd_per_share: float = 5e-7
    flow: FlowConfig = field(default_factory=FlowConfig)
    warmup_s: float = 300.0
    start_of_day_s: float = 0.0
    diffusion_step_s: float = 1.0

    def __post_init__(self) -> None:
        check_field_types(self)
        venues = tuple(VenueConfig(**v) if isinstance(v, Mapping) else v for v in self.venues)
        if not venues:
            raise ValueError("venues must list at least one venue")
        for i, v in enumerate(venues):
            if not isinstance(v, VenueConfig):
                raise TypeError(f"venues[{i}] must be a VenueConfig or a mapping, got {type(v).__name__}")
        names = [v.name for v in venues]
        if len(set(names)) != len(names):
            raise ValueError(f"venue names must be unique, got {names}")
        object.__setattr__(self, "venues", venues)
        check_positive("initial_mid_usd", self.initial_mid_usd)
        check_nonnegative("sigma_usd_per_sqrt_s", self.sigma_usd_per_sqrt_s)
        check_nonnegative("transient_usd_per_share", self.transient_usd_per_share)
        check_nonnegative("permanent_usd_per_share", self.permanent_usd_per_share)
        if isinstance(self.flow, Mapping):
            object.__setattr__(self, "flow", FlowConfig.from_mapping(self.flow))
        if not isinstance(self.flow, FlowConfig):
            raise TypeError(f"flow must be a FlowConfig or a mapping, got {type(self.flow).__name__}")
        check_nonnegative("warmup_s", self.warmup_s)
        check_nonnegative("start_of_day_s", self.start_of_day_s)
        check_positive("diffusion_step_s", self.diffusion_step_s)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> VenueMarketConfig:
        values = dict(values or {})
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise TypeError(f"unknown VenueMarketConfig parameter(s) {unknown}")
        if "venues" in values:
            values["venues"] = tuple(values["venues"])
        return cls(**values)

    def simulator_config(self, i: int) -> SimulatorConfig:
        """The simulator of venue ``i``: USD quantities converted to its ticks, flow scaled."""
        v = self.venues[i]
        tick = v.tick_size_usd
        base = self.flow
        flow = FlowConfig(**{f.name: getattr(base, f.name) for f in fields(FlowConfig)} | {
            "depth_shares": tuple(d * v.liquidity_scale for d in base.depth_shares),
            "depth_sell_shares": tuple(d * v.liquidity_scale for d in base.depth_sell_shares),
            "market_rate_per_s": base.market_rate_per_s * v.liquidity_scale})
        impact = ImpactConfig(transient_ticks_per_share=self.transient_usd_per_share / tick,
                              permanent_ticks_per_share=self.permanent_usd_per_share / tick,
                              sigma_ticks_per_sqrt_s=self.sigma_usd_per_sqrt_s / tick)
        return SimulatorConfig(tick_size=tick, initial_mid_ticks=self.initial_mid_usd / tick, warmup_s=self.warmup_s,
                               start_of_day_s=self.start_of_day_s, flow=flow, impact=impact,
                               diffusion_step_s=self.diffusion_step_s)


@dataclass
class RouteReport:
    """One routed child order, per venue (arrays of shape ``(K,)``; USD and shares).

    ``filled_shares``, ``value_usd`` (sum of fill price x size), ``fees_usd`` (taker fees
    paid, negative for rebates), ``touch_at_decision_usd`` / ``touch_at_arrival_usd``
    (the far touch, best ask for a buy, when the router decided and when the slice
    arrived; NaN if that side was empty), ``latency_slippage_usd`` (``side *
    (arrival touch - decision touch) * filled``: what the book's move during the latency
    cost on the filled shares), ``market_volume_shares`` (every share traded at the venue
    during the interval, the agent's included) and ``market_value_usd``.
    """

    filled_shares: np.ndarray
    value_usd: np.ndarray
    fees_usd: np.ndarray
    touch_at_decision_usd: np.ndarray
    touch_at_arrival_usd: np.ndarray
    latency_slippage_usd: np.ndarray
    market_volume_shares: np.ndarray
    market_value_usd: np.ndarray


class VenueMarket:
    """The venues of a :class:`VenueMarketConfig`, on one clock.

    :param config: the venues and the fundamental.
    :param rng: seeds every venue (one shared diffusion seed, one flow seed per venue).
    """

    def __init__(self, config: VenueMarketConfig | None = None, rng: np.random.Generator | None = None) -> None:
        self.config = config if config is not None else VenueMarketConfig()
        if not isinstance(self.config, VenueMarketConfig):
            raise TypeError(f"config must be a VenueMarketConfig, got {type(config).__name__}")
        cfg = self.config
        self.n_venues = len(cfg.venues)
        self.names = tuple(v.name for v in cfg.venues)
        self.tick_size_usd = np.array([v.tick_size_usd for v in cfg.venues])
        self.taker_fee_usd = np.array([v.taker_fee_usd_per_share for v in cfg.venues])
        self.maker_rebate_usd = np.array([v.maker_rebate_usd_per_share for v in cfg.venues])
        self.latency_s = np.array([v.latency_s for v in cfg.venues])
        self._sim_configs = [cfg.simulator_config(i) for i in range(self.n_venues)]
        self.sims: list[MarketSimulator] = []
        self.reset(rng if rng is not None else np.random.default_rng())

    def reset(self, rng: np.random.Generator) -> None:
        """Restart every venue: shared diffusion seed, independent flow seeds, warm-up."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        seeds = rng.integers(0, 2**63 - 1, size=self.n_venues + 1)
        diffusion = int(seeds[0])
        if not self.sims:
            self.sims = [MarketSimulator(c, np.random.default_rng(int(s)), np.random.default_rng(diffusion))
                         for c, s in zip(self._sim_configs, seeds[1:])]
        else:
            for sim, s in zip(self.sims, seeds[1:]):
                sim.reset(np.random.default_rng(int(s)), np.random.default_rng(diffusion))

    @property
    def time_s(self) -> float:
        """Seconds since time 0 (all venues share the clock)."""
        return self.sims[0].time_s

    def fundamental_usd(self) -> np.ndarray:
        """Each venue's fundamental in USD, shape ``(K,)`` (equal up to the venues' own
        background impact)."""
        return np.array([s.fundamental_ticks for s in self.sims]) * self.tick_size_usd

    def ladder(self, book_side: str, n_levels: int) -> tuple[np.ndarray, np.ndarray]:
        """The top ``n_levels`` of one side of every venue's book.

        :param book_side: ``"ask"`` or ``"bid"``.
        :return: ``(prices_usd, sizes_shares)``, each ``(K, n_levels)``, best first;
            absent levels have price NaN and size 0.
        """
        check_choice("book_side", book_side, ("ask", "bid"))
        n_levels = check_int("n_levels", n_levels, minimum=1)
        prices = np.full((self.n_venues, n_levels), np.nan)
        sizes = np.zeros((self.n_venues, n_levels))
        for k, sim in enumerate(self.sims):
            bid_p, bid_s, ask_p, ask_s = sim.book.depth(n_levels)
            p, s = (ask_p, ask_s) if book_side == "ask" else (bid_p, bid_s)
            present = s > 0
            prices[k, present] = p[present] * self.tick_size_usd[k]
            sizes[k] = s
        return prices, sizes

    def nbbo(self) -> tuple[float, float, float, float]:
        """``(bid_usd, bid_size_shares, ask_usd, ask_size_shares)`` across venues; sizes
        add up over the venues quoting the best price; NaN and 0 when no venue quotes."""
        bids, bid_sizes = self.ladder("bid", 1)
        asks, ask_sizes = self.ladder("ask", 1)
        out = []
        for prices, sizes, best in ((bids[:, 0], bid_sizes[:, 0], np.nanmax), (asks[:, 0], ask_sizes[:, 0], np.nanmin)):
            if np.all(np.isnan(prices)):
                out += [math.nan, 0.0]
                continue
            p = float(best(prices))
            out += [p, float(sizes[np.isclose(prices, p, rtol=0.0, atol=1e-9)].sum())]
        return out[0], out[1], out[2], out[3]

    def _far_touch(self, sign: int) -> np.ndarray:
        prices, _ = self.ladder("ask" if sign > 0 else "bid", 1)
        return prices[:, 0]

    def _advance_all(self, dt_s: float, volume: np.ndarray, value: np.ndarray) -> None:
        if dt_s <= 1e-12:
            return
        for k, sim in enumerate(self.sims):
            report = sim.advance(dt_s)
            volume[k] += report.volume_shares
            value[k] += report.value_tick_shares * self.tick_size_usd[k]

    def route(self, side: str, sizes_shares: Any, limit_price_usd: float, interval_s: float) -> RouteReport:
        """Route one marketable child order and run the market for ``interval_s``.

        :param side: ``"buy"`` or ``"sell"``.
        :param sizes_shares: shares sent to each venue, ``(K,)`` non-negative integers.
        :param limit_price_usd: the slices' limit (IOC): a buy never pays more, a sell
            never receives less; rounded to each venue's tick in the order's favour.
        :param interval_s: the interval to run (>= the largest latency of a venue with a
            slice); every venue ends it at the same time.
        """
        sign = 1 if check_choice("side", side, ("buy", "sell")) == "buy" else -1
        sizes = np.asarray(sizes_shares)
        if sizes.shape != (self.n_venues,) or not np.issubdtype(sizes.dtype, np.integer) or np.any(sizes < 0):
            raise ValueError(f"sizes_shares must be {self.n_venues} non-negative integers, got {sizes_shares!r}")
        limit = check_positive("limit_price_usd", limit_price_usd)
        interval_s = check_positive("interval_s", interval_s)
        busy = sizes > 0
        if np.any(self.latency_s[busy] > interval_s):
            raise ValueError(f"interval_s={interval_s!r} is shorter than a routed venue's latency "
                             f"{self.latency_s[busy].max()!r} s")
        K = self.n_venues
        filled, value = np.zeros(K), np.zeros(K)
        volume, market_value = np.zeros(K), np.zeros(K)
        at_decision = self._far_touch(sign)
        at_arrival = at_decision.copy()
        t = 0.0
        for k in np.argsort(self.latency_s, kind="stable"):
            if not busy[k]:
                continue
            self._advance_all(self.latency_s[k] - t, volume, market_value)
            t = max(t, float(self.latency_s[k]))
            at_arrival[k] = self._far_touch(sign)[k]
            tick = self.tick_size_usd[k]
            price_ticks = math.floor(limit / tick + 1e-9) if sign > 0 else math.ceil(limit / tick - 1e-9)
            fills = self.sims[k].submit_ioc(side, max(1, price_ticks), int(sizes[k]))
            if len(fills):
                shares = int(fills["size_shares"].sum())
                val = float((fills["size_shares"] * fills["price_ticks"]).sum()) * tick
                filled[k], value[k] = shares, val
                volume[k] += shares
                market_value[k] += val
                for j, other in enumerate(self.sims):
                    if j != k:
                        other.apply_external_impact(float(sign * shares))
        self._advance_all(interval_s - t, volume, market_value)
        fees = self.taker_fee_usd * filled
        with np.errstate(invalid="ignore"):
            slip = np.where(filled > 0, sign * (at_arrival - at_decision) * filled, 0.0)
        return RouteReport(filled, value, fees, at_decision, at_arrival, np.nan_to_num(slip), volume, market_value)
