"""A check shared by the flow's log-normal factors (the random clock, the liquidity-provision
regimes): stepped once a simulated second, the standardised log is a unit Ornstein-Uhlenbeck
process of the configured memory and the factor is ``exp(sigma Y - sigma^2 / 2)``, of mean one."""

from __future__ import annotations

import numpy as np
import pytest

from execgym.envs.market.simulation.simulator import MarketSimulator


def assert_unit_ou_factor(sim: MarketSimulator, log_field: str, factor_field: str, sigma: float, tau_s: float,
                          seconds: int = 20_000) -> None:
    """Step ``sim`` one second at a time and check its flow state's ``log_field`` (Y) and
    ``factor_field`` against a unit OU of correlation time ``tau_s`` (an integer number of s)
    and the factor ``exp(sigma Y - sigma^2 / 2)``."""
    ys, factors = [], []
    for _ in range(seconds):
        sim.advance(1.0)
        ys.append(float(sim._fs[0][log_field]))
        factors.append(float(sim._fs[0][factor_field]))
    ys, factors = np.array(ys), np.array(factors)
    assert ys.std() == pytest.approx(1.0, abs=0.15)
    assert factors.mean() == pytest.approx(1.0, abs=0.12)
    np.testing.assert_allclose(np.log(factors), sigma * ys - 0.5 * sigma * sigma, atol=1e-12)
    lag = int(tau_s)
    assert np.corrcoef(ys[:-lag], ys[lag:])[0, 1] == pytest.approx(np.exp(-1.0), abs=0.08)
