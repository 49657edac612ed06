"""The sample autocorrelation function (used by the calibration and the stylised facts)."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from execgym.validation import check_int

__all__ = ["autocorrelation", "block_power_law_decay", "pooled_autocorrelation", "power_law_decay"]


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


def _block_autocovariances(x: np.ndarray, blocks: np.ndarray, max_lag: int) -> np.ndarray:
    """``(n_blocks, max_lag + 1)``: each block's sums ``sum_t d_t d_{t+k}``, ``k = 0..max_lag``,
    over pairs within the block (none for a lag as long as the block), ``d`` the deviation from
    the whole series' mean."""
    d = x - x.mean()
    out = np.zeros((len(np.unique(blocks)), max_lag + 1))
    for row, b in zip(out, np.unique(blocks)):
        db = d[blocks == b]
        n_fft = 1 << int(max(2 * len(db) - 1, max_lag + 1)).bit_length()
        f = np.fft.rfft(db, n_fft)
        k = min(len(db), max_lag + 1)
        row[:k] = np.fft.irfft(f * np.conj(f), n_fft)[:k]
    return out


def _check_blocks(x, blocks) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=float)
    blocks = np.asarray(blocks)
    if x.ndim != 1 or blocks.shape != x.shape:
        raise ValueError(f"x and blocks must be 1-D of equal length, got shapes {x.shape} and {blocks.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x must be finite")
    return x, blocks


def pooled_autocorrelation(x, blocks, max_lag: int) -> np.ndarray:
    """The autocorrelation ``rho(k)``, ``k = 1..max_lag``, of a series cut into blocks (e.g.
    trading sessions), pooled within them: ``sum_b sum_t d_t d_{t+k} / sum_b sum_t d_t^2``
    over pairs ``t, t+k`` of the same block, ``d`` the deviation from the series' mean. One
    block is :func:`autocorrelation`; no product spans two blocks (the night between two
    sessions).

    :param blocks: one label per value; each block's values keep their order in ``x`` (a
        block shorter than a lag adds nothing to that lag).
    """
    max_lag = check_int("max_lag", max_lag, minimum=1)
    x, blocks = _check_blocks(x, blocks)
    acov = _block_autocovariances(x, blocks, max_lag).sum(axis=0)
    return np.zeros(max_lag) if acov[0] == 0 else acov[1:] / acov[0]


def block_power_law_decay(x, blocks, min_lag: int, max_lag: int, n_boot: int = 2000,
                          rng: np.random.Generator | None = None) -> dict[str, float]:
    """``rho(k) ~ A k^-gamma`` of a series cut into blocks, with a block-bootstrap interval.

    The fit is :func:`power_law_decay` of :func:`pooled_autocorrelation` over lags
    ``min_lag..max_lag``. Its regression interval (``gamma_ols_ci95_lo`` / ``_hi``) treats the
    lags' estimates as independent, but they are strongly correlated (the same runs of signs
    make every lag's estimate), so it understates the error. ``gamma_ci95_lo`` / ``_hi`` is the
    percentile interval of the exponent over ``n_boot`` resamples of whole blocks drawn with
    replacement (the block bootstrap: Kuensch 1989, "The jackknife and the bootstrap for
    general stationary observations", Ann. Statist. 17), the deviations taken from the
    series' mean; ``n_blocks`` and ``boot_nan_frac`` (resamples with fewer than three
    positive lags, left out) are returned with it.

    :param blocks: one label per value, at least 2 blocks (e.g. trading sessions).
    :param rng: the resampling's source (default ``np.random.default_rng(0)``).
    """
    min_lag = check_int("min_lag", min_lag, minimum=1)
    max_lag = check_int("max_lag", max_lag, minimum=min_lag)
    n_boot = check_int("n_boot", n_boot, minimum=100)
    x, blocks = _check_blocks(x, blocks)
    acov = _block_autocovariances(x, blocks, max_lag)
    n_blocks = len(acov)
    if n_blocks < 2:
        raise ValueError(f"need at least 2 blocks for a block bootstrap, got {n_blocks}")
    rng = np.random.default_rng(0) if rng is None else rng
    total = acov.sum(axis=0)
    if total[0] == 0:
        raise ValueError("x is constant: no autocorrelation to fit")
    fit = power_law_decay(total[1:] / total[0], min_lag)
    draws = rng.integers(0, n_blocks, size=(n_boot, n_blocks))
    weights = np.stack([np.bincount(row, minlength=n_blocks) for row in draws]).astype(float)
    sums = weights @ acov
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = sums[:, 1:] / sums[:, :1]
    gammas = np.array([power_law_decay(r, min_lag)["gamma"] if np.isfinite(r).all() else math.nan for r in rho])
    ok = np.isfinite(gammas)
    lo, hi = (np.percentile(gammas[ok], [2.5, 97.5]) if ok.sum() >= 0.9 * n_boot else (math.nan, math.nan))
    return {"gamma": fit["gamma"], "gamma_ci95_lo": float(lo), "gamma_ci95_hi": float(hi),
            "gamma_ols_ci95_lo": fit["gamma_ci95_lo"], "gamma_ols_ci95_hi": fit["gamma_ci95_hi"], "r2": fit["r2"],
            "n_lags": fit["n_lags"], "n_blocks": n_blocks, "boot_nan_frac": float(1.0 - ok.mean()),
            "acf_lag1": float(total[1] / total[0])}
