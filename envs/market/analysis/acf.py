"""The sample autocorrelation function (used by the calibration and the stylised facts)."""

from __future__ import annotations

import numpy as np

from execgym.validation import check_int

__all__ = ["autocorrelation"]


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
