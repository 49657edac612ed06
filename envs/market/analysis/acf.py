"""The sample autocorrelation function (used by the calibration and the stylised facts)."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from execgym.validation import check_int

__all__ = ["autocorrelation", "power_law_decay"]


def autocorrelation(x: np.ndarray, max_lag: int) -> np.ndarray:
    """Sample autocorrelation ``rho(k)``, ``k = 1..max_lag`` (the standard biased estimator).

    ``rho(k) = sum_t (x_t - xbar)(x_{t+k} - xbar) / sum_t (x_t - xbar)^2``; for iid data
    each lies within about ``2 / sqrt(n)`` of 0.
    """
    max_lag = check_int("max_lag", max_lag, minimum=1)
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) <= max_lag + 1:
        raise ValueError(f"need more than max_lag + 1 = {max_lag + 1} values, got {len(x)}")
    d = x - x.mean()
    denom = float(d @ d)
    if denom == 0:
        return np.zeros(max_lag)
    n_fft = 1 << int(2 * len(d) - 1).bit_length()
    f = np.fft.rfft(d, n_fft)
    acov = np.fft.irfft(f * np.conj(f), n_fft)[: max_lag + 1]
    return acov[1:] / denom


def power_law_decay(acf: np.ndarray, min_lag: int = 1) -> dict[str, float]:
    """``rho(k) ~ A k^-gamma``: least squares of ``log rho`` on ``log k`` over the lags
    ``k >= min_lag`` where ``rho > 0`` (``acf[k - 1]`` is lag ``k``, as
    :func:`autocorrelation` returns it), with the slope's 95% interval and the fit's ``R^2``
    (NaN with fewer than three such lags)."""
    min_lag = check_int("min_lag", min_lag, minimum=1)
    acf = np.asarray(acf, dtype=float)
    lags = np.arange(1, len(acf) + 1)
    keep = (lags >= min_lag) & (acf > 0)
    out = {"gamma": math.nan, "gamma_ci95_lo": math.nan, "gamma_ci95_hi": math.nan, "r2": math.nan,
           "n_lags": int(keep.sum())}
    if keep.sum() < 3:
        return out
    fit = stats.linregress(np.log(lags[keep]), np.log(acf[keep]))
    half = stats.t.ppf(0.975, keep.sum() - 2) * fit.stderr
    return out | {"gamma": float(-fit.slope), "gamma_ci95_lo": float(-fit.slope - half),
                  "gamma_ci95_hi": float(-fit.slope + half), "r2": float(fit.rvalue ** 2)}
