"""Fit the liquidity-provision regimes (the flow's ``inside_regime_*``) to a recorded day.

A real spread stays wide, or narrow, for tens of seconds beyond its intraday profile: the
GOOG day's (2012-06-21) log spread, sampled each second with its half-hour means removed
(:func:`~execgym.envs.market.analysis.stylized_facts.log_spread_acf`), keeps an
autocorrelation of 0.36 at 10 s, 0.16 at 30 s and 0.07 at 60 s, and its wide spells carry most of the
volatility's clustering within the day (the 10-s |return| autocorrelation, the intraday
profile removed, falls from 0.040 to 0.016 once each return is divided by its spread). The
calibrated flows' spread forgets in a few seconds (0.22 and 0.03-0.05), because the orders
that improve a wide spread arrive at one rate per spread bucket.

The flow's regimes multiply those orders' probabilities by a log-normal factor whose log is
an Ornstein-Uhlenbeck process (``inside_regime_sigma``, ``inside_regime_time_s``). Both are
fitted to the day's spread memory, as the activity's clock is to its activity
(:mod:`~execgym.envs.market.analysis.calibration.activity`), except that the factor acts
through the book, so its strength and its time are found by simulation:

* ``sigma`` by simulated moments at a given ``tau``: the market is simulated over the day at
  each of ``sigmas`` (the same seeds at each: common random numbers; ``sigma = 0`` is
  simulated at :data:`ZERO_SIGMA`, so that it too draws the regime's normals from the
  diffusion's stream and the random clock's path is the same at every point), the memories
  at the first lag (10 s) are made nondecreasing in ``sigma`` (isotonic regression: a
  running maximum would bias the fit upwards), and ``sigma`` is where they, linear between
  the grid's points, meet the day's (0 if the day's is within two standard errors,
  Bartlett's, of the market's own at ``sigma = 0``; the grid's last point if it cannot
  reach it);
* ``tau`` by least squares at the other lags (30 and 60 s): the spread's own fast moves
  shorten the memory it shows beside the factor's, so the day's exponential time between the
  first two lags, ``tau0 = (l2 - l1) / ln(rho(l1) / rho(l2))`` (GOOG: 24 s), is too short for
  the factor (at ``tau0`` the fitted GOOG market kept 0.09-0.10 at 30 s against the day's
  0.16). ``sigma`` is solved at each of ``time_factors`` times ``tau0`` (the same seeds), the
  squared error of the market's memory at the other lags (linear between the ``sigmas``) is
  taken at each, and ``tau`` is the vertex of the least-squares parabola through those errors
  in ``log tau`` (within the grid), ``sigma`` the solved values' interpolation there. On GOOG
  (2012-06-21, three simulated days a point) the errors fall from 0.0075 at 24 s to 0.0005 at
  81 s and rise again (0.0010 at 121 s): ``tau`` 80 s, ``sigma`` 0.73, and the fitted market
  keeps 0.35, 0.16, 0.07 at 10, 30, 60 s against the day's 0.36, 0.16, 0.07. Fitting 30 s
  alone chose 120 s, whose memory at 60 s (0.10) and 120 s (0.04) is longer than the day's
  (0.07, -0.02): the third lag keeps the time from following the second's noise.

Limits. The refinement of the depth and of the inside orders' probabilities (``refine_depth``)
runs before the regimes and is not redone with them: the cap at 1 lowers the mean
probability of the widest buckets (GOOG: by about 15% in the widest, at ``sigma = 0.76``),
and the wide spreads come with a low factor, so the simulated share of orders posted inside
a wide spread falls below the day's. The fit costs ``n_days`` simulated days at each of the
``len(time_factors) * (len(sigmas) - 1) + 2`` points (GOOG, three days a point: about a
minute on one core). A day whose spread keeps no memory at the first lag gets no regimes.
"""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np
from scipy.optimize import isotonic_regression

from execgym.envs.market.analysis.stylized_facts import bartlett_se, book_on_grid, log_spread_acf
from execgym.envs.market.data.lobster_data import LobsterDay
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation.flow import FlowConfig
from execgym.envs.market.simulation.simulator import SimulatorConfig
from execgym.validation import check_int, check_positive

logger = logging.getLogger(__name__)

__all__ = ["REGIME_LAGS_S", "REGIME_SIGMAS", "REGIME_TIME_FACTORS", "ZERO_SIGMA", "fit_inside_regimes", "regime_time_s", "spread_memory"]

#: the lags (s) of the spread's memory that the fit matches
REGIME_LAGS_S = (10.0, 30.0, 60.0)
#: the log factor's standard deviations simulated
REGIME_SIGMAS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
#: the correlation times simulated, as multiples of the day's exponential time
REGIME_TIME_FACTORS = (1.0, 1.5, 2.25, 3.375, 5.0625)
#: the ``sigma`` that stands for 0 in the fit's simulations (module docstring)
ZERO_SIGMA = 1e-9


def spread_memory(day: LobsterDay, lags_s: tuple[float, ...] = REGIME_LAGS_S, step_s: float = 1.0,
                  bucket_s: float = 1800.0) -> np.ndarray:
    """The autocorrelation of ``day``'s log spread at ``lags_s`` (s), sampled every ``step_s``
    seconds with its mean in each ``bucket_s`` bucket removed (:func:`log_spread_acf`)."""
    return _memory_and_se(day, lags_s, step_s, bucket_s)[0]


def _memory_and_se(day: LobsterDay, lags_s: tuple[float, ...], step_s: float = 1.0,
                   bucket_s: float = 1800.0) -> tuple[np.ndarray, float]:
    """:func:`spread_memory` and Bartlett's standard error of its first lag."""
    step_s = check_positive("step_s", step_s)
    lags_s = _check_lags(lags_s)
    lags = [int(round(lag / step_s)) for lag in lags_s]
    if min(lags) < 1 or any(abs(k * step_s - lag) > 1e-9 * lag for k, lag in zip(lags, lags_s)):
        raise ValueError(f"lags_s must be positive multiples of step_s={step_s!r}, got {lags_s!r}")
    grid = book_on_grid(day, step_s)
    acf = log_spread_acf(grid.time_s, grid.spread_ticks, max(lags), bucket_s)
    n = int(np.sum(np.isfinite(grid.spread_ticks) & (grid.spread_ticks > 0)))
    return np.array([acf[k - 1] for k in lags]), bartlett_se(acf, lags[0], n)


def _check_lags(lags_s) -> tuple[float, ...]:
    """Two or more increasing positive lags (s), or ValueError naming them."""
    try:
        lags = tuple(float(x) for x in lags_s)
    except (TypeError, ValueError):
        raise ValueError(f"lags_s must be two or more increasing positive lags (s), got {lags_s!r}") from None
    if len(lags) < 2 or not lags[0] > 0.0 or any(b <= a for a, b in zip(lags, lags[1:])):
        raise ValueError(f"lags_s must be two or more increasing positive lags (s), got {lags_s!r}")
    return lags


def regime_time_s(rho: np.ndarray, lags_s: tuple[float, float] = REGIME_LAGS_S[:2]) -> float:
    """``tau`` (s) of an exponential memory through ``rho`` at the two lags ``lags_s`` (module
    docstring).

    :raises ValueError: unless ``rho[0] > rho[1] > 0`` (no decaying memory to fit).
    """
    lags = _check_lags(lags_s)
    if len(lags) != 2 or len(rho) != 2:
        raise ValueError(f"lags_s and rho must hold two values each, got lags_s={lags_s!r}, rho={rho!r}")
    (l1, l2), (r1, r2) = lags, (float(x) for x in rho)
    if not (r1 > r2 > 0.0):
        raise ValueError(f"the spread's memory must decay between the lags to fit a time: got {r1:.3f} at {l1:g} s "
                         f"and {r2:.3f} at {l2:g} s")
    return (l2 - l1) / math.log(r1 / r2)


def fit_inside_regimes(market: SimulatorConfig, day: LobsterDay, n_days: int = 2, seed: int = 0,
                       sigmas: tuple[float, ...] = REGIME_SIGMAS, lags_s: tuple[float, ...] = REGIME_LAGS_S,
                       time_factors: tuple[float, ...] = REGIME_TIME_FACTORS, progress: bool = False) -> dict:
    """``inside_regime_sigma`` and ``inside_regime_time_s`` of ``market``'s flow fitted to
    ``day`` (module docstring), with ``n_days`` simulated days per point of the grid
    ``time_factors`` (times the day's exponential time) by ``sigmas``.

    :param market: a market calibrated to ``day`` whose flow posts orders inside a wide spread.
    :param lags_s: the lags (s) of the spread's memory: the first two give the day's
        exponential time, ``sigma`` matches the first, ``tau`` the others (least squares).
    :param time_factors: the times simulated, as multiples of the day's exponential time
        (``(1.0,)``: that time, the fit of the first lag alone).
    :return: ``{"inside_regime_sigma", "inside_regime_time_s", "day_memory"}`` (the day's
        memory at ``lags_s``), ``"simulated_memory"`` (the market's at the fit, the same lags),
        ``"sigma_curve"`` (the market's memory at the first lag for each of ``sigmas``, at the
        time nearest the fit) and ``"time_curve"`` (for each time simulated: the time (s),
        the ``sigma`` solved there and the squared error at the other lags).
    """
    if not isinstance(market, SimulatorConfig):
        raise TypeError(f"market must be a SimulatorConfig, got {type(market).__name__}")
    if not market.flow.inside_probs:
        raise ValueError("the regimes modulate the orders inside a wide spread: the market's flow has no inside_probs")
    n_days = check_int("n_days", n_days, minimum=1)
    grid = np.asarray(sigmas, dtype=float)
    if grid.ndim != 1 or len(grid) < 2 or not np.all(np.isfinite(grid)) or grid[0] != 0.0 or np.any(np.diff(grid) <= 0):
        raise ValueError(f"sigmas must be at least two finite increasing values from 0, got {sigmas!r}")
    factors = np.asarray(time_factors, dtype=float)
    if (factors.ndim != 1 or len(factors) < 1 or not np.all(np.isfinite(factors)) or np.any(factors <= 0.0)
            or np.any(np.diff(factors) <= 0)):
        raise ValueError(f"time_factors must be one or more finite increasing positive values, got {time_factors!r}")
    lags_s = _check_lags(lags_s)
    target, se = _memory_and_se(day, lags_s)
    if target[0] <= 0.0:
        logger.info("inside regimes: the day's spread keeps no memory at %g s (%.3f): none", lags_s[0], target[0])
        return {"inside_regime_sigma": 0.0, "inside_regime_time_s": FlowConfig.inside_regime_time_s,
                "day_memory": tuple(float(x) for x in target), "simulated_memory": (), "sigma_curve": (),
                "time_curve": ()}
    if target[1] <= 0.0:  # no memory left at the second lag: the first alone, from 1 at lag 0
        tau0 = lags_s[0] / math.log(1.0 / min(float(target[0]), 0.999))
    else:
        tau0 = regime_time_s(target[:2], lags_s[:2])  # refuses a memory that grows between the lags
    seeds = np.random.SeedSequence(seed).spawn(n_days)

    def memory(sigma: float, tau: float) -> np.ndarray:
        flow = dataclasses.replace(market.flow, inside_regime_sigma=max(float(sigma), ZERO_SIGMA),
                                   inside_regime_time_s=float(tau))
        cfg = dataclasses.replace(market, flow=flow)
        return np.mean([spread_memory(simulate_day(cfg, np.random.default_rng(s), day.duration_s, dt_s=60.0,
                                                   levels=day.levels, open_time_s=day.start_s, progress=progress),
                                      lags_s) for s in seeds], axis=0)

    zero = memory(0.0, tau0)  # the same at every time: the factor is 1 (module docstring)
    if target[0] < zero[0] + 2.0 * se:
        # the day's spread remembers no more than the market's own, within two standard errors
        logger.info("inside regimes: the day's memory %.3f at %g s is within 2 s.e. (%.3f) of the market's own %.3f: "
                    "none", target[0], lags_s[0], se, zero[0])
        return {"inside_regime_sigma": 0.0, "inside_regime_time_s": tau0,
                "day_memory": tuple(float(x) for x in target), "simulated_memory": tuple(float(x) for x in zero),
                "sigma_curve": (float(zero[0]),), "time_curve": ()}
    taus = tau0 * factors
    solved, losses, curves = [], [], []
    for tau in taus:
        rows = np.array([zero] + [memory(sigma, tau) for sigma in grid[1:]])  # sigmas x lags
        sigma = _solve(grid, rows[:, 0], float(target[0]))
        rest = np.array([np.interp(sigma, grid, rows[:, j]) for j in range(1, len(lags_s))])
        solved.append(sigma)
        losses.append(float(np.sum((rest - target[1:]) ** 2)))
        curves.append(tuple(float(x) for x in rows[:, 0]))
        logger.info("inside regimes: tau %.1f s: sigma %.3f keeps %s at %s s (the day: %s)", tau, sigma,
                    np.round(rest, 3).tolist(), list(lags_s[1:]), np.round(target[1:], 3).tolist())
    x = np.log(factors)
    k = _minimum(x, np.asarray(losses))
    tau, sigma = float(tau0 * math.exp(k)), float(np.interp(k, x, solved))
    fitted = memory(sigma, tau)
    logger.info("inside regimes: tau %.1f s, sigma %.3f keeps %s at %s s (the day: %s)", tau, sigma,
                np.round(fitted, 3).tolist(), list(lags_s), np.round(target, 3).tolist())
    return {"inside_regime_sigma": sigma, "inside_regime_time_s": tau,
            "day_memory": tuple(float(x) for x in target), "simulated_memory": tuple(float(x) for x in fitted),
            "sigma_curve": curves[int(np.argmin(np.abs(x - k)))],
            "time_curve": tuple((float(t), float(s), float(e)) for t, s, e in zip(taus, solved, losses))}


def _minimum(x: np.ndarray, loss: np.ndarray) -> float:
    """Where ``loss`` over ``x`` is least: the vertex of the least-squares parabola through
    them (three points or more; the simulations' noise makes single points unreliable),
    within ``x``'s range, or the smallest point's ``x`` if the parabola opens downwards."""
    if len(x) < 3:
        return float(x[int(np.argmin(loss))])
    a, b, _ = np.polyfit(x, loss, 2)
    if a <= 0.0:
        return float(x[int(np.argmin(loss))])
    return float(np.clip(-b / (2.0 * a), x[0], x[-1]))


def _solve(grid: np.ndarray, curve: np.ndarray, target: float) -> float:
    """Where ``curve`` (nondecreasing in ``grid`` up to noise: fitted by isotonic regression),
    linear between its points, meets ``target``: ``grid[0]`` below it, ``grid[-1]`` above it."""
    sim = isotonic_regression(curve).x
    if target <= sim[0]:
        return float(grid[0])
    if target >= sim[-1]:
        logger.warning("inside regimes: the largest sigma (%.3g) keeps %.3f, short of the day's %.3f", grid[-1],
                       sim[-1], target)
        return float(grid[-1])
    k = int(np.searchsorted(sim, target, side="right"))  # sim[k - 1] <= target < sim[k]
    return float(grid[k - 1] + (grid[k] - grid[k - 1]) * (target - sim[k - 1]) / (sim[k] - sim[k - 1]))
