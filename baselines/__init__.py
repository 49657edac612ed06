"""The classical execution algorithms, all behind SB3's ``predict`` interface.

=====================  ===================================================  =================
name                   policy                                               module
=====================  ===================================================  =================
``twap``               equal slices (optionally randomised)                  :mod:`.twap`
``vwap``               along the expected volume profile, participation cap :mod:`.vwap`
``pov``                fraction of market volume, adaptive                  :mod:`.pov`
``almgren_chriss``     the closed-form optimal holdings                     :mod:`.almgren_chriss`
``stochastic_control`` Cartea-Jaimungal-Penalva feedback speed (closed form  :mod:`.stochastic_control`
                       or dynamic programming; non-linear impact)
``robust``             max-min schedule over an ambiguity set of impact,    :mod:`.robust`
                       volatility and drift (Cartea-Donnelly-Jaimungal)
=====================  ===================================================  =================

Build one by name for an environment's task with :func:`make_baseline`; to add a
baseline, subclass :class:`~execgym.baselines.schedule.SchedulePolicy`, implement
``shares_to_trade`` and add it to :data:`BASELINES`.

The routers of ``execgym/SmartOrderRouting-v0`` (best price, liquidity-proportional,
score-based and Cont-Kukanov; :mod:`.routing`) split child orders across venues instead
of scheduling them: build them with :func:`make_router` from :data:`ROUTERS`.
"""

from __future__ import annotations

from typing import Any, Callable

from execgym.baselines.almgren_chriss import AlmgrenChrissPolicy
from execgym.baselines.pov import POVPolicy
from execgym.baselines.robust import RobustExecutionPolicy, ambiguity_models, robust_schedule
from execgym.baselines.routing import ROUTERS, make_router
from execgym.baselines.schedule import SchedulePolicy
from execgym.baselines.stochastic_control import CJPParams, StochasticControlPolicy
from execgym.baselines.twap import TWAPPolicy
from execgym.baselines.vwap import VWAPPolicy
from execgym.envs.contract import ExecutionTask

__all__ = ["BASELINES", "ROUTERS", "AlmgrenChrissPolicy", "POVPolicy", "RobustExecutionPolicy", "SchedulePolicy",
           "StochasticControlPolicy", "TWAPPolicy", "VWAPPolicy", "make_baseline", "make_router"]


def _almgren_chriss(task: ExecutionTask, risk_aversion: float | None = None, **model: Any) -> AlmgrenChrissPolicy:
    """AC policy from ``model`` parameters, defaulting to the task's own ``impact_model``."""
    params = dict(task.impact_model or {})
    params.update(model)
    missing = {"sigma", "eta", "gamma", "epsilon"} - set(params)
    if missing:
        raise ValueError(
            f"almgren_chriss needs model parameters {sorted(missing)}: this environment has no "
            "impact_model, so pass them (e.g. from a calibration)"
        )
    params.setdefault("risk_aversion", 0.0)
    return AlmgrenChrissPolicy.from_task_model(task, params, risk_aversion=risk_aversion)


def _model_params(name: str, task: ExecutionTask, model: dict[str, Any]) -> dict[str, Any]:
    """The task's ``impact_model`` updated by ``model``; needs ``eta`` and ``gamma``."""
    params = {**(task.impact_model or {}), **model}
    missing = {"eta", "gamma"} - set(params)
    if missing:
        raise ValueError(f"{name} needs model parameters {sorted(missing)} (or pass them)")
    return params


def _stochastic_control(task: ExecutionTask, alpha: float = 1.0, phi: float | None = None,
                        numerical: bool = False, beta: float = 1.0, k: float | None = None,
                        **model: Any) -> StochasticControlPolicy:
    """CJP policy from the task's model: ``k = eta``, ``b = gamma``, ``phi = lambda sigma^2``
    unless given; ``alpha`` (currency/share per share) penalises shares left at the horizon.

    With non-linear impact (``beta != 1``, cost ``k |nu|^(1 + beta)`` per unit time) and no
    ``k`` given, ``k = eta (X / T)^(1 - beta)``: the same cost as the linear model when
    trading at the TWAP speed ``X / T`` (shares/time)."""
    params = _model_params("stochastic_control", task, model)
    if phi is None:
        phi = params.get("risk_aversion", 0.0) * params.get("sigma", 0.0) ** 2
    if k is None:
        k = params["eta"] * (task.total_shares / task.horizon) ** (1.0 - beta)
    cjp = CJPParams(k=k, b=params["gamma"], alpha=alpha, phi=phi, horizon=task.horizon)
    return StochasticControlPolicy(task, cjp, numerical=numerical, beta=beta)


def _robust(task: ExecutionTask, impact_range: tuple[float, float] = (1.0, 1.0),
            sigma_range: tuple[float, float] = (1.0, 1.0), psi: float = 0.0, alpha: float = 1.0,
            **model: Any) -> RobustExecutionPolicy:
    """Robust policy around the task's model (``eta``, ``gamma``, ``sigma``, ``risk_aversion``
    unless given): the max-min schedule over the corners of ``impact_range`` (multipliers of
    both impacts ``eta`` and ``gamma``) x ``sigma_range`` (multipliers of ``sigma``), with drift
    ambiguity aversion ``psi`` (1/currency; the adversary's drift is ``psi sigma^2 q``,
    currency/share/time at ``q`` shares held). See :func:`execgym.baselines.robust.ambiguity_models`."""
    unknown = sorted(set(model) - {"eta", "gamma", "sigma", "risk_aversion", "epsilon"})
    if unknown:
        raise TypeError(f"robust got unknown parameter(s) {unknown}; it takes impact_range, sigma_range, psi, "
                        "alpha and the model's eta, gamma, sigma, risk_aversion")
    params = _model_params("robust", task, model)
    if "sigma" not in params:
        raise ValueError("robust needs model parameter 'sigma' (or pass it)")
    models = ambiguity_models(params["eta"], params["gamma"], params["sigma"], params.get("risk_aversion", 0.0),
                              task.horizon, tuple(impact_range), tuple(sigma_range), psi, alpha)
    return RobustExecutionPolicy(task, robust_schedule(models, task.total_shares, task.n_steps))


BASELINES: dict[str, Callable[..., SchedulePolicy]] = {
    "twap": TWAPPolicy,
    "vwap": VWAPPolicy,
    "pov": POVPolicy,
    "almgren_chriss": _almgren_chriss,
    "stochastic_control": _stochastic_control,
    "robust": _robust,
}


def make_baseline(name: str, task: ExecutionTask, **kwargs: Any) -> SchedulePolicy:
    """Build the baseline called ``name`` (a key of :data:`BASELINES`) for ``task``.

    :param kwargs: the baseline's own parameters (see its class).
    """
    try:
        factory = BASELINES[name]
    except KeyError:
        raise ValueError(f"unknown baseline {name!r}; known: {sorted(BASELINES)}") from None
    return factory(task, **kwargs)
