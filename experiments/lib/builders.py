"""Build validated library objects from Hydra configs, before any simulation runs."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Callable, Mapping

import gymnasium as gym
from omegaconf import DictConfig, OmegaConf

from execgym import envs
from execgym.baselines import make_baseline
from execgym.baselines.routing import Router, make_router
from execgym.baselines.schedule import SchedulePolicy
from execgym.envs.almgren_chriss import AlmgrenChrissConfig
from execgym.envs.contract import ExecutionTask
from execgym.envs.lob_execution import LOBExecutionConfig
from execgym.envs.lob_replay import LOBReplayConfig
from execgym.envs.market.analysis.calibration.almgren_chriss import (
    calibrate_almgren_chriss,
    calibrate_almgren_chriss_replay,
)
from execgym.envs.routing import RoutingConfig
from execgym.validation import check_int

__all__ = ["ENV_CONFIGS", "build_baselines", "build_env_factory", "build_routers", "cfg_int", "conf_file",
           "facts_kwargs"]

_CONFIG_OF_ENTRY_POINT = {
    "execgym.envs.almgren_chriss:AlmgrenChrissEnv": AlmgrenChrissConfig,
    "execgym.envs.lob_execution:LOBExecutionEnv": LOBExecutionConfig,
    "execgym.envs.lob_replay:LOBReplayEnv": LOBReplayConfig,
    "execgym.envs.routing:SmartOrderRoutingEnv": RoutingConfig,
}
#: environment id -> its config dataclass
ENV_CONFIGS = {env_id: _CONFIG_OF_ENTRY_POINT[entry] for env_id, (entry, _, _) in envs.ENV_IDS.items()}


def cfg_int(cfg: Any, key: str, minimum: int = 0) -> int:
    """The integer setting ``key`` (a dotted path) of a Hydra config, validated: an integer,
    not a float or bool (``seed=1.5`` is refused, never truncated), at least ``minimum``.
    Raises ``TypeError``/``ValueError`` naming the key and value."""
    value = OmegaConf.select(cfg, key) if isinstance(cfg, DictConfig) else cfg[key]
    try:
        return check_int(key, value, minimum=minimum)
    except TypeError:
        raise TypeError(f"{key} must be an integer, got {value!r} ({type(value).__name__})") from None


def facts_kwargs(cfg: DictConfig) -> dict:
    """The arguments of :func:`~execgym.envs.market.analysis.stylized_facts.summary_facts` from
    a job config's ``facts`` block (``stylized_facts``, ``market_facts``), the horizons as
    floats."""
    f = OmegaConf.to_container(cfg.facts, resolve=True)
    f["horizons_s"] = tuple(float(h) for h in f["horizons_s"])
    return f


def conf_file(*parts: str) -> Path:
    """A file of the packaged Hydra configs (``execgym.conf``), wherever execgym is installed."""
    return Path(str(resources.files("execgym.conf").joinpath(*parts)))


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node


def build_env_factory(env_cfg: Mapping[str, Any]) -> tuple[Callable[[], gym.Env], Any]:
    """``(make_env, config)`` from an ``env`` config group (``id``, ``params`` and optionally
    ``make_kwargs``: further keyword arguments of the env's constructor, e.g. a LOB env's
    price grid ``n_levels`` for a market whose price travels far).

    The config dataclass is built (and so validated) here, once.
    """
    env_cfg = _plain(env_cfg)
    env_id = env_cfg.get("id")
    if env_id not in ENV_CONFIGS:
        raise ValueError(f"env.id must be one of {sorted(ENV_CONFIGS)}, got {env_id!r}")
    defaults = envs.ENV_IDS[env_id][2]
    config = ENV_CONFIGS[env_id].from_kwargs({**defaults, **(env_cfg.get("params") or {})})
    make_kwargs = env_cfg.get("make_kwargs") or {}
    if not isinstance(make_kwargs, Mapping) or "config" in make_kwargs:
        raise ValueError(f"env.make_kwargs must be a mapping of constructor arguments other than config, got "
                         f"{make_kwargs!r}")
    make_kwargs = dict(make_kwargs)
    return (lambda: gym.make(env_id, config=config, **make_kwargs)), config


def build_baselines(spec: Mapping[str, Any], task: ExecutionTask, env_config: Any = None) -> dict[str, SchedulePolicy]:
    """Named baselines from a ``baselines`` config group: ``name: {kind: ..., **params}``.

    ``calibrate: true`` on a model-based entry (``almgren_chriss``, ``stochastic_control``,
    ``robust``) estimates its model parameters (``sigma``, ``epsilon``, ``eta``, ``gamma``) from
    the environment's market (:func:`execgym.envs.market.analysis.calibration.almgren_chriss.calibrate_almgren_chriss`, or
    :func:`~execgym.envs.market.analysis.calibration.almgren_chriss.calibrate_almgren_chriss_replay` for a recorded day).
    """
    spec = _plain(spec)
    out = {}
    for name, params in spec.items():
        params = dict(params or {})
        kind = params.pop("kind", name)
        if params.pop("calibrate", False):
            if isinstance(env_config, LOBExecutionConfig):
                model = calibrate_almgren_chriss(env_config.market, env_config.decision_interval_s).model()
            elif isinstance(env_config, LOBReplayConfig):
                model = calibrate_almgren_chriss_replay(env_config.load_day(), env_config.decision_interval_s,
                                                        *env_config.start_window_s).model()
            else:
                raise ValueError(f"baseline {name!r}: calibrate needs a limit-order-book environment")
            params = {**model, **params}
        out[name] = make_baseline(kind, task, **params)
    return out


def build_routers(spec: Mapping[str, Any], env_config: RoutingConfig) -> dict[str, Router]:
    """Named routers from a ``routers`` config group (``name: {kind: ..., **params}``) for the
    routing environment configured by ``env_config``."""
    if not isinstance(env_config, RoutingConfig):
        raise TypeError(f"routers need a RoutingConfig (execgym/SmartOrderRouting-v0), got {type(env_config).__name__}")
    out = {}
    for name, params in _plain(spec).items():
        params = dict(params or {})
        kind = params.pop("kind", name)
        out[name] = make_router(kind, env_config.n_venues, env_config.n_levels, **params)
    return out
