"""A simulated trading day in LOBSTER's format: the one way to simulate a :class:`LobsterDay`.

:func:`simulate_day` runs :class:`~execgym.envs.market.simulation.simulator.MarketSimulator` with its event log
on (and, optionally, an agent acting through the simulator's agent-order API between its
steps) and returns what LOBSTER would have recorded of that market as a
:class:`~execgym.envs.market.data.lobster_data.LobsterDay`: one message per book event (submission,
partial cancellation, deletion, visible execution) and the top ``levels`` price levels of
the book after each message. Real and simulated days then go through exactly the same code
(calibration, stylised facts, microstructure analytics).

The order-book file is rebuilt by :func:`book_snapshots`, which replays the simulator's
complete log (warm-up included) into an empty book in one numba loop, so every row is exact
(:mod:`benchmarks.bench_book_snapshots` compares it with replaying event by event through
:meth:`~execgym.envs.market.simulation.book.OrderBook.process`).

Like LOBSTER's level-``L`` files, the message file holds only the messages within the top
``levels`` occupied price levels of their side (:func:`top_level_messages`): a submission
whose price is among them after it, a cancellation or execution whose price was among them
before it. The rest of the book's events (e.g. orders placed and cancelled deep in the book)
are replayed but not recorded, as LOBSTER does not record them; ``all_messages=True``
records every event instead (what a model's own calibration may want).

Conventions are LOBSTER's (:mod:`execgym.envs.market.data.lobster`): times in seconds after midnight
(the session opens at ``open_time_s``, 09:30 = 34200 s), prices in dollars x 10000,
``direction`` +1 for a buy limit order (for an execution, the side of the resting order,
so the trade sign is ``-direction``), empty levels with the dummy prices +-9999999999 and
size 0.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Protocol

import numpy as np
import pandas as pd
from numba import njit
from tqdm.auto import tqdm

from execgym.envs.market.data.lobster import MESSAGE_COLUMNS, messages_to_events
from execgym.envs.market.data.lobster_data import DUMMY_ASK, DUMMY_BID, OPEN_S, LobsterDay, units_per_tick
from execgym.envs.market.simulation import _book_kernels as K
from execgym.envs.market.simulation.book import OrderBook
from execgym.envs.market.simulation.events import BOOK_CHANGES
from execgym.envs.market.simulation.simulator import MarketSimulator, SimulatorConfig, StepReport
from execgym.validation import check_int, check_nonnegative, check_positive

logger = logging.getLogger(__name__)

__all__ = ["StepAgent", "book_snapshots", "simulate_day", "top_level_messages"]


class StepAgent(Protocol):
    """Something that acts in a :class:`MarketSimulator` between its time steps."""

    def act(self, sim: MarketSimulator, report: StepReport | None) -> None:
        """Submit/cancel through ``sim``'s agent-order API; ``report`` is the last step's (None first)."""


@njit(cache=True)
def _replay_rows(sc, lvl, orders, htab, fills, log, events, start, levels, unit, out, depth_buf):
    """Apply events one by one from ``start``, writing the top ``levels`` after each into ``out``
    as LOBSTER rows (prices in ``unit`` per tick, an empty level the dummy price and size 0).

    Returns ``(next_index, status)``; a non-OK status leaves event ``next_index`` unapplied.
    """
    n = events.shape[0]
    i = start
    last = 4 * (levels - 1)  # the deepest level's columns in a row
    while i < n:
        if sc[K.S_N_FILLS] > fills.shape[0] - 4 * (sc[K.S_N_ORDERS] + 2):
            sc[K.S_N_FILLS] = 0  # fills are not needed here: recycle the buffer
        # an event strictly beyond the row before's deepest level of its side, with that level
        # occupied, leaves the row as it was: a submission there (it cannot trade: a bid below
        # the deepest bid is below the best ask) or a cancellation or execution of an order
        # resting there (read before the event removes it); anything else writes the row afresh
        side = 0
        price = 0
        kind = events[i, K.E_TYPE]
        if i > 0 and kind == K.EV_LIMIT:
            side, price = events[i, K.E_SIDE], events[i, K.E_PRICE]
        elif i > 0 and (kind == K.EV_CANCEL or kind == K.EV_EXECUTE):
            slot = K.h_find(htab, orders, events[i, K.E_ID])
            if slot >= 0:
                side, price = orders[slot].side, orders[slot].price_ticks
        _, status = K.process(sc, lvl, orders, htab, fills, log, events[i : i + 1], 0)
        if status != K.OK:
            return i, status
        if (side > 0 and out[i - 1, last + 3] > 0 and price * unit < out[i - 1, last + 2]) or (
                side < 0 and out[i - 1, last + 1] > 0 and price * unit > out[i - 1, last]):
            out[i] = out[i - 1]
            i += 1
            continue
        K.depth(sc, lvl, levels, depth_buf)
        for j in range(levels):
            out[i, 4 * j] = depth_buf[2, j] * unit if depth_buf[3, j] > 0 else DUMMY_ASK
            out[i, 4 * j + 1] = depth_buf[3, j]
            out[i, 4 * j + 2] = depth_buf[0, j] * unit if depth_buf[1, j] > 0 else DUMMY_BID
            out[i, 4 * j + 3] = depth_buf[1, j]
        i += 1
    return i, K.OK


def book_snapshots(events: np.ndarray, levels: int, price_units_per_tick: int, tick_size: float = 0.01) -> np.ndarray:
    """Replay book ``events`` from an empty book; the top ``levels`` after each, as LOBSTER rows.

    :param events: ``(n, 7)`` events (:data:`~execgym.envs.market.simulation.book.EVENT_FIELDS`), e.g. from
        :func:`~execgym.envs.market.data.lobster.messages_to_events`; they must be complete (every order
        cancelled or executed was submitted before).
    :param levels: occupied price levels per side in each row.
    :param price_units_per_tick: LOBSTER price units per tick.
    :param tick_size: dollars per tick of the replay book.
    :return: int64 ``(n, 4 * levels)``: ask price, ask size, bid price, bid size per level
        (LOBSTER units; an empty level has the dummy price and size 0).
    :raises ValueError: for an event the book cannot apply (e.g. an unknown order id).
    """
    levels = check_int("levels", levels, minimum=1)
    unit = check_int("price_units_per_tick", price_units_per_tick, minimum=1)
    prices = events[:, K.E_PRICE][events[:, K.E_PRICE] > 0] if len(events) else events[:0, 0]
    book = OrderBook(tick_size=tick_size, log_events=False,
                     base_price_ticks=max(1, int(np.median(prices)) - (1 << 13)) if len(prices) else None)
    out = np.zeros((len(events), 4 * levels), dtype=np.int64)
    buf = np.zeros((4, levels), dtype=np.int64)
    i, refused = 0, None
    while i < len(events):
        i, status = _replay_rows(*book.arrays, events, i, levels, unit, out, buf)
        if status == K.OK:
            break
        refused = book.make_room_for(i, status, events[i], refused)
    return out


def _rows_after_each(raw: pd.DataFrame, levels: int, unit: int, tick_size: float) -> np.ndarray:
    """The book rows after each message of ``raw`` (``raw``'s prices in ticks; the rows in
    LOBSTER price units, ``unit`` per tick, as :func:`book_snapshots` gives them): those that
    change no visible book (hidden executions) repeat the row before them (an empty book's
    before the first change)."""
    changes = raw["type"].isin(BOOK_CHANGES).to_numpy()
    rows = book_snapshots(messages_to_events(raw, price_units_per_tick=1), levels, unit, tick_size)
    if changes.all():
        return rows
    before = np.cumsum(changes) - 1  # the last book change at or before each message
    out = rows[np.maximum(before, 0)]
    empty = before < 0
    out[empty] = 0
    out[empty, 0::4], out[empty, 2::4] = DUMMY_ASK, DUMMY_BID  # an empty book's row
    return out


def top_level_messages(types: np.ndarray, prices: np.ndarray, directions: np.ndarray,
                       rows: np.ndarray) -> np.ndarray:
    """Which messages a LOBSTER file of ``rows``' levels holds: a mask over the messages.

    A submission (type 1) is kept when its price is among its side's occupied levels in the
    row after it; a partial cancellation, deletion or visible execution (types 2-4) when its
    price was among them in the row before it (nothing before the first message). Other
    types (hidden executions, cross trades, halts) are kept.

    :param types: LOBSTER event types, one per message.
    :param prices: the messages' prices (LOBSTER units, as in ``rows``).
    :param directions: +1 for a buy (bid-side) order, -1 for a sell.
    :param rows: ``(n, 4 L)`` order-book rows after each message (:func:`book_snapshots`).
    """
    types, prices, directions, rows = (np.asarray(a) for a in (types, prices, directions, rows))
    n = len(types)
    if not (len(prices) == len(directions) == len(rows) == n):
        raise ValueError(f"types, prices, directions and rows must have one length, got {len(types)}, "
                         f"{len(prices)}, {len(directions)}, {len(rows)}")
    if rows.ndim != 2 or rows.shape[1] % 4:
        raise ValueError(f"rows must be (n, 4 * levels) order-book rows, got shape {rows.shape}")
    for name, a in (("types", types), ("prices", prices), ("directions", directions), ("rows", rows)):
        if a.dtype.kind not in "iu":
            raise TypeError(f"{name} must hold integers (LOBSTER types, units and directions), got dtype {a.dtype}")
    as_int = (np.ascontiguousarray(a, dtype=np.int64) for a in (types, prices, directions, rows))
    return _top_level_mask(*as_int)


@njit(cache=True)
def _top_level_mask(types, prices, directions, rows):
    """:func:`top_level_messages` on int64 arrays: one pass, each message's side of one row."""
    n = types.shape[0]
    levels = rows.shape[1] // 4
    kept = np.ones(n, dtype=np.bool_)
    for i in range(n):
        if types[i] == 1:
            r = i  # the row after a submission
        elif 2 <= types[i] <= 4:
            r = i - 1  # the row before a removal (none before the first message)
        else:
            continue
        col = 2 if directions[i] > 0 else 0  # bid prices for a buy order
        within = False
        if r >= 0:
            for j in range(levels):
                if rows[r, 4 * j + col] == prices[i] and rows[r, 4 * j + col + 1] > 0:
                    within = True
                    break
        kept[i] = within
    return kept


def simulate_day(
    config: SimulatorConfig,
    rng: np.random.Generator,
    duration_s: float,
    dt_s: float = 1.0,
    levels: int = 10,
    agent: StepAgent | None = None,
    name: str = "simulated",
    open_time_s: float = OPEN_S,
    progress: bool = False,
    all_messages: bool = False,
) -> LobsterDay:
    """Simulate ``duration_s`` seconds of ``config``'s market and return it as LOBSTER would record it.

    The market starts at ``config.start_of_day_s`` seconds into the session, after its
    warm-up, whose messages are replayed into the book but not returned. The day's session
    is ``[open_time_s + start_of_day_s, ... + duration_s]``.

    :param config: the market (its ``log_events`` is switched on here).
    :param rng: the source of every random number.
    :param duration_s: seconds simulated after the warm-up.
    :param dt_s: the simulator's step (s): ``duration_s`` is run in whole steps and a last
        shorter one for any remainder; ``agent.act`` is called before the first and after
        every step.
    :param levels: order-book levels per side recorded after each message.
    :param agent: acts through the simulator's agent-order API; its ``labels`` attribute
        (if any) is copied into :attr:`LobsterDay.labels`.
    :param name: the day's label.
    :param open_time_s: session open, seconds after midnight (LOBSTER's clock).
    :param progress: show a progress bar over the steps.
    :param all_messages: record every book event, not only those within the top ``levels``
        (the LOBSTER convention, :func:`top_level_messages`).
    """
    if not isinstance(config, SimulatorConfig):
        raise TypeError(f"config must be a SimulatorConfig, got {type(config).__name__}")
    duration_s = check_positive("duration_s", duration_s)
    dt_s = check_positive("dt_s", dt_s)
    levels = check_int("levels", levels, minimum=1)
    check_nonnegative("open_time_s", open_time_s)
    unit = units_per_tick(config.tick_size)
    if not config.log_events:
        config = dataclasses.replace(config, log_events=True)
    sim = MarketSimulator(config, rng)
    n_full = int(np.floor(duration_s / dt_s + 1e-9))
    rest = duration_s - n_full * dt_s
    steps = [dt_s] * n_full + ([rest] if rest > 1e-9 * dt_s else [])
    if agent is not None:
        agent.act(sim, None)
    for step_s in tqdm(steps, disable=not progress, desc="simulating", unit="step"):
        report = sim.advance(step_s)
        if agent is not None:
            agent.act(sim, report)
    log = sim.book.event_log()
    t = log["time"].to_numpy()
    raw = pd.DataFrame({"time_s": t, "type": log["type"].to_numpy(), "order_id": log["order_id"].to_numpy(),
                        "size_shares": log["size"].to_numpy(), "price": log["price"].to_numpy(),
                        "direction": log["direction"].to_numpy()}, columns=list(MESSAGE_COLUMNS))
    rows = _rows_after_each(raw, levels, unit, config.tick_size)
    session = t >= config.start_of_day_s - 1e-9
    kept = session if all_messages else session & top_level_messages(
        raw["type"].to_numpy(), raw["price"].to_numpy() * unit, raw["direction"].to_numpy(), rows)
    messages = raw[kept].reset_index(drop=True)
    messages["time_s"] = open_time_s + messages["time_s"].to_numpy()
    messages["price"] = messages["price"].to_numpy() * unit
    labels = dict(getattr(agent, "labels", {}) or {}) if agent is not None else {}
    start_s = open_time_s + config.start_of_day_s
    logger.info("simulated day %s: %d messages over %.0f s (%s)", name, len(messages), duration_s,
                "every event" if all_messages else f"those within the top {levels} levels")
    return LobsterDay(messages, rows[kept], unit, name=name, labels=labels, start_s=start_s,
                      end_s=start_s + duration_s)
