"""Shared simulated and real days for the microstructure analytics tests."""

from __future__ import annotations

import numpy as np
import pytest

from execgym.envs.market.data.lobster import read_messages, read_orderbook
from execgym.envs.market.data.lobster_data import LobsterDay, default_lobster_dir
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation.flow import FlowConfig, ImpactConfig
from execgym.envs.market.simulation.simulator import SimulatorConfig

DATA = default_lobster_dir()


def flat_config(**impact) -> SimulatorConfig:
    """A market without intraday seasonality (stationary flow), with the given impact."""
    return SimulatorConfig(flow=FlowConfig(intraday=None), impact=ImpactConfig(**impact), warmup_s=100.0)


@pytest.fixture(scope="session")
def sim_day() -> LobsterDay:
    """Twenty minutes of the default market as a LOBSTER day (5 levels)."""
    return simulate_day(SimulatorConfig(warmup_s=100.0), np.random.default_rng(7), 1200.0, levels=5, name="sim")


@pytest.fixture(scope="session")
def amzn_day() -> LobsterDay:
    m = read_messages(DATA / "AMZN_2012-06-21_34200000_57600000_message_1.csv")
    ob = read_orderbook(DATA / "AMZN_2012-06-21_34200000_57600000_orderbook_1.csv")
    return LobsterDay(m, ob, name="AMZN")
