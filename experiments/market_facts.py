"""The stylised facts of a market over many simulated sessions, beside a recorded day's.

    python -m execgym.experiments.market_facts [hydra overrides]

Simulates ``n_sessions`` sessions of the configured market (``conf/market_facts.yaml``: the
preset ``goog_2012_06_21_latent``) over the recorded day's hours, each recorded as LOBSTER
would (:func:`~execgym.envs.market.data.simulated_day.simulate_day`, the day's level count),
and computes every fact of :func:`~execgym.envs.market.analysis.stylized_facts.summary_facts`
for each session and for the day. Per fact: the real value, the sessions' mean with a 95%
t interval over the sessions, their range, the mean over the real value, and whether the
mean is within ``factor`` of the real value (the issue's volatility facts: the 1-s return
kurtosis, the |return| and trade-sign autocorrelations, within a factor of 2). One session
is as noisy as its few extreme seconds make it (a 1-s kurtosis of 58 to 260 on the latent
preset), hence many sessions. Session ``k`` is seeded from
``np.random.SeedSequence(seed).spawn(n_sessions)[k]``, whatever ``n_workers``.

Writes ``sessions.csv`` (a row per session, a column per fact) and ``summary.csv`` to Hydra's
run directory and prints the volatility facts' rows.
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
import numpy as np
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from joblib import Parallel, delayed
from omegaconf import DictConfig, OmegaConf
from scipy import stats
from tqdm.auto import tqdm

from execgym.envs.market.analysis.stylized_facts import summary_facts
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation.simulator import SimulatorConfig
from execgym.experiments.lib.builders import cfg_int, facts_kwargs
from execgym.experiments.lib.market_calibration import load_day
from execgym.validation import check_finite

logger = logging.getLogger(__name__)

#: the facts the report prints (every fact is in ``summary.csv``)
VOLATILITY_FACTS = ("return excess kurtosis 1s", "|return| ACF mean lags 1-10 (10s)", "trade-sign ACF mean lags 2-10")


def _session(market: SimulatorConfig, seq: np.random.SeedSequence, day_s: float, levels: int, open_s: float,
             fk: dict) -> dict:
    """One simulated session's facts (scalars)."""
    day = simulate_day(market, np.random.default_rng(seq), day_s, dt_s=60.0, levels=levels, open_time_s=open_s)
    return summary_facts(day, **fk)["scalars"]


def _factor(value) -> float:
    """The ``factor`` setting as a float: finite and at least 1 (named in the error)."""
    factor = check_finite("factor", value)
    if factor < 1.0:
        raise ValueError(f"factor must be a finite number >= 1, got {value!r}")
    return factor


def summarise(real: dict, sessions: pd.DataFrame, factor: float, confidence: float = 0.95) -> pd.DataFrame:
    """Per fact (the sessions' columns): ``real``, the sessions' ``mean``, its t interval
    (``ci_low``, ``ci_high``, over the sessions), ``min``, ``max``, ``ratio`` (mean / real) and
    ``within`` (the mean within ``factor`` of the real value, both of one sign)."""
    n = len(sessions)
    if n < 2:
        raise ValueError(f"need at least 2 sessions for an interval, got {n}")
    factor = _factor(factor)
    mean, sd = sessions.mean(), sessions.std(ddof=1)
    half = stats.t.ppf(0.5 + confidence / 2.0, n - 1) * sd / np.sqrt(n)
    real_s = pd.Series({k: float(real[k]) for k in sessions.columns})
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = mean / real_s
    return pd.DataFrame({"real": real_s, "mean": mean, "ci_low": mean - half, "ci_high": mean + half,
                         "min": sessions.min(), "max": sessions.max(), "ratio": ratio,
                         "within": (ratio >= 1.0 / factor) & (ratio <= factor)}).rename_axis("fact")


def run(cfg: DictConfig, out_dir: Path) -> dict:
    """Simulate, compute, summarise; write ``sessions.csv`` and ``summary.csv``; return both."""
    n = cfg_int(cfg, "n_sessions", minimum=2)
    seed, n_workers = cfg_int(cfg, "seed"), cfg_int(cfg, "n_workers", minimum=1)
    factor = _factor(cfg.factor)
    market = SimulatorConfig.from_mapping(OmegaConf.to_container(cfg.market, resolve=True))
    fk = facts_kwargs(cfg)
    day = load_day(cfg.data)
    real = summary_facts(day, **fk)["scalars"]
    seqs = np.random.SeedSequence(seed).spawn(n)
    logger.info("simulating %d sessions of %.0f s over %d process(es)", n, day.duration_s, n_workers)
    rows = Parallel(n_jobs=n_workers, return_as="generator")(
        delayed(_session)(market, s, day.duration_s, day.levels, day.start_s, fk) for s in seqs)
    rows = list(tqdm(rows, total=n, desc="sessions", disable=not bool(cfg.progress)))
    sessions = pd.DataFrame(rows, index=pd.RangeIndex(n, name="session"))
    summary = summarise(real, sessions, factor)
    out_dir.mkdir(parents=True, exist_ok=True)
    sessions.to_csv(out_dir / "sessions.csv")
    summary.to_csv(out_dir / "summary.csv")
    return {"sessions": sessions, "summary": summary, "day": day}


@hydra.main(version_base=None, config_path="../conf", config_name="market_facts")
def main(cfg: DictConfig) -> None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    res = run(cfg, out_dir)
    print(f"\n{cfg.n_sessions} simulated sessions (seed {cfg.seed}) beside {res['day'].name}: mean, 95% t "
          f"interval over the sessions, range, and whether the mean is within a factor of {cfg.factor:g}\n")
    print(res["summary"].loc[list(VOLATILITY_FACTS)].to_string(float_format=lambda x: f"{x:10.4g}"))
    print(f"\nevery fact: {out_dir / 'summary.csv'}; per session: {out_dir / 'sessions.csv'}")


if __name__ == "__main__":
    main()
