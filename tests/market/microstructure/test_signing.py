"""Trade signing: tick rule, quote rule and Lee-Ready against known signs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from execgym.envs.market.analysis.microstructure.frames import executions
from execgym.envs.market.analysis.microstructure.signing import (
    lee_ready,
    quote_rule,
    sign_trades,
    signing_accuracy,
    tick_rule,
)
from execgym.envs.market.data.lobster import replay_lobster
from execgym.envs.market.data.lobster_data import LobsterDay


def test_tick_rule_carries_the_last_price_change_over_zero_ticks():
    assert tick_rule([10, 11, 11, 10, 10, 12, 12]).tolist() == [0, 1, 1, -1, -1, 1, 1]
    assert tick_rule([5, 5, 4]).tolist() == [0, 0, -1]  # unclassified until the first change


def test_quote_rule_and_lee_ready_fall_back_to_the_tick_rule_at_the_midpoint():
    prices = np.array([101.0, 99.0, 100.0, 100.5, 100.0, 100.0])
    bid = np.full(6, 99.0)
    ask = np.full(6, 101.0)
    assert quote_rule(prices, bid, ask).tolist() == [1, -1, 0, 1, 0, 0]
    # midpoint trades: 100 after 99 is an uptick (buy); 100 after 100.5 a downtick (sell), then zero tick
    assert lee_ready(prices, bid, ask).tolist() == [1, -1, 1, 1, -1, -1]
    # no two-sided quote: the tick rule decides
    assert lee_ready([10.0, 11.0], [np.nan, np.nan], [12.0, 12.0]).tolist() == [0, 1]


def test_bad_input_is_refused_with_a_message():
    with pytest.raises(ValueError, match="differ in length"):
        quote_rule([1.0, 2.0], [1.0], [2.0, 3.0])
    with pytest.raises(ValueError, match="one-dimensional"):
        tick_rule(np.ones((2, 2)))
    with pytest.raises(ValueError, match="finite"):
        tick_rule([1.0, np.nan])
    with pytest.raises(ValueError, match="rule must be one of"):
        sign_trades(_tiny_day(), rule="coin")


def _tiny_day() -> LobsterDay:
    """Bid 99.00 (500), ask 101.00 (500); a buy and a sell at the quotes, hidden trades at the mid."""
    rows = [  # time, type, id, size, price, direction
        (1.0, 1, 1, 500, 990000, 1), (1.1, 1, 2, 500, 1010000, -1),
        (2.0, 4, 2, 100, 1010000, -1),   # a buyer lifts the ask
        (3.0, 4, 1, 100, 990000, 1),     # a seller hits the bid
        (4.0, 5, 0, 50, 1000000, -1),    # hidden sell order at the mid, hit by a buyer (uptick from 99)
        (5.0, 5, 0, 50, 1000000, 1),     # hidden buy order at the mid, hit by a seller (zero tick: wrong)
    ]
    m = pd.DataFrame(rows, columns=["time_s", "type", "order_id", "size_shares", "price", "direction"])
    ob = np.array([[9_999_999_999, 0, 990000, 500], [1010000, 500, 990000, 500], [1010000, 400, 990000, 500],
                   [1010000, 400, 990000, 400], [1010000, 400, 990000, 400], [1010000, 400, 990000, 400]])
    return LobsterDay(m, ob, name="tiny")


def test_signing_accuracy_on_a_hand_built_day_with_known_signs():
    day = _tiny_day()
    ex = executions(day)
    assert ex["sign"].tolist() == [1, -1, 1, -1]
    assert sign_trades(day, "lee_ready")["signed"].tolist() == [1, -1, 1, 1]
    acc = signing_accuracy(day).set_index(["rule", "subset"])
    assert acc.loc[("lee_ready", "visible"), "accuracy"] == 1.0
    assert acc.loc[("lee_ready", "hidden"), "accuracy"] == 0.5
    assert acc.loc[("lee_ready", "all"), "buy_recall"] == 1.0
    assert acc.loc[("lee_ready", "all"), "sell_recall"] == 0.5
    assert acc.loc[("quote", "hidden"), "classified_frac"] == 0.0


def test_on_a_simulated_day_lee_ready_is_exact_and_the_tick_rule_is_informative(sim_day):
    # every simulated trade executes at the touch: the quote rule knows both sides exactly
    acc = signing_accuracy(sim_day).set_index(["rule", "subset"])
    lr = acc.loc[("lee_ready", "all")]
    assert lr["n"] > 500 and lr["buy_recall"] == 1.0 and lr["sell_recall"] == 1.0
    tick = acc.loc[("tick", "all")]
    assert 0.55 < tick["accuracy"] < lr["accuracy"] == 1.0
    assert tick["buy_recall"] > 0.5 and tick["sell_recall"] > 0.5
    # a stale quote can only lose information
    lagged = signing_accuracy(sim_day, quote_lag_s=5.0).set_index(["rule", "subset"])
    assert lagged.loc[("lee_ready", "all"), "accuracy"] < 1.0


def test_simulated_day_replays_exactly_as_a_lobster_file(sim_day):
    _, report = replay_lobster(sim_day.messages, sim_day.orderbook)
    assert report.mismatched_rows == 0


def test_on_amzn_lee_ready_beats_the_tick_rule_and_signs_visible_trades_exactly(amzn_day):
    acc = signing_accuracy(amzn_day).set_index(["rule", "subset"])
    assert acc.loc[("lee_ready", "visible"), "accuracy"] > 0.999
    assert acc.loc[("lee_ready", "all"), "accuracy"] > acc.loc[("tick", "all"), "accuracy"] + 0.05


def test_mirrored_day_swaps_buy_and_sell_recall(sim_day):
    from execgym.envs.market.analysis.microstructure.frames import mirror_day

    a = signing_accuracy(sim_day).set_index(["rule", "subset"])
    b = signing_accuracy(mirror_day(sim_day)).set_index(["rule", "subset"])
    assert b.loc[("tick", "all"), "buy_recall"] == pytest.approx(a.loc[("tick", "all"), "sell_recall"])
    assert b.loc[("tick", "all"), "sell_recall"] == pytest.approx(a.loc[("tick", "all"), "buy_recall"])
    assert b.loc[("tick", "all"), "accuracy"] == pytest.approx(a.loc[("tick", "all"), "accuracy"])
