"""Fit quotes that follow the last change (the flow's ``inside_follow_*``) to a recorded day.

Which side a new quote inside the spread goes to depends on the book's last change: in the
GOOG day (2012-06-21), within 100 ms of a submission that improved a side's best 80-85% of
the next improvements are on that side again (quotes outbidding each other, a side's best
climbing tick by tick), 53-55% after 100 ms; within a millisecond of a cancellation that
worsened a side's best 94% re-improve that side (the cancellation was half of a revision),
71-75% up to a second, 56% beyond; after a market order that cleared a side's best, 59%
within a millisecond, about half later. A zero-intelligence flow picks each quote's side by
a coin (50% everywhere).

:func:`follow_statistics` replays the day's top of book: before each message, the side whose
best changed last (only changes of exactly one side count), by which kind of message
(:data:`~execgym.envs.market.simulation.flow.FOLLOW_KINDS`: a submission; a cancellation or
deletion; an execution) and how long ago; for each submission strictly inside the spread, of
a two-sided book of at least two ticks, whether it is on that side. The share per kind and
gap bucket is the flow's probability: the flow applies it to every new order that ends
inside the spread, so the simulated share is the configured one (no refinement).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from execgym.envs.market.data.lobster_data import LobsterDay
from execgym.envs.market.simulation.events import EventType
from execgym.envs.market.simulation.flow import FOLLOW_KINDS, MAX_FOLLOW_GAPS

__all__ = ["FOLLOW_GAPS_S", "MIN_FOLLOW_SAMPLES", "follow_statistics"]

#: the gap buckets' lower bounds (s): a millisecond, ten, a hundred, a second
FOLLOW_GAPS_S = (0.0, 0.001, 0.01, 0.1, 1.0)
#: fewest submissions in a bucket to measure its share (else 0.5: a coin)
MIN_FOLLOW_SAMPLES = 30

_KIND = {int(EventType.SUBMISSION): 0, int(EventType.CANCELLATION): 1, int(EventType.DELETION): 1,
         int(EventType.EXECUTION_VISIBLE): 2}


def follow_statistics(day: LobsterDay, gaps_s: tuple[float, ...] = FOLLOW_GAPS_S) -> dict:
    """Per kind of the last change and gap bucket, the share of inside submissions on the
    side that changed (module docstring).

    :return: ``table``, a frame indexed by (kind, gap bucket's lower bound in s) with
        ``n_submissions`` and ``same_side_share``; ``samples``, one row per inside submission
        (``kind``, ``gap_s``, ``changed_side`` +1 bid / -1 ask, ``same_side``); ``gaps_s``;
        ``probs``, the shares kind-major (0.5 where a bucket has fewer than
        :data:`MIN_FOLLOW_SAMPLES`), as the flow's ``inside_follow_probs``.
    """
    gaps = np.asarray(gaps_s, dtype=np.float64)
    if (gaps.ndim != 1 or not (1 <= len(gaps) <= MAX_FOLLOW_GAPS) or not np.all(np.isfinite(gaps)) or gaps[0] != 0.0
            or np.any(np.diff(gaps) <= 0)):
        raise ValueError(f"gaps_s must hold 1-{MAX_FOLLOW_GAPS} increasing times (s) from 0, got {gaps_s!r}")
    if day.orderbook is None:
        raise ValueError(f"day {day.name!r} has no order book loaded: the best quotes are needed")
    book = day.book_levels()
    m = day.messages
    t = m["time_s"].to_numpy()
    types = m["type"].to_numpy()
    direction = m["direction"].to_numpy()
    bid = np.where(book.bid_ok[:, 0], book.bid_price_ticks[:, 0], -1).astype(np.int64)
    ask = np.where(book.ask_ok[:, 0], book.ask_price_ticks[:, 0], -1).astype(np.int64)
    n = len(m)
    bid_moved = np.r_[False, bid[1:] != bid[:-1]]
    ask_moved = np.r_[False, ask[1:] != ask[:-1]]
    kind = np.array([_KIND.get(int(x), -1) for x in types], dtype=np.int64)
    changed = (bid_moved != ask_moved) & (kind >= 0)
    # the last change before each message: carry the index of the latest changing row forward
    last = np.where(changed, np.arange(n), -1)
    last = np.maximum.accumulate(last)
    before = np.r_[-1, last[:-1]]  # the latest change strictly before each message
    rows = np.arange(1, n)
    rows = rows[(types[rows] == EventType.SUBMISSION) & (t[rows] >= day.start_s) & (t[rows] < day.end_s)
                & (before[rows] >= 0)]
    price = m["price"].to_numpy(np.int64)[rows] // day.price_units_per_tick
    bb, ba = bid[rows - 1], ask[rows - 1]
    inside = (bb >= 0) & (ba >= 0) & (ba - bb >= 2) & (price > bb) & (price < ba)
    rows = rows[inside]
    src = before[rows]
    bucket = np.searchsorted(gaps, t[rows] - t[src], side="right") - 1
    changed_side = np.where(bid_moved[src], 1, -1)
    samples = pd.DataFrame({"kind": np.asarray(FOLLOW_KINDS)[kind[src]], "gap_s": gaps[bucket],
                            "changed_side": changed_side, "same_side": direction[rows] == changed_side})
    index = pd.MultiIndex.from_product([FOLLOW_KINDS, gaps.tolist()], names=["kind", "gap_s"])
    grouped = samples.groupby(["kind", "gap_s"])["same_side"]
    table = pd.DataFrame({"n_submissions": grouped.size(), "same_side_share": grouped.mean()}).reindex(index)
    table["n_submissions"] = table["n_submissions"].fillna(0).astype(np.int64)
    probs = np.where(table["n_submissions"] >= MIN_FOLLOW_SAMPLES, table["same_side_share"], 0.5)
    return {"table": table, "samples": samples, "gaps_s": tuple(float(g) for g in gaps),
            "probs": tuple(float(p) for p in probs)}
