"""Fit the random clock (the flow's activity factor) to a recorded day.

The flow's optional random clock (:class:`~execgym.envs.market.simulation.flow.FlowConfig`'s
``activity_sigma``, ``activity_time_s``) multiplies its baseline rates by
``A(t) = exp(s X_t - s^2/2)`` with ``X`` a unit-variance Ornstein-Uhlenbeck process of
correlation time ``tau``. In a recorded day, the messages counted in bins of ``bin_s``
seconds and divided by their moving average over ``smooth_s`` (the intraday pattern) give
a log activity ``x``; its autocorrelation beyond the first lag (past the clustering's
sub-second bursts) decays as ``c exp(-k bin_s / tau)``. The fit of that decay gives
``tau`` and the slow part's variance ``c var(x)``, which is that of ``s`` times the bin
average of ``X``: ``s^2 f(bin_s / tau)`` with ``f(u) = 2 (u - 1 + e^-u) / u^2``.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from execgym.envs.market.analysis.acf import autocorrelation
from execgym.envs.market.data.lobster_data import LobsterDay
from execgym.validation import check_int, check_positive

logger = logging.getLogger(__name__)

__all__ = ["fit_activity", "log_activity"]


def log_activity(day: LobsterDay, bin_s: float = 10.0, smooth_s: float = 1800.0) -> np.ndarray:
    """``x``: the log of each ``bin_s`` bin's message count over its centred moving average
    across ``smooth_s`` (at most a quarter of the session; both plus one, so empty bins stay
    finite)."""
    bin_s = check_positive("bin_s", bin_s)
    smooth_s = check_positive("smooth_s", smooth_s)
    t = day.messages["time_s"].to_numpy()
    edges = np.arange(day.start_s, day.end_s + 1e-9, bin_s)
    if len(edges) < 9:
        raise ValueError(f"the session ({day.duration_s} s) is too short for bin_s={bin_s} (8 bins at least)")
    width = max(1, int(round(min(smooth_s, day.duration_s / 4) / bin_s)))  # a short session: a quarter of it
    counts = np.histogram(t, bins=edges)[0].astype(float)
    smooth = np.convolve(counts, np.ones(width) / width, mode="same")
    return np.log((counts + 1.0) / (smooth + 1.0))


def fit_activity(day: LobsterDay, bin_s: float = 10.0, lags: tuple[int, int] = (2, 6),
                 smooth_s: float = 1800.0) -> dict[str, float]:
    """``activity_sigma`` and ``activity_time_s`` of ``day`` (module docstring), with the
    decay fitted by least squares of ``log rho(k)`` on ``k`` over ``lags`` (inclusive; lags
    with ``rho <= 0`` left out).

    :return: ``{"activity_sigma", "activity_time_s", "slow_share", "log_activity_std"}``;
        ``activity_sigma`` is 0 when the day shows no slow part (no positive, decaying
        correlation over those lags).
    """
    lo, hi = (check_int(f"lags[{i}]", int(k), minimum=1) for i, k in enumerate(lags))
    if hi < lo + 1:
        raise ValueError(f"lags must span at least two lags, got {lags!r}")
    x = log_activity(day, bin_s, smooth_s)
    rho = autocorrelation(x, hi)[lo - 1:]
    k = np.arange(lo, hi + 1)
    keep = rho > 0
    none = {"activity_sigma": 0.0, "activity_time_s": 30.0, "slow_share": 0.0, "log_activity_std": float(x.std())}
    if keep.sum() < 2:
        return none
    slope, intercept = np.polyfit(k[keep], np.log(rho[keep]), 1)
    if slope >= 0:
        return none
    tau = -bin_s / slope
    share = min(1.0, math.exp(intercept))
    u = bin_s / tau
    f = 2.0 * (u - 1.0 + math.exp(-u)) / (u * u)
    sigma = math.sqrt(share * float(x.var()) / f)
    logger.info("%s random clock: log activity std %.3f over %.0f-s bins, slow share %.2f, tau %.3g s, sigma %.3f",
                day.name, x.std(), bin_s, share, tau, sigma)
    return {"activity_sigma": sigma, "activity_time_s": tau, "slow_share": share, "log_activity_std": float(x.std())}
