"""The classical execution algorithms, all behind SB3's ``predict`` interface.

=====================  ===================================================  =================
name                   policy                                               module
=====================  ===================================================  =================
``twap``               equal slices (optionally randomised)                  :mod:`.twap`
``vwap``               along the expected volume profile, participation cap :mod:`.vwap`
``pov``                fraction of market volume, adaptive                  :mod:`.pov`
``almgren_chriss``     the closed-form optimal holdings                     :mod:`.almgren_chriss`
=====================  ===================================================  =================

Build one by name for an environment's task with :func:`make_baseline`; to add a
baseline, subclass :class:`~baselines.schedule.SchedulePolicy`, implement
``shares_to_trade`` and add it to :data:`BASELINES`.
"""

from __future__ import annotations

from typing import Any, Callable

from baselines.almgren_chriss import AlmgrenChrissPolicy
from baselines.pov import POVPolicy
from baselines.schedule import SchedulePolicy
from baselines.twap import TWAPPolicy
from baselines.vwap import VWAPPolicy
from envs.contract import ExecutionTask

__all__ = ["BASELINES", "AlmgrenChrissPolicy", "POVPolicy", "SchedulePolicy", "TWAPPolicy", "VWAPPolicy", "make_baseline"]


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


BASELINES: dict[str, Callable[..., SchedulePolicy]] = {
    "twap": TWAPPolicy,
    "vwap": VWAPPolicy,
    "pov": POVPolicy,
    "almgren_chriss": _almgren_chriss,
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
