"""Almgren-Chriss parameters estimated from the simulated market they are used in."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from execgym.baselines import make_baseline
from execgym.baselines.almgren_chriss import ac_holdings
from execgym.envs.lob_execution import LOBExecutionConfig
from execgym.envs.market.analysis.calibration.almgren_chriss import (
    calibrate_almgren_chriss,
    calibrate_almgren_chriss_replay,
)
from execgym.envs.market.data.lobster_data import load_lobster
from execgym.envs.market.data.replay import ReplayDay
from execgym.envs.market.simulation.flow import ImpactConfig
from execgym.envs.market.simulation.simulator import SimulatorConfig
from tests.helpers import run_episode


@pytest.fixture(scope="module")
def calibration():
    return calibrate_almgren_chriss(LOBExecutionConfig().market, 30.0)


def test_estimates_recover_the_markets_volatility_spread_and_permanent_impact(calibration):
    market = LOBExecutionConfig().market
    tick = market.tick_size
    # the fundamental diffuses at sigma_ticks_per_sqrt_s; the mid adds little on top
    assert calibration.sigma == pytest.approx(market.impact.sigma_ticks_per_sqrt_s * tick, rel=0.25)
    assert tick / 2 <= calibration.epsilon <= 2 * tick  # a one- to few-tick spread
    assert calibration.gamma == pytest.approx(market.impact.permanent_ticks_per_share * tick, rel=0.4)
    assert calibration.eta > 0 and calibration.n_impact_samples >= 100


def test_larger_temporary_impact_gives_a_larger_eta():
    thin = SimulatorConfig(warmup_s=100.0, impact=ImpactConfig(sigma_ticks_per_sqrt_s=0.0),
                           flow={"depth_shares": (500.0,) * 10})
    deep = SimulatorConfig(warmup_s=100.0, impact=ImpactConfig(sigma_ticks_per_sqrt_s=0.0),
                           flow={"depth_shares": (4000.0,) * 10})
    kw = dict(interval_s=30.0, samples_per_size=20, quiet_s=600.0)
    assert calibrate_almgren_chriss(thin, **kw).eta > 2 * calibrate_almgren_chriss(deep, **kw).eta


def test_calibrated_almgren_chriss_runs_in_the_lob_env(calibration):
    env = gym.make("execgym/LOBExecution-v0", side="buy").unwrapped
    policy = make_baseline("almgren_chriss", env.task, risk_aversion=1e-5, **calibration.model())
    _, infos = run_episode(env, policy, seed=0)
    holdings = np.array([env.config.total_shares] + [i["holdings"] for i in infos])
    target = ac_holdings(policy.params)
    assert np.all(np.abs(holdings - np.round(target)) <= 1.0 + 1e-9)  # integer shares
    assert infos[-1]["execution"]["executed_shares"] == env.config.total_shares


def test_bad_calibration_arguments():
    market = LOBExecutionConfig().market
    with pytest.raises(ValueError, match="interval_s"):
        calibrate_almgren_chriss(market, 0.0)
    with pytest.raises(ValueError, match="two distinct sizes"):
        calibrate_almgren_chriss(market, 30.0, order_sizes_shares=(100, 100))


def test_replay_calibration_on_a_book_with_known_depth(tmp_path):
    """Five levels of 100 shares one tick apart each side, spread 1 tick, mid still: walking n
    shares costs n / 200 ticks a share, so eta = tick * tau / 200 and sigma = 0."""
    levels = ",".join(f"{1_000_100 + 100 * i},100,{1_000_000 - 100 * i},100" for i in range(5))
    msg = tmp_path / "K_2012-06-21_message_5.csv"
    book = tmp_path / "K_2012-06-21_orderbook_5.csv"
    msg.write_text("".join(f"{34200 + k},1,{k + 1},100,{900_000 - 100 * k},1\n" for k in range(20)))
    book.write_text(f"{levels}\n" * 20)
    day = ReplayDay.from_lobster(load_lobster(msg, book))
    cal = calibrate_almgren_chriss_replay(day, 1.0, 34200.0, 34219.0, order_sizes_shares=(100, 200, 400),
                                          n_snapshots=5)
    assert cal.sigma == 0.0 and cal.gamma == 0.0
    assert cal.epsilon == pytest.approx(0.005)
    assert cal.eta == pytest.approx(0.01 * 1.0 / 200) and cal.eta_r2 == pytest.approx(1.0)
    with pytest.raises(ValueError, match="distinct sizes"):
        calibrate_almgren_chriss_replay(day, 1.0, 34200.0, 34219.0, order_sizes_shares=(100,))
