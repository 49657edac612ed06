"""The historical replay environment ``execgym/LOBReplay-v0``.

The contract of ``execgym/LOBExecution-v0`` (observation, actions, reward, episode end,
``info``: :class:`~execgym.envs.lob_execution.LOBEnv`, and the episode core of
:mod:`execgym.envs.lob_core`), with a recorded LOBSTER day (:mod:`execgym.envs.market.data.replay`)
as the market instead of the simulator. Every baseline and agent runs in it through the same ``predict`` interface
and the same evaluation.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from execgym.envs import lob_core as core
from execgym.envs.lob_config import LOBContractConfig, volume_arrays
from execgym.envs.lob_execution import LOBEnv
from execgym.envs.market.data.lobster import PRICE_SCALE, resolve_lobster_file
from execgym.envs.market.data.lobster_data import default_lobster_dir, trades, volume_profile
from execgym.envs.market.data.replay import ReplayDay, ReplayMarket
from execgym.envs.market.simulation._book_kernels import fill_totals
from execgym.envs.market.simulation.book import FILL_DTYPE
from execgym.envs.market.simulation.events import EXECUTIONS
from execgym.validation import check_field_types, check_int, check_positive

logger = logging.getLogger(__name__)

__all__ = ["LOBReplayConfig", "LOBReplayEnv", "expected_volume_over_starts"]

GOOG_MESSAGES = "GOOG_2012-06-21_34200000_57600000_message_10.csv"
GOOG_ORDERBOOK = "GOOG_2012-06-21_34200000_57600000_orderbook_10.csv"


@dataclass(frozen=True)
class LOBReplayConfig(LOBContractConfig):
    """Parameters of ``execgym/LOBReplay-v0``: those of :class:`~execgym.envs.lob_execution.LOBContractConfig`
    (seconds, shares, bps) and the recorded day.

    Defaults: sell 5,000 GOOG shares (about 7% of the recorded volume in an average 30 minutes)
    over 30 minutes in 60 decisions, starting at a random time between 10:00 and 15:00.

    :param message_file: LOBSTER message file (relative paths are under ``data_dir``).
    :param orderbook_file: its order-book file.
    :param data_dir: directory of relative files; empty: :func:`~execgym.envs.market.data.lobster_data.default_lobster_dir`.
    :param price_units_per_tick: LOBSTER price units (dollars x 10000) per tick (100: a cent).
    :param start_window_s: ``(earliest start, latest end)`` of an episode, seconds after
        midnight; the start is uniform in ``[earliest, latest - horizon_s]``.
    :param profile_bucket_s: bucket of the day's volume profile behind the expected volumes (s).
    """

    total_shares: int = 5_000
    message_file: str = GOOG_MESSAGES
    orderbook_file: str = GOOG_ORDERBOOK
    data_dir: str = ""
    price_units_per_tick: int = 100
    start_window_s: tuple[float, float] = (36_000.0, 55_800.0)
    profile_bucket_s: float = 1800.0

    def __post_init__(self) -> None:
        check_field_types(self)
        super().__post_init__()
        check_int("price_units_per_tick", self.price_units_per_tick, minimum=1)
        check_positive("profile_bucket_s", self.profile_bucket_s)
        window = tuple(float(x) for x in self.start_window_s)
        if len(window) != 2 or not window[1] - window[0] >= self.horizon_s:
            raise ValueError(f"start_window_s must be (earliest, latest) seconds after midnight at least "
                             f"horizon_s={self.horizon_s} apart, got {self.start_window_s!r}")
        object.__setattr__(self, "start_window_s", window)
        for name in ("message_file", "orderbook_file"):
            try:
                self.path(name)
            except FileNotFoundError as err:
                raise ValueError(f"{name}={getattr(self, name)!r}: {err} (set data_dir or EXECGYM_LOBSTER_DIR)") from None

    def path(self, name: str) -> Path:
        """The resolved path of ``message_file`` or ``orderbook_file`` (its compressed copy when
        only that exists: :func:`~execgym.envs.market.data.lobster.resolve_lobster_file`)."""
        p = Path(getattr(self, name))
        return resolve_lobster_file(p if p.is_absolute() else Path(self.data_dir or default_lobster_dir()) / p)

    def load_day(self) -> ReplayDay:
        """The recorded day (loaded once per process and file pair)."""
        return ReplayDay.load(str(self.path("message_file")), str(self.path("orderbook_file")),
                              self.price_units_per_tick)


def expected_volume_over_starts(day: ReplayDay, cfg: LOBReplayConfig, n_starts: int = 401) -> np.ndarray:
    """Expected market volume (shares) in each decision interval of an episode whose start is
    uniform over ``cfg.start_window_s``, from the day's volume profile in ``profile_bucket_s`` buckets.

    Buckets are aligned on multiples of ``profile_bucket_s`` after midnight; volume accrues
    at a constant rate within each. The expectation over the start time is taken on
    ``n_starts`` evenly spaced starts.
    """
    first, last = cfg.start_window_s
    bucket = cfg.profile_bucket_s
    bucket_frame = volume_profile(_trade_frame(day), bucket, np.floor(day.time_s[0] / bucket) * bucket,
                                  float(day.time_s[-1]) + 1e-6)
    edges = np.append(bucket_frame["start_s"].to_numpy(), bucket_frame["end_s"].to_numpy()[-1])
    cum = np.append(0.0, np.cumsum(bucket_frame["volume_shares"].to_numpy()))
    starts = np.linspace(first, last - cfg.horizon_s, n_starts)
    grid = starts[:, None] + np.arange(cfg.n_steps + 1)[None, :] * cfg.decision_interval_s
    volume_to = np.interp(grid, edges, cum)
    return np.diff(volume_to, axis=1).mean(axis=0)


def _trade_frame(day: ReplayDay) -> pd.DataFrame:
    executed = np.isin(day.mtype, EXECUTIONS)
    return trades(pd.DataFrame({
        "time_s": day.time_s[executed], "type": day.mtype[executed], "size_shares": day.size[executed],
        "price_ticks": day.price_ticks[executed], "price_usd": day.price_ticks[executed] * day.tick_size,
        "direction": day.direction[executed], "order_id": day.order_id[executed]}))


class LOBReplayEnv(LOBEnv):
    """Execute a parent order against a recorded trading day (LOBSTER), replayed through the order book.

    Observation, action spaces, reward, episode end and ``info`` are those of
    :class:`~execgym.envs.lob_execution.LOBExecutionEnv` (see its docstring; the same
    :class:`~execgym.envs.lob_execution.LOBEnv` and episode core with another market). The differences are the market and where the
    expected volumes come from:

    **Episodes.** ``reset(seed=s)`` draws the start time uniformly in
    ``[start_window_s[0], start_window_s[1] - horizon_s]`` from the env's ``np_random``;
    the market is the recorded book at that time and the recorded messages after it,
    replayed as the clock advances. The arrival price is the recorded mid at the start.

    **Matching** (full rules in :mod:`execgym.envs.market.data.replay`). Marketable child orders walk
    the recorded book (only the levels the file holds) at the recorded prices; the shares
    they take are hidden from the agent's view of those levels for the rest of the episode.
    Passive child orders join the back of their level and are filled only when recorded
    executions have consumed the queue ahead of them (FIFO). Queue model: recorded
    submissions at the level queue behind the agent; recorded cancellations of orders whose
    submission the file shows are exactly ahead (submitted before the agent joined) or
    behind; cancellations of liquidity of unknown origin are taken from ahead and behind in
    proportion to their sizes (Moallemi and Yuan 2017); the execution of an order known to be
    behind, or a trade through the agent's price, proves the queue ahead empty (FIFO, price
    priority). The agent's orders never change the recorded flow.

    **Expected volumes** (``task.expected_volume_shares``, the observation's volume ratios,
    VWAP's schedule and the ``participation`` action): the day's own traded volume in
    ``profile_bucket_s`` buckets (:func:`~execgym.envs.market.data.lobster_data.volume_profile`), averaged over
    the episode's random start (:func:`expected_volume_over_starts`). They come from the
    same day: at the resolution of the buckets this is in-sample knowledge.

    **Limits.** The recorded flow does not react to the agent: no impact beyond the liquidity
    its own orders consume, no other trader responds to its orders, and prices are those of
    the record. This is why a calibrated simulator (``execgym/LOBExecution-v0``) exists
    beside the replay. A level-``L`` file shows only ``L`` levels per side, so market orders
    cannot trade deeper; at the horizon, what they cannot fill is charged
    ``unfilled_penalty_bps``. Lot size is 1 share.
    """

    config_class = LOBReplayConfig

    def __init__(self, config: LOBReplayConfig | None = None, render_mode: str | None = None, **overrides: Any) -> None:
        super().__init__(config, render_mode=render_mode, **overrides)
        self._sim: ReplayMarket | None = None
        self._records: np.ndarray | None = None
        self.day = self.config.load_day()
        first, last = float(self.day.time_s[0]), float(self.day.time_s[-1])
        earliest, latest = self.config.start_window_s
        if earliest < first or latest > last:
            raise ValueError(f"start_window_s={self.config.start_window_s!r} must lie inside the recorded session "
                             f"[{first:.3f}, {last:.3f}] s after midnight of {self.config.message_file}")

    @property
    def tick_size(self) -> float:
        return self.config.price_units_per_tick / PRICE_SCALE

    @property
    def lot_size(self) -> int:
        return 1

    def _expected_volume_shares(self) -> np.ndarray:
        return expected_volume_over_starts(self.day, self.config)

    def _initial_arrival_ticks(self) -> float:
        row = max(int(self.day.row_at(self.config.start_window_s[0])), 0)
        mid = self.day.mid_ticks(np.array([row]))[0]
        return float(mid) if np.isfinite(mid) else float(np.nanmean(self.day.mid_ticks(np.arange(len(self.day)))))

    def _reset_market(self) -> None:
        cfg = self.config
        first, last = cfg.start_window_s
        start_s = float(self.np_random.uniform(first, last - cfg.horizon_s))
        row = max(int(self.day.row_at(start_s)), 0)
        time_s = max(start_s, float(self.day.time_s[row]))
        if self._sim is None:
            self._sim = ReplayMarket(self.day, row + 1)
        self._sim.reset(row + 1, time_s=time_s)
        self.start_s = time_s
        logger.debug("replay episode from %.3f s (row %d)", time_s, row + 1)

    # -- the episode: the core's functions, driving the replay market ------------------------

    @property
    def _episode(self):
        return self._records[0]

    def _start(self) -> np.ndarray:
        self._reset_market()
        if self._records is None:
            self._params = core.make_params(self.config, self.lot_size, self.sign)
            self._records = np.zeros(1, dtype=core.EPISODE_DTYPE)
            self._vring = np.zeros(self.config.volatility_window)
            self._top = np.zeros(6, dtype=np.int64)
            self._obs = np.zeros(core.N_OBS, dtype=np.float32)
            self._rates, self._expected, self._next_ratio = volume_arrays(self.config, self.task.expected_volume_shares)
        mid = self._sim.book.mid
        core.start_episode(self._records[0], self._vring, mid if mid is not None else self._sim.reference_ticks, 1,
                           self.config.total_shares)
        self._child: int | None = None
        return self._observe()

    def _observe(self) -> np.ndarray:
        book = self._sim.book
        self._top[:] = book.top(self.config.imbalance_levels)
        queue_frac, resting = 0.0, 0.0
        if self._child is not None and self._child in book:
            order = book.order(self._child)
            level = book.volume_at(order.side, order.price_ticks)
            queue_frac, resting = (order.queue_ahead_shares / level if level else 0.0), 1.0
        core.observe(self._params[0], self._records[0], self._next_ratio, self._top, queue_frac, resting, self._obs)
        return self._obs.copy()

    def _send(self, size: int, offset_ticks: float) -> np.ndarray:
        """The child order of ``size`` shares; its immediate fills."""
        market, side = self._sim, self.config.side
        if self.config.action != "placement":
            self._cancel_child()
            return market.submit_market(side, size) if size > 0 else _NO_FILLS
        book = market.book
        bid, ask = book.best_bid, book.best_ask
        own, opp = (bid, ask) if self.sign > 0 else (ask, bid)
        price = int(core.placement_price(self.sign, offset_ticks, -1 if own is None else own,
                                         -1 if opp is None else opp, market.reference_ticks))
        if self._child is not None and self._child in book:
            if self.config.keep_unfilled and book.order(self._child).price_ticks == price and size > 0:
                return market.modify(self._child, size_shares=size)
            self._cancel_child()
        if size <= 0:
            return _NO_FILLS
        self._child, fills = market.submit_limit(side, price, size)
        return fills

    def _cancel_child(self) -> None:
        if self._child is not None and self._child in self._sim.book:
            self._sim.cancel(self._child)
        self._child = None

    def _decide(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, np.ndarray]:
        p, e, market = self._params[0], self._records[0], self._sim
        size = int(core.child_size(p, e, self._rates, self._expected, action[0, 0]))
        fills = [self._send(size, float(action[0, 1]))]
        immediate = _totals(fills[0])
        report = market.advance(self.config.decision_interval_s)
        fills.append(report.agent_fills)
        market_volume = report.volume_shares + immediate[0]
        market_value = float(report.value_tick_shares + immediate[1])
        executed = immediate[0] + report.agent_volume_shares
        value = float(immediate[1]) + float(report.agent_value_tick_shares)
        terminated = False
        if core.at_horizon(p, e):  # cancel what rests and walk the book with the remainder
            held = int(e["holdings_shares"]) - executed
            self._cancel_child()
            if held > 0:
                final = market.submit_market(self.config.side, held)
                fills.append(final)
                final_volume, final_value = _totals(final)
                market_volume += final_volume
                market_value += float(final_value)
                executed += final_volume
                value += float(final_value)
            terminated = True
        cost = core.account(p, e, executed, value, market_volume, market_value, terminated)
        if e["holdings_shares"] <= 0:
            self._cancel_child()
            terminated = True
        mid = market.book.mid
        reward = core.finish(p, e, self._vring, self._expected, cost, report.volume_shares,
                             math.nan if mid is None else mid)
        agent = np.concatenate(fills) if any(len(f) for f in fills) else _NO_FILLS
        return self._observe(), reward, terminated, np.stack([agent["price_ticks"], agent["size_shares"]], axis=1)

    def _touch(self) -> tuple[int, int]:
        bid, ask = self._sim.book.best_bid, self._sim.book.best_ask
        return (-1 if bid is None else bid), (-1 if ask is None else ask)


_NO_FILLS = np.zeros(0, dtype=FILL_DTYPE)


def _totals(fills: np.ndarray) -> tuple[int, int]:
    """(shares, tick-shares) of a fill array."""
    if len(fills) == 0:
        return 0, 0
    volume, value, _, _ = fill_totals(fills.view(np.int64).reshape(-1, 8), -2)  # owner -2: nobody
    return int(volume), int(value)
