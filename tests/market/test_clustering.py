"""Clustered order flow: the submissions' and cancellations' Hawkes excitation (FlowConfig's
``cluster_*``) keeps the configured mean rates and depth, makes arrivals bursty, is recovered
by the maximum-likelihood fit, and is calibrated from a day and written to its market config."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from execgym.envs.market.analysis.calibration.flow import calibrate_flow, fit_hawkes_kernels
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation import flow as F
from execgym.envs.market.simulation.flow import FlowConfig
from execgym.envs.market.simulation.simulator import SimulatorConfig
from tests.helpers import assert_vector_env_steps_as_single_envs

CLUSTER = {"cluster_alphas_per_s": (5.0, 300.0), "cluster_betas_per_s": (20.0, 1000.0)}  # n = 0.55
DURATION_S = 1800.0


def _day(seed, **flow):
    cfg = SimulatorConfig(flow=FlowConfig(anchor="opposite_best", intraday=None, depth_shares=(1500.0,) * 5,
                                          **flow), warmup_s=300.0)
    return simulate_day(cfg, np.random.default_rng(seed), DURATION_S, dt_s=60.0, levels=5, all_messages=True,
                        open_time_s=0.0)


@pytest.fixture(scope="module")
def days():
    return _day(0), _day(0, **CLUSTER)


def _lc_times(day):
    m = day.messages
    return m["time_s"].to_numpy()[m["type"].isin([1, 2, 3]).to_numpy()]


def test_clustering_keeps_the_mean_rates_and_depth_and_makes_arrivals_bursty(days):
    poisson, clustered = days
    for kind in (1, 3, 4):  # submissions, deletions, executions
        n_p = (poisson.messages["type"] == kind).sum()
        n_c = (clustered.messages["type"] == kind).sum()
        assert n_c == pytest.approx(n_p, rel=0.12), (kind, n_p, n_c)
    depth = [d.orderbook[:, 3::4].sum(axis=1).mean() for d in days]
    assert depth[1] == pytest.approx(depth[0], rel=0.15)
    gaps = [np.diff(np.unique(_lc_times(d))) for d in days]
    # Poisson gaps: median ln 2 / rate; clustered: most gaps inside bursts (ms), a heavy tail
    assert np.median(gaps[1]) < 0.5 * np.median(gaps[0])
    assert np.quantile(gaps[1], 0.99) > np.quantile(gaps[0], 0.99)
    cv = [g.std() / g.mean() for g in gaps]
    assert cv[0] == pytest.approx(1.0, abs=0.1) and cv[1] > 1.5  # exponential gaps have cv 1


def test_the_fit_recovers_the_kernels_and_a_poisson_process_has_no_excitation(days):
    clustered = days[1]
    fit = fit_hawkes_kernels(_lc_times(clustered), 0.0, DURATION_S, 2)
    assert fit["branching_ratio"] == pytest.approx(0.55, abs=0.05)
    np.testing.assert_allclose(fit["betas_per_s"], CLUSTER["cluster_betas_per_s"], rtol=0.2)
    np.testing.assert_allclose(fit["alphas_per_s"], CLUSTER["cluster_alphas_per_s"], rtol=0.2)
    assert fit["mean_rate_per_s"] == pytest.approx(len(np.unique(_lc_times(clustered))) / DURATION_S)
    poisson = np.cumsum(np.random.default_rng(1).exponential(0.1, size=18_000))  # 10/s
    assert fit_hawkes_kernels(poisson, 0.0, 1800.0, 1)["branching_ratio"] < 0.05


def test_a_fit_of_the_same_times_is_kept_and_what_the_caller_changes_stays_its_own(days, monkeypatch):
    """Calibrations of one day under other settings fit its kernels once: the same times
    (another array, the same contents) give the kept fit without fitting again; other times
    (or another window) are fitted."""
    from execgym.envs.market.analysis.calibration import flow as calibration

    times = _lc_times(days[1])
    first = fit_hawkes_kernels(times, 0.0, DURATION_S, 2)
    first["branching_ratio"] = -1.0  # the caller's copy
    monkeypatch.setattr(calibration, "_fit_hawkes_kernels", lambda *a: pytest.fail("fitted the same times again"))
    again = fit_hawkes_kernels(times.copy(), 0.0, DURATION_S, 2)
    assert again["branching_ratio"] == pytest.approx(0.55, abs=0.05)
    with pytest.raises(pytest.fail.Exception, match="fitted the same times again"):
        fit_hawkes_kernels(times, 0.0, DURATION_S - 1.0, 2)  # another window: another fit
    with pytest.raises(pytest.fail.Exception):
        fit_hawkes_kernels(times[1:], 0.0, DURATION_S, 2)


def test_calibration_fits_the_clustering_and_writes_it_to_the_market_config(days):
    cal = calibrate_flow(days[1], 5, clustering=2)
    assert cal.flow.cluster_branching_ratio() == pytest.approx(0.55, abs=0.05)
    assert cal.scalars["cluster_branching_ratio"] == cal.flow.cluster_branching_ratio()
    cfg = SimulatorConfig.from_mapping(cal.market_config(0.01, 10_000.5, 300.0))
    np.testing.assert_allclose(cfg.flow.cluster_betas_per_s, cal.flow.cluster_betas_per_s, rtol=1e-4)
    assert calibrate_flow(days[1], 5).flow.cluster_alphas_per_s == ()  # off unless asked
    with pytest.raises(ValueError, match="clustering must be 0-3"):
        calibrate_flow(days[1], 5, clustering=4)
    assert not cfg.flow.cluster_cancel_redraw  # off unless asked
    redraw = calibrate_flow(days[1], 5, clustering=2, cancel_redraw=True)
    assert SimulatorConfig.from_mapping(redraw.market_config(0.01, 10_000.5, 300.0)).flow.cluster_cancel_redraw
    assert redraw.flow.cluster_alphas_per_s == cal.flow.cluster_alphas_per_s  # nothing else changes
    with pytest.raises(ValueError, match="cancel_redraw"):
        calibrate_flow(days[1], 5, cancel_redraw=True)


@pytest.mark.parametrize("bad, match", [
    ({"cluster_alphas_per_s": (30.0,), "cluster_betas_per_s": (20.0,)}, "branching ratio"),
    ({"cluster_alphas_per_s": (1.0, 1.0), "cluster_betas_per_s": (20.0,)}, "one length"),
    ({"cluster_alphas_per_s": (1.0,) * 4, "cluster_betas_per_s": (100.0,) * 4}, "at most 3"),
    ({"cluster_alphas_per_s": (-1.0,), "cluster_betas_per_s": (20.0,)}, r"cluster_alphas_per_s\[0\]"),
    ({"cluster_alphas_per_s": (1.0,), "cluster_betas_per_s": (0.0,)}, r"cluster_betas_per_s\[0\]"),
    ({"cluster_limit_frac": 1.5}, "cluster_limit_frac"),
])
def test_bad_clustering_is_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        FlowConfig(**bad)


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_the_vector_env_steps_a_clustered_market_as_the_single_env(side):
    kw = dict(horizon_s=60.0, decision_interval_s=10.0, total_shares=5_000, side=side, action="participation",
              market={"flow": {**{k: list(v) for k, v in CLUSTER.items()}}})
    assert_vector_env_steps_as_single_envs(kw, seed=5)


@pytest.mark.parametrize("rate, beta", [(50.0, 1000.0), (3000.0, 1000.0), (0.5, 0.2)])
def test_the_excitations_points_are_drawn_exactly(rate, beta):
    """``_decaying_wait``: the first point of intensity ``rate exp(-beta s)`` has
    ``P(T <= s) = 1 - exp(-(rate / beta)(1 - exp(-beta s)))`` and no point at all with
    probability ``exp(-rate / beta)`` (a KS test and a binomial bound on 20,000 draws)."""
    from scipy import stats

    from execgym.envs.market.simulation import rng as R
    from execgym.envs.market.simulation.flow import _decaying_wait

    rs = R.new_state(np.random.default_rng(3))
    waits = np.array([_decaying_wait(rs, rate, beta) for _ in range(20_000)])
    mass = rate / beta
    p_none = np.exp(-mass)
    none = np.isinf(waits).mean()
    assert abs(none - p_none) < 4.0 * np.sqrt(p_none * (1.0 - p_none) / waits.size) + 1e-12
    finite = waits[np.isfinite(waits)]
    cdf = lambda s: (1.0 - np.exp(-mass * (1.0 - np.exp(-beta * s)))) / (1.0 - p_none)  # noqa: E731
    assert stats.kstest(finite, cdf).pvalue > 0.001


def test_fast_excitation_costs_no_rejected_proposals():
    """The clustering's points come from its pending offspring, at a rate constant between
    events, not thinned under a bound that their millisecond decay would leave mostly
    empty: nearly every proposal is an event."""
    from execgym.envs.market.simulation.simulator import MarketSimulator

    cfg = SimulatorConfig(flow=FlowConfig(anchor="opposite_best", intraday=None, depth_shares=(1500.0,) * 5,
                                          cluster_alphas_per_s=(1800.0,), cluster_betas_per_s=(2000.0,)),
                          warmup_s=60.0)
    sim = MarketSimulator(cfg, np.random.default_rng(0))
    events, proposals = int(sim._fs[0]["n_bg_events"]), int(sim._fs[0]["n_proposals"])
    sim.advance(600.0)
    events = int(sim._fs[0]["n_bg_events"]) - events
    proposals = int(sim._fs[0]["n_proposals"]) - proposals
    assert events > 2_000
    assert events / proposals > 0.9  # thinned under a bound at the excitation's value: 0.67



@pytest.mark.parametrize("alphas, betas", [((0.1068, 15.642, 1278.7), (0.58885, 64.506, 2726.6)),
                                           ((5.0, 300.0), (20.0, 1000.0)), ((1800.0,), (2000.0,))])
def test_the_offspring_counts_table_is_the_poisson_law_at_the_branching_ratio(alphas, betas):
    """The kernel inverts the offspring count's distribution function from a table in the
    flow's parameters: Poisson with mean the branching ratio (scipy's cdf), non-decreasing,
    reaching 1 well before its last entry."""
    from scipy import stats

    from execgym.envs.market.simulation import flow as F

    flow = FlowConfig(anchor="opposite_best", intraday=None, depth_shares=(1500.0,) * 5,
                      cluster_alphas_per_s=alphas, cluster_betas_per_s=betas)
    fp, _, _ = F.flow_params(flow, F.ImpactConfig(), lot=1)
    table = fp[F.P_CL_POIS0: F.P_CL_POIS0 + F.MAX_OFFSPRING + 1]
    mean = sum(a / b for a, b in zip(alphas, betas))
    assert mean == pytest.approx(flow.cluster_branching_ratio())
    np.testing.assert_allclose(table, stats.poisson.cdf(np.arange(F.MAX_OFFSPRING + 1), mean), rtol=0, atol=1e-12)
    assert np.all(np.diff(table) >= 0.0) and table[-1] == pytest.approx(1.0, abs=1e-12)
    # bit for bit the sums the kernel's loop once accumulated in compiled code (the same
    # formula compiled by numba), so that the table takes the same decisions
    assert fp[F.P_CL_NBRANCH] == mean
    np.testing.assert_array_equal(table, njit(F._poisson_cdf)(fp[F.P_CL_NBRANCH]))


def _stale_cancellations(redraw: bool, stale: int, seed: int) -> int:
    """Cancellations in 300 s of a clustered market without market orders, after ``stale``
    entries of orders that do not rest (as if filled meanwhile) joined its live list."""
    from execgym.envs.market.simulation.simulator import MarketSimulator

    cfg = SimulatorConfig(flow=FlowConfig(anchor="opposite_best", intraday=None, depth_shares=(100_000.0,) * 5,
                                          resilience_per_s=0.002, market_rate_per_s=0.0, cluster_alphas_per_s=(300.0,),
                                          cluster_betas_per_s=(500.0,), cluster_cancel_redraw=redraw),
                          warmup_s=300.0, log_events=True)
    sim = MarketSimulator(cfg, np.random.default_rng(seed))
    n = int(sim._fs[0]["n_live"])
    live = np.zeros(len(sim._live) + stale, dtype=np.int64)
    live[:n] = sim._live[:n]
    live[n: n + stale] = [F._live_entry(10**12 + k, 0) for k in range(stale)]  # ids no order has
    sim._live = live
    sim._fs[0]["n_live"] = n + stale
    before = len(sim.book.event_log())
    sim.advance(300.0)
    log = sim.book.event_log().iloc[before:]
    return int((log["type"] == 3).sum())


def test_excited_cancellations_that_draw_again_are_not_lost_on_stale_entries():
    """A cancellation of the clustering that draws a filled order's entry is lost, so stale
    entries lower the realised branching ratio (20,000 of them, against about 450 resting
    orders, cut the cancellations by about 70%); with ``cluster_cancel_redraw`` it draws
    again and the cancellations keep their count (three seeds pooled: the clustered count's
    own spread is about 6%)."""
    clean = sum(_stale_cancellations(False, 0, seed) for seed in range(3))
    lost = sum(_stale_cancellations(False, 20_000, seed) for seed in range(3))
    redrawn = sum(_stale_cancellations(True, 20_000, seed) for seed in range(3))
    assert lost < 0.5 * clean
    assert 0.8 * clean < redrawn < 1.25 * clean


def test_drawing_again_changes_nothing_without_stale_entries():
    """Without market orders no order is filled, no entry goes stale, and the option draws
    nothing more: the same event log, draw for draw."""
    from execgym.envs.market.simulation.simulator import MarketSimulator

    logs = []
    for redraw in (False, True):
        cfg = SimulatorConfig(flow=FlowConfig(anchor="opposite_best", intraday=None, depth_shares=(1500.0,) * 5,
                                              market_rate_per_s=0.0, cluster_cancel_redraw=redraw, **CLUSTER),
                              warmup_s=60.0, log_events=True)
        sim = MarketSimulator(cfg, np.random.default_rng(3))
        sim.advance(600.0)
        logs.append(sim.book.event_log())
    assert len(logs[0]) > 1_000
    assert logs[0].equals(logs[1])


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_the_vector_env_steps_a_redrawing_clustered_market_as_the_single_env(side):
    kw = dict(horizon_s=60.0, decision_interval_s=10.0, total_shares=5_000, side=side, action="participation",
              market={"flow": {**{k: list(v) for k, v in CLUSTER.items()}, "cluster_cancel_redraw": True}})
    assert_vector_env_steps_as_single_envs(kw, seed=5)


@pytest.mark.parametrize("bad, error, match", [({"cluster_cancel_redraw": 1}, TypeError, "cluster_cancel_redraw"),
                                               ({"cluster_cancel_redraw": True}, ValueError, "cluster_alphas_per_s")])
def test_a_bad_redraw_flag_is_refused(bad, error, match):
    with pytest.raises(error, match=match):
        FlowConfig(**bad)
