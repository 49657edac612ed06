"""Almgren & Chriss (2000), "Optimal Execution of Portfolio Transactions", J. Risk 3(2): 5-39.

The model's formulas as small pure functions, and :class:`AlmgrenChrissPolicy`, which
follows the optimal holdings through the common ``predict`` interface.

Model (paper, section 2). Trade ``X`` shares over ``T`` in ``N`` intervals of length
``tau = T / N``. Holdings ``x_k`` at ``t_k = k tau`` (``x_0 = X``, ``x_N = 0``), trades
``n_k = x_{k-1} - x_k``. For a sell, the unaffected price moves as
``S_k = S_{k-1} + sigma tau^{1/2} xi_k - gamma n_k`` and the k-th trade executes at
``S_{k-1} - (epsilon sgn(n_k) + (eta / tau) n_k)``; a buy mirrors the impact signs.

Units: any consistent set. execgym's environment uses trading days and USD:

============  ==================  ===========================================
symbol        argument            unit
============  ==================  ===========================================
X             ``total_shares``    shares
T             ``horizon``         days (time unit)
N             ``n_steps``         intervals
sigma         ``sigma``           USD / share / sqrt(day)
gamma         ``gamma``           USD / share per share (permanent impact)
epsilon       ``epsilon``         USD / share (fixed cost: half spread + fees)
eta           ``eta``             USD / share per (share / day) (temporary)
lambda        ``risk_aversion``   1 / USD
============  ==================  ===========================================

With ``eta_tilde = eta - gamma tau / 2`` the expected cost and variance of any
trade list that sums to ``X`` are (paper eqs. 4-5)::

    E = gamma X^2 / 2 + epsilon sum |n_k| + (eta_tilde / tau) sum n_k^2
    V = sigma^2 tau sum_{k=1}^{N} x_k^2

and minimising ``E + lambda V`` gives ``x_j = X sinh(kappa (T - t_j)) / sinh(kappa T)``
with ``2 (cosh(kappa tau) - 1) / tau^2 = lambda sigma^2 / eta_tilde``. ``lambda = 0``
gives the linear (TWAP) schedule. The continuous-time limit (``tau -> 0``) replaces
``kappa`` by ``sqrt(lambda sigma^2 / eta)``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from execgym.baselines.schedule import SchedulePolicy
from execgym.envs.contract import ExecutionTask
from execgym.validation import check_int, check_nonnegative, check_positive

logger = logging.getLogger(__name__)

__all__ = [
    "ACParams",
    "AlmgrenChrissPolicy",
    "ac_expected_cost",
    "ac_half_life",
    "ac_holdings",
    "ac_kappa",
    "ac_trades",
    "ac_variance",
    "continuous_expected_cost",
    "continuous_holdings",
    "continuous_kappa",
    "continuous_variance",
    "efficient_frontier",
    "trade_list_expected_cost",
    "trade_list_variance",
]

# Below this kappa*T the closed-form variance subtracts two nearly equal numbers
# (each ~ 1 / (kappa^2 T)); the exact sum over holdings is used instead.
_SMALL_KAPPA_T = 1e-3


@dataclass(frozen=True)
class ACParams:
    """Parameters of the discrete-time Almgren-Chriss model (units in the module docstring).

    Raises ``ValueError`` naming the parameter if a value is non-finite, non-positive
    where it must be positive (``total_shares``, ``horizon``, ``sigma``, ``eta``), negative
    (``gamma``, ``epsilon``, ``risk_aversion``), or if ``eta_tilde = eta - gamma tau / 2``
    is not positive (the paper's condition for a convex problem).
    """

    total_shares: float
    horizon: float
    n_steps: int
    sigma: float
    eta: float
    gamma: float = 0.0
    epsilon: float = 0.0
    risk_aversion: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "total_shares", check_positive("total_shares", self.total_shares))
        object.__setattr__(self, "horizon", check_positive("horizon", self.horizon))
        object.__setattr__(self, "n_steps", check_int("n_steps", self.n_steps, minimum=1))
        object.__setattr__(self, "sigma", check_positive("sigma", self.sigma))
        object.__setattr__(self, "eta", check_positive("eta", self.eta))
        object.__setattr__(self, "gamma", check_nonnegative("gamma", self.gamma))
        object.__setattr__(self, "epsilon", check_nonnegative("epsilon", self.epsilon))
        object.__setattr__(
            self, "risk_aversion", check_nonnegative("risk_aversion", self.risk_aversion)
        )
        if self.eta_tilde <= 0.0:
            raise ValueError(
                f"eta_tilde = eta - gamma*tau/2 must be > 0, got {self.eta_tilde!r} "
                f"(eta={self.eta!r}, gamma={self.gamma!r}, tau={self.tau!r}); "
                "use more steps or a smaller permanent impact"
            )

    @property
    def tau(self) -> float:
        """Interval length ``T / N`` (time units)."""
        return self.horizon / self.n_steps

    @property
    def eta_tilde(self) -> float:
        """``eta - gamma tau / 2``: temporary impact net of the permanent-impact correction."""
        return self.eta - 0.5 * self.gamma * self.tau

    @property
    def kappa_tilde_sq(self) -> float:
        """``lambda sigma^2 / eta_tilde`` (1 / time^2)."""
        return self.risk_aversion * self.sigma**2 / self.eta_tilde

    def with_risk_aversion(self, risk_aversion: float) -> ACParams:
        """The same parameters with another ``risk_aversion`` (validated)."""
        return replace(self, risk_aversion=risk_aversion)


# --- numerically stable hyperbolic ratios (all arguments >= 0, b > 0) -----------------


def _sinh_ratio(a: np.ndarray | float, b: float) -> np.ndarray:
    """``sinh(a) / sinh(b)`` for ``0 <= a <= b``, without overflow for large ``b``."""
    a = np.asarray(a, dtype=np.float64)
    return (np.exp(a - b) - np.exp(-a - b)) / -np.expm1(-2.0 * b)


def _cosh_over_sinh(a: np.ndarray | float, b: float) -> np.ndarray:
    """``cosh(a) / sinh(b)`` for ``0 <= a <= b``."""
    a = np.asarray(a, dtype=np.float64)
    return (np.exp(a - b) + np.exp(-a - b)) / -np.expm1(-2.0 * b)


def _inv_sinh(b: float) -> float:
    """``1 / sinh(b)`` for ``b > 0``."""
    return float(2.0 * np.exp(-b) / -np.expm1(-2.0 * b))


# --- discrete-time closed form ---------------------------------------------------------


def ac_kappa(params: ACParams) -> float:
    """``kappa`` (1 / time) solving ``2 (cosh(kappa tau) - 1) / tau^2 = lambda sigma^2 / eta_tilde``.

    Uses ``arccosh(1 + d) = log1p(d + sqrt(d (2 + d)))`` so small ``lambda`` keeps precision.
    """
    d = 0.5 * params.kappa_tilde_sq * params.tau**2
    return float(np.log1p(d + np.sqrt(d * (2.0 + d))) / params.tau)


def ac_half_life(params: ACParams) -> float:
    """The trade's half-life ``1 / kappa`` (time units); ``inf`` when ``lambda = 0``."""
    kappa = ac_kappa(params)
    return float("inf") if kappa == 0.0 else 1.0 / kappa


def ac_holdings(params: ACParams) -> np.ndarray:
    """Optimal holdings ``x_0 .. x_N`` (shares, shape ``(N + 1,)``), ``x_0 = X``, ``x_N = 0``.

    ``x_j = X sinh(kappa (T - t_j)) / sinh(kappa T)``; linear in ``j`` when ``lambda = 0``.
    """
    n, big_x = params.n_steps, params.total_shares
    j = np.arange(n + 1, dtype=np.float64)
    kappa_t = ac_kappa(params) * params.horizon
    if kappa_t == 0.0:
        x = big_x * (1.0 - j / n)
    else:
        x = big_x * _sinh_ratio(kappa_t * (1.0 - j / n), kappa_t)
    x[0], x[-1] = big_x, 0.0
    return x


def ac_trades(params: ACParams) -> np.ndarray:
    """Optimal trade list ``n_1 .. n_N`` (shares, shape ``(N,)``), summing to ``X``.

    ``n_j = 2 sinh(kappa tau / 2) / sinh(kappa T) cosh(kappa (T - t_{j - 1/2})) X``.
    """
    n, big_x = params.n_steps, params.total_shares
    kappa = ac_kappa(params)
    if kappa == 0.0:
        return np.full(n, big_x / n)
    j = np.arange(1, n + 1, dtype=np.float64)
    t_half = (j - 0.5) * params.tau
    kappa_t = kappa * params.horizon
    return (
        2.0
        * np.sinh(0.5 * kappa * params.tau)
        * _cosh_over_sinh(kappa * (params.horizon - t_half), kappa_t)
        * big_x
    )


def ac_expected_cost(params: ACParams) -> float:
    """Closed-form expected cost ``E`` (currency) of the optimal strategy (paper eq. 20).

    ``E = gamma X^2/2 + epsilon X + eta_tilde X^2 tanh(kappa tau/2) (tau sinh(2 kappa T)
    + 2 T sinh(kappa tau)) / (2 tau^2 sinh^2(kappa T))``, evaluated in overflow-free form.
    """
    p = params
    big_x, tau, horizon = p.total_shares, p.tau, p.horizon
    kappa = ac_kappa(p)
    fixed = 0.5 * p.gamma * big_x**2 + p.epsilon * big_x
    if kappa == 0.0:
        return fixed + p.eta_tilde * big_x**2 / horizon
    kt = kappa * horizon
    # tau sinh(2kT)/sinh^2(kT) = 2 tau coth(kT);  2T sinh(k tau)/sinh^2(kT) = 2T (sinh(k tau)/sinh(kT)) / sinh(kT)
    bracket = 2.0 * tau * _cosh_over_sinh(kt, kt) + 2.0 * horizon * _sinh_ratio(
        kappa * tau, kt
    ) * _inv_sinh(kt)
    return float(fixed + p.eta_tilde * big_x**2 * np.tanh(0.5 * kappa * tau) * bracket / (2.0 * tau**2))


def ac_variance(params: ACParams) -> float:
    """Closed-form variance ``V`` (currency^2) of the optimal strategy's cost (paper eq. 21).

    ``V = sigma^2 X^2 / 2 [tau sinh(kappa T) cosh(kappa (T - tau)) - T sinh(kappa tau)]
    / (sinh^2(kappa T) sinh(kappa tau))``. For ``kappa T < 1e-3`` the two terms cancel to
    working precision, and the exact definition ``sigma^2 tau sum x_k^2`` is used.
    """
    p = params
    kappa = ac_kappa(p)
    kt = kappa * p.horizon
    if kt < _SMALL_KAPPA_T:
        return trade_list_variance(ac_holdings(p), p)
    tau, horizon, big_x = p.tau, p.horizon, p.total_shares
    # [tau sinh(kT) cosh(k(T-tau)) - T sinh(k tau)] / (sinh^2(kT) sinh(k tau))
    #   = tau (cosh(k(T-tau))/sinh(kT)) / sinh(k tau) - T / sinh^2(kT)
    term = tau * _cosh_over_sinh(kappa * (horizon - tau), kt) * _inv_sinh(kappa * tau)
    term -= horizon * _inv_sinh(kt) ** 2
    return float(0.5 * p.sigma**2 * big_x**2 * term)


# --- any trade list ---------------------------------------------------------------------


def _check_trade_list(trades: np.ndarray, params: ACParams) -> np.ndarray:
    trades = np.asarray(trades, dtype=np.float64)
    if trades.shape != (params.n_steps,):
        raise ValueError(f"trades must have shape ({params.n_steps},), got {trades.shape}")
    if not np.all(np.isfinite(trades)):
        raise ValueError(f"trades must be finite, got {trades!r}")
    total = trades.sum()
    if not np.isclose(total, params.total_shares, rtol=1e-9, atol=1e-9):
        raise ValueError(f"trades must sum to total_shares={params.total_shares!r}, got {total!r}")
    return trades


def trade_list_expected_cost(trades: np.ndarray, params: ACParams) -> float:
    """``E`` (currency) of any trade list ``n_1..n_N`` summing to ``X`` (paper eq. 4)."""
    n = _check_trade_list(trades, params)
    return float(
        0.5 * params.gamma * params.total_shares**2
        + params.epsilon * np.abs(n).sum()
        + params.eta_tilde / params.tau * np.dot(n, n)
    )


def trade_list_variance(holdings: np.ndarray, params: ACParams) -> float:
    """``V`` (currency^2) of holdings ``x_0..x_N``: ``sigma^2 tau sum_{k=1}^{N} x_k^2`` (eq. 5)."""
    x = np.asarray(holdings, dtype=np.float64)
    if x.shape != (params.n_steps + 1,):
        raise ValueError(f"holdings must have shape ({params.n_steps + 1},), got {x.shape}")
    return float(params.sigma**2 * params.tau * np.dot(x[1:], x[1:]))


def efficient_frontier(params: ACParams, risk_aversions: np.ndarray) -> pd.DataFrame:
    """The efficient frontier: one row per ``lambda`` with ``kappa``, ``E``, ``V``, ``std``.

    Columns: ``risk_aversion`` (1/currency), ``kappa`` (1/time), ``expected_cost``
    (currency), ``variance`` (currency^2), ``std`` (currency), ``objective`` (E + lambda V).
    """
    rows = []
    for lam in np.asarray(risk_aversions, dtype=np.float64):
        p = params.with_risk_aversion(float(lam))
        e, v = ac_expected_cost(p), ac_variance(p)
        rows.append(
            {
                "risk_aversion": float(lam),
                "kappa": ac_kappa(p),
                "expected_cost": e,
                "variance": v,
                "std": float(np.sqrt(v)),
                "objective": e + float(lam) * v,
            }
        )
    return pd.DataFrame(rows)


# --- continuous-time limit (tau -> 0) -----------------------------------------------------


def continuous_kappa(params: ACParams) -> float:
    """``kappa = sqrt(lambda sigma^2 / eta)`` of the continuous-time limit (1 / time)."""
    return float(np.sqrt(params.risk_aversion * params.sigma**2 / params.eta))


def continuous_holdings(params: ACParams, t: np.ndarray | float) -> np.ndarray:
    """Continuous-time optimal holdings ``x(t) = X sinh(kappa (T - t)) / sinh(kappa T)`` (shares).

    ``t`` in time units, within ``[0, T]``.
    """
    t = np.asarray(t, dtype=np.float64)
    if np.any((t < 0) | (t > params.horizon)) or not np.all(np.isfinite(t)):
        raise ValueError(f"t must lie in [0, horizon={params.horizon!r}], got {t!r}")
    kappa_t = continuous_kappa(params) * params.horizon
    frac_left = (params.horizon - t) / params.horizon
    if kappa_t == 0.0:
        return params.total_shares * frac_left
    return params.total_shares * _sinh_ratio(kappa_t * frac_left, kappa_t)


def continuous_expected_cost(params: ACParams) -> float:
    """``E = gamma X^2/2 + epsilon X + eta X^2 kappa (2 kappa T + sinh(2 kappa T)) / (4 sinh^2(kappa T))``."""
    p = params
    big_x = p.total_shares
    fixed = 0.5 * p.gamma * big_x**2 + p.epsilon * big_x
    kappa = continuous_kappa(p)
    if kappa == 0.0:
        return fixed + p.eta * big_x**2 / p.horizon
    kt = kappa * p.horizon
    bracket = 2.0 * kt * _inv_sinh(kt) ** 2 + 2.0 * _cosh_over_sinh(kt, kt)
    return float(fixed + 0.25 * p.eta * big_x**2 * kappa * bracket)


def continuous_variance(params: ACParams) -> float:
    """``V = sigma^2 X^2 (sinh(2 kappa T) - 2 kappa T) / (4 kappa sinh^2(kappa T))``; ``sigma^2 X^2 T / 3`` at ``kappa = 0``."""
    p = params
    scale = p.sigma**2 * p.total_shares**2
    a = continuous_kappa(p) * p.horizon
    if a < 1e-2:
        # series of (sinh(2a) - 2a) / (4 a sinh^2 a) = 1/3 - a^2/45 + 2 a^4/945 + O(a^6)
        return float(scale * p.horizon * (1.0 / 3.0 - a**2 / 45.0 + 2.0 * a**4 / 945.0))
    bracket = 2.0 * _cosh_over_sinh(a, a) - 2.0 * a * _inv_sinh(a) ** 2
    return float(scale * p.horizon * bracket / (4.0 * a))


# --- the policy ---------------------------------------------------------------------------


class AlmgrenChrissPolicy(SchedulePolicy):
    """Follows the closed-form optimal holdings ``x_k`` of :func:`ac_holdings`.

    At decision step ``k`` it trades down (or up, for a buy) to the target holdings
    ``x_{k+1}``: ``shares = remaining - x_{k+1}``, never negative. The schedule is
    open-loop (a deterministic function of time), so ``deterministic`` changes nothing.

    :param task: the environment's :class:`~execgym.envs.contract.ExecutionTask`.
    :param params: model parameters; ``total_shares``, ``horizon`` and ``n_steps`` must
        agree with the task.
    """

    def __init__(self, task: ExecutionTask, params: ACParams) -> None:
        super().__init__(task)
        if params.n_steps != task.n_steps or not np.isclose(params.total_shares, task.total_shares):
            raise ValueError(
                f"params (n_steps={params.n_steps}, total_shares={params.total_shares}) do not "
                f"match the task (n_steps={task.n_steps}, total_shares={task.total_shares})"
            )
        self.params = params
        self.target_holdings = ac_holdings(params)
        logger.debug("AC schedule kappa=%.4g holdings=%s", ac_kappa(params), self.target_holdings)

    def shares_to_trade(
        self, step: np.ndarray, remaining: np.ndarray, volume_ratio: np.ndarray
    ) -> np.ndarray:
        target = self.target_holdings[np.minimum(step + 1, self.task.n_steps)]
        return np.maximum(remaining - target, 0.0)

    @classmethod
    def from_task_model(
        cls, task: ExecutionTask, model: dict[str, Any], risk_aversion: float | None = None
    ) -> AlmgrenChrissPolicy:
        """Build the policy from ``task.impact_model`` (the environment's own AC parameters).

        :param model: a mapping with ``sigma``, ``eta``, ``gamma``, ``epsilon`` and
            ``risk_aversion`` in the task's units.
        :param risk_aversion: overrides the model's ``risk_aversion`` (1/currency).
        """
        lam = model["risk_aversion"] if risk_aversion is None else risk_aversion
        params = ACParams(
            total_shares=task.total_shares,
            horizon=task.horizon,
            n_steps=task.n_steps,
            sigma=model["sigma"],
            eta=model["eta"],
            gamma=model["gamma"],
            epsilon=model["epsilon"],
            risk_aversion=lam,
        )
        return cls(task, params)
