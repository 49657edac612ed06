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

__all__ = ["fit_spread_profile"]


def fit_spread_profile(day: LobsterDay, bucket_s: float = 1800.0) -> tuple[float, ...]:
    """The multipliers ``placement_scale`` of ``day`` (module docstring), one per bucket of
    the session (at most ``MAX_SCALE_BUCKETS``: a longer session's last bucket holds the rest).

    :raises ValueError: if the day has no two-sided quote, or a bucket has none.
    """
    bucket_s = check_positive("bucket_s", bucket_s)
    if day.orderbook is None:
        raise ValueError(f"day {day.name!r} has no order book loaded: the spread needs it")
    s = day.book_levels()
    t = day.messages["time_s"].to_numpy(np.float64)
    hold = np.diff(np.r_[t, day.end_s])  # each book row holds until the next message
    ok = s.bid_ok[:, 0] & s.ask_ok[:, 0] & (t >= day.start_s) & (t < day.end_s)
    if not ok.any():
        raise ValueError(f"day {day.name!r} has no two-sided quote in its session")
    spread = (s.ask_price_ticks[:, 0] - s.bid_price_ticks[:, 0]).astype(np.float64)
    n = min(MAX_SCALE_BUCKETS, max(1, int(np.ceil(day.duration_s / bucket_s))))
    bucket = np.minimum(((t - day.start_s) // bucket_s).astype(np.int64), n - 1)
    total = np.bincount(bucket[ok], weights=(spread * hold)[ok], minlength=n)
    time = np.bincount(bucket[ok], weights=hold[ok], minlength=n)
    if np.any(time <= 0):
        raise ValueError(f"day {day.name!r}: buckets {np.flatnonzero(time <= 0).tolist()} of {bucket_s} s have no "
                         f"two-sided quote")
    mean = total.sum() / time.sum()
    scale = tuple(float(x) for x in (total / time) / mean)
    logger.info("%s intraday spread: %s x the mean %.1f ticks", day.name, ", ".join(f"{x:.2f}" for x in scale), mean)
    return scale
