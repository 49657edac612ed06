"""Estimate Almgren-Chriss parameters from the simulated market they will be used in.

The AC schedule needs ``sigma``, ``epsilon``, ``eta`` and ``gamma``; in the LOB market these
are not inputs but consequences of the order flow, so :func:`calibrate_almgren_chriss`
measures them, in seconds and currency (the units of ``execgym/LOBExecution-v0``):

* ``sigma`` (currency/share/sqrt(s)): standard deviation of mid changes over a decision
  interval, divided by ``sqrt(interval_s)``, from a run without the agent;
* ``epsilon`` (currency/share): the mean half spread in that run;
* ``eta`` (currency/share per share/s): child market orders of several sizes ``n`` are sent
  (alternating sides, each after the book has recovered), and the cost per share
  ``side * (average fill - mid before)`` is regressed on ``n / tau``: AC's temporary
  impact ``epsilon + eta n / tau`` has slope ``eta``;
* ``gamma`` (currency/share per share): the permanent level of a metaorder's measured
  impact path (:func:`execgym.envs.market.analysis.impact.metaorder.metaorder_impact`, paired control runs), averaged
  once its transient part has decayed, divided by its size.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import asdict, dataclass

import numpy as np

from execgym.envs.market.analysis.impact.metaorder import metaorder_impact
from execgym.envs.market.data.replay import ReplayDay
from execgym.envs.market.simulation.simulator import MarketSimulator, SimulatorConfig
from execgym.validation import check_int, check_positive

logger = logging.getLogger(__name__)

__all__ = ["ACCalibration", "calibrate_almgren_chriss", "calibrate_almgren_chriss_replay"]


@dataclass(frozen=True)
class ACCalibration:
    """Estimated AC parameters (seconds, currency) and the fit diagnostics."""

    sigma: float  # currency / share / sqrt(s)
    epsilon: float  # currency / share
    eta: float  # currency / share per (share / s)
    gamma: float  # currency / share per share
    eta_r2: float  # R^2 of the temporary-impact regression
    n_impact_samples: int

    def model(self) -> dict[str, float]:
        """The ``sigma``, ``epsilon``, ``eta``, ``gamma`` mapping that :func:`execgym.baselines.make_baseline` takes."""
        return {k: v for k, v in asdict(self).items() if k in ("sigma", "epsilon", "eta", "gamma")}


@functools.lru_cache(maxsize=16)
def calibrate_almgren_chriss(
    market: SimulatorConfig,
    interval_s: float,
    order_sizes_shares: tuple[int, ...] = (500, 1000, 2000, 4000),
    samples_per_size: int = 40,
    quiet_s: float = 3600.0,
    seed: int = 0,
) -> ACCalibration:
    """Measure ``sigma``, ``epsilon``, ``eta`` and ``gamma`` of ``market`` (module docstring).

    Results are cached per argument set (the market config is a frozen dataclass).

    :param interval_s: the decision interval ``tau`` the schedule will trade at (s).
    :param order_sizes_shares: child order sizes probed for the temporary impact.
    :param samples_per_size: orders per size.
    :param quiet_s: length of the run without the agent (s), for ``sigma`` and ``epsilon``.
    :param seed: seeds every simulation of the calibration.
    """
    tau = check_positive("interval_s", interval_s)
    check_positive("quiet_s", quiet_s)
    samples = check_int("samples_per_size", samples_per_size, minimum=2)
    sizes = tuple(check_int("order_sizes_shares[i]", s, minimum=1) for s in order_sizes_shares)
    if len(set(sizes)) < 2:
        raise ValueError(f"order_sizes_shares needs at least two distinct sizes, got {order_sizes_shares!r}")
    tick = market.tick_size
    seeds = np.random.SeedSequence(seed).spawn(3)

    # sigma and epsilon from a quiet run
    sim = MarketSimulator(market, np.random.default_rng(seeds[0]))
    mids, spreads = [], []
    for _ in range(int(quiet_s // tau)):
        report = sim.advance(tau)
        if report.mid_ticks is not None:
            mids.append(report.mid_ticks)
            spreads.append(report.best_ask - report.best_bid)
    sigma = float(np.std(np.diff(mids), ddof=1)) / np.sqrt(tau) * tick
    epsilon = 0.5 * float(np.mean(spreads)) * tick

    # eta: cost per share of child market orders against their size
    sim = MarketSimulator(market, np.random.default_rng(seeds[1]))
    recover_s = 5.0 / market.flow.resilience_per_s
    rng = np.random.default_rng(seeds[2])
    xs, ys = [], []
    order = np.repeat(sizes, samples)
    rng.shuffle(order)
    for i, n in enumerate(order):
        sim.advance(recover_s)
        mid = sim.book.mid
        if mid is None:
            continue
        side = "buy" if i % 2 == 0 else "sell"
        fills = sim.submit_market(side, int(n))
        filled = int(fills["size_shares"].sum())
        if filled == 0:
            continue
        avg = float((fills["size_shares"] * fills["price_ticks"]).sum()) / filled
        xs.append(filled / tau)
        ys.append((avg - mid) * (1 if side == "buy" else -1) * tick)
    xs, ys = np.array(xs), np.array(ys)
    slope, intercept = np.polyfit(xs, ys, 1)
    resid = ys - (slope * xs + intercept)
    r2 = 1.0 - resid.var() / ys.var() if ys.var() > 0 else 0.0

    # gamma: the permanent level of a metaorder's impact: its mean over the second half of a
    # post window of at least 10 / rho, when the transient part has decayed (by e^-5 or more)
    total = int(max(sizes)) * 5
    post_s = max(10.0 / market.flow.resilience_per_s, 10 * tau)
    path = metaorder_impact(market, total_shares=total, duration_s=10 * tau, n_slices=10,
                            post_s=post_s, dt_s=tau / 2, n_runs=20, seed=seed)
    settled = path["time_s"] >= 10 * tau + post_s / 2
    permanent_ticks = float(path.loc[settled, "impact_ticks"].mean())
    gamma = max(permanent_ticks, 0.0) * tick / total
    eta = float(max(slope, 1e-12))
    logger.info("AC calibration: sigma=%.3g epsilon=%.3g eta=%.3g (R2 %.2f) gamma=%.3g",
                sigma, epsilon, eta, r2, gamma)
    return ACCalibration(sigma=sigma, epsilon=epsilon, eta=eta, gamma=gamma, eta_r2=float(r2),
                         n_impact_samples=len(xs))


def _walk_cost_ticks(prices: np.ndarray, sizes: np.ndarray, n: int) -> float | None:
    """Average price (ticks) of ``n`` shares taken from one side's levels (best first); None if too thin."""
    cum = np.cumsum(sizes)
    if len(cum) == 0 or cum[-1] < n:
        return None
    take = np.minimum(sizes, np.maximum(n - (cum - sizes), 0))
    return float((take * prices).sum()) / n


def calibrate_almgren_chriss_replay(
    day: ReplayDay,
    interval_s: float,
    start_s: float,
    end_s: float,
    order_sizes_shares: tuple[int, ...] = (100, 200, 400, 800),
    n_snapshots: int = 400,
) -> ACCalibration:
    """Almgren-Chriss parameters of a recorded day (:class:`~execgym.envs.market.data.replay.ReplayDay`), in
    seconds and currency, for ``execgym/LOBReplay-v0``.

    * ``sigma``: standard deviation of the recorded mid's changes over ``interval_s``, on a
      grid from ``start_s`` to ``end_s``, divided by ``sqrt(interval_s)``;
    * ``epsilon``: the mean half spread on that grid;
    * ``eta``: on ``n_snapshots`` recorded books evenly spread over the window, the cost per
      share of walking the book with ``n`` shares (average price minus mid, buys on the ask
      side, sells on the bid side) regressed on ``n / interval_s`` (slope), using the sizes
      the visible levels can fill;
    * ``gamma = 0``: a replay has no permanent impact (the recorded flow does not react).
    """
    tau = check_positive("interval_s", interval_s)
    if not end_s - start_s >= 2 * tau:
        raise ValueError(f"need end_s - start_s >= 2 interval_s, got start_s={start_s!r}, end_s={end_s!r}")
    snapshots = check_int("n_snapshots", n_snapshots, minimum=2)
    sizes = tuple(check_int("order_sizes_shares[i]", s, minimum=1) for s in order_sizes_shares)
    if len(set(sizes)) < 2:
        raise ValueError(f"order_sizes_shares needs at least two distinct sizes, got {order_sizes_shares!r}")
    tick = day.tick_size
    rows = day.row_at(np.arange(start_s, end_s, tau))
    mids = day.mid_ticks(rows[rows >= 0])
    ok = np.isfinite(mids)
    sigma = float(np.std(np.diff(mids[ok]), ddof=1) / np.sqrt(tau) * tick)
    grid_rows = rows[rows >= 0][ok]
    spread = day.ask_p[grid_rows, 0] - day.bid_p[grid_rows, 0]
    epsilon = 0.5 * float(spread.mean()) * tick

    xs, ys = [], []
    for r in day.row_at(np.linspace(start_s, end_s, snapshots)).tolist():
        mid = day.mid_ticks(np.array([r]))[0]
        if r < 0 or not np.isfinite(mid):
            continue
        for n in sizes:
            for prices, levels, sign in ((day.ask_p[r], day.ask_s[r], 1), (day.bid_p[r], day.bid_s[r], -1)):
                avg = _walk_cost_ticks(prices[levels > 0], levels[levels > 0], n)
                if avg is not None:
                    xs.append(n / tau)
                    ys.append(sign * (avg - mid) * tick)
    xs, ys = np.array(xs), np.array(ys)
    if len(set(xs.tolist())) < 2:
        raise ValueError(f"the recorded books are too thin for order sizes {sizes}")
    slope, intercept = np.polyfit(xs, ys, 1)
    resid = ys - (slope * xs + intercept)
    r2 = 1.0 - resid.var() / ys.var() if ys.var() > 0 else 0.0
    eta = float(max(slope, 1e-12))
    logger.info("AC calibration from %s: sigma=%.3g epsilon=%.3g eta=%.3g (R2 %.2f) gamma=0",
                day.name, sigma, epsilon, eta, r2)
    return ACCalibration(sigma=sigma, epsilon=epsilon, eta=eta, gamma=0.0, eta_r2=float(r2), n_impact_samples=len(xs))
