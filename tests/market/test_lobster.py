"""LOBSTER files: loading, conversion to book events, and replay against the recorded book."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from execgym.envs.market.data.lobster import messages_to_events, read_messages, read_orderbook, replay_lobster
from execgym.envs.market.data.lobster_data import default_lobster_dir
from execgym.envs.market.simulation.book import EV_CANCEL, EV_EXECUTE, EV_LIMIT, OrderBook

DATA = default_lobster_dir()
SAMPLES = {
    "AMZN": ("AMZN_2012-06-21_34200000_57600000_message_1.csv", "AMZN_2012-06-21_34200000_57600000_orderbook_1.csv", 1),
    "GOOG": ("GOOG_2012-06-21_34200000_57600000_message_10.csv", "GOOG_2012-06-21_34200000_57600000_orderbook_10.csv", 10),
}


@pytest.mark.parametrize("ticker", sorted(SAMPLES))
def test_replay_reproduces_every_recorded_level(ticker):
    msg_file, book_file, levels = SAMPLES[ticker]
    messages = read_messages(DATA / msg_file)
    orderbook = read_orderbook(DATA / book_file, levels)
    book, report = replay_lobster(messages, orderbook)
    assert report.rows_compared == len(messages) - 1
    present = (orderbook[1:, 0::4] != 9_999_999_999).sum() + (orderbook[1:, 2::4] != -9_999_999_999).sum()
    assert report.levels_compared == present
    assert report.mismatched_levels == 0 and report.mismatched_rows == 0, report.mismatch_examples
    # what the data cannot explain stays a small part of the day
    assert report.reconciled_levels < 0.2 * len(messages)
    # the final book is the last recorded row
    bp, bs, ap, as_ = book.depth(levels)
    last = orderbook[-1]
    assert (ap * 100).tolist() == last[0::4].tolist() and as_.tolist() == last[1::4].tolist()
    assert (bp * 100).tolist() == last[2::4].tolist() and bs.tolist() == last[3::4].tolist()
    book.check_invariants()


def test_messages_convert_to_book_events():
    messages = read_messages(DATA / SAMPLES["GOOG"][0])
    assert list(messages.dtypes) == [np.float64] + [np.int64] * 5
    events = messages_to_events(messages)
    book_changing = messages["type"].between(1, 4)
    assert len(events) == book_changing.sum()
    kinds = messages.loc[book_changing, "type"].to_numpy()
    assert np.array_equal(events[:, 0] == EV_LIMIT, kinds == 1)
    assert np.array_equal(events[:, 0] == EV_EXECUTE, kinds == 4)
    assert np.array_equal(events[:, 0] == EV_CANCEL, np.isin(kinds, (2, 3)))
    assert np.all(events[kinds == 3, 4] == 0)  # deletions remove the whole order
    # replaying them in one call: orders that predate the file are counted, not errors
    book = OrderBook(log_events=False, skip_unknown_ids=True)
    book.process(events)
    assert book.n_skipped > 0 and book.n_events == len(events)
    book.check_invariants()


def test_malformed_files_name_file_and_row(tmp_path):
    bad_type = tmp_path / "bad_type.csv"
    bad_type.write_text("34200.1,1,5,100,5794000,1\n34200.2,9,5,100,5794000,1\n")
    with pytest.raises(ValueError, match=r"bad_type.csv: row 2 has unknown event type 9"):
        read_messages(bad_type)
    bad_dir = tmp_path / "bad_dir.csv"
    bad_dir.write_text("34200.1,1,5,100,5794000,0\n")
    with pytest.raises(ValueError, match=r"bad_dir.csv: row 1 has direction 0"):
        read_messages(bad_dir)
    garbage = tmp_path / "garbage.csv"
    garbage.write_text("34200.1,1,five,100,5794000,1\n")
    with pytest.raises(ValueError, match="garbage.csv"):
        read_messages(garbage)
    book = tmp_path / "book.csv"
    book.write_text("5802300,100,5794000,496,5804300\n")
    with pytest.raises(ValueError, match="multiple of 4"):
        read_orderbook(book)


def test_replay_refuses_mismatched_files():
    messages = pd.DataFrame({"time_s": [1.0], "type": [1], "order_id": [1], "size_shares": [1],
                             "price": [100], "direction": [1]})
    with pytest.raises(ValueError, match="differ in length"):
        replay_lobster(messages, np.zeros((2, 4), dtype=np.int64))


def test_off_grid_prices_are_refused():
    messages = pd.DataFrame({"time_s": [1.0], "type": [1], "order_id": [1], "size_shares": [1],
                             "price": [5794050], "direction": [1]})
    with pytest.raises(ValueError, match="tick grid"):
        messages_to_events(messages)
