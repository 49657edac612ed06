"""The square-root law of metaorders in the simulated market, across participation rates.

    python -m execgym.experiments.square_root_law [hydra overrides]

On the market of ``conf/square_root_law.yaml`` (by default the GOOG-calibrated market with
a power-law propagator, ``conf/market/goog_2012_06_21_propagator.yaml``):

1. simulates one day and measures its volatility ``sigma`` (ticks/sqrt(s)) and volume rate
   ``V`` (shares/s) (:func:`~execgym.envs.market.analysis.impact.law.market_scale`), and the
   power-law decay of its trade signs' autocorrelation ``C(l) ~ l^-gamma`` (log-log fit
   over lags ``sign_lags`` of the autocorrelation pooled within ``sign_blocks`` equal spans
   of the day, its 95% interval from a bootstrap over those blocks);
2. at each participation rate ``p``, executes buy metaorders of ``Q = p V T`` shares for each
   duration ``T`` (paired runs with and without the metaorder, common random numbers) and
   fits ``I = A (Q/V)^delta`` (the exponent's 95% interval; ``n_runs`` may give each rate
   its own number of runs; ``n_workers`` processes share them, one control run per seed
   serves every size, the same numbers for any ``n_workers``) and the prefactor ``Y`` of
   ``I = Y sigma sqrt(Q/V)``
   (:func:`~execgym.envs.market.analysis.impact.law.impact_vs_participation`);
3. measures the decay after each metaorder: the impact left ``post_s`` after its end as a
   fraction of its peak.

Writes ``sizes.csv`` (every metaorder), ``fits.csv`` (per participation and pooled),
``signs.csv`` (with ``sigma`` and ``V``), ``impact_vs_size.png`` and ``decay.png`` to Hydra's
run directory and prints the fits beside the targets (an exponent between 0.4 and 0.7 at
every rate). With ``pool_with`` (folders of earlier runs, e.g. other seeds) it also fits each
rate that every run has over all their sizes, each run's in units of its own ``V`` and
``sigma`` (:func:`~execgym.envs.market.analysis.impact.law.fit_square_root_runs`), and writes
``fits_pooled.csv``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
import numpy as np
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from matplotlib.figure import Figure
from omegaconf import DictConfig, OmegaConf

from execgym.envs.market.analysis.acf import autocorrelation, block_power_law_decay, power_law_decay
from execgym.envs.market.analysis.calibration.flow import marketable_orders
from execgym.envs.market.analysis.impact.law import fit_square_root_runs, impact_vs_participation, market_scale
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation.simulator import SimulatorConfig
from execgym.experiments.lib.builders import cfg_int
from execgym.validation import check_int

logger = logging.getLogger(__name__)


def sign_power_law(signs: np.ndarray, min_lag: int, max_lag: int, blocks=None, n_boot: int = 2000,
                   seed: int = 0) -> dict[str, float]:
    """``C(l) ~ A l^-gamma`` of the trade signs over ``min_lag..max_lag``, with the lag-1 value.

    Without ``blocks``: the regression fit of one series
    (:func:`~execgym.envs.market.analysis.acf.power_law_decay`). With ``blocks`` (one label per
    sign, e.g. its session): the autocorrelation pooled within blocks and the exponent's
    block-bootstrap interval (:func:`~execgym.envs.market.analysis.acf.block_power_law_decay`,
    ``n_boot`` resamples from ``seed``); the regression's own interval, which understates the
    error, is kept as ``gamma_ols_ci95_lo`` / ``_hi``."""
    if blocks is not None:
        return block_power_law_decay(signs, blocks, min_lag, max_lag, n_boot=n_boot, rng=np.random.default_rng(seed))
    acf = autocorrelation(np.asarray(signs, dtype=float), max_lag)
    return power_law_decay(acf, min_lag) | {"acf_lag1": float(acf[0])}


def session_blocks(time_s: np.ndarray, start_s: float, end_s: float, n_blocks: int) -> np.ndarray:
    """The block (``0..n_blocks - 1``) of each time in ``[start_s, end_s]`` cut into
    ``n_blocks`` equal spans (``ValueError`` for a time outside)."""
    n_blocks = check_int("n_blocks", n_blocks, minimum=1)
    t = np.asarray(time_s, dtype=float)
    if not end_s > start_s:
        raise ValueError(f"end_s must exceed start_s, got {start_s!r} and {end_s!r}")
    if np.any((t < start_s) | (t > end_s)):
        raise ValueError(f"times must lie in [{start_s!r}, {end_s!r}]")
    return np.minimum(((t - start_s) / (end_s - start_s) * n_blocks).astype(np.int64), n_blocks - 1)


def _n_runs(cfg: DictConfig) -> int | list:
    """``n_runs``: one integer, or a list of one per participation rate (checked by
    :func:`~execgym.envs.market.analysis.impact.law.impact_vs_participation`)."""
    return list(cfg.n_runs) if OmegaConf.is_list(cfg.n_runs) else cfg_int(cfg, "n_runs", minimum=2)


def earlier_runs(paths) -> list[tuple[pd.DataFrame, float, float]]:
    """``(sizes, sigma, volume)`` of earlier runs of this job (``pool_with``): each folder's
    ``sizes.csv`` and the scale its ``signs.csv`` records.

    :raises TypeError: ``paths`` is not a list of folders.
    :raises ValueError: a folder without those files (named)."""
    paths = OmegaConf.to_container(paths, resolve=True) if OmegaConf.is_config(paths) else paths
    if paths is None:
        return []
    if not isinstance(paths, list) or not all(isinstance(x, str) for x in paths):
        raise TypeError(f"pool_with must be a list of folders of earlier runs, got {paths!r}")
    out = []
    for folder in map(Path, paths):
        missing = [name for name in ("sizes.csv", "signs.csv") if not (folder / name).is_file()]
        if missing:
            raise ValueError(f"pool_with: {folder} has no {' or '.join(missing)} (a square_root_law run's folder?)")
        scale = pd.read_csv(folder / "signs.csv").iloc[0]
        out.append((pd.read_csv(folder / "sizes.csv"), float(scale["sigma_ticks_per_sqrt_s"]),
                    float(scale["volume_shares_per_s"])))
    return out


def pooled_fits(runs) -> pd.DataFrame:
    """Per participation rate that every run has: one fit over all the runs' sizes
    (:func:`~execgym.envs.market.analysis.impact.law.fit_square_root_runs`), with the runs'
    count and their paired runs in total."""
    rates = sorted(set.intersection(*(set(sizes["participation"]) for sizes, _, _ in runs)))
    rows = []
    for p in rates:
        parts = [(sizes[sizes["participation"] == p], sigma, volume) for sizes, sigma, volume in runs]
        fit = fit_square_root_runs(parts)
        rows.append({"participation": p, "n_experiments": len(parts),
                     "n_runs": int(sum(s["n_runs"].iloc[0] for s, _, _ in parts)), **fit.as_row()})
    return pd.DataFrame(rows)


def run(cfg: DictConfig, out_dir: Path) -> dict:
    earlier = earlier_runs(cfg.get("pool_with"))  # checked before anything is simulated
    out_dir.mkdir(parents=True, exist_ok=True)
    market = SimulatorConfig.from_mapping(OmegaConf.to_container(cfg.market, resolve=True))
    seeds = np.random.SeedSequence(cfg_int(cfg, "seed")).spawn(3)  # the day, the metaorders, the bootstrap
    n_blocks, n_workers = cfg_int(cfg, "sign_blocks", minimum=2), cfg_int(cfg, "n_workers", minimum=1)
    day = simulate_day(market, np.random.default_rng(seeds[0]), float(cfg.scale_day_s), dt_s=60.0)
    sigma, volume = market_scale(day)
    orders = marketable_orders(day.messages)
    t = day.messages["time_s"].to_numpy()
    blocks = session_blocks(orders["time_s"].to_numpy(), t[0], t[-1], n_blocks)
    sign_fit = sign_power_law(orders["sign"].to_numpy(), *(int(x) for x in cfg.sign_lags), blocks=blocks,
                              seed=int(seeds[2].generate_state(1)[0]))
    logger.info("simulated market: sigma %.3g ticks/sqrt(s), V %.3g shares/s, sign ACF gamma %.2f", sigma, volume,
                sign_fit["gamma"])
    sizes, fits, paths = impact_vs_participation(
        market, list(cfg.participations), list(cfg.durations_s), volume, sigma, side=cfg.side,
        slice_every_s=float(cfg.slice_every_s), post_s=float(cfg.post_s), dt_s=float(cfg.dt_s),
        n_runs=_n_runs(cfg), seed=int(seeds[1].generate_state(1)[0]), n_workers=n_workers, progress=True)
    sizes["left_after_post"] = sizes["permanent_ticks"] / sizes["peak_ticks"]
    sizes.to_csv(out_dir / "sizes.csv", index=False)
    fits.to_csv(out_dir / "fits.csv", index=False)
    pd.DataFrame([{"sigma_ticks_per_sqrt_s": sigma, "volume_shares_per_s": volume, **sign_fit}]).to_csv(
        out_dir / "signs.csv", index=False)
    _plot(sizes, fits, paths, sigma, volume, out_dir)
    pooled = None
    if earlier:
        pooled = pooled_fits([*earlier, (sizes, sigma, volume)])
        pooled.to_csv(out_dir / "fits_pooled.csv", index=False)
    return {"sizes": sizes, "fits": fits, "paths": paths, "sigma": sigma, "volume": volume, "signs": sign_fit,
            "pooled": pooled}


def _plot(sizes: pd.DataFrame, fits: pd.DataFrame, paths: dict, sigma: float, volume: float, out_dir: Path) -> None:
    fig = Figure(figsize=(7, 4.5), constrained_layout=True)
    ax = fig.subplots()
    for k, (p, group) in enumerate(sizes.groupby("participation")):
        x = group["size_shares"] / volume
        ax.errorbar(x, group["peak_ticks"], yerr=1.96 * group["peak_stderr_ticks"], fmt="o", ms=4, color=f"C{k}",
                    label=f"{100 * p:g}%")
        row = fits[fits["participation"].astype(str) == str(p)].iloc[0]
        xs = np.geomspace(x.min(), x.max(), 50)
        a = np.exp(np.mean(np.log(group["peak_ticks"].clip(lower=1e-9)) - row["delta"] * np.log(x)))
        ax.plot(xs, a * xs ** row["delta"], color=f"C{k}", lw=0.8)
    xs = np.geomspace(sizes["size_shares"].min() / volume, sizes["size_shares"].max() / volume, 50)
    pooled = fits[fits["participation"].astype(str) == "pooled"].iloc[0]
    ax.plot(xs, pooled["Y"] * sigma * np.sqrt(xs), "k--", lw=1, label=f"Y sigma sqrt(Q/V), Y={pooled['Y']:.2f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("Q / V (seconds of the market's volume)")
    ax.set_ylabel("peak impact (ticks)")
    ax.legend(title="participation", fontsize=8)
    fig.savefig(out_dir / "impact_vs_size.png", dpi=110)

    fig = Figure(figsize=(7, 4.5), constrained_layout=True)
    ax = fig.subplots()
    for k, (p, group) in enumerate(sizes.groupby("participation")):
        q = int(group["size_shares"].iloc[-1])
        path = paths[(p, q)]
        dur = float(group["duration_s"].iloc[-1])
        peak = float(group["peak_ticks"].iloc[-1])
        ax.plot(path["time_s"] / dur, path["impact_ticks"] / peak, color=f"C{k}", lw=1,
                label=f"{100 * p:g}%, {q} shares over {dur:.0f} s")
    ax.axvline(1.0, color="k", lw=0.8, ls=":")
    ax.set_xlabel("time / metaorder duration")
    ax.set_ylabel("impact / peak impact")
    ax.legend(fontsize=8)
    fig.savefig(out_dir / "decay.png", dpi=110)


@hydra.main(version_base=None, config_path="../conf", config_name="square_root_law")
def main(cfg: DictConfig) -> None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    res = run(cfg, out_dir)
    fits, sizes, signs = res["fits"], res["sizes"], res["signs"]
    print(f"\nsimulated market: sigma {res['sigma']:.3f} ticks/sqrt(s), V {res['volume']:.2f} shares/s\n")
    print(sizes[["participation", "size_shares", "duration_s", "peak_ticks", "peak_stderr_ticks", "permanent_ticks",
                 "left_after_post"]].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print("\nimpact I = A (Q/V)^delta per participation rate (target: delta in [0.4, 0.7]) and Y of I = Y sigma sqrt(Q/V):")
    print(fits[["participation", "delta", "delta_ci95_lo", "delta_ci95_hi", "Y", "Y_ci95_lo", "Y_ci95_hi",
                "n_sizes", "n_runs"]].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print(f"\ntrade signs: C(l) ~ l^-gamma, gamma {signs['gamma']:.3f} [{signs['gamma_ci95_lo']:.3f}, "
          f"{signs['gamma_ci95_hi']:.3f}] (bootstrap over {signs['n_blocks']} blocks; the regression's own "
          f"[{signs['gamma_ols_ci95_lo']:.3f}, {signs['gamma_ols_ci95_hi']:.3f}]; R^2 {signs['r2']:.3f} over "
          f"{signs['n_lags']} lags)")
    if res["pooled"] is not None:
        print(f"\none fit over this run and {len(cfg.pool_with)} earlier (pool_with; each run's sizes in units of its V, "
              f"impacts of its sigma):")
        print(res["pooled"][["participation", "n_experiments", "n_runs", "delta", "delta_ci95_lo", "delta_ci95_hi", "Y",
                             "Y_ci95_lo", "Y_ci95_hi", "chi2_dof"]].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print(f"\ntables and plots: {out_dir}")


if __name__ == "__main__":
    main()
