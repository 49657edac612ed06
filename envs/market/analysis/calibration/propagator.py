"""Fit the power-law propagator (transient impact model) to a recorded day.

The model (:mod:`execgym.envs.market.simulation.propagator`): the mid is the sum of the
decayed impacts of past marketable orders, ``m(t) = sum_i G(t - t_i) v_i`` with
``G(t) = G0 (1 + t/t0)^(-beta) + G_inf`` (ticks per share; ``v_i`` signed shares, + buy).
On a grid of ``bin_s`` seconds, with ``S_t`` the signed marketable volume of bin ``t``,
the mid's changes are ``dm_t = sum_{k >= 0} (G(k bin) - G((k-1) bin)) S_{t-k} + noise``
(``G(-bin) = 0``): the regression form of Bouchaud, Gefen, Potters and Wyart (2004) and
of Eisler, Bouchaud and Kockelkoren (2012), "The price impact of order book events:
market orders, limit orders and cancellations", Quantitative Finance 12(9). The
parameters are fitted by least squares on the changes (the regression deconvolves the
correlation of the signs, so the kernel is the bare one, not the response function), and
their 95% intervals come from a moving-block bootstrap over the day (blocks of
``block_s``, reweighting the squared residuals).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq, least_squares
from scipy.signal import fftconvolve

from execgym.envs.market.analysis.calibration.flow import marketable_orders, mid_on_grid
from execgym.envs.market.data.lobster_data import LobsterDay
from execgym.envs.market.simulation.propagator import metaorder_response
from execgym.validation import check_int, check_positive

logger = logging.getLogger(__name__)

__all__ = ["PropagatorFit", "calibrate_propagator", "fit_propagator", "signed_volume_grid"]


def signed_volume_grid(day: LobsterDay, bin_s: float) -> tuple[np.ndarray, np.ndarray]:
    """``(dm_ticks, s_shares)``: the mid's change over each ``bin_s`` bin of the session and
    the signed volume of the marketable orders in it (+ buyer-initiated)."""
    bin_s = check_positive("bin_s", bin_s)
    edges = np.arange(day.start_s, day.end_s + 1e-9, bin_s)
    if len(edges) < 3:
        raise ValueError(f"the session ({day.duration_s} s) is too short for bin_s={bin_s}")
    m = mid_on_grid(day, edges)
    if not np.isfinite(m).any():
        raise ValueError("the day has no two-sided quote to take a mid from")
    mo = marketable_orders(day.messages, day.start_s, day.end_s)
    b = np.minimum(((mo["time_s"].to_numpy() - day.start_s) // bin_s).astype(np.int64), len(edges) - 2)
    s = np.bincount(b, weights=(mo["sign"] * mo["size_shares"]).to_numpy(), minlength=len(edges) - 1)
    return np.nan_to_num(np.diff(m)), s


def _kernel(params: np.ndarray, lags_s: np.ndarray) -> np.ndarray:
    g0, beta, log_t0, g_inf = params
    return g0 * np.power(1.0 + lags_s / math.exp(log_t0), -beta) + g_inf


def _increments(params: np.ndarray, lags_s: np.ndarray) -> np.ndarray:
    g = _kernel(params, lags_s)
    return np.diff(g, prepend=0.0)


@dataclass(frozen=True)
class PropagatorFit:
    """The fitted kernel ``G(t) = G0 (1 + t/t0)^(-beta) + G_inf`` with 95% bootstrap intervals.

    ``g0_ticks_per_share``, ``beta``, ``t0_s``, ``g_inf_ticks_per_share`` (the permanent
    part), each with ``*_ci95``; ``r2``: the share of the mid changes' variance explained.
    """

    g0_ticks_per_share: float
    beta: float
    t0_s: float
    g_inf_ticks_per_share: float
    g0_ci95: tuple[float, float]
    beta_ci95: tuple[float, float]
    t0_ci95: tuple[float, float]
    g_inf_ci95: tuple[float, float]
    r2: float
    bin_s: float
    max_lag_s: float

    def impact_config(self) -> dict[str, float]:
        """The :class:`~execgym.envs.market.simulation.flow.ImpactConfig` fields it sets."""
        return {"propagator_ticks_per_share": self.g0_ticks_per_share, "propagator_exponent": self.beta,
                "propagator_time_s": self.t0_s, "permanent_ticks_per_share": self.g_inf_ticks_per_share}

    def as_row(self) -> dict[str, float]:
        row = {"G0_ticks_per_share": self.g0_ticks_per_share, "beta": self.beta, "t0_s": self.t0_s,
               "G_inf_ticks_per_share": self.g_inf_ticks_per_share, "r2": self.r2, "bin_s": self.bin_s,
               "max_lag_s": self.max_lag_s}
        for name in ("g0", "beta", "t0", "g_inf"):
            lo, hi = getattr(self, f"{name}_ci95")
            row[f"{name}_ci95_lo"], row[f"{name}_ci95_hi"] = lo, hi
        return row


def _fit(dm: np.ndarray, s: np.ndarray, lags_s: np.ndarray, weights: np.ndarray, start: np.ndarray,
         beta: float | None) -> np.ndarray:
    """Least-squares parameters ``(G0, beta, log t0, G_inf)``; ``beta`` fixed unless None."""
    sqrt_w = np.sqrt(weights)
    scale = np.std(dm) or 1.0
    free = [0, 2, 3] if beta is not None else [0, 1, 2, 3]

    def full(x):
        p = start.copy()
        p[free] = x
        if beta is not None:
            p[1] = beta
        return p

    def residuals(x):
        pred = fftconvolve(s, _increments(full(x), lags_s))[: len(s)]
        return sqrt_w * (dm - pred) / scale

    lower = np.array([0.0, 0.01, math.log(1e-3), 0.0])[free]
    upper = np.array([np.inf, 0.99, math.log(10.0 * lags_s[-1] + 1.0), np.inf])[free]
    x0 = np.clip(start[free], lower + 1e-12, upper - 1e-12)
    return full(least_squares(residuals, x0, bounds=(lower, upper), x_scale="jac").x)


def fit_propagator(day: LobsterDay, bin_s: float = 1.0, max_lag_s: float = 1800.0, beta: float | None = 0.5,
                   block_s: float = 600.0, n_boot: int = 100, seed: int = 0) -> PropagatorFit:
    """Fit the kernel to ``day`` (module docstring).

    :param beta: the decay exponent, fixed (default 1/2, the latent order book's: see
        :mod:`~execgym.envs.market.simulation.propagator`), or ``None`` to fit it too. One
        day's noise rarely pins the tail of the kernel down (fit it free and read its
        bootstrap interval), while the square-root law of metaorders is a fact across many
        days and stocks; with ``beta`` fixed the day gives the amplitude ``G0``, the time
        scale ``t0`` and the permanent part.

    :param bin_s: the grid's step (s); the kernel's shortest resolved lag.
    :param max_lag_s: lags beyond this (s) are left out of the regression (their volume's
        impact is taken as the kernel's value there, constant after).
    :param block_s: the bootstrap's block length (s).
    :param n_boot: bootstrap resamples for the intervals (0: none, the intervals are NaN).
    :param seed: seeds the bootstrap.
    """
    max_lag_s = check_positive("max_lag_s", max_lag_s)
    block_s = check_positive("block_s", block_s)
    n_boot = check_int("n_boot", n_boot, minimum=0)
    dm, s = signed_volume_grid(day, bin_s)
    if not np.any(s):
        raise ValueError(f"{day.name}: no marketable volume to fit a propagator to")
    lags_s = np.arange(0, int(max_lag_s / bin_s) + 1) * bin_s
    # a first guess: G0 from the same-bin regression, a square-root decay over a few bins
    g0 = max(float(np.dot(dm, s) / np.dot(s, s)), 1e-12)
    if beta is not None and not 0.0 < beta < 1.0:
        raise ValueError(f"beta must be in (0, 1) or None (fitted), got {beta!r}")
    start = np.array([g0, 0.5 if beta is None else beta, math.log(max(bin_s, 1.0)), 0.1 * g0])
    ones = np.ones_like(dm)
    best = _fit(dm, s, lags_s, ones, start, beta)
    pred = fftconvolve(s, _increments(best, lags_s))[: len(s)]
    r2 = 1.0 - float(np.var(dm - pred) / np.var(dm))
    cis = {k: (math.nan, math.nan) for k in range(4)}
    if n_boot:
        rng = np.random.default_rng(seed)
        per_block = max(1, int(round(block_s / bin_s)))
        n_blocks = math.ceil(len(dm) / per_block)
        block_of = np.arange(len(dm)) // per_block
        draws = []
        for _ in range(n_boot):
            counts = np.bincount(rng.integers(0, n_blocks, n_blocks), minlength=n_blocks)
            draws.append(_fit(dm, s, lags_s, counts[block_of].astype(float), best, beta))
        draws = np.array(draws)
        draws[:, 2] = np.exp(draws[:, 2])
        cis = {k: tuple(float(x) for x in np.percentile(draws[:, k], [2.5, 97.5])) for k in range(4)}
    fit = PropagatorFit(float(best[0]), float(best[1]), float(math.exp(best[2])), float(best[3]),
                        cis[0], cis[1], cis[2], cis[3], r2, float(bin_s), float(max_lag_s))
    logger.info("%s propagator: G0 %.3g ticks/share, beta %.3f [%.3f, %.3f], t0 %.3g s, G_inf %.3g, R2 %.3f",
                day.name, fit.g0_ticks_per_share, fit.beta, *fit.beta_ci95, fit.t0_s, fit.g_inf_ticks_per_share, r2)
    return fit


def calibrate_propagator(day: LobsterDay, square_root_y: float = 0.5, participation: float = 0.1,
                         beta: float = 0.5, reference_duration_s: float = 1800.0, bin_s: float = 1.0,
                         lags: int = 10) -> dict[str, float]:
    """The propagator of :class:`~execgym.envs.market.simulation.flow.ImpactConfig` for ``day``.

    A day has no metaorders, and its noise leaves the kernel's tail loose
    (:func:`fit_propagator`), so three facts fix the kernel ``G0 (1 + t/t0)^(-beta)``:

    * ``G0`` (ticks/share): the day's immediate impact per share, the lag-0 coefficient of
      the regression of the mid's changes on the signed marketable volume of the same and
      the ``lags`` previous bins of ``bin_s`` (the later lags absorb the signs' correlation);
    * ``beta``: by default 1/2, the latent order book's (the square-root law of metaorders);
    * ``t0`` (s): so that a metaorder at the reference ``participation`` rate ``p`` over
      ``reference_duration_s`` obeys the square-root law ``I = Y sigma sqrt(Q / V)`` with
      ``Y = square_root_y`` and the day's volatility ``sigma`` and volume rate ``V``
      (:func:`~execgym.envs.market.analysis.impact.law.market_scale`); solved exactly with
      :func:`~execgym.envs.market.simulation.propagator.metaorder_response`. For durations
      ``T >> t0`` the propagator's impact is ``G0 r t0^beta T^(1-beta) / (1 - beta)`` at
      the rate ``r = p V``; at ``beta = 1/2`` that is ``2 G0 sqrt(t0 p V Q)``, the law at
      every size.

    The empirical prefactor ``Y`` is about 0.5 to 1 in equities (Almgren et al. 2005; Toth et
    al. 2011; Bucci et al. 2019, "Crossover from linear to square-root market impact",
    Phys. Rev. Lett. 122).

    :return: ``{"propagator_ticks_per_share", "propagator_exponent", "propagator_time_s"}``
        and the inputs ``sigma_ticks_per_sqrt_s``, ``volume_shares_per_s``.
    """
    from execgym.envs.market.analysis.impact.law import market_scale  # analysis.impact builds on calibration

    square_root_y = check_positive("square_root_y", square_root_y)
    if not 0.0 < participation <= 1.0:
        raise ValueError(f"participation must be in (0, 1], got {participation!r}")
    if not 0.0 < beta < 1.0:
        raise ValueError(f"beta must be in (0, 1), got {beta!r}")
    duration = check_positive("reference_duration_s", reference_duration_s)
    lags = check_int("lags", lags, minimum=0)
    dm, s = signed_volume_grid(day, bin_s)
    design = np.column_stack([np.r_[np.zeros(k), s[: len(s) - k]] for k in range(lags + 1)])
    coef, *_ = np.linalg.lstsq(design, dm, rcond=None)
    g0 = float(coef[0])
    if not g0 > 0.0:
        raise ValueError(f"{day.name}: the immediate impact per share is not positive ({g0!r}): no propagator to fit")
    sigma, volume = market_scale(day)
    rate = participation * volume
    target = square_root_y * sigma * math.sqrt(rate * duration / volume)

    def gap(log_t0: float) -> float:  # increasing in t0: a slower decay keeps more impact
        return g0 * rate * float(metaorder_response(beta, math.exp(log_t0), duration, duration)) - target

    lo, hi = math.log(1e-6), math.log(1e9)
    if gap(lo) > 0 or gap(hi) < 0:
        raise ValueError(f"{day.name}: no time scale gives Y={square_root_y} at {participation:.0%} participation "
                         f"(immediate impact {g0:.3g} ticks/share, target {target:.3g} ticks)")
    t0 = math.exp(brentq(gap, lo, hi, xtol=1e-10))
    logger.info("%s propagator: G0 %.3g ticks/share, beta %.2f, t0 %.3g s (Y %.2f at %.0f%% participation; sigma "
                "%.3g ticks/sqrt(s), V %.3g shares/s)", day.name, g0, beta, t0, square_root_y, 100 * participation,
                sigma, volume)
    return {"propagator_ticks_per_share": g0, "propagator_exponent": beta, "propagator_time_s": float(t0),
            "sigma_ticks_per_sqrt_s": sigma, "volume_shares_per_s": volume}
