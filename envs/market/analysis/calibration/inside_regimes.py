"""Fit the liquidity-provision regimes (the flow's ``inside_regime_*``) to a recorded day.

A real spread stays wide, or narrow, for tens of seconds beyond its intraday profile: the
GOOG day's (2012-06-21) log spread, sampled each second with its half-hour means removed
(:func:`~execgym.envs.market.analysis.stylized_facts.log_spread_acf`), keeps an
autocorrelation of 0.36 at 10 s and 0.16 at 30 s, and its wide spells carry most of the
volatility's clustering within the day (the 10-s |return| autocorrelation, the intraday
profile removed, falls from 0.040 to 0.016 once each return is divided by its spread). The
calibrated flows' spread forgets in a few seconds (0.22 and 0.03-0.05), because the orders
that improve a wide spread arrive at one rate per spread bucket.

The flow's regimes multiply those orders' probabilities by a log-normal factor whose log is
an Ornstein-Uhlenbeck process (``inside_regime_sigma``, ``inside_regime_time_s``). Both are
fitted to the day's spread memory, as the activity's clock is to its activity
(:mod:`~execgym.envs.market.analysis.calibration.activity`), except that the factor acts
through the book, so its strength is found by simulation:

* ``tau`` from the day's memory at the two lags, ``(l2 - l1) / ln(rho(l1) / rho(l2))`` (an
  exponential's decay between them; GOOG: 24 s);
* ``sigma`` by simulated moments: the market is simulated over the day at each of
  ``sigmas`` (the same seeds at each: common random numbers; ``sigma = 0`` is simulated at
  :data:`ZERO_SIGMA`, so that it too draws the regime's normals from the diffusion's
  stream and the random clock's path is the same at every point), the memories at the first
  lag are made nondecreasing in ``sigma`` (isotonic regression: a running maximum would bias
  the fit upwards), and ``sigma`` is where they, linear between the grid's points, meet the
  day's (0 if the day's is within two standard errors, Bartlett's, of the market's own at
  ``sigma = 0``; the grid's last point if it cannot reach it).

Limits. The refinement of the depth and of the inside orders' probabilities (``refine_depth``)
runs before the regimes and is not redone with them: the cap at 1 lowers the mean
probability of the widest buckets (GOOG: by about 15% in the widest, at ``sigma = 0.76``),
and the wide spreads come with a low factor, so the simulated share of orders posted inside
a wide spread falls below the day's. The second lag is not matched: the spread's own fast moves shorten the memory it shows
beside the factor's, so the fitted market keeps less at 30 s than the day (GOOG: 0.10
against 0.16). A longer ``tau`` does not close that gap measurably: solving ``sigma`` at
1, 1.5, 2.25 and 3.4 times the day's time (24-81 s) kept 0.096-0.130 at 30 s, within two
simulated days' noise, so ``tau`` is not identified by simulation with two simulated days a point and stays the
day's (a joint fit of both over several lags, with more days, is left for later). A
day whose spread keeps no memory at the first lag gets no regimes.
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

__all__ = ["REGIME_LAGS_S", "REGIME_SIGMAS", "ZERO_SIGMA", "fit_inside_regimes", "regime_time_s", "spread_memory"]

#: the lags (s) of the spread's memory that the fit matches
REGIME_LAGS_S = (10.0, 30.0)
#: the log factor's standard deviations simulated
REGIME_SIGMAS = (0.0, 0.5, 1.0, 1.5, 2.0)
#: the ``sigma`` that stands for 0 in the fit's simulations (module docstring)
ZERO_SIGMA = 1e-9


def spread_memory(day: LobsterDay, lags_s: tuple[float, float] = REGIME_LAGS_S, step_s: float = 1.0,
                  bucket_s: float = 1800.0) -> np.ndarray:
    """The autocorrelation of ``day``'s log spread at ``lags_s`` (s), sampled every ``step_s``
    seconds with its mean in each ``bucket_s`` bucket removed (:func:`log_spread_acf`)."""
    return _memory_and_se(day, lags_s, step_s, bucket_s)[0]


def _memory_and_se(day: LobsterDay, lags_s: tuple[float, float], step_s: float = 1.0,
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


def _check_lags(lags_s) -> tuple[float, float]:
    """Two increasing positive lags (s), or ValueError naming them."""
    try:
        l1, l2 = (float(x) for x in lags_s)
    except (TypeError, ValueError):
        raise ValueError(f"lags_s must be two increasing positive lags (s), got {lags_s!r}") from None
    if not (l2 > l1 > 0.0):
        raise ValueError(f"lags_s must be two increasing positive lags (s), got {lags_s!r}")
    return l1, l2


def regime_time_s(rho: np.ndarray, lags_s: tuple[float, float] = REGIME_LAGS_S) -> float:
    """``tau`` (s) of an exponential memory through ``rho`` at ``lags_s`` (module docstring).

    :raises ValueError: unless ``rho[0] > rho[1] > 0`` (no decaying memory to fit).
    """
    r1, r2 = (float(x) for x in rho)
    l1, l2 = _check_lags(lags_s)
    if not (r1 > r2 > 0.0):
        raise ValueError(f"the spread's memory must decay between the lags to fit a time: got {r1:.3f} at {l1:g} s "
                         f"and {r2:.3f} at {l2:g} s")
    return (l2 - l1) / math.log(r1 / r2)


def fit_inside_regimes(market: SimulatorConfig, day: LobsterDay, n_days: int = 2, seed: int = 0,
                       sigmas: tuple[float, ...] = REGIME_SIGMAS, lags_s: tuple[float, float] = REGIME_LAGS_S,
                       progress: bool = False) -> dict:
    """``inside_regime_sigma`` and ``inside_regime_time_s`` of ``market``'s flow fitted to
    ``day`` (module docstring), with ``n_days`` simulated days per point of ``sigmas``.

    :param market: a market calibrated to ``day`` whose flow posts orders inside a wide spread.
    :return: ``{"inside_regime_sigma", "inside_regime_time_s", "day_memory"}`` (the day's
        memory at ``lags_s``), ``"simulated_memory"`` (the market's at the fit, the same lags)
        and ``"sigma_curve"`` (the market's memory at the first lag for each of ``sigmas``).
    """
    if not isinstance(market, SimulatorConfig):
        raise TypeError(f"market must be a SimulatorConfig, got {type(market).__name__}")
    if not market.flow.inside_probs:
        raise ValueError("the regimes modulate the orders inside a wide spread: the market's flow has no inside_probs")
    n_days = check_int("n_days", n_days, minimum=1)
    grid = np.asarray(sigmas, dtype=float)
    if grid.ndim != 1 or len(grid) < 2 or not np.all(np.isfinite(grid)) or grid[0] != 0.0 or np.any(np.diff(grid) <= 0):
        raise ValueError(f"sigmas must be at least two finite increasing values from 0, got {sigmas!r}")
    lags_s = _check_lags(lags_s)
    target, se = _memory_and_se(day, lags_s)
    if target[0] <= 0.0:
        logger.info("inside regimes: the day's spread keeps no memory at %g s (%.3f): none", lags_s[0], target[0])
        return {"inside_regime_sigma": 0.0, "inside_regime_time_s": FlowConfig.inside_regime_time_s,
                "day_memory": tuple(float(x) for x in target), "simulated_memory": (), "sigma_curve": ()}
    if target[1] <= 0.0:  # no memory left at the second lag: the first alone, from 1 at lag 0
        tau = lags_s[0] / math.log(1.0 / min(float(target[0]), 0.999))
    else:
        tau = regime_time_s(target, lags_s)  # refuses a memory that grows between the lags
    seeds = np.random.SeedSequence(seed).spawn(n_days)

    def memory(sigma: float) -> np.ndarray:
        flow = dataclasses.replace(market.flow, inside_regime_sigma=max(float(sigma), ZERO_SIGMA),
                                   inside_regime_time_s=float(tau))
        cfg = dataclasses.replace(market, flow=flow)
        return np.mean([spread_memory(simulate_day(cfg, np.random.default_rng(s), day.duration_s, dt_s=60.0,
                                                   levels=day.levels, open_time_s=day.start_s, progress=progress),
                                      lags_s) for s in seeds], axis=0)

    curve = [float(memory(sigma)[0]) for sigma in grid]
    if target[0] < curve[0] + 2.0 * se:
        # the day's spread remembers no more than the market's own, within two standard errors
        logger.info("inside regimes: the day's memory %.3f at %g s is within 2 s.e. (%.3f) of the market's own %.3f: "
                    "none", target[0], lags_s[0], se, curve[0])
        sigma = 0.0
    else:
        sigma = _solve(grid, np.asarray(curve), float(target[0]))
    fitted = memory(sigma)
    logger.info("inside regimes: tau %.1f s, sigma %.3f keeps %.3f at %g s and %.3f at %g s (the day: %.3f, %.3f)",
                tau, sigma, fitted[0], lags_s[0], fitted[1], lags_s[1], *target)
    return {"inside_regime_sigma": sigma, "inside_regime_time_s": tau,
            "day_memory": tuple(float(x) for x in target), "simulated_memory": tuple(float(x) for x in fitted),
            "sigma_curve": tuple(curve)}


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
