"""The replay market: the queue model of a passive agent order and the matching of its orders
against a recorded day, on hand-built message streams with known answers."""

from __future__ import annotations

import pytest

from execgym.envs.market.data.lobster_data import load_lobster
from execgym.envs.market.data.replay import AHEAD, BEHIND, UNKNOWN, QueuePosition, ReplayDay, ReplayMarket

_NO_ASK, _NO_BID = "9999999999,0", "-9999999999,0"


def _day(tmp_path, rows):
    """A one-level day from ``(message, (ask price, ask size, bid price, bid size))`` rows; message
    ``k`` at time 34200 + k seconds, prices in dollars x 10000."""
    msg = tmp_path / "T_2012-06-21_message_1.csv"
    book = tmp_path / "T_2012-06-21_orderbook_1.csv"
    msg.write_text("".join(f"{34200 + k},{m}\n" for k, (m, _) in enumerate(rows)))
    book.write_text("".join(f"{b}\n" for _, b in rows))
    return ReplayDay.from_lobster(load_lobster(msg, book))


def _book(ask_px, ask_sz, bid_px, bid_sz):
    ask = f"{ask_px},{ask_sz}" if ask_sz else _NO_ASK
    bid = f"{bid_px},{bid_sz}" if bid_sz else _NO_BID
    return f"{ask},{bid}"


A, B = 1_000_100, 1_000_000  # ask 100.01, bid 100.00 (ticks 10001, 10000)


def test_queue_position_rules():
    q = QueuePosition(ahead_shares=100, size_shares=50)
    q.on_submission(300)
    assert (q.ahead, q.behind) == (100, 300)
    q.on_cancellation(40, UNKNOWN)  # proportional: 100/400 of it from ahead
    assert (q.ahead, q.behind) == (90, 270)
    q.on_cancellation(20, AHEAD)
    q.on_cancellation(70, BEHIND)
    assert (q.ahead, q.behind) == (70, 200)
    assert q.on_execution(60) == 0 and q.ahead == 10
    assert q.on_execution(30) == 20 and q.remaining == 30 and q.behind == 200  # 10 ahead, then the agent
    assert q.on_execution(100) == 30 and q.remaining == 0 and q.behind == 130
    q = QueuePosition(ahead_shares=40, size_shares=50)  # 40 ahead, say, left over from estimates
    assert q.on_execution(30, nothing_ahead=True) == 30 and q.ahead == 0  # e.g. an order behind traded
    with pytest.raises(ValueError, match="size_shares"):
        QueuePosition(0, 0)


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_passive_order_waits_for_the_recorded_volume_ahead(tmp_path, side):
    """Bought at the bid (or sold at the ask): no fill until the 150 shares ahead have traded or
    been cancelled; then the execution of an order that queued behind it fills the agent."""
    s = 1 if side == "buy" else -1
    own, other = (B, A) if s == 1 else (A, B)

    def bk(own_sz, other_sz=200):
        return _book(other, other_sz, own, own_sz) if s == 1 else _book(own, own_sz, other, other_sz)

    rows = [
        (f"1,1,100,{own},{s}", bk(100, 0)),
        (f"1,2,200,{other},{-s}", bk(100)),
        (f"1,3,50,{own},{s}", bk(150)),      # the agent joins after this row: 150 ahead
        (f"1,4,70,{own},{s}", bk(220)),      # behind
        (f"4,1,60,{own},{s}", bk(160)),      # 60 of the 150 ahead trade
        (f"3,4,70,{own},{s}", bk(90)),       # the order behind leaves: nothing changes ahead
        (f"3,3,50,{own},{s}", bk(40)),       # an order ahead leaves
        (f"4,1,40,{own},{s}", bk(0)),        # the last 40 ahead trade
        (f"1,5,30,{own},{s}", bk(30)),       # behind
        (f"4,5,30,{own},{s}", bk(0)),        # FIFO: this trade reaches the agent first
        (f"1,6,10,{own},{s}", bk(10)),
    ]
    day = _day(tmp_path, rows)
    market = ReplayMarket(day, start_row=3)
    price = own // 100
    oid, fills = market.submit_limit(side, price, 25)
    assert len(fills) == 0 and market.book.order(oid).queue_ahead_shares == 150
    ahead, filled = [], []
    for _ in range(7):
        report = market.advance(1.0)
        filled.append(report.agent_volume_shares)
        ahead.append(market.book.order(oid).queue_ahead_shares if oid in market.book else None)
    # after rows 3..9: behind joins, 60 trade, behind leaves, 50 ahead leave, 40 trade, 30 join behind, 30 trade
    assert ahead == [150, 90, 90, 40, 0, 0, None]
    assert filled == [0, 0, 0, 0, 0, 0, 25]
    assert report.agent_fills["price_ticks"].tolist() == [price]
    assert report.agent_fills["aggressor_side"].tolist() == [-s]
    # the market's volume is the recorded one: 60 + 40 + 30 over the seven seconds
    assert report.volume_shares == 30


def test_unknown_cancellations_are_proportional_and_fifo_settles_estimates(tmp_path):
    rows = [
        (f"1,2,200,{A},-1", _book(A, 200, B, 400)),  # 400 on the bid predate the file (unknown origin)
        (f"1,9,100,{B},1", _book(A, 200, B, 500)),   # the agent joins after this: 500 ahead
        (f"1,10,300,{B},1", _book(A, 200, B, 800)),  # 300 behind
        (f"2,77,160,{B},1", _book(A, 200, B, 640)),  # unknown order: 500/800 of 160 = 100 from ahead
        (f"4,9,50,{B},1", _book(A, 200, B, 590)),    # order 9 (ahead) trades 50
        (f"4,10,20,{B},1", _book(A, 200, B, 570)),   # order 10, behind the agent, trades: FIFO says the
    ]                                                # 350 estimated ahead are gone; the agent fills 20
    market = ReplayMarket(_day(tmp_path, rows), start_row=2)
    market.submit_limit("buy", B // 100, 100)
    market.advance(2.0)
    q = market._order
    assert (q.ahead, q.behind) == (400, 240)
    report = market.advance(1.0)
    assert report.agent_volume_shares == 0 and q.ahead == 350
    report = market.advance(1.0)
    assert report.agent_volume_shares == 20 and q.ahead == 0 and q.remaining == 80


def test_a_trade_through_the_agents_price_fills_it(tmp_path):
    rows = [
        (f"1,2,200,{A + 100},-1", _book(A + 100, 200, B, 300)),
        (f"4,5,300,{B},1", _book(A + 100, 200, 0, 0)),      # the bid at 100.00 trades away
    ]
    market = ReplayMarket(_day(tmp_path, rows), start_row=1)
    market.submit_limit("buy", A // 100, 120)  # 100.01, better than the bid: nobody ahead
    report = market.advance(1.0)
    # price priority: a sell that traded at 100.00 would have met the agent's 100.01 first
    assert report.agent_volume_shares == 120 and report.agent_fills["price_ticks"].tolist() == [A // 100]


def test_market_orders_walk_the_book_and_hide_what_they_took(tmp_path):
    rows = [
        (f"1,2,200,{A},-1", _book(A, 200, B, 100)),
        (f"1,3,300,{B},1", _book(A, 200, B, 400)),
        (f"4,2,100,{A},-1", _book(A, 100, B, 400)),   # recorded trade at the ask: removes hidden first
        (f"1,4,80,{A},-1", _book(A, 180, B, 400)),
        (f"3,2,100,{A},-1", _book(A, 80, B, 400)),
        (f"3,4,80,{A},-1", _book(0, 0, B, 400)),      # the level empties: nothing left to hide
        (f"1,5,60,{A},-1", _book(A, 60, B, 400)),
    ]
    market = ReplayMarket(_day(tmp_path, rows), start_row=2)
    fills = market.submit_market("buy", 150)
    assert fills["size_shares"].tolist() == [150] and fills["price_ticks"].tolist() == [A // 100]
    assert market.book.volume_at(-1, A // 100) == 50           # 200 recorded, 150 hidden
    assert market.submit_market("buy", 500)["size_shares"].tolist() == [50]  # the visible rest only
    assert market.book.best_ask is None
    market.advance(1.0)   # row 2: a recorded trade of 100: 200 hidden -> 100
    assert market._hidden == {(-1, A // 100): 100} and market.book.volume_at(-1, A // 100) == 0
    market.advance(1.0)   # row 3: +80 recorded -> 180, view 80
    assert market.book.volume_at(-1, A // 100) == 80
    market.advance(1.0)   # row 4: deletion of 100 of 180: 100 * 100/180 = 56 hidden removed
    assert market._hidden == {(-1, A // 100): 44}
    market.advance(1.0)   # row 5: the level empties
    assert market._hidden == {}
    market.advance(1.0)   # row 6: a new order, all visible
    assert market._hidden == {} and market.book.volume_at(-1, A // 100) == 60


def test_a_crossing_recorded_order_fills_the_resting_agent(tmp_path):
    rows = [
        (f"1,2,200,{A + 100},-1", _book(A + 100, 200, B, 100)),  # spread 2 ticks
        (f"1,3,300,{A},-1", _book(A, 300, B, 100)),              # a sell at 100.01: crosses the agent's bid
    ]
    market = ReplayMarket(_day(tmp_path, rows), start_row=1)
    oid, fills = market.submit_limit("buy", A // 100, 120)  # inside the spread: nobody ahead
    assert len(fills) == 0 and market.book.order(oid).queue_ahead_shares == 0
    report = market.advance(1.0)
    assert report.agent_volume_shares == 120 and oid not in market.book
    assert report.volume_shares == 120  # a trade the record does not have
    assert market.book.volume_at(-1, A // 100) == 180


def test_bad_arguments_are_refused(tmp_path):
    market = ReplayMarket(_day(tmp_path, [(f"1,2,200,{A},-1", _book(A, 200, B, 0))] * 2), start_row=1)
    with pytest.raises(ValueError, match="start_row"):
        market.reset(5)
    with pytest.raises(ValueError, match="side"):
        market.submit_market("hold", 10)
    with pytest.raises(ValueError, match="size_shares"):
        market.submit_market("buy", 0)
    market.submit_limit("buy", 9000, 10)
    with pytest.raises(ValueError, match="already has a resting order"):
        market.submit_limit("buy", 9000, 10)
    with pytest.raises(ValueError, match="not a resting order"):
        market.cancel(99)


def test_modify_keeps_the_place_on_a_cut_and_requeues_on_growth(tmp_path):
    rows = [
        (f"1,2,200,{A},-1", _book(A, 200, B, 100)),
        (f"4,1,60,{B},1", _book(A, 200, B, 40)),    # 60 of the 100 ahead trade
        (f"1,3,30,{B},1", _book(A, 200, B, 70)),
    ]
    market = ReplayMarket(_day(tmp_path, rows), start_row=1)
    oid, _ = market.submit_limit("buy", B // 100, 50)
    market.advance(1.0)
    assert market.book.order(oid).queue_ahead_shares == 40
    market.modify(oid, size_shares=30)            # a cut keeps the place
    assert market.book.order(oid).queue_ahead_shares == 40 and market.book.order(oid).size_shares == 30
    market.advance(1.0)                           # 30 join behind
    market.modify(oid, size_shares=80)            # growth: to the back, behind the recorded 70
    order = market.book.order(oid)
    assert order.order_id == oid and order.size_shares == 80 and market._order.ahead == 70
    market.cancel(oid, 20)
    assert market.book.order(oid).size_shares == 60
    market.cancel(oid)
    assert oid not in market.book
