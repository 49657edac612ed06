"""Calibrate the simulator to a LOBSTER day and compare the stylised facts of both days.

    python -m execgym.experiments.stylized_facts [hydra overrides]

Steps: read the day (``conf/stylized_facts.yaml``: GOOG, 2012-06-21, 10 levels); estimate
the background flow with :func:`execgym.envs.market.analysis.calibration.flow.calibrate_flow`; simulate the
calibrated market over the same session, ``n_days`` times from ``seed``, and record it as
LOBSTER would (:func:`execgym.envs.market.data.simulated_day.simulate_day`); compute the facts
of all with :mod:`execgym.envs.market.analysis.stylized_facts`. Prints the side-by-side table (the real
day, the simulated days' mean and range) and the facts that differ beyond the tolerance,
beyond sampling noise and outside the simulated days' range, and writes to Hydra's run
directory:

* ``facts.csv`` / ``facts.md``: the table (real, simulated mean and range, difference, flag);
* ``realism.csv`` / ``realism.md``: the realism score (:mod:`execgym.envs.market.analysis.realism`):
  per metric, L1 and Wasserstein-1 distances between the real and simulated distributions
  with bootstrap intervals, the floor between two simulated days, and the mean, median and
  interquartile mean of the L1 over the metrics;
* ``realism_models.csv``: the L1 per metric of the calibrated model and of each further model
  of ``realism.models`` (narrowed by ``realism.select``), each calibrated to the same day and
  simulated on the same seeds; ``realism_<model>.csv``: each further model's whole score, as
  ``realism.csv``;
* ``consistency.csv``: the configured parameters beside those the same estimators find in
  the simulated day (a check of the estimators at this scale);
* ``calibration.csv`` (per distance: real ``lambda``, ``theta``, depth, and the config's),
  ``hawkes.csv``, ``intraday_fit.csv``, ``returns.csv``;
* ``market.yaml``: the calibrated market, a ``conf/market`` group file (also written to
  ``write_market_config`` if set);
* PNGs: ``spread.png``, ``depth.png``, ``return_tails.png``, ``return_acf.png``,
  ``sign_acf.png``, ``intraday_volume.png``, ``calibration.png`` and all panels in
  ``stylized_facts.png``.

Known gaps of the flow, and the optional mechanisms that narrow them (``calibration.*``;
the realism tables of envs/market/NOTEBOOK.md measure each):

* **one cancellation rate**: the flow cancels every resting order at ``rho``; real
  orders placed inside the spread are cancelled an order of magnitude faster than those
  deep in the book (``calibration.csv``: ``theta(d)``). So the flow reproduces either
  the arrival rates or the depth profile (``calibration.match``), not both; the depth
  refinement (``refine_depth``) and fleeting orders (``fleeting``: bursts that quote at
  the touch and cancel the newest order) bring the spread, the order levels and the times
  to cancel close to the day's;
* **sizes**: geometric with the real mean unless ``sizes: empirical`` (the recorded
  tables, round lots included);
* **volatility clustering**: the random clock (``activity``) reproduces the day's waves of
  activity, yet the absolute returns' autocorrelation stays about a third of the day's, half
  of which is the day's intraday volatility pattern (much higher after the open;
  ``spread_profile`` widens the book there, by the minute with ``spread_starts_s``, and
  brings it within a factor of 2);
* **order splitting**: trade signs are correlated by the Hawkes excitation of each side,
  and over hundreds of orders only with ``sign_memory`` (Pareto runs of one sign);
* **impact**: with the opposite-best anchor the book re-forms around its own quotes, so a
  metaorder's impact is linear in its size and does not decay; the square-root law and its
  decay need the reference anchor with the power-law propagator (``propagator``;
  ``python -m execgym.experiments.square_root_law``), or latent liquidity
  (``latent`` with ``propagator``: a share of the orders placed from the centre the
  propagator moves, as in the model ``latent``); the data set has no metaorders to calibrate
  a decay on;
* **hidden liquidity**: about 30% of GOOG's volume that day executed against hidden
  orders (type 5), which the simulated book does not have; the calibration and the
  facts use visible executions only.
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
import numpy as np
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from omegaconf import DictConfig, OmegaConf
from scipy.stats import norm

from execgym.envs.market.analysis.calibration.flow import calibrate_flow
from execgym.envs.market.analysis.realism import realism_score, summarise_scores
from execgym.envs.market.analysis.stylized_facts import FactTolerance, compare_facts, log_returns, summary_facts
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.experiments.lib.builders import cfg_int, facts_kwargs
from execgym.experiments.lib.market_calibration import calibrated_market, flow_arguments, load_day, market_yaml

logger = logging.getLogger(__name__)

REAL, SIM = "real", "simulated"
_STYLE = {REAL: {"color": "C0", "ls": "-"}, SIM: {"color": "C3", "ls": "--"}}


#: names a further realism model may not take: the calibrated model's column and the
#: side-by-side file (``realism_models.csv``) beside each model's ``realism_<model>.csv``
RESERVED_MODEL_NAMES = frozenset({"calibrated", "models"})


def selected_models(cfg: DictConfig) -> dict:
    """The further models the report scores: ``realism.models`` (name -> calibration
    overrides; missing or null: none), narrowed to the names in ``realism.select`` and in
    its order when that is given (null: all). A model set to null for the day stays in and is
    skipped by :func:`run`.

    :raises TypeError: ``realism.select`` is not a list of names.
    :raises ValueError: it names a model ``realism.models`` does not have (named, with the
        models there are) or one twice; or ``realism.models`` names a model
        :data:`RESERVED_MODEL_NAMES` holds.
    """
    others = cfg.realism.get("models")
    models = OmegaConf.to_container(others, resolve=True) if others else {}
    clash = sorted(RESERVED_MODEL_NAMES & set(models))
    if clash:
        raise ValueError(f"realism.models may not name a model {clash}: the report's column of the "
                         f"calibrated model ('calibrated') and its file realism_models.csv ('models') use them")
    select = cfg.realism.get("select")
    if select is None:
        return models
    select = OmegaConf.to_container(select, resolve=True) if OmegaConf.is_config(select) else select
    if not isinstance(select, list) or not all(isinstance(name, str) for name in select):
        raise TypeError(f"realism.select must be a list of model names or null, got {select!r}")
    unknown = [name for name in select if name not in models]
    if unknown:
        raise ValueError(f"realism.select names {unknown}, which realism.models does not have; "
                         f"its models: {sorted(models)}")
    twice = sorted({name for name in select if select.count(name) > 1})
    if twice:
        raise ValueError(f"realism.select names {twice} more than once")
    return {name: models[name] for name in select}


def run(cfg: DictConfig, out_dir: Path) -> dict:
    """Calibrate, simulate, compare; write the outputs to ``out_dir``; return everything."""
    others = selected_models(cfg)  # a bad selection is refused before any fit
    out_dir.mkdir(parents=True, exist_ok=True)
    day = load_day(cfg.data)
    logger.info("calibrating on %d messages", len(day.messages))
    cal, market, market_dict = calibrated_market(cfg, day)
    fk = facts_kwargs(cfg)
    sim_facts, sim_days = [], []
    for k, seq in enumerate(np.random.SeedSequence(cfg_int(cfg, "seed")).spawn(cfg_int(cfg, "n_days"))):
        logger.info("simulating day %d of %d", k + 1, cfg.n_days)
        sim_day_k = simulate_day(market, np.random.default_rng(seq), day.duration_s, dt_s=60.0, levels=day.levels,
                                 open_time_s=day.start_s, progress=bool(cfg.progress))
        if k == 0:
            sim_day = sim_day_k  # the first day: curves in the plots, and the estimators' check
        sim_facts.append(summary_facts(sim_day_k, **fk))
        sim_days.append(sim_day_k)
    recal = calibrate_flow(sim_day, **flow_arguments(cfg))
    consistency = consistency_table(cal, recal)
    facts = {REAL: summary_facts(day, **fk), SIM: sim_facts[0]}
    table = compare_facts(facts[REAL]["scalars"], [f["scalars"] for f in sim_facts], FactTolerance(**cfg.tolerance),
                          facts[REAL]["stderr"], facts[SIM]["stderr"])

    table.to_csv(out_dir / "facts.csv")
    (out_dir / "facts.md").write_text(_markdown(table))
    n_boot, seed = cfg_int(cfg, "realism.n_boot", minimum=10), cfg_int(cfg, "seed")
    realism = realism_table(day, sim_days, n_boot, seed)
    realism.to_csv(out_dir / "realism.csv")
    models = {"calibrated": realism}
    for name, overrides in others.items():  # none (e.g. to write one model's market config): only the calibrated
        if overrides is None:
            # a model set to null is off for this day (e.g. an option its file cannot fit)
            logger.info("realism model %s: off (null) for day %s", name, day.name)
            continue
        models[name] = realism_table(day, _simulate_model(cfg, day, overrides), n_boot, seed)
        models[name].to_csv(out_dir / f"realism_{name}.csv")
    side_by_side = pd.concat({name: t["l1"] for name, t in models.items()}, axis=1)
    side_by_side.to_csv(out_dir / "realism_models.csv")
    (out_dir / "realism.md").write_text(_realism_markdown(realism, side_by_side))
    cal.table.to_csv(out_dir / "calibration.csv")
    cal.hawkes.to_csv(out_dir / "hawkes.csv")
    consistency.to_csv(out_dir / "consistency.csv")
    cal.intraday.to_csv(out_dir / "intraday_fit.csv", index=False)
    pd.concat({k: v["returns"] for k, v in facts.items()}, names=["day"]).to_csv(out_dir / "returns.csv")
    text = market_yaml(market_dict, cfg)
    (out_dir / "market.yaml").write_text(text)
    if cfg.write_market_config:
        Path(cfg.write_market_config).write_text(text)
    plot_facts(facts, cal, out_dir, fk)
    return {"day": day, "sim_day": sim_day, "calibration": cal, "market": market, "facts": facts, "table": table,
            "consistency": consistency, "sim_facts": sim_facts, "realism": realism}


def realism_table(day, sim_days: list, n_boot: int, seed: int) -> pd.DataFrame:
    """The realism score of the simulated days against the real one
    (:func:`~execgym.envs.market.analysis.realism.realism_score`), with the noise floor: the
    L1 distance between the first two simulated days (NaN with one day)."""
    table = realism_score(day, sim_days, n_boot=n_boot, seed=seed)
    if len(sim_days) >= 2:
        floor = realism_score(sim_days[0], sim_days[1], n_boot=10, seed=seed)
        table["l1_sim_vs_sim"] = floor["l1"]
    else:
        table["l1_sim_vs_sim"] = np.nan
    return table


def _simulate_model(cfg: DictConfig, day, overrides: dict) -> list:
    """The simulated days of the flow calibrated with ``cfg.calibration`` updated by
    ``overrides`` (another model of the same day), on the report's seeds."""
    _, market, _ = calibrated_market(cfg, day, overrides)
    return [simulate_day(market, np.random.default_rng(seq), day.duration_s, dt_s=60.0, levels=day.levels,
                         open_time_s=day.start_s)
            for seq in np.random.SeedSequence(cfg_int(cfg, "seed")).spawn(cfg_int(cfg, "n_days"))]


def _realism_markdown(table: pd.DataFrame, side_by_side: pd.DataFrame | None = None) -> str:
    summary = summarise_scores(table)
    head = ("Distances between the real day's and the simulated days' distributions per metric "
            "(execgym.envs.market.analysis.realism): L1 between histograms (0-2) with its bootstrap 95% interval, "
            "Wasserstein-1 in the metric's units and over the real interquartile range, and the L1 between two "
            f"simulated days (the floor). Over the metrics: L1 mean {summary['l1_mean']:.3f}, median "
            f"{summary['l1_median']:.3f}, IQM {summary['l1_iqm']:.3f}.\n\n")
    cols = ["l1", "l1_ci_low", "l1_ci_high", "w1", "w1_over_iqr", "l1_sim_vs_sim", "n_real", "n_sim"]
    text = head + table[cols].to_markdown(floatfmt=".3f") + "\n"
    if side_by_side is not None and side_by_side.shape[1] > 1:
        rows = pd.DataFrame({name: summarise_scores(side_by_side.rename(columns={name: "l1"}))
                             for name in side_by_side}).T
        text += ("\nL1 per metric for each model calibrated to the same day (`realism.models`):\n\n"
                 + pd.concat([side_by_side, rows.T.rename(index=lambda k: k.replace("l1_", "all metrics: "))])
                 .to_markdown(floatfmt=".3f") + "\n")
    return text


def consistency_table(cal, recal) -> pd.DataFrame:
    """The configured flow beside the same estimators run on the simulated day.

    The simulated day is generated by exactly the configured model, so the estimators
    should give its parameters back (up to sampling noise): a check of the estimators at
    the real day's scale, visible window included.
    """
    f, g = cal.flow, recal.flow
    lam_sim = float(np.nansum(recal.table["lambda_buy_per_s"] + recal.table["lambda_sell_per_s"]))
    rows = {
        "resilience_per_s (rho)": (f.resilience_per_s, recal.scalars["resilience_per_s"]),
        "limit orders/s (both sides)": (2 * f.limit_rates_per_s().sum(), lam_sim),
        "mean limit size (shares)": (f.mean_limit_size_shares, g.mean_limit_size_shares),
        "market orders/s per side (mean)": (f.expected_volume_per_s() / 2 / f.mean_market_size_shares,
                                            recal.scalars["market_rate_mean_per_s"]),
        "hawkes branching ratio": (f.hawkes_alpha_per_s / f.hawkes_beta_per_s, recal.scalars["hawkes_branching_ratio"]),
        "hawkes beta (1/s)": (f.hawkes_beta_per_s, g.hawkes_beta_per_s),
        "mean market size (shares)": (f.mean_market_size_shares, g.mean_market_size_shares),
        "intraday open_boost": (f.intraday.open_boost, g.intraday.open_boost),
        "intraday close_boost": (f.intraday.close_boost, g.intraday.close_boost),
    }
    out = pd.DataFrame(rows, index=["configured", "re-estimated on simulated day"]).T
    out["ratio"] = out.iloc[:, 1] / out.iloc[:, 0]
    return out


def _markdown(table: pd.DataFrame) -> str:
    lines = ["| fact | real | simulated (mean) | simulated range | difference | tolerance | 2 s.e. | differs |",
             "|---|---:|---:|---:|---:|---:|---:|:-:|"]
    for name, r in table.iterrows():
        diff = f"{100 * r['difference']:+.0f}%" if r["kind"] == "relative" else f"{r['difference']:+.3f}"
        tol = f"{100 * r['tolerance']:.0f}%" if r["kind"] == "relative" else f"{r['tolerance']:.2f}"
        noise = f"{r['noise']:.3g}" if r["noise"] else ""
        label = name.replace("|", "\\|")  # a markdown cell must escape pipes
        lines.append(f"| {label} | {r['real']:.4g} | {r['simulated']:.4g} | {r['sim_min']:.4g} to {r['sim_max']:.4g} | "
                     f"{diff} | {tol} | {noise} | {'**yes**' if r['differs'] else 'no'} |")
    return "\n".join(lines) + "\n"


def differences(table: pd.DataFrame) -> list[str]:
    """One sentence per fact that differs beyond its tolerance."""
    out = []
    for name, r in table[table["differs"]].iterrows():
        how = (f"{100 * r['difference']:+.0f}%" if r["kind"] == "relative" else f"{r['difference']:+.3f}")
        noise = f", beyond 2 s.e. = {r['noise']:.3g}" if r["noise"] else ""
        out.append(f"{name}: real {r['real']:.4g}, simulated {r['simulated']:.4g} (days {r['sim_min']:.4g} to "
                   f"{r['sim_max']:.4g}; {how}; "
                   f"tolerance {r['tolerance']:g} {r['kind']}{noise})")
    return out


# --- plots ------------------------------------------------------------------------------------


def _spread(ax, facts):
    for k, f in facts.items():
        s = f["spread"]
        ax.step(s.index, s.to_numpy(), where="mid", label=k, **_STYLE[k])
    hi = max(float(np.quantile(f["grid"].spread_ticks[np.isfinite(f["grid"].spread_ticks)], 0.995))
             for f in facts.values())
    ax.set(xlabel="spread (ticks)", ylabel="share of time", title="spread distribution", xlim=(0, hi))


def _depth(ax, facts):
    for k, f in facts.items():
        d = f["depth"]
        ax.plot(d.index, d["mean_shares"], marker="o", label=k, **_STYLE[k])
    ax.set(xlabel="occupied level", ylabel="mean depth (shares, mean of sides)", title="depth profile", ylim=(0, None))


def _tails(ax, facts, fk):
    step = fk["step_s"]
    for k, f in facts.items():
        for h, marker in zip(fk["horizons_s"], "os^v"):
            r = log_returns(f["grid"].mid_ticks, int(round(h / step)))
            if len(r) < 2 or np.std(r) == 0:
                continue
            r = np.abs(r[r != 0]) / np.std(r)
            x = np.sort(r)
            ax.loglog(x, 1.0 - np.arange(len(x)) / len(x), marker=marker, ms=2, lw=0.8,
                      label=f"{k} {h:g}s", **_STYLE[k])
    z = np.linspace(0.1, 12, 200)
    ax.loglog(z, 2 * norm.sf(z), color="k", lw=0.8, label="Gaussian")
    ax.set(xlabel="|return| / std (non-zero returns)", ylabel="P(|r| > x)", title="return tails", ylim=(1e-5, 1.2))


def _acf(ax, facts, key, title, n_key):
    for k, f in facts.items():
        a = f[key]
        ax.plot(np.arange(1, len(a) + 1), a, marker=".", label=k, **_STYLE[k])
        band = 2 / np.sqrt(f[n_key])
        ax.axhspan(-band, band, color=_STYLE[k]["color"], alpha=0.1)
    ax.axhline(0, color="k", lw=0.6)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="lag", ylabel="autocorrelation (band: 2 / sqrt(n))", title=title)


def _volume(ax, facts):
    for k, f in facts.items():
        v = f["volume"]
        edges = np.append(v.index.to_numpy(), 2 * v.index[-1] - v.index[-2]) / 3600.0
        ax.stairs(v.to_numpy(), edges, label=k, **_STYLE[k])
    ax.set(xlabel="hour of day (ET, from LOBSTER's clock)", ylabel="share of visible volume", title="intraday volume")


def _calibration(ax, cal):
    t = cal.table
    ax.plot(t.index, 0.5 * (t["lambda_buy_per_s"] + t["lambda_sell_per_s"]), label="real lambda(d)", color="C0")
    ax.plot(t.index, t["config_lambda_per_s"], label="config lambda_d", color="C3", ls="--")
    ax.set(xlabel="distance from anchor (ticks)", ylabel="limit orders/s per side", title="calibration: arrivals and cancellations by distance")
    ax2 = ax.twinx()
    ax2.semilogy(t.index, 0.5 * (t["theta_buy_per_s"] + t["theta_sell_per_s"]), color="C2", lw=0.8,
                 label="real theta(d)")
    ax2.axhline(cal.flow.resilience_per_s, color="C2", ls=":", label="config rho")
    ax2.set_ylabel("cancellation rate (1/s per share)")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=7)


def plot_facts(facts: dict, cal, out_dir: Path, fk: dict) -> None:
    """One PNG per fact and all of them in ``stylized_facts.png``."""
    panels = {
        "spread": lambda ax: _spread(ax, facts),
        "depth": lambda ax: _depth(ax, facts),
        "return_tails": lambda ax: _tails(ax, facts, fk),
        "return_acf": lambda ax: (_acf(ax, facts, "acf_returns", f"ACF of {fk['acf_horizon_s']:g}s returns",
                                       "n_returns_acf")),
        "abs_return_acf": lambda ax: (_acf(ax, facts, "acf_abs_returns",
                                           f"ACF of |{fk['acf_horizon_s']:g}s returns|", "n_returns_acf")),
        "sign_acf": lambda ax: _acf(ax, facts, "acf_signs", "trade-sign ACF (marketable orders)", "n_signs"),
        "intraday_volume": lambda ax: _volume(ax, facts),
        "calibration": lambda ax: _calibration(ax, cal),
    }
    big = Figure(figsize=(20, 9), constrained_layout=True)
    axes = big.subplots(2, 4).ravel()
    for (name, draw), ax_big in zip(panels.items(), axes):
        fig = Figure(figsize=(6, 4), constrained_layout=True)
        ax = fig.subplots()
        for a in (ax, ax_big):
            draw(a)
            if name != "calibration":
                a.legend(fontsize=7)
        fig.savefig(out_dir / f"{name}.png", dpi=110)
    big.savefig(out_dir / "stylized_facts.png", dpi=90)


@hydra.main(version_base=None, config_path="../conf", config_name="stylized_facts")
def main(cfg: DictConfig) -> None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    res = run(cfg, out_dir)
    cal, table = res["calibration"], res["table"]
    print(f"\ncalibrated flow ({cfg.calibration.anchor} anchor, match={cfg.calibration.match}):")
    for k, v in cal.scalars.items():
        print(f"  {k:28s} {v:.5g}")
    print(f"  hawkes per side:\n{cal.hawkes.round(4).to_string()}")
    print("\nconsistency: the estimators on the simulated day give back the configured flow:\n")
    print(res["consistency"].to_string(float_format=lambda x: f"{x:10.4g}"))
    print(f"\nstylised facts, {cfg.data.messages} vs {cfg.n_days} simulated days of the calibrated market "
          f"(seed {cfg.seed}; simulated = their mean, plots: the first):\n")
    print(table.to_string(float_format=lambda x: f"{x:10.4g}"))
    diffs = differences(table)
    print(f"\n{len(diffs)} of {len(table)} facts differ (beyond tolerance, beyond 2 s.e. where known, real value "
          f"outside the simulated days' range):")
    for line in diffs:
        print(f"  - {line}")
    print(f"\ntables, market config and plots: {out_dir}")


if __name__ == "__main__":
    main()
