"""Optimal execution by stochastic control (Cartea, Jaimungal and Penalva 2015, ch. 6).

Liquidate (or acquire) ``Q_0`` shares over ``[0, T]`` at speed ``nu``: inventory
``dQ = -nu dt``, midprice ``dS = -b nu dt + sigma dW`` (permanent impact ``b``), execution
price ``S - k nu`` (temporary impact ``k``). The agent maximises
``E[X_T + Q_T (S_T - alpha Q_T) - phi int_0^T Q_u^2 du]``: terminal penalty ``alpha`` on
unsold shares, running inventory penalty ``phi``.

With ``H = x + q S + h(t, q)`` the HJB equation reduces to
``d_t h - phi q^2 + (b q + d_q h)^2 / (4 k) = 0``, ``h(T, q) = -alpha q^2``; the ansatz
``h = h_2(t) q^2`` and ``g = h_2 + b/2`` give the Riccati equation ``g' = phi - g^2 / k``:

* ``gamma = sqrt(phi / k)``, ``zeta = (alpha - b/2 + sqrt(k phi)) / (alpha - b/2 - sqrt(k phi))``;
* ``g(t) = sqrt(k phi) (1 + zeta e^{2 gamma (T-t)}) / (1 - zeta e^{2 gamma (T-t)})``;
* optimal speed ``nu*(t, q) = -g(t) q / k``
  ``= gamma (zeta e^{gamma (T-t)} + e^{-gamma (T-t)}) / (zeta e^{gamma (T-t)} - e^{-gamma (T-t)}) q``;
* inventory ``Q*_t = Q_0 (zeta e^{gamma (T-t)} - e^{-gamma (T-t)}) / (zeta e^{gamma T} - e^{-gamma T})``.

Limits: ``phi -> 0`` and ``alpha -> inf`` give TWAP; ``alpha -> inf`` with
``phi = lambda sigma^2`` and ``k = eta`` gives the continuous-time Almgren-Chriss
trajectory ``Q_0 sinh(kappa (T - t)) / sinh(kappa T)``, ``kappa = sqrt(lambda sigma^2 / eta)``.

:func:`solve_hjb` solves the same problem by dynamic programming on an inventory grid, and
also with a non-linear temporary impact cost ``k |nu|^(1 + beta)`` that has no closed form.
:class:`StochasticControlPolicy` runs either through the common ``predict`` interface.
Units: any consistent set (the Almgren-Chriss environment's: days, USD, shares); a buy
is the mirror image (the schedule of shares still to trade is the same).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from execgym.baselines.schedule import SchedulePolicy
from execgym.envs.contract import ExecutionTask
from execgym.validation import check_finite, check_int, check_nonnegative, check_positive

__all__ = ["CJPParams", "HJBSolution", "StochasticControlPolicy", "closed_form_h2", "closed_form_inventory",
           "closed_form_speed", "solve_hjb"]


@dataclass(frozen=True)
class CJPParams:
    """Parameters of the model (module docstring).

    :param k: temporary impact (currency/share per share/time), > 0.
    :param b: permanent impact (currency/share per share), >= 0.
    :param alpha: terminal penalty on shares left (currency/share per share), > b/2 and
        finite; use a large value to force completion.
    :param phi: running inventory penalty (currency/share per share per time), >= 0.
    :param horizon: ``T`` (time units), > 0.
    """

    k: float
    b: float
    alpha: float
    phi: float
    horizon: float

    def __post_init__(self) -> None:
        check_positive("k", self.k)
        check_nonnegative("b", self.b)
        check_positive("alpha", self.alpha)
        check_nonnegative("phi", self.phi)
        check_positive("horizon", self.horizon)
        if self.alpha <= self.b / 2:
            raise ValueError(f"alpha must exceed b/2 = {self.b / 2!r} for a well-posed problem, got {self.alpha!r}")

    @property
    def gamma(self) -> float:
        return math.sqrt(self.phi / self.k)

    @property
    def zeta(self) -> float:
        """``(alpha - b/2 + sqrt(k phi)) / (alpha - b/2 - sqrt(k phi))``; ``inf`` when the
        terminal penalty equals ``b/2 + sqrt(k phi)`` (then ``g`` is constant)."""
        root = math.sqrt(self.k * self.phi)
        den = self.alpha - self.b / 2 - root
        return math.inf if den == 0.0 else (self.alpha - self.b / 2 + root) / den


def _g(p: CJPParams, t: np.ndarray) -> np.ndarray:
    """``g(t) = h_2(t) + b/2``, the Riccati solution (negative: holding inventory costs)."""
    tau = p.horizon - np.asarray(t, dtype=np.float64)
    if p.phi == 0.0:
        # g' = -g^2/k, g(T) = -(alpha - b/2)
        return -1.0 / (tau / p.k + 1.0 / (p.alpha - p.b / 2))
    root, gam, zeta = math.sqrt(p.k * p.phi), p.gamma, p.zeta
    if math.isinf(zeta):  # g(T) = -sqrt(k phi) is the Riccati equation's fixed point
        return np.full(np.shape(tau), -root)
    # (1 + zeta e^{2 gamma tau}) / (1 - zeta e^{2 gamma tau}), overflow-free for large gamma tau
    e = np.exp(-2.0 * gam * tau)
    return root * (e + zeta) / (e - zeta)


def closed_form_h2(p: CJPParams, t: np.ndarray) -> np.ndarray:
    """``h_2(t)``: the value function is ``H = x + q S + h_2(t) q^2``."""
    return _g(p, t) - p.b / 2


def closed_form_speed(p: CJPParams, t: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Optimal trading speed ``nu*(t, q) = -g(t) q / k`` (shares/time)."""
    return -_g(p, t) * np.asarray(q, dtype=np.float64) / p.k


def closed_form_inventory(p: CJPParams, q0: float, t: np.ndarray) -> np.ndarray:
    """Optimal inventory path ``Q*_t`` from ``q0`` (shares) at times ``t`` in ``[0, T]``."""
    t = np.asarray(t, dtype=np.float64)
    if np.any((t < 0) | (t > p.horizon)):
        raise ValueError(f"t must lie in [0, horizon={p.horizon!r}]")
    tau = p.horizon - t
    if p.phi == 0.0:
        c = p.k / (p.alpha - p.b / 2)  # Q_t = q0 (tau + c) / (T + c)
        return q0 * (tau + c) / (p.horizon + c)
    gam, zeta = p.gamma, p.zeta
    if math.isinf(zeta):  # constant speed gamma q: exponential liquidation
        return q0 * np.exp(-gam * t)
    # (zeta e^{g tau} - e^{-g tau}) / (zeta e^{g T} - e^{-g T}), scaled by e^{-g T}
    num = zeta * np.exp(gam * (tau - p.horizon)) - np.exp(-gam * (tau + p.horizon))
    den = zeta - math.exp(-2.0 * gam * p.horizon)
    return q0 * num / den


@dataclass(frozen=True)
class HJBSolution:
    """Dynamic-programming solution: ``value[n, i] = h(t_n, q_i)`` on the inventory grid ``q``,
    and ``keep[n, i]``, the optimal fraction of ``q_i`` still held after decision ``n``."""

    t: np.ndarray
    q: np.ndarray
    value: np.ndarray
    keep: np.ndarray

    def next_inventory(self, step: int, q: np.ndarray) -> np.ndarray:
        """Optimal inventory after decision ``step`` from inventories ``q`` (interpolated)."""
        q = np.asarray(q, dtype=np.float64)
        return q * np.interp(q, self.q, self.keep[step])


def solve_hjb(p: CJPParams, q0: float, n_steps: int, n_q: int = 401, beta: float = 1.0,
              n_controls: int = 801) -> HJBSolution:
    """Solve the problem by backward dynamic programming (semi-Lagrangian) on an inventory grid.

    Over a step ``dt``, trading from ``q`` to ``q' = r q`` (speed ``nu = (q - q') / dt``):
    ``h(t, q) = max_r [ -k |nu|^(1+beta) dt - b q nu dt + b nu^2 dt^2 - phi q^2 dt + h(t + dt, q') ]``
    (the exact change of ``x + q S`` over the step), ``h(T, q) = -alpha q^2``, with
    ``h(t + dt, .)`` interpolated between the ``n_q`` grid inventories in ``[0, q0]``. The
    ``n_controls`` kept fractions ``r`` are dense near 1, so small trades are resolved at
    any time step. With ``beta = 1`` this is the closed-form model, which it approaches as
    the grids refine; other ``beta`` give non-linear temporary impact.
    """
    check_positive("q0", q0)
    n_steps = check_int("n_steps", n_steps, minimum=1)
    n_q = check_int("n_q", n_q, minimum=3)
    n_controls = check_int("n_controls", n_controls, minimum=3)
    beta = check_finite("beta", beta)
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta!r}")
    dt = p.horizon / n_steps
    q = np.linspace(0.0, q0, n_q)
    r = 1.0 - np.linspace(0.0, 1.0, n_controls) ** 2  # fraction kept: dense near 1 (small trades)
    value = np.empty((n_steps + 1, n_q))
    keep = np.empty((n_steps, n_q))
    value[-1] = -p.alpha * q**2
    q_next = q[:, None] * r[None, :]
    nu = (q[:, None] - q_next) / dt
    running = (-p.k * np.abs(nu) ** (1.0 + beta) * dt - p.b * q[:, None] * nu * dt + p.b * nu**2 * dt**2
               - p.phi * q[:, None] ** 2 * dt)
    rows = np.arange(n_q)
    for n in range(n_steps - 1, -1, -1):
        total = running + np.interp(q_next, q, value[n + 1])
        best = np.argmax(total, axis=1)
        keep[n] = r[best]
        value[n] = total[rows, best]
    return HJBSolution(np.linspace(0.0, p.horizon, n_steps + 1), q, value, keep)


class StochasticControlPolicy(SchedulePolicy):
    """Trades the optimal feedback speed of the model at each decision.

    Closed form: at decision ``k`` with ``q`` shares left it trades
    ``q - q (Q*_{t_{k+1}} / Q*_{t_k})``, the closed-form path's fraction over the interval
    (exact in the model). Numerical (``numerical=True``, or ``beta != 1``): the dynamic
    program's optimal next inventory at ``(t_k, q)``.

    :param task: the environment's task (its ``horizon`` and ``n_steps`` set the grid).
    :param params: model parameters in the task's units.
    """

    def __init__(self, task: ExecutionTask, params: CJPParams, numerical: bool = False, beta: float = 1.0,
                 n_q: int = 401, n_controls: int = 801) -> None:
        super().__init__(task)
        if not math.isclose(params.horizon, task.horizon):
            raise ValueError(f"params.horizon={params.horizon!r} must equal the task's horizon {task.horizon!r}")
        self.params = params
        self.numerical = bool(numerical) or beta != 1.0
        grid = np.arange(task.n_steps + 1) * task.tau
        self.path = closed_form_inventory(params, task.total_shares, grid)
        self.solution = (solve_hjb(params, task.total_shares, task.n_steps, n_q, beta, n_controls)
                         if self.numerical else None)

    def shares_to_trade(self, step: np.ndarray, remaining: np.ndarray, volume_ratio: np.ndarray) -> np.ndarray:
        if self.solution is not None:
            nxt = np.array([self.solution.next_inventory(int(k), r) for k, r in zip(step, remaining)])
            return np.maximum(remaining - nxt, 0.0)
        ratio = np.where(self.path[step] > 0, self.path[np.minimum(step + 1, self.task.n_steps)] / self.path[step], 0.0)
        return remaining * (1.0 - ratio)
