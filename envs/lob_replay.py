"""The historical replay environment ``execgym/LOBReplay-v0``.

The contract of ``execgym/LOBExecution-v0`` (observation, actions, reward, episode end,
``info``; :class:`~execgym.envs.lob_execution.LOBExecutionEnv` is the one implementation of it),
with a recorded LOBSTER day (:mod:`execgym.envs.market.data.replay`) as the market instead of the
simulator. Every baseline and agent runs in it through the same ``predict`` interface
and the same evaluation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from execgym.envs.lob_execution import LOBContractConfig, LOBExecutionEnv
from execgym.envs.market.data.lobster import PRICE_SCALE, resolve_lobster_file
from execgym.envs.market.data.lobster_data import default_lobster_dir, trades, volume_profile
from execgym.envs.market.data.replay import ReplayDay, ReplayMarket
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


class LOBReplayEnv(LOBExecutionEnv):
    """Execute a parent order against a recorded trading day (LOBSTER), replayed through the order book.

    Observation, action spaces, reward, episode end and ``info`` are those of
    :class:`~execgym.envs.lob_execution.LOBExecutionEnv` (see its docstring; this class *is* that
    environment with another market). The differences are the market and where the
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
