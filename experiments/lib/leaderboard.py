"""The benchmark's leaderboard: every policy of a task against the reference and against the
task's best baseline, on the same evaluation episodes, with confidence intervals.

The input is one task's evaluation episodes (one row per policy, training seed and episode;
columns ``policy``, ``kind`` = ``"baseline"`` (a classical algorithm), ``"heuristic"`` (a
reference rule that is not one, e.g. TWAP with limit orders; scored like a baseline but
never the best baseline) or ``"agent"``, ``train_seed``, ``seed`` = the
episode's reset seed, ``shortfall_bps``). Every policy played the same episode seeds (common
random numbers), so differences are paired by ``seed``.

* A baseline is one deterministic policy: its mean shortfall and its paired differences
  have Student-t intervals over the episodes
  (:func:`~execgym.experiments.lib.statistics.t_interval`).
* An agent is a learning algorithm trained with several seeds. Its score is the
  interquartile mean (IQM) over training seeds of each seed's mean (Agarwal et al. 2021),
  and the interval is a two-stage percentile bootstrap (:func:`seed_bootstrap`): training
  seeds resampled, then episodes within each drawn seed, so it covers both the spread
  between training runs and the evaluation noise.

The best baseline of a task is the baseline with the lowest mean shortfall on its episodes;
``beats_best`` says whether a policy's paired difference to it has its whole interval
below zero (cheaper, beyond the noise).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from execgym.experiments.lib.statistics import iqm, t_interval

__all__ = ["LEADERBOARD_COLUMNS", "leaderboard_markdown", "plot_task", "seed_bootstrap", "task_leaderboard"]

#: the numeric columns of a leaderboard row (bps; + = costlier)
LEADERBOARD_COLUMNS = ("shortfall_bps", "shortfall_bps_ci_low", "shortfall_bps_ci_high", "vs_reference_bps",
                       "vs_reference_ci_low", "vs_reference_ci_high", "vs_best_bps", "vs_best_ci_low",
                       "vs_best_ci_high")


def seed_bootstrap(values: np.ndarray, confidence: float = 0.95, n_resamples: int = 2000,
                   seed: int = 0) -> tuple[float, float, float]:
    """IQM over training seeds of the per-seed means of ``values`` (seeds x episodes), and
    its two-stage percentile-bootstrap ``confidence`` interval: ``(iqm, low, high)``.

    Each resample draws the seeds with replacement, then, for each drawn seed, its episodes
    with replacement, and takes the IQM of the resampled seeds' means.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] < 1 or values.shape[1] < 1:
        raise ValueError(f"values must be a (seeds, episodes) array with at least one of each, got {values.shape}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    n_seeds, n_episodes = values.shape
    point = float(iqm(values.mean(axis=1)))
    rng = np.random.default_rng(seed)
    stats = np.empty(n_resamples)
    for b in range(n_resamples):  # a loop keeps memory at one (seeds, episodes) resample
        rows = values[rng.integers(0, n_seeds, size=n_seeds)]
        picks = rng.integers(0, n_episodes, size=(n_seeds, n_episodes))
        stats[b] = iqm(np.take_along_axis(rows, picks, axis=1).mean(axis=1))
    low, high = np.quantile(stats, [(1.0 - confidence) / 2.0, (1.0 + confidence) / 2.0])
    return point, float(low), float(high)


def _matrix(episodes: pd.DataFrame, policy: str, seeds: pd.Index, metric: str) -> np.ndarray:
    """``metric`` of ``policy`` as (training seeds, episodes), the episodes in ``seeds``' order."""
    mine = episodes[episodes["policy"] == policy]
    rows = []
    for train_seed, run in mine.groupby("train_seed", sort=True):
        run = run.set_index("seed")[metric]
        if not run.index.is_unique or set(run.index) != set(seeds):
            raise ValueError(f"policy {policy!r} (training seed {train_seed}) did not play the evaluation's "
                             "episode seeds once each: a paired comparison needs the same episodes")
        rows.append(run.loc[seeds].to_numpy(np.float64))
    return np.vstack(rows)


def task_leaderboard(episodes: pd.DataFrame, reference: str = "twap", metric: str = "shortfall_bps",
                     confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> pd.DataFrame:
    """One row per policy of one task's ``episodes`` (see the module docstring): its score and
    paired differences to ``reference`` and to the best baseline, with intervals, sorted by
    score. Columns :data:`LEADERBOARD_COLUMNS` plus ``kind``, ``n_seeds``, ``n_episodes``,
    ``best_baseline`` and ``beats_best``.

    :raises ValueError: if ``reference`` is not a baseline of the task, there is no
        baseline, or a policy did not play the reference's episode seeds.
    """
    kinds = episodes.groupby("policy", sort=False)["kind"].first()
    baselines = [p for p, k in kinds.items() if k == "baseline"]
    if not baselines:
        raise ValueError(f"the task has no baseline; policies: {list(kinds.index)}")
    if reference not in baselines:
        raise ValueError(f"reference policy {reference!r} is not a baseline of the task; baselines: {baselines}")
    ref = episodes[episodes["policy"] == reference].set_index("seed")[metric]
    seeds = ref.index
    matrices = {p: _matrix(episodes, p, seeds, metric) for p in kinds.index}
    best = min(baselines, key=lambda p: (float(matrices[p].mean()), p))
    rows = {}
    for policy, kind in kinds.items():
        x = matrices[policy]
        row = {"kind": kind, "n_seeds": x.shape[0], "n_episodes": x.shape[1]}
        # (column, its interval's prefix, the (seeds, episodes) values): LEADERBOARD_COLUMNS
        comparisons = (("shortfall_bps", "shortfall_bps", x),
                       ("vs_reference_bps", "vs_reference", x - matrices[reference][0]),
                       ("vs_best_bps", "vs_best", x - matrices[best][0]))
        for column, ci, values in comparisons:
            if kind != "agent":
                mean, low, high = t_interval(values[0], confidence)
            else:
                mean, low, high = seed_bootstrap(values, confidence, n_resamples, seed)
            row |= {column: mean, f"{ci}_ci_low": low, f"{ci}_ci_high": high}
        row["best_baseline"] = best
        row["beats_best"] = bool(row["vs_best_ci_high"] < 0.0)
        rows[policy] = row
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("policy")
    return table.sort_values(["shortfall_bps", "kind"], kind="stable")


def leaderboard_markdown(tables: dict[str, pd.DataFrame], reference: str, descriptions: dict[str, str] | None = None,
                         confidence: float = 0.95, metrics: dict[str, str] | None = None) -> str:
    """The leaderboard of every task as markdown: one table per task (``metrics``: the
    task's scored metric when it is not ``shortfall_bps``; the score columns keep their
    names and hold it)."""
    pct = f"{100 * confidence:g}%"
    out = []
    for task, table in tables.items():
        best = table["best_baseline"].iloc[0]
        metric = (metrics or {}).get(task, "shortfall_bps")
        out.append(f"### {task}\n")
        if descriptions and task in descriptions:
            out.append(f"{descriptions[task]}\n")
        if metric != "shortfall_bps":
            out.append(f"Scored by `{metric}`.\n")
        score = metric.replace("_bps", "")
        lines = [f"| policy | kind | seeds | episodes | {score} bps ({pct} CI) | vs {reference} bps ({pct} CI) "
                 f"| vs best baseline ({best}) bps ({pct} CI) | beats best |",
                 "|---|---|---|---|---|---|---|---|"]
        for policy, r in table.iterrows():
            def cell(col, lo, hi, sign=""):
                return f"{r[col]:{sign}.2f} [{r[lo]:{sign}.2f}, {r[hi]:{sign}.2f}]"
            lines.append(f"| {policy} | {r['kind']} | {r['n_seeds']} | {r['n_episodes']} "
                         f"| {cell('shortfall_bps', 'shortfall_bps_ci_low', 'shortfall_bps_ci_high')} "
                         f"| {cell('vs_reference_bps', 'vs_reference_ci_low', 'vs_reference_ci_high', '+')} "
                         f"| {cell('vs_best_bps', 'vs_best_ci_low', 'vs_best_ci_high', '+')} "
                         f"| {'yes' if r['beats_best'] else 'no'} |")
        out.append("\n".join(lines) + "\n")
    return "\n".join(out)


def plot_task(table: pd.DataFrame, task: str, reference: str, path: str | Path, confidence: float = 0.95,
              metric: str = "shortfall_bps") -> Path:
    """One PNG: each policy's paired shortfall difference to ``reference`` with its interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    order = table.sort_values("vs_reference_bps")
    y = np.arange(len(order))
    mean = order["vs_reference_bps"].to_numpy()
    err = np.vstack([mean - order["vs_reference_ci_low"].to_numpy(), order["vs_reference_ci_high"].to_numpy() - mean])
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(order) + 1.2))
    for kind, color in (("baseline", "tab:blue"), ("heuristic", "tab:green"), ("agent", "tab:orange")):
        mask = (order["kind"] == kind).to_numpy()
        if mask.any():
            ax.errorbar(mean[mask], y[mask], xerr=np.nan_to_num(err[:, mask]), fmt="o", color=color, capsize=3,
                        label=kind)
    ax.legend(loc="best", fontsize="small")
    ax.axvline(0.0, color="grey", lw=0.8, ls="--")
    ax.set_yticks(y, order.index)
    label = metric.replace("_bps", "").replace("_", " ")
    ax.set_xlabel(f"{label} - {reference}'s, bps (paired, {100 * confidence:g}% CI; + = costlier)")
    ax.set_title(task)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
