"""The simulator and the replay both implement :class:`execgym.envs.market.protocol.Market`,
with the protocol's signatures (not just its names)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from execgym.envs.market.data.lobster_data import sample_lobster_dir
from execgym.envs.market.data.replay import ReplayDay, ReplayMarket
from execgym.envs.market.protocol import BookView, Market
from execgym.envs.market.simulation.simulator import MarketSimulator, SimulatorConfig


def _members(protocol: type) -> dict[str, object]:
    return {name: value for name, value in vars(protocol).items()
            if not name.startswith("_") or name == "__contains__"}


@pytest.fixture(scope="module")
def markets():
    sim = MarketSimulator(SimulatorConfig(warmup_s=10.0), np.random.default_rng(0))
    folder = sample_lobster_dir()
    day = ReplayDay.load(str(folder / "GOOG_2012-06-21_34200000_57600000_message_10.csv"),
                         str(folder / "GOOG_2012-06-21_34200000_57600000_orderbook_10.csv"))
    replay = ReplayMarket(day)
    replay.reset(int(day.row_at(40_000.0)))
    return {"simulator": sim, "replay": replay}


@pytest.mark.parametrize("kind", ["simulator", "replay"])
def test_both_markets_implement_the_protocol_with_its_signatures(markets, kind):
    market = markets[kind]
    assert isinstance(market, Market) and isinstance(market.book, BookView)
    for protocol, obj in ((Market, market), (BookView, market.book)):
        for name, spec in _members(protocol).items():
            if isinstance(spec, property):
                getattr(obj, name)  # readable
                continue
            if not callable(spec):
                continue
            mine = list(inspect.signature(getattr(type(obj), name)).parameters)
            wanted = list(inspect.signature(spec).parameters)
            assert mine == wanted, f"{type(obj).__name__}.{name}{mine} differs from the protocol's {wanted}"


@pytest.mark.parametrize("kind", ["simulator", "replay"])
def test_a_step_through_the_protocol_trades_and_reports(markets, kind):
    market: Market = markets[kind]
    t0 = market.time_s
    fills = market.submit_market("buy", 100)
    assert fills["size_shares"].sum() == 100 and (fills["price_ticks"] > 0).all()
    report = market.advance(5.0)
    assert report.t_start_s == pytest.approx(t0) and report.t_end_s == pytest.approx(t0 + 5.0)
    assert market.time_s == pytest.approx(t0 + 5.0)


def test_a_market_without_advance_is_not_a_market():
    class NoAdvance:
        book = None
        time_s = 0.0
        reference_ticks = 0.0

        def submit_market(self, side, size_shares): ...

    assert not isinstance(NoAdvance(), Market)
