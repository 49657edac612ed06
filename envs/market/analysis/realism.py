"""How far a simulated day is from a recorded one: distribution distances per metric.

Each metric turns a :class:`~execgym.envs.market.data.lobster_data.LobsterDay` (real or
simulated) into a sample; :func:`realism_score` compares the real day's sample with the
simulated days' (pooled) by two distances, with percentile-bootstrap intervals:

* **L1** between the two histograms on common bins (integer bins for integer metrics,
  otherwise quantile bins of the pooled sample, about 20 values of the smaller sample per
  bin and 5 to 40 bins, plus one bin on each side for the tails): ``sum |p - q|``, in
  ``[0, 2]``, unitless, so metrics can be averaged;
* **Wasserstein-1** (earth mover's distance, ``scipy.stats.wasserstein_distance``), in the
  metric's own units, and divided by the real sample's interquartile range so that it
  too is comparable across metrics.

The metrics (:data:`METRICS`; units in the names; book rows are the book after each message):

=========================  =================================================================
``spread_ticks``           best ask - best bid, rows with both sides quoted
``touch_shares``           shares at the best bid and at the best ask (pooled)
``depth_bid_shares``       shares on the recorded bid levels (up to 10); ``depth_ask_shares``
``imbalance_l1``           (bid1 - ask1) / (bid1 + ask1) shares at the touch
``log10_interarrival_s``   log10 of the time between consecutive messages (positive gaps)
``log10_time_to_cancel_s`` log10 of a deleted order's life (submission to deletion)
``order_level_ticks``      a new limit order's distance behind its own side's touch
                           (0: at the touch; negative: inside the spread), book before it
``cancel_level_ticks``     the same for cancellations and deletions
``volume_per_min_shares``  executed shares per minute of the session
``ofi_10s_shares``         order-flow imbalance at the touch per 10 s (Cont, Kukanov and
                           Stoikov 2014, "The price impact of order book events")
``response_<e>_<m>_half_   the mid's response to an event: ``eps_n (m_{n+l-1} - m_{n-1})``
ticks``                    in half ticks at event lags ``l`` = 1, 10 and 100 (pooled), for
                           events ``e`` = ``mo`` (visible executions, ``eps`` the trade
                           sign), ``lo`` (submissions, ``eps`` +1 for a bid) and ``ca``
                           (cancellations and deletions, ``eps`` -1 for a bid), that moved
                           the mid (``m`` = ``moving``) or not (``still``); ``m_n`` is the mid
                           after message ``n`` (Eisler, Bouchaud and Kockelkoren 2012, "The
                           price impact of order book events: market orders, limit orders
                           and cancellations", Quantitative Finance 12(9))
=========================  =================================================================

The bootstrap resamples each sample's values independently (samples longer than
``max_sample`` are thinned to evenly spaced values first); messages are not independent,
so the intervals show the distances' sampling spread at that size, not a
dependence-robust interval. Two simulated days of one model give the distances' floor for
that length of data.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from execgym.envs.market.data.lobster_data import LobsterDay, price_vs_best
from execgym.envs.market.simulation.events import EXECUTIONS, EventType
from execgym.validation import check_int

__all__ = ["METRICS", "INTEGER_METRICS", "distribution_distances", "metric_samples", "realism_score",
           "session_only", "summarise_scores"]


def _rows(day: LobsterDay):
    s = day.book_levels()
    return s, s.ask_ok[:, 0] & s.bid_ok[:, 0]


def _spread(day):
    s, ok = _rows(day)
    return (s.ask_price_ticks[ok, 0] - s.bid_price_ticks[ok, 0]).astype(float)


def _touch(day):
    s, ok = _rows(day)
    return np.concatenate([s.bid_size_shares[s.bid_ok[:, 0], 0], s.ask_size_shares[s.ask_ok[:, 0], 0]]).astype(float)


def _depth(side):
    def f(day):
        s = day.book_levels()
        sizes = s.bid_size_shares if side == "bid" else s.ask_size_shares
        return sizes.sum(axis=1).astype(float)
    return f


def _imbalance(day):
    s, ok = _rows(day)
    b, a = s.bid_size_shares[ok, 0].astype(float), s.ask_size_shares[ok, 0].astype(float)
    return (b - a) / (b + a)


def _interarrival(day):
    gaps = np.diff(day.messages["time_s"].to_numpy(np.float64))
    return np.log10(gaps[gaps > 0])


def _time_to_cancel(day):
    m = day.messages
    sub = m[m["type"] == EventType.SUBMISSION].drop_duplicates("order_id").set_index("order_id")["time_s"]
    dele = m[m["type"] == EventType.DELETION].drop_duplicates("order_id").set_index("order_id")["time_s"]
    both = dele.index.intersection(sub.index)
    life = dele.loc[both].to_numpy(np.float64) - sub.loc[both].to_numpy(np.float64)
    return np.log10(life[life > 0])


def _levels(types):
    def f(day):
        rows = np.flatnonzero(np.isin(day.messages["type"].to_numpy(), types))
        rows = rows[rows > 0]  # the book before the message is the previous row's
        better, has = price_vs_best(day)
        return (-better[rows][has[rows]]).astype(float)  # ticks behind the side's best
    return f


def _volume_per_minute(day):
    m = day.messages
    trades = m[m["type"].isin([int(t) for t in EXECUTIONS])]
    edges = np.arange(day.start_s, day.end_s + 60.0, 60.0)
    volume, _ = np.histogram(trades["time_s"].to_numpy(np.float64), bins=edges,
                             weights=trades["size_shares"].to_numpy(np.float64))
    return volume


def _ofi(day):
    s, ok = _rows(day)
    t = day.messages["time_s"].to_numpy(np.float64)
    pb, qb = s.bid_price_ticks[:, 0], s.bid_size_shares[:, 0].astype(float)
    pa, qa = s.ask_price_ticks[:, 0], s.ask_size_shares[:, 0].astype(float)
    good = ok[1:] & ok[:-1]
    e = ((pb[1:] >= pb[:-1]) * qb[1:] - (pb[1:] <= pb[:-1]) * qb[:-1]
         - (pa[1:] <= pa[:-1]) * qa[1:] + (pa[1:] >= pa[:-1]) * qa[:-1])
    edges = np.arange(day.start_s, day.end_s + 10.0, 10.0)
    ofi, _ = np.histogram(t[1:][good], bins=edges, weights=e[good])
    return ofi


#: event lags (messages) at which the mid's response is sampled
RESPONSE_LAGS = (1, 10, 100)
_RESPONSE_EVENTS = {"mo": ([int(EventType.EXECUTION_VISIBLE)], -1),  # (types, eps = sign x direction)
                    "lo": ([int(EventType.SUBMISSION)], 1),
                    "ca": ([int(EventType.CANCELLATION), int(EventType.DELETION)], -1)}


def _response(event: str, moving: bool):
    types, sign = _RESPONSE_EVENTS[event]

    def f(day):
        s, ok = _rows(day)
        mid2 = np.where(ok, s.ask_price_ticks[:, 0] + s.bid_price_ticks[:, 0], 0).astype(np.float64)
        mid2[~ok] = np.nan  # twice the mid (ticks): half ticks
        m = day.messages
        rows = np.flatnonzero(np.isin(m["type"].to_numpy(), types))
        rows = rows[rows > 0]  # the mid before the message is the previous row's
        before = mid2[rows - 1]
        moved = mid2[rows] != before
        keep = np.isfinite(before) & np.isfinite(mid2[rows]) & (moved if moving else ~moved)
        rows, before = rows[keep], before[keep]
        eps = sign * m["direction"].to_numpy()[rows]
        out = []
        for lag in RESPONSE_LAGS:
            end = rows + lag - 1
            ok_end = end < len(mid2)
            x = eps[ok_end] * (mid2[end[ok_end]] - before[ok_end])
            out.append(x[np.isfinite(x)])
        return np.concatenate(out)
    return f


#: metric name -> the function that draws its sample from a day
METRICS: dict[str, Callable[[LobsterDay], np.ndarray]] = {
    "spread_ticks": _spread,
    "touch_shares": _touch,
    "depth_bid_shares": _depth("bid"),
    "depth_ask_shares": _depth("ask"),
    "imbalance_l1": _imbalance,
    "log10_interarrival_s": _interarrival,
    "log10_time_to_cancel_s": _time_to_cancel,
    "order_level_ticks": _levels([int(EventType.SUBMISSION)]),
    "cancel_level_ticks": _levels([int(EventType.CANCELLATION), int(EventType.DELETION)]),
    "volume_per_min_shares": _volume_per_minute,
    "ofi_10s_shares": _ofi,
    **{f"response_{e}_{'moving' if mv else 'still'}_half_ticks": _response(e, mv)
       for e in _RESPONSE_EVENTS for mv in (False, True)},
}
#: metrics whose values are integers (histogrammed on integer bins)
INTEGER_METRICS = ("spread_ticks", "order_level_ticks", "cancel_level_ticks",
                   *(name for name in METRICS if name.startswith("response_")))


def session_only(day: LobsterDay) -> LobsterDay:
    """``day`` restricted to the messages (and book rows) inside its session ``[start_s, end_s]``."""
    t = day.messages["time_s"].to_numpy(np.float64)
    keep = (t >= day.start_s) & (t <= day.end_s)
    if keep.all():
        return day
    return replace(day, messages=day.messages.loc[keep].reset_index(drop=True),
                   orderbook=None if day.orderbook is None else day.orderbook[keep])


def metric_samples(day: LobsterDay, metrics: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """``{metric: sample}`` of ``day``'s session for ``metrics`` (default: all of :data:`METRICS`)."""
    names = list(METRICS) if metrics is None else list(metrics)
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise ValueError(f"unknown realism metrics {unknown}; known: {list(METRICS)}")
    if day.orderbook is None:
        raise ValueError(f"day {day.name!r} has no order book loaded: the realism metrics need it")
    day = session_only(day)
    return {n: np.asarray(METRICS[n](day), dtype=np.float64) for n in names}


def _bins(pooled: np.ndarray, integer: bool, n_bins: int) -> np.ndarray:
    lo, hi = np.quantile(pooled, [0.005, 0.995])
    if integer:
        inner = np.arange(np.floor(lo), np.ceil(hi) + 2.0) - 0.5
    else:
        inner = np.unique(np.quantile(pooled, np.linspace(0.005, 0.995, n_bins + 1)))
        if len(inner) < 2:
            inner = np.array([lo - 0.5, hi + 0.5])
    return np.concatenate([[-np.inf], inner, [np.inf]])


def _l1(x: np.ndarray, y: np.ndarray, edges: np.ndarray) -> float:
    p = np.histogram(x, edges)[0] / len(x)
    q = np.histogram(y, edges)[0] / len(y)
    return float(np.abs(p - q).sum())


def distribution_distances(real: np.ndarray, sim: np.ndarray, integer: bool = False, n_boot: int = 200,
                           confidence: float = 0.95, max_sample: int = 20_000, seed: int = 0) -> dict[str, float]:
    """L1 (histograms) and Wasserstein-1 distances between samples ``real`` and ``sim``, the
    latter also over the real sample's interquartile range, each with a percentile
    bootstrap interval (see the module docstring)."""
    real, sim = np.asarray(real, np.float64), np.asarray(sim, np.float64)
    real, sim = real[np.isfinite(real)], sim[np.isfinite(sim)]
    if len(real) < 2 or len(sim) < 2:
        raise ValueError(f"each sample needs at least two finite values, got {len(real)} real and {len(sim)} simulated")
    check_int("n_boot", n_boot, minimum=10)
    rng = np.random.default_rng(seed)
    if len(real) > max_sample:  # evenly spaced values: the same sample gives the same thinning
        real = real[np.linspace(0, len(real) - 1, max_sample).astype(np.int64)]
    if len(sim) > max_sample:
        sim = sim[np.linspace(0, len(sim) - 1, max_sample).astype(np.int64)]
    # about 20 values per bin in the smaller sample, 5 to 40 bins (more would measure noise)
    n_bins = int(np.clip(min(len(real), len(sim)) // 20, 5, 40))
    edges = _bins(np.concatenate([real, sim]), integer, n_bins)
    q1, q3 = np.quantile(real, [0.25, 0.75])
    scale = q3 - q1 if q3 > q1 else max(float(np.std(real)), 1e-12)

    def both(x, y):
        return _l1(x, y, edges), float(stats.wasserstein_distance(x, y))

    l1, w1 = both(real, sim)
    boots = np.array([both(real[rng.integers(0, len(real), len(real))], sim[rng.integers(0, len(sim), len(sim))])
                      for _ in range(n_boot)])
    a = (1.0 - confidence) / 2.0
    (l1_lo, w1_lo), (l1_hi, w1_hi) = np.quantile(boots, [a, 1.0 - a], axis=0)
    return {"l1": l1, "l1_ci_low": float(l1_lo), "l1_ci_high": float(l1_hi), "w1": w1, "w1_ci_low": float(w1_lo),
            "w1_ci_high": float(w1_hi), "w1_over_iqr": w1 / scale, "n_real": len(real), "n_sim": len(sim)}


def realism_score(real: LobsterDay, simulated: LobsterDay | Sequence[LobsterDay], metrics: Sequence[str] | None = None,
                  n_boot: int = 200, confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Per metric, the distances between the real day and the simulated day(s) (their
    samples pooled), with bootstrap intervals; one row per metric (index ``metric``)."""
    sims = [simulated] if isinstance(simulated, LobsterDay) else list(simulated)
    if not sims:
        raise ValueError("simulated must be at least one LobsterDay")
    real_samples = metric_samples(real, metrics)
    sim_samples = [metric_samples(d, metrics) for d in sims]
    rows = {}
    for k, name in enumerate(real_samples):
        pooled = np.concatenate([s[name] for s in sim_samples])
        rows[name] = distribution_distances(real_samples[name], pooled, name in INTEGER_METRICS, n_boot,
                                            confidence, seed=seed + k)
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("metric")


def summarise_scores(scores: pd.DataFrame, column: str = "l1") -> dict[str, float]:
    """Mean, median and interquartile mean of one distance over the metrics."""
    x = scores[column].to_numpy(np.float64)
    return {f"{column}_mean": float(x.mean()), f"{column}_median": float(np.median(x)),
            f"{column}_iqm": float(stats.trim_mean(x, 0.25))}
