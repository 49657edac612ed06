"""Measure the price impact of a metaorder in the simulated market.

:func:`metaorder_impact` executes a parent order as equal market-order slices over
``duration_s``, then keeps watching for ``post_s``, and averages the mid-price path over
``n_runs`` seeded runs. Each run is paired with a control run from the same seed without
the metaorder, and the impact is the difference of the two mids (signed so that a buy
and a sell both show positive impact), which removes most of the background noise.

:func:`metaorder_impacts` measures several metaorders (:class:`Metaorder`) on the same
seeds: a run's control does not depend on the metaorder, so it is simulated once, over the
longest horizon, and its prefix is every metaorder's control (the numbers are those of
:func:`metaorder_impact` for each metaorder alone). The runs may go to ``n_workers``
processes (joblib); each run's numbers come from its own seed, so they do not depend on
how many.

:func:`fit_decay` fits ``I(t) = I_inf + A exp(-rate (t - T))`` to the path after the end
``T`` of the metaorder: with the flow's resilience ``rho``, ``rate`` should come out
close to ``rho`` and ``I_inf`` close to the permanent impact ``gamma * X``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy.optimize import curve_fit
from tqdm.auto import tqdm

from execgym.envs.market.simulation.simulator import MarketSimulator, SimulatorConfig
from execgym.validation import check_choice, check_int, check_positive

logger = logging.getLogger(__name__)

__all__ = ["Metaorder", "fit_decay", "metaorder_impact", "metaorder_impacts"]


@dataclass(frozen=True)
class Metaorder:
    """A parent order: ``total_shares`` in ``n_slices`` equal market orders (the remainder
    one share each on the first ones), one every ``duration_s / n_slices`` seconds, then
    watched for ``post_s`` seconds. Checked on construction (``TypeError`` / ``ValueError``
    naming the field)."""

    total_shares: int
    duration_s: float
    n_slices: int
    post_s: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "total_shares", check_int("total_shares", self.total_shares, minimum=1))
        object.__setattr__(self, "n_slices", check_int("n_slices", self.n_slices, minimum=1))
        object.__setattr__(self, "duration_s", check_positive("duration_s", self.duration_s))
        object.__setattr__(self, "post_s", check_positive("post_s", self.post_s))

    def n_steps(self, dt_s: float) -> int:
        """Sampling steps of ``dt_s`` seconds over the execution and the watch after it."""
        return int(round((self.duration_s + self.post_s) / dt_s))


def _mids(config: SimulatorConfig, seed: np.random.SeedSequence, side: str, order: Metaorder | None,
          n_steps: int, dt_s: float) -> np.ndarray:
    """The mid (ticks) every ``dt_s`` seconds from the end of the warm-up, with ``order``
    executed from the start (``None``: the control run)."""
    sim = MarketSimulator(config, np.random.default_rng(seed))
    if order is not None:
        every = max(1, int(round(order.duration_s / dt_s / order.n_slices)))
        sizes = np.full(order.n_slices, order.total_shares // order.n_slices)
        sizes[: order.total_shares - sizes.sum()] += 1
    mids = np.empty(n_steps + 1)
    mids[0] = sim.book.mid if sim.book.mid is not None else sim.reference_ticks
    k = 0
    for step in range(n_steps):
        if order is not None and step % every == 0 and k < order.n_slices:
            sim.submit_market(side, int(sizes[k]))
            k += 1
        report = sim.advance(dt_s)
        mids[step + 1] = report.mid_ticks if report.mid_ticks is not None else sim.reference_ticks
    return mids


def _paired_run(config: SimulatorConfig, seed: np.random.SeedSequence, side: str, orders: tuple[Metaorder, ...],
                dt_s: float) -> list[np.ndarray]:
    """One seed's signed impact paths (ticks), one per metaorder, against one control run."""
    sign = 1.0 if side == "buy" else -1.0
    steps = [order.n_steps(dt_s) for order in orders]
    control = _mids(config, seed, side, None, max(steps), dt_s)
    return [sign * (_mids(config, seed, side, order, n, dt_s) - control[: n + 1]) for order, n in zip(orders, steps)]


def metaorder_impacts(
    config: SimulatorConfig,
    orders,
    side: str = "buy",
    dt_s: float = 1.0,
    n_runs: int = 50,
    seed: int = 0,
    n_workers: int = 1,
    progress: bool = False,
) -> list[pd.DataFrame]:
    """Average impact paths of several metaorders on the same ``n_runs`` seeded runs.

    :param config: the market (its ``warmup_s`` is run before each metaorder starts).
    :param orders: :class:`Metaorder` s (a non-empty sequence).
    :param side: ``"buy"`` or ``"sell"``.
    :param dt_s: sampling step of the paths (s).
    :param n_runs: paired runs averaged; run ``i`` is seeded by the ``i``-th child of
        ``SeedSequence(seed)`` whatever the metaorders.
    :param n_workers: processes the runs are spread over (the same numbers for any).
    :param progress: a tqdm bar over the runs.
    :return: one frame per metaorder, in order, one row per time step: ``time_s`` (0 = start),
        ``impact_ticks`` (mean signed mid difference vs control), ``stderr_ticks``,
        ``executing`` (True during the metaorder).
    """
    check_choice("side", side, ("buy", "sell"))
    orders = tuple(orders)
    if not orders or not all(isinstance(o, Metaorder) for o in orders):
        raise TypeError(f"orders must be a non-empty sequence of Metaorder, got {orders!r}")
    dt_s = check_positive("dt_s", dt_s)
    n_runs = check_int("n_runs", n_runs, minimum=2)
    n_workers = check_int("n_workers", n_workers, minimum=1)
    children = np.random.SeedSequence(seed).spawn(n_runs)
    runs = Parallel(n_jobs=n_workers, return_as="generator")(
        delayed(_paired_run)(config, child, side, orders, dt_s) for child in children)
    per_order = [[] for _ in orders]
    for paths in tqdm(runs, total=n_runs, desc="paired runs", unit="run", disable=not progress, leave=False):
        for acc, path in zip(per_order, paths):
            acc.append(path)
    frames = []
    for order, acc in zip(orders, per_order):
        paths = np.array(acc)
        t = np.arange(paths.shape[1]) * dt_s
        frames.append(pd.DataFrame({
            "time_s": t,
            "impact_ticks": paths.mean(axis=0),
            "stderr_ticks": paths.std(axis=0, ddof=1) / np.sqrt(n_runs),
            "executing": t < order.duration_s,
        }))
    return frames


def metaorder_impact(
    config: SimulatorConfig,
    side: str = "buy",
    total_shares: int = 20_000,
    duration_s: float = 60.0,
    n_slices: int = 20,
    post_s: float = 120.0,
    dt_s: float = 1.0,
    n_runs: int = 50,
    seed: int = 0,
    n_workers: int = 1,
) -> pd.DataFrame:
    """Average impact path of a metaorder, during and after its execution
    (:func:`metaorder_impacts` of one :class:`Metaorder`).

    :param config: the market (its ``warmup_s`` is run before each metaorder starts).
    :param side: ``"buy"`` or ``"sell"``.
    :param total_shares: parent order size (shares), split into ``n_slices`` equal market
        orders, one every ``duration_s / n_slices`` seconds.
    :param post_s: seconds observed after the last slice's interval.
    :param dt_s: sampling step of the path (s).
    :param n_runs: paired runs averaged.
    :param n_workers: processes the runs are spread over (the same numbers for any).
    :return: one row per time step: ``time_s`` (0 = start), ``impact_ticks`` (mean signed
        mid difference vs control), ``stderr_ticks``, ``executing`` (True during the
        metaorder).
    """
    order = Metaorder(total_shares, duration_s, n_slices, post_s)
    return metaorder_impacts(config, [order], side=side, dt_s=dt_s, n_runs=n_runs, seed=seed, n_workers=n_workers)[0]


def fit_decay(path: pd.DataFrame, end_s: float) -> dict[str, float]:
    """Fit ``I_inf + A exp(-rate (t - end_s))`` to the path after ``end_s``.

    The rate is bounded to what the sampled window can resolve: between ``0.1 / window``
    and ``10 / dt``.

    :return: ``{"rate_per_s", "permanent_ticks", "transient_ticks"}`` (``A``).
    """
    after = path[path["time_s"] >= end_s]
    t = after["time_s"].to_numpy() - end_s
    y = after["impact_ticks"].to_numpy()
    if len(t) < 4:
        raise ValueError(f"need at least 4 points after end_s={end_s!r}, got {len(t)}")

    def model(tt, i_inf, a, rate):
        return i_inf + a * np.exp(-rate * tt)

    dt = float(np.min(np.diff(t))) if len(t) > 1 else 1.0
    rate_max = 10.0 / dt  # faster than the sampling cannot be told apart
    rate_min = 0.1 / max(t[-1], dt)  # slower than the window cannot either
    guess = (y[-1], y[0] - y[-1], min(max(5.0 / max(t[-1], 1e-9), rate_min), rate_max))
    (i_inf, a, rate), _ = curve_fit(model, t, y, p0=guess, maxfev=20_000,
                                    bounds=([-np.inf, -np.inf, rate_min], [np.inf, np.inf, rate_max]))
    return {"rate_per_s": float(rate), "permanent_ticks": float(i_inf), "transient_ticks": float(a)}
