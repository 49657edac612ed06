"""Synthetic order-book event streams with a realistic event mix, for stress tests and benchmarks.

:func:`synthetic_event_stream` generates ``n_events`` valid book events whose mix
matches the shared NASDAQ sample (GOOG, 2012-06-21): about 48% limit orders, most near
the touch and some marketable, 44% cancellations of resting orders, 8% market orders.
The book stays stationary: cancellations are chosen with a probability that rises with
the number of resting orders (``0.44 * n / target_orders``), so the book hovers around
``target_orders`` instead of growing without bound.

The stream is generated against a live book (so every cancel names an order that is
still resting) and can then be replayed into a fresh :class:`~execgym.envs.market.simulation.book.OrderBook`,
which reproduces that book exactly.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from execgym.envs.market.simulation import _book_kernels as K
from execgym.envs.market.simulation.book import OrderBook
from execgym.validation import check_int

__all__ = ["synthetic_event_stream"]


@njit(cache=True)
def _generate(rng, sc, lvl, orders, htab, fills, log, events, live, mid0, target_orders, n_warmup):
    n = events.shape[0]
    n_live = 0
    next_id = 1
    ev = np.zeros(K.N_E, dtype=np.int64)
    base = sc[K.S_BASE]
    i = 0
    while i < n:
        sc[K.S_N_FILLS] = 0
        bb = sc[K.S_BEST_BID]
        ba = sc[K.S_BEST_ASK]
        bid = base + bb if bb >= 0 else mid0 - 1
        ask = base + ba if ba < sc[K.S_N_LEVELS] else mid0 + 1
        u = rng.random()
        p_cancel = 0.44 * n_live / target_orders
        if p_cancel > 0.66:
            p_cancel = 0.66
        if i < n_warmup:
            etype = K.EV_LIMIT
        elif u < 0.08 and n_live > 0:
            etype = K.EV_MARKET
        elif u < 0.08 + p_cancel and n_live > 0:
            etype = K.EV_CANCEL
        else:
            etype = K.EV_LIMIT
        ev[K.E_TIME] = i * 1000
        ev[K.E_OWNER] = 0
        if etype == K.EV_CANCEL:
            # pick a resting order; drop ids that were filled meanwhile
            while True:
                j = rng.integers(0, n_live)
                oid = live[j]
                if K.h_find(htab, orders, oid) != -1:
                    break
                n_live -= 1
                live[j] = live[n_live]
                if n_live == 0:
                    break
            if n_live == 0:
                continue
            ev[K.E_TYPE] = K.EV_CANCEL
            ev[K.E_ID] = oid
            ev[K.E_SIDE] = 0
            ev[K.E_PRICE] = 0
            # mostly full deletions, sometimes partial cancellations
            ev[K.E_SIZE] = 0 if rng.random() < 0.9 else 1
            live[j] = live[n_live - 1]
            if ev[K.E_SIZE] == 0:
                n_live -= 1
            else:
                live[n_live - 1] = oid
        else:
            direction = 1 if rng.random() < 0.5 else -1
            ev[K.E_ID] = next_id
            ev[K.E_SIDE] = direction
            if etype == K.EV_MARKET:
                ev[K.E_TYPE] = K.EV_MARKET
                ev[K.E_PRICE] = 0
                ev[K.E_SIZE] = 1 + rng.integers(0, 40)
            else:
                ev[K.E_TYPE] = K.EV_LIMIT
                ev[K.E_SIZE] = 1 + rng.integers(0, 200)
                # 5% marketable (up to one tick through the opposite touch); otherwise
                # passive at a geometric distance (mean ~2 ticks) behind the own-side touch
                if rng.random() < 0.05:
                    price = ask + rng.integers(0, 2) if direction > 0 else bid - rng.integers(0, 2)
                else:
                    d = np.int64(-np.log(1.0 - rng.random()) * 2.0)
                    price = bid - d if direction > 0 else ask + d
                if price < 1:
                    price = 1
                ev[K.E_PRICE] = price
            next_id += 1
        events[i, :] = ev
        _, st = K.process(sc, lvl, orders, htab, fills, log, events[i : i + 1], 0)
        if st != K.OK:
            return i, st
        if etype == K.EV_LIMIT and K.h_find(htab, orders, ev[K.E_ID]) != -1:
            live[n_live] = ev[K.E_ID]
            n_live += 1
        i += 1
    return i, K.OK


def synthetic_event_stream(
    n_events: int,
    rng: np.random.Generator,
    mid_price_ticks: int = 100_000,
    target_orders: int = 1_000,
) -> np.ndarray:
    """An ``(n_events, 7)`` event array (:data:`~execgym.envs.market.simulation.book.EVENT_FIELDS`).

    The first ``target_orders`` events are passive limit orders that build the book;
    after that the mix is ~48% limit, ~44% cancel, ~8% market orders (module docstring).
    Events are 1 microsecond apart. The same ``rng`` state gives the same stream.

    :param n_events: number of events (>= 1).
    :param rng: the random source.
    :param mid_price_ticks: initial mid price (ticks).
    :param target_orders: the number of resting orders the book hovers around.
    """
    n_events = check_int("n_events", n_events, minimum=1)
    target_orders = check_int("target_orders", target_orders, minimum=1)
    mid = check_int("mid_price_ticks", mid_price_ticks, minimum=1000)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    capacity = 1 << max(12, int(4 * target_orders).bit_length())
    book = OrderBook(n_levels=1 << 16, base_price_ticks=max(1, mid - (1 << 15)), capacity=capacity,
                     log_events=False, fill_capacity=capacity + 2)
    events = np.zeros((n_events, K.N_E), dtype=np.int64)
    live = np.zeros(capacity, dtype=np.int64)
    done, status = _generate(rng, *book.arrays, events, live, mid, target_orders, min(target_orders, n_events))
    if status != K.OK:  # pragma: no cover - the generator only emits valid events
        raise RuntimeError(f"synthetic stream generation stopped at event {done} with status {status}")
    return events
