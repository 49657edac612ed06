"""The autocorrelation of a series cut into blocks (sessions) and the block bootstrap of its
power-law exponent: the pooled estimate against a direct sum, and an interval that matches
the exponent's spread over independent series where the regression's does not."""

from __future__ import annotations

import numpy as np
import pytest

from execgym.envs.market.analysis.acf import autocorrelation, block_power_law_decay, pooled_autocorrelation


def _long_memory_signs(rng: np.random.Generator, n: int) -> np.ndarray:
    """Runs of one sign with Pareto lengths (tail 1.5): ``C(l) ~ l^-0.5``."""
    lengths = np.minimum(np.floor((1.0 - rng.random(n)) ** (-1 / 1.5)).astype(int), 10_000)
    return np.repeat(rng.choice([-1.0, 1.0], len(lengths)), lengths)[:n]


def _pooled_by_hand(x, blocks, max_lag):
    d = x - x.mean()
    num, den = np.zeros(max_lag), 0.0
    for b in np.unique(blocks):
        db = d[blocks == b]
        den += float(np.sum(db * db))
        for k in range(1, max_lag + 1):
            num[k - 1] += float(np.sum(db[:-k] * db[k:]))
    return num / den


def test_one_block_is_the_autocorrelation_and_blocks_pool_only_pairs_within_them():
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(size=3_000)) % 7.0  # strongly autocorrelated
    np.testing.assert_allclose(pooled_autocorrelation(x, np.zeros(len(x)), 20), autocorrelation(x, 20), atol=1e-12)
    blocks = np.repeat([3, 1, 2, 7, 5], [400, 1_100, 700, 785, 15])  # unequal sizes (one shorter than the lags)
    pooled = pooled_autocorrelation(x, blocks, 20)
    np.testing.assert_allclose(pooled, _pooled_by_hand(x, blocks, 20), atol=1e-12)
    # sessions of opposite level: products across their boundaries would add to every lag
    y = np.where(np.arange(2_000) < 1_000, 1.0, -1.0) + rng.normal(scale=0.1, size=2_000)
    halves = np.arange(2_000) // 1_000
    assert autocorrelation(y, 5)[0] > 0.95 and abs(pooled_autocorrelation(y, halves, 5)[0]) > 0.95
    np.testing.assert_allclose(pooled_autocorrelation(y, halves, 5), _pooled_by_hand(y, halves, 5), atol=1e-12)


def test_the_block_bootstrap_interval_has_the_spread_of_independent_series():
    """Over ten independent long-memory series the fitted exponents scatter by about 0.1; the
    block-bootstrap interval is that wide and covers their mean, while the regression's
    interval (the lags' estimates taken as independent) is an order of magnitude narrower."""
    rng = np.random.default_rng(5)
    fits = []
    for i in range(10):
        x = _long_memory_signs(rng, 200_000)
        fits.append(block_power_law_decay(x, np.arange(len(x)) // 10_000, 2, 100, n_boot=300,
                                          rng=np.random.default_rng(i)))
    gamma = np.array([f["gamma"] for f in fits])
    boot_se = np.mean([(f["gamma_ci95_hi"] - f["gamma_ci95_lo"]) / 3.92 for f in fits])
    ols_se = np.mean([(f["gamma_ols_ci95_hi"] - f["gamma_ols_ci95_lo"]) / 3.92 for f in fits])
    spread = gamma.std(ddof=1)
    assert abs(np.median(gamma) - 0.5) < 0.1
    assert spread / 2 < boot_se < 2 * spread
    assert ols_se < spread / 5
    covered = [f["gamma_ci95_lo"] < gamma.mean() < f["gamma_ci95_hi"] for f in fits]
    assert sum(covered) >= 7
    assert all(f["gamma_ci95_lo"] <= f["gamma"] <= f["gamma_ci95_hi"] for f in fits)
    assert all(f["n_blocks"] == 20 and f["boot_nan_frac"] < 0.1 for f in fits)


def test_the_bootstrap_is_seeded():
    x = _long_memory_signs(np.random.default_rng(1), 60_000)
    blocks = np.arange(len(x)) // 6_000
    first = block_power_law_decay(x, blocks, 2, 50, n_boot=200, rng=np.random.default_rng(3))
    assert first == block_power_law_decay(x, blocks, 2, 50, n_boot=200, rng=np.random.default_rng(3))
    other = block_power_law_decay(x, blocks, 2, 50, n_boot=200, rng=np.random.default_rng(4))
    assert other["gamma"] == first["gamma"] and other["gamma_ci95_lo"] != first["gamma_ci95_lo"]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(blocks=np.zeros(500)), ValueError, "at least 2 blocks"),
    (dict(blocks=np.zeros(499)), ValueError, "equal length"),
    (dict(x=np.full(500, 1.0)), ValueError, "constant"),
    (dict(x=np.r_[np.nan, np.ones(499)]), ValueError, "finite"),
    (dict(n_boot=10), ValueError, "n_boot must be >= 100"),
    (dict(max_lag=1), ValueError, "max_lag must be >= 2"),
    (dict(min_lag=0.5), TypeError, "min_lag"),
])
def test_bad_input_is_refused_by_name(kwargs, error, match):
    args = dict(x=np.random.default_rng(0).normal(size=500), blocks=np.arange(500) // 250, min_lag=2, max_lag=10,
                n_boot=100) | kwargs
    with pytest.raises(error, match=match):
        block_power_law_decay(**args)
