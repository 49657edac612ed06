"""The experiments' statistics: one interval function (:func:`t_interval`), each policy
against a named reference on the same episodes (paired), and agents aggregated over
training seeds.

Episodes of an evaluation are paired by their reset seed (common random numbers, see
:mod:`execgym.experiments.lib.evaluation`): the difference between two policies on the same
episode removes the market noise both meet, so its confidence interval is much narrower
than those of the two means. :func:`paired_differences` computes it; :func:`comparison_table`
(:mod:`execgym.experiments.lib.tables`) shows it beside each policy's own mean.

Across training seeds, :func:`seed_aggregate` reports the interquartile mean (IQM) of the
seeds' scores with a stratified percentile-bootstrap confidence interval, as recommended by
Agarwal et al. (2021), "Deep reinforcement learning at the edge of the statistical
precipice": seeds are resampled within each stratum (task), so a CI never mixes tasks.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["REFERENCE", "iqm", "paired_differences", "seed_aggregate", "stratified_bootstrap_ci", "t_interval"]

#: the default reference policy of the tables
REFERENCE = "twap"


def t_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean of ``values`` and its Student-t ``confidence`` interval ``(mean, low, high)``
    (NaN bounds for fewer than two values). The one interval of a mean in the experiments:
    per-policy means, paired differences (pass the differences) and summaries all use it."""
    values = np.asarray(values, dtype=np.float64)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    mean = float(values.mean())
    if len(values) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + confidence / 2.0, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))
    return mean, mean - half, mean + half


def paired_differences(episodes: pd.DataFrame, reference: str = REFERENCE, metric: str = "shortfall_bps",
                       confidence: float = 0.95) -> pd.DataFrame:
    """Per policy: mean of ``metric(policy) - metric(reference)`` over the episodes both
    played (matched on ``seed``), its ``confidence`` t-interval and the number of pairs.

    Columns ``diff_mean``, ``diff_ci_low``, ``diff_ci_high``, ``n_pairs``; index ``policy``
    (the reference's own row is 0 with a zero-width interval).

    :raises ValueError: if ``reference`` is not among the policies, naming those that are,
        or if a policy did not play every episode seed the reference played.
    """
    policies = list(dict.fromkeys(episodes["policy"]))
    if reference not in policies:
        raise ValueError(f"reference policy {reference!r} is not in the evaluation; policies: {policies}")
    ref = episodes[episodes["policy"] == reference].set_index("seed")[metric]
    if not ref.index.is_unique:
        raise ValueError(f"reference policy {reference!r} played some episode seed twice: pairs are ambiguous")
    rows = {}
    for name in policies:
        mine = episodes[episodes["policy"] == name].set_index("seed")[metric]
        if set(mine.index) != set(ref.index) or not mine.index.is_unique:
            raise ValueError(f"policy {name!r} did not play the same episode seeds as {reference!r}: "
                             "a paired comparison needs the same evaluation seed and episode count")
        diff = mine.loc[ref.index].to_numpy(np.float64) - ref.to_numpy(np.float64)
        mean, low, high = t_interval(diff, confidence)
        rows[name] = {"diff_mean": mean, "diff_ci_low": low, "diff_ci_high": high, "n_pairs": len(diff)}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("policy")


def iqm(values: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    """Interquartile mean: the mean of the middle 50% (``scipy.stats.trim_mean`` at 25%)."""
    return stats.trim_mean(values, 0.25, axis=axis)


def stratified_bootstrap_ci(strata: Sequence[np.ndarray], statistic=iqm, confidence: float = 0.95,
                            n_resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over the pooled values of ``strata``,
    each stratum resampled with replacement within itself (its size kept).

    ``statistic(samples, axis=1)`` must reduce ``(n_resamples, n)`` arrays row-wise.
    """
    strata = [np.asarray(s, dtype=np.float64) for s in strata]
    if not strata or any(len(s) == 0 for s in strata):
        raise ValueError(f"every stratum needs at least one value, got sizes {[len(s) for s in strata]}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    rng = np.random.default_rng(seed)
    samples = np.concatenate([s[rng.integers(0, len(s), size=(n_resamples, len(s)))] for s in strata], axis=1)
    values = statistic(samples, axis=1)
    low, high = np.quantile(values, [(1.0 - confidence) / 2.0, (1.0 + confidence) / 2.0])
    return float(low), float(high)


def seed_aggregate(episodes: pd.DataFrame, reference: str = REFERENCE, metric: str = "shortfall_bps",
                   strata: str = "run_env", confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Per agent of a multirun, its score aggregated over training seeds.

    ``episodes`` are the runs' evaluations concatenated (columns ``run_agent``, ``run_seed``,
    ``policy``, ``seed``, ``metric`` and optionally ``strata``); in each run the agent's own
    policy is named ``run_agent``. A run's scores are the agent's mean ``metric`` and its mean
    paired difference to ``reference`` (when the reference played in that run). Across runs:
    the IQM with a stratified bootstrap CI (strata: the ``strata`` column, e.g. the env), the
    plain mean and std over seeds, and the seed count.
    """
    rows = []
    strata_col = episodes[strata] if strata in episodes else pd.Series("all", index=episodes.index)
    for (agent, run_seed, stratum), run in episodes.groupby([episodes["run_agent"], episodes["run_seed"],
                                                             strata_col], sort=True):
        mine = run[run["policy"] == agent]
        if mine.empty:
            raise ValueError(f"run of agent {agent!r} (seed {run_seed}) has no episodes of a policy named {agent!r}")
        row = {"run_agent": agent, "run_seed": run_seed, "stratum": stratum, "score": float(mine[metric].mean())}
        if reference in set(run["policy"]):
            row["paired"] = float(paired_differences(run, reference, metric).at[agent, "diff_mean"])
        rows.append(row)
    per_run = pd.DataFrame(rows)
    out = []
    for agent, runs in per_run.groupby("run_agent", sort=True):
        entry = {"agent": agent, "n_seeds": int(runs["run_seed"].nunique())}
        for col, label in (("score", metric), ("paired", f"{metric}_vs_{reference}")):
            if col not in runs or runs[col].isna().any():
                continue
            groups = [g[col].to_numpy() for _, g in runs.groupby("stratum", sort=True)]
            low, high = stratified_bootstrap_ci(groups, iqm, confidence, seed=seed)
            entry |= {f"{label}_iqm": float(iqm(runs[col].to_numpy())), f"{label}_iqm_ci_low": low,
                      f"{label}_iqm_ci_high": high, f"{label}_seed_mean": float(runs[col].mean()),
                      f"{label}_seed_std": float(runs[col].std(ddof=1)) if len(runs) > 1 else float("nan")}
        out.append(entry)
    return pd.DataFrame(out).set_index("agent")
