"""Stylised facts on synthetic series and books with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from execgym.envs.market.analysis.stylized_facts import (
    FactTolerance,
    aligned_acf,
    autocorrelation,
    bartlett_se,
    book_on_grid,
    compare_facts,
    depth_profile,
    intraday_volume,
    log_spread_acf,
    over_bucket_mean,
    return_statistics,
    spread_distribution,
    spread_scaled_returns,
)
from execgym.envs.market.data.lobster_data import LobsterDay


def test_acf_of_iid_noise_is_within_three_standard_errors_of_zero():
    n = 20_000
    acf = autocorrelation(np.random.default_rng(0).normal(size=n), 20)
    assert np.all(np.abs(acf) < 3 / np.sqrt(n))


def test_acf_of_an_ar1_series_is_phi_to_the_lag():
    rng = np.random.default_rng(1)
    phi, n = 0.7, 50_000
    x = np.zeros(n)
    e = rng.normal(size=n)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + e[t]
    np.testing.assert_allclose(autocorrelation(x, 5), phi ** np.arange(1, 6), atol=0.02)


def test_acf_of_alternating_signs_is_minus_one_then_one():
    acf = autocorrelation(np.tile([1.0, -1.0], 500), 2)
    np.testing.assert_allclose(acf, [-0.999, 0.998], atol=1e-3)  # biased estimator: (n - k) / n


def test_random_walk_returns_gaussian_kurtosis_and_sqrt_time_scaling():
    rng = np.random.default_rng(2)
    mid = 10_000.0 * np.exp(np.cumsum(rng.normal(0.0, 1e-4, size=200_001)))
    stats = return_statistics(mid, 1.0, (1.0, 4.0, 16.0))
    np.testing.assert_allclose(stats["std_bps"], [1.0, 2.0, 4.0], rtol=0.03)
    np.testing.assert_allclose(stats["excess_kurtosis"], 0.0, atol=0.15)
    assert stats.loc[1.0, "n"] == 200_000


def test_laplace_increments_show_heavy_tails_that_aggregation_thins():
    rng = np.random.default_rng(3)
    mid = 10_000.0 * np.exp(np.cumsum(rng.laplace(0.0, 1e-4, size=400_001)))
    stats = return_statistics(mid, 1.0, (1.0, 10.0))
    assert stats.loc[1.0, "excess_kurtosis"] == pytest.approx(3.0, abs=0.3)  # Laplace: 3
    assert stats.loc[10.0, "excess_kurtosis"] == pytest.approx(0.3, abs=0.15)  # sum of 10: 3 / 10


def _day(spreads_and_durations, sizes=(100, 200)):
    """A two-level day whose spread is each given value for the given seconds (bid fixed at 10000)."""
    rows, msgs, t = [], [], 0.0
    for spread, dur in spreads_and_durations:
        ask = 10_000 + spread
        rows.append([ask * 100, sizes[0], 1_000_000, sizes[0], (ask + 1) * 100, sizes[1], 999_900, sizes[1]])
        msgs.append((t, 1, len(msgs) + 1, 1, ask * 100, -1))
        t += dur
    m = pd.DataFrame(msgs, columns=["time_s", "type", "order_id", "size_shares", "price", "direction"])
    return LobsterDay(m, np.array(rows, dtype=np.int64), start_s=0.0, end_s=t)


def test_time_weighted_spread_and_depth_from_a_known_book():
    day = _day([(1, 30.0), (3, 70.0)])
    grid = book_on_grid(day, 1.0)
    dist = spread_distribution(grid.spread_ticks)
    assert dist.loc[1] == pytest.approx(0.3, abs=0.011) and dist.loc[3] == pytest.approx(0.7, abs=0.011)
    np.testing.assert_allclose(depth_profile(grid)["mean_shares"], [100.0, 200.0])
    np.testing.assert_allclose(grid.mid_ticks[-1], 10_001.5)


def test_spread_distribution_clips_at_max_ticks_and_needs_a_spread():
    dist = spread_distribution(np.array([1, 1, 2, 7, 9, np.nan]), max_ticks=5)
    assert dist.to_dict() == {1: 0.4, 2: 0.2, 5: 0.4}
    with pytest.raises(ValueError, match="no finite spreads"):
        spread_distribution(np.array([np.nan]))


def test_intraday_volume_shares_of_known_trades():
    m = pd.DataFrame([(10.0, 4, 1, 30, 1_000_100, -1), (70.0, 4, 2, 10, 1_000_100, -1),
                      (75.0, 4, 3, 60, 1_000_000, 1)],
                     columns=["time_s", "type", "order_id", "size_shares", "price", "direction"])
    ob = np.tile(np.array([[1_000_100, 100, 1_000_000, 100]], dtype=np.int64), (3, 1))
    vol = intraday_volume(LobsterDay(m, ob, start_s=0.0, end_s=120.0), bucket_s=60.0)
    np.testing.assert_allclose(vol.to_numpy(), [0.3, 0.7])


def test_compare_flags_beyond_tolerance_but_not_within_sampling_noise():
    real = {"spread mean (ticks)": 10.0, "return ACF lag 1 (10s)": -0.10, "trade-sign ACF lag 1": 0.6}
    sim = {"spread mean (ticks)": 13.0, "return ACF lag 1 (10s)": -0.02, "trade-sign ACF lag 1": 0.58}
    table = compare_facts(real, sim, FactTolerance(relative=0.25, absolute=0.05))
    assert table["differs"].to_dict() == {"spread mean (ticks)": True, "return ACF lag 1 (10s)": True,
                                          "trade-sign ACF lag 1": False}
    assert table.loc["spread mean (ticks)", "difference"] == pytest.approx(0.3)
    noisy = compare_facts(real, sim, stderr_real={"return ACF lag 1 (10s)": 0.05},
                          stderr_sim={"return ACF lag 1 (10s)": 0.05})
    assert not noisy.loc["return ACF lag 1 (10s)", "differs"]  # 0.08 < 2 * sqrt(2) * 0.05
    with pytest.raises(ValueError, match="only real"):
        compare_facts(real, {"spread mean (ticks)": 1.0})
    with pytest.raises(ValueError, match="at least one"):
        compare_facts(real, [])


def test_compare_with_several_simulated_days_uses_their_mean_and_range():
    real = {"spread mean (ticks)": 10.0, "return excess kurtosis 1s": 20.0}
    days = [{"spread mean (ticks)": 14.0, "return excess kurtosis 1s": 5.0},
            {"spread mean (ticks)": 13.0, "return excess kurtosis 1s": 50.0}]
    table = compare_facts(real, days)
    assert table.loc["spread mean (ticks)", "simulated"] == 13.5
    assert (table.loc["spread mean (ticks)", "sim_min"], table.loc["spread mean (ticks)", "sim_max"]) == (13.0, 14.0)
    # the kurtosis mean (27.5) is 38% off, but the real value lies inside the days' range
    assert table["differs"].to_dict() == {"spread mean (ticks)": True, "return excess kurtosis 1s": False}
    with pytest.raises(ValueError, match="relative"):
        FactTolerance(relative=0.0)


def _ar1(rng, phi, n):
    x = np.zeros(n)
    e = rng.normal(size=n) * np.sqrt(1.0 - phi ** 2)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + e[t]
    return x


def test_log_spread_memory_is_its_ar1_once_the_intraday_profile_is_removed():
    rng = np.random.default_rng(4)
    n, phi = 36_000, 0.8
    t = np.arange(n, dtype=float)
    profile = np.log([30.0, 12.0, 18.0, 40.0, 15.0, 25.0, 10.0, 35.0, 20.0, 28.0])[(t // 3600).astype(int)]
    spread = np.exp(profile + 0.3 * _ar1(rng, phi, n))
    acf = log_spread_acf(t, spread, 5, bucket_s=3600.0)
    np.testing.assert_allclose(acf, phi ** np.arange(1, 6), atol=0.03)
    # without removing it, the profile's steps correlate every lag
    assert log_spread_acf(t, spread, 5, bucket_s=1e9)[4] > phi ** 5 + 0.3
    # only the log matters: the spread in other units has the same memory
    np.testing.assert_allclose(log_spread_acf(t, 7.0 * spread, 5, bucket_s=3600.0), acf, atol=1e-12)


def test_log_spread_memory_keeps_its_lags_aligned_across_empty_sides():
    t = np.arange(2_000, dtype=float)
    spread = np.where(np.arange(2_000) % 2 == 0, 20.0, 5.0)  # log spread alternating: -1 then +1
    spread[5::10] = np.nan  # a side empty: dropping these samples would put the later ones out of step
    acf = log_spread_acf(t, spread, 2)
    # in step, a tenth of the products are about 0 and the rest about -1 (lag 1) and +1 (lag 2); dropping
    # the NaNs would flip the phase at each, and two lag-2 products in nine would be -1 (0.56)
    assert acf[0] == pytest.approx(-0.8 / 0.9, abs=0.04) and acf[1] == pytest.approx(0.8 / 0.9, abs=0.04)
    dropped = autocorrelation(np.log(spread[np.isfinite(spread)]), 2)
    assert dropped[1] < 0.6


def test_spread_scaled_returns_divide_each_return_by_its_windows_mean_spread():
    mid = np.array([100.0, 101.0, 102.0, 102.0, 100.0, 100.0, 103.0])
    spread = np.array([2.0, 4.0, 1.0, np.nan, 5.0, 3.0, 8.0])
    out = spread_scaled_returns(mid, spread, 2)
    # returns over samples 0-2, 2-4, 4-6; spreads over samples 0-1, 2-3 (the NaN left out), 4-5
    np.testing.assert_allclose(out, [np.log(102 / 100) / 3.0, np.log(102 / 100) / 1.0, np.log(103 / 100) / 4.0])
    spread[2] = 0.0  # no spread in the second window (0 or NaN): its entry is NaN, the third stays in place
    out = spread_scaled_returns(mid, spread, 2)
    assert np.isnan(out[1]) and out[2] == pytest.approx(np.log(103 / 100) / 4.0)


def test_volatility_that_follows_the_spread_loses_its_clustering_once_scaled_by_it():
    rng = np.random.default_rng(5)
    n, lag = 200_000, 10
    spread = np.exp(1.0 * _ar1(rng, 0.995, n)) * 10.0  # regimes of minutes
    mid = 10_000.0 * np.exp(np.cumsum(1e-5 * spread * rng.normal(size=n)))
    raw = autocorrelation(np.abs(np.diff(np.log(mid[::lag]))), 10).mean()
    scaled = autocorrelation(spread_scaled_returns(mid, spread, lag), 10).mean()
    assert raw > 0.2 and abs(scaled) < 0.03


def test_aligned_acf_keeps_its_lags_in_step_across_gaps_and_bartlett_widens_a_persistent_one():
    x = np.tile([1.0, -1.0], 1_000)
    x[5::10] = np.nan
    acf = aligned_acf(x, 2)
    assert acf[0] == pytest.approx(-0.8 / 0.9, abs=0.04) and acf[1] == pytest.approx(0.8 / 0.9, abs=0.04)
    assert autocorrelation(x, 2)[1] < 0.6  # what dropping the gaps gives
    np.testing.assert_allclose(aligned_acf(np.arange(50.0) % 7, 3), autocorrelation(np.arange(50.0) % 7, 3))
    assert bartlett_se(np.array([0.5, 0.25]), 1, 100) == pytest.approx(0.1)
    assert bartlett_se(np.array([0.5, 0.25]), 3, 100) == pytest.approx(np.sqrt(1 + 2 * (0.25 + 0.0625)) / 10)
    with pytest.raises(ValueError, match="finite values"):
        aligned_acf(np.full(10, np.nan), 2)


def test_over_bucket_mean_removes_an_intraday_profile_and_keeps_nans_in_place():
    t = np.arange(6, dtype=float) * 10.0
    x = np.array([2.0, 4.0, np.nan, 1.0, 3.0, 0.0])
    np.testing.assert_allclose(over_bucket_mean(x, t, bucket_s=30.0), [2 / 3, 4 / 3, np.nan, 0.75, 2.25, 0.0])
    x[3:] = 0.0  # a bucket whose mean is 0 has no scale
    assert np.isnan(over_bucket_mean(x, t, bucket_s=30.0)[3:]).all()


def test_volatility_with_only_an_intraday_profile_has_no_clustering_once_it_is_removed():
    rng = np.random.default_rng(6)
    n = 20_000
    t = np.arange(n, dtype=float) * 10.0
    vol = np.where(t < 20_000.0, 3.0, 1.0)  # a volatile opening, then calm: no clustering within either
    abs_r = np.abs(vol * rng.normal(size=n))
    assert autocorrelation(abs_r, 10).mean() > 0.2
    assert abs(autocorrelation(over_bucket_mean(abs_r, t, 1800.0), 10).mean()) < 0.03


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="max_lag"):
        autocorrelation(np.ones(10), 0)
    with pytest.raises(ValueError, match="more than"):
        autocorrelation(np.ones(3), 5)
    with pytest.raises(ValueError, match="multiple of step_s"):
        return_statistics(np.ones(100), 2.0, (3.0,))
    with pytest.raises(ValueError, match=r"shapes \(10,\) and \(9,\)"):
        log_spread_acf(np.arange(10.0), np.ones(9), 2)
    with pytest.raises(ValueError, match="finite spreads"):
        log_spread_acf(np.arange(10.0), np.full(10, np.nan), 2)
    with pytest.raises(ValueError, match="bucket_s"):
        log_spread_acf(np.arange(10.0), np.ones(10), 2, bucket_s=0.0)
    with pytest.raises(ValueError, match=r"shapes \(10,\) and \(11,\)"):
        spread_scaled_returns(np.ones(10), np.ones(11), 2)
    with pytest.raises(ValueError, match="lag"):
        spread_scaled_returns(np.ones(10), np.ones(10), 0)
    with pytest.raises(ValueError, match=r"shapes \(3,\) and \(2,\)"):
        over_bucket_mean(np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match="bucket_s"):
        over_bucket_mean(np.ones(3), np.arange(3.0), bucket_s=-1.0)
