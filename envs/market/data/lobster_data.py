"""Loading LOBSTER days into typed DataFrames, and the views derived from them.

:func:`load_lobster` reads a message file and (optionally) its order-book file, of any
level count and any size (files are read in chunks of ``chunk_rows`` rows, with an
optional tqdm progress bar over the bytes read), checks them, and returns a
:class:`LobsterDay`. Units are explicit in every column name:

Messages (:attr:`LobsterDay.messages`), one row per LOBSTER message:

=================  ==============================  ======================================
column             dtype                           meaning
=================  ==============================  ======================================
``time_s``         float64                         seconds after midnight (exchange time)
``timestamp``      datetime64[ns, America/New_York] the same instant as a timestamp
``type``           int64                           LOBSTER event type code, 1-7
``event_type``     category                        its name (:data:`EVENT_TYPES`)
``order_id``       int64                           LOBSTER order id (0 for hidden executions)
``size_shares``    int64                           shares
``price``          int64                           LOBSTER price units (dollars x 10000)
``price_ticks``    float64                         ``price / price_units_per_tick`` (hidden
                                                   executions can be at half ticks); NaN for halts
``price_usd``      float64                         dollars; NaN for halts
``direction``      int64                           +1 buy limit order, -1 sell
=================  ==============================  ======================================

The columns ``time_s, type, order_id, size_shares, price, direction`` are those of
:func:`execgym.envs.market.data.lobster.read_messages`, so the frame goes straight into
:func:`~execgym.envs.market.data.lobster.messages_to_events` and
:func:`~execgym.envs.market.data.lobster.replay_lobster` (with :attr:`LobsterDay.orderbook`, the file's
int64 rows in LOBSTER units). A :class:`LobsterDay` built from those six columns alone (a
simulated day, or :func:`~execgym.envs.market.data.lobster.read_messages` output) works with everything
here that does not need the typed columns.

Order book (:attr:`LobsterDay.orderbook_frame`; :meth:`LobsterDay.book_levels` gives the same
as arrays), row ``k`` = the book after message ``k``:
``time_s``, then per level ``i`` = 1..L ``ask_price_ticks_i``, ``ask_size_shares_i``,
``bid_price_ticks_i``, ``bid_size_shares_i`` (int64; an empty level has price 0 and size
0, as :meth:`~execgym.envs.market.simulation.book.OrderBook.depth` reports it).

Derived views: :func:`price_vs_best` (each message's price against its side's best quote
in the book before it), :func:`trades` (visible and hidden executions, with the aggressor's side),
:func:`quotes` (the touch, each time it changes), :func:`l2_snapshots` (the top levels
sampled on a time grid, prices in ticks and USD) and :func:`volume_profile` (traded shares
per time bucket and their normalised share of the total, what VWAP schedules follow).

Errors name the file and the 1-based row: malformed rows (wrong field count, non-numeric
or non-integer values), unknown event types or directions, off-grid prices, and a message
file and order-book file whose row counts differ.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from execgym.envs.market.data.lobster import (
    DUMMY_ASK,
    DUMMY_BID,
    EVENT_TYPES,
    MESSAGE_COLUMNS,
    PRICE_SCALE,
    bad_row,
    read_message_columns,
    read_orderbook_rows,
    resolve_lobster_file,
)
from execgym.envs.market.simulation.events import BOOK_CHANGES, EXECUTIONS, EventType
from execgym.validation import check_int, check_positive

logger = logging.getLogger(__name__)

__all__ = [
    "CLOSE_S",
    "DUMMY_ASK",
    "DUMMY_BID",
    "EVENT_TYPES",
    "OPEN_S",
    "BookLevels",
    "LobsterDay",
    "default_lobster_dir",
    "resolve_lobster_file",
    "sample_lobster_dir",
    "l2_snapshots",
    "load_lobster",
    "price_vs_best",
    "quotes",
    "trades",
    "units_per_tick",
    "volume_profile",
]

#: seconds after midnight of the regular session's open (09:30) and close (16:00)
OPEN_S, CLOSE_S = 34_200.0, 57_600.0
_EXCHANGE_TZ = "America/New_York"
_DATE_IN_NAME = re.compile(r"_(\d{4}-\d{2}-\d{2})_")


def sample_lobster_dir() -> Path:
    """The LOBSTER sample days shipped in the package (``execgym/data/lobster``: GOOG 10 levels
    and AMZN 1 level, 2012-06-21, xz-compressed; their README states the origin)."""
    return Path(str(resources.files("execgym.data").joinpath("lobster")))


def default_lobster_dir() -> Path:
    """Where LOBSTER files named without a folder are looked up: ``$EXECGYM_LOBSTER_DIR`` when
    set (a folder of your own files, plain or compressed), else :func:`sample_lobster_dir`."""
    env = os.environ.get("EXECGYM_LOBSTER_DIR")
    return Path(env) if env else sample_lobster_dir()


def _message_frame(path: Path, columns: dict[str, np.ndarray], date: dt.date, price_units_per_tick: int
                   ) -> pd.DataFrame:
    """The typed frame of validated message columns (:func:`~execgym.envs.market.data.lobster.check_messages`)."""
    time_s, mtype, direction = columns["time_s"], columns["type"], columns["direction"]
    price = columns["price"]
    halt = mtype == EventType.TRADING_HALT
    visible = np.isin(mtype, BOOK_CHANGES)
    off = visible & (price % price_units_per_tick != 0)
    if off.any():
        row = int(np.flatnonzero(off)[0])
        raise bad_row(path, row + 1, f"price {price[row]} is not on the tick grid of {price_units_per_tick} units")
    price_ticks = np.where(halt, np.nan, price / price_units_per_tick)
    midnight = pd.Timestamp(date).tz_localize(_EXCHANGE_TZ)
    return pd.DataFrame({
        "time_s": time_s,
        "timestamp": midnight + pd.to_timedelta(np.rint(time_s * 1e9).astype(np.int64), unit="ns"),
        "type": mtype,
        "event_type": pd.Categorical.from_codes(mtype - 1, categories=list(EVENT_TYPES.values())),
        "order_id": columns["order_id"],
        "size_shares": columns["size_shares"],
        "price": price,
        "price_ticks": price_ticks,
        "price_usd": np.where(halt, np.nan, price / PRICE_SCALE),
        "direction": direction,
    })


class BookLevels(NamedTuple):
    """The order-book rows per side, each ``(n, levels)`` int64, best level first; an empty
    level has price 0 and size 0 (as :meth:`~execgym.envs.market.simulation.book.OrderBook.depth` reports it)."""

    ask_price_ticks: np.ndarray
    ask_size_shares: np.ndarray
    bid_price_ticks: np.ndarray
    bid_size_shares: np.ndarray

    @property
    def ask_ok(self) -> np.ndarray:
        """Ask level occupied."""
        return self.ask_size_shares > 0

    @property
    def bid_ok(self) -> np.ndarray:
        """Bid level occupied."""
        return self.bid_size_shares > 0


@dataclass(frozen=True, eq=False)
class LobsterDay:
    """One LOBSTER day, real (:func:`load_lobster`) or simulated
    (:func:`~execgym.envs.market.data.simulated_day.simulate_day`): messages and the book after each.

    :param messages: at least the LOBSTER columns :data:`~execgym.envs.market.data.lobster.MESSAGE_COLUMNS`
        (``time_s`` seconds after midnight, ``price`` dollars x 10000); :func:`load_lobster`
        adds the typed ones of the module docstring.
    :param orderbook: the order-book file, int64 LOBSTER units, shape ``(n, 4 * levels)``
        (ask price, ask size, bid price, bid size per level; dummy prices +-9999999999 for
        empty levels), row ``k`` the book after message ``k``; or ``None`` if not loaded.
    :param price_units_per_tick: LOBSTER price units per tick (100: one cent).
    :param name: a label for tables.
    :param labels: ground truth recorded by an injecting agent (simulated days only).
    :param start_s: session start, seconds after midnight (09:30 by default).
    :param end_s: session end, seconds after midnight (16:00 by default).
    :param date: the trading day, if known.
    :param message_path: where the messages came from, if read from a file.
    :raises TypeError, ValueError: naming the offending value, for a frame without LOBSTER's
        columns, an order book of the wrong shape or length, messages out of time order, a
        bad ``price_units_per_tick`` or an empty session.
    """

    messages: pd.DataFrame
    orderbook: np.ndarray | None = None
    price_units_per_tick: int = 100
    name: str = "day"
    labels: dict = field(default_factory=dict)
    start_s: float = OPEN_S
    end_s: float = CLOSE_S
    date: dt.date | None = None
    message_path: Path | None = None

    def __post_init__(self) -> None:
        m = self.messages
        if not isinstance(m, pd.DataFrame):
            raise TypeError(f"messages must be a pandas DataFrame, got {type(m).__name__}")
        missing = [c for c in MESSAGE_COLUMNS if c not in m.columns]
        if missing:
            raise ValueError(f"messages lack LOBSTER columns {missing} (expected {list(MESSAGE_COLUMNS)})")
        t = m["time_s"].to_numpy()
        back = np.flatnonzero(np.diff(t) < 0)
        if len(back):
            k = int(back[0]) + 1
            raise ValueError(f"messages must be in time order (time_s non-decreasing): message {k} at {t[k]} s "
                             f"follows {t[k - 1]} s")
        if self.orderbook is not None:
            ob = np.asarray(self.orderbook)
            if ob.ndim != 2 or ob.shape[1] % 4 or ob.shape[1] == 0:
                raise ValueError(f"orderbook must have shape (n, 4 * levels), got {ob.shape}")
            if len(ob) != len(m):
                raise ValueError(f"orderbook has {len(ob)} rows for {len(m)} messages: "
                                 "messages and orderbook differ in length")
            object.__setattr__(self, "orderbook", ob.astype(np.int64, copy=False))
        check_int("price_units_per_tick", self.price_units_per_tick, minimum=1)
        if not self.end_s > self.start_s:
            raise ValueError(f"end_s={self.end_s!r} must be > start_s={self.start_s!r}")

    def _book(self) -> np.ndarray:
        if self.orderbook is None:
            raise ValueError(f"day {self.name!r} has no order book (load_lobster with orderbook_path)")
        return self.orderbook

    @property
    def levels(self) -> int:
        """Levels per side in the order book."""
        return self._book().shape[1] // 4

    @property
    def tick_size_usd(self) -> float:
        """Dollars per tick."""
        return self.price_units_per_tick / PRICE_SCALE

    @property
    def duration_s(self) -> float:
        """Session length (s)."""
        return self.end_s - self.start_s

    def book_levels(self, rows: np.ndarray | None = None) -> BookLevels:
        """The order book in ticks and shares (:class:`BookLevels`): the one accessor of its levels.

        :param rows: the indices of the messages whose books are wanted (all by default): a
            sample of a long day converts only its rows.
        """
        raw, unit = self._book(), self.price_units_per_tick
        if rows is not None:
            raw = raw[rows]
        ask_p, ask_s, bid_p, bid_s = (raw[:, j::4] for j in range(4))
        ask_ok, bid_ok = (ask_s > 0) & (ask_p != DUMMY_ASK), (bid_s > 0) & (bid_p != DUMMY_BID)
        return BookLevels(np.where(ask_ok, ask_p // unit, 0), np.where(ask_ok, ask_s, 0),
                          np.where(bid_ok, bid_p // unit, 0), np.where(bid_ok, bid_s, 0))

    def mid_ticks(self, rows: np.ndarray | None = None) -> np.ndarray:
        """The mid (ticks) after each message (those of ``rows``, as in :meth:`book_levels`);
        NaN where a side of the book is empty."""
        s = self.book_levels(rows)
        ok = s.ask_ok[:, 0] & s.bid_ok[:, 0]
        return np.where(ok, 0.5 * (s.ask_price_ticks[:, 0] + s.bid_price_ticks[:, 0]), np.nan)

    def durations_s(self) -> np.ndarray:
        """How long the book after each message lasted, clipped to the session (s)."""
        t = np.clip(self.messages["time_s"].to_numpy(), self.start_s, self.end_s)
        return np.diff(np.append(t, self.end_s))

    @property
    def orderbook_frame(self) -> pd.DataFrame:
        """The order book as a DataFrame in ticks and shares (module docstring)."""
        ask_p, ask_s, bid_p, bid_s = self.book_levels()
        cols: dict[str, np.ndarray] = {"time_s": self.messages["time_s"].to_numpy()}
        for i in range(self.levels):
            cols |= {f"ask_price_ticks_{i + 1}": ask_p[:, i], f"ask_size_shares_{i + 1}": ask_s[:, i],
                     f"bid_price_ticks_{i + 1}": bid_p[:, i], f"bid_size_shares_{i + 1}": bid_s[:, i]}
        return pd.DataFrame(cols)


def units_per_tick(tick_size_usd: float) -> int:
    """LOBSTER price units (dollars x 10000) per tick of ``tick_size_usd`` dollars."""
    units = check_positive("tick_size", tick_size_usd) * PRICE_SCALE
    if abs(units - round(units)) > 1e-9 or round(units) < 1:
        raise ValueError(f"tick_size={tick_size_usd!r} is not a whole number of LOBSTER price units (1e-4 dollars)")
    return int(round(units))


def _date_of(path: Path, date: dt.date | str | None) -> dt.date:
    if date is not None:
        return pd.Timestamp(date).date()
    match = _DATE_IN_NAME.search(path.name)
    if match is None:
        raise ValueError(f"{path}: no YYYY-MM-DD date in the file name; pass date=")
    return dt.date.fromisoformat(match.group(1))


def load_lobster(
    message_path: str | Path,
    orderbook_path: str | Path | None = None,
    *,
    price_units_per_tick: int = 100,
    date: dt.date | str | None = None,
    chunk_rows: int = 1_000_000,
    progress: bool = False,
    name: str | None = None,
    start_s: float = OPEN_S,
    end_s: float = CLOSE_S,
) -> LobsterDay:
    """Read a LOBSTER message file and, optionally, its order-book file (any level count).

    :param price_units_per_tick: LOBSTER price units (dollars x 10000) per tick; 100 is a
        one-cent tick. Visible-book messages must be on that grid.
    :param date: the trading day; by default parsed from the file name
        (``TICKER_YYYY-MM-DD_...``).
    :param chunk_rows: rows per chunk: files of any size are read chunk by chunk.
    :param progress: show a tqdm progress bar (bytes read) per file.
    :param name: the day's label (default: the message file's name).
    :param start_s: session start, seconds after midnight (rates and durations are per session).
    :param end_s: session end, seconds after midnight.
    :raises ValueError: naming the file and 1-based row, for malformed rows, unknown
        event types, off-grid prices or row counts that differ between the two files.
    """
    message_path = Path(message_path)
    unit = check_int("price_units_per_tick", price_units_per_tick, minimum=1)
    chunk_rows = check_int("chunk_rows", chunk_rows, minimum=1)
    day = _date_of(message_path, date)
    columns = read_message_columns(message_path, chunk_rows, progress)
    messages = _message_frame(message_path, columns, day, unit)
    book = None
    if orderbook_path is not None:
        orderbook_path = Path(orderbook_path)
        arr = read_orderbook_rows(orderbook_path, chunk_rows, progress)
        if len(arr) != len(messages):
            row = min(len(arr), len(messages)) + 1
            longer = orderbook_path if len(arr) > len(messages) else message_path
            raise ValueError(f"{orderbook_path} has {len(arr)} rows but {message_path} has {len(messages)}: "
                             f"row {row} of {longer} has no counterpart")
        book = arr.astype(np.int64)
    logger.info("loaded %s: %d messages, %s levels", message_path.name, len(messages),
                "no" if book is None else book.shape[1] // 4)
    return LobsterDay(messages, book, unit, name=message_path.name if name is None else name, start_s=start_s,
                      end_s=end_s, date=day, message_path=message_path)


def trades(messages: pd.DataFrame) -> pd.DataFrame:
    """Executions (types 4 visible, 5 hidden, 6 cross trades) with the aggressor's side.

    Columns: ``time_s``, ``timestamp`` (if present), ``price_ticks``, ``price_usd``,
    ``size_shares``, ``aggressor_side`` (+1 buyer-initiated: the resting order was a sell,
    LOBSTER direction -1; 0 for cross trades), ``hidden`` (bool), ``order_id`` (the resting order).
    """
    t = messages[messages["type"].isin(EXECUTIONS)]
    out = pd.DataFrame({"time_s": t["time_s"].to_numpy()}, index=t.index)
    if "timestamp" in t:
        out["timestamp"] = t["timestamp"]
    out["price_ticks"] = t["price_ticks"]
    out["price_usd"] = t["price_usd"]
    out["size_shares"] = t["size_shares"]
    out["aggressor_side"] = np.where(t["type"] == EventType.CROSS_TRADE, 0, -t["direction"]).astype(np.int64)
    out["hidden"] = (t["type"] == EventType.EXECUTION_HIDDEN).to_numpy()
    out["order_id"] = t["order_id"]
    return out


def price_vs_best(day: LobsterDay) -> tuple[np.ndarray, np.ndarray]:
    """``(better_ticks, has_best)`` for each message: its price in ticks better than its side's
    best quote in the book before it (the order book's previous row; the first message: the
    row after it), positive inside the spread (or crossing), 0 at the best, negative behind
    it (a buy's ``price - best bid``, a sell's ``best ask - price``), and whether that side
    had a best (``better_ticks`` is meaningless where it had not). Messages of every type
    (the caller keeps the ones it needs; a hidden execution's half-tick price is floored).

    :raises ValueError: if the day has no order book loaded.
    """
    if day.orderbook is None:
        raise ValueError(f"day {day.name!r} has no order book loaded: the best quotes are needed")
    m = day.messages
    s = day.book_levels()
    prev = np.r_[0, np.arange(len(m) - 1)]
    price = m["price"].to_numpy(np.int64) // day.price_units_per_tick
    buy = m["direction"].to_numpy() > 0
    best = np.where(buy, s.bid_price_ticks[prev, 0], s.ask_price_ticks[prev, 0])
    has = np.where(buy, s.bid_ok[prev, 0], s.ask_ok[prev, 0])
    return np.where(buy, price - best, best - price), has


def quotes(day: LobsterDay) -> pd.DataFrame:
    """The touch after each message where it changed (and after the first).

    Columns: ``time_s``, ``timestamp``, ``bid_price_ticks``, ``bid_size_shares``,
    ``ask_price_ticks``, ``ask_size_shares`` (0 price and size: that side is empty),
    ``bid_price_usd``, ``ask_price_usd``, ``mid_usd`` and ``spread_ticks`` (NaN unless both
    sides are quoted). The index is the message row.
    """
    ask_p, ask_s, bid_p, bid_s = (a[:, 0] for a in day.book_levels())
    top = np.stack([bid_p, bid_s, ask_p, ask_s], axis=1)
    changed = np.ones(len(top), dtype=bool)
    changed[1:] = (top[1:] != top[:-1]).any(axis=1)
    rows = np.flatnonzero(changed)
    tick = day.tick_size_usd
    bp, bs, ap, as_ = (x[rows] for x in (bid_p, bid_s, ask_p, ask_s))
    both = (bp > 0) & (ap > 0)
    return pd.DataFrame({
        "time_s": day.messages["time_s"].to_numpy()[rows],
        "timestamp": day.messages["timestamp"].iloc[rows].to_numpy(),
        "bid_price_ticks": bp, "bid_size_shares": bs, "ask_price_ticks": ap, "ask_size_shares": as_,
        "bid_price_usd": np.where(bp > 0, bp * tick, np.nan), "ask_price_usd": np.where(ap > 0, ap * tick, np.nan),
        "mid_usd": np.where(both, 0.5 * (bp + ap) * tick, np.nan),
        "spread_ticks": np.where(both, ap - bp, np.nan),
    }, index=rows)


def l2_snapshots(day: LobsterDay, interval_s: float, levels: int | None = None,
                 start_s: float | None = None, end_s: float | None = None) -> pd.DataFrame:
    """The top ``levels`` of the book every ``interval_s`` seconds: the last row at or before each time.

    Index: ``time_s`` (the grid, from ``start_s``, default the first message, to ``end_s``);
    columns per level ``i``: ``bid_price_ticks_i``, ``bid_size_shares_i``,
    ``ask_price_ticks_i``, ``ask_size_shares_i``, ``bid_price_usd_i``, ``ask_price_usd_i``
    (NaN for an empty level). Grid times before the first message are dropped.
    """
    interval_s = check_positive("interval_s", interval_s)
    n_levels = day.levels if levels is None else check_int("levels", levels, minimum=1)
    if n_levels > day.levels:
        raise ValueError(f"levels={levels} but the file has {day.levels}")
    t = day.messages["time_s"].to_numpy()
    start = t[0] if start_s is None else float(start_s)
    end = t[-1] if end_s is None else float(end_s)
    grid = np.arange(start, end + 1e-9, interval_s)
    rows = np.searchsorted(t, grid, side="right") - 1
    keep = rows >= 0
    grid, rows = grid[keep], rows[keep]
    ask_p, ask_s, bid_p, bid_s = (a[rows, :n_levels] for a in day.book_levels())
    tick = day.tick_size_usd
    cols: dict[str, np.ndarray] = {}
    for i in range(n_levels):
        cols |= {f"bid_price_ticks_{i + 1}": bid_p[:, i], f"bid_size_shares_{i + 1}": bid_s[:, i],
                 f"ask_price_ticks_{i + 1}": ask_p[:, i], f"ask_size_shares_{i + 1}": ask_s[:, i],
                 f"bid_price_usd_{i + 1}": np.where(bid_p[:, i] > 0, bid_p[:, i] * tick, np.nan),
                 f"ask_price_usd_{i + 1}": np.where(ask_p[:, i] > 0, ask_p[:, i] * tick, np.nan)}
    return pd.DataFrame(cols, index=pd.Index(grid, name="time_s"))


def volume_profile(trade_frame: pd.DataFrame, bucket_s: float, start_s: float, end_s: float,
                   include_hidden: bool = True) -> pd.DataFrame:
    """Traded volume per time bucket, and its share of the total: an intraday volume profile.

    Buckets are ``[start_s + i * bucket_s, start_s + (i + 1) * bucket_s)`` up to ``end_s``
    (the last one may be shorter). Columns: ``start_s``, ``end_s``, ``volume_shares``,
    ``value_usd``, ``vwap_usd`` (NaN without trades) and ``volume_frac`` (sums to 1; uniform
    if nothing traded).

    :param trade_frame: :func:`trades` output (``time_s``, ``size_shares``, ``price_usd``, ``hidden``).
    :param include_hidden: count hidden executions.
    """
    bucket_s = check_positive("bucket_s", bucket_s)
    if not end_s > start_s:
        raise ValueError(f"end_s must be > start_s, got start_s={start_s!r}, end_s={end_s!r}")
    edges = np.arange(start_s, end_s, bucket_s)
    edges = np.append(edges, end_s)
    t = trade_frame if include_hidden else trade_frame[~trade_frame["hidden"]]
    time_s = t["time_s"].to_numpy()
    inside = (time_s >= start_s) & (time_s < end_s)
    which = np.searchsorted(edges, time_s[inside], side="right") - 1
    n = len(edges) - 1
    size = t["size_shares"].to_numpy()[inside].astype(np.float64)
    volume = np.bincount(which, weights=size, minlength=n)
    value = np.bincount(which, weights=size * t["price_usd"].to_numpy()[inside], minlength=n)
    total = volume.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        return pd.DataFrame({
            "start_s": edges[:-1], "end_s": edges[1:], "volume_shares": volume, "value_usd": value,
            "vwap_usd": np.where(volume > 0, value / volume, np.nan),
            "volume_frac": volume / total if total > 0 else np.full(n, 1.0 / n),
        })
