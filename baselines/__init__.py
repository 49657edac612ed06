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
=====================  ===================================================  =================

Build one by name for an environment's task with :func:`make_baseline`; to add a
baseline, subclass :class:`~baselines.schedule.SchedulePolicy`, implement
``shares_to_trade`` and add it to :data:`BASELINES`.

The routers of ``execgym/SmartOrderRouting-v0`` (best price, liquidity-proportional,
score-based and Cont-Kukanov; :mod:`.routing`) split child orders across venues instead
of scheduling them: build them with :func:`make_router` from :data:`ROUTERS`.
"""

from __future__ import annotations

from typing import Any, Callable

from baselines.almgren_chriss import AlmgrenChrissPolicy
from baselines.pov import POVPolicy
from baselines.robust import RobustExecutionPolicy
from baselines.routing import ROUTERS, make_router
from baselines.schedule import SchedulePolicy
from baselines.stochastic_control import CJPParams, StochasticControlPolicy
from baselines.twap import TWAPPolicy
from baselines.vwap import VWAPPolicy
from envs.contract import ExecutionTask

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


def _stochastic_control(task: ExecutionTask, alpha: float = 1.0, phi: float | None = None,
                        numerical: bool = False, beta: float = 1.0, **model: Any) -> StochasticControlPolicy:
    """CJP policy from the task's model: ``k = eta``, ``b = gamma``, ``phi = lambda sigma^2``
    unless given; ``alpha`` (currency/share per share) penalises shares left at the horizon."""
    params = {**(task.impact_model or {}), **model}
    missing = {"eta", "gamma"} - set(params)
    if missing:
        raise ValueError(f"stochastic_control needs model parameters {sorted(missing)} (or pass them)")
    if phi is None:
        phi = params.get("risk_aversion", 0.0) * params.get("sigma", 0.0) ** 2
    cjp = CJPParams(k=params["eta"], b=params["gamma"], alpha=alpha, phi=phi, horizon=task.horizon)
    return StochasticControlPolicy(task, cjp, numerical=numerical, beta=beta)


BASELINES: dict[str, Callable[..., SchedulePolicy]] = {
    "twap": TWAPPolicy,
    "vwap": VWAPPolicy,
    "pov": POVPolicy,
    "almgren_chriss": _almgren_chriss,
    "stochastic_control": _stochastic_control,
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
