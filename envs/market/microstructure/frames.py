"""The one data shape every analytic reads: a LOBSTER day (message frame + order-book array).

Real data come from :func:`envs.market.lobster.read_messages` / ``read_orderbook``. A
simulated day is produced in exactly the same shape by :func:`simulate_day`, which runs a
:class:`~envs.market.simulator.MarketSimulator` with its event log on (and, optionally, an
agent acting through the simulator's agent-order API), converts the log to LOBSTER units
(time in seconds after midnight, prices in dollars x 10000) and rebuilds the order-book
file by replaying the log, so detectors and estimators run on both alike.

Conventions (LOBSTER's): message type 1 submission, 2 partial cancel, 3 deletion, 4 visible
execution, 5 hidden execution; ``direction`` is the side of the *resting* limit order, so
an execution's aggressor (the trade sign) is ``-direction``. Order-book row ``k`` is the
book after message ``k``; the quote prevailing at message ``k`` is row ``k - 1``.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd
from numba import njit

from envs.market import _book_kernels as K
from envs.market.book import OrderBook
from envs.market.lobster import MESSAGE_COLUMNS, PRICE_SCALE, messages_to_events
from envs.market.simulator import MarketSimulator, SimulatorConfig, StepReport
from envs.market.validation import check_fraction, check_int, check_positive

logger = logging.getLogger(__name__)

__all__ = [
    "LobsterDay",
    "OPEN_S",
    "StepAgent",
    "check_day",
    "executions",
    "mid_ticks",
    "mirror_day",
    "prevailing_quotes",
    "simulate_day",
    "time_split",
]

#: seconds after midnight of the open (09:30); a simulated session's time 0
OPEN_S = 34_200.0
_DUMMY_ASK, _DUMMY_BID = 9_999_999_999, -9_999_999_999


@dataclass
class LobsterDay:
    """One day of LOBSTER-format data.

    :param messages: columns :data:`~envs.market.lobster.MESSAGE_COLUMNS` (``time_s`` in
        seconds after midnight, ``price`` in dollars x 10000).
    :param orderbook: ``(len(messages), 4 * levels)`` int64: the book after each message.
    :param price_units_per_tick: LOBSTER price units per tick (100 for a one-cent tick).
    :param name: a label for tables.
    :param labels: ground truth recorded by an injecting agent (simulated days only).
    """

    messages: pd.DataFrame
    orderbook: np.ndarray
    price_units_per_tick: int = 100
    name: str = "day"
    labels: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_day(self.messages, self.orderbook)
        check_int("price_units_per_tick", self.price_units_per_tick, minimum=1)

    @property
    def levels(self) -> int:
        return self.orderbook.shape[1] // 4


def check_day(messages: pd.DataFrame, orderbook: np.ndarray) -> None:
    """Raise ``ValueError`` unless ``messages`` has LOBSTER's columns and ``orderbook`` matches it."""
    if not isinstance(messages, pd.DataFrame):
        raise TypeError(f"messages must be a pandas DataFrame, got {type(messages).__name__}")
    missing = [c for c in MESSAGE_COLUMNS if c not in messages.columns]
    if missing:
        raise ValueError(f"messages lack LOBSTER columns {missing} (expected {list(MESSAGE_COLUMNS)})")
    orderbook = np.asarray(orderbook)
    if orderbook.ndim != 2 or orderbook.shape[1] % 4 or orderbook.shape[1] == 0:
        raise ValueError(f"orderbook must have shape (n, 4 * levels), got {orderbook.shape}")
    if len(orderbook) != len(messages):
        raise ValueError(f"messages ({len(messages)} rows) and orderbook ({len(orderbook)} rows) differ in length")
    t = messages["time_s"].to_numpy()
    if len(t) > 1 and np.any(np.diff(t) < 0):
        raise ValueError("messages must be in time order (time_s non-decreasing)")


def mid_ticks(day: LobsterDay) -> np.ndarray:
    """Mid price in ticks after each message (NaN without a two-sided quote)."""
    ob = day.orderbook
    ask = ob[:, 0].astype(float)
    bid = ob[:, 2].astype(float)
    ask[ob[:, 0] == _DUMMY_ASK] = np.nan
    bid[ob[:, 2] == _DUMMY_BID] = np.nan
    return 0.5 * (ask + bid) / day.price_units_per_tick


def prevailing_quotes(day: LobsterDay, quote_lag_s: float = 0.0) -> pd.DataFrame:
    """Best bid and ask (LOBSTER price units, NaN for an empty side) in force at each message.

    The quote of message ``k`` is the last order-book row strictly before ``time_s[k] -
    quote_lag_s``; with lag 0 that is the book before the first message carrying ``k``'s
    timestamp (an aggressive order's executions share one timestamp, and they are all
    compared with the quote the order met). NaN where no earlier row exists.
    """
    lag = float(quote_lag_s)
    if not np.isfinite(lag) or lag < 0:
        raise ValueError(f"quote_lag_s must be a finite number >= 0, got {quote_lag_s!r}")
    t = day.messages["time_s"].to_numpy()
    idx = np.searchsorted(t, t - lag, side="left") - 1
    ob = day.orderbook
    ask = ob[:, 0].astype(float)
    bid = ob[:, 2].astype(float)
    ask[ob[:, 0] == _DUMMY_ASK] = np.nan
    bid[ob[:, 2] == _DUMMY_BID] = np.nan
    ok = idx >= 0
    out_bid = np.full(len(t), np.nan)
    out_ask = np.full(len(t), np.nan)
    out_bid[ok], out_ask[ok] = bid[idx[ok]], ask[idx[ok]]
    return pd.DataFrame({"bid": out_bid, "ask": out_ask, "mid": 0.5 * (out_bid + out_ask)}, index=day.messages.index)


def executions(day: LobsterDay, quote_lag_s: float = 0.0, hidden: bool = True) -> pd.DataFrame:
    """The day's executions with their true sign and the quote they met.

    :param hidden: include hidden executions (type 5) as well as visible ones (type 4).
    :return: one row per execution message: ``msg_index`` (row in ``day.messages``),
        ``time_s``, ``type``, ``price``, ``size_shares``, ``sign`` (+1 buyer-initiated,
        -1 seller-initiated: ``-direction``), and ``bid``, ``ask``, ``mid`` in force
        (:func:`prevailing_quotes`); prices in LOBSTER units.
    """
    msgs = day.messages
    types = (4, 5) if hidden else (4,)
    mask = msgs["type"].isin(types).to_numpy()
    q = prevailing_quotes(day, quote_lag_s)
    ex = msgs.loc[mask, ["time_s", "type", "price", "size_shares"]].copy()
    ex.insert(0, "msg_index", np.flatnonzero(mask))
    ex["sign"] = -msgs.loc[mask, "direction"].to_numpy()
    for c in ("bid", "ask", "mid"):
        ex[c] = q[c].to_numpy()[mask]
    return ex.reset_index(drop=True)


# --- simulated days -----------------------------------------------------------------------


class StepAgent(Protocol):
    """Something that acts in a :class:`MarketSimulator` between its time steps."""

    def act(self, sim: MarketSimulator, report: StepReport | None) -> None:
        """Submit/cancel through ``sim``'s agent-order API; ``report`` is the last step's (None first)."""


@njit(cache=True)
def _replay_rows(sc, lvl, orders, htab, fills, log, events, start, levels, out, depth_buf):
    """Apply events one by one from ``start``, writing the top ``levels`` after each into ``out``.

    Returns ``(next_index, status)``; a non-OK status leaves event ``next_index`` unapplied.
    """
    n = events.shape[0]
    i = start
    while i < n:
        if sc[K.S_N_FILLS] > fills.shape[0] - 4 * (sc[K.S_N_ORDERS] + 2):
            sc[K.S_N_FILLS] = 0  # fills are not needed here: recycle the buffer
        _, status = K.process(sc, lvl, orders, htab, fills, log, events[i : i + 1], 0)
        if status != K.OK:
            return i, status
        K.depth(sc, lvl, levels, depth_buf)
        for j in range(levels):
            out[i, 4 * j] = depth_buf[2, j]
            out[i, 4 * j + 1] = depth_buf[3, j]
            out[i, 4 * j + 2] = depth_buf[0, j]
            out[i, 4 * j + 3] = depth_buf[1, j]
        i += 1
    return i, K.OK


def _orderbook_rows(events: np.ndarray, levels: int, tick_size: float) -> np.ndarray:
    """Replay a complete event array into an empty book; the top ``levels`` after each event (ticks)."""
    book = OrderBook(tick_size=tick_size, log_events=False,
                     base_price_ticks=max(1, int(np.median(events[:, K.E_PRICE][events[:, K.E_PRICE] > 0])) - (1 << 13))
                     if len(events) else None)
    out = np.zeros((len(events), 4 * levels), dtype=np.int64)
    buf = np.zeros((4, levels), dtype=np.int64)
    i = 0
    while i < len(events):
        i, status = _replay_rows(book._sc, book._lvl, book._orders, book._htab, book._fills, book._log,
                                 events, i, levels, out, buf)
        if status != K.OK and not book._make_room(status, events[i]):
            raise ValueError(f"event {i} of the simulated log could not be replayed (status {status})")
    return out


def simulate_day(
    config: SimulatorConfig,
    rng: np.random.Generator,
    duration_s: float,
    dt_s: float = 1.0,
    levels: int = 10,
    agent: StepAgent | None = None,
    name: str = "simulated",
) -> LobsterDay:
    """Run ``duration_s`` seconds of a simulated market and return it as a :class:`LobsterDay`.

    The simulator's own log (which covers the warm-up) is replayed into an empty book to
    write the order-book file, so every row is exact. Only the session's messages (time
    0 onwards) are returned; times are ``OPEN_S + start_of_day_s + t``.

    :param dt_s: the simulator's step; ``agent.act`` is called after every step.
    :param agent: acts through the simulator's agent-order API; its ``labels`` attribute
        (if any) is copied into :attr:`LobsterDay.labels`.
    """
    if not isinstance(config, SimulatorConfig):
        raise TypeError(f"config must be a SimulatorConfig, got {type(config).__name__}")
    duration_s = check_positive("duration_s", duration_s)
    dt_s = check_positive("dt_s", dt_s)
    levels = check_int("levels", levels, minimum=1)
    if not config.log_events:
        config = dataclasses.replace(config, log_events=True)
    sim = MarketSimulator(config, rng)
    n_steps = int(np.ceil(duration_s / dt_s - 1e-9))
    if agent is not None:
        agent.act(sim, None)
    for _ in range(n_steps):
        report = sim.advance(dt_s)
        if agent is not None:
            agent.act(sim, report)
    log = sim.book.event_log()
    events = messages_to_events(
        pd.DataFrame({"time_s": log["time"], "type": log["type"], "order_id": log["order_id"],
                      "size_shares": log["size"], "price": log["price"], "direction": log["direction"]}),
        price_units_per_tick=1)
    rows = _orderbook_rows(events, levels, config.tick_size)
    unit = int(round(config.tick_size * PRICE_SCALE))
    session = (log["time"].to_numpy() >= config.start_of_day_s - 1e-9)
    messages = pd.DataFrame({
        "time_s": OPEN_S + log["time"].to_numpy()[session],
        "type": log["type"].to_numpy()[session],
        "order_id": log["order_id"].to_numpy()[session],
        "size_shares": log["size"].to_numpy()[session],
        "price": log["price"].to_numpy()[session] * unit,
        "direction": log["direction"].to_numpy()[session],
    })
    ob = rows[session]
    for col in range(0, ob.shape[1], 2):  # price columns: ticks -> LOBSTER units, empty -> dummy
        empty = ob[:, col] == 0
        ob[:, col] *= unit
        ob[empty, col] = _DUMMY_ASK if col % 4 == 0 else _DUMMY_BID
    labels = dict(getattr(agent, "labels", {}) or {}) if agent is not None else {}
    logger.info("simulated day %s: %d messages over %.0f s", name, len(messages), duration_s)
    return LobsterDay(messages, ob, price_units_per_tick=unit, name=name, labels=labels)


def mirror_day(day: LobsterDay) -> LobsterDay:
    """The same day with buys and sells exchanged: prices reflected about twice the first mid.

    Every message keeps its time, id and size; its price ``p`` becomes ``c - p`` and its
    direction flips; ask and bid columns of the order book swap accordingly. Analytics
    that treat the two sides symmetrically give mirrored answers on it (tested).
    """
    unit = day.price_units_per_tick
    ob = day.orderbook
    valid = (np.abs(ob[:, 0]) < _DUMMY_ASK) & (np.abs(ob[:, 2]) < _DUMMY_ASK)
    first = int(np.argmax(valid)) if valid.any() else 0
    c = int(ob[first, 0] + ob[first, 2]) if valid.any() else int(2 * day.messages["price"].max())
    c = (c // unit) * unit
    m = day.messages.copy()
    m["price"] = np.where(m["type"].isin([1, 2, 3, 4, 5]) & (m["price"] > 0), c - m["price"], m["price"])
    m["direction"] = -m["direction"]
    out = np.empty_like(ob)
    for j in range(day.levels):
        ap, asz, bp, bsz = ob[:, 4 * j], ob[:, 4 * j + 1], ob[:, 4 * j + 2], ob[:, 4 * j + 3]
        out[:, 4 * j] = np.where(bp == _DUMMY_BID, _DUMMY_ASK, c - bp)
        out[:, 4 * j + 1] = bsz
        out[:, 4 * j + 2] = np.where(ap == _DUMMY_ASK, _DUMMY_BID, c - ap)
        out[:, 4 * j + 3] = asz
    return LobsterDay(m, out, day.price_units_per_tick, name=f"{day.name}-mirrored", labels=dict(day.labels))


def time_split(data: pd.DataFrame, train_frac: float, time_col: str = "t_s") -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks ``(train, test)``: the first ``train_frac`` of the time span trains."""
    train_frac = check_fraction("train_frac", train_frac, allow_zero=False)
    if train_frac >= 1.0:
        raise ValueError(f"train_frac must be < 1, got {train_frac}")
    t = data[time_col].to_numpy()
    cut = t.min() + train_frac * (t.max() - t.min())
    return t < cut, t >= cut
