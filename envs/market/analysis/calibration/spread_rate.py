"""Fit how the rate of market orders depends on the spread (the flow's
``market_spread_ticks`` and ``market_spread_factor``).

Traders who cross the spread wait for it to be tight: in the GOOG day the rate of marketable
orders is 1.2 per second while the spread is 5-10 ticks and 0.14 while it is 25-40 (a state-
dependent intensity, after Huang, Lehalle and Rosenbaum 2015, "Simulating and analyzing order
book data: the queue-reactive model", JASA 110). Without it, a simulated book has the
opposite relation: its wide spreads follow market orders, and so do more market orders.

The flow's market-order intensity is ``mu w(t) g(s)`` (``w`` the intraday profile, ``g`` the
factor of the spread bucket ``s`` is in; the excitation is multiplied by ``g`` too). The
maximum-likelihood estimate of a Poisson intensity that is constant in each bucket, given
``w``, is the bucket's count over its exposure:

    g_i = (N_i / E_i) / (N / E),     E_i = integral of w(t) over the time the spread is in bucket i,

so that the day's marketable orders keep their count when the simulated spread spends the
day's share of time in each bucket. The buckets are the time-weighted quantiles of the day's
spread (whole ticks), so the estimate adapts to a stock's spread.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from execgym.envs.market.analysis.calibration.spread_profile import spread_rows
from execgym.envs.market.data.lobster_data import LobsterDay
from execgym.envs.market.simulation.flow import MAX_SPREAD_BUCKETS
from execgym.envs.market.simulation.volume import IntradayVolumeProfile
from execgym.validation import check_int

logger = logging.getLogger(__name__)

__all__ = ["fit_spread_rate", "spread_buckets"]


def spread_buckets(day: LobsterDay, n_buckets: int = 10, low_quantiles: tuple[float, ...] = ()) -> tuple[float, ...]:
    """The lower bounds (whole ticks, ``1`` first) of up to ``n_buckets`` spread buckets that
    each hold about as much of the day's time, and further bounds at the time quantiles
    ``low_quantiles`` (each in ``(0, 1 / n_buckets)``): the market orders' rate varies most at
    the narrowest spreads, which a decile lumps (GOOG 2012-06-21: 36 market orders a second
    while the spread is 1-2 ticks, 4.5 at 3-5, 1.4 at 6-9, all in the first decile, 1-13 ticks;
    0.01, 0.03 and 0.06 split it)."""
    n_buckets = check_int("n_buckets", n_buckets, minimum=1)
    try:
        low = tuple(float(x) for x in low_quantiles)
    except (TypeError, ValueError):
        raise TypeError(f"low_quantiles must be a sequence of numbers, got {low_quantiles!r}") from None
    if not all(0.0 < x < 1.0 / n_buckets for x in low):
        raise ValueError(f"low_quantiles must lie in (0, 1/n_buckets = {1.0 / n_buckets:g}), got {low_quantiles!r}")
    if n_buckets + len(low) > MAX_SPREAD_BUCKETS:
        raise ValueError(f"n_buckets plus the low quantiles must be at most {MAX_SPREAD_BUCKETS}, got {n_buckets} and "
                         f"{len(low)}")
    _, hold, spread, ok = spread_rows(day)
    if not ok.any():
        raise ValueError(f"day {day.name!r} has no two-sided quote in its session")
    values = spread[ok][hold[ok] > 0]
    weights = hold[ok][hold[ok] > 0]
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order]) / weights.sum()
    levels = np.r_[np.asarray(low, dtype=np.float64), np.arange(1, n_buckets) / n_buckets]
    q = values[order][np.minimum(np.searchsorted(cum, levels), len(cum) - 1)]
    # the quantiles are spreads the day shows; the first bucket [1, q) must hold some time
    edges = np.unique(np.r_[1.0, q[q > values.min()]])
    return tuple(float(x) for x in edges)


def fit_spread_rate(day: LobsterDay, market_order_times_s: np.ndarray, spread_ticks: tuple[float, ...] | None = None,
                    profile: IntradayVolumeProfile | None = None) -> pd.DataFrame:
    """The market orders' intensity factor per spread bucket (module docstring).

    :param market_order_times_s: the day's marketable orders' times (s; e.g. the ``time_s``
        of :func:`~execgym.envs.market.analysis.calibration.flow.marketable_orders`).
    :param spread_ticks: the buckets' lower bounds (ticks, ``1`` first, increasing);
        ``None``: :func:`spread_buckets` of the day.
    :param profile: the intraday profile ``w`` the flow multiplies the rates by (as fitted
        with the flow; ``None``: flat).
    :return: one row per bucket (indexed by its lower bound, ticks): ``time_share`` of the
        session, ``market_orders`` (count), ``rate_per_s`` (count over time) and ``factor``
        (``g``, normalised so that the day's count is kept).
    :raises ValueError: if a bucket holds no time (no factor can be estimated there).
    """
    edges = np.asarray(spread_buckets(day) if spread_ticks is None else spread_ticks, dtype=np.float64)
    if (edges.ndim != 1 or len(edges) == 0 or len(edges) > MAX_SPREAD_BUCKETS or edges[0] != 1.0
            or np.any(np.diff(edges) <= 0)):
        raise ValueError(f"spread_ticks must hold 1 to {MAX_SPREAD_BUCKETS} increasing lower bounds from 1, got "
                         f"{spread_ticks!r}")
    t, hold, spread, ok = spread_rows(day)
    w = (np.ones_like(t) if profile is None else
         profile.intensity(np.clip((t - day.start_s) / day.duration_s, 0.0, 1.0)) / profile.mean_intensity())
    bucket = np.maximum(np.searchsorted(edges, spread, side="right") - 1, 0)
    time = np.bincount(bucket[ok], weights=hold[ok], minlength=len(edges))
    exposure = np.bincount(bucket[ok], weights=(hold * w)[ok], minlength=len(edges))
    if np.any(time <= 0):
        raise ValueError(f"day {day.name!r}: spread buckets from {edges[time <= 0].tolist()} ticks hold no time; "
                         f"choose coarser buckets")
    times = np.asarray(market_order_times_s, dtype=np.float64)
    times = times[(times >= day.start_s) & (times < day.end_s)]
    row = np.searchsorted(t, times, side="left") - 1  # the book just before the order
    seen = (row >= 0) & ok[np.maximum(row, 0)]
    count = np.bincount(bucket[row[seen]], minlength=len(edges)).astype(np.float64)
    factor = (count / exposure) / (count.sum() / exposure.sum())
    table = pd.DataFrame({"time_share": time / time.sum(), "market_orders": count.astype(np.int64),
                          "rate_per_s": count / time, "factor": factor},
                         index=pd.Index(edges, name="spread_from_ticks"))
    logger.info("%s market orders by spread: %s", day.name,
                ", ".join(f">={e:g}: x{f:.2f}" for e, f in zip(edges, factor)))
    return table
