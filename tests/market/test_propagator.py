"""The power-law propagator: its sum-of-exponentials kernel, the centre's response to trades
(one trade, a metaorder, buy and sell), and its concave impact in the simulated book."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from execgym.envs.market.simulation import flow as F
from execgym.envs.market.simulation.flow import FlowConfig, ImpactConfig
from execgym.envs.market.simulation.propagator import (
    metaorder_response,
    power_law_kernel,
    power_law_response,
)
from execgym.envs.market.simulation.simulator import MarketSimulator, SimulatorConfig


@pytest.mark.parametrize("beta", [0.2, 0.5, 0.8])
@pytest.mark.parametrize("t0, horizon", [(1.0, 23_400.0), (0.1, 1e4), (5.0, 5.0)])
def test_kernel_follows_the_power_law_over_the_horizon(beta, t0, horizon):
    w, r = power_law_kernel(beta, t0, horizon)
    assert np.all(w > 0) and np.all(r > 0)
    t = np.concatenate([[0.0], np.geomspace(1e-4 * t0, horizon, 3000)])
    approx = (w[None, :] * np.exp(-np.outer(t, r))).sum(axis=1)
    assert np.max(np.abs(approx / power_law_response(beta, t0, t) - 1.0)) < 0.015


def test_metaorder_response_is_the_integral_of_the_kernel():
    beta, t0, T = 0.4, 2.0, 100.0
    t = np.array([10.0, 100.0, 150.0, 400.0])
    u = np.linspace(0.0, T, 200_001)
    for ti, got in zip(t, metaorder_response(beta, t0, T, t)):
        inside = u[u <= ti]
        expected = np.trapezoid(power_law_response(beta, t0, ti - inside), inside)
        assert got == pytest.approx(expected, rel=1e-4)
    # concave in the duration at a fixed rate: Q^(1 - beta) for T >> t0
    durations = np.array([1e3, 1e4, 1e5])
    peaks = metaorder_response(beta, t0, durations, durations)
    slope = np.polyfit(np.log(durations), np.log(peaks), 1)[0]
    assert slope == pytest.approx(1.0 - beta, abs=0.02)


@pytest.mark.parametrize("bad", [dict(beta=0.0), dict(beta=1.0), dict(t0_s=0.0), dict(horizon_s=0.5),
                                 dict(n=1), dict(n=13)])
def test_kernel_rejects_bad_arguments(bad):
    args = dict(beta=0.5, t0_s=1.0, horizon_s=100.0) | bad
    with pytest.raises(ValueError, match=next(iter(bad))):
        power_law_kernel(**args)


@pytest.mark.parametrize("field, value", [("propagator_exponent", 0.0), ("propagator_exponent", 1.0),
                                          ("propagator_time_s", 0.0), ("propagator_horizon_s", 0.1),
                                          ("propagator_ticks_per_share", -1e-3)])
def test_impact_config_rejects_bad_propagators(field, value):
    with pytest.raises(ValueError, match=field):
        ImpactConfig(**{field: value})


def _quiet_market(g0=1e-3, beta=0.5, t0=2.0, kappa=0.0):
    """No background trades, so only the trades the test makes move the centre."""
    flow = FlowConfig(market_rate_per_s=0.0, intraday=None, anchor="reference")
    impact = ImpactConfig(transient_ticks_per_share=kappa, permanent_ticks_per_share=0.0,
                          propagator_ticks_per_share=g0, propagator_exponent=beta, propagator_time_s=t0,
                          propagator_horizon_s=10_000.0)
    return MarketSimulator(SimulatorConfig(flow=flow, impact=impact, warmup_s=0.0), np.random.default_rng(0))


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_one_trade_moves_the_centre_by_the_kernel(sign):
    g0, beta, t0 = 1e-3, 0.5, 2.0
    sim = _quiet_market(g0, beta, t0)
    start = sim.reference_ticks
    sim.apply_external_impact(sign * 1000.0)
    assert sim.reference_ticks - start == pytest.approx(sign * g0 * 1000.0, rel=0.015)
    elapsed = 0.0
    for dt in (1.0, 9.0, 90.0, 900.0, 4000.0):
        sim.advance(dt)
        elapsed += dt
        expected = sign * g0 * 1000.0 * power_law_response(beta, t0, elapsed)
        assert sim.reference_ticks - start == pytest.approx(expected, rel=0.015)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_a_metaorder_adds_up_the_decayed_impacts_of_its_trades(sign):
    g0, beta, t0 = 2e-4, 0.3, 1.0
    sim = _quiet_market(g0, beta, t0, kappa=1e-4)  # with the exponential transient beside it
    start = sim.reference_ticks
    times, child, rho = np.arange(0.0, 300.0, 5.0), 50.0, sim.config.flow.resilience_per_s
    for _ in times:
        sim.apply_external_impact(sign * child)
        sim.advance(5.0)
    now = times[-1] + 5.0
    expected = sign * child * (g0 * power_law_response(beta, t0, now - times).sum()
                               + 1e-4 * np.exp(-rho * (now - times)).sum())
    assert sim.reference_ticks - start == pytest.approx(expected, rel=0.015)


def test_without_the_propagator_the_kernel_state_stays_untouched():
    sim = _quiet_market(g0=0.0, kappa=1e-3)
    sim.apply_external_impact(500.0)
    sim.advance(3.0)
    assert not np.any(sim._fs[0]["prop_ticks"])
    assert sim.reference_ticks - sim.fundamental_ticks == pytest.approx(0.5 * np.exp(-3.0 * sim.config.flow.resilience_per_s))


def test_a_propagator_under_the_opposite_best_anchor_moves_no_order_and_is_warned_of(caplog):
    """The propagator moves the centre; orders placed from the opposite best never read it
    while the book has both sides: the same flow with and without it sends the same events,
    and the configuration says so in a warning (not for the reference anchor)."""
    flow = FlowConfig(anchor="opposite_best", market_rate_per_s=1.0, intraday=None)
    with caplog.at_level("WARNING", logger="execgym.envs.market.simulation.simulator"):
        on = SimulatorConfig(flow=flow, impact=ImpactConfig(propagator_ticks_per_share=0.05, propagator_time_s=10.0),
                             log_events=True)
    assert "propagator_ticks_per_share=0.05 has no effect" in caplog.text
    logs = []
    for cfg in (on, SimulatorConfig(flow=flow, impact=ImpactConfig(), log_events=True)):
        sim = MarketSimulator(cfg, np.random.default_rng(4))
        sim.advance(600.0)
        assert sim.book.best_bid is not None and sim.book.best_ask is not None
        logs.append(sim.book.event_log().to_numpy())
    assert np.array_equal(*logs)
    caplog.clear()
    with caplog.at_level("WARNING", logger="execgym.envs.market.simulation.simulator"):
        SimulatorConfig(flow=FlowConfig(anchor="reference"), impact=ImpactConfig(propagator_ticks_per_share=0.05))
    assert "propagator" not in caplog.text


@settings(max_examples=300, deadline=None)
@given(fund=st.floats(-1e5, 1e5), trans=st.floats(-50.0, 50.0), dt=st.floats(0.0, 1e5),
       props=st.lists(st.one_of(st.just(0.0), st.floats(-200.0, 200.0)), min_size=12, max_size=12),
       near=st.booleans(), prop=st.booleans())
def test_the_rounded_centre_is_the_exact_centres_ceiling_and_floor(fund, trans, dt, props, near, prop):
    """:func:`_rounded_centre` encloses each decayed exponential without computing it and falls
    back on the exact centre when the enclosure straddles an integer: the result is always the
    ceiling / floor of the exact centre (states drawn near an integer too), with the propagator
    and with the transient impact alone."""
    impact = (ImpactConfig(propagator_ticks_per_share=0.02, propagator_exponent=0.5, propagator_time_s=60.0) if prop
              else ImpactConfig(transient_ticks_per_share=0.01))
    fp = F.flow_params(FlowConfig(anchor="reference", resilience_per_s=0.05), impact, 1)[0]
    fs = F.new_flow_state(0.0, 1_000.5, 1.0)[0]
    fs["trans_ticks"], fs["trans_t_s"], fs["t_s"] = trans, 0.0, dt
    for k, p in enumerate(props[:F.MAX_PROPAGATOR_KERNELS]):
        fs["prop_ticks"][k] = p
    fs["fund_ticks"] = fund
    if near:  # put the exact centre within a hair of an integer
        centre = fund + F.transient(fp, fs)
        fs["fund_ticks"] = fund + (round(centre) - centre) + 1e-12
    exact = fs["fund_ticks"] + F.transient(fp, fs)
    assert F._rounded_centre(fp, fs, True) == math.ceil(exact)
    assert F._rounded_centre(fp, fs, False) == math.floor(exact)


def _impact_state(trans, props, prop):
    impact = (ImpactConfig(propagator_ticks_per_share=0.02, propagator_exponent=0.5, propagator_time_s=60.0) if prop
              else ImpactConfig(transient_ticks_per_share=0.01))
    fp = F.flow_params(FlowConfig(anchor="reference", resilience_per_s=0.05), impact, 1)[0]
    fs = F.new_flow_state(0.0, 1_000.5, 1.0)[0]
    fs["trans_ticks"], fs["trans_t_s"] = trans, 0.0
    for k, p in enumerate(props[:F.MAX_PROPAGATOR_KERNELS]):
        fs["prop_ticks"][k] = p
    return fp, fs


@settings(max_examples=300, deadline=None)
@given(trans=st.floats(-50.0, 50.0), dt=st.floats(0.0, 1e5),
       props=st.lists(st.one_of(st.just(0.0), st.floats(-200.0, 200.0)), min_size=12, max_size=12),
       prop=st.booleans())
def test_the_centres_taylor_enclosure_holds_the_impact(trans, dt, props, prop):
    """:func:`_centre_taylor`'s second-order coefficients enclose the impact (transient and
    propagator, with signs either way) ``dt`` seconds after its last change:
    ``a - b dt + c_neg dt^2 <= impact <= a - b dt + c_pos dt^2``, and ``a`` is the impact then."""
    fp, fs = _impact_state(trans, props, prop)
    fs["t_s"] = dt
    F._centre_taylor(fp, fs)
    assert fs["cen_ok"]
    impact = F.transient(fp, fs)
    base = fs["cen_a_ticks"] - fs["cen_b_ticks_per_s"] * dt
    tol = 1e-9 * (1.0 + abs(impact) + abs(base))
    assert base + fs["cen_c_neg_ticks_per_s2"] * dt * dt - tol <= impact <= base + fs["cen_c_pos_ticks_per_s2"] * dt * dt + tol
    fs["t_s"] = 0.0
    assert fs["cen_a_ticks"] == pytest.approx(F.transient(fp, fs), abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(trans=st.floats(-50.0, 50.0), dts=st.lists(st.floats(0.0, 600.0), min_size=1, max_size=6),
       props=st.lists(st.one_of(st.just(0.0), st.floats(-200.0, 200.0)), min_size=12, max_size=12),
       trades=st.lists(st.floats(-2_000.0, 2_000.0), min_size=1, max_size=4), prop=st.booleans())
def test_the_rounded_centre_follows_the_clock_and_each_impact(trans, dts, props, trades, prop):
    """The cached Taylor coefficients stay right as the clock moves on and are replaced at
    each impact (:func:`apply_impact`, buys and sells): every read is the exact centre's
    ceiling / floor."""
    fp, fs = _impact_state(trans, props, prop)
    t = 0.0
    for trade in trades:
        for dt in dts:
            t += dt
            fs["t_s"] = t
            exact = fs["fund_ticks"] + F.transient(fp, fs)
            assert F._rounded_centre(fp, fs, True) == math.ceil(exact)
            assert F._rounded_centre(fp, fs, False) == math.floor(exact)
        F.apply_impact(fs, fp, trade)
        assert not fs["cen_ok"]  # the coefficients of the impact before are gone
