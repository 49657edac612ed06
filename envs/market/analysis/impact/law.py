"""Metaorder impact and the square-root law.

The square-root law (Torre 1997; Almgren, Thum, Hauptmann and Li 2005, "Direct estimation
of equity market impact", Risk 18; Toth et al. 2011, "Anomalous price impact and the
critical nature of liquidity in financial markets", Phys. Rev. X 1): the peak impact of
a metaorder of ``Q`` shares is

    I(Q) = Y * sigma * sqrt(Q / V),

with ``sigma`` the volatility and ``V`` the volume over the same reference period, and
``Y`` of order one. For a diffusive price ``sigma_T = sigma_1 sqrt(T)`` and ``V_T = v T``,
so ``sigma_T sqrt(Q / V_T) = sigma_1 sqrt(Q / v)`` does not depend on the period: here
``sigma`` is in ticks per sqrt(second) and ``V`` in shares per second (:func:`market_scale`).

:func:`impact_vs_size` measures metaorders of several sizes in the simulated market with
:func:`execgym.envs.market.analysis.impact.metaorder.metaorder_impacts` (paired control runs, one control per
seed for all sizes, the runs over ``n_workers`` processes): the peak impact at the
end of execution, its permanent part (the plateau of :func:`~execgym.envs.market.analysis.impact.metaorder.fit_decay`
after the end) and the temporary part (peak minus permanent). Metaorders run at a fixed
participation rate (their duration grows with ``Q``, as real metaorders do) or over a
fixed duration.

:func:`fit_square_root` fits ``Y`` with the exponent fixed at 1/2 (weighted least squares,
weights ``1 / stderr^2``, errors scaled by the reduced chi-square when it exceeds one, a
Student-t interval), and the free exponent ``delta`` of ``I = A (Q / V)^delta`` by a
weighted log-log regression, so a linear (``delta = 1``) or concave response is told apart
from the square root.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from execgym.envs.market.analysis.impact.metaorder import Metaorder, fit_decay, metaorder_impacts
from execgym.envs.market.data.lobster_data import LobsterDay
from execgym.envs.market.simulation.events import EventType
from execgym.envs.market.simulation.simulator import SimulatorConfig
from execgym.validation import check_choice, check_fraction, check_int, check_positive

logger = logging.getLogger(__name__)

__all__ = ["SquareRootFit", "fit_square_root", "fit_square_root_runs", "impact_vs_participation", "impact_vs_size",
           "market_scale"]


def market_scale(day: LobsterDay, interval_s: float = 60.0) -> tuple[float, float]:
    """``(sigma, v)``: mid volatility in ticks/sqrt(s) (from ``interval_s`` mid changes) and
    traded volume in shares/s (visible and hidden executions) of a day."""
    interval_s = check_positive("interval_s", interval_s)
    t = day.messages["time_s"].to_numpy()
    mid = day.mid_ticks()
    grid = np.arange(t[0], t[-1], interval_s)
    idx = np.searchsorted(t, grid, side="right") - 1
    m = mid[idx]
    dm = np.diff(m[np.isfinite(m)])
    if len(dm) < 2:
        raise ValueError(f"the day is too short for interval_s={interval_s}")
    sigma = float(np.sqrt(np.mean(dm ** 2) / interval_s))
    ex = day.messages["type"].isin((EventType.EXECUTION_VISIBLE, EventType.EXECUTION_HIDDEN)).to_numpy()
    v = float(day.messages["size_shares"].to_numpy()[ex].sum() / (t[-1] - t[0]))
    return sigma, v


def impact_vs_size(
    config: SimulatorConfig,
    sizes_shares,
    side: str = "buy",
    participation: float | None = 0.1,
    duration_s: float = 60.0,
    volume_per_s: float | None = None,
    slice_every_s: float = 2.0,
    post_s: float = 120.0,
    dt_s: float = 1.0,
    n_runs: int = 20,
    seed: int = 0,
    n_workers: int = 1,
    progress: bool = False,
) -> tuple[pd.DataFrame, dict]:
    """Peak, permanent and temporary impact of metaorders of each size (ticks, signed so
    that buys and sells both show positive impact).

    :param participation: execute at this fraction of the market's volume (duration
        ``Q / (participation * volume_per_s)``); ``None``: every metaorder over ``duration_s``.
    :param volume_per_s: the market's volume rate (default: the flow's expected rate).
    :param slice_every_s: one market-order slice this often.
    :param n_runs: paired runs per size, the same seeds for every size (one control run
        per seed serves them all: :func:`~execgym.envs.market.analysis.impact.metaorder.metaorder_impacts`).
    :param n_workers: processes the runs are spread over (the same numbers for any).
    :param progress: a tqdm bar over the runs.
    :return: ``(table, paths)``: one row per size with ``size_shares``, ``duration_s``,
        ``peak_ticks``, ``peak_stderr_ticks``, ``permanent_ticks``, ``permanent_stderr_ticks``
        (mean pointwise error over the window), ``temporary_ticks``, ``decay_rate_per_s``;
        ``paths[size]`` is the size's impact path (``time_s``, ``impact_ticks``, ``stderr_ticks``, ``executing``).
    """
    check_choice("side", side, ("buy", "sell"))
    sizes = [check_int("sizes_shares[i]", int(q), minimum=1) for q in np.atleast_1d(sizes_shares)]
    if participation is not None:
        check_fraction("participation", participation, allow_zero=False)
    v = config.flow.expected_volume_per_s() if volume_per_s is None else check_positive("volume_per_s", volume_per_s)
    dt_s = check_positive("dt_s", dt_s)
    slice_every_s = check_positive("slice_every_s", slice_every_s)
    orders = []
    for q in sizes:
        dur = duration_s if participation is None else q / (participation * v)
        dur = max(dt_s, round(dur / dt_s) * dt_s)
        orders.append(Metaorder(q, dur, max(1, int(round(dur / slice_every_s))), post_s))
    impacts = metaorder_impacts(config, orders, side=side, dt_s=dt_s, n_runs=n_runs, seed=seed,
                                n_workers=n_workers, progress=progress)
    rows, paths = [], {}
    for q, order, path in zip(sizes, orders, impacts):
        dur = order.duration_s
        end = path.index[path["time_s"] >= dur - 1e-9][0]
        peak = float(path.loc[end, "impact_ticks"])
        late = path["time_s"] >= dur + 0.5 * post_s
        permanent = float(path.loc[late, "impact_ticks"].mean())
        try:
            rate = fit_decay(path, dur)["rate_per_s"]
        except (RuntimeError, ValueError):  # no decay to fit (e.g. a path that never moved)
            rate = float("nan")
        rows.append({"size_shares": q, "duration_s": dur, "peak_ticks": peak,
                     "peak_stderr_ticks": float(path.loc[end, "stderr_ticks"]),
                     "permanent_ticks": permanent, "permanent_stderr_ticks": float(path.loc[late, "stderr_ticks"].mean()),
                     "temporary_ticks": peak - permanent, "decay_rate_per_s": rate})
        paths[q] = path
        logger.info("metaorder %d shares over %.0f s: peak %.2f ticks", q, dur, peak)
    return pd.DataFrame(rows), paths


def impact_vs_participation(
    config: SimulatorConfig,
    participations,
    durations_s,
    volume_per_s: float,
    sigma_ticks_per_sqrt_s: float,
    side: str = "buy",
    slice_every_s: float = 10.0,
    post_s: float = 1200.0,
    dt_s: float = 10.0,
    n_runs=20,
    seed: int = 0,
    n_workers: int = 1,
    progress: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The square-root law at several participation rates: at each rate ``p``, metaorders of
    sizes ``Q = p V T`` for each duration ``T`` in ``durations_s`` (:func:`impact_vs_size`),
    and their fit (:func:`fit_square_root`), so the exponent is measured over a range of
    sizes at a fixed rate, as a trader at that rate would see it.

    :param volume_per_s: ``V`` (shares/s), the market's volume rate the rates refer to.
    :param sigma_ticks_per_sqrt_s: the market's volatility, for the prefactor ``Y``.
    :param n_runs: paired runs per metaorder: one number, or one per participation rate (a
        small rate's impact is small beside the book's own fluctuations, so it needs more);
        each an integer of at least 2 (``TypeError`` / ``ValueError`` otherwise).
    :param n_workers: processes each rate's runs are spread over (the same numbers for any).
    :param progress: a tqdm bar over each rate's runs.
    :return: ``(sizes, fits, paths)``: one row per (participation, size) with
        :func:`impact_vs_size`'s columns and ``participation``; one row per participation
        with :meth:`SquareRootFit.as_row` (and one ``"pooled"`` over all); ``paths[(p, Q)]``.
    """
    rates = [check_fraction("participations[i]", float(p), allow_zero=False) for p in np.atleast_1d(participations)]
    durations = [check_positive("durations_s[i]", float(t)) for t in np.atleast_1d(durations_s)]
    if len(durations) < 3:
        raise ValueError(f"need at least 3 durations for a fit, got {len(durations)}")
    volume = check_positive("volume_per_s", volume_per_s)
    sigma = check_positive("sigma_ticks_per_sqrt_s", sigma_ticks_per_sqrt_s)
    runs = _runs_per_rate(n_runs, len(rates))
    tables, fits, paths = [], [], {}
    for p, n in zip(rates, runs):
        sizes = [max(1, int(round(p * volume * t))) for t in durations]
        tab, pth = impact_vs_size(config, sizes, side=side, participation=p, volume_per_s=volume,
                                  slice_every_s=slice_every_s, post_s=post_s, dt_s=dt_s, n_runs=n, seed=seed,
                                  n_workers=n_workers, progress=progress)
        tab = tab.assign(participation=p, n_runs=n)
        tables.append(tab)
        fits.append({"participation": p, "n_runs": n, **fit_square_root(tab["size_shares"], tab["peak_ticks"],
                                                           tab["peak_stderr_ticks"], sigma, volume).as_row()})
        paths |= {(p, q): path for q, path in pth.items()}
        logger.info("participation %.0f%%: impact exponent %.2f", 100 * p, fits[-1]["delta"])
    sizes_table = pd.concat(tables, ignore_index=True)
    pooled = fit_square_root(sizes_table["size_shares"], sizes_table["peak_ticks"], sizes_table["peak_stderr_ticks"],
                             sigma, volume)
    fits.append({"participation": "pooled", **pooled.as_row()})
    return sizes_table, pd.DataFrame(fits), paths


def _runs_per_rate(n_runs, n_rates: int) -> list[int]:
    """``n_runs`` (one number or one per rate) as one number per rate, each at least 2."""
    if isinstance(n_runs, (int, np.integer)) and not isinstance(n_runs, bool):
        return [check_int("n_runs", n_runs, minimum=2)] * n_rates
    if isinstance(n_runs, (str, bytes, Mapping)) or not isinstance(n_runs, Iterable):
        raise TypeError(f"n_runs must be an int or one int per participation rate, got {n_runs!r}")
    runs = list(n_runs)
    if len(runs) != n_rates:
        raise ValueError(f"n_runs has {len(runs)} entries for {n_rates} participation rates: {n_runs!r}")
    for i, n in enumerate(runs):
        check_int(f"n_runs[{i}]", n, minimum=2)
    return [int(n) for n in runs]


@dataclass(frozen=True)
class SquareRootFit:
    """``I = Y sigma sqrt(Q / V)`` with ``Y`` and its interval, and the free-exponent fit.

    ``y``, ``y_se``, ``y_ci95``: the prefactor with the exponent fixed at 1/2;
    ``delta``, ``delta_se``, ``delta_ci95``: the exponent of ``I = A (Q/V)^delta``;
    ``chi2_dof``: reduced chi-square of the square-root fit (about 1 if it fits).
    """

    y: float
    y_se: float
    y_ci95: tuple[float, float]
    delta: float
    delta_se: float
    delta_ci95: tuple[float, float]
    chi2_dof: float
    n: int

    def as_row(self) -> dict:
        return {"Y": self.y, "Y_se": self.y_se, "Y_ci95_lo": self.y_ci95[0], "Y_ci95_hi": self.y_ci95[1],
                "delta": self.delta, "delta_se": self.delta_se, "delta_ci95_lo": self.delta_ci95[0],
                "delta_ci95_hi": self.delta_ci95[1], "chi2_dof": self.chi2_dof, "n_sizes": self.n}


def fit_square_root(size_shares, impact_ticks, stderr_ticks, sigma: float, volume: float) -> SquareRootFit:
    """Fit the square-root law to measured impacts (see the module docstring).

    :param size_shares: metaorder sizes ``Q``.
    :param impact_ticks: their peak impacts (> 0 for the log-log fit).
    :param stderr_ticks: standard errors of the impacts; zeros (a quantised mid that never
        moved) are raised to the smallest positive one.
    :param sigma: volatility (ticks per sqrt(unit of time)).
    :param volume: volume per the same unit of time (shares).
    """
    q = np.asarray(size_shares, dtype=float)
    i = np.asarray(impact_ticks, dtype=float)
    se = np.asarray(stderr_ticks, dtype=float)
    if not (q.ndim == i.ndim == se.ndim == 1 and len(q) == len(i) == len(se)):
        raise ValueError(f"size_shares, impact_ticks and stderr_ticks must be 1-D of equal length, got "
                         f"{q.shape}, {i.shape}, {se.shape}")
    n = len(q)
    if n < 3:
        raise ValueError(f"need at least 3 sizes, got {n}")
    if np.any(q <= 0) or np.any(se < 0) or not (np.all(np.isfinite(i)) and np.all(np.isfinite(se))):
        raise ValueError("sizes must be > 0, standard errors >= 0 and both finite, impacts finite")
    if not np.any(se > 0):
        raise ValueError("at least one standard error must be > 0")
    se = np.maximum(se, se[se > 0].min())  # a zero error (every run alike) gets the smallest seen
    sigma = check_positive("sigma", sigma)
    volume = check_positive("volume", volume)
    x = sigma * np.sqrt(q / volume)
    w = 1.0 / se ** 2
    y = float(np.sum(w * x * i) / np.sum(w * x * x))
    chi2 = float(np.sum(w * (i - y * x) ** 2) / (n - 1))
    y_se = math.sqrt(1.0 / np.sum(w * x * x)) * math.sqrt(max(1.0, chi2))
    t1 = stats.t.ppf(0.975, n - 1)
    # free exponent: weighted log-log regression (var(log I) ~ (se / I)^2)
    if np.any(i <= 0):
        delta = delta_se = float("nan")
        dci = (float("nan"), float("nan"))
    else:
        lx, ly = np.log(q / volume), np.log(i)
        wl = (i / se) ** 2
        X = np.column_stack([np.ones(n), lx])
        cov = np.linalg.inv(X.T @ (X * wl[:, None]))
        beta = cov @ X.T @ (wl * ly)
        chi2_l = float(np.sum(wl * (ly - X @ beta) ** 2) / (n - 2)) if n > 2 else 1.0
        delta = float(beta[1])
        delta_se = float(math.sqrt(cov[1, 1] * max(1.0, chi2_l)))
        t2 = stats.t.ppf(0.975, max(n - 2, 1))
        dci = (delta - t2 * delta_se, delta + t2 * delta_se)
    return SquareRootFit(y, y_se, (y - t1 * y_se, y + t1 * y_se), delta, delta_se, dci, chi2, n)


#: the columns of a run's sizes that :func:`fit_square_root_runs` reads
RUN_COLUMNS = ("size_shares", "peak_ticks", "peak_stderr_ticks")


def fit_square_root_runs(runs) -> SquareRootFit:
    """One fit of the square-root law over independent runs of a metaorder experiment (e.g.
    seeds of ``square_root_law``), each with the market scale it measured: every run's sizes
    in units of its own ``V`` (``Q / V``) and its impacts in units of its own ``sigma``, pooled
    into :func:`fit_square_root` (with ``sigma = V = 1``). The exponent's fit reads ``Q / V``
    and the impacts' relative errors, so one run gives :func:`fit_square_root`'s exponent and
    ``Y`` (to rounding).

    :param runs: ``(sizes, sigma, volume)`` per run: ``sizes`` a frame with the columns
        :data:`RUN_COLUMNS` (a ``sizes.csv`` of ``square_root_law``, one participation rate),
        ``sigma`` its volatility (ticks/sqrt(s)), ``volume`` its volume rate (shares/s).
    :raises ValueError: no runs, a frame without those columns, a scale that is not positive.
    """
    runs = list(runs)
    if not runs:
        raise ValueError("fit_square_root_runs needs at least one run, got none")
    q, i, se = [], [], []
    for k, run in enumerate(runs):
        try:
            sizes, sigma, volume = run
        except (TypeError, ValueError):
            raise ValueError(f"run {k} must be (sizes, sigma, volume), got {run!r}") from None
        missing = [c for c in RUN_COLUMNS if c not in getattr(sizes, "columns", ())]
        if missing:
            raise ValueError(f"run {k}'s sizes lack the columns {missing} (need {list(RUN_COLUMNS)})")
        sigma = check_positive(f"run {k}'s sigma", sigma)
        volume = check_positive(f"run {k}'s volume", volume)
        q.append(sizes["size_shares"].to_numpy(float) / volume)
        i.append(sizes["peak_ticks"].to_numpy(float) / sigma)
        se.append(sizes["peak_stderr_ticks"].to_numpy(float) / sigma)
    return fit_square_root(np.concatenate(q), np.concatenate(i), np.concatenate(se), sigma=1.0, volume=1.0)
