"""Every microstructure analytic on the real LOBSTER sample and on simulated days.

    python -m execgym.experiments.microstructure_report [hydra overrides]

Prints, for GOOG and AMZN (2012-06-21) and a simulated day (:mod:`execgym.envs.market.analysis.microstructure`):

1. trade-signing accuracy (tick rule, quote rule, Lee-Ready) against LOBSTER's direction;
2. Kyle's lambda with OLS and Newey-West standard errors;
3. the square-root law fitted to simulated metaorders (Y with its 95% interval, and the
   free exponent), with the temporary and permanent parts;
4. the impact predictors (out-of-sample R^2 on the later part of each day);
5. the fill-probability predictors (held-out Brier score and skill vs the base rate);
6. quote-stuffing and layering detectors: precision and recall on a simulated day with
   injected manipulation, and what they flag on the real days.

Writes every table as CSV, ``calibration.png`` (fill-probability calibration curves) and
``impact_paths.png`` (metaorder impact paths and the square-root fit) to Hydra's run directory.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import hydra
import numpy as np
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from matplotlib.figure import Figure
from omegaconf import DictConfig, OmegaConf

from execgym.envs.market.analysis.impact.law import fit_square_root, impact_vs_size, market_scale
from execgym.envs.market.analysis.impact.model import evaluate_impact_models, impact_dataset
from execgym.envs.market.analysis.microstructure import manipulation as manip
from execgym.envs.market.analysis.microstructure.fill_probability import (
    evaluate_fill_models,
    fill_dataset,
    fill_rate_table,
)
from execgym.envs.market.analysis.microstructure.kyle import kyle_lambda, simulator_lambda
from execgym.envs.market.analysis.microstructure.signing import signing_accuracy
from execgym.envs.market.data.lobster_data import LobsterDay, default_lobster_dir, load_lobster
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation.simulator import SimulatorConfig
from execgym.experiments.lib.builders import cfg_int

logger = logging.getLogger(__name__)


def _data_dir(cfg: DictConfig) -> Path:
    return Path(cfg.data_dir) if cfg.data_dir is not None else default_lobster_dir()


def load_real_days(cfg: DictConfig) -> list[LobsterDay]:
    """The LOBSTER days of ``cfg.tickers`` found in the data directory (missing ones logged and skipped)."""
    days = []
    root = _data_dir(cfg)
    for ticker in cfg.tickers:
        found = sorted(root.glob(f"{ticker}_*_message_*.csv*"))
        if not found:
            logger.warning("no LOBSTER message file for %s in %s: skipped", ticker, root)
            continue
        msg = found[0]
        book = msg.with_name(msg.name.replace("_message_", "_orderbook_"))
        days.append(load_lobster(msg, book, name=ticker))
    return days


def build_configs(cfg: DictConfig) -> dict:
    """Every dataclass of the run, built (and validated) before anything runs."""
    c = OmegaConf.to_container(cfg, resolve=True)
    return {
        "market": SimulatorConfig.from_mapping(c["market"]),
        "inject": manip.ManipulationConfig(**c["manipulation"]["inject"]),
        "stuffing": manip.StuffingParams(**c["manipulation"]["stuffing"]),
        "layering": manip.LayeringParams(**c["manipulation"]["layering"]),
    }


def run(cfg: DictConfig, out_dir: Path) -> dict[str, pd.DataFrame]:
    """Run every analytic; return the tables (also written to ``out_dir``) by name."""
    confs = build_configs(cfg)
    market = confs["market"]
    seeds = np.random.SeedSequence(cfg_int(cfg, "seed")).spawn(5)
    out_dir.mkdir(parents=True, exist_ok=True)
    real = load_real_days(cfg)
    sim = simulate_day(market, np.random.default_rng(seeds[0]), float(cfg.sim.duration_s), levels=cfg_int(cfg, "sim.levels"),
                       name="simulated")
    days = [*real, sim]
    tables: dict[str, pd.DataFrame] = {}

    # 1. trade signing
    tables["signing"] = pd.concat([signing_accuracy(d, quote_lag_s=float(lag)).assign(quote_lag_s=float(lag))
                                   for d in days for lag in cfg.signing.quote_lags_s], ignore_index=True)

    # 2. Kyle's lambda (true signs and Lee-Ready signs)
    rows = []
    for d in days:
        for interval, step in cfg.kyle.windows:
            for rule in ("truth", "lee_ready"):
                row = kyle_lambda(d, float(interval), float(step), rule=rule).as_row()
                # what the simulator's impact parameters imply (the real days have no such answer)
                row["configured_per_1000sh"] = (1000 * simulator_lambda(
                    market.impact.transient_ticks_per_share, market.impact.permanent_ticks_per_share,
                    market.flow.resilience_per_s, float(interval)) if d is sim else np.nan)
                rows.append(row)
    tables["kyle_lambda"] = pd.DataFrame(rows)

    # 3. square-root law on simulated metaorders, buy and sell
    sq = cfg.square_root
    sigma, volume = market_scale(sim)
    fits, sizes, paths = [], [], {}
    for side in ("buy", "sell"):
        tab, p = impact_vs_size(market, list(sq.sizes_shares), side=side, participation=sq.participation,
                                duration_s=float(sq.fixed_duration_s), volume_per_s=volume, n_runs=int(sq.n_runs),
                                post_s=float(sq.post_s), seed=int(seeds[1].generate_state(1)[0]))
        fit = fit_square_root(tab["size_shares"], tab["peak_ticks"], tab["peak_stderr_ticks"], sigma, volume)
        fits.append({"side": side, "sigma_ticks_per_sqrt_s": sigma, "volume_shares_per_s": volume, **fit.as_row()})
        sizes.append(tab.assign(side=side, sqrt_law_ticks=fit.y * sigma * np.sqrt(tab["size_shares"] / volume)))
        paths[side] = (p, fit)
    tables["square_root_fit"] = pd.DataFrame(fits)
    tables["metaorder_impact"] = pd.concat(sizes, ignore_index=True)

    # 4. impact predictors
    rows = []
    for d in days:
        for h in cfg.impact_model.horizons_s:
            data = impact_dataset(d, horizon_s=float(h))
            res = evaluate_impact_models(data, train_frac=float(cfg.impact_model.train_frac), seed=cfg_int(cfg, "seed"))
            rows.append(res.scores.assign(day=d.name, horizon_s=float(h), n_train=res.n_train, n_test=res.n_test))
    tables["impact_models"] = pd.concat(rows, ignore_index=True)

    # 5. fill probability
    rows, rates, curves = [], [], {}
    for d in days:
        data = fill_dataset(d, horizon_s=float(cfg.fill.horizon_s), every_s=float(cfg.fill.every_s),
                            levels=cfg_int(cfg, "fill.levels"), rng=np.random.default_rng(seeds[2]))
        res = evaluate_fill_models(data, train_frac=float(cfg.fill.train_frac), seed=cfg_int(cfg, "seed"))
        rows.append(res.scores.assign(day=d.name, n_train=res.n_train, n_test=res.n_test))
        rates.append(fill_rate_table(data).assign(day=d.name))
        curves[d.name] = res.curves
    tables["fill_models"] = pd.concat(rows, ignore_index=True)
    tables["fill_rates"] = pd.concat(rates, ignore_index=True)

    # 6. manipulation: injected on a simulated day, then the real days
    man = cfg.manipulation
    agent = manip.ManipulationAgent(confs["inject"], np.random.default_rng(seeds[3]), float(man.duration_s))
    mday = simulate_day(market, np.random.default_rng(seeds[4]), float(man.duration_s), dt_s=float(man.dt_s),
                        levels=cfg_int(cfg, "sim.levels"), agent=agent, name="simulated+manipulation")
    stuff = manip.detect_quote_stuffing(mday.messages, confs["stuffing"])
    flagged, _ = manip.detect_layering(mday, confs["layering"])
    st = manip.interval_scores(stuff, mday.labels["stuffing"])
    lay = manip.layering_scores(flagged, mday.labels)
    tables["stuffing_scores"] = pd.DataFrame([st])
    tables["layering_scores"] = lay
    rows = []
    for d in real:
        s = manip.detect_quote_stuffing(d.messages, confs["stuffing"])
        for factor in sorted({confs["layering"].size_factor, *man.real_size_factors}):
            f, ep = manip.detect_layering(d, dataclasses.replace(confs["layering"], size_factor=float(factor)))
            rows.append({"day": d.name, "stuffing_episodes": len(s),
                         "stuffing_messages": int(s["n_messages"].sum()) if len(s) else 0,
                         "stuffing_time_frac": float((s["t_end"] - s["t_start"]).sum()
                                                     / np.ptp(d.messages["time_s"].to_numpy())),
                         "layering_size_factor": factor, "layering_orders": len(f),
                         "layering_buy": int((f["side"] == 1).sum()), "layering_sell": int((f["side"] == -1).sum()),
                         "layering_episodes": len(ep)})
            if len(f):
                tables[f"layering_flagged_{d.name}_x{factor:g}"] = f
    tables["detections_real"] = pd.DataFrame(rows)

    for name, table in tables.items():
        table.to_csv(out_dir / f"{name}.csv", index=False)
    _plot_calibration(curves, out_dir / "calibration.png")
    _plot_impact(paths, tables["metaorder_impact"], out_dir / "impact_paths.png")
    return tables


def _plot_calibration(curves: dict, path: Path) -> None:
    fig = Figure(figsize=(4.2 * max(1, len(curves)), 4.2), constrained_layout=True)
    axes = np.atleast_1d(fig.subplots(1, max(1, len(curves))))
    for ax, (day, models) in zip(axes, curves.items()):
        ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1)
        for name, (pred, obs) in models.items():
            ax.plot(pred, obs, marker="o", ms=3, label=name)
        ax.set_title(f"fill probability: {day}")
        ax.set_xlabel("predicted")
        ax.set_ylabel("observed (held-out)")
        ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)


def _plot_impact(paths: dict, sizes: pd.DataFrame, path: Path) -> None:
    fig = Figure(figsize=(12, 4.5), constrained_layout=True)
    ax_path, ax_law = fig.subplots(1, 2)
    buy_paths, _ = paths["buy"]
    for q, p in buy_paths.items():
        ax_path.plot(p["time_s"], p["impact_ticks"], lw=1, label=f"{q} shares")
    ax_path.set_xlabel("seconds since the metaorder started")
    ax_path.set_ylabel("impact (ticks), buys")
    ax_path.legend(fontsize=8)
    for side, marker in (("buy", "o"), ("sell", "s")):
        s = sizes[sizes["side"] == side]
        ax_law.errorbar(s["size_shares"], s["peak_ticks"], yerr=1.96 * s["peak_stderr_ticks"], fmt=marker, ms=4,
                        label=f"peak, {side}")
        ax_law.plot(s["size_shares"], s["permanent_ticks"], marker=marker, ls=":", ms=3, label=f"permanent, {side}")
    s = sizes[sizes["side"] == "buy"]
    ax_law.plot(s["size_shares"], s["sqrt_law_ticks"], "k--", label="Y sigma sqrt(Q/V), buy fit")
    ax_law.set_xscale("log")
    ax_law.set_xlabel("metaorder size Q (shares)")
    ax_law.set_ylabel("impact (ticks)")
    ax_law.legend(fontsize=8)
    fig.savefig(path, dpi=110)


def _print(title: str, table: pd.DataFrame) -> None:
    print(f"\n## {title}\n")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.4g}"))


@hydra.main(version_base=None, config_path="../conf", config_name="microstructure_report")
def main(cfg: DictConfig) -> None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    t = run(cfg, out_dir)
    sig = t["signing"]
    _print("1. Trade signing accuracy vs LOBSTER direction (all executions; visible and hidden separately)",
           sig[["day", "quote_lag_s", "rule", "subset", "n", "accuracy", "buy_recall", "sell_recall",
                "volume_accuracy"]])
    _print("2. Kyle's lambda (ticks per 1000 shares; HAC = Newey-West)", t["kyle_lambda"])
    _print("3a. Square-root law on simulated metaorders: I = Y sigma sqrt(Q/V)", t["square_root_fit"])
    _print("3b. Metaorder impact by size (ticks): peak, permanent, temporary", t["metaorder_impact"])
    _print("4. Impact predictors (held-out later part of each day; r2_oos vs the training mean)",
           t["impact_models"])
    _print("5a. Fill-probability predictors (held-out; brier_skill = 1 - Brier / Brier of the base rate)",
           t["fill_models"])
    _print("5b. Empirical fill rates by level and queue ahead", t["fill_rates"])
    _print("6a. Quote stuffing on the simulated day with injected bursts", t["stuffing_scores"])
    _print("6b. Layering on the simulated day with injected episodes", t["layering_scores"])
    _print("6c. Detections on the real days (layering at several size thresholds)", t["detections_real"])
    for name in sorted(k for k in t if k.startswith("layering_flagged_")):
        flagged = t[name].head(10).copy()
        for col in ("t_submit", "t_delete"):  # seconds after midnight -> clock time
            flagged[col] = pd.to_datetime(flagged[col], unit="s").dt.strftime("%H:%M:%S.%f")
        _print(f"6d. {name} (first 10)", flagged)
    print(f"\ntables (CSV), calibration.png and impact_paths.png: {out_dir}")


if __name__ == "__main__":
    main()
