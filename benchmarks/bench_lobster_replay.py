"""LOBSTER messages replayed per second through the order book, against reading the file with pandas.

    python benchmarks/bench_lobster_replay.py [--repeats 3] [--checked]

For each shared sample file (GOOG 10 levels, AMZN 1 level, 2012-06-21), measured in the
same run (best of ``--repeats``):

* ``pandas read``: ``pd.read_csv`` of the message file alone, the reference;
* ``load_lobster``: the typed loader (:func:`execgym.envs.market.data.lobster_data.load_lobster`) on the
  message file (timestamps, categoricals, checks);
* ``book replay``: ``messages_to_events`` + ``OrderBook.process`` in one compiled call
  (replay mode: messages about orders that predate the file are skipped), messages/s;
* ``LOBReplay-v0``: decision steps per second of the replay environment on the GOOG day
  (1-second decisions, a 1%-of-remaining market order each);
* with ``--checked``, also ``replay_lobster``: the replay that reconciles liquidity the
  file cannot explain and compares every level of every order-book row (a Python loop).

Ratios are replay time over pandas read time of the same file.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import best_time, machine  # noqa: E402
from execgym.envs.lob_replay import LOBReplayEnv  # noqa: E402
from execgym.envs.market.data.lobster import messages_to_events, read_orderbook, replay_lobster, resolve_lobster_file  # noqa: E402
from execgym.envs.market.data.lobster_data import default_lobster_dir, load_lobster  # noqa: E402
from execgym.envs.market.simulation.book import OrderBook  # noqa: E402

SAMPLES = {
    "GOOG": ("GOOG_2012-06-21_34200000_57600000_message_10.csv", "GOOG_2012-06-21_34200000_57600000_orderbook_10.csv"),
    "AMZN": ("AMZN_2012-06-21_34200000_57600000_message_1.csv", "AMZN_2012-06-21_34200000_57600000_orderbook_1.csv"),
}


def replay_compiled(messages: pd.DataFrame) -> OrderBook:
    book = OrderBook(log_events=False, skip_unknown_ids=True)
    book.process(messages_to_events(messages))
    return book


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--checked", action="store_true", help="also time replay_lobster (slow: a Python loop)")
    parser.add_argument("--data-dir", type=Path, default=default_lobster_dir())
    args = parser.parse_args()
    print(f"machine: {machine()}")
    replay_compiled(load_lobster(args.data_dir / SAMPLES["AMZN"][0]).messages.iloc[:1000])  # compile/load the kernel
    print(f"{'file':<6} {'messages':>9} {'MB':>6} {'pandas read s':>14} {'load_lobster s':>15} "
          f"{'replay s':>9} {'replay msg/s':>13} {'replay/read':>12}" + ("  checked msg/s, /read" if args.checked else ""))
    for name, (msg_file, book_file) in SAMPLES.items():
        path = resolve_lobster_file(args.data_dir / msg_file)  # the shipped .xz, or a plain file
        read_s, _ = best_time(lambda: pd.read_csv(path, header=None), args.repeats)
        load_s, day = best_time(lambda: load_lobster(path), args.repeats)
        messages = day.messages
        replay_s, book = best_time(lambda: replay_compiled(messages), args.repeats)
        line = (f"{name:<6} {len(messages):>9,} {path.stat().st_size / 1e6:>6.1f} {read_s:>14.3f} {load_s:>15.3f} "
                f"{replay_s:>9.3f} {len(messages) / replay_s:>13,.0f} {replay_s / read_s:>11.2f}x")
        if args.checked:
            orderbook = read_orderbook(args.data_dir / book_file)
            checked_s, (_, report) = best_time(lambda: replay_lobster(messages, orderbook), 1)
            line += f"  {len(messages) / checked_s:,.0f}, {checked_s / read_s:.0f}x (mismatched rows {report.mismatched_rows})"
        print(line, flush=True)
    env = LOBReplayEnv(horizon_s=600.0, decision_interval_s=1.0)
    action = np.array([0.01], dtype=np.float32)
    env.reset(seed=0)
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < 2.0:
        _, _, done, _, _ = env.step(action)
        n += 1
        if done:
            env.reset()
    print(f"execgym/LOBReplay-v0 (GOOG, 1 s decisions): {n / elapsed:,.0f} steps/s")


if __name__ == "__main__":
    main()
