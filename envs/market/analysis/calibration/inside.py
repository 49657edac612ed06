"""Fit orders posted inside a wide spread (the flow's ``inside_*``) to a recorded day.

The wider the spread, the more new limit orders improve their side's best quote: in the GOOG
day (2012-06-21) 11-14% of the submissions while the spread is under 25 ticks, 19% at 30-40,
24% at 40-60, 54% at 60-100 and 68% beyond, by a median of 2-4 ticks (10-11 beyond 60
ticks); half of them are cancelled within a second (32% within 10 ms; the other
submissions: 35% and 10%). In the opening minutes, when the spread is 80-100 ticks, half the
submissions and half the cancellations move the mid, 13 times a second: that is the
opening's volatility (1-s returns of 24 ticks' standard deviation against 3 at midday).

:func:`inside_statistics` measures, per spread bucket (the spread before each submission,
two-sided books of at least two ticks), the share of submissions priced strictly inside the
spread, and the quantiles of their improvement as a fraction of the spread
(``(price - best bid) / spread`` for a buy). The flow's probabilities are the extra
submissions it must post inside on top of those its depth profile already puts there: with
the opposite-best anchor a profile order at distance ``d`` is inside a spread ``s`` if
``d < s``, so a bucket's share from the profile is ``q = mean P(d <= s - 1)`` over the day's
submissions in it, and the first guess (:func:`inside_probs`) is ``p = (R - q) / (1 - q)``
for the day's share ``R``; ``refine_depth(inside=True)`` solves for them by simulation.

Orders posted inside a wide spread flicker: ``fleeting_fracs`` is, per bucket, the excess
share of them deleted within :data:`FLICKER_S` over the other submissions' share,
``(a - b) / (1 - b)`` (GOOG: a = b = 0.3 while the spread is under 20 ticks; a = 0.84,
b = 0.50 at 67-98 ticks, so 0.68; the flow's clustering already withdraws some of every
kind), and ``life_s`` the median time to deletion of those deleted within :data:`FLICKER_S`
over ln 2 (an exponential's mean). With their whole lives instead (``lives=True`` in the
calibration): ``deleted_fracs`` is, per bucket, the share of the orders posted inside that are
deleted at all (GOOG: 81% overall; the rest are executed or outlive the session), and
``life_quantiles_s`` the quantiles of their lives at levels ``i / (n - 1)`` (median 0.73 s
over every order posted inside, 3 ms at the first quartile), clipped to ``[MIN_LIFE_S, the
session]``: the flow withdraws that share of them after such a life, unless it was executed
first, whatever else cancels the others. The day's market orders take some of them, the
more and the sooner the further the quote goes into the spread: ``taken_fracs`` is, per
bucket of the improvement as a fraction of the spread (``take_edges``, :data:`TAKE_EDGES`),
the share of the orders posted inside whose first fate is an execution (GOOG: 6% at up to
5% of the spread, 36% at 30-50%, 72% beyond 70%), ``take_quantiles_s`` the quantiles of
the delay to it, per bucket (medians 2.6 s, 0.7 s, under a millisecond), and
``untaken_deleted_fracs`` the share deleted (per spread bucket) of the others, which the
flow withdraws once it has drawn its takes.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from execgym.envs.market.data.lobster_data import LobsterDay, price_vs_best
from execgym.envs.market.simulation.events import EventType
from execgym.envs.market.simulation.flow import (
    MAX_INSIDE_QUANTILES,
    MAX_SPREAD_BUCKETS,
    MAX_TAKE_BUCKETS,
    MAX_TAKE_QUANTILES,
)
from execgym.validation import check_int

__all__ = ["FLICKER_S", "INSIDE_QUANTILES", "MIN_LIFE_S", "MAX_INSIDE_PROB", "TAKE_EDGES", "inside_buckets", "inside_probs", "inside_statistics",
           "submissions_in_spread"]

#: a submission deleted within this many seconds counts as a flicker
FLICKER_S = 1.0
#: the shortest life (s) of a quote's life table (the file's clock has nanoseconds; a
#: deletion at the submission's timestamp would be a life of 0)
MIN_LIFE_S = 1e-6
#: the largest inside probability (some orders must still rest behind the best)
MAX_INSIDE_PROB = 0.95

#: the improvement buckets (lower bounds, fractions of the spread) of the takes
TAKE_EDGES = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7)

#: the submissions' spread quantiles that bound the buckets: deciles, then the wide tail
INSIDE_QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.995)


def submissions_in_spread(day: LobsterDay) -> pd.DataFrame:
    """The session's submissions with a two-sided book of at least two ticks before them:
    ``spread_ticks``, ``improvement_ticks`` (ticks better than their side's best; positive:
    inside the spread), ``life_s`` (until the order's deletion; infinite if it is not
    deleted in the file) and ``taken_s`` (until its first visible execution; infinite if it
    has none)."""
    if day.orderbook is None:
        raise ValueError(f"day {day.name!r} has no order book loaded: the best quotes are needed")
    m = day.messages
    kind = m["type"].to_numpy()
    t = m["time_s"].to_numpy(np.float64)
    s = day.book_levels()
    rows = np.flatnonzero((kind == int(EventType.SUBMISSION)) & (t >= day.start_s) & (t < day.end_s))
    rows = rows[rows > 0]
    before = rows - 1
    ok = s.bid_ok[before, 0] & s.ask_ok[before, 0]
    rows, before = rows[ok], before[ok]
    bid, ask = s.bid_price_ticks[before, 0], s.ask_price_ticks[before, 0]
    spread = ask - bid
    wide = spread >= 2
    rows, spread = rows[wide], spread[wide]
    improvement = price_vs_best(day)[0][rows]
    ids = m["order_id"].to_numpy()
    life = _first(ids, t, kind == int(EventType.DELETION), rows)
    taken = _first(ids, t, kind == int(EventType.EXECUTION_VISIBLE), rows)
    return pd.DataFrame({"spread_ticks": spread, "improvement_ticks": improvement, "life_s": life, "taken_s": taken})


def _first(ids: np.ndarray, t: np.ndarray, is_event: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For the orders submitted at ``rows``, the time (s) from the submission to the first
    message ``is_event`` marks about the same order id; infinite where there is none."""
    events = np.flatnonzero(is_event)
    if len(events) == 0:
        return np.full(len(rows), np.inf)
    order = np.argsort(ids[events], kind="stable")  # stable: the first of an id's events comes first
    ev_ids, ev_t = ids[events][order], t[events][order]
    pos = np.minimum(np.searchsorted(ev_ids, ids[rows]), len(ev_ids) - 1)
    return np.where(ev_ids[pos] == ids[rows], ev_t[pos] - t[rows], np.inf)


def inside_buckets(day: LobsterDay, quantiles: tuple[float, ...] = INSIDE_QUANTILES) -> tuple[float, ...]:
    """Spread buckets' lower bounds (whole ticks, ``1`` first) at ``quantiles`` of the spread
    the day's submissions see (:func:`submissions_in_spread`): deciles resolve the usual
    spreads, the upper quantiles the wide opening ones, where most orders land inside."""
    return _quantile_edges(day, submissions_in_spread(day)["spread_ticks"].to_numpy(), quantiles)


def _quantile_edges(day: LobsterDay, spreads: np.ndarray, quantiles: tuple[float, ...]) -> tuple[float, ...]:
    """:func:`inside_buckets` from the submissions' spreads (ticks)."""
    if len(spreads) == 0:
        raise ValueError(f"day {day.name!r} has no submission with a spread of two ticks or more")
    q = np.unique(np.quantile(spreads, quantiles, method="lower"))
    edges = np.unique(np.r_[1.0, q[q > 1]].astype(np.float64))
    return tuple(float(x) for x in edges[:MAX_SPREAD_BUCKETS])


def inside_statistics(day: LobsterDay, spread_ticks: tuple[float, ...] | None = None,
                      n_quantiles: int = MAX_INSIDE_QUANTILES, take_edges: tuple[float, ...] = TAKE_EDGES,
                      n_take_quantiles: int = MAX_TAKE_QUANTILES) -> dict:
    """The day's submissions inside the spread (module docstring).

    :param spread_ticks: the buckets' lower bounds (ticks, ``1`` first, increasing);
        ``None``: :func:`inside_buckets` of the day.
    :param n_quantiles: how many quantiles of the improvement (fractions of the spread) to
        return, at levels ``(i + 1/2) / n``.
    :return: ``spread_ticks`` (the buckets), ``shares`` (each bucket's share of submissions
        inside the spread; 0 where it has none), ``counts`` (its submissions),
        ``improve_fracs`` (the quantiles), ``inside_share`` (over all the submissions),
        ``fleeting_fracs`` (per bucket) and ``life_s`` (the flickering quotes, module docstring),
        ``deleted_fracs`` (per bucket) and ``life_quantiles_s`` (their whole lives, module docstring);
        ``take_edges``, ``taken_fracs`` (per improvement bucket), ``take_quantiles_s``
        (``n_take_quantiles`` per improvement bucket, flat) and ``untaken_deleted_fracs`` (per
        spread bucket): the takes (module docstring);
        ``submission_spreads`` (ticks) and ``submission_buckets``, each counted submission's.
    :raises ValueError: if the day has no submission inside the spread.
    """
    n_quantiles = check_int("n_quantiles", n_quantiles, minimum=1)
    if n_quantiles > MAX_INSIDE_QUANTILES:
        raise ValueError(f"n_quantiles must be at most {MAX_INSIDE_QUANTILES}, got {n_quantiles}")
    subs = submissions_in_spread(day)
    spread = subs["spread_ticks"].to_numpy()
    edges = np.asarray(_quantile_edges(day, spread, INSIDE_QUANTILES) if spread_ticks is None else spread_ticks,
                       dtype=np.float64)
    if (edges.ndim != 1 or len(edges) == 0 or len(edges) > MAX_SPREAD_BUCKETS or edges[0] != 1.0
            or np.any(np.diff(edges) <= 0)):
        raise ValueError(f"spread_ticks must hold 1 to {MAX_SPREAD_BUCKETS} increasing lower bounds from 1, got "
                         f"{spread_ticks!r}")
    inside = subs["improvement_ticks"].to_numpy() > 0
    if not inside.any():
        raise ValueError(f"day {day.name!r} has no submission inside the spread")
    bucket = np.maximum(np.searchsorted(edges, spread, side="right") - 1, 0)
    counts = np.bincount(bucket, minlength=len(edges))
    hits = np.bincount(bucket[inside], minlength=len(edges))
    shares = np.where(counts > 0, hits / np.maximum(counts, 1), 0.0)
    frac = subs["improvement_ticks"].to_numpy()[inside] / spread[inside]
    levels = (np.arange(n_quantiles) + 0.5) / n_quantiles
    life = subs["life_s"].to_numpy()
    fast = life <= FLICKER_S
    n_fast_in = np.bincount(bucket[inside & fast], minlength=len(edges))
    n_fast_out = np.bincount(bucket[~inside & fast], minlength=len(edges))
    a = n_fast_in / np.maximum(hits, 1)
    b = np.where(counts > hits, n_fast_out / np.maximum(counts - hits, 1), 0.0)
    fleeting = np.where(hits > 0, np.clip((a - b) / np.maximum(1.0 - b, 1e-9), 0.0, 1.0), 0.0)
    flick = fast & inside
    deleted = inside & np.isfinite(life)
    n_deleted = np.bincount(bucket[deleted], minlength=len(edges))
    lives = np.clip(life[deleted], MIN_LIFE_S, max(day.end_s - day.start_s, MIN_LIFE_S)) if deleted.any() else np.ones(2)
    takes = _takes(subs, inside, bucket, len(edges), np.asarray(take_edges, dtype=np.float64), n_take_quantiles,
                   max(day.end_s - day.start_s, MIN_LIFE_S))
    return {"spread_ticks": tuple(float(x) for x in edges), "shares": shares, "counts": counts,
            "improve_fracs": np.quantile(frac, levels), "inside_share": float(inside.mean()),
            "fleeting_fracs": fleeting,
            "deleted_fracs": np.where(hits > 0, n_deleted / np.maximum(hits, 1), 0.0),
            "life_quantiles_s": np.quantile(lives, np.linspace(0.0, 1.0, MAX_INSIDE_QUANTILES)),
            **takes,
            "life_s": float(np.median(life[flick])) / math.log(2.0) if flick.any() else FLICKER_S,
            "submission_spreads": spread, "submission_buckets": bucket}


def _takes(subs: pd.DataFrame, inside: np.ndarray, bucket: np.ndarray, n_buckets: int, take_edges: np.ndarray,
           n_quantiles: int, longest_s: float) -> dict:
    """The takes' statistics (module docstring) of the submissions ``subs`` (those ``inside``,
    in spread buckets ``bucket``); an improvement bucket without a take gets a share of 0 and
    the pooled delays."""
    if (take_edges.ndim != 1 or not 1 <= len(take_edges) <= MAX_TAKE_BUCKETS or take_edges[0] != 0.0
            or np.any(np.diff(take_edges) <= 0) or take_edges[-1] >= 1.0):
        raise ValueError(f"take_edges must hold 1 to {MAX_TAKE_BUCKETS} increasing fractions from 0, below 1, got "
                         f"{tuple(take_edges)!r}")
    if not 2 <= n_quantiles <= MAX_TAKE_QUANTILES:
        raise ValueError(f"n_take_quantiles must be in [2, {MAX_TAKE_QUANTILES}], got {n_quantiles!r}")
    life, taken_s = subs["life_s"].to_numpy(), subs["taken_s"].to_numpy()
    frac = subs["improvement_ticks"].to_numpy() / subs["spread_ticks"].to_numpy()
    first = inside & np.isfinite(taken_s) & (taken_s <= life)  # executed before any deletion
    tb = np.maximum(np.searchsorted(take_edges, frac, side="right") - 1, 0)
    hits = np.bincount(tb[inside], minlength=len(take_edges))
    n_first = np.bincount(tb[first], minlength=len(take_edges))
    levels = np.linspace(0.0, 1.0, n_quantiles)
    delays = np.clip(taken_s[first], MIN_LIFE_S, longest_s) if first.any() else np.ones(2)
    pooled = np.quantile(delays, levels)
    rows = [np.quantile(np.clip(taken_s[first & (tb == j)], MIN_LIFE_S, longest_s), levels) if n_first[j] else pooled
            for j in range(len(take_edges))]
    rest = inside & ~first
    n_rest = np.bincount(bucket[rest], minlength=n_buckets)
    n_rest_deleted = np.bincount(bucket[rest & np.isfinite(life)], minlength=n_buckets)
    return {"take_edges": tuple(float(x) for x in take_edges),
            "taken_fracs": np.where(hits > 0, n_first / np.maximum(hits, 1), 0.0),
            "take_quantiles_s": np.concatenate(rows),
            "untaken_deleted_fracs": np.where(n_rest > 0, n_rest_deleted / np.maximum(n_rest, 1), 0.0)}


def inside_probs(stats: dict, depth_shares: tuple[float, ...]) -> np.ndarray:
    """First guesses of the flow's ``inside_probs`` for a depth profile (module docstring).

    :param stats: :func:`inside_statistics` of the day (its buckets, shares and submissions).
    :param depth_shares: the flow's depth profile at distances ``1..K`` from the opposite
        best (the profile's placement probabilities are proportional to it).
    :return: one probability per bucket, in ``[0, MAX_INSIDE_PROB]``.
    """
    depth = np.asarray(depth_shares, dtype=np.float64)
    if depth.ndim != 1 or len(depth) == 0 or depth.sum() <= 0:
        raise ValueError(f"depth_shares must be a non-empty profile with positive depth, got {depth_shares!r}")
    cum = np.cumsum(depth) / depth.sum()  # cum[k] = P(d <= k + 1)
    q_each = cum[np.clip(stats["submission_spreads"] - 2, 0, len(cum) - 1)]  # P(d <= s - 1), s >= 2
    counts = stats["counts"]
    q = np.bincount(stats["submission_buckets"], weights=q_each, minlength=len(counts)) / np.maximum(counts, 1)
    return np.clip((np.asarray(stats["shares"]) - q) / np.maximum(1.0 - q, 1e-9), 0.0, MAX_INSIDE_PROB)
