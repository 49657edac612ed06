"""Robust (ambiguity-averse) execution: optimal against the worst case of a set of models.

Two kinds of model uncertainty, in the setting of :mod:`execgym.baselines.stochastic_control`:

* **Drift** (Cartea, Donnelly and Jaimungal 2017, "Algorithmic trading with model
  uncertainty", SIAM J. Financial Math. 8): the agent fears that the midprice has a drift
  ``mu`` and lets an adversary choose it, penalised by relative entropy with ambiguity
  aversion ``psi``: ``min_mu { mu q + mu^2 / (2 psi sigma^2) }`` gives ``mu* = -psi sigma^2 q``
  and adds ``-psi sigma^2 q^2 / 2`` to the HJB. The robust strategy is the
  Cartea-Jaimungal-Penalva optimum with running penalty ``phi + psi sigma^2 / 2``
  (:func:`drift_robust_params`): ambiguity makes the agent trade faster.
* **Parameters within ranges** (temporary impact ``k``, permanent ``b``, volatility
  through ``phi = lambda sigma^2``): :func:`robust_schedule` finds the deterministic
  schedule that maximises the worst expected objective over a set of models (by default
  the corners of the ranges), ``max_q min_m J_m(q)``, where ``J_m`` is the exact
  discrete-time objective of model ``m`` (the per-step payoff of
  :func:`execgym.baselines.stochastic_control.solve_hjb`, plus an optional known drift). It is
  solved in epigraph form with SLSQP. :func:`ambiguity_models` builds the set around a
  nominal model: both impacts and the volatility scaled within ranges, each corner with
  the drift-averse penalty. Each ``J_m`` decreases in ``k``, ``b`` and ``phi`` for every
  schedule, so for such boxes the max-min is the optimum of the worst corner; the
  epigraph form also handles sets without that order (e.g. models with different drifts).

:class:`RobustExecutionPolicy` follows such a schedule through the common ``predict``
interface.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from typing import Sequence

import numpy as np
from scipy.optimize import minimize

from execgym.baselines.schedule import SchedulePolicy
from execgym.baselines.stochastic_control import CJPParams, closed_form_inventory
from execgym.envs.contract import ExecutionTask
from execgym.validation import check_finite, check_int, check_nonnegative, check_positive

__all__ = ["RobustExecutionPolicy", "ambiguity_models", "corner_models", "drift_robust_params", "expected_objective", "robust_schedule"]


def drift_robust_params(params: CJPParams, psi: float, sigma: float) -> CJPParams:
    """The CJP parameters whose optimum is robust to drift ambiguity ``psi`` (1/currency) at
    volatility ``sigma``: running penalty ``phi + psi sigma^2 / 2``."""
    check_nonnegative("psi", psi)
    check_nonnegative("sigma", sigma)
    return replace(params, phi=params.phi + 0.5 * psi * sigma**2)


def expected_objective(holdings: np.ndarray, params: CJPParams, drift: float = 0.0) -> float:
    """Expected performance (currency, relative to ``x + q S`` at the start) of a deterministic
    schedule ``holdings[0..N]`` (shares held at each decision time), in model ``params``.

    Per step: ``-k nu^2 dt - b q nu dt + b nu^2 dt^2 - phi q^2 dt + drift q' dt`` with
    ``nu = (q - q') / dt`` and ``q'`` the holdings after the step's trade, and
    ``-alpha q_N^2`` at the end; higher is better. ``drift`` (currency/share/time) is the
    midprice drift in the liquidation frame: positive when the price moves in favour of
    the shares still held (a rising price for a seller, a falling one for a buyer).
    """
    q = np.asarray(holdings, dtype=np.float64)
    n = q.size - 1
    if n < 1:
        raise ValueError(f"holdings needs at least two points, got {q.size}")
    drift = check_finite("drift", drift)
    dt = params.horizon / n
    nu = (q[:-1] - q[1:]) / dt
    step = -params.k * nu**2 * dt - params.b * q[:-1] * nu * dt + params.b * nu**2 * dt**2 - params.phi * q[:-1] ** 2 * dt
    return float(step.sum() + drift * dt * q[1:].sum() - params.alpha * q[-1] ** 2)


def corner_models(base: CJPParams, k_range: tuple[float, float] | None = None,
                  b_range: tuple[float, float] | None = None,
                  phi_range: tuple[float, float] | None = None) -> list[CJPParams]:
    """The models at every corner of the given parameter ranges (others as in ``base``)."""
    axes = []
    for name, rng in (("k", k_range), ("b", b_range), ("phi", phi_range)):
        if rng is None:
            axes.append([(name, getattr(base, name))])
            continue
        lo, hi = float(rng[0]), float(rng[1])
        if not lo <= hi:
            raise ValueError(f"{name}_range must be (low, high) with low <= high, got {rng!r}")
        axes.append([(name, lo), (name, hi)])
    return [replace(base, **dict(combo)) for combo in itertools.product(*axes)]


def ambiguity_models(k: float, b: float, sigma: float, risk_aversion: float, horizon: float,
                     impact_range: tuple[float, float] = (1.0, 1.0), sigma_range: tuple[float, float] = (1.0, 1.0),
                     psi: float = 0.0, alpha: float = 1.0) -> list[CJPParams]:
    """The models at the corners of an ambiguity set around a nominal model.

    The nominal model has temporary impact ``k``, permanent impact ``b``, volatility
    ``sigma`` and risk aversion ``lambda = risk_aversion`` (1/currency). The truth may have
    both impacts scaled by a factor in ``impact_range`` and the volatility by a factor in
    ``sigma_range`` (dimensionless multipliers, ``0 < low <= high``); the drift is
    ambiguous with aversion ``psi`` (1/currency, :func:`drift_robust_params`). Each corner
    has running penalty ``phi = (lambda + psi / 2) sigma^2`` at its own ``sigma``.
    """
    ranges = {}
    for name, rng in (("impact_range", impact_range), ("sigma_range", sigma_range)):
        if len(rng) != 2:
            raise ValueError(f"{name} must be (low, high) multipliers, got {rng!r}")
        lo, hi = check_positive(name, rng[0]), check_positive(name, rng[1])
        if lo > hi:
            raise ValueError(f"{name} must be (low, high) multipliers with 0 < low <= high, got {rng!r}")
        ranges[name] = sorted({lo, hi})
    check_nonnegative("risk_aversion", risk_aversion)
    nominal = CJPParams(k=k, b=b, alpha=alpha, phi=risk_aversion * sigma**2, horizon=horizon)
    out = []
    for m_impact, m_sigma in itertools.product(ranges["impact_range"], ranges["sigma_range"]):
        s = sigma * m_sigma
        corner = replace(nominal, k=k * m_impact, b=b * m_impact, phi=risk_aversion * s**2)
        out.append(drift_robust_params(corner, psi, s))
    return out


def robust_schedule(models: Sequence[CJPParams], q0: float, n_steps: int,
                    drifts: Sequence[float] | None = None) -> np.ndarray:
    """The holdings ``q_0..q_N`` maximising ``min_m J_m`` over ``models`` (deterministic schedules,
    ``0 <= q_n <= q0``).

    ``drifts[m]`` (currency/share/time, liquidation frame; see :func:`expected_objective`)
    is model ``m``'s drift, 0 by default. One model gives its own optimum (with a drift,
    which the closed form lacks). Starts from the best single-model closed-form optimum;
    the worst case is concave in the schedule, so SLSQP on the epigraph (maximise ``z``
    subject to ``J_m(q) >= z``) finds the max-min.
    """
    if not models:
        raise ValueError("models must not be empty")
    check_positive("q0", q0)
    n = check_int("n_steps", n_steps, minimum=1)
    drifts = [0.0] * len(models) if drifts is None else [check_finite("drifts", d) for d in drifts]
    if len(drifts) != len(models):
        raise ValueError(f"drifts must have one entry per model ({len(models)}), got {len(drifts)}")
    pairs = list(zip(models, drifts))
    horizons = {m.horizon for m in models}
    if len(horizons) != 1:
        raise ValueError(f"all models need the same horizon, got {sorted(horizons)}")
    grid = np.linspace(0.0, models[0].horizon, n + 1)
    scale = q0
    # start from the single-model optimum with the best worst case
    starts = [closed_form_inventory(m, q0, grid) for m in models]

    def worst(h: np.ndarray) -> float:
        return min(expected_objective(h, m, d) for m, d in pairs)

    start = max(starts, key=worst)

    def holdings(v: np.ndarray) -> np.ndarray:
        return np.concatenate([[q0], v[:-1] * scale])

    obj_scale = max(abs(worst(start)), 1.0)
    x0 = np.append(start[1:] / scale, worst(start) / obj_scale)
    constraints = [{"type": "ineq", "fun": (lambda v, m=m, d=d: expected_objective(holdings(v), m, d) / obj_scale - v[-1])}
                   for m, d in pairs]
    bounds = [(0.0, 1.0)] * n + [(None, None)]
    res = minimize(lambda v: -v[-1], x0, method="SLSQP", bounds=bounds, constraints=constraints,
                   options={"maxiter": 500, "ftol": 1e-12})
    best = holdings(res.x)
    # never return something worse than the start (SLSQP may stop early)
    if worst(best) < worst(start):
        best = start
    return best


class RobustExecutionPolicy(SchedulePolicy):
    """Follows a robust schedule (from :func:`robust_schedule` or :func:`drift_robust_params`).

    At decision ``k`` with ``q`` shares left it keeps the schedule's fraction
    ``h_{k+1} / h_k`` of them (a feedback form of the schedule).

    :param task: the environment's task.
    :param holdings: the schedule ``h_0..h_N`` (shares), ``N = task.n_steps``.
    """

    def __init__(self, task: ExecutionTask, holdings: np.ndarray) -> None:
        super().__init__(task)
        h = np.asarray(holdings, dtype=np.float64)
        if h.shape != (task.n_steps + 1,) or not math.isclose(h[0], task.total_shares, rel_tol=1e-9):
            raise ValueError(f"holdings must have {task.n_steps + 1} points starting at {task.total_shares}, got {h.shape}")
        self.holdings = np.maximum(h, 0.0)

    def shares_to_trade(self, step: np.ndarray, remaining: np.ndarray, volume_ratio: np.ndarray) -> np.ndarray:
        here, nxt = self.holdings[step], self.holdings[np.minimum(step + 1, self.task.n_steps)]
        keep = np.where(here > 0, nxt / np.where(here > 0, here, 1.0), 0.0)
        return remaining * (1.0 - np.clip(keep, 0.0, 1.0))
