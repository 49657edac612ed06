"""Measure the price impact of a metaorder in the simulated market.

:func:`metaorder_impact` executes a parent order as equal market-order slices over
``duration_s``, then keeps watching for ``post_s``, and averages the mid-price path over
``n_runs`` seeded runs. Each run is paired with a control run from the same seed without
the metaorder, and the impact is the difference of the two mids (signed so that a buy
and a sell both show positive impact), which removes most of the background noise.

:func:`fit_decay` fits ``I(t) = I_inf + A exp(-rate (t - T))`` to the path after the end
``T`` of the metaorder: with the flow's resilience ``rho``, ``rate`` should come out
close to ``rho`` and ``I_inf`` close to the permanent impact ``gamma * X``.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy.optimize import curve_fit

from execgym.envs.market.simulation.simulator import MarketSimulator, SimulatorConfig
from execgym.validation import check_choice, check_int, check_positive

logger = logging.getLogger(__name__)

__all__ = ["fit_decay", "metaorder_impact"]


def _run(config: SimulatorConfig, seed: np.random.SeedSequence, side: str, total: int, n_slices: int,
         duration_s: float, post_s: float, dt_s: float, trade: bool) -> np.ndarray:
    sim = MarketSimulator(config, np.random.default_rng(seed))
    n_steps = int(round((duration_s + post_s) / dt_s))
    every = max(1, int(round(duration_s / dt_s / n_slices)))
    sizes = np.full(n_slices, total // n_slices)
    sizes[: total - sizes.sum()] += 1
    mids = np.empty(n_steps + 1)
    mids[0] = sim.book.mid if sim.book.mid is not None else sim.reference_ticks
    k = 0
    for step in range(n_steps):
        if trade and step % every == 0 and k < n_slices:
            sim.submit_market(side, int(sizes[k]))
            k += 1
        report = sim.advance(dt_s)
        mids[step + 1] = report.mid_ticks if report.mid_ticks is not None else sim.reference_ticks
    return mids


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
) -> pd.DataFrame:
    """Average impact path of a metaorder, during and after its execution.

    :param config: the market (its ``warmup_s`` is run before each metaorder starts).
    :param side: ``"buy"`` or ``"sell"``.
    :param total_shares: parent order size (shares), split into ``n_slices`` equal market
        orders, one every ``duration_s / n_slices`` seconds.
    :param post_s: seconds observed after the last slice's interval.
    :param dt_s: sampling step of the path (s).
    :param n_runs: paired runs averaged.
    :return: one row per time step: ``time_s`` (0 = start), ``impact_ticks`` (mean signed
        mid difference vs control), ``stderr_ticks``, ``executing`` (True during the
        metaorder).
    """
    check_choice("side", side, ("buy", "sell"))
    total = check_int("total_shares", total_shares, minimum=1)
    n_slices = check_int("n_slices", n_slices, minimum=1)
    duration_s, post_s, dt_s = (check_positive(n, v) for n, v in
                                (("duration_s", duration_s), ("post_s", post_s), ("dt_s", dt_s)))
    n_runs = check_int("n_runs", n_runs, minimum=2)
    sign = 1.0 if side == "buy" else -1.0
    paths = []
    for child in np.random.SeedSequence(seed).spawn(n_runs):
        with_order = _run(config, child, side, total, n_slices, duration_s, post_s, dt_s, trade=True)
        control = _run(config, child, side, total, n_slices, duration_s, post_s, dt_s, trade=False)
        paths.append(sign * (with_order - control))
    paths = np.array(paths)
    t = np.arange(paths.shape[1]) * dt_s
    return pd.DataFrame({
        "time_s": t,
        "impact_ticks": paths.mean(axis=0),
        "stderr_ticks": paths.std(axis=0, ddof=1) / np.sqrt(n_runs),
        "executing": t < duration_s,
    })


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
