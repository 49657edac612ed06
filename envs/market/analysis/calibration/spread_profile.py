"""Fit the intraday spread (the flow's ``placement_scale``) to a recorded day.

The flow's placement distances are measured from the opposite best quote, so scaling them
scales the spread and the book's sparseness. For each bucket of ``bucket_s`` seconds of the
session, the time-weighted mean spread (ticks) over the day's time-weighted mean is the
bucket's multiplier: the flow then places orders as much farther from the opposite best as
the day's spread was wider (the GOOG sample: about 2.2 in the first half hour after the
open, 1.6 in the second, about 1 from the second hour).
"""

from __future__ import annotations

import logging

import numpy as np

from execgym.envs.market.data.lobster_data import LobsterDay
from execgym.envs.market.simulation.flow import MAX_SCALE_BUCKETS
from execgym.validation import check_positive

logger = logging.getLogger(__name__)

__all__ = ["OPENING_STARTS_S", "bucket_spreads", "fit_spread_profile", "spread_rows"]

#: buckets' starts (s after the open) that resolve the first minutes, when the book is
#: widest and the price most volatile (GOOG: 107 ticks of spread in the first two minutes,
#: 1-s returns 8x as volatile as at midday), then the hours of the session
OPENING_STARTS_S = (0.0, 60.0, 120.0, 240.0, 480.0, 900.0, 1800.0, 3600.0, 7200.0, 10800.0, 14400.0, 18000.0,
                    21600.0)


def spread_rows(day: LobsterDay) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each book row's time (s), how long it holds until the next message (s), its spread
    (ticks) and whether both sides are quoted within the session.

    :raises ValueError: if the day has no order book loaded.
    """
    if day.orderbook is None:
        raise ValueError(f"day {day.name!r} has no order book loaded: the spread needs it")
    s = day.book_levels()
    t = day.messages["time_s"].to_numpy(np.float64)
    hold = np.diff(np.r_[t, day.end_s])
    ok = s.bid_ok[:, 0] & s.ask_ok[:, 0] & (t >= day.start_s) & (t < day.end_s)
    spread = (s.ask_price_ticks[:, 0] - s.bid_price_ticks[:, 0]).astype(np.float64)
    return t, hold, spread, ok


def bucket_spreads(day: LobsterDay, starts_s) -> np.ndarray:
    """The time-weighted mean spread (ticks) of ``day`` in each bucket starting at
    ``starts_s`` (seconds after the session's start, ``0`` first, increasing; the last
    bucket holds to the session's end).

    :raises ValueError: on bad starts, if the day has no book, or a bucket has no two-sided quote.
    """
    starts = np.asarray(starts_s, dtype=np.float64)
    if (starts.ndim != 1 or len(starts) == 0 or len(starts) > MAX_SCALE_BUCKETS or starts[0] != 0.0
            or np.any(np.diff(starts) <= 0) or starts[-1] >= day.duration_s):
        raise ValueError(f"starts_s must hold 1 to {MAX_SCALE_BUCKETS} increasing starts from 0 within the "
                         f"session ({day.duration_s} s), got {starts_s!r}")
    t, hold, spread, ok = spread_rows(day)
    bucket = np.maximum(np.searchsorted(starts, t - day.start_s, side="right") - 1, 0)
    total = np.bincount(bucket[ok], weights=(spread * hold)[ok], minlength=len(starts))
    time = np.bincount(bucket[ok], weights=hold[ok], minlength=len(starts))
    if np.any(time <= 0):
        raise ValueError(f"day {day.name!r}: buckets {np.flatnonzero(time <= 0).tolist()} (starting at "
                         f"{starts.tolist()} s) have no two-sided quote")
    return total / time


def fit_spread_profile(day: LobsterDay, bucket_s: float = 1800.0,
                       starts_s: tuple[float, ...] | None = None) -> tuple[float, ...]:
    """The multipliers ``placement_scale`` of ``day`` (module docstring), one per bucket of
    the session: consecutive buckets of ``bucket_s`` seconds (at most ``MAX_SCALE_BUCKETS``:
    a longer session's last bucket holds the rest), or buckets starting at ``starts_s``
    (seconds after the session's start, ``0`` first, increasing; the flow's
    ``placement_scale_starts_s``), e.g. :data:`OPENING_STARTS_S`.

    :raises ValueError: if the day has no two-sided quote, or a bucket has none.
    """
    bucket_s = check_positive("bucket_s", bucket_s)
    if starts_s is None:
        n = min(MAX_SCALE_BUCKETS, max(1, int(np.ceil(day.duration_s / bucket_s))))
        starts_s = bucket_s * np.arange(n)
    spreads = bucket_spreads(day, starts_s)
    length = np.diff(np.r_[np.asarray(starts_s, dtype=np.float64), day.duration_s])
    mean = float(np.average(spreads, weights=length))
    scale = tuple(float(x) for x in spreads / mean)
    logger.info("%s intraday spread: %s x the mean %.1f ticks", day.name, ", ".join(f"{x:.2f}" for x in scale), mean)
    return scale
