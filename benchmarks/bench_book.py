"""Order-book throughput: the numba book vs the pure-Python reference book, same run.

    python benchmarks/bench_book.py [--events 1000000] [--reference-events 200000]

Streams:
  (a) synthetic: ``execgym.envs.market.data.synthetic.synthetic_event_stream``, one million events with
      the GOOG sample's mix (~48% limit orders, most near the touch, 5% of them marketable;
      ~44% cancellations of resting orders; ~8% market orders), stationary book;
  (b) replay: the shared GOOG 2012-06-21 level-10 sample's book-changing messages
      (submissions, cancellations, deletions, executions) in replay mode;
  (c) simulator: ``MarketSimulator`` with its default background flow (generation of the
      Poisson/thinning events, matching and impact bookkeeping) over a simulated session,
      in 60 s steps; its reference is the reference book's rate on stream (a).

Events per second = events / wall time of one ``OrderBook.process`` call on a fresh book,
matching included, best of 3, on one core; with and without the LOBSTER event log. The
reference is ``tests/market/reference_book.py`` (a SortedDict of deques, the oracle of the
property tests) timed on the first ``--reference-events`` events of the same stream; both
books must end with the same depth, or the script fails.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import machine  # noqa: E402
from execgym.envs.market.data.lobster import messages_to_events, read_messages  # noqa: E402
from execgym.envs.market.data.lobster_data import default_lobster_dir  # noqa: E402
from execgym.envs.market.data.synthetic import synthetic_event_stream  # noqa: E402
from execgym.envs.market.simulation.book import OrderBook  # noqa: E402
from execgym.envs.market.simulation.simulator import MarketSimulator, SimulatorConfig  # noqa: E402
from tests.market.reference_book import ReferenceBook  # noqa: E402

GOOG = "GOOG_2012-06-21_34200000_57600000_message_10.csv"


def numba_rate(events: np.ndarray, log_events: bool, replay: bool, repeats: int = 3) -> tuple[float, OrderBook]:
    best, book = 0.0, None
    warm = OrderBook(log_events=log_events, skip_unknown_ids=replay)
    warm.process(events[:1000])  # compile outside the timing
    for _ in range(repeats):
        book = OrderBook(log_events=log_events, skip_unknown_ids=replay, capacity=1 << 14,
                         n_levels=1 << 16, base_price_ticks=int(np.median(events[:1000, 3])) - (1 << 15))
        start = time.perf_counter()
        book.process(events)
        best = max(best, len(events) / (time.perf_counter() - start))
    return best, book


def reference_rate(events: np.ndarray, replay: bool) -> tuple[float, ReferenceBook]:
    ref = ReferenceBook(skip_unknown_ids=replay)
    rows = events.tolist()
    start = time.perf_counter()
    for ev in rows:
        ref.apply(*ev)
    return len(rows) / (time.perf_counter() - start), ref


def simulator_rate(session_s: float, repeats: int = 3) -> tuple[float, int]:
    best, n_events = 0.0, 0
    MarketSimulator(SimulatorConfig(warmup_s=1.0), np.random.default_rng(0)).advance(1.0)  # compile
    for r in range(repeats):
        sim = MarketSimulator(SimulatorConfig(warmup_s=0.0), np.random.default_rng(r))
        start = time.perf_counter()
        n_events = sum(sim.advance(60.0).n_events for _ in range(int(session_s // 60)))
        best = max(best, n_events / (time.perf_counter() - start))
    return best, n_events


def report(name: str, events: np.ndarray, n_reference: int, replay: bool) -> float:
    with_log, _ = numba_rate(events, log_events=True, replay=replay)
    no_log, book = numba_rate(events, log_events=False, replay=replay)
    ref_rate, _ = reference_rate(events[:n_reference], replay)
    # correctness guard: both books agree on the prefix the reference ran
    check_book = OrderBook(log_events=False, skip_unknown_ids=replay)
    check_book.process(events[:n_reference])
    _, ref = reference_rate(events[:n_reference], replay)
    for got, want in zip(check_book.depth(10), ref.depth(10)):
        if list(got) != list(want):
            raise SystemExit(f"{name}: numba and reference books disagree after {n_reference} events")
    mix = np.bincount(events[:, 0], minlength=6) / len(events)
    print(f"\n{name}: {len(events):,} events (limit {mix[0]:.1%}, market {mix[1]:.1%}, "
          f"cancel {mix[3]:.1%}, execute {mix[5]:.1%}); {len(book):,} orders resting at the end")
    print(f"  numba book, no event log   {no_log / 1e6:8.2f} M events/s   {no_log / ref_rate:7.1f}x reference")
    print(f"  numba book, LOBSTER log    {with_log / 1e6:8.2f} M events/s   {with_log / ref_rate:7.1f}x reference")
    print(f"  reference (SortedDict)     {ref_rate / 1e6:8.2f} M events/s   (first {n_reference:,} events)")
    return ref_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--reference-events", type=int, default=200_000)
    parser.add_argument("--data", type=Path, default=default_lobster_dir())
    args = parser.parse_args()
    print(f"machine: {machine()}")
    synthetic = synthetic_event_stream(args.events, np.random.default_rng(0))
    ref_rate = report("(a) synthetic GOOG-mix stream", synthetic, min(args.reference_events, args.events), replay=False)
    if any((args.data / (GOOG + s)).exists() for s in ("", ".xz", ".gz", ".bz2")):
        events = messages_to_events(read_messages(args.data / GOOG))
        report("(b) GOOG 2012-06-21 replay", events, len(events), replay=True)
    else:
        print(f"\n(b) skipped: {args.data / GOOG} not found (--data)")
    sim_rate, n_sim = simulator_rate(23_400.0)
    print(f"\n(c) simulator, default flow, one 6.5 h session in 60 s steps: {n_sim:,} background events")
    print(f"  MarketSimulator            {sim_rate / 1e6:8.2f} M events/s   {sim_rate / ref_rate:7.1f}x reference book on (a)")


if __name__ == "__main__":
    main()
