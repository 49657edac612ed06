"""Events per second of the simulated market under each model of its order flow.

    python benchmarks/bench_market_models.py [--market-seconds 23400] [--repeats 25] [--gc-off]
    python benchmarks/bench_market_models.py --presets goog_2012_06_21_latent goog_2012_06_21 --processes 4

Runs ``MarketSimulator`` (event log off, as the environments run it) over
``--market-seconds`` of market time from the open (default: the whole 6.5-h session), in
60-s steps, for each market preset:

* ``default``: ``conf/market/default.yaml`` (the environments' market);
* ``goog``: ``conf/market/goog_2012_06_21.yaml``, the flow calibrated to GOOG (Poisson
  submissions and cancellations, geometric sizes, Hawkes market orders);
* ``goog_clustered``: ``conf/market/goog_2012_06_21_clustered.yaml``, the same day with
  empirical sizes and submissions and cancellations clustered by a 3-kernel Hawkes process;
* ``goog_fleeting``: ``conf/market/goog_2012_06_21_fleeting.yaml``, clustered, with fleeting
  orders and the random clock (the most realistic flow);
* ``goog_opening``: ``conf/market/goog_2012_06_21_opening.yaml``, the fleeting flow with
  the intraday spread resolved in the minutes after the open (unequal buckets, ``placement_scale_starts_s``);
* ``goog_revisions``: ``conf/market/goog_2012_06_21_revisions.yaml``, the fleeting flow
  with order revisions and market orders that wait for a tight spread;
* ``goog_inside``: ``conf/market/goog_2012_06_21_inside.yaml``, the fleeting flow with
  orders inside a wide spread (flickering quotes), market orders that wait for a tight
  spread and a side that never empties;
* ``goog_follow``: ``conf/market/goog_2012_06_21_follow.yaml``, the inside flow with quotes
  that follow the last change;
* ``goog_propagator``: ``conf/market/goog_2012_06_21_propagator.yaml``, the reference
  anchor with the power-law propagator and long-memory trade signs (the square-root law);
* ``goog_patient``: ``conf/market/goog_2012_06_21_patient.yaml``, the realism report's
  ``inside_follow_patient`` (the follow flow with limit sizes by placement, hidden
  executions, the clustering within the recorded levels, cancellation by size and distance
  and the intraday spread: half of CST's realism distance);
* ``goog_scaled``: ``conf/market/goog_2012_06_21_scaled.yaml``, the realism report's
  ``inside_follow_patient_scaled`` (the patient flow with the placement from the best following
  the intraday spread and the near orders' deletion hazard refined to the day's: the most
  realistic flow, 0.46-0.47 of CST's realism distance);
* ``goog_regimes``: ``conf/market/goog_2012_06_21_regimes.yaml``, the realism report's
  ``inside_follow_regimes`` (the scaled flow with liquidity-provision regimes: the orders
  inside a wide spread follow a slow random factor, so the spread stays wide or narrow for
  tens of seconds, as the day's does);
* ``goog_latent``: ``conf/market/goog_2012_06_21_latent.yaml``, the realism report's
  ``latent`` (the regimes flow with 35% of the profile-placed orders around the centre that a
  power-law propagator moves: the realism and the square-root law in one market).

Reports, measured in the same run, each model's background events per wall-second (the
simulator's throughput), the events per proposal drawn (``ev/prop``: about the thinning's
acceptance; refills, flicker withdrawals and revisions' re-posts take no proposal), its
market-seconds per wall-second, and the events/s relative to ``goog`` (the model the
others replace; issue target: at least 0.7). Each rate is the best of ``--repeats`` runs
with the same seed, the repeats taken in turn over the presets. Only the stepping is timed:
the simulator's construction and its warm-up (the book's fill before the open) are not,
since a short window would otherwise measure them and pull every ratio towards 1.

``vs pinned``: the events/s relative to the simulator as it was when issue 15 stated its
target ("today's"): the code at ``PINNED_COMMIT`` running its own ``goog`` preset, extracted
with ``git archive`` and timed in a worker process of this run, its repeats interleaved with
these (``benchmarks/pinned_market.py``; ``--pinned COMMIT`` another commit, ``--pinned
none`` none). The flows share the code that has been made faster since, so ``vs goog``
is the stricter figure; both are printed.

``--gc-off`` times every market day (the pinned worker's too) with the garbage collector
off, collected before each (as ``timeit`` times): a collection then cannot land inside a
timed day and charge it for the objects the process holds (every preset's, the last day's
simulator).

``--processes K`` (K >= 2) times each model, and the pinned simulator, in ``K`` fresh worker
processes (today's code in workers too, :class:`~benchmarks.pinned_market.PinnedMarket` with
no tree), all their repeats interleaved, and reports each model's median over its processes
of their best rates, with the lowest and highest: on a shared machine one process can run the
same code 5-17% slower than another for all of its repeats (AMD EPYC, 2 cores, 2026-12-02; the
same with the flow's arrays packed, on huge pages or at fixed addresses: the machine, not the
layout; envs/market/NOTEBOOK.md, "Speed, the nineteenth session"), so a single process per side can make or
break a ratio (``--presets`` keeps the number of processes down).

``--ablate`` also times ``goog_scaled`` with one mechanism removed at a time
(:data:`ABLATIONS`; the rest of its calibration unchanged, so the book they run on differs
too): where the realistic model's time per event goes.

``--config NAME=PATH`` (repeatable) times a further market config (a YAML file, e.g. one
written by ``python -m execgym.experiments.stylized_facts write_market_config=PATH`` or a
realism model's) beside the presets, in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import tempfile
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import machine  # noqa: E402
from benchmarks.pinned_market import PinnedMarket, pinned_tree, timed_days  # noqa: E402
from execgym.envs.market.simulation.simulator import MarketSimulator, SimulatorConfig  # noqa: E402
from execgym.experiments.lib.builders import conf_file  # noqa: E402

PRESETS = ("default", "goog_2012_06_21", "goog_2012_06_21_clustered", "goog_2012_06_21_fleeting",
           "goog_2012_06_21_opening", "goog_2012_06_21_revisions", "goog_2012_06_21_inside",
           "goog_2012_06_21_follow", "goog_2012_06_21_propagator", "goog_2012_06_21_patient", "goog_2012_06_21_scaled",
           "goog_2012_06_21_regimes", "goog_2012_06_21_latent")
NAMES = {"default": "default", "goog_2012_06_21": "goog", "goog_2012_06_21_clustered": "goog_clustered",
         "goog_2012_06_21_fleeting": "goog_fleeting", "goog_2012_06_21_opening": "goog_opening",
         "goog_2012_06_21_revisions": "goog_revisions", "goog_2012_06_21_inside": "goog_inside",
         "goog_2012_06_21_follow": "goog_follow",
         "goog_2012_06_21_propagator": "goog_propagator", "goog_2012_06_21_patient": "goog_patient",
         "goog_2012_06_21_scaled": "goog_scaled", "goog_2012_06_21_regimes": "goog_regimes",
         "goog_2012_06_21_latent": "goog_latent"}


#: the commit at which issue 15 measured "today's simulator" (the realism score and the CST
#: comparison had just landed; the realistic flows came after it)
PINNED_COMMIT = "d7949cd75b97f78fea3c22549234ad2a8ffdcb38"
#: the model that simulator ran for the day (its calibrated GOOG preset, as it was then)
PINNED_PRESET = "goog_2012_06_21"

#: ``--ablate``: the FlowConfig fields that remove one mechanism from ``goog_scaled``
ABLATIONS = {
    "cancel_sizes": {"cancel_size_factors": (), "cancel_size_edges_shares": (), "cancel_near_factor": 1.0,
                     "cancel_size_behind_ticks": 0},
    "reach": {"cluster_levels": 0},
    "spread_profile": {"placement_scale": (), "best_anchor_scaled": False},
    "hidden": {"hidden_rate_per_s": 0.0, "hidden_sizes_shares": (), "hidden_size_probs": ()},
    "place_sizes": {"limit_size_place_probs": ()},
    "best_anchor": {"best_anchor_frac": 0.0, "best_anchor_probs": (), "best_anchor_excited": False,
                    "best_anchor_scaled": False},
}


def ablations(cfg: SimulatorConfig) -> dict[str, SimulatorConfig]:
    """``cfg`` with each of :data:`ABLATIONS` applied to its flow, by name ``no_<mechanism>``."""
    return {f"no_{name}": dataclasses.replace(cfg, flow=dataclasses.replace(cfg.flow, **fields))
            for name, fields in ABLATIONS.items()}


def preset(name: str) -> SimulatorConfig:
    return market_file(conf_file("market", f"{name}.yaml"))


def market_file(path) -> SimulatorConfig:
    values = OmegaConf.to_container(OmegaConf.load(path))
    values.pop("defaults", None)
    return SimulatorConfig.from_mapping(values)


def run(cfg: SimulatorConfig, market_s: float, gc_off: bool = False) -> tuple[float, int, int]:
    """Wall-seconds, background events and proposals over ``market_s`` seconds after the
    warm-up (seed 0); the construction and the warm-up are not timed (``gc_off``: nor a
    garbage collection, :func:`~benchmarks.pinned_market.timed_days`)."""
    sim = MarketSimulator(cfg, np.random.default_rng(0))
    state = sim._fs[0]
    events, proposals = int(state["n_bg_events"]), int(state["n_proposals"])
    seconds = timed_days(sim, market_s, gc_off)
    state = sim._fs[0]
    return seconds, int(state["n_bg_events"]) - events, int(state["n_proposals"]) - proposals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--market-seconds", type=float, default=23_400.0)
    parser.add_argument("--repeats", type=int, default=25)
    parser.add_argument("--config", action="append", default=[], metavar="NAME=PATH",
                        help="a further market config (YAML) to time beside the presets")
    parser.add_argument("--ablate", action="store_true",
                        help="also time goog_scaled with one mechanism removed at a time (ABLATIONS)")
    parser.add_argument("--gc-off", action="store_true",
                        help="time every market day (the pinned simulator's too) with the garbage collector off, "
                             "collected before each, as timeit does")
    parser.add_argument("--presets", nargs="+", choices=PRESETS, default=list(PRESETS), metavar="PRESET",
                        help="the conf/market presets to time (default: all of them)")
    parser.add_argument("--processes", type=int, default=1, metavar="K",
                        help="time each model and the pinned simulator in K fresh worker processes and report "
                             "the median of their best rates (K >= 2; default 1: today's code in this process)")
    parser.add_argument("--pinned", default=PINNED_COMMIT, metavar="COMMIT",
                        help="time the simulator as it was at COMMIT (its goog preset) in the same run, as "
                             "the reference of the last column ('none': skip; needs a git checkout)")
    args = parser.parse_args()
    if args.processes < 1:
        parser.error(f"--processes must be at least 1, got {args.processes}")
    if args.processes > 1 and args.ablate:
        parser.error("--ablate times variants built in this process: it cannot run with --processes")
    extra, paths = {}, {}
    for item in args.config:
        name, sep, path = item.partition("=")
        if not sep or not name or not Path(path).is_file():
            parser.error(f"--config must be NAME=PATH of an existing YAML file, got {item!r}")
        extra[name] = market_file(path)
        paths[name] = str(Path(path).resolve())
    print(f"machine: {machine()}")
    if args.processes > 1:
        _main_processes(args, [*args.presets, *extra], paths)
        return
    rates = {}
    configs = {name: preset(name) for name in args.presets} | extra
    if args.ablate:
        configs |= ablations(configs["goog_2012_06_21_scaled"])
    names = NAMES | {name: name for name in configs if name not in NAMES}
    with tempfile.TemporaryDirectory() as tmp:
        root = _pinned_root(args.pinned, Path(tmp))
        pinned = None if root is None else PinnedMarket(root, PINNED_PRESET, Path(tmp) / "numba_cache")
        try:
            runs, pinned_runs = _timed_runs(configs, pinned, args.market_seconds, args.repeats, args.gc_off)
        finally:
            if pinned is not None:
                pinned.close()
    pinned_rate = float("nan")
    if pinned_runs:
        pinned_rate = pinned_runs[-1][1] / min(r[0] for r in pinned_runs)
        print(f"pinned: the simulator at {args.pinned[:10]} ({PINNED_PRESET}, as it was then): "
              f"{pinned_runs[-1][1]:,} events, {pinned_rate:,.0f} events/s")
    print(f"{'model':>18} {'events':>9} {'events/s':>12} {'ev/prop':>9} {'market-s/s':>11} {'vs goog':>8} "
          f"{'vs pinned':>10}")
    for name in configs:
        rates[name] = runs[name][-1][1] / min(r[0] for r in runs[name])
    for name in configs:
        seconds = min(r[0] for r in runs[name])
        _, events, proposals = runs[name][-1]
        ratio = rates[name] / rates["goog_2012_06_21"] if "goog_2012_06_21" in rates else float("nan")
        print(f"{names[name]:>18} {events:>9,} {rates[name]:>12,.0f} {events / max(proposals, 1):>9.2f} "
              f"{args.market_seconds / seconds:>11,.0f} {ratio:>8.2f} {rates[name] / pinned_rate:>10.2f}", flush=True)


def _main_processes(args, names: list[str], paths: dict[str, str]) -> None:
    """``--processes``: each model (a preset, or a ``--config`` name with its path in ``paths``)
    and the pinned simulator in ``args.processes`` worker processes, repeats interleaved."""
    k = args.processes
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        workers: dict[str, list[PinnedMarket]] = {}
        root = _pinned_root(args.pinned, Path(tmp))
        if root is not None:
            workers["pinned"] = [_started(stack, root, PINNED_PRESET, Path(tmp) / "numba_cache") for _ in range(k)]
        for name in names:
            workers[name] = [_started(stack, None, paths.get(name, name), None) for _ in range(k)]
        best = {name: [0.0] * k for name in workers}
        events = {}
        for _ in range(args.repeats):
            for name, group in workers.items():
                for i, worker in enumerate(group):
                    seconds, events[name] = worker.run(args.market_seconds, args.gc_off)
                    best[name][i] = max(best[name][i], events[name] / seconds)
    med = {name: float(np.median(rates)) for name, rates in best.items()}
    pinned_rate = med.get("pinned", float("nan"))
    if "pinned" in med:
        print(f"pinned: the simulator at {args.pinned[:10]} ({PINNED_PRESET}, as it was then): {events['pinned']:,} "
              f"events, {pinned_rate:,.0f} events/s (median of {k} processes; {min(best['pinned']):,.0f} to "
              f"{max(best['pinned']):,.0f})")
    print(f"{'model':>18} {'events':>9} {'events/s':>12} {'lowest':>12} {'highest':>12} {'vs goog':>8} {'vs pinned':>10}"
          f"   (median over {k} processes of each one's best of {args.repeats})")
    for name in names:
        ratio = med[name] / med["goog_2012_06_21"] if "goog_2012_06_21" in med else float("nan")
        print(f"{NAMES.get(name, name):>18} {events[name]:>9,} {med[name]:>12,.0f} {min(best[name]):>12,.0f} "
              f"{max(best[name]):>12,.0f} {ratio:>8.2f} {med[name] / pinned_rate:>10.2f}", flush=True)


def _pinned_root(commit: str, tmp: Path) -> Path | None:
    """The package tree of ``commit`` extracted under ``tmp`` (:func:`~benchmarks.pinned_market.pinned_tree`),
    or ``None`` for ``--pinned none`` or a commit git cannot read (said so)."""
    if commit == "none":
        return None
    try:
        return pinned_tree(Path(__file__).resolve().parents[1], commit, tmp)
    except ValueError as err:
        print(f"pinned: skipped ({err})")
        return None


def _started(stack: contextlib.ExitStack, root: Path | None, preset: str, cache_dir: Path | None) -> PinnedMarket:
    """A worker for ``preset``, closed with ``stack``, after a first short run (its compilation,
    or its load from the numba cache, one worker at a time)."""
    worker = stack.enter_context(PinnedMarket(root, preset, cache_dir))
    worker.run(60.0)
    return worker


def _timed_runs(configs: dict, pinned: PinnedMarket | None, market_s: float, repeats: int, gc_off: bool = False
                ) -> tuple[dict[str, list], list[tuple[float, int]]]:
    """Every config's runs (and the pinned simulator's), ``repeats`` each, after a compiling run
    (``gc_off``: the garbage collector off while each is timed)."""
    for cfg in configs.values():
        run(cfg, 60.0)  # compile
    if pinned is not None:
        pinned.run(60.0)
    # the repeats go round the presets in turn (not one preset's repeats in a row), so that a
    # drift of the machine's speed during the run touches every preset alike
    runs = {name: [] for name in configs}
    pinned_runs = []
    for _ in range(repeats):
        if pinned is not None:
            pinned_runs.append(pinned.run(market_s, gc_off))
        for name, cfg in configs.items():
            runs[name].append(run(cfg, market_s, gc_off))
    return runs, pinned_runs


if __name__ == "__main__":
    main()
