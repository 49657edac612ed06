"""Fit order revisions (the flow's ``revise_*``) to a recorded day.

A revision is a cancellation followed within ``window_s`` (10 ms) by a submission on the
same side (the same trader moving a quote: in the GOOG day the median delay is 0.25 ms and
75% keep the size). :func:`revision_statistics` measures, separately for cancellations at
their side's best and behind it, the share that is followed so, and the distribution of the
re-post's price move ``k`` (ticks, positive: more aggressive, clipped to
``+-MAX_REVISE_TICKS``), the revisions per second of the session and the median delay
between a revision's two messages (the flow's ``revise_delay_s``, an exponential's mean,
is that over ln 2).
:func:`revision_rates` turns those counts into the flow's rates per resting order
(``revise_best_per_s``, ``revise_deep_per_s``): the count per second over the number of
orders resting there, the visible shares over the mean submission size. The counts include
chance coincidences (a same-side submission within 10 ms of any message: about 2% of
messages in the GOOG day); with clustering the simulated flow produces some such pairs on
its own (19% of cancellations), and the simulated book rests orders beyond the recorded 10
levels, so ``refine_depth(revisions=True)`` refines the two rates by simulation against
the day's counts.
"""

from __future__ import annotations

import math

import numpy as np

from execgym.envs.market.data.lobster_data import LobsterDay
from execgym.envs.market.simulation.events import EventType
from execgym.envs.market.simulation.flow import MAX_REVISE_TICKS
from execgym.validation import check_positive

__all__ = ["REVISION_WINDOW_S", "revision_rates", "revision_statistics"]

#: a cancellation and a same-side submission at most this far apart (s) are one revision
REVISION_WINDOW_S = 0.01


def revision_statistics(day: LobsterDay, window_s: float = REVISION_WINDOW_S) -> dict:
    """The day's revisions (module docstring).

    :return: ``best_share`` and ``deep_share`` (cancellations at / behind their side's best
        followed within ``window_s`` by a same-side submission), ``best_probs`` and
        ``deep_probs`` (the re-posts' moves ``-MAX_REVISE_TICKS..MAX_REVISE_TICKS`` ticks,
        shares summing to 1; uniform weight on 0 when there is none), ``n_best`` and
        ``n_deep`` (the cancellations counted), ``best_per_s`` and ``deep_per_s`` (the
        revisions per second), ``median_delay_s``.
    :raises ValueError: if the day has no book or no cancellation in its session.
    """
    window_s = check_positive("window_s", window_s)
    if day.orderbook is None:
        raise ValueError(f"day {day.name!r} has no order book loaded: the best quotes are needed")
    m = day.messages
    kind = m["type"].to_numpy()
    side = m["direction"].to_numpy()
    t = m["time_s"].to_numpy(np.float64)
    price = m["price"].to_numpy(np.int64) // day.price_units_per_tick  # ticks
    s = day.book_levels()
    cancels = np.flatnonzero(np.isin(kind, [int(EventType.CANCELLATION), int(EventType.DELETION)])
                             & (t >= day.start_s) & (t < day.end_s))
    cancels = cancels[cancels > 0]
    if len(cancels) == 0:
        raise ValueError(f"day {day.name!r} has no cancellation in its session")
    best = np.where(side[cancels] > 0, s.bid_price_ticks[cancels - 1, 0], s.ask_price_ticks[cancels - 1, 0])
    ok = np.where(side[cancels] > 0, s.bid_ok[cancels - 1, 0], s.ask_ok[cancels - 1, 0])
    at_best = ok & (price[cancels] == best)
    followed = np.zeros(len(cancels), dtype=bool)
    move = np.zeros(len(cancels), dtype=np.int64)
    delay = np.zeros(len(cancels))
    for direction in (1, -1):
        subs = np.flatnonzero((kind == int(EventType.SUBMISSION)) & (side == direction))
        mine = np.flatnonzero(side[cancels] == direction)
        pos = np.searchsorted(subs, cancels[mine], side="right")  # the next same-side submission
        has = pos < len(subs)
        nxt = subs[np.minimum(pos, len(subs) - 1)]
        hit = has & (t[nxt] - t[cancels[mine]] <= window_s)
        followed[mine] = hit
        move[mine] = np.where(hit, (price[nxt] - price[cancels[mine]]) * direction, 0)
        delay[mine] = t[nxt] - t[cancels[mine]]
    out = {"median_delay_s": float(np.median(delay[followed])) if followed.any() else 0.0}
    for name, mask in (("best", at_best), ("deep", ~at_best)):
        n = int(mask.sum())
        k = np.clip(move[mask & followed], -MAX_REVISE_TICKS, MAX_REVISE_TICKS) + MAX_REVISE_TICKS
        counts = np.bincount(k, minlength=2 * MAX_REVISE_TICKS + 1).astype(np.float64)
        if counts.sum() == 0:
            counts[MAX_REVISE_TICKS] = 1.0
        out[f"{name}_share"] = float(followed[mask].mean()) if n else 0.0
        out[f"{name}_probs"] = counts / counts.sum()
        out[f"n_{name}"] = n
        out[f"{name}_per_s"] = float((mask & followed).sum()) / day.duration_s
    return out


def revision_rates(day: LobsterDay, mean_limit_size_shares: float, stats: dict | None = None) -> dict:
    """First guesses of ``revise_best_per_s``, ``revise_deep_per_s`` and ``revise_delay_s`` (module docstring):
    the day's revisions per second at / behind the best over the time-averaged number of
    orders resting there (the visible shares at the touch / at the recorded levels behind
    it, both sides, over ``mean_limit_size_shares``)."""
    mean_limit_size_shares = check_positive("mean_limit_size_shares", mean_limit_size_shares)
    stats = revision_statistics(day) if stats is None else stats
    s = day.book_levels()
    t = day.messages["time_s"].to_numpy(np.float64)
    hold = np.diff(np.r_[t, day.end_s])
    inside = (t >= day.start_s) & (t < day.end_s)
    w = np.where(inside, hold, 0.0)
    touch = (s.bid_size_shares[:, 0] + s.ask_size_shares[:, 0]).astype(np.float64)
    behind = (s.bid_size_shares[:, 1:].sum(axis=1) + s.ask_size_shares[:, 1:].sum(axis=1)).astype(np.float64)
    orders_best = max(np.average(touch, weights=w) / mean_limit_size_shares, 1e-9)
    orders_deep = max(np.average(behind, weights=w) / mean_limit_size_shares, 1e-9)
    return {"revise_best_per_s": stats["best_per_s"] / orders_best,
            "revise_deep_per_s": stats["deep_per_s"] / orders_deep if behind.any() else 0.0,
            "revise_delay_s": stats["median_delay_s"] / math.log(2.0)}
