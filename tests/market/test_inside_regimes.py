"""Liquidity-provision regimes: the factor of the inside orders' probabilities has mean one and
the configured memory, it makes the spread remember, and its fit finds the spread memory of a
day again (the strength and the time by simulation)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from omegaconf import OmegaConf

from execgym.envs.market.analysis.calibration.inside_regimes import (
    _minimum,
    fit_inside_regimes,
    regime_time_s,
    spread_memory,
)
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation import flow as F
from execgym.envs.market.simulation import rng as R
from execgym.envs.market.simulation.flow import FlowConfig
from execgym.envs.market.simulation.simulator import MarketSimulator, SimulatorConfig
from execgym.experiments.lib.builders import conf_file
from tests.market.ou_factor import assert_unit_ou_factor

EDGES = (1.0, 4.0, 8.0, 16.0)
#: shares at distances 1-30 from the opposite best: a wide book (as GOOG's) that the orders inside close
DEPTH = (0.0,) * 10 + (100.0,) * 20


def _market(sigma=0.0, tau=20.0):
    flow = FlowConfig(market_rate_per_s=2.0, resilience_per_s=0.5, intraday=None, anchor="opposite_best",
                      mean_limit_size_shares=100.0, depth_shares=DEPTH, inside_spread_ticks=EDGES,
                      inside_probs=(0.0, 0.05, 0.2, 0.5), inside_improve_fracs=(0.3, 0.5, 0.7),
                      inside_regime_sigma=sigma, inside_regime_time_s=tau)
    return SimulatorConfig(flow=flow, warmup_s=300.0)


def test_the_factor_has_mean_one_and_the_configured_memory():
    assert_unit_ou_factor(MarketSimulator(_market(0.8, 20.0), np.random.default_rng(3)), "inr_y", "inside_factor",
                          0.8, 20.0)


def _scaled_run(**flow) -> tuple[MarketSimulator, np.ndarray, float, float]:
    """The scaled preset (the random clock on, its normals drawn from the diffusion's stream)
    after 60 s of warm-up and 120 s more: the simulator, and the diffusion stream's state,
    the clock's log factor and its next grid time as they were after the warm-up."""
    values = OmegaConf.to_container(OmegaConf.load(conf_file("market", "goog_2012_06_21_scaled.yaml")))
    values.pop("defaults", None)
    cfg = SimulatorConfig.from_mapping(values | {"log_events": True, "warmup_s": 60.0})
    cfg = dataclasses.replace(cfg, flow=dataclasses.replace(cfg.flow, **flow))
    sim = MarketSimulator(cfg, np.random.default_rng(7))
    rd, act_x, grid_s = sim._rd.copy(), float(sim._fs[0]["act_x"]), float(sim._fs[0]["next_grid_s"])
    sim.advance(120.0)
    return sim, rd, act_x, grid_s


def test_off_nothing_is_drawn_from_the_diffusions_stream():
    """Off, the regime draws nothing: replaying the diffusion's stream with only the
    diffusion's normal (none here: the preset's centre does not diffuse) and the random
    clock's at each grid time passed gives the clock's factor and the stream's state exactly. On, even at a negligible strength, the regime's normals come between
    the clock's, whose path then differs, and so does the event stream."""
    sim, rd, x, grid_s = _scaled_run()
    fp, fs = sim._fp, sim._fs[0]
    assert fp[F.P_ACT_SIGMA] > 0.0 and fp[F.P_INR_SIGMA] == 0.0
    steps = 0
    while grid_s <= fs["t_s"]:
        if fp[F.P_SIGMA] > 0.0:
            R.normal(rd)  # the diffusion's step
        x = fp[F.P_ACT_SIGMA + 1] * x + fp[F.P_ACT_SIGMA + 2] * R.normal(rd)
        grid_s += float(fp[F.P_DIFF_STEP])
        steps += 1
    assert steps == 120 and x == fs["act_x"] and np.array_equal(rd, sim._rd)
    on, _, _, _ = _scaled_run(inside_regime_sigma=1e-9)
    assert on._fs[0]["act_x"] != fs["act_x"]
    log, log_on = (np.ascontiguousarray(s.book.event_log().to_numpy(dtype=np.int64)) for s in (sim, on))
    assert not np.array_equal(log, log_on[:len(log)])


def test_the_regimes_make_the_spread_remember_and_the_wide_spells_are_those_of_a_low_factor():
    memory = {}
    for sigma in (0.0, 1.5):
        day = simulate_day(_market(sigma, 30.0), np.random.default_rng(5), 7_200.0, dt_s=60.0)
        memory[sigma] = spread_memory(day, (10.0, 30.0), bucket_s=7_200.0)
    assert memory[1.5][0] > memory[0.0][0] + 0.15 and memory[1.5][1] > memory[0.0][1] + 0.05
    # the spread over seconds follows the factor: wide when few orders improve it
    sim = MarketSimulator(_market(1.5, 30.0), np.random.default_rng(6))
    factor, spread = [], []
    for _ in range(7_200):
        sim.advance(1.0)
        if sim.book.spread is not None:
            factor.append(float(sim._fs[0]["inside_factor"]))
            spread.append(sim.book.spread)
    factor, spread = np.array(factor), np.array(spread, dtype=float)
    assert spread[factor < np.quantile(factor, 0.2)].mean() > 1.3 * spread[factor > np.quantile(factor, 0.8)].mean()


def test_the_time_of_an_exponential_memory():
    assert regime_time_s(np.exp(-np.array([10.0, 30.0]) / 25.0)) == pytest.approx(25.0)
    with pytest.raises(ValueError, match="decay"):
        regime_time_s(np.array([0.1, 0.2]))
    with pytest.raises(ValueError, match="decay"):
        regime_time_s(np.array([0.3, -0.01]))
    with pytest.raises(ValueError, match="lags_s"):
        regime_time_s(np.array([0.3, 0.1]), (30.0, 10.0))
    with pytest.raises(ValueError, match="lags_s"):
        regime_time_s(np.array([0.3, 0.1]), (10.0,))
    with pytest.raises(ValueError, match="two values each"):
        regime_time_s(np.array([0.3, 0.1, 0.05]), (10.0, 30.0, 60.0))


def test_the_fit_finds_the_strength_of_a_simulated_day_again():
    """A day simulated with regimes of known strength: the fit on the same market without
    them comes back near it, and a day without them gets a weak one."""
    base = _market(0.0)
    fits = {}
    for sigma in (0.0, 1.2):
        day = simulate_day(_market(sigma, 30.0), np.random.default_rng(7), 5_400.0, dt_s=60.0)
        fits[sigma] = fit_inside_regimes(base, day, n_days=2, seed=1, sigmas=(0.0, 0.6, 1.2, 1.8), time_factors=(1.0,))
    assert fits[1.2]["inside_regime_sigma"] == pytest.approx(1.2, abs=0.45)
    assert fits[0.0]["inside_regime_sigma"] < 0.6
    assert 5.0 < fits[1.2]["inside_regime_time_s"] < 120.0
    assert len(fits[1.2]["sigma_curve"]) == 4 and fits[1.2]["sigma_curve"][-1] > fits[1.2]["sigma_curve"][0]
    # one time: the day's exponential time between the first two lags
    assert fits[1.2]["inside_regime_time_s"] == pytest.approx(regime_time_s(fits[1.2]["day_memory"][:2]))


def test_the_fit_finds_a_long_memory_again_and_matches_every_lag():
    """Days simulated with a long (90 s) and a short (10 s) regime time: the joint fit gives the
    first a time several times the second's, and its market's memory meets the day's at every
    lag, each time at the ``sigma`` that matches the first lag."""
    base, fits = _market(0.0), {}
    for tau in (90.0, 10.0):
        day = simulate_day(_market(1.2, tau), np.random.default_rng(7), 5_400.0, dt_s=60.0)
        fits[tau] = fit_inside_regimes(base, day, n_days=1, seed=1, sigmas=(0.0, 0.6, 1.2, 1.8),
                                       time_factors=(1.0, 2.0, 4.0))
    assert fits[90.0]["inside_regime_time_s"] > 2.5 * fits[10.0]["inside_regime_time_s"]
    assert 45.0 < fits[90.0]["inside_regime_time_s"] < 180.0
    for fit in fits.values():
        assert np.allclose(fit["simulated_memory"], fit["day_memory"], atol=0.05)
        times = [t for t, _, _ in fit["time_curve"]]
        assert times[0] == pytest.approx(regime_time_s(fit["day_memory"][:2]))
        assert times == pytest.approx([times[0] * f for f in (1.0, 2.0, 4.0)])
        assert times[0] <= fit["inside_regime_time_s"] <= times[-1]
        assert all(0.0 <= s <= 1.8 for _, s, _ in fit["time_curve"])
        # the time where the parabola through the errors is least, and the sigma solved around it
        x = np.log(np.array(times) / times[0])
        k = _minimum(x, np.array([e for _, _, e in fit["time_curve"]]))
        assert fit["inside_regime_time_s"] == pytest.approx(times[0] * np.exp(k))
        assert fit["inside_regime_sigma"] == pytest.approx(np.interp(k, x, [s for _, s, _ in fit["time_curve"]]))
    assert fits[90.0]["inside_regime_time_s"] > 1.1 * fits[90.0]["time_curve"][0][0]  # longer than the day's decay


def test_the_time_is_the_vertex_of_the_errors_parabola_within_the_grid():
    x = np.log([1.0, 1.5, 2.25, 3.375, 5.0625])
    assert _minimum(x, (x - 1.0) ** 2 + 0.3) == pytest.approx(1.0)  # an exact parabola: its vertex
    assert _minimum(x, (x - 9.0) ** 2) == pytest.approx(x[-1])  # beyond the grid: its end
    assert _minimum(x, (x + 9.0) ** 2) == pytest.approx(x[0])
    assert _minimum(x, -((x - 1.0) ** 2) + np.array([0, 0, 0, 0, -5.0])) == pytest.approx(x[-1])  # opens down
    assert _minimum(x[:2], np.array([0.2, 0.1])) == pytest.approx(x[1])  # two points: the smaller
    assert _minimum(x[:1], np.array([0.2])) == pytest.approx(x[0])


@pytest.mark.parametrize("kwargs, match", [
    ({"inside_regime_sigma": -0.1}, "inside_regime_sigma"),
    ({"inside_regime_time_s": 0.0}, "inside_regime_time_s"),
])
def test_bad_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FlowConfig(inside_spread_ticks=EDGES, inside_probs=(0.1,) * 4, inside_improve_fracs=(0.5,), **kwargs)


def test_regimes_without_inside_orders_and_bad_fit_arguments_are_refused():
    with pytest.raises(ValueError, match="inside_regime_sigma=0.5 .*inside_probs"):
        FlowConfig(inside_regime_sigma=0.5)
    day = simulate_day(_market(0.0), np.random.default_rng(8), 600.0, dt_s=60.0)
    with pytest.raises(ValueError, match="no inside_probs"):
        fit_inside_regimes(SimulatorConfig(), day)
    with pytest.raises(TypeError, match="SimulatorConfig"):
        fit_inside_regimes(_market().flow, day)
    with pytest.raises(ValueError, match="sigmas"):
        fit_inside_regimes(_market(), day, sigmas=(0.5, 1.0))
    with pytest.raises(ValueError, match="sigmas"):
        fit_inside_regimes(_market(), day, sigmas=(0.0, np.nan))
    for factors in [(), (1.0, 0.5), (0.0, 1.0), (1.0, np.inf)]:
        with pytest.raises(ValueError, match="time_factors"):
            fit_inside_regimes(_market(), day, time_factors=factors)
    for lags in [(30.0, 10.0), (10.0, 30.0, 20.0), (0.0, 10.0), (10.0,)]:
        with pytest.raises(ValueError, match="lags_s"):
            fit_inside_regimes(_market(), day, lags_s=lags)
    with pytest.raises(ValueError, match="multiples of step_s"):
        spread_memory(day, (10.5, 30.0))
