"""Calibrating a simulated market to a recorded day from a Hydra config (the ``stylized_facts``
config's ``data`` and ``calibration``), and writing it as a ``conf/market`` preset: shared by
:mod:`execgym.experiments.stylized_facts` (which calibrates and compares) and
:mod:`execgym.experiments.presets` (which reproduces the presets)."""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from omegaconf import DictConfig, OmegaConf

from execgym.envs.market.analysis.calibration.flow import calibrate_flow
from execgym.envs.market.analysis.calibration.inside_regimes import fit_inside_regimes
from execgym.envs.market.analysis.calibration.latent import latent_settings
from execgym.envs.market.analysis.calibration.propagator import calibrate_propagator
from execgym.envs.market.analysis.calibration.refine import refine_depth
from execgym.envs.market.data.lobster import resolve_lobster_file
from execgym.envs.market.data.lobster_data import LobsterDay, default_lobster_dir, load_lobster, units_per_tick
from execgym.envs.market.simulation.flow import FlowConfig
from execgym.envs.market.simulation.simulator import SimulatorConfig
from execgym.experiments.lib.builders import cfg_int

__all__ = ["REFINE_SEED", "calibrated_market", "first_centre", "flow_arguments", "load_day", "market_yaml"]


def load_day(data: DictConfig) -> LobsterDay:
    """The configured LOBSTER day: read once per process while its files are unchanged (the
    presets' reproduction reads one day for each preset), and a copy on each call, which the
    caller may change."""
    folder = Path(data.dir) if data.dir else default_lobster_dir()
    paths = (folder / data.messages, folder / data.orderbook)
    stamps = tuple((str(f.resolve()), f.stat().st_mtime_ns, f.stat().st_size) for f in map(resolve_lobster_file, paths))
    day = _read_day(*paths, units_per_tick(float(data.tick_size)), float(data.start_s), float(data.end_s), stamps)
    return dataclasses.replace(day, messages=day.messages.copy(),
                               orderbook=None if day.orderbook is None else day.orderbook.copy(),
                               labels=copy.deepcopy(day.labels))


@functools.lru_cache(maxsize=2)
def _read_day(messages: Path, orderbook: Path, units: int, start_s: float, end_s: float, stamps: tuple) -> LobsterDay:
    """:func:`load_day`'s read; ``stamps`` (the files read, their times and sizes) keys the cache."""
    return load_lobster(messages, orderbook, price_units_per_tick=units, start_s=start_s, end_s=end_s)


def first_centre(day) -> float:
    """The day's first mid (ticks) as the simulated market's starting centre, half-integer
    (the flow's convention)."""
    mids = day.mid_ticks()
    first = float(mids[np.isfinite(mids)][0])
    return first + (0.5 if first == int(first) else 0.0)


#: offset of the depth refinement's seed from the report's (its simulated days are not the evaluated ones)
REFINE_SEED = 7919
#: and of the liquidity-provision regimes' fit
REGIMES_SEED = 104_729


def flow_arguments(cfg: DictConfig, overrides: dict | None = None) -> dict:
    """``calibrate_flow``'s arguments: ``cfg.calibration`` updated by ``overrides``, without
    ``refine_depth``, ``propagator``, ``latent`` and the like (not calibrate_flow arguments)."""
    args = {**OmegaConf.to_container(cfg.calibration, resolve=True), **(overrides or {})}
    args.pop("refine_depth", None)
    args.pop("refine_gain_decay", None)
    args.pop("refine_cancel_near", None)
    args.pop("inside_regimes", None)
    args.pop("propagator", None)
    args.pop("latent", None)
    return args


def calibrated_market(cfg: DictConfig, day, overrides: dict | None = None) -> tuple:
    """``(calibration, market, market mapping)`` of ``day`` under ``cfg.calibration`` updated
    by ``overrides``; with ``refine_depth: N > 0`` the depth profile is refined by ``N``
    simulated days (:func:`~execgym.envs.market.analysis.calibration.refine.refine_depth`); with
    ``inside_regimes: true`` the liquidity-provision regimes are then fitted by simulation
    (:func:`~execgym.envs.market.analysis.calibration.inside_regimes.fit_inside_regimes`); with
    ``propagator:`` (``calibrate_propagator``'s arguments) the impact then gets the day's
    power-law propagator (:func:`~execgym.envs.market.analysis.calibration.propagator.calibrate_propagator`),
    and with ``latent:`` (``latent_settings``' ``frac`` and ``offset_ticks``) a share of the flow's
    orders sits around the centre it moves
    (:func:`~execgym.envs.market.analysis.calibration.latent.latent_settings`)."""
    settings = {**OmegaConf.to_container(cfg.calibration, resolve=True), **(overrides or {})}
    impact, flow = _last_settings(day, settings)  # checked and computed (from the day alone) before the fits
    # with the reference anchor the propagator moves the whole book: the fits run with it
    last = settings.get("anchor") == "opposite_best"
    cal, market_dict = _fitted_flow(cfg, day, settings, overrides, {} if last else impact, last)
    market_dict["impact"].update(impact)
    market_dict["flow"].update(flow)
    return cal, SimulatorConfig.from_mapping(market_dict), market_dict


def _last_settings(day, settings: dict) -> tuple[dict, dict]:
    """``(impact fields, flow fields)`` of the ``propagator`` and ``latent`` settings; bad ones
    refused (``latent`` needs ``propagator`` and the opposite-best anchor: its orders sit around
    the centre that only the propagator moves)."""
    prop, latent = settings.get("propagator"), settings.get("latent")
    for name, value in (("propagator", prop), ("latent", latent)):
        if value is not None and not isinstance(value, Mapping):
            raise TypeError(f"calibration.{name} must be a mapping of its arguments or null, got {value!r}")
    if latent is not None and prop is None:
        raise ValueError(f"calibration latent={latent!r} needs a propagator: the latent orders sit around the centre "
                         "that only the propagator moves (set propagator, e.g. {square_root_y: 1.0, participation: 0.1})")
    impact, flow = {}, {}
    if latent is not None:
        flow = latent_settings(day, **latent)
        if flow.get("latent_improve") == "inside" and not settings.get("inside"):
            raise ValueError(f"calibration latent={latent!r} draws the latent orders' improvement as the orders inside "
                             f"the spread do: it needs inside: true, got inside={settings.get('inside')!r}")
        # the flow's own checks (the anchor) before any fit; the inside table is fitted later
        FlowConfig(anchor=settings.get("anchor"), **{k: v for k, v in flow.items() if k != "latent_improve"})
    if prop is not None:
        fit = calibrate_propagator(day, **prop)
        impact = {k: float(f"{fit[k]:.5g}") for k in ("propagator_ticks_per_share", "propagator_exponent",
                                                      "propagator_time_s")}
    return impact, flow


#: settings applied after the fitted flow of an opposite-best book (:func:`calibrated_market`;
#: its propagator moves the book only through latent orders): models that differ only in them
#: share one fit
LAST_SETTINGS = ("propagator", "latent")
#: fitted flows kept (:func:`_fitted_flow`): the slow ones, by their settings and day
_FITS: OrderedDict = OrderedDict()
_FITS_KEPT = 4


def _fitted_flow(cfg: DictConfig, day, settings: dict, overrides: dict | None, impact: dict, last: bool) -> tuple:
    """``(calibration, market mapping)``: the flow with ``impact`` (fields of its impact), its
    depth refinement and its regimes' fit; with ``last`` the :data:`LAST_SETTINGS` are left out
    (applied after). A fit that simulates (``refine_depth``, ``inside_regimes``) is kept, by its
    settings, seed, warm-up and the day's contents, and a copy returned: the realism report's
    models and the presets that differ only in the last settings (e.g.
    ``inside_follow_regimes`` and ``latent``) fit once."""
    slow = bool(settings.get("refine_depth")) or bool(settings.get("inside_regimes"))
    key = None
    if slow:
        base = {k: v for k, v in settings.items() if not (last and k in LAST_SETTINGS)}
        key = (json.dumps(base, sort_keys=True), cfg_int(cfg, "seed"), float(cfg.warmup_s), _day_key(day))
        if key in _FITS:
            _FITS.move_to_end(key)
            return copy.deepcopy(_FITS[key])
    fitted = _fit_flow(cfg, day, settings, overrides, impact)
    if key is not None:
        _FITS[key] = copy.deepcopy(fitted)
        while len(_FITS) > _FITS_KEPT:
            _FITS.popitem(last=False)
    return fitted


def _day_key(day) -> tuple:
    """What a fit reads of ``day``: its name, session, tick and the contents of its files."""
    book = None if day.orderbook is None else hashlib.blake2b(np.ascontiguousarray(day.orderbook).data).hexdigest()
    rows = np.ascontiguousarray(pd.util.hash_pandas_object(day.messages, index=False).to_numpy())
    return (day.name, float(day.start_s), float(day.end_s), float(day.tick_size_usd), day.levels,
            hashlib.blake2b(rows.data).hexdigest(), book)


def _fit_flow(cfg: DictConfig, day, settings: dict, overrides: dict | None, impact: dict) -> tuple:
    """:func:`_fitted_flow` computed."""
    cal = calibrate_flow(day, **flow_arguments(cfg, overrides))
    market_dict = cal.market_config(day.tick_size_usd, first_centre(day), float(cfg.warmup_s))
    market_dict["impact"].update(impact)
    market = SimulatorConfig.from_mapping(market_dict)
    if settings.get("refine_depth"):
        # seeds apart from the evaluated days' (spawned from seed): the depth is not tuned on them
        market, _ = refine_depth(market, day, int(settings["refine_depth"]), seed=cfg_int(cfg, "seed") + REFINE_SEED,
                                 fleeting=bool(settings.get("fleeting")),
                                 spread_profile=bool(settings.get("spread_profile")),
                                 spread_rate=bool(settings.get("spread_rate")),
                                 revisions=bool(settings.get("revisions")),
                                 inside=bool(settings.get("inside")),
                                 gain_decay=0.0 if settings.get("refine_gain_decay") is None
                                 else settings["refine_gain_decay"],
                                 cancel_near=bool(settings.get("refine_cancel_near")))
        market_dict["flow"]["depth_shares"] = [float(f"{x:.4g}") for x in market.flow.depth_shares]
        if settings.get("fleeting"):
            market_dict["flow"].update({k: float(f"{getattr(market.flow, k):.4g}")
                                        for k in ("cluster_join_frac", "cluster_cancel_newest_frac")})
        if settings.get("revisions"):
            market_dict["flow"].update({k: float(f"{getattr(market.flow, k):.4g}")
                                        for k in ("revise_best_per_s", "revise_deep_per_s")})
        if settings.get("refine_cancel_near"):
            market_dict["flow"]["cancel_near_factor"] = float(f"{market.flow.cancel_near_factor:.4g}")
        if settings.get("spread_rate"):
            market_dict["flow"]["market_rate_per_s"] = float(f"{market.flow.market_rate_per_s:.5g}")
        if settings.get("inside"):
            market_dict["flow"]["inside_probs"] = [float(f"{x:.4g}") for x in market.flow.inside_probs]
        if settings.get("spread_profile"):
            market_dict["flow"]["placement_scale"] = [float(f"{x:.4g}") for x in market.flow.placement_scale]
        if market.flow.depth_sell_shares:
            market_dict["flow"]["depth_sell_shares"] = [float(f"{x:.4g}") for x in market.flow.depth_sell_shares]
        market = SimulatorConfig.from_mapping(market_dict)  # exactly what the YAML says
    if settings.get("inside_regimes"):
        # after the refinement, on seeds apart from it and from the evaluated days
        fit = fit_inside_regimes(market, day, n_days=3, seed=cfg_int(cfg, "seed") + REGIMES_SEED)
        market_dict["flow"].update({k: float(f"{fit[k]:.4g}") for k in ("inside_regime_sigma", "inside_regime_time_s")})
    return cal, market_dict


def market_yaml(market: dict, cfg: DictConfig) -> str:
    src = f"{cfg.data.messages}"
    head = (f"# Calibrated by: python -m execgym.experiments.stylized_facts (calibration: "
            f"{OmegaConf.to_container(cfg.calibration, resolve=True)}, seed: {cfg_int(cfg, 'seed')})\n"
            f"# from the LOBSTER file {src}. Fields of execgym.envs.market.simulation.simulator.SimulatorConfig\n"
            "# (ticks, shares, seconds); the estimates and their mapping: envs/market/analysis/calibration/flow.py.\n"
            "defaults:\n  - /schema@_here_: market\n  - _self_\n")
    return head + yaml.safe_dump(market, sort_keys=False, default_flow_style=None, width=100)
