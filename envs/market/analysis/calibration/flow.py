"""Calibrate the background-flow model (:mod:`execgym.envs.market.simulation.flow`) to a LOBSTER day.

The estimators follow Cont, Stoikov and Talreja (2010), "A stochastic model for order
book dynamics", Operations Research 58(3), section 3, with two corrections that a
level-``L`` LOBSTER file needs. A distance ``d`` (ticks) is measured, as in
:class:`~execgym.envs.market.simulation.flow.FlowConfig`, from the anchor of the book *before* the message:
the opposite best quote (``anchor="opposite_best"``: a buy at price ``p`` is at
``d = best_ask - p``) or the mid standing in for the unobservable reference price
(``anchor="reference"``: ``d = ceil(mid) - p`` for a buy, ``p - floor(mid)`` for a sell).

* **Limit arrivals** ``lambda(d)`` (orders/s, per side): submissions (type 1) at
  distance ``d``, divided by the *exposure* of ``d``: the seconds during which distance
  ``d`` lay inside the file's ``L`` visible levels (an order placed deeper is never in a
  level-``L`` message file), each second weighted by the fitted intraday activity
  ``w(t)``, since the flow's arrival rate at ``t`` is ``lambda(d) w(t)`` and the book is
  deeper (so its window narrower) when activity is high.
* **Cancellations** ``theta(d)`` (1/s, per resting share): shares cancelled (types 2 and
  3) at distance ``d``, divided by the share-seconds resting there (the time integral of
  the visible depth at ``d``). CST's ``theta(i) = cancels(i) / (Q_i T)`` with ``Q_i``
  in shares.
* **Market orders**: visible executions (type 4) sharing a time stamp and resting side
  are one marketable order; its size is their sum, its sign ``-direction`` (+1 buyer-
  initiated). Hidden executions (type 5) do not touch the visible book and are left out
  (:attr:`FlowCalibration.hidden_volume_frac` says how much volume that is).
* **Hawkes excitation** per side: maximum likelihood of the intensity
  ``mu w(t) + sum_i alpha exp(-beta (t - t_i))`` over the side's marketable-order times,
  with the intraday profile ``w`` (mean 1) fitted first: exactly the flow's model.
* **Clustering** (``clustering=K``): a Hawkes process with a kernel of ``K`` exponentials
  fitted by maximum likelihood (:func:`fit_hawkes_kernels`) to the distinct times of the
  submissions and cancellations, with the intraday profile as the baseline's shape.
* **Long memory of trade signs** (``sign_memory=True``): the sign-run mechanism fitted to
  the marketable orders' sign autocorrelation (:func:`fit_sign_runs`).
* **Intraday profile**: :class:`~execgym.envs.market.simulation.volume.IntradayVolumeProfile` fitted by
  least squares to the share of visible traded volume in each bucket; ``noise_sigma`` is
  the standard deviation of log(realised / fitted) over the buckets.
* **Sizes**: the flow draws sizes geometric in lots with a given mean, so the estimates
  are the mean submission size (at distances ``1..K``) and the mean marketable-order size.

Mapping onto :class:`~execgym.envs.market.simulation.flow.FlowConfig`, whose Obizhaeva-Wang form has one
cancellation rate ``rho`` and a depth profile with ``lambda_d = rho * depth_d / mean_size``:

* ``resilience_per_s`` = the pooled ``theta`` (all cancelled shares at ``1..K`` over all
  share-seconds resting there), the maximum-likelihood common rate;
* ``depth_shares[d-1] = lambda(d) * mean_limit_size_shares / rho`` with ``lambda(d)`` the
  mean of the two sides, so the arrival rates are reproduced exactly. Where the real
  ``theta(d)`` differs from ``rho`` the simulated steady-state depth differs from the
  real one; :attr:`FlowCalibration.table` lists both;
* ``market_rate_per_s`` = the Hawkes baseline ``mu`` (mean of the sides), so the mean
  rate ``mu / (1 - alpha / beta)`` matches; ``hawkes_alpha_per_s``, ``hawkes_beta_per_s``;
* ``sides="separate"``: ``depth_shares`` from the bid side's estimates and
  ``depth_sell_shares`` from the ask side's, instead of their mean;
* all rates are at average intraday activity because every count is divided by the
  whole session's seconds and the profile has mean 1.

The day is a :class:`~execgym.envs.market.data.lobster_data.LobsterDay` (read by
:func:`~execgym.envs.market.data.lobster_data.load_lobster`, or simulated by
:func:`~execgym.envs.market.data.simulated_day.simulate_day`); its book is read through
:meth:`~execgym.envs.market.data.lobster_data.LobsterDay.book_levels`.

Units: LOBSTER prices (dollars x 10000) become ticks by integer division by the day's
``price_units_per_tick`` (100 for a one-cent tick); times stay in seconds, and rates are per
second of the session ``[start_s, end_s)``; sizes stay in shares (the config's lot size is
1 share, so the geometric sizes have the measured means exactly). ``theta`` is per resting
share, which equals the flow's per-order rate because the flow cancels whole orders.

The price: with ``anchor="opposite_best"`` the book alone forms it (CST), and the impact
parameters only place orders when one side of the book is empty, so the calibration sets
the transient and permanent impact to 0. The measured volatility of the mid
(:attr:`FlowCalibration.sigma_ticks_per_sqrt_s`) is reported but, for the same reason, not
injected as a diffusion (it would double the book's own). With ``anchor="reference"`` the
price is the flow's centre, and that volatility becomes the fundamental's diffusion.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numba import njit
from scipy.optimize import least_squares, minimize

from execgym.envs.market.analysis.acf import autocorrelation, power_law_decay
from execgym.envs.market.analysis.calibration.activity import fit_activity
from execgym.envs.market.analysis.calibration.cancel_sizes import cancel_size_factors
from execgym.envs.market.analysis.calibration.inside import MAX_INSIDE_PROB, inside_probs, inside_statistics
from execgym.envs.market.analysis.calibration.queue_sizes import queue_statistics
from execgym.envs.market.analysis.calibration.quote_follow import follow_statistics
from execgym.envs.market.analysis.calibration.revisions import revision_rates, revision_statistics
from execgym.envs.market.analysis.calibration.size_places import place_size_probs, submission_places
from execgym.envs.market.analysis.calibration.spread_profile import fit_spread_profile, spread_rows
from execgym.envs.market.analysis.calibration.spread_rate import fit_spread_rate, spread_buckets
from execgym.envs.market.analysis.microstructure.frames import marketable_orders
from execgym.envs.market.analysis.realism import metric_samples
from execgym.envs.market.data.lobster_data import BookLevels, LobsterDay, price_vs_best
from execgym.envs.market.simulation.events import EventType
from execgym.envs.market.simulation.flow import (
    MAX_BEST_TICKS,
    MAX_CLUSTER_KERNELS,
    MAX_FLICKER_SLOTS,
    SIZE_PLACES,
    FlowConfig,
    ImpactConfig,
)
from execgym.envs.market.simulation.volume import IntradayVolumeProfile
from execgym.validation import check_choice, check_fraction, check_int, check_positive

logger = logging.getLogger(__name__)

__all__ = [
    "FlowCalibration",
    "best_distances",
    "book_before",
    "calibrate_flow",
    "cancellation_rates",
    "fit_hawkes",
    "fit_hawkes_kernels",
    "fit_sign_runs",
    "sign_run_acf",
    "fit_intraday_profile",
    "limit_arrival_rates",
    "marketable_orders",
]

#: distances a visible window reaches when a side has fewer than L occupied levels
_UNBOUNDED = 1 << 30
#: :func:`calibrate_flow` warns when a distance was visible for less of the session than this
MIN_VISIBLE_FRAC = 0.1


def _anchors(s: BookLevels, anchor: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per book row: (buy anchor, sell anchor, valid). A buy at ``p`` is at ``buy_anchor - p``."""
    ok = s.ask_ok[:, 0] & s.bid_ok[:, 0]
    ask, bid = s.ask_price_ticks[:, 0], s.bid_price_ticks[:, 0]
    if anchor == "opposite_best":
        return ask, bid, ok
    mid2 = ask + bid  # twice the mid: ceil(mid) = (mid2 + 1) // 2, floor(mid) = mid2 // 2
    return (mid2 + 1) // 2, mid2 // 2, ok


def _window(s: BookLevels, buy_anchor: np.ndarray, sell_anchor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per book row, the largest distance each side's visible levels reach (``_UNBOUNDED``: all visible)."""
    full_bid, full_ask = s.bid_ok[:, -1], s.ask_ok[:, -1]
    buy_max = np.where(full_bid, buy_anchor - s.bid_price_ticks[:, -1], _UNBOUNDED)
    sell_max = np.where(full_ask, s.ask_price_ticks[:, -1] - sell_anchor, _UNBOUNDED)
    return buy_max, sell_max


def book_before(day: LobsterDay, anchor: str = "opposite_best") -> pd.DataFrame:
    """For every message: its distance (ticks) from the anchor of the book before it.

    Columns: ``distance_ticks`` (NaN where the previous book lacks a side), and
    ``window_ticks``: how deep the previous book's visible levels reached on the message's
    side (a message beyond it could not have been recorded). The first message has no
    previous book and uses the book after it.
    """
    check_choice("anchor", anchor, ("opposite_best", "reference"))
    s = day.book_levels()
    buy_a, sell_a, ok = _anchors(s, anchor)
    buy_max, sell_max = _window(s, buy_a, sell_a)
    prev = np.r_[0, np.arange(len(ok) - 1)]
    m = day.messages
    price = m["price"].to_numpy() // day.price_units_per_tick
    buy = m["direction"].to_numpy() > 0
    dist = np.where(buy, buy_a[prev] - price, price - sell_a[prev]).astype(np.float64)
    dist[~ok[prev]] = np.nan
    window = np.where(buy, buy_max[prev], sell_max[prev])
    return pd.DataFrame({"distance_ticks": dist, "window_ticks": window})


def _exposure_and_depth(day: LobsterDay, anchor: str, max_distance: int,
                        profile: IntradayVolumeProfile | None = None) -> dict[str, np.ndarray]:
    """Per side, for d = 1..K: seconds visible and share-seconds resting at d.

    With a ``profile`` the visible seconds are weighted by the intraday activity ``w(t)``
    (mean 1 over the session): the expected number of arrivals at ``d`` is then
    ``lambda(d)`` times the weighted exposure, also when visibility varies with the time
    of day. Share-seconds are never weighted (cancellations do not follow the profile).
    """
    s = day.book_levels()
    buy_a, sell_a, ok = _anchors(s, anchor)
    buy_max, sell_max = _window(s, buy_a, sell_a)
    dur = np.where(ok, day.durations_s(), 0.0)
    t = np.clip(day.messages["time_s"].to_numpy(), day.start_s, day.end_s)
    activity = _profile_weights(profile, t + 0.5 * dur, day.start_s, day.end_s)[0]
    n_bins = max_distance + 1
    out = {}
    for side, win, dist, size in (
        ("buy", buy_max, buy_a[:, None] - s.bid_price_ticks, s.bid_size_shares),
        ("sell", sell_max, s.ask_price_ticks - sell_a[:, None], s.ask_size_shares),
    ):
        # exposure(d) = seconds with window >= d: reverse cumulative sum of time per window depth
        per_window = np.bincount(np.clip(win, 0, max_distance), weights=dur * activity, minlength=n_bins)
        exposure = np.cumsum(per_window[::-1])[::-1]
        live = (size > 0) & (dist >= 1) & (dist <= max_distance)
        share_s = np.bincount(dist[live], weights=(size * dur[:, None])[live], minlength=n_bins)
        out[side] = (exposure[1:], share_s[1:])
    return out


def _message_counts(day: LobsterDay, types: tuple[int, ...], anchor: str, max_distance: int,
                    weight: str | None) -> dict[str, np.ndarray]:
    """Per side, for d = 1..K: count (or sum of ``weight``) of in-session, visible messages of ``types``."""
    before = book_before(day, anchor)
    m = day.messages
    t = m["time_s"].to_numpy()
    d = before["distance_ticks"].to_numpy()
    sel = (m["type"].isin(types).to_numpy() & (t >= day.start_s) & (t < day.end_s) & np.isfinite(d)
           & (d >= 1) & (d <= max_distance) & (d <= before["window_ticks"].to_numpy()))
    w = m[weight].to_numpy().astype(np.float64) if weight else np.ones(len(m))
    out = {}
    for side, sign in (("buy", 1), ("sell", -1)):
        pick = sel & (m["direction"].to_numpy() == sign)
        out[side] = np.bincount(d[pick].astype(np.int64), weights=w[pick], minlength=max_distance + 1)[1:]
    return out


def limit_arrival_rates(day: LobsterDay, max_distance: int, anchor: str = "opposite_best",
                        profile: IntradayVolumeProfile | None = None) -> pd.DataFrame:
    """``lambda(d)`` (orders/s per side) for ``d = 1..max_distance`` ticks from the anchor.

    With an intraday ``profile`` the rate is the one at average activity, ``lambda(d) w(t)``
    being the rate at time ``t`` (the exposure is activity-weighted).

    Columns ``buy_per_s``, ``sell_per_s`` (NaN where ``d`` was never visible),
    ``buy_count``, ``sell_count``, ``buy_exposure_s``, ``sell_exposure_s``, indexed by
    ``distance_ticks``.
    """
    max_distance = check_int("max_distance", max_distance, minimum=1)
    counts = _message_counts(day, (EventType.SUBMISSION,), anchor, max_distance, None)
    expo = _exposure_and_depth(day, anchor, max_distance, profile)
    out = pd.DataFrame(index=pd.RangeIndex(1, max_distance + 1, name="distance_ticks"))
    for side in ("buy", "sell"):
        e = expo[side][0]
        out[f"{side}_per_s"] = np.where(e > 0, counts[side] / np.where(e > 0, e, 1.0), np.nan)
        out[f"{side}_count"] = counts[side]
        out[f"{side}_exposure_s"] = e
    return out


def cancellation_rates(day: LobsterDay, max_distance: int, anchor: str = "opposite_best") -> pd.DataFrame:
    """``theta(d)`` (1/s per resting share) and the mean visible depth (shares) at ``d = 1..K``.

    Columns ``buy_per_s``, ``sell_per_s``, ``buy_depth_shares``, ``sell_depth_shares``,
    ``buy_cancelled_shares``, ``sell_cancelled_shares``, ``buy_share_s``, ``sell_share_s``.
    """
    max_distance = check_int("max_distance", max_distance, minimum=1)
    cancelled = _message_counts(day, (EventType.CANCELLATION, EventType.DELETION), anchor, max_distance, "size_shares")
    expo = _exposure_and_depth(day, anchor, max_distance)
    out = pd.DataFrame(index=pd.RangeIndex(1, max_distance + 1, name="distance_ticks"))
    for side in ("buy", "sell"):
        e, share_s = expo[side]
        out[f"{side}_per_s"] = np.where(share_s > 0, cancelled[side] / np.where(share_s > 0, share_s, 1.0), np.nan)
        out[f"{side}_depth_shares"] = np.where(e > 0, share_s / np.where(e > 0, e, 1.0), np.nan)
        out[f"{side}_cancelled_shares"] = cancelled[side]
        out[f"{side}_share_s"] = share_s
    return out


# --- intraday profile ---------------------------------------------------------------------


def fit_intraday_profile(times_s: np.ndarray, weights: np.ndarray, start_s: float, end_s: float,
                         bucket_s: float = 300.0, burst: bool = False) -> tuple[IntradayVolumeProfile, pd.DataFrame]:
    """Fit the U-shape of :class:`IntradayVolumeProfile` to weighted event times.

    Without ``burst`` the three shape parameters are fitted by least squares to the buckets'
    shares. With ``burst`` the opening burst (``burst_boost``, ``burst_decay_frac``) is fitted
    too, with the U-shape, by weighted maximum likelihood of the event times as an
    inhomogeneous Poisson process (``sum_i v_i log w(u_i) - V log int_0^1 w``): a burst a
    minute wide is invisible to buckets of minutes. ``noise_sigma`` is the log-deviation of
    the buckets' shares from the fitted ones in both cases.

    :param times_s: event times (s), e.g. trades; ``weights`` their volumes (shares).
    :param start_s: session start (s); the session is ``[start_s, end_s)``.
    :param bucket_s: bucket length (s) for the fit and for ``noise_sigma``.
    :param burst: also fit the opening burst.
    :return: the fitted profile and a per-bucket table (``observed_frac``, ``fitted_frac``).
    """
    bucket_s = check_positive("bucket_s", bucket_s)
    times_s, weights = np.asarray(times_s, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    if times_s.shape != weights.shape:
        raise ValueError(f"times_s {times_s.shape} and weights {weights.shape} must have the same shape")
    session = end_s - start_s
    n_b = int(round(session / bucket_s))
    if n_b < 4 or abs(n_b * bucket_s - session) > 1e-6 * session:
        raise ValueError(f"bucket_s={bucket_s!r} must divide the session ({session} s) into >= 4 buckets")
    inside = (times_s >= start_s) & (times_s < end_s)
    vol = np.bincount(((times_s[inside] - start_s) // bucket_s).astype(np.int64), weights=weights[inside],
                      minlength=n_b)[:n_b]
    if vol.sum() <= 0:
        raise ValueError("no volume inside the session to fit an intraday profile")
    obs = vol / vol.sum()
    edges = np.linspace(0.0, 1.0, n_b + 1)

    def frac(x: np.ndarray) -> np.ndarray:
        return np.diff(_profile(x).cumulative_fraction(edges))

    res = least_squares(lambda x: frac(x) - obs, x0=[1.0, 1.0, 0.08], bounds=([0.0, 0.0, 0.005], [50.0, 50.0, 0.5]))
    x = np.asarray(res.x, dtype=np.float64)
    if burst:
        x = _fit_burst(x, (times_s[inside] - start_s) / session, weights[inside])
    fitted = frac(x)
    pos = obs > 0
    noise = float(np.std(np.log(obs[pos] / fitted[pos]))) if pos.sum() > 1 else 0.0
    profile = _profile(x, noise)
    table = pd.DataFrame({"bucket_start_s": start_s + edges[:-1] * session, "observed_frac": obs,
                          "fitted_frac": fitted})
    return profile, table


def _profile(x: np.ndarray, noise_sigma: float = 0.0) -> IntradayVolumeProfile:
    """The profile of the shape vector ``x``: ``(open, close, decay)`` or with ``(burst, burst_decay)``."""
    burst = {"burst_boost": float(x[3]), "burst_decay_frac": float(x[4])} if len(x) > 3 else {}
    return IntradayVolumeProfile(open_boost=float(x[0]), close_boost=float(x[1]), decay_frac=float(x[2]),
                                 noise_sigma=noise_sigma, **burst)


#: bounds of the opening burst's e-folding width as a fraction of the open bump's: narrower
MIN_BURST_RATIO, MAX_BURST_RATIO = 0.002, 1.0


def _fit_burst(u_shape: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Weighted Poisson ML of the five shape parameters (see :func:`fit_intraday_profile`)
    from the least-squares U-shape ``u_shape``. The burst's width is fitted as a fraction
    ``r`` of the open bump's (``burst_decay_frac = r decay_frac``, ``r`` in
    ``[MIN_BURST_RATIO, MAX_BURST_RATIO]``): the burst is the narrower of the two."""
    v = v / v.mean()

    def shape(y: np.ndarray) -> np.ndarray:
        return np.array([y[0], y[1], y[2], y[3], y[4] * y[2]])

    def nll(y: np.ndarray) -> float:
        prof = _profile(shape(y))
        return float(-(v * np.log(prof.intensity(u))).sum() + v.sum() * math.log(prof.mean_intensity()))

    lo = [0.0, 0.0, 0.005, 0.0, MIN_BURST_RATIO]
    hi = [50.0, 50.0, 0.5, 500.0, MAX_BURST_RATIO]
    best = None
    for boost, width in ((0.0, 0.002), (5.0, 0.002), (20.0, 0.0005)):  # without, a minute's and seconds' burst
        ratio = float(np.clip(width / u_shape[2], MIN_BURST_RATIO, MAX_BURST_RATIO))
        res = minimize(nll, x0=[*u_shape, boost, ratio], method="L-BFGS-B", bounds=list(zip(lo, hi)))
        if best is None or res.fun < best.fun:
            best = res
    return shape(np.asarray(best.x, dtype=np.float64))


# --- Hawkes market orders ---------------------------------------------------------------------


@njit(cache=True)
def _hawkes_excitation(t, beta):
    """``R_i = sum_{j<i} exp(-beta (t_i - t_j))`` for sorted times ``t``."""
    r = np.zeros(t.shape[0])
    for i in range(1, t.shape[0]):
        r[i] = math.exp(-beta * (t[i] - t[i - 1])) * (r[i - 1] + 1.0)
    return r


def _profile_weights(profile: IntradayVolumeProfile | None, times_s: np.ndarray, start_s: float, end_s: float
                     ) -> tuple[np.ndarray, float]:
    """``w(t_i)`` with mean 1 over the session, and its integral over ``[start_s, end_s]`` (s)."""
    session = end_s - start_s
    if profile is None:
        return np.ones_like(times_s), session
    u = (times_s - start_s) / session
    return profile.intensity(u) / profile.mean_intensity(), session


def fit_hawkes(times_s: np.ndarray, start_s: float, end_s: float,
               profile: IntradayVolumeProfile | None = None) -> dict[str, float]:
    """Maximum-likelihood exponential Hawkes fit of one side's event times.

    Intensity ``mu w(t) + sum_{t_i < t} alpha exp(-beta (t - t_i))`` with ``w`` the
    intraday profile normalised to mean 1 over ``[start_s, end_s]`` (flat if ``None``).

    :return: ``mu_per_s``, ``alpha_per_s``, ``beta_per_s``, ``branching_ratio`` (alpha /
        beta), ``mean_rate_per_s`` (events / s) and ``log_likelihood``; for a Poisson
        process (no excitation) the fit returns ``alpha`` close to 0.
    """
    t = np.sort(np.asarray(times_s, dtype=np.float64))
    t = t[(t >= start_s) & (t <= end_s)]
    if len(t) < 10:
        raise ValueError(f"need at least 10 event times in [{start_s}, {end_s}] for a Hawkes fit, got {len(t)}")
    w, total_w = _profile_weights(profile, t, start_s, end_s)
    tail = end_s - t
    n = len(t)
    rate = n / (end_s - start_s)

    def nll(x: np.ndarray) -> float:
        mu, br, beta = math.exp(x[0]), 1.0 / (1.0 + math.exp(-x[1])), math.exp(x[2])
        alpha = br * beta
        lam = mu * w + alpha * _hawkes_excitation(t, beta)
        comp = mu * total_w + br * np.sum(-np.expm1(-beta * tail))
        return float(comp - np.sum(np.log(lam)))

    best = None
    for br0 in (0.1, 0.5):
        for beta0 in (0.1, 1.0, 10.0):
            x0 = [math.log(rate * (1 - br0)), math.log(br0 / (1 - br0)), math.log(beta0)]
            r = minimize(nll, x0, method="Nelder-Mead", options={"xatol": 1e-5, "fatol": 1e-6, "maxiter": 4000})
            if best is None or r.fun < best.fun:
                best = r
    mu, br, beta = math.exp(best.x[0]), 1.0 / (1.0 + math.exp(-best.x[1])), math.exp(best.x[2])
    return {"mu_per_s": mu, "alpha_per_s": br * beta, "beta_per_s": beta, "branching_ratio": br,
            "mean_rate_per_s": rate, "log_likelihood": -float(best.fun)}


@njit(cache=True)
def _kernels_nll(t, w, total_w, tail, mu, alphas, betas):
    """Negative log-likelihood of ``mu w(t) + sum_k alpha_k sum_{t_i < t} exp(-beta_k (t - t_i))``
    at sorted times ``t`` (``w`` at them, ``total_w`` its integral, ``tail`` = end - t)."""
    n_k = alphas.shape[0]
    a = np.zeros(n_k)
    log_sum = 0.0
    for i in range(t.shape[0]):
        lam = mu * w[i]
        for k in range(n_k):
            if i > 0:
                a[k] = math.exp(-betas[k] * (t[i] - t[i - 1])) * (a[k] + 1.0)
            lam += alphas[k] * a[k]
        log_sum += math.log(lam)
    comp = mu * total_w
    for k in range(n_k):
        s = 0.0
        for i in range(t.shape[0]):
            s -= math.expm1(-betas[k] * tail[i])
        comp += alphas[k] / betas[k] * s
    return comp - log_sum


def fit_hawkes_kernels(times_s: np.ndarray, start_s: float, end_s: float, n_kernels: int,
                       profile: IntradayVolumeProfile | None = None) -> dict[str, Any]:
    """Maximum-likelihood Hawkes fit with a kernel of ``n_kernels`` exponentials.

    Intensity ``mu w(t) + sum_k alpha_k sum_{t_i < t} exp(-beta_k (t - t_i))``, ``w`` the
    intraday profile with mean 1 over ``[start_s, end_s]`` (flat if ``None``); the kernels'
    time scales are found from starts spread over 1/s to 1000/s (L-BFGS-B on the logs).
    Times that repeat (messages of one event, e.g. the executions of one marketable order)
    count once.

    :return: ``mu_per_s``, ``alphas_per_s`` and ``betas_per_s`` (tuples, by increasing beta),
        ``branching_ratio`` (``sum alpha_k / beta_k``), ``mean_rate_per_s`` and
        ``log_likelihood``.
    """
    k = check_int("n_kernels", n_kernels, minimum=1)
    t = np.unique(np.asarray(times_s, dtype=np.float64))
    t = t[(t >= start_s) & (t <= end_s)]
    if len(t) < 10 * (2 * k + 1):
        raise ValueError(f"need at least {10 * (2 * k + 1)} distinct event times in [{start_s}, {end_s}] for a "
                         f"{k}-kernel Hawkes fit, got {len(t)}")
    w, total_w = _profile_weights(profile, t, start_s, end_s)
    # the fit is a function of the times, their weights and the window alone: kept, so that
    # calibrations of one day under other settings (the presets, the realism report's models)
    # fit it once
    key = (hashlib.blake2b(t.tobytes() + w.tobytes()).hexdigest(), float(start_s), float(end_s), float(total_w), k)
    if key in _HAWKES_FITS:
        _HAWKES_FITS.move_to_end(key)
        return dict(_HAWKES_FITS[key])
    fit = _fit_hawkes_kernels(t, w, total_w, start_s, end_s, k)
    _HAWKES_FITS[key] = dict(fit)
    while len(_HAWKES_FITS) > _HAWKES_FITS_KEPT:
        _HAWKES_FITS.popitem(last=False)
    return fit


#: :func:`fit_hawkes_kernels`' fits kept (the last ones, by their inputs' contents)
_HAWKES_FITS: OrderedDict = OrderedDict()
_HAWKES_FITS_KEPT = 16


def _fit_hawkes_kernels(t: np.ndarray, w: np.ndarray, total_w: float, start_s: float, end_s: float,
                        k: int) -> dict[str, Any]:
    """:func:`fit_hawkes_kernels` on checked distinct times ``t`` and their weights ``w``."""
    tail = end_s - t
    rate = len(t) / (end_s - start_s)

    def nll(x: np.ndarray) -> float:
        return _kernels_nll(t, w, total_w, tail, math.exp(x[0]), np.exp(x[1 : 1 + k]), np.exp(x[1 + k :]))

    best = None
    for scales in (np.logspace(0, 3, k) if k > 1 else np.array([10.0]), np.logspace(0.5, 3.5, k) / 3.0):
        for br0 in (0.3, 0.7):
            x0 = np.concatenate([[math.log(rate * (1 - br0))], np.log(br0 / k * scales), np.log(scales)])
            r = minimize(nll, x0, method="L-BFGS-B", bounds=[(-30.0, 30.0)] + [(-20.0, 15.0)] * (2 * k))
            if np.isfinite(r.fun) and (best is None or r.fun < best.fun):
                best = r
    if best is None:
        raise ValueError(f"the {k}-kernel Hawkes fit found no finite likelihood for these {len(t)} times")
    alphas, betas = np.exp(best.x[1 : 1 + k]), np.exp(best.x[1 + k :])
    order = np.argsort(betas)
    alphas, betas = alphas[order], betas[order]
    br = float(np.sum(alphas / betas))
    if br >= 1.0:
        raise ValueError(f"the Hawkes fit is not stationary (branching ratio {br:.4f} >= 1): these times are too "
                         "bursty for a constant baseline; fit a shorter window or fewer kernels")
    return {"mu_per_s": math.exp(best.x[0]), "alphas_per_s": tuple(float(a) for a in alphas),
            "betas_per_s": tuple(float(b) for b in betas), "branching_ratio": br, "mean_rate_per_s": rate,
            "log_likelihood": -float(best.fun)}


# --- long memory of trade signs ---------------------------------------------------------------


@njit(cache=True)
def _run_signs(n, share, alpha, seed):
    """``n`` market-order signs of the flow's sign-run mechanism alone: each follows the
    current run with probability ``share`` (the run's Pareto length, tail ``alpha``), else a
    fair coin (the flow's other orders, whose sides balance)."""
    np.random.seed(seed)
    out = np.empty(n)
    sign, left = 0.0, 0
    for i in range(n):
        if np.random.random() < share:
            if left <= 0:
                sign = 1.0 if np.random.random() < 0.5 else -1.0
                left = int(min(math.floor((1.0 - np.random.random()) ** (-1.0 / alpha)), 1 << 20))
            left -= 1
            out[i] = sign
        else:
            out[i] = 1.0 if np.random.random() < 0.5 else -1.0
    return out


def sign_run_acf(share: float, alpha: float, max_lag: int, n: int = 400_000, seed: int = 0) -> np.ndarray:
    """The trade-sign autocorrelation at lags ``1..max_lag`` that the sign-run mechanism
    (:class:`FlowConfig`'s ``sign_run_share``, ``sign_run_exponent``) gives, from ``n``
    simulated signs."""
    max_lag, n, seed = check_int("max_lag", max_lag, minimum=1), check_int("n", n, minimum=1), check_int("seed", seed)
    return _sign_run_acf(float(share), float(alpha), max_lag, n, seed).copy()


@functools.lru_cache(maxsize=1024)
def _sign_run_acf(share: float, alpha: float, max_lag: int, n: int, seed: int) -> np.ndarray:
    """:func:`sign_run_acf`, kept: :func:`fit_sign_runs` evaluates the same grid for every day."""
    acf = autocorrelation(_run_signs(n, share, alpha, seed), max_lag)
    acf.flags.writeable = False
    return acf


def fit_sign_runs(signs: np.ndarray, max_lag: int = 100, min_lag: int = 5) -> dict[str, float]:
    """Fit the sign-run mechanism to a sequence of trade signs (+1 buy, -1 sell) by least
    squares between its autocorrelation and :func:`sign_run_acf` at lags
    ``min_lag..max_lag`` (the shorter lags also carry the Hawkes excitation of each side),
    over a grid of ``share`` (0.05-1) and ``alpha`` (1.1-2.0).

    :return: ``sign_run_share``, ``sign_run_exponent``, the residual ``rmse`` and the fitted
        power-law decay exponent ``gamma`` of the data's autocorrelation (``C(l) ~ l^-gamma``
        over the lags where it is positive; the mechanism gives ``gamma = alpha - 1``).
    """
    max_lag = check_int("max_lag", max_lag, minimum=2)
    min_lag = check_int("min_lag", min_lag, minimum=1)
    if min_lag > max_lag:
        raise ValueError(f"min_lag must be <= max_lag, got min_lag={min_lag}, max_lag={max_lag}")
    acf = autocorrelation(np.asarray(signs, dtype=float), max_lag)
    real = acf[min_lag - 1:]
    gamma = power_law_decay(acf, min_lag)["gamma"]
    best = (math.inf, 0.0, 1.5)
    for alpha in np.round(np.arange(1.1, 2.01, 0.1), 2):
        for share in np.round(np.arange(0.05, 1.001, 0.05), 2):
            model = sign_run_acf(float(share), float(alpha), max_lag, n=200_000)[min_lag - 1:]
            err = float(np.sqrt(np.mean((model - real) ** 2)))
            if err < best[0]:
                best = (err, float(share), float(alpha))
    return {"sign_run_share": best[1], "sign_run_exponent": best[2], "rmse": best[0], "gamma": gamma}


#: a cancellation this soon after its order's submission (s) counts as a fleeting order's
FLEETING_S = 0.1


def fleeting_shares(day: LobsterDay) -> dict[str, float]:
    """``join_share``: the share of the day's submissions placed at their side's best quote;
    ``fast_cancel_share``: the share of its deletions within :data:`FLEETING_S` of the
    order's submission (both from :mod:`~execgym.envs.market.analysis.realism`'s samples)."""
    samples = metric_samples(day, ["order_level_ticks", "log10_time_to_cancel_s"])
    levels, life = samples["order_level_ticks"], samples["log10_time_to_cancel_s"]
    if not len(levels) or not len(life):
        raise ValueError(f"{day.name}: no submissions or deletions to measure fleeting orders on")
    return {"join_share": float(np.mean(levels == 0)), "fast_cancel_share": float(np.mean(life < math.log10(FLEETING_S)))}


# --- everything together -----------------------------------------------------------------------


@dataclass(frozen=True)
class FlowCalibration:
    """The estimates from one day and the flow config they map to (module docstring).

    :param flow: the calibrated background flow.
    :param impact: the calibrated impact dynamics.
    :param table: per distance: real ``lambda(d)``, ``theta(d)`` and depth per side, and
        the config's ``lambda_d`` and steady-state depth.
    :param intraday: per-bucket observed and fitted volume shares.
    :param hawkes: the per-side Hawkes fits.
    :param scalars: every scalar estimate (rates, sizes, volatility), by name.
    """

    flow: FlowConfig
    impact: ImpactConfig
    table: pd.DataFrame
    intraday: pd.DataFrame
    hawkes: pd.DataFrame
    scalars: dict[str, float] = field(default_factory=dict)

    @property
    def sigma_ticks_per_sqrt_s(self) -> float:
        return self.scalars["sigma_ticks_per_sqrt_s"]

    @property
    def hidden_volume_frac(self) -> float:
        return self.scalars["hidden_volume_frac"]

    def market_config(self, tick_size: float, initial_mid_ticks: float, warmup_s: float) -> dict[str, Any]:
        """A plain mapping of :class:`~execgym.envs.market.simulation.simulator.SimulatorConfig` fields (for YAML)."""
        f, i = self.flow, self.impact
        prof = f.intraday
        return {
            "tick_size": tick_size, "lot_size": 1, "initial_mid_ticks": float(initial_mid_ticks),
            "warmup_s": float(warmup_s), "start_of_day_s": 0.0, "log_events": False,
            "flow": {
                "depth_shares": [_sig(x, 4) for x in f.depth_shares],
                **({"depth_sell_shares": [_sig(x, 4) for x in f.depth_sell_shares]} if f.depth_sell_shares else {}),
                "resilience_per_s": _sig(f.resilience_per_s), "mean_limit_size_shares": _sig(f.mean_limit_size_shares),
                "market_rate_per_s": _sig(f.market_rate_per_s), "mean_market_size_shares": _sig(f.mean_market_size_shares),
                "hawkes_alpha_per_s": _sig(f.hawkes_alpha_per_s), "hawkes_beta_per_s": _sig(f.hawkes_beta_per_s),
                "size_distribution": f.size_distribution, "anchor": f.anchor, "session_s": float(f.session_s),
                **({} if not f.cluster_alphas_per_s else {
                    "cluster_alphas_per_s": _stationary_alphas(f),
                    "cluster_betas_per_s": [_sig(x) for x in f.cluster_betas_per_s],
                    "cluster_limit_frac": f.cluster_limit_frac}),
                **({} if not f.sign_run_share else {
                    "sign_run_share": f.sign_run_share, "sign_run_exponent": f.sign_run_exponent}),
                **({} if not f.cluster_join_frac and not f.cluster_cancel_newest_frac else {
                    "cluster_join_frac": _sig(f.cluster_join_frac),
                    "cluster_cancel_newest_frac": _sig(f.cluster_cancel_newest_frac)}),
                **({} if not f.placement_scale else {
                    "placement_scale": [_sig(x, 4) for x in f.placement_scale],
                    **({"placement_scale_starts_s": list(f.placement_scale_starts_s)} if f.placement_scale_starts_s
                       else {"placement_scale_bucket_s": f.placement_scale_bucket_s})}),
                **({} if not f.revise_best_per_s and not f.revise_deep_per_s else {
                    "revise_best_per_s": _sig(f.revise_best_per_s, 4), "revise_deep_per_s": _sig(f.revise_deep_per_s, 4),
                    "revise_delay_s": _sig(f.revise_delay_s, 4),
                    "revise_best_probs": [_sig(x, 4) for x in f.revise_best_probs],
                    "revise_deep_probs": [_sig(x, 4) for x in f.revise_deep_probs]}),
                **({} if not f.market_spread_factor else {
                    "market_spread_ticks": list(f.market_spread_ticks),
                    "market_spread_factor": [_sig(x, 4) for x in f.market_spread_factor]}),
                **({} if not f.inside_probs else {
                    "inside_spread_ticks": list(f.inside_spread_ticks),
                    "inside_probs": [_sig(x, 4) for x in f.inside_probs],
                    "inside_improve_fracs": [_sig(x, 4) for x in f.inside_improve_fracs],
                    "inside_fleeting_fracs": [_sig(x, 4) for x in f.inside_fleeting_fracs],
                    "inside_life_s": _sig(f.inside_life_s),
                    **({} if not f.inside_life_quantiles_s else {
                        "inside_life_quantiles_s": [_sig(x, 4) for x in f.inside_life_quantiles_s]}),
                    **({} if not f.inside_take_edges else {
                        "inside_take_edges": list(f.inside_take_edges),
                        "inside_taken_fracs": [_sig(x, 4) for x in f.inside_taken_fracs],
                        "inside_take_quantiles_s": [_sig(x, 4) for x in f.inside_take_quantiles_s]}),
                    **({} if f.inside_flicker_slots == 1 else {"inside_flicker_slots": f.inside_flicker_slots})}),
                **({"refill_empty_side": True} if f.refill_empty_side else {}),
                **({"cluster_cancel_redraw": True} if f.cluster_cancel_redraw else {}),
                **({"cluster_levels": f.cluster_levels} if f.cluster_levels else {}),
                **({"best_anchor_excited": True} if f.best_anchor_excited else {}),
                **({"best_anchor_scaled": True} if f.best_anchor_scaled else {}),
                **({} if not f.cancel_size_factors else {
                    "cancel_size_edges_shares": list(f.cancel_size_edges_shares),
                    "cancel_size_factors": [_sig(x, 4) for x in f.cancel_size_factors],
                    "cancel_size_behind_ticks": f.cancel_size_behind_ticks,
                    "cancel_near_factor": _sig(f.cancel_near_factor, 4)}),
                **({} if not f.inside_follow_probs else {
                    "inside_follow_gaps_s": list(f.inside_follow_gaps_s),
                    "inside_follow_probs": [_sig(x, 4) for x in f.inside_follow_probs]}),
                **({} if not f.market_queue_cap_frac else {
                    "market_queue_cap_frac": _sig(f.market_queue_cap_frac, 4),
                    "market_taken_size_shares": _sig(f.market_taken_size_shares)}),
                **({} if not f.activity_sigma else {
                    "activity_sigma": _sig(f.activity_sigma), "activity_time_s": _sig(f.activity_time_s)}),
                **({} if not f.best_anchor_frac else {
                    "best_anchor_frac": f.best_anchor_frac,
                    "best_anchor_probs": [_sig(x, 4) for x in f.best_anchor_probs]}),
                **({} if not f.hidden_rate_per_s else {
                    "hidden_rate_per_s": _sig(f.hidden_rate_per_s, 4),
                    "hidden_sizes_shares": list(f.hidden_sizes_shares),
                    "hidden_size_probs": list(f.hidden_size_probs)}),
                **({} if f.size_distribution != "empirical" else {  # exact: the means must be the tables'
                    "mean_limit_size_shares": f.mean_limit_size_shares,
                    "mean_market_size_shares": f.mean_market_size_shares,
                    "limit_sizes_shares": list(f.limit_sizes_shares), "limit_size_probs": list(f.limit_size_probs),
                    **({"limit_size_place_probs": list(f.limit_size_place_probs)} if f.limit_size_place_probs else {}),
                    "market_sizes_shares": list(f.market_sizes_shares),
                    "market_size_probs": list(f.market_size_probs)}),
                "intraday": None if prof is None else {
                    "open_boost": _sig(prof.open_boost), "close_boost": _sig(prof.close_boost),
                    "decay_frac": _sig(prof.decay_frac), "noise_sigma": _sig(prof.noise_sigma),
                    **({} if not prof.burst_boost else {
                        "burst_boost": _sig(prof.burst_boost), "burst_decay_frac": _sig(prof.burst_decay_frac)})},
            },
            "impact": {"transient_ticks_per_share": _sig(i.transient_ticks_per_share),
                       "permanent_ticks_per_share": _sig(i.permanent_ticks_per_share),
                       "sigma_ticks_per_sqrt_s": _sig(i.sigma_ticks_per_sqrt_s)},
        }


def best_distances(day: LobsterDay) -> tuple[float, ...]:
    """The distribution of the distance (ticks) behind their side's best quote of the day's
    session submissions at or behind it (:func:`~execgym.envs.market.data.lobster_data.price_vs_best`;
    a side with a best), over ``0, 1, ...`` up to the farthest seen below
    :data:`~execgym.envs.market.simulation.flow.MAX_BEST_TICKS` (the flow's ``best_anchor_probs``).
    A 10-level file records only the submissions within its levels, and so do the simulated
    days it is compared with.

    :raises ValueError: if the session has no such submission.
    """
    better, has = price_vs_best(day)
    t = day.messages["time_s"].to_numpy()
    keep = ((day.messages["type"].to_numpy() == int(EventType.SUBMISSION)) & has & (better <= 0)
            & (t >= day.start_s) & (t < day.end_s))
    behind = -better[keep]
    behind = behind[behind < MAX_BEST_TICKS]
    if len(behind) == 0:
        raise ValueError(f"day {day.name!r} has no submission at or behind its side's best in its session")
    counts = np.bincount(behind)
    return tuple(float(x) for x in counts / counts.sum())


def _stationary_alphas(f: FlowConfig) -> list[float]:
    """The clustering's alphas rounded for YAML, shrunk if the rounding took the branching
    ratio (with the rounded betas) to 1 or beyond."""
    alphas = [_sig(x) for x in f.cluster_alphas_per_s]
    ratio = sum(a / _sig(b) for a, b in zip(alphas, f.cluster_betas_per_s))
    if ratio >= 0.9999:
        alphas = [_sig(a * 0.9999 / ratio) * (1.0 - 1e-5) for a in alphas]
    return alphas


def _sig(x: float, digits: int = 5) -> float:
    """``x`` rounded to ``digits`` significant digits (for readable YAML)."""
    return 0.0 if x == 0 else float(f"{x:.{digits}g}")


def mid_on_grid(day: LobsterDay, grid_s: np.ndarray) -> np.ndarray:
    """The mid (ticks) in force at each time of ``grid_s`` (seconds of the day), carried
    forward over one-sided moments; NaN before the first two-sided quote."""
    mid = day.mid_ticks()
    idx = np.searchsorted(day.messages["time_s"].to_numpy(), grid_s, side="right") - 1
    return pd.Series(np.where(idx >= 0, mid[np.clip(idx, 0, None)], np.nan)).ffill().to_numpy()


def _mid_volatility(day: LobsterDay, horizon_s: float) -> float:
    """Volatility of the mid (ticks/sqrt(s)) from its changes over ``horizon_s`` on a grid."""
    m = mid_on_grid(day, np.arange(day.start_s + horizon_s, day.end_s + 1e-9, horizon_s))
    dm = np.diff(m)
    dm = dm[np.isfinite(dm)]
    return float(math.sqrt(np.mean(dm**2) / horizon_s)) if len(dm) else 0.0


def empirical_sizes(sizes: np.ndarray, max_values: int = 128, weights: np.ndarray | None = None
                    ) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """An empirical size table ``(sizes, counts)`` of a sample of order sizes (shares): its
    ``max_values - 1`` most frequent values (round lots among them) and, if there are more,
    one entry for the rest at their mean rounded to whole shares. The table's mean is the
    sample's up to that rounding. ``weights``: each size's weight (a distribution's
    probabilities; default 1 each)."""
    values, inverse = np.unique(np.asarray(sizes, dtype=np.int64), return_inverse=True)
    if len(values) == 0 or values[0] < 1:
        raise ValueError(f"order sizes must be >= 1 share, got {len(values)} distinct values from {values[:1]}")
    check_int("max_values", max_values, minimum=2)
    w = np.ones(len(inverse)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != inverse.shape or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"weights must be one finite, nonnegative number per size, not all 0, got shape {w.shape} "
                         f"for {len(inverse)} sizes")
    counts = np.bincount(inverse.ravel(), weights=w, minlength=len(values))
    if weights is None:
        counts = counts.astype(np.int64)
    if len(values) > max_values:
        keep = np.sort(np.argsort(-counts, kind="stable")[: max_values - 1])
        rest = np.setdiff1d(np.arange(len(values)), keep)
        lump = max(1, int(round(float((values[rest] * counts[rest]).sum() / counts[rest].sum()))))
        values = np.append(values[keep], lump)
        counts = np.append(counts[keep], counts[rest].sum())
    return tuple(float(v) for v in values), tuple(float(c) for c in counts)


def _table_mean(table: tuple[tuple[float, ...], tuple[float, ...]]) -> float:
    sizes, counts = (np.asarray(x) for x in table)
    return float((sizes * counts).sum() / counts.sum())


def calibrate_flow(day: LobsterDay, max_distance: int, anchor: str = "opposite_best", match: str = "arrivals",
                   bucket_s: float = 300.0, hawkes: bool = True, volatility_horizon_s: float = 60.0,
                   sizes: str = "geometric", clustering: int = 0, sides: str = "pooled",
                   sign_memory: bool = False, activity: bool = False, fleeting: bool = False,
                   spread_profile: bool = False, spread_starts_s: tuple[float, ...] | None = None,
                   spread_rate: bool = False, spread_rate_low: tuple[float, ...] = (), revisions: bool = False,
                   opening_burst: bool = False, inside: bool = False, refill: bool = False,
                   queue_sizes: bool = False, follow: bool = False, cancel_redraw: bool = False,
                   place_sizes: bool = False, hidden: bool = False, inside_lives: bool = False,
                   best_anchor: float = 0.0, inside_takes: bool = False, cluster_levels: bool = False,
                   best_anchor_excited: bool = False, cancel_sizes: bool = False,
                   best_anchor_scaled: bool = False) -> FlowCalibration:
    """Estimate the flow's parameters from ``day`` and map them to a :class:`FlowConfig`.

    :param max_distance: ``K``, the farthest distance (ticks) the flow places orders at.
    :param anchor: where distances are measured from (module docstring).
    :param match: with one cancellation rate ``rho`` the flow can reproduce either the real
        arrival rates ``lambda(d)`` (``"arrivals"``) or the real mean depth at each
        distance (``"depth"``: ``depth_shares`` = the measured depth, and so
        ``lambda_d = rho * depth / mean size``), not both unless ``theta(d)`` is flat.
    :param bucket_s: bucket length (s) of the intraday-profile fit.
    :param opening_burst: fit the intraday profile's opening burst too (the first minute's
        trading, :func:`fit_intraday_profile` with ``burst=True``).
    :param hawkes: fit self-excitation of market orders (else Poisson: ``alpha = 0``).
    :param volatility_horizon_s: horizon of the mid-volatility estimate (s).
    :param sizes: ``"geometric"`` (the sizes' means) or ``"empirical"`` (the recorded
        limit and marketable order sizes as tables, :func:`empirical_sizes`).
    :param sides: ``"pooled"``: one depth profile for both sides (the mean of the sides'
        estimates); ``"separate"``: the bid side's in ``depth_shares`` and the ask side's in
        ``depth_sell_shares`` (a recorded book is rarely symmetric).
    :param sign_memory: fit the long memory of trade signs (:func:`fit_sign_runs` on the
        marketable orders' signs) into ``sign_run_share`` and ``sign_run_exponent``.
    :param activity: fit the random clock (waves of activity of tens of seconds,
        :func:`~execgym.envs.market.analysis.calibration.activity.fit_activity`) into
        ``activity_sigma`` and ``activity_time_s``.
    :param spread_profile: fit the intraday spread (``placement_scale``,
        :func:`~execgym.envs.market.analysis.calibration.spread_profile.fit_spread_profile`).
    :param spread_starts_s: its buckets' starts (s after the open, ``placement_scale_starts_s``;
        e.g. :data:`~execgym.envs.market.analysis.calibration.spread_profile.OPENING_STARTS_S`;
        those beyond the day's session are dropped); ``None``: half hours.
    :param spread_rate: fit how the market orders' rate falls with the spread
        (``market_spread_ticks``, ``market_spread_factor``,
        :func:`~execgym.envs.market.analysis.calibration.spread_rate.fit_spread_rate`; the
        refinement, ``refine_depth(spread_rate=True)``, keeps their count).
    :param spread_rate_low: further bounds of the market orders' spread buckets at these time
        quantiles below the first decile
        (:func:`~execgym.envs.market.analysis.calibration.spread_rate.spread_buckets`).
    :param revisions: fit order revisions (``revise_*``,
        :func:`~execgym.envs.market.analysis.calibration.revisions.revision_statistics`; the
        refinement, ``refine_depth(revisions=True)``, refines their shares by simulation).
    :param inside: fit orders posted inside a wide spread (``inside_*``,
        :func:`~execgym.envs.market.analysis.calibration.inside.inside_statistics`: the day's
        share of submissions inside the spread per spread bucket less the depth profile's
        (:func:`~execgym.envs.market.analysis.calibration.inside.inside_probs`) as the first
        guess, the improvements' quantiles, the flickering quotes;
        ``refine_depth(inside=True)`` solves for the probabilities by simulation).
    :param queue_sizes: market orders that take at most the queue they hit
        (``market_queue_cap_frac``,
        :func:`~execgym.envs.market.analysis.calibration.queue_sizes.queue_statistics`; the
        market sizes, mean or table, are then the Kaplan-Meier estimate of the sizes before
        the cap).
    :param follow: quotes that follow the last change (``inside_follow_*``,
        :func:`~execgym.envs.market.analysis.calibration.quote_follow.follow_statistics`: the
        day's share of submissions inside the spread on the side whose best changed last, by
        the change's kind and age).
    :param refill: a side of the simulated book never empties (``refill_empty_side``; a
        recorded day's never does: nothing to fit).
    :param fleeting: (with ``clustering``) shape the excited events as fleeting orders: the
        share of the excited submissions that join their best (``cluster_join_frac``) and
        of the excited cancellations that take the newest order
        (``cluster_cancel_newest_frac``), first guessed as the day's share of submissions at
        their side's best and of cancellations within :data:`FLEETING_S` of the submission
        (:func:`fleeting_shares`; ``refine_depth(fleeting=True)`` refines them by simulation).
    :param clustering: kernels (0-3) of the submissions' and cancellations' Hawkes clustering
        (:class:`FlowConfig`'s ``cluster_*``), fitted by :func:`fit_hawkes_kernels` to the
        day's submission and cancellation times with the intraday profile; 0: none.
    :param place_sizes: (with ``sizes="empirical"``) limit sizes by placement
        (``limit_size_place_probs``,
        :func:`~execgym.envs.market.analysis.calibration.size_places.place_size_probs`: the
        counted submissions' sizes inside the spread, at their side's best and behind it, over
        the limit table's entries).
    :param cancel_sizes: cancellation by size (``cancel_size_edges_shares``,
        ``cancel_size_factors``,
        :func:`~execgym.envs.market.analysis.calibration.cancel_sizes.cancel_size_factors`: each
        size group's hazard over the day's order lives over the pooled rate ``rho``, and the
        nearer orders' in ``cancel_near_factor``;
        the groups :data:`~execgym.envs.market.analysis.calibration.cancel_sizes.DEFAULT_EDGES_SHARES`,
        sparse ones merged, for the orders behind their best by more than the day's median
        distance there).
    :param inside_lives: (with ``inside``) the orders posted inside keep the day's whole
        lives: the share of them deleted per bucket (``inside_fleeting_fracs``) after a life
        drawn from the day's quantiles (``inside_life_quantiles_s``), up to
        ``MAX_FLICKER_SLOTS`` pending at once
        (:func:`~execgym.envs.market.analysis.calibration.inside.inside_statistics`).
    :param inside_takes: (with ``inside_lives``) the orders posted inside are taken by an
        opposite market order with the day's share and delays by improvement bucket
        (``inside_take_edges``, ``inside_taken_fracs``, ``inside_take_quantiles_s``); the
        others are withdrawn with the day's share of them deleted.
    :param best_anchor: the share ``best_anchor_frac`` of new limit orders placed from their
        side's own best (0: none), at distances drawn from the day's (:func:`best_distances`).
    :param hidden: hidden executions (``hidden_rate_per_s``, ``hidden_sizes_shares``,
        ``hidden_size_probs``): the day's count of type-5 messages in the session over the
        session's time with a spread of two ticks or more (the flow posts none at one tick),
        and their sizes' table (:func:`empirical_sizes`).
    :param cancel_redraw: (with ``clustering``) an excited cancellation that draws a filled
        order's entry draws again (``cluster_cancel_redraw``): the simulated branching ratio
        is the fitted one (nothing to fit).
    :param cluster_levels: (with ``clustering``) the clustering acts within the levels the
        day records (``cluster_levels = day.levels``), those its kernels were fitted on.
    :param best_anchor_excited: (with ``clustering`` and ``best_anchor``) the placement from
        the best applies to the clustering's excited submissions only.
    :param best_anchor_scaled: (with ``best_anchor`` and ``spread_profile``) the placement from
        the best follows the intraday spread (``FlowConfig.best_anchor_scaled``; nothing to fit).
    """
    check_choice("anchor", anchor, ("opposite_best", "reference"))
    check_choice("sizes", sizes, ("geometric", "empirical"))
    check_choice("match", match, ("arrivals", "depth"))
    check_choice("sides", sides, ("pooled", "separate"))
    if spread_rate_low and not spread_rate:
        raise ValueError(f"spread_rate_low={spread_rate_low!r} splits the market orders' spread buckets: it needs "
                         f"spread_rate=True")
    if inside_takes and not inside_lives:
        raise ValueError("inside_takes=True plans takes beside the withdrawals of the orders posted inside: it needs "
                         "inside_lives=True")
    if inside_lives and not inside:
        raise ValueError("inside_lives=True gives the orders posted inside their lives: it needs inside=True")
    check_fraction("best_anchor", best_anchor)
    # the options that shape the clustering, refused before any fit
    if check_int("clustering", clustering, minimum=0) > MAX_CLUSTER_KERNELS:
        raise ValueError(f"clustering must be 0-{MAX_CLUSTER_KERNELS} kernels, got {clustering!r}")
    if cluster_levels and not clustering:
        raise ValueError("cluster_levels=True confines the clustering to the recorded levels: it needs "
                         "clustering >= 1")
    if best_anchor_excited and (not clustering or not best_anchor):
        raise ValueError(f"best_anchor_excited=True places the clustering's excited submissions from the best: it "
                         f"needs clustering >= 1 and best_anchor > 0, got clustering={clustering!r}, "
                         f"best_anchor={best_anchor!r}")
    if best_anchor_scaled and (not best_anchor or not spread_profile):
        raise ValueError(f"best_anchor_scaled=True scales the placement from the best by the intraday spread: it "
                         f"needs best_anchor > 0 and spread_profile=True, got best_anchor={best_anchor!r}, "
                         f"spread_profile={spread_profile!r}")
    if cancel_redraw and not clustering:
        raise ValueError("cancel_redraw=True shapes the clustering's excited cancellations: it needs clustering >= 1")
    if fleeting and not clustering:
        raise ValueError("fleeting=True shapes the clustering's excited events: it needs clustering >= 1")
    if place_sizes and sizes != "empirical":
        raise ValueError(f"place_sizes=True fits empirical limit sizes by placement: it needs sizes='empirical', got "
                         f"{sizes!r}")
    m = day.messages
    t = m["time_s"].to_numpy()
    in_session = (t >= day.start_s) & (t < day.end_s)
    mo = marketable_orders(m, day.start_s, day.end_s)
    if len(mo) < 20:
        raise ValueError(f"only {len(mo)} marketable orders in the session: too few to calibrate")
    profile, intraday = fit_intraday_profile(mo["time_s"].to_numpy(), mo["size_shares"].to_numpy(),
                                             day.start_s, day.end_s, bucket_s, burst=opening_burst)
    lam = limit_arrival_rates(day, max_distance, anchor, profile)
    theta = cancellation_rates(day, max_distance, anchor)
    seen = np.minimum(lam["buy_exposure_s"], lam["sell_exposure_s"]) / day.duration_s
    if seen.iloc[-1] < MIN_VISIBLE_FRAC:
        logger.warning("distances beyond %d ticks were visible less than %.0f%% of the session in this %d-level "
                       "file (%.1f%% at %d ticks): their rates and depth rest on little data; lower max_distance "
                       "or use a file with more levels", int(np.argmax(seen.to_numpy() < MIN_VISIBLE_FRAC)),
                       100 * MIN_VISIBLE_FRAC, day.levels, 100 * seen.iloc[-1], max_distance)

    # sizes: submissions that were counted as arrivals at 1..K
    before = book_before(day, anchor)
    d = before["distance_ticks"].to_numpy()
    counted = (m["type"].to_numpy() == EventType.SUBMISSION) & in_session & (d >= 1) & (d <= max_distance) & (
        d <= before["window_ticks"].to_numpy())
    mean_limit = float(m["size_shares"].to_numpy()[counted].mean())
    market_sizes, market_weights = mo["size_shares"].to_numpy(), None
    tables: dict[str, Any] = {}
    if queue_sizes:
        queues = queue_statistics(day)
        market_sizes, market_weights = queues["sizes_shares"], queues["size_probs"]
        tables["market_queue_cap_frac"] = queues["cap_frac"]
        tables["market_taken_size_shares"] = float(mo["size_shares"].mean())
        logger.info("market orders: %.2f take exactly the queue at the opposite best, %.2f more (capped: %.2f); "
                    "sizes before the cap: mean %.1f shares against %.1f taken", queues["exact_frac"],
                    queues["walk_frac"], queues["cap_frac"], float(np.dot(market_sizes, market_weights)),
                    float(mo["size_shares"].mean()))
    mean_market = float(np.average(market_sizes, weights=market_weights))
    if sizes == "empirical":
        limit_table = empirical_sizes(m["size_shares"].to_numpy()[counted])
        market_table = empirical_sizes(market_sizes, weights=market_weights)
        mean_limit, mean_market = _table_mean(limit_table), _table_mean(market_table)
        tables |= {"limit_sizes_shares": limit_table[0], "limit_size_probs": limit_table[1],
                   "market_sizes_shares": market_table[0], "market_size_probs": market_table[1]}
        if place_sizes:
            counted_sizes = m["size_shares"].to_numpy()[counted]
            places = submission_places(day)[counted]
            tables["limit_size_place_probs"] = place_size_probs(
                counted_sizes, places, limit_table[0], lumped=len(np.unique(counted_sizes)) > len(limit_table[0]))
            n = len(limit_table[0])
            hundred = [limit_table[0].index(100.0)] if 100.0 in limit_table[0] else []
            for k, place in enumerate(SIZE_PLACES):
                group = np.asarray(tables["limit_size_place_probs"][k * n:(k + 1) * n])
                logger.info("limit sizes %s: %d orders, mean %.1f shares%s", place, int((places == k).sum()),
                            float(np.dot(group, limit_table[0]) / group.sum()),
                            f", {group[hundred[0]] / group.sum():.2f} of 100 shares" if hundred else "")

    if hidden:
        is_hidden = (m["type"].to_numpy() == int(EventType.EXECUTION_HIDDEN)) & in_session
        if is_hidden.sum() < 2:
            raise ValueError(f"hidden=True fits hidden executions: day {day.name!r} has {int(is_hidden.sum())} in its "
                             f"session")
        hidden_table = empirical_sizes(m["size_shares"].to_numpy()[is_hidden])
        # per second of a spread of two ticks or more: the flow posts none inside a one-tick spread
        _, hold, spread_now, two_sided = spread_rows(day)
        wide_s = float(hold[two_sided & (spread_now >= 2)].sum())
        if wide_s <= 0.0:
            raise ValueError(f"hidden=True: day {day.name!r} never has a spread of two ticks or more")
        tables |= {"hidden_rate_per_s": float(is_hidden.sum() / wide_s),
                   "hidden_sizes_shares": hidden_table[0], "hidden_size_probs": hidden_table[1]}
        logger.info("hidden executions: %d (%.3f/s), mean %.1f shares, %.2f of the traded shares", int(is_hidden.sum()),
                    tables["hidden_rate_per_s"], _table_mean(hidden_table),
                    float(m["size_shares"].to_numpy()[is_hidden].sum() / max(
                        m["size_shares"].to_numpy()[in_session & np.isin(m["type"].to_numpy(), [int(EventType.EXECUTION_VISIBLE), int(EventType.EXECUTION_HIDDEN)])].sum(),
                        1)))

    if best_anchor:
        probs = best_distances(day)
        tables |= {"best_anchor_frac": float(best_anchor), "best_anchor_probs": probs}
        logger.info("placement from the best: share %.2f, distances 0..%d ticks (median %d)", best_anchor,
                    len(probs) - 1, int(np.searchsorted(np.cumsum(probs), 0.5)))

    # cancellation: pooled per-share rate over both sides and all distances
    cancelled = theta["buy_cancelled_shares"].sum() + theta["sell_cancelled_shares"].sum()
    share_s = theta["buy_share_s"].sum() + theta["sell_share_s"].sum()
    rho = float(cancelled / share_s)
    if cancel_sizes:
        fit = cancel_size_factors(day, rate_per_s=rho)
        tables |= {"cancel_size_edges_shares": fit.edges_shares, "cancel_size_factors": fit.factors,
                   "cancel_size_behind_ticks": fit.behind_ticks, "cancel_near_factor": fit.near_factor}
        logger.info("cancellation by size beyond %d ticks behind the best: groups from %s shares, mean lives %s s, "
                    "factors %s; nearer, %.2f", fit.behind_ticks, [round(x) for x in fit.table["from_shares"]],
                    [round(x, 1) for x in fit.table["mean_life_s"]], [round(f, 2) for f in fit.factors],
                    fit.near_factor)

    lam_mean = np.nan_to_num(0.5 * (lam["buy_per_s"] + lam["sell_per_s"]).to_numpy())
    if match == "arrivals":
        depth = lam_mean * mean_limit / rho
        per_side = [np.nan_to_num(lam[f"{side}_per_s"].to_numpy()) * mean_limit / rho for side in ("buy", "sell")]
    else:
        depth = np.nan_to_num(0.5 * (theta["buy_depth_shares"] + theta["sell_depth_shares"]).to_numpy())
        per_side = [np.nan_to_num(theta[f"{side}_depth_shares"].to_numpy()) for side in ("buy", "sell")]
    depth_sell: tuple[float, ...] = ()
    if sides == "separate":
        depth, depth_sell = per_side[0], tuple(per_side[1])

    rows = []
    for side, sign in (("buy", 1), ("sell", -1)):
        times = mo.loc[mo["sign"] == sign, "time_s"].to_numpy()
        if hawkes:
            fit = fit_hawkes(times, day.start_s, day.end_s, profile)
        else:
            rate = len(times) / day.duration_s
            fit = {"mu_per_s": rate, "alpha_per_s": 0.0, "beta_per_s": 1.0, "branching_ratio": 0.0,
                   "mean_rate_per_s": rate, "log_likelihood": math.nan}
        rows.append({"side": side, "n_orders": len(times), **fit})
    hk = pd.DataFrame(rows).set_index("side")
    br = float(hk["branching_ratio"].mean())
    beta = float(hk["beta_per_s"].mean())
    mean_rate = float(hk["mean_rate_per_s"].mean())
    mu = mean_rate * (1.0 - br)  # keeps the mean rate mu / (1 - alpha/beta) of the data

    mechanisms: dict[str, Any] = {}  # the optional ones: clustering, sign memory
    if clustering:
        types = m["type"].to_numpy()
        lc = in_session & ((types == EventType.SUBMISSION) | (types == EventType.CANCELLATION)
                           | (types == EventType.DELETION))
        fit = fit_hawkes_kernels(t[lc], day.start_s, day.end_s, clustering, profile)
        mechanisms = {"cluster_alphas_per_s": fit["alphas_per_s"], "cluster_betas_per_s": fit["betas_per_s"]}
        logger.info("clustering of submissions and cancellations: branching ratio %.3f, betas %s /s",
                    fit["branching_ratio"], ", ".join(f"{b:.3g}" for b in fit["betas_per_s"]))

    if cluster_levels:
        mechanisms["cluster_levels"] = int(day.levels)
    if best_anchor_excited:
        mechanisms["best_anchor_excited"] = True
    if best_anchor_scaled:
        mechanisms["best_anchor_scaled"] = True
    if cancel_redraw:
        mechanisms["cluster_cancel_redraw"] = True

    if fleeting:
        shares = fleeting_shares(day)
        mechanisms |= {"cluster_join_frac": shares["join_share"], "cluster_cancel_newest_frac": shares["fast_cancel_share"]}

    if sign_memory:
        runs = fit_sign_runs(mo["sign"].to_numpy())
        mechanisms |= {"sign_run_share": runs["sign_run_share"], "sign_run_exponent": runs["sign_run_exponent"]}
        logger.info("long memory of trade signs: share %.2f following runs of tail exponent %.1f (data: C(l) ~ l^-%.2f)",
                    runs["sign_run_share"], runs["sign_run_exponent"], runs["gamma"])

    if spread_profile:
        starts = None
        if spread_starts_s is not None:  # those within the day's session (a shorter day drops the later ones)
            starts = tuple(float(x) for x in spread_starts_s if float(x) < day.duration_s)
            if len(starts) < len(spread_starts_s):
                logger.info("intraday spread: bucket starts %s s beyond the day's %.0f s dropped",
                            [x for x in spread_starts_s if float(x) >= day.duration_s], day.duration_s)
            mechanisms["placement_scale_starts_s"] = starts
        mechanisms["placement_scale"] = fit_spread_profile(day, starts_s=starts)

    if revisions:
        rev = revision_statistics(day)
        mechanisms |= {**revision_rates(day, mean_limit, rev),
                       "revise_best_probs": tuple(rev["best_probs"]), "revise_deep_probs": tuple(rev["deep_probs"])}
        logger.info("order revisions: %.2f of the cancellations at the best and %.2f behind it are followed by a "
                    "same-side submission within 10 ms (%.2f and %.2f per second)", rev["best_share"],
                    rev["deep_share"], rev["best_per_s"], rev["deep_per_s"])

    if inside:
        ins = inside_statistics(day)
        first = (inside_probs(ins, tuple(depth)) if anchor == "opposite_best"
                 else np.minimum(ins["shares"], MAX_INSIDE_PROB))
        mechanisms |= {"inside_spread_ticks": ins["spread_ticks"], "inside_probs": tuple(float(x) for x in first),
                       "inside_improve_fracs": tuple(float(x) for x in ins["improve_fracs"]),
                       "inside_fleeting_fracs": tuple(float(x) for x in ins["fleeting_fracs"]),
                       "inside_life_s": ins["life_s"]}
        if inside_lives:
            mechanisms |= {"inside_fleeting_fracs": tuple(float(x) for x in ins["deleted_fracs"]),
                           "inside_life_quantiles_s": tuple(float(x) for x in ins["life_quantiles_s"]),
                           "inside_flicker_slots": MAX_FLICKER_SLOTS}
        if inside_takes:
            mechanisms |= {"inside_take_edges": ins["take_edges"],
                           "inside_taken_fracs": tuple(float(x) for x in ins["taken_fracs"]),
                           "inside_take_quantiles_s": tuple(float(x) for x in ins["take_quantiles_s"]),
                           "inside_fleeting_fracs": tuple(float(x) for x in ins["untaken_deleted_fracs"])}
            logger.info("orders inside the spread taken, by improvement (fraction of the spread): %s",
                        ", ".join(f">={e:g}: {p:.2f}" for e, p in zip(ins["take_edges"], ins["taken_fracs"])))
        logger.info("orders inside the spread: %.2f of the submissions; by spread %s", ins["inside_share"],
                    ", ".join(f">={e:g}: {p:.2f}" for e, p in zip(ins["spread_ticks"], ins["shares"])))

    if spread_rate:
        rates = fit_spread_rate(day, mo["time_s"].to_numpy(), spread_buckets(day, low_quantiles=spread_rate_low),
                                profile)
        mechanisms |= {"market_spread_ticks": tuple(float(x) for x in rates.index),
                       "market_spread_factor": tuple(float(x) for x in rates["factor"])}

    if refill:
        mechanisms["refill_empty_side"] = True

    if follow:
        if revisions:
            logger.warning("follow=True with revisions=True: the day's re-improvements after a cancellation are "
                           "mostly revisions, which the revisions already re-post (not moved by the follow rule); "
                           "together they count them twice")
        fol = follow_statistics(day)
        mechanisms |= {"inside_follow_gaps_s": fol["gaps_s"], "inside_follow_probs": fol["probs"]}
        logger.info("quotes that follow the last change: on the changed side %s",
                    "; ".join(f"{k} within {g:g} s: {p:.2f}" for (k, g), p in zip(fol["table"].index, fol["probs"])))

    if activity:
        act = fit_activity(day)
        mechanisms |= {"activity_sigma": act["activity_sigma"], "activity_time_s": act["activity_time_s"]}

    sigma = _mid_volatility(day, volatility_horizon_s)
    flow = FlowConfig(depth_shares=tuple(depth), depth_sell_shares=depth_sell, resilience_per_s=rho,
                      mean_limit_size_shares=mean_limit,
                      market_rate_per_s=mu, mean_market_size_shares=mean_market, hawkes_alpha_per_s=br * beta,
                      hawkes_beta_per_s=beta if br > 0 else 1.0, size_distribution=sizes, anchor=anchor,
                      session_s=day.duration_s, intraday=profile, **tables, **mechanisms)
    impact = ImpactConfig(transient_ticks_per_share=0.0, permanent_ticks_per_share=0.0,
                          sigma_ticks_per_sqrt_s=sigma if anchor == "reference" else 0.0)

    table = pd.DataFrame({
        "lambda_buy_per_s": lam["buy_per_s"], "lambda_sell_per_s": lam["sell_per_s"],
        "theta_buy_per_s": theta["buy_per_s"], "theta_sell_per_s": theta["sell_per_s"],
        "depth_buy_shares": theta["buy_depth_shares"], "depth_sell_shares": theta["sell_depth_shares"],
        "config_lambda_per_s": flow.limit_rates_per_s(), "config_depth_shares": np.asarray(flow.depth_shares),
        "config_depth_sell_shares": np.asarray(flow.depth_sell_shares or flow.depth_shares),
    })
    hidden = m.loc[in_session & (m["type"].to_numpy() == EventType.EXECUTION_HIDDEN), "size_shares"].sum()
    visible = m.loc[in_session & (m["type"].to_numpy() == EventType.EXECUTION_VISIBLE), "size_shares"].sum()
    scalars = {
        "resilience_per_s": rho, "mean_limit_size_shares": mean_limit, "mean_market_size_shares": mean_market,
        "market_rate_mean_per_s": mean_rate, "market_rate_buy_per_s": float(hk.loc["buy", "mean_rate_per_s"]),
        "market_rate_sell_per_s": float(hk.loc["sell", "mean_rate_per_s"]), "hawkes_branching_ratio": br,
        "sigma_ticks_per_sqrt_s": sigma,
        "hidden_volume_frac": float(hidden / (hidden + visible)) if hidden + visible else 0.0,
        "limit_orders_per_s": float(lam_mean.sum() * 2),
        "cluster_branching_ratio": flow.cluster_branching_ratio(),
    }
    logger.info("calibrated flow: rho=%.4g/s, K=%d, lambda total=%.3g/s, mu=%.3g/s, alpha/beta=%.3g, beta=%.3g/s",
                rho, max_distance, 2 * lam_mean.sum(), mu, br, beta)
    return FlowCalibration(flow, impact, table, intraday, hk, scalars)
