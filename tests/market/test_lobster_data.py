"""The LOBSTER loader (typed frames, chunks, errors) and the views derived from it, on known answers."""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from execgym.envs.market.data.lobster import read_messages, read_orderbook, replay_lobster
from execgym.envs.market.data.lobster_data import (
    EVENT_TYPES,
    LobsterDay,
    l2_snapshots,
    load_lobster,
    quotes,
    trades,
    units_per_tick,
    volume_profile,
)
from tests.market.test_lobster import DATA, SAMPLES

# a hand-built two-level day: prices in dollars x 10000, one-cent ticks
MESSAGES = """\
34200.000000001,1,1,100,1000000,1
34200.5,1,2,200,1000100,-1
34201.0,1,3,50,999900,1
34202.0,4,2,80,1000100,-1
34203.25,5,0,30,1000050,1
34205.0,2,1,40,1000000,1
34206.0,3,3,50,999900,1
34207.0,4,2,120,1000100,-1
"""
# the book (2 levels) after each message
BOOK = """\
9999999999,0,1000000,100,9999999999,0,-9999999999,0
1000100,200,1000000,100,9999999999,0,-9999999999,0
1000100,200,1000000,100,9999999999,0,999900,50
1000100,120,1000000,100,9999999999,0,999900,50
1000100,120,1000000,100,9999999999,0,999900,50
1000100,120,1000000,60,9999999999,0,999900,50
1000100,120,1000000,60,9999999999,0,-9999999999,0
9999999999,0,1000000,60,9999999999,0,-9999999999,0
"""


@pytest.fixture
def day_files(tmp_path):
    msg = tmp_path / "TEST_2012-06-21_34200000_57600000_message_2.csv"
    book = tmp_path / "TEST_2012-06-21_34200000_57600000_orderbook_2.csv"
    msg.write_text(MESSAGES)
    book.write_text(BOOK)
    return msg, book


def test_columns_are_typed_with_units(day_files):
    day = load_lobster(*day_files)
    m = day.messages
    assert day.date == dt.date(2012, 6, 21) and day.levels == 2 and day.tick_size_usd == 0.01
    assert m["time_s"].dtype == np.float64 and m["size_shares"].dtype == np.int64
    assert str(m["timestamp"].dt.tz) == "America/New_York"
    assert m["timestamp"].iloc[1] == pd.Timestamp("2012-06-21 09:30:00.5", tz="America/New_York")
    assert isinstance(m["event_type"].dtype, pd.CategoricalDtype)
    assert list(m["event_type"].cat.categories) == list(EVENT_TYPES.values())
    assert m["event_type"].tolist()[:5] == ["submission", "submission", "submission", "execution_visible",
                                            "execution_hidden"]
    assert m["price_ticks"].tolist()[:5] == [10000, 10001, 9999, 10001, 10000.5]  # hidden trade at half a tick
    assert m["price_usd"].iloc[1] == pytest.approx(100.01)
    book = day.orderbook_frame
    assert book["ask_price_ticks_1"].tolist()[:2] == [0, 10001]  # empty level: price 0, size 0
    assert book["bid_price_ticks_2"].tolist()[2] == 9999 and book["bid_size_shares_2"].tolist()[2] == 50
    assert all(book[c].dtype == np.int64 for c in book.columns if c != "time_s")


def test_chunked_reading_gives_the_same_frames_with_a_progress_bar(day_files, capsys):
    whole = load_lobster(*day_files)
    chunked = load_lobster(*day_files, chunk_rows=3, progress=True)
    pd.testing.assert_frame_equal(whole.messages, chunked.messages)
    assert np.array_equal(whole.orderbook, chunked.orderbook)
    assert "TEST_2012-06-21" in capsys.readouterr().err  # tqdm writes its bar to stderr


def test_any_level_count(tmp_path):
    msg = tmp_path / "X_2020-01-02_message_3.csv"
    msg.write_text("34200.1,1,7,10,500000,-1\n")
    book = tmp_path / "X_2020-01-02_orderbook_3.csv"
    book.write_text("500000,10,-9999999999,0,9999999999,0,-9999999999,0,9999999999,0,-9999999999,0\n")
    day = load_lobster(msg, book)
    assert day.levels == 3 and day.orderbook_frame.shape == (1, 13)


@pytest.mark.parametrize("text, row, match", [
    ("34200.1,1,5,100,5794000,1\n34200.2,9,5,100,5794000,1\n", 2, "unknown event type 9"),
    ("34200.1,1,5,100,5794000,1\n34200.2,1,5,100,5794000,0\n", 2, "direction 0"),
    ("34200.1,1,5,100,5794000,1\n34200.2,1,five,100,5794000,1\n", 2, "column 3: 'five' is not an integer"),
    ("34200.1,1,5,100,5794000,1\n34200.2,1,5,100,5794000\n", 2, "column 6: a field is missing"),
    ("34200.1,1,5,100,5794000,1\n34200.2,1,5,100,5794000,1,3\n", 2, "does not have 6 fields"),
    ("34200.1,1,5,100.5,5794000,1\n", 1, "column 4: '100.5' is not an integer"),
    ("34200.1,1,5,0,5794000,1\n", 1, "column size_shares: 0 is not a positive size"),
    ("34200.1,1,5,-100,5794000,1\n", 1, "column size_shares: -100 is not a positive size"),
    ("34200.1,1,5,100,-5794000,1\n", 1, "column price: -5794000 is not a positive price"),
    ("34200.1,1,5,100,5794000,1\ninf,1,6,100,5794000,1\n", 2, "column time_s: inf is not a finite time"),
    ("34200.1,1,5,100,5794000,1\n99999.0,1,6,100,5794000,1\n", 2, "outside the session"),
    ("34200.1,1,9223372036854775808,100,5794000,1\n", 1, "column 3: 9223372036854775808 is outside the 64-bit"),
    ("34200.1,1,-4,100,5794000,1\n", 1, "column order_id: -4 is not a valid"),
    ("34200.1,1,5,100,5794050,1\n", 1, "not on the tick grid"),
    ("34200.2,1,5,100,5794000,1\n34200.1,1,6,100,5794000,1\n", 2, "goes back in time"),
])
def test_malformed_rows_name_the_file_and_row(tmp_path, text, row, match):
    path = tmp_path / "BAD_2012-06-21_message_1.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=rf"BAD_2012-06-21_message_1.csv: row {row} .*{match}"):
        load_lobster(path, chunk_rows=1)


def test_mismatched_row_counts_name_the_files_and_row(day_files, tmp_path):
    msg, _ = day_files
    short = tmp_path / "short_orderbook.csv"
    short.write_text("\n".join(BOOK.splitlines()[:5]) + "\n")
    with pytest.raises(ValueError, match=r"short_orderbook.csv has 5 rows but .*message_2.csv has 8: row 6 of"):
        load_lobster(msg, short)
    odd = tmp_path / "odd_orderbook.csv"
    odd.write_text("1,2,3\n" * 8)
    with pytest.raises(ValueError, match="not a multiple of 4"):
        load_lobster(msg, odd)


@pytest.mark.parametrize("row_text, match", [
    ("5794100,100,5794000,-5", "column 4: -5 is a negative size"),
    ("5794100,-1,5794000,200", "column 2: -1 is a negative size"),
    ("-5794100,100,5794000,200", "column 1: -5794100 is not a positive price"),
    ("5794000,100,5794100,200", "is crossed: best ask 5794000 <= best bid 5794100"),
    ("5794000,100,5794000,200", "is crossed"),
])
def test_corrupt_order_books_name_the_file_row_and_column(tmp_path, row_text, match):
    path = tmp_path / "B_2012-06-21_orderbook_1.csv"
    path.write_text("5794100,100,5794000,200\n" + row_text + "\n")
    with pytest.raises(ValueError, match=rf"B_2012-06-21_orderbook_1.csv: row 2 {match}"):
        read_orderbook(path)


def test_an_empty_level_keeps_its_placeholder_price(tmp_path):
    path = tmp_path / "E_2012-06-21_orderbook_1.csv"
    path.write_text("9999999999,0,5794000,200\n5794100,100,-9999999999,0\n")
    assert read_orderbook(path).shape == (2, 4)


def test_ids_above_2_to_the_53_are_read_exactly():
    big = 2**53 + 1  # a float64 would round it to 2**53
    text = f"34200.1,1,{big},100,5794000,1\n34200.2,1,{2**63 - 1},100,5794000,1\n"
    path = Path(tempfile.mkdtemp()) / "ID_2012-06-21_message_1.csv"
    path.write_text(text)
    ids = read_messages(path)["order_id"].tolist()
    assert ids == [big, 2**63 - 1] and load_lobster(path).messages["order_id"].tolist() == ids


@pytest.mark.parametrize("content", [bytes(range(256)) * 4, "34200.1,1,5,100,5794000,1\n".encode() + b"\xff\xfe\n",
                                     b"\xfd7zXZ\x00 truncated xz"])
def test_binary_or_non_text_input_is_a_clear_error_naming_the_file(tmp_path, content):
    path = tmp_path / ("X_2012-06-21_message_1.csv" + (".xz" if content.startswith(b"\xfd7z") else ""))
    path.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(path.name)):
        read_messages(path)


def test_trades_quotes_and_snapshots_on_known_answers(day_files):
    day = load_lobster(*day_files)
    t = trades(day.messages)
    assert t.index.tolist() == [3, 4, 7]
    assert t["size_shares"].tolist() == [80, 30, 120]
    assert t["aggressor_side"].tolist() == [1, -1, 1]  # executing a sell order is a buy trade
    assert t["hidden"].tolist() == [False, True, False]
    assert t["price_usd"].tolist() == pytest.approx([100.01, 100.005, 100.01])

    q = quotes(day)
    assert q.index.tolist() == [0, 1, 3, 5, 7]  # rows where the touch changed
    assert q["ask_size_shares"].tolist() == [0, 200, 120, 120, 0]
    assert q["bid_size_shares"].tolist() == [100, 100, 100, 60, 60]
    assert np.isnan(q["mid_usd"].iloc[0]) and q["mid_usd"].iloc[1] == pytest.approx(100.005)
    assert q["spread_ticks"].iloc[1] == 1.0

    snaps = l2_snapshots(day, interval_s=2.0, start_s=34200.0, end_s=34206.0)
    # 34200.0 precedes the first message; 34202 is after message 3 (row 3), 34204 row 4, 34206 row 6
    assert snaps.index.tolist() == [34202.0, 34204.0, 34206.0]
    assert snaps["ask_size_shares_1"].tolist() == [120, 120, 120]
    assert snaps["bid_size_shares_1"].tolist() == [100, 100, 60]
    assert snaps["bid_price_ticks_2"].tolist() == [9999, 9999, 0]
    assert np.isnan(snaps["bid_price_usd_2"].iloc[2])


def test_volume_profile_sums_to_one_and_buckets_trades(day_files):
    t = trades(load_lobster(*day_files).messages)
    prof = volume_profile(t, bucket_s=4.0, start_s=34200.0, end_s=34210.0)
    assert prof["start_s"].tolist() == [34200.0, 34204.0, 34208.0]
    assert prof["end_s"].tolist() == [34204.0, 34208.0, 34210.0]
    assert prof["volume_shares"].tolist() == [110, 120, 0]
    assert prof["volume_frac"].sum() == pytest.approx(1.0)
    assert prof["vwap_usd"].iloc[0] == pytest.approx((80 * 100.01 + 30 * 100.005) / 110)
    visible = volume_profile(t, 4.0, 34200.0, 34210.0, include_hidden=False)
    assert visible["volume_shares"].tolist() == [80, 120, 0]
    with pytest.raises(ValueError, match="end_s must be > start_s"):
        volume_profile(t, 4.0, 10.0, 10.0)


@pytest.mark.parametrize("ticker", sorted(SAMPLES))
def test_loader_reads_the_sample_as_the_replay_reader_does(ticker):
    msg_file, book_file, levels = SAMPLES[ticker]
    day = load_lobster(DATA / msg_file, DATA / book_file)
    old = read_messages(DATA / msg_file)
    pd.testing.assert_frame_equal(day.messages[list(old.columns)], old)
    assert np.array_equal(day.orderbook, read_orderbook(DATA / book_file, levels))
    if ticker == "AMZN":  # the faster replay: the loaded frames go straight into replay_lobster
        _, report = replay_lobster(day.messages, day.orderbook)
        assert report.mismatched_levels == 0 and report.rows_compared == len(day.messages) - 1


def test_one_day_shape_for_loaded_and_hand_built_days(day_files):
    """A day built from the six raw columns gives the loader's book levels, mid and durations."""
    loaded = load_lobster(*day_files, start_s=34_200.0, end_s=34_210.0)
    built = LobsterDay(read_messages(day_files[0]), read_orderbook(day_files[1]), start_s=34_200.0, end_s=34_210.0)
    for a, b in zip(loaded.book_levels(), built.book_levels(), strict=True):
        np.testing.assert_array_equal(a, b)
    s = built.book_levels()
    assert s.ask_price_ticks[:, 0].tolist() == [0, 10001, 10001, 10001, 10001, 10001, 10001, 0]
    assert s.bid_ok[:, 1].tolist() == [False, False, True, True, True, True, False, False]
    mid = built.mid_ticks()
    assert np.isnan(mid[0]) and np.isnan(mid[7]) and mid[1] == 10000.5
    np.testing.assert_array_equal(mid, loaded.mid_ticks())
    some = np.array([6, 1, 2, 0])  # a sample of the rows, in any order: their levels and mids only
    for part, whole in zip(built.book_levels(some), s, strict=True):
        np.testing.assert_array_equal(part, whole[some])
    np.testing.assert_array_equal(built.mid_ticks(some), mid[some])
    # how long each book lasted, the last one until the session's end
    assert built.durations_s() == pytest.approx([0.5, 0.5, 1.0, 1.25, 1.75, 1.0, 1.0, 3.0])
    assert loaded.duration_s == 10.0 and loaded.tick_size_usd == 0.01 and loaded.name == day_files[0].name
    assert loaded.orderbook_frame["bid_size_shares_1"].tolist() == s.bid_size_shares[:, 0].tolist()


def test_a_day_without_its_book_and_bad_days_are_refused_naming_the_value(day_files):
    messages_only = load_lobster(day_files[0])
    assert messages_only.orderbook is None
    with pytest.raises(ValueError, match="has no order book"):
        messages_only.book_levels()
    m = read_messages(day_files[0])
    with pytest.raises(TypeError, match="DataFrame, got ndarray"):
        LobsterDay(m.to_numpy())
    with pytest.raises(ValueError, match=r"end_s=34200.0 must be > start_s=34300.0"):
        LobsterDay(m, start_s=34_300.0, end_s=34_200.0)
    with pytest.raises(ValueError, match="price_units_per_tick"):
        LobsterDay(m, price_units_per_tick=0)
    with pytest.raises(ValueError, match=r"shape \(n, 4 \* levels\), got \(8, 6\)"):
        LobsterDay(m, np.zeros((8, 6), dtype=np.int64))
    back = m.iloc[[0, 2, 1]].reset_index(drop=True)
    with pytest.raises(ValueError, match="message 2 at 34200.5 s follows 34201.0 s"):
        LobsterDay(back)
    with pytest.raises(ValueError, match="tick_size=0.00015"):
        units_per_tick(0.00015)
    assert units_per_tick(0.01) == 100 and units_per_tick(0.0001) == 1
