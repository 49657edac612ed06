"""Fit market orders that take at most the queue they hit (the flow's ``market_queue_cap_frac``) to a recorded day.

Most real marketable orders are limited to the opposite best: in the GOOG day (2012-06-21)
59% of them are exactly the size of the visible queue they hit, 38% smaller and 4% larger
(they walk the book). A size drawn independently of the book walks it far more often (43%
of the simulated orders with the day's size table), and each walk opens a gap the refills
close again: the price moves in jumps the data does not show.

The flow draws a size ``S`` and, for a share ``c`` of the orders, takes ``min(S, q)`` with
``q`` the opposite best's queue. :func:`queue_statistics` measures each of the session's
marketable orders (grouped executions,
:func:`~execgym.envs.market.analysis.microstructure.frames.marketable_orders`) against the visible
queue before it. An order smaller than its queue, or larger (it was not capped), shows its
``S``; an order exactly the queue's size shows only ``S >= q``, i.e. ``S > q - 1`` in whole
shares: a right-censored sample, whose distribution of ``S`` is the Kaplan-Meier estimator
(``scipy.stats.ecdf``, censored at ``q - 1``; the mass beyond the largest size goes to it, or
to one share more if it is censored). The orders that walk are the uncapped ones with
``S > q``, so ``c = 1 - (share larger than the queue) / mean P(S > q)``, ``P`` the estimate
at each order's queue (exactly / (exactly + larger) would count every ``S = q``, common with
round lots against round-lot queues, as capped).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import CensoredData, ecdf

from execgym.envs.market.analysis.microstructure.frames import marketable_orders
from execgym.envs.market.data.lobster_data import LobsterDay

__all__ = ["queue_statistics"]


def queue_statistics(day: LobsterDay) -> dict:
    """The day's marketable orders against the queue they hit.

    :return: ``orders``, a frame with ``time_s``, ``sign`` (+1 buy), ``size_shares`` and
        ``queue_shares`` (the visible queue at the opposite best before the order; orders
        against an empty side or before the first book row are left out); the shares of
        orders ``exact_frac`` exactly the queue's size, ``walk_frac`` larger; ``cap_frac``,
        the share capped at the queue (module docstring); ``sizes_shares`` and
        ``size_probs``, the Kaplan-Meier distribution of the sizes before the cap.
    """
    if day.orderbook is None:
        raise ValueError(f"day {day.name!r} has no order book loaded: the queues at the best are needed")
    mo = marketable_orders(day.messages, day.start_s, day.end_s)
    first = mo["msg_index"].to_numpy()
    book = day.book_levels()
    before = np.maximum(first - 1, 0)
    # the queue it hit: a buy (sign +1) hits the ask
    queue = np.where(mo["sign"].to_numpy() > 0, book.ask_size_shares[before, 0], book.bid_size_shares[before, 0])
    keep = (first > 0) & (queue > 0)
    orders = pd.DataFrame({"time_s": mo["time_s"].to_numpy()[keep], "sign": mo["sign"].to_numpy()[keep],
                           "size_shares": mo["size_shares"].to_numpy()[keep],
                           "queue_shares": queue[keep].astype(np.int64)})
    if orders.empty:
        raise ValueError(f"day {day.name!r}: no marketable orders against a quoted side in the session")
    s, q = orders["size_shares"].to_numpy(), orders["queue_shares"].to_numpy()
    exact, walk = float(np.mean(s == q)), float(np.mean(s > q))
    # an order of exactly its queue shows S >= q, i.e. S > q - 1 (whole shares): right-censored at
    # q - 1, so that an S of exactly q (a round lot against a round-lot queue) is not lost
    km = ecdf(CensoredData(uncensored=s[s != q].astype(float), right=s[s == q].astype(float) - 1.0))
    values = km.sf.quantiles
    survival = km.sf.probabilities
    probs = -np.diff(np.r_[1.0, survival])
    if survival[-1] > 0:  # the largest size is censored (S > q - 1): the mass beyond it is at least q
        values, probs = np.r_[values, values[-1] + 1.0], np.r_[probs, survival[-1]]
    keep = probs > 0  # censored sizes without an event carry none
    values, probs = values[keep].astype(np.int64), probs[keep]
    # the uncapped share: the orders that walk over those whose S exceeds their queue, P(S > q)
    # from the estimate at each order's queue (exactly/larger alone would count S = q as capped)
    tail = np.r_[np.cumsum(probs[::-1])[::-1], 0.0]  # tail[i] = P(S >= values[i])
    over = float(tail[np.searchsorted(values, q, side="right")].mean())
    cap = 1.0 - walk / over if over > 0 else 1.0
    return {"orders": orders, "exact_frac": exact, "walk_frac": walk, "cap_frac": float(np.clip(cap, 0.0, 1.0)),
            "sizes_shares": values, "size_probs": probs}
