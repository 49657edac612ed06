"""Views of a LOBSTER day that the microstructure analytics share: quotes and executions.

Every analytic reads a :class:`~execgym.envs.market.data.lobster_data.LobsterDay`: real ones from
:func:`~execgym.envs.market.data.lobster_data.load_lobster` (or built from
:func:`~execgym.envs.market.data.lobster.read_messages` / ``read_orderbook``), simulated ones, with an
optional agent acting in the market, from :func:`~execgym.envs.market.data.simulated_day.simulate_day`.
This module adds the views they share: the quote prevailing at each message, the
executions with their true sign, the mirrored day (buys and sells exchanged) and a
train/test split in time.

Conventions (LOBSTER's): message type 1 submission, 2 partial cancel, 3 deletion, 4 visible
execution, 5 hidden execution; ``direction`` is the side of the *resting* limit order, so
an execution's aggressor (the trade sign) is ``-direction``. Order-book row ``k`` is the
book after message ``k``; the quote prevailing at message ``k`` is row ``k - 1``.
"""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np
import pandas as pd

from execgym.envs.market.data.lobster import MESSAGE_COLUMNS
from execgym.envs.market.data.lobster_data import DUMMY_ASK, DUMMY_BID, LobsterDay
from execgym.envs.market.simulation.events import BOOK_CHANGES, EventType
from execgym.validation import check_fraction

logger = logging.getLogger(__name__)

__all__ = ["executions", "marketable_orders", "mirror_day", "prevailing_quotes", "time_split"]


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
    s, unit = day.book_levels(), day.price_units_per_tick
    ask = np.where(s.ask_ok[:, 0], s.ask_price_ticks[:, 0] * unit, np.nan)
    bid = np.where(s.bid_ok[:, 0], s.bid_price_ticks[:, 0] * unit, np.nan)
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
    types = (EventType.EXECUTION_VISIBLE, EventType.EXECUTION_HIDDEN) if hidden else (EventType.EXECUTION_VISIBLE,)
    mask = msgs["type"].isin(types).to_numpy()
    q = prevailing_quotes(day, quote_lag_s)
    ex = msgs.loc[mask, ["time_s", "type", "price", "size_shares"]].copy()
    ex.insert(0, "msg_index", np.flatnonzero(mask))
    ex["sign"] = -msgs.loc[mask, "direction"].to_numpy()
    for c in ("bid", "ask", "mid"):
        ex[c] = q[c].to_numpy()[mask]
    return ex.reset_index(drop=True)


def marketable_orders(messages: pd.DataFrame, start_s: float = -math.inf, end_s: float = math.inf) -> pd.DataFrame:
    """Visible executions grouped into marketable orders.

    Consecutive type-4 messages with the same time stamp and resting side are one order.
    :return: columns ``msg_index`` (the row of its first execution in ``messages``; the book
        before it is the row before), ``time_s``, ``sign`` (+1 buyer-initiated, -1
        seller-initiated), ``size_shares``, ``n_fills``, ``first_price``, ``last_price``
        (LOBSTER units).
    """
    mask = ((messages["type"] == EventType.EXECUTION_VISIBLE) & (messages["time_s"] >= start_s)
            & (messages["time_s"] < end_s)).to_numpy()
    ex = messages[mask]
    t = ex["time_s"].to_numpy()
    direction = ex["direction"].to_numpy()
    new = np.ones(len(ex), dtype=bool)
    new[1:] = (t[1:] != t[:-1]) | (direction[1:] != direction[:-1])
    group = np.cumsum(new) - 1
    price = ex["price"].to_numpy()
    return pd.DataFrame({
        "msg_index": np.flatnonzero(mask)[new],
        "time_s": t[new],
        "sign": -direction[new],
        "size_shares": np.bincount(group, weights=ex["size_shares"].to_numpy()).astype(np.int64),
        "n_fills": np.bincount(group).astype(np.int64),
        "first_price": price[new],
        "last_price": price[np.r_[np.flatnonzero(new)[1:] - 1, len(ex) - 1]] if len(ex) else price[new],
    })


def mirror_day(day: LobsterDay) -> LobsterDay:
    """The same day with buys and sells exchanged: prices reflected about twice the first mid.

    Every message keeps its time, id and size; its price ``p`` becomes ``c - p`` and its
    direction flips; ask and bid columns of the order book swap accordingly. Analytics
    that treat the two sides symmetrically give mirrored answers on it (tested).
    """
    unit = day.price_units_per_tick
    ob = day.orderbook
    valid = (np.abs(ob[:, 0]) < DUMMY_ASK) & (np.abs(ob[:, 2]) < DUMMY_ASK)
    first = int(np.argmax(valid)) if valid.any() else 0
    c = int(ob[first, 0] + ob[first, 2]) if valid.any() else int(2 * day.messages["price"].max())
    c = (c // unit) * unit
    m = day.messages[list(MESSAGE_COLUMNS)].copy()  # typed columns (if loaded) would go stale
    m["price"] = np.where(m["type"].isin((*BOOK_CHANGES, EventType.EXECUTION_HIDDEN)) & (m["price"] > 0), c - m["price"], m["price"])
    m["direction"] = -m["direction"]
    out = np.empty_like(ob)
    for j in range(day.levels):
        ap, asz, bp, bsz = ob[:, 4 * j], ob[:, 4 * j + 1], ob[:, 4 * j + 2], ob[:, 4 * j + 3]
        out[:, 4 * j] = np.where(bp == DUMMY_BID, DUMMY_ASK, c - bp)
        out[:, 4 * j + 1] = bsz
        out[:, 4 * j + 2] = np.where(ap == DUMMY_ASK, DUMMY_BID, c - ap)
        out[:, 4 * j + 3] = asz
    return dataclasses.replace(day, messages=m, orderbook=out, name=f"{day.name}-mirrored", labels=dict(day.labels))


def time_split(data: pd.DataFrame, train_frac: float, time_col: str = "t_s") -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks ``(train, test)``: the first ``train_frac`` of the time span trains."""
    train_frac = check_fraction("train_frac", train_frac, allow_zero=False)
    if train_frac >= 1.0:
        raise ValueError(f"train_frac must be < 1, got {train_frac}")
    t = data[time_col].to_numpy()
    cut = t.min() + train_frac * (t.max() - t.min())
    return t < cut, t >= cut
