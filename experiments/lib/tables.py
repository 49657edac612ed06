"""Result tables: the headline columns of a comparison, formatted, with each policy's paired
difference to a reference policy."""

from __future__ import annotations

import pandas as pd

from execgym.envs.contract import BPS
from execgym.experiments.lib.statistics import REFERENCE, paired_differences

__all__ = ["comparison_table"]


def comparison_table(summary: pd.DataFrame, notional: float, episodes: pd.DataFrame | None = None,
                     reference: str | None = REFERENCE) -> pd.DataFrame:
    """The headline columns of :func:`~execgym.experiments.lib.evaluation.summarize`, formatted,
    and, given the ``episodes`` and a ``reference`` policy, each policy's paired shortfall
    difference to it (bps, + = costlier than the reference) with its 95% CI."""
    ci = (summary["shortfall_bps_ci_high"] - summary["shortfall_bps_ci_low"]) / 2.0
    table = pd.DataFrame({
        "shortfall bps (mean ± 95% CI)": [f"{m:.2f} ± {h:.2f}" for m, h in zip(summary["shortfall_bps_mean"], ci)],
    }, index=summary.index)
    if episodes is not None and reference is not None:
        paired = paired_differences(episodes, reference)
        table[f"vs {reference} bps, paired (95% CI)"] = [
            "reference" if name == reference else
            f"{paired.at[name, 'diff_mean']:+.2f} [{paired.at[name, 'diff_ci_low']:+.2f}, "
            f"{paired.at[name, 'diff_ci_high']:+.2f}]" for name in summary.index]
    table["shortfall std bps"] = summary["shortfall_bps_std"].round(2)
    table["vs market VWAP bps"] = summary["vwap_slippage_bps_mean"].round(2)
    table["VWAP tracking RMS bps"] = summary["vwap_slippage_bps_rms"].round(2)
    table["participation %"] = (100 * summary["participation_mean"]).round(2)
    if "mean_variance_usd" in summary and summary["mean_variance_usd"].notna().all():
        table["E + λV bps"] = (summary["mean_variance_usd"] / notional * BPS).round(2)
    order = table["E + λV bps"] if "E + λV bps" in table else summary["shortfall_bps_mean"]
    return table.loc[order.sort_values().index]

