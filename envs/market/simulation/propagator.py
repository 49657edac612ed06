"""A power-law impact kernel as a sum of exponentials, so that a compiled kernel can carry it.

The propagator (transient impact) model of Bouchaud, Gefen, Potters and Wyart (2004),
"Fluctuations and response in financial markets: the subtle nature of random price
changes", Quantitative Finance 4(2): the price is the sum of the impacts of past trades,
each decaying with the lag ``t`` (seconds) since it was made,

    m(t) = sum_{t_i < t} G(t - t_i) v_i,    G(t) = G0 (1 + t / t0)^(-beta),

with ``v_i`` the signed aggressive volume (shares, + buy) and ``G0`` in ticks per share.
A metaorder executed at a constant rate ``r`` (shares/s) over ``T`` seconds then has the
impact ``G0 r t0 ((1 + T/t0)^(1-beta) - 1) / (1 - beta)``: for ``T >> t0`` that is
``r T^(1-beta)``, so at a fixed participation rate (``r`` fixed, ``T = Q / r``) the impact
grows as ``Q^(1-beta)``: the square-root law for ``beta = 1/2`` (Gatheral 2010,
"No-dynamic-arbitrage and market impact", Quantitative Finance 10(7), section 5). It is
also the linear regime of the latent order book of Donier, Bonart, Mastromatteo and
Bouchaud (2015), "A fully consistent, minimal model for non-linear market impact",
Quantitative Finance 15(7), whose impact kernel decays as ``t^(-1/2)``.

A power law is completely monotone, ``(1 + t/t0)^(-beta) = int_0^inf e^(-s t) w(s) ds``,
so a handful of exponentials with log-spaced rates reproduces it over a chosen range of
lags (:func:`power_law_kernel`); each exponential is then one number of state that decays
between events, and an event costs ``O(n)`` instead of a sum over the past.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

from execgym.validation import check_positive

__all__ = ["MAX_PROPAGATOR_KERNELS", "metaorder_response", "power_law_kernel", "power_law_response"]

#: exponentials of the approximation (the flow state keeps one number per exponential)
MAX_PROPAGATOR_KERNELS = 12


def power_law_kernel(beta: float, t0_s: float, horizon_s: float,
                     n: int = MAX_PROPAGATOR_KERNELS) -> tuple[np.ndarray, np.ndarray]:
    """``(weights, rates_per_s)`` with ``sum_k weights[k] exp(-rates_per_s[k] t)`` close to
    ``(1 + t/t0_s)^(-beta)`` for ``0 <= t <= horizon_s`` (relative error below 1.5% with
    the default ``n`` for ``horizon_s <= 1e5 t0_s``; the tests measure it).

    The rates are log-spaced from ``0.1 / horizon_s`` to ``10 / t0_s`` (plus one faster
    still); the weights are non-negative least squares on a log-spaced grid of lags, each
    lag's error relative to the kernel's value there.

    :param beta: decay exponent, in (0, 1).
    :param t0_s: the kernel's time scale (s).
    :param horizon_s: the longest lag the approximation must hold for (s); beyond it the
        sum decays faster than the power law.
    :param n: exponentials, 2..MAX_PROPAGATOR_KERNELS.
    """
    if not (isinstance(beta, (int, float)) and 0.0 < beta < 1.0):
        raise ValueError(f"beta must be in (0, 1), got {beta!r}")
    t0_s = check_positive("t0_s", t0_s)
    horizon_s = check_positive("horizon_s", horizon_s)
    if horizon_s < t0_s:
        raise ValueError(f"horizon_s must be >= t0_s, got horizon_s={horizon_s!r}, t0_s={t0_s!r}")
    if not (isinstance(n, int) and 2 <= n <= MAX_PROPAGATOR_KERNELS):
        raise ValueError(f"n must be an int in [2, {MAX_PROPAGATOR_KERNELS}], got {n!r}")
    rates = np.geomspace(0.1 / horizon_s, 10.0 / t0_s, n)
    t = np.concatenate([[0.0], np.geomspace(t0_s * 1e-3, horizon_s, 400)])
    target = power_law_response(beta, t0_s, t)
    design = np.exp(-np.outer(t, rates)) / target[:, None]
    weights, _ = nnls(design, np.ones_like(t))
    keep = weights > 0
    return weights[keep], rates[keep]


def power_law_response(beta: float, t0_s: float, t_s) -> np.ndarray:
    """``(1 + t/t0)^(-beta)``: the kernel (per unit of ``G0``) at lags ``t_s`` (s)."""
    return np.power(1.0 + np.asarray(t_s, dtype=float) / t0_s, -beta)


def metaorder_response(beta: float, t0_s: float, duration_s: float, t_s) -> np.ndarray:
    """Impact (per unit of ``G0 r``) at times ``t_s`` since the start of a metaorder executed
    at a constant rate over ``duration_s``: ``int_0^min(t,T) (1 + (t-u)/t0)^(-beta) du``."""
    t = np.asarray(t_s, dtype=float)
    a = np.maximum(t - duration_s, 0.0)

    def primitive(x):  # int_0^x (1 + u/t0)^-beta du
        return t0_s * (np.power(1.0 + x / t0_s, 1.0 - beta) - 1.0) / (1.0 - beta)

    return primitive(t) - primitive(a)
