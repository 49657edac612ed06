"""A simulated trading day in LOBSTER's format: message file and order-book file.

:func:`simulate_lobster_day` runs :class:`~envs.market.simulator.MarketSimulator` with its
event log on and returns what LOBSTER would have recorded of that market: one message per
book event (submission, partial cancellation, deletion, visible execution) and the top
``levels`` occupied price levels of the book after each message. Real and simulated days
can then go through exactly the same code (calibration, stylised facts).

Conventions are LOBSTER's (:mod:`envs.market.lobster`): times in seconds after midnight
(the session opens at ``open_time_s``, 09:30 = 34200 s), prices in dollars x 10000,
``direction`` +1 for a buy limit order (for an execution, the side of the resting order),
empty levels with the dummy prices +-9999999999 and size 0.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from envs.market.book import OrderBook
from envs.market.lobster import MESSAGE_COLUMNS, PRICE_SCALE, messages_to_events
from envs.market.simulator import MarketSimulator, SimulatorConfig
from envs.market.validation import check_int, check_nonnegative, check_positive

logger = logging.getLogger(__name__)

__all__ = ["DUMMY_ASK", "DUMMY_BID", "book_snapshots", "price_units_per_tick", "simulate_lobster_day"]

DUMMY_ASK, DUMMY_BID = 9_999_999_999, -9_999_999_999


def price_units_per_tick(tick_size: float) -> int:
    """LOBSTER price units (dollars x 10000) per tick of ``tick_size`` dollars."""
    units = check_positive("tick_size", tick_size) * PRICE_SCALE
    if abs(units - round(units)) > 1e-9 or round(units) < 1:
        raise ValueError(f"tick_size={tick_size!r} is not a whole number of LOBSTER price units (1e-4 dollars)")
    return int(round(units))


def book_snapshots(events: np.ndarray, levels: int, units_per_tick: int, tick_size: float = 0.01) -> np.ndarray:
    """Replay book ``events`` from an empty book; the top ``levels`` after each, as LOBSTER rows.

    :param events: ``(n, 7)`` events (:data:`~envs.market.book.EVENT_FIELDS`), e.g. from
        :func:`~envs.market.lobster.messages_to_events`; they must be complete (every order
        cancelled or executed was submitted before).
    :param levels: occupied price levels per side in each row.
    :param units_per_tick: LOBSTER price units per tick.
    :return: int64 ``(n, 4 * levels)``: ask price, ask size, bid price, bid size per level.
    """
    levels = check_int("levels", levels, minimum=1)
    units_per_tick = check_int("units_per_tick", units_per_tick, minimum=1)
    book = OrderBook(tick_size=tick_size, log_events=False)
    n = len(events)
    out = np.zeros((n, 4 * levels), dtype=np.int64)
    for i in range(n):
        book.process(events[i : i + 1])
        bid_p, bid_s, ask_p, ask_s = book.depth(levels)
        out[i, 0::4] = np.where(ask_s > 0, ask_p * units_per_tick, DUMMY_ASK)
        out[i, 1::4] = ask_s
        out[i, 2::4] = np.where(bid_s > 0, bid_p * units_per_tick, DUMMY_BID)
        out[i, 3::4] = bid_s
    return out


def simulate_lobster_day(config: SimulatorConfig, duration_s: float, rng: np.random.Generator, levels: int = 10,
                         open_time_s: float = 34_200.0, progress: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
    """Simulate ``duration_s`` seconds of ``config``'s market and record it as LOBSTER would.

    The market starts at ``config.start_of_day_s`` seconds into the session (after its
    warm-up, whose messages are replayed into the book but not returned).

    :param config: the market (its ``log_events`` is switched on here).
    :param duration_s: seconds simulated after the warm-up.
    :param rng: the source of every random number.
    :param levels: order-book levels per side recorded after each message.
    :param open_time_s: session open, seconds after midnight (LOBSTER's clock).
    :param progress: show a progress bar.
    :return: ``(messages, orderbook)``: a DataFrame with columns
        :data:`~envs.market.lobster.MESSAGE_COLUMNS` and the ``(n, 4 * levels)`` book rows.
    """
    duration_s = check_positive("duration_s", duration_s)
    check_nonnegative("open_time_s", open_time_s)
    units = price_units_per_tick(config.tick_size)
    sim = MarketSimulator(replace(config, log_events=True), rng)
    chunk_s = 60.0
    n_chunks = int(np.ceil(duration_s / chunk_s))
    for k in tqdm(range(n_chunks), disable=not progress, desc="simulating", unit="min"):
        sim.advance(min(chunk_s, duration_s - k * chunk_s))
    log = sim.book.event_log()
    messages = pd.DataFrame({
        "time_s": open_time_s + log["time"].to_numpy(),
        "type": log["type"].to_numpy(),
        "order_id": log["order_id"].to_numpy(),
        "size_shares": log["size"].to_numpy(),
        "price": log["price"].to_numpy() * units,
        "direction": log["direction"].to_numpy(),
    }, columns=list(MESSAGE_COLUMNS))
    logger.info("replaying %d simulated messages for the order-book file", len(messages))
    rows = book_snapshots(messages_to_events(messages, units), levels, units, config.tick_size)
    keep = messages["time_s"].to_numpy() >= open_time_s + config.start_of_day_s
    return messages[keep].reset_index(drop=True), rows[keep]
