"""Square-root law: fits with known answers, and metaorder impact in the simulated market."""

from __future__ import annotations

import numpy as np
import pytest

from execgym.envs.market.analysis.impact.law import fit_square_root, impact_vs_size, market_scale
from execgym.envs.market.data.simulated_day import simulate_day

from .conftest import flat_config

Q = np.array([500, 1000, 2000, 4000, 8000, 16000, 32000], dtype=float)


def test_fit_recovers_a_known_prefactor_and_exponent():
    rng = np.random.default_rng(0)
    sigma, volume = 0.3, 100.0
    truth = 0.7 * sigma * np.sqrt(Q / volume)
    se = 0.05 * truth + 0.02
    fit = fit_square_root(Q, truth + rng.normal(scale=se), se, sigma, volume)
    assert fit.y_ci95[0] < 0.7 < fit.y_ci95[1]
    assert fit.delta_ci95[0] < 0.5 < fit.delta_ci95[1]
    assert fit.y_se < 0.05 and 0.2 < fit.chi2_dof < 3.0


def test_fit_tells_a_linear_response_from_a_square_root():
    rng = np.random.default_rng(1)
    truth = 1e-4 * Q
    se = 0.03 * truth
    fit = fit_square_root(Q, truth + rng.normal(scale=se), se, 0.3, 100.0)
    assert fit.delta_ci95[0] < 1.0 < fit.delta_ci95[1]
    assert fit.delta_ci95[0] > 0.5
    assert fit.chi2_dof > 10  # the square root does not fit


def test_fit_refuses_bad_input():
    with pytest.raises(ValueError, match="at least 3"):
        fit_square_root([1.0, 2.0], [1.0, 2.0], [0.1, 0.1], 1.0, 1.0)
    with pytest.raises(ValueError, match="equal length"):
        fit_square_root([1.0, 2.0, 3.0], [1.0, 2.0], [0.1, 0.1, 0.1], 1.0, 1.0)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        fit_square_root([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0.1, 0.1, 0.1], 0.0, 1.0)
    with pytest.raises(ValueError, match="standard error must be > 0"):
        fit_square_root([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0], 1.0, 1.0)


def test_market_scale_measures_the_simulated_volume_rate():
    cfg = flat_config()
    day = simulate_day(cfg, np.random.default_rng(0), 3600.0, levels=1)
    sigma, v = market_scale(day)
    assert v == pytest.approx(cfg.flow.expected_volume_per_s(), rel=0.1)
    assert sigma > 0


@pytest.fixture(scope="module")
def impacted():
    return flat_config(transient_ticks_per_share=5e-3, permanent_ticks_per_share=1e-4)


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_simulated_impact_grows_with_size_on_both_sides(impacted, side):
    tab, paths = impact_vs_size(impacted, [1000, 4000, 16000], side=side, participation=None,
                                duration_s=60.0, n_runs=8, post_s=60.0, seed=1)
    peak = tab["peak_ticks"].to_numpy()
    assert np.all(np.diff(peak) > 0) and peak[0] > 0
    # over a fixed duration the propagator is linear: 16x the size, about 16x the impact
    assert peak[2] / peak[0] == pytest.approx(16.0, rel=0.5)
    assert set(paths) == {1000, 4000, 16000}


def test_fixed_participation_makes_impact_concave_in_size(impacted):
    # at a fixed participation rate the transient part saturates at kappa r / rho:
    # the response is concave (square-root-like), unlike the linear fixed-duration one
    tab, _ = impact_vs_size(impacted, [1000, 4000, 16000], participation=0.2, n_runs=8, post_s=60.0, seed=2)
    fit = fit_square_root(tab["size_shares"], tab["peak_ticks"], tab["peak_stderr_ticks"], 0.26, 100.0)
    assert fit.delta < 0.8
    assert tab["duration_s"].tolist() == [50.0, 200.0, 800.0]


def test_permanent_impact_is_gamma_times_size(impacted):
    # after several 1/rho the transient part is gone: what stays is gamma Q
    tab, _ = impact_vs_size(impacted, [8000], participation=None, duration_s=40.0, n_runs=16, post_s=100.0, seed=3)
    row = tab.iloc[0]
    assert row["permanent_ticks"] == pytest.approx(1e-4 * 8000, abs=3 * row["permanent_stderr_ticks"] + 0.25)
    assert row["temporary_ticks"] > 0
