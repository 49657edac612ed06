"""Square-root law: fits with known answers, and metaorder impact in the simulated market."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from execgym.envs.market.analysis.impact.law import fit_square_root, fit_square_root_runs, impact_vs_size, market_scale
from execgym.envs.market.analysis.impact.metaorder import Metaorder, metaorder_impacts
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation.simulator import MarketSimulator

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


def _run(rng, y, delta, sigma, volume, sizes=Q):
    """A run's sizes frame: impacts ``y sigma (Q / V)^delta`` with 5% errors."""
    truth = y * sigma * (sizes / volume) ** delta
    se = 0.05 * truth
    return pd.DataFrame({"size_shares": sizes, "peak_ticks": truth + rng.normal(scale=se), "peak_stderr_ticks": se})


def test_runs_pooled_in_their_own_units_recover_one_law():
    """Two runs of one law measured in markets of different scale (sigma, V): pooled in units
    of each run's own scale they give the law's exponent and Y, with a narrower interval than
    either; pooled in shares and ticks they would not."""
    rng = np.random.default_rng(2)
    a, b = _run(rng, 0.6, 0.5, 0.3, 100.0), _run(rng, 0.6, 0.5, 0.9, 400.0, sizes=2.5 * Q)
    both = fit_square_root_runs([(a, 0.3, 100.0), (b, 0.9, 400.0)])
    ones = [fit_square_root_runs([(a, 0.3, 100.0)]), fit_square_root_runs([(b, 0.9, 400.0)])]
    assert both.n == 2 * len(Q)
    assert both.delta_ci95[0] < 0.5 < both.delta_ci95[1] and both.y_ci95[0] < 0.6 < both.y_ci95[1]
    width = both.delta_ci95[1] - both.delta_ci95[0]
    assert all(width < f.delta_ci95[1] - f.delta_ci95[0] for f in ones)
    assert 0.2 < both.chi2_dof < 3.0
    raw = fit_square_root(np.r_[a.size_shares, b.size_shares], np.r_[a.peak_ticks, b.peak_ticks],
                          np.r_[a.peak_stderr_ticks, b.peak_stderr_ticks], 0.6, 250.0)
    assert raw.chi2_dof > 10 * both.chi2_dof  # one scale for both does not fit
    # one run: fit_square_root's own result
    one = fit_square_root(a.size_shares, a.peak_ticks, a.peak_stderr_ticks, 0.3, 100.0)
    for got, want in zip(ones[0].as_row().values(), one.as_row().values()):
        assert got == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("runs, match", [
    ([], "at least one run"),
    ([(pd.DataFrame({"size_shares": Q}), 1.0, 1.0)], r"lack the columns \['peak_ticks', 'peak_stderr_ticks'\]"),
    ([(pd.DataFrame({"size_shares": Q, "peak_ticks": Q, "peak_stderr_ticks": Q}), 0.0, 1.0)], "run 0's sigma"),
    ([(pd.DataFrame({"size_shares": Q, "peak_ticks": Q, "peak_stderr_ticks": Q}), 1.0, -2.0)], "run 0's volume"),
    (["not a run"], "must be \\(sizes, sigma, volume\\)"),
])
def test_pooled_runs_refuse_bad_input(runs, match):
    with pytest.raises(ValueError, match=match):
        fit_square_root_runs(runs)


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


def _paired_paths_by_hand(config, seed, side, orders, dt_s, n_runs):
    """Each run's signed mid difference, every control simulated on its own for its own length."""
    out = []
    for order in orders:
        n_steps = int(round((order.duration_s + order.post_s) / dt_s))
        every = max(1, int(round(order.duration_s / dt_s / order.n_slices)))
        runs = []
        for child in np.random.SeedSequence(seed).spawn(n_runs):
            mids = []
            for trade in (True, False):
                sim = MarketSimulator(config, np.random.default_rng(child))
                slices = [order.total_shares // order.n_slices + (k < order.total_shares % order.n_slices)
                          for k in range(order.n_slices)]
                m = [sim.book.mid]
                for step in range(n_steps):
                    if trade and step % every == 0 and slices:
                        sim.submit_market(side, slices.pop(0))
                    m.append(sim.advance(dt_s).mid_ticks)
                assert None not in m  # the market keeps both sides (else the mid would be a stand-in)
                mids.append(np.array(m, dtype=float))
            runs.append((1.0 if side == "buy" else -1.0) * (mids[0] - mids[1]))
        out.append(np.array(runs))
    return out


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_metaorders_on_the_same_seeds_share_one_control_run_per_seed(impacted, side):
    """The control run (no metaorder) is simulated once per seed over the longest horizon; every
    metaorder's path is what a control of its own length gives, so sharing changes no number."""
    orders = [Metaorder(6_000, 60.0, 6, 30.0), Metaorder(1_500, 20.0, 4, 10.0), Metaorder(3_001, 40.0, 3, 50.0)]
    frames = metaorder_impacts(impacted, orders, side=side, dt_s=5.0, n_runs=3, seed=4)
    for order, frame, runs in zip(orders, frames, _paired_paths_by_hand(impacted, 4, side, orders, 5.0, 3)):
        assert len(frame) == order.n_steps(5.0) + 1
        np.testing.assert_array_equal(frame["impact_ticks"].to_numpy(), runs.mean(axis=0))
        np.testing.assert_array_equal(frame["stderr_ticks"].to_numpy(), runs.std(axis=0, ddof=1) / np.sqrt(3))
        assert frame["executing"].tolist() == (frame["time_s"] < order.duration_s).tolist()
    assert frames[0]["impact_ticks"].iloc[-1] > 0  # the largest order moved the price its way


def test_the_runs_give_the_same_numbers_over_any_number_of_processes(impacted):
    args = dict(sizes_shares=[1000, 4000], participation=0.2, n_runs=4, post_s=30.0, dt_s=5.0, seed=6)
    one, paths_one = impact_vs_size(impacted, n_workers=1, **args)
    two, paths_two = impact_vs_size(impacted, n_workers=2, **args)
    pd.testing.assert_frame_equal(one, two)
    for q in (1000, 4000):
        pd.testing.assert_frame_equal(paths_one[q], paths_two[q])


@pytest.mark.parametrize("kwargs, error, match", [
    ({"orders": []}, TypeError, "non-empty sequence of Metaorder"),
    ({"orders": [(100, 10.0, 1, 10.0)]}, TypeError, "non-empty sequence of Metaorder"),
    ({"n_workers": 0}, ValueError, "n_workers must be >= 1"),
    ({"n_runs": 1}, ValueError, "n_runs must be >= 2"),
    ({"dt_s": 0.0}, ValueError, "dt_s"),
    ({"side": "long"}, ValueError, "side"),
])
def test_metaorder_impacts_refuses_bad_input(impacted, kwargs, error, match):
    args = {"orders": [Metaorder(100, 10.0, 1, 10.0)], "n_runs": 2} | kwargs
    with pytest.raises(error, match=match):
        metaorder_impacts(impacted, **args)


@pytest.mark.parametrize("field, value, error", [
    ("total_shares", 0, ValueError), ("total_shares", 10.5, TypeError), ("n_slices", 0, ValueError),
    ("duration_s", -1.0, ValueError), ("post_s", float("nan"), ValueError),
])
def test_a_bad_metaorder_names_its_field(field, value, error):
    args = {"total_shares": 100, "duration_s": 10.0, "n_slices": 2, "post_s": 5.0} | {field: value}
    with pytest.raises(error, match=field):
        Metaorder(**args)
