"""Predicting the price impact of an aggressive order from its features.

Each aggressive order is rebuilt from the execution messages it caused (visible
executions with one timestamp and one aggressor side, :func:`aggressive_orders`). Its
impact is the mid-price move in its direction, in ticks, from the quote it met to
``horizon_s`` later; the features (:data:`IMPACT_FEATURES`) are what was known when it
arrived: its size, the depth it faced, the spread, the depth imbalance, and the recent
signed flow, activity and volatility.

:func:`evaluate_impact_models` splits the orders by time (the first ``train_frac`` of the
day trains, the rest tests, no shuffling) and compares on the test part: the zero
prediction, the training mean, Kyle's linear rule (OLS on size), a square-root rule (OLS
on ``sqrt(size / touch depth)``) and a gradient-boosted regressor
(``HistGradientBoostingRegressor``) on all the features. Scores: mean squared error,
out-of-sample R^2 against the training mean, mean absolute error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error, mean_squared_error
from threadpoolctl import threadpool_limits

from execgym.envs.market.analysis.microstructure.frames import prevailing_quotes, time_split
from execgym.envs.market.data.lobster_data import LobsterDay
from execgym.envs.market.simulation.events import EventType
from execgym.validation import check_nonnegative, check_positive

logger = logging.getLogger(__name__)

__all__ = ["IMPACT_FEATURES", "ImpactModels", "aggressive_orders", "evaluate_impact_models", "impact_dataset"]

#: features of an aggressive order (units in the names)
IMPACT_FEATURES = (
    "size_shares",
    "size_over_touch",       # size / visible shares at the quote it hits
    "touch_opp_shares",      # visible shares at the quote it hits
    "touch_same_shares",     # visible shares at its own side's best quote
    "next_gap_ticks",        # from the quote it hits to the next level behind it (NaN in level-1 files)
    "spread_ticks",
    "imbalance_signed",      # (own side - hit side) / (sum) touch size
    "flow_signed_shares",    # aggressive volume in its direction minus against, last flow_window_s
    "trades_per_s",          # execution messages per second, last flow_window_s
    "abs_mid_move_ticks",    # |mid change| over the last flow_window_s
)


def aggressive_orders(day: LobsterDay) -> pd.DataFrame:
    """Aggressive orders: runs of visible executions with one timestamp and one aggressor side.

    :return: one row per order: ``t_s``, ``sign`` (+1 buy, -1 sell), ``size_shares``,
        ``n_fills``, ``first_msg`` and ``last_msg`` (message rows), ``worst_price`` (LOBSTER units).
    """
    m = day.messages
    ex = np.flatnonzero((m["type"] == EventType.EXECUTION_VISIBLE).to_numpy())
    if len(ex) == 0:
        return pd.DataFrame(columns=["t_s", "sign", "size_shares", "n_fills", "first_msg", "last_msg", "worst_price"])
    t = m["time_s"].to_numpy()[ex]
    sign = -m["direction"].to_numpy()[ex]
    new = np.ones(len(ex), bool)
    new[1:] = (t[1:] != t[:-1]) | (sign[1:] != sign[:-1]) | (ex[1:] != ex[:-1] + 1)
    group = np.cumsum(new) - 1
    df = pd.DataFrame({"g": group, "t_s": t, "sign": sign, "size": m["size_shares"].to_numpy()[ex],
                       "msg": ex, "price": m["price"].to_numpy()[ex]})
    agg = df.groupby("g").agg(t_s=("t_s", "first"), sign=("sign", "first"), size_shares=("size", "sum"),
                              n_fills=("size", "size"), first_msg=("msg", "first"), last_msg=("msg", "last"),
                              pmax=("price", "max"), pmin=("price", "min"))
    agg["worst_price"] = np.where(agg["sign"] == 1, agg["pmax"], agg["pmin"])
    return agg.drop(columns=["pmax", "pmin"]).reset_index(drop=True)


def impact_dataset(day: LobsterDay, horizon_s: float = 10.0, flow_window_s: float = 30.0) -> pd.DataFrame:
    """Aggressive orders with :data:`IMPACT_FEATURES` and their impact.

    :param horizon_s: impact horizon: ``impact_ticks = sign * (mid at t + horizon_s - mid
        met)``; 0 gives the immediate (mechanical) move just after the order.
    :return: :func:`aggressive_orders` columns, the features and ``impact_ticks``;
        orders without a two-sided quote, or within ``horizon_s`` of the day's end, dropped.
    """
    horizon_s = check_nonnegative("horizon_s", horizon_s)
    flow_window_s = check_positive("flow_window_s", flow_window_s)
    orders = aggressive_orders(day)
    m = day.messages
    mt = m["time_s"].to_numpy()
    unit = day.price_units_per_tick
    q = prevailing_quotes(day)
    first = orders["first_msg"].to_numpy()
    sign = orders["sign"].to_numpy()
    bid, ask = q["bid"].to_numpy()[first], q["ask"].to_numpy()[first]
    # visible sizes at the touch it met: the row before its first execution
    row_before = np.searchsorted(mt, mt[first], side="left") - 1
    ob = day.orderbook[np.maximum(row_before, 0)]
    ask_sz, bid_sz = ob[:, 1].astype(float), ob[:, 3].astype(float)
    opp = np.where(sign == 1, ask_sz, bid_sz)
    if day.levels > 1:
        a1, a2, b1, b2 = (ob[:, c].astype(float) for c in (0, 4, 2, 6))
        a2[np.abs(ob[:, 4]) >= 9_999_999_999] = np.nan
        b2[np.abs(ob[:, 6]) >= 9_999_999_999] = np.nan
        gap = np.where(sign == 1, a2 - a1, b1 - b2) / unit
    else:
        gap = np.full(len(sign), np.nan)
    same = np.where(sign == 1, bid_sz, ask_sz)
    mid = day.mid_ticks()
    mid_met = 0.5 * (bid + ask) / unit
    t = orders["t_s"].to_numpy()
    if horizon_s > 0:
        after = np.searchsorted(mt, t + horizon_s, side="right") - 1
    else:
        after = orders["last_msg"].to_numpy()
    impact = sign * (mid[after] - mid_met)
    # recent flow: aggressive volume by direction over [t - window, t)
    ex = m[m["type"].isin((EventType.EXECUTION_VISIBLE, EventType.EXECUTION_HIDDEN))]
    et = ex["time_s"].to_numpy()
    signed = -ex["direction"].to_numpy() * ex["size_shares"].to_numpy()
    cum = np.concatenate([[0.0], np.cumsum(signed)])
    lo, hi = np.searchsorted(et, t - flow_window_s, "left"), np.searchsorted(et, t, "left")
    flow = sign * (cum[hi] - cum[lo])
    rate = (hi - lo) / flow_window_s
    j0 = np.searchsorted(mt, t - flow_window_s, side="left") - 1
    past_move = np.abs(mid_met - np.where(j0 >= 0, mid[np.maximum(j0, 0)], np.nan))
    data = orders.assign(
        size_over_touch=orders["size_shares"].to_numpy() / np.maximum(opp, 1.0), touch_opp_shares=opp,
        touch_same_shares=same, next_gap_ticks=gap, spread_ticks=(ask - bid) / unit,
        imbalance_signed=(same - opp) / np.maximum(same + opp, 1.0), flow_signed_shares=flow, trades_per_s=rate,
        abs_mid_move_ticks=past_move, impact_ticks=impact)
    ok = np.isfinite(impact) & np.isfinite(mid_met) & (row_before >= 0) & np.isfinite(past_move)
    ok &= t + horizon_s <= mt[-1]
    out = data[ok].reset_index(drop=True)
    logger.info("impact dataset %s: %d orders, mean impact %.3f ticks", day.name, len(out), out["impact_ticks"].mean())
    return out


@dataclass
class ImpactModels:
    """Held-out scores of the impact predictors and their test predictions."""

    scores: pd.DataFrame
    test: pd.DataFrame
    n_train: int
    n_test: int


def evaluate_impact_models(data: pd.DataFrame, train_frac: float = 0.7, seed: int = 0,
                           n_threads: int | None = 1) -> ImpactModels:
    """Fit on the first ``train_frac`` of the day, score on the rest (module docstring).

    :return: scores per model (``zero``, ``train_mean``, ``kyle_linear``, ``square_root``,
        ``gradient_boosting``): ``mse``, ``r2_oos`` (1 - MSE / MSE of the training mean),
        ``mae``, plus buy-only and sell-only ``r2_oos``; and the test rows with each
        model's prediction.
    """
    train, test = time_split(data, train_frac)
    if train.sum() < 30 or test.sum() < 30:
        raise ValueError(f"need at least 30 training and 30 test orders, got {train.sum()} and {test.sum()}")
    y = data["impact_ticks"].to_numpy()
    usable = [f for f in IMPACT_FEATURES if data[f].notna().any()]  # e.g. no next level in level-1 files
    X = data[usable].to_numpy(float)
    size = data[["size_shares"]].to_numpy(float)
    sqrt_x = np.sqrt(data[["size_over_touch"]].to_numpy(float))
    preds = {"zero": np.zeros(test.sum()), "train_mean": np.full(test.sum(), y[train].mean())}
    with threadpool_limits(limits=n_threads):
        preds["kyle_linear"] = LinearRegression().fit(size[train], y[train]).predict(size[test])
        preds["square_root"] = LinearRegression().fit(sqrt_x[train], y[train]).predict(sqrt_x[test])
        gbm = HistGradientBoostingRegressor(max_iter=150, learning_rate=0.05, max_leaf_nodes=8, min_samples_leaf=50,
                                            l2_regularization=1.0, random_state=seed)
        preds["gradient_boosting"] = gbm.fit(X[train], y[train]).predict(X[test])
    yt = y[test]
    sides = data["sign"].to_numpy()[test]
    base = {s: mean_squared_error(yt[sides == s], preds["train_mean"][sides == s]) for s in (1, -1) if (sides == s).any()}
    base_all = mean_squared_error(yt, preds["train_mean"])
    rows = []
    for name, pr in preds.items():
        mse = mean_squared_error(yt, pr)
        row = {"model": name, "mse": mse, "r2_oos": 1.0 - mse / base_all if base_all > 0 else np.nan,
               "mae": mean_absolute_error(yt, pr)}
        for s, label in ((1, "buy"), (-1, "sell")):
            if s in base and base[s] > 0:
                row[f"r2_oos_{label}"] = 1.0 - mean_squared_error(yt[sides == s], pr[sides == s]) / base[s]
        rows.append(row)
    test_rows = data[test].assign(**{f"pred_{k}": v for k, v in preds.items()})
    return ImpactModels(pd.DataFrame(rows), test_rows.reset_index(drop=True), int(train.sum()), int(test.sum()))
