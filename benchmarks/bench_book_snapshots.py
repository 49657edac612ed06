"""Order-book rows rebuilt per second from a simulated event log, against event-by-event replay.

    python benchmarks/bench_book_snapshots.py [--duration-s 1800] [--levels 10] [--repeats 3]

A simulated market's complete event log (warm-up included) is replayed into an empty book,
writing the top ``--levels`` levels after every event as LOBSTER rows, two ways, measured
in the same run (best of ``--repeats``):

* ``OrderBook.process`` per event: one :meth:`~execgym.envs.market.simulation.book.OrderBook.process` and one
  :meth:`~execgym.envs.market.simulation.book.OrderBook.depth` call per event (a Python loop), the reference;
* ``book_snapshots``: :func:`execgym.envs.market.data.simulated_day.book_snapshots`, the one loop in numba
  that :func:`~execgym.envs.market.data.simulated_day.simulate_day` uses.

Both must give identical rows (checked). The ratio is reference time over compiled time.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import best_time, machine  # noqa: E402
from execgym.envs.market.data.lobster import MESSAGE_COLUMNS, messages_to_events  # noqa: E402
from execgym.envs.market.data.lobster_data import DUMMY_ASK, DUMMY_BID  # noqa: E402
from execgym.envs.market.data.simulated_day import book_snapshots  # noqa: E402
from execgym.envs.market.simulation.book import OrderBook  # noqa: E402
from execgym.envs.market.simulation.simulator import MarketSimulator, SimulatorConfig  # noqa: E402


def per_event_rows(events: np.ndarray, levels: int, unit: int, tick_size: float) -> np.ndarray:
    """The reference: replay one event at a time through the Python API."""
    book = OrderBook(tick_size=tick_size, log_events=False)
    out = np.zeros((len(events), 4 * levels), dtype=np.int64)
    for i in range(len(events)):
        book.process(events[i : i + 1])
        bid_p, bid_s, ask_p, ask_s = book.depth(levels)
        out[i, 0::4] = np.where(ask_s > 0, ask_p * unit, DUMMY_ASK)
        out[i, 1::4] = ask_s
        out[i, 2::4] = np.where(bid_s > 0, bid_p * unit, DUMMY_BID)
        out[i, 3::4] = bid_s
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration-s", type=float, default=1800.0)
    parser.add_argument("--levels", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    cfg = dataclasses.replace(SimulatorConfig(warmup_s=100.0), log_events=True)
    sim = MarketSimulator(cfg, np.random.default_rng(args.seed))
    sim.advance(args.duration_s)
    log = sim.book.event_log()
    raw = pd.DataFrame({"time_s": log["time"], "type": log["type"], "order_id": log["order_id"],
                        "size_shares": log["size"], "price": log["price"], "direction": log["direction"]},
                       columns=list(MESSAGE_COLUMNS))
    events = messages_to_events(raw, price_units_per_tick=1)
    book_snapshots(events[:100], args.levels, 100, cfg.tick_size)  # compile / load the kernel
    ref_s, ref = best_time(lambda: per_event_rows(events, args.levels, 100, cfg.tick_size), args.repeats)
    fast_s, fast = best_time(lambda: book_snapshots(events, args.levels, 100, cfg.tick_size), args.repeats)
    if not np.array_equal(ref, fast):
        raise SystemExit("the two replays disagree")
    n = len(events)
    print(f"{n} events, {args.levels} levels (identical rows)")
    print(f"{'method':<26} {'s':>8} {'events/s':>12}")
    print(f"{'OrderBook.process per event':<26} {ref_s:>8.3f} {n / ref_s:>12,.0f}")
    print(f"{'book_snapshots (numba)':<26} {fast_s:>8.3f} {n / fast_s:>12,.0f}")
    print(f"ratio (reference / book_snapshots): {ref_s / fast_s:.1f}x")


if __name__ == "__main__":
    main()
