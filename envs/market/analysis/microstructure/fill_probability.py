"""Fill probability of a limit order from its queue position, depth, spread and recent flow.

A limit order at price ``P`` on side ``s`` with ``A`` shares ahead of it in the queue is
filled when executions at ``P`` have taken more than what is ahead: the queue ahead only
shrinks by executions (FIFO: they take the front first) and by cancellations of orders
that were already there, as in the queueing models of Cont and de Larrard (2013),
"Price dynamics in a Markovian limit order market", SIAM J. Financial Math. 4, and
Moallemi and Yuan (2017), "A model for queue position valuation in a limit order book".
An execution at a worse price (the level traded through) fills it too.

:func:`virtual_fill_times` applies this to the L3 messages of a LOBSTER day for
*virtual* orders of negligible size joining the back of a visible level at given times,
and returns when each would have filled: it needs no assumption about other traders'
intentions (an order that stays is filled or not by what the others did). Orders that
predate the file, or whose submission is not in it, count as ahead. On a simulated day
it agrees exactly with real one-lot probe orders (tested).

:func:`fill_dataset` samples such orders on a grid of times, on both sides and at the
first ``levels`` levels, with their features (``FEATURES``) and the label "filled within
``horizon_s``". :func:`evaluate_fill_models` splits the samples by time (the first
``train_frac`` of the day to train, the rest to test, no shuffling), fits a gradient-
boosted classifier and a logistic regression, and reports held-out Brier score, log loss
and calibration curves against the base rate of the training part.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from execgym.envs.market.analysis.microstructure.frames import time_split
from execgym.envs.market.data.lobster_data import OPEN_S, LobsterDay
from execgym.envs.market.simulation.events import EventType
from execgym.validation import check_int, check_positive

logger = logging.getLogger(__name__)

__all__ = ["FEATURES", "FillModels", "QueueProbeAgent", "evaluate_fill_models", "fill_dataset", "fill_rate_table", "virtual_fill_times"]


#: features of a sampled order (units in the names)
FEATURES = (
    "level",               # 0 at its side's best quote, 1 one occupied level behind, ...
    "distance_ticks",      # behind its side's best quote
    "queue_ahead_shares",  # visible shares ahead of it (the whole level: it joins the back)
    "touch_same_shares",   # visible shares at its side's best quote
    "touch_opp_shares",    # visible shares at the opposite best quote
    "spread_ticks",
    "imbalance",           # (same - opposite) / (same + opposite) touch size, in [-1, 1]
    "flow_toward_shares",  # aggressive volume that hit its side in the last flow_window_s
    "flow_away_shares",    # aggressive volume that hit the other side in the last flow_window_s
    "trades_per_s",        # execution messages per second over the last flow_window_s
)
#: the time of day is kept in the data but not used: with a split by time, the test part
#: lies outside the training range of that feature and a tree would only extrapolate it


def virtual_fill_times(day: LobsterDay, t_s, side, price, ahead_shares, max_horizon_s: float) -> np.ndarray:
    """When virtual orders would have filled (seconds after midnight; NaN: not by ``t + max_horizon_s``).

    :param t_s: arrival times (seconds after midnight) of the virtual orders.
    :param side: +1 (bid) or -1 (ask) for each.
    :param price: their prices (LOBSTER units).
    :param ahead_shares: shares ahead of each when it arrives (its level's visible size
        when it joins the back).
    """
    t = np.asarray(t_s, dtype=float)
    s = np.asarray(side, dtype=np.int64)
    p = np.asarray(price, dtype=np.int64)
    a = np.asarray(ahead_shares, dtype=float)
    if not (t.shape == s.shape == p.shape == a.shape) or t.ndim != 1:
        raise ValueError(f"t_s, side, price and ahead_shares must be 1-D of equal length, got "
                         f"{t.shape}, {s.shape}, {p.shape}, {a.shape}")
    if not np.all(np.isin(s, (1, -1))):
        raise ValueError("side must be +1 or -1")
    if np.any(a < 0):
        raise ValueError("ahead_shares must be >= 0")
    max_horizon_s = check_positive("max_horizon_s", max_horizon_s)
    m = day.messages
    mtype = m["type"].to_numpy()
    keep = np.isin(mtype, (EventType.CANCELLATION, EventType.DELETION, EventType.EXECUTION_VISIBLE))
    mt = m["time_s"].to_numpy()[keep]
    mty = mtype[keep]
    msz = m["size_shares"].to_numpy()[keep].astype(float)
    mpx = m["price"].to_numpy()[keep]
    mdir = m["direction"].to_numpy()[keep]
    # submission time of each message's order (-inf: predates the file)
    subs = m[mtype == EventType.SUBMISSION].drop_duplicates("order_id")
    sub_t = pd.Series(subs["time_s"].to_numpy(), index=subs["order_id"].to_numpy())
    msub = sub_t.reindex(m["order_id"].to_numpy()[keep]).fillna(-np.inf).to_numpy()
    groups = pd.DataFrame({"dir": mdir, "px": mpx}).groupby(["dir", "px"]).indices
    out = np.full(len(t), np.nan)
    execs = {d: np.flatnonzero((mty == EventType.EXECUTION_VISIBLE) & (mdir == d)) for d in (1, -1)}
    for i in range(len(t)):
        t0, t1 = t[i], t[i] + max_horizon_s
        best = np.inf
        idx = groups.get((int(s[i]), int(p[i])))
        if idx is not None:
            lo, hi = np.searchsorted(mt[idx], [t0, t1], side="right")
            w = idx[lo:hi]
            if len(w):
                ex = mty[w] == 4
                dec = np.where(ex | (msub[w] < t0), msz[w], 0.0)
                hit = np.flatnonzero(ex & (np.cumsum(dec) > a[i]))
                if len(hit):
                    best = mt[w[hit[0]]]
        # traded through: an execution of the same side's orders at a worse price
        e = execs[int(s[i])]
        lo, hi = np.searchsorted(mt[e], [t0, t1], side="right")
        w = e[lo:hi]
        if len(w):
            worse = np.flatnonzero((mpx[w] - p[i]) * s[i] < 0)
            if len(worse):
                best = min(best, mt[w[worse[0]]])
        if np.isfinite(best):
            out[i] = best
    return out


def _past_flow(day: LobsterDay, t: np.ndarray, window_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Executed shares of bid-side and ask-side resting orders, and execution messages, in ``[t - window, t)``."""
    m = day.messages
    ex = m[m["type"].isin((EventType.EXECUTION_VISIBLE, EventType.EXECUTION_HIDDEN))]
    et = ex["time_s"].to_numpy()
    out = []
    for d in (1, -1):
        cum = np.concatenate([[0.0], np.cumsum(np.where(ex["direction"].to_numpy() == d, ex["size_shares"].to_numpy(), 0))])
        out.append(cum[np.searchsorted(et, t, "left")] - cum[np.searchsorted(et, t - window_s, "left")])
    n = np.searchsorted(et, t, "left") - np.searchsorted(et, t - window_s, "left")
    return out[0], out[1], n / window_s


def fill_dataset(
    day: LobsterDay,
    horizon_s: float = 30.0,
    every_s: float = 5.0,
    levels: int = 3,
    flow_window_s: float = 30.0,
    rng: np.random.Generator | None = None,
) -> pd.DataFrame:
    """Virtual limit orders sampled over the day, with :data:`FEATURES` and fill labels.

    Every ``every_s`` seconds (plus a uniform jitter from ``rng``, so samples do not sit
    on message times), one virtual order joins the back of each of the first ``levels``
    occupied levels on each side (fewer if the file has fewer levels).

    :return: one row per order: ``t_s``, ``side`` (+1 bid, -1 ask), ``price``, the
        features, ``fill_time_s`` (NaN if not filled within ``horizon_s``) and ``filled``
        (0/1). Samples later than ``horizon_s`` before the last message are dropped
        (their label would be censored).
    """
    horizon_s = check_positive("horizon_s", horizon_s)
    every_s = check_positive("every_s", every_s)
    flow_window_s = check_positive("flow_window_s", flow_window_s)
    levels = min(check_int("levels", levels, minimum=1), day.levels)
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    mt = day.messages["time_s"].to_numpy()
    start, end = mt[0] + flow_window_s, mt[-1] - horizon_s
    if end <= start:
        raise ValueError(f"the day is too short for horizon_s={horizon_s} and flow_window_s={flow_window_s}")
    grid = np.arange(start, end, every_s)
    if rng is not None:
        grid = grid + rng.uniform(0.0, every_s, len(grid))
        grid = grid[grid < end]
    row = np.searchsorted(mt, grid, side="right") - 1  # the book in force at each sample
    unit = day.price_units_per_tick
    book = day.book_levels()
    ask_p, bid_p = book.ask_price_ticks[row, :levels] * unit, book.bid_price_ticks[row, :levels] * unit  # LOBSTER units
    ask_s, bid_s = book.ask_size_shares[row, :levels], book.bid_size_shares[row, :levels]
    valid = (ask_s[:, 0] > 0) & (bid_s[:, 0] > 0)
    spread = (ask_p[:, 0] - bid_p[:, 0]) / unit
    bid_flow, ask_flow, rate = _past_flow(day, grid, flow_window_s)
    parts = []
    for side, px, sz, opx, osz, toward, away in ((1, bid_p, bid_s, ask_p, ask_s, bid_flow, ask_flow),
                                                 (-1, ask_p, ask_s, bid_p, bid_s, ask_flow, bid_flow)):
        for lev in range(levels):
            ok = valid & (sz[:, lev] > 0)
            same, opp = sz[:, 0].astype(float), osz[:, 0].astype(float)
            parts.append(pd.DataFrame({
                "t_s": grid[ok], "side": side, "price": px[ok, lev],
                "level": lev, "distance_ticks": ((px[ok, 0] - px[ok, lev]) * side) / unit,
                "queue_ahead_shares": sz[ok, lev].astype(float), "touch_same_shares": same[ok],
                "touch_opp_shares": opp[ok], "spread_ticks": spread[ok],
                "imbalance": ((same - opp) / np.maximum(same + opp, 1.0))[ok],
                "flow_toward_shares": toward[ok], "flow_away_shares": away[ok], "trades_per_s": rate[ok],
                "time_of_day_frac": (grid[ok] - OPEN_S) / 23_400.0,
            }))
    data = pd.concat(parts, ignore_index=True).sort_values(["t_s", "side", "level"], kind="stable")
    data = data.reset_index(drop=True)
    fill_t = virtual_fill_times(day, data["t_s"], data["side"], data["price"], data["queue_ahead_shares"], horizon_s)
    data["fill_time_s"] = fill_t
    data["filled"] = np.isfinite(fill_t).astype(np.int64)
    logger.info("fill dataset %s: %d orders, fill rate %.3f", day.name, len(data), data["filled"].mean())
    return data


def fill_rate_table(data: pd.DataFrame, n_bins: int = 4) -> pd.DataFrame:
    """Empirical fill rate by level and queue-ahead quantile bin, with binomial standard errors."""
    n_bins = check_int("n_bins", n_bins, minimum=1)
    rows = []
    for lev, g in data.groupby("level"):
        q = g["queue_ahead_shares"]
        bins = pd.qcut(q, n_bins, duplicates="drop") if q.nunique() > 1 else pd.Series("all", index=g.index)
        for b, gb in g.groupby(bins, observed=True):
            p = gb["filled"].mean()
            rows.append({"level": lev, "queue_ahead_bin": str(b), "n": len(gb), "fill_rate": p,
                         "stderr": float(np.sqrt(p * (1 - p) / len(gb))),
                         "buy_fill_rate": gb.loc[gb["side"] == 1, "filled"].mean(),
                         "sell_fill_rate": gb.loc[gb["side"] == -1, "filled"].mean()})
    return pd.DataFrame(rows)


@dataclass
class FillModels:
    """Held-out scores of the fill predictors; ``curves[name] = (mean predicted, observed)`` per bin."""

    scores: pd.DataFrame
    curves: dict
    n_train: int
    n_test: int
    models: dict


def evaluate_fill_models(data: pd.DataFrame, train_frac: float = 0.7, n_bins: int = 10, seed: int = 0,
                         n_threads: int | None = 1) -> FillModels:
    """Fit on the first ``train_frac`` of the day, score on the rest (see the module docstring).

    :return: scores for ``base_rate`` (the training fill rate for everyone),
        ``logistic`` (standardised features) and ``gradient_boosting``
        (``HistGradientBoostingClassifier``): Brier score, its skill vs the base rate
        (1 - Brier / Brier_base), log loss and ROC AUC on the test part.
    :param n_threads: OpenMP/BLAS threads for fitting (``None``: the library default;
        one is faster for these small data sets on a shared machine).
    """
    train, test = time_split(data, train_frac)
    if train.sum() < 20 or test.sum() < 20:
        raise ValueError(f"need at least 20 training and 20 test samples, got {train.sum()} and {test.sum()}")
    X = data[list(FEATURES)].to_numpy(float)
    y = data["filled"].to_numpy()
    if len(np.unique(y[train])) < 2:
        raise ValueError("the training part has a single class: nothing to learn")
    base = float(y[train].mean())
    models = {
        "logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        "gradient_boosting": HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, max_leaf_nodes=8,
                                                            min_samples_leaf=100, l2_regularization=1.0,
                                                            random_state=seed),
    }
    preds = {"base_rate": np.full(test.sum(), base)}
    with threadpool_limits(limits=n_threads):
        for name, model in models.items():
            model.fit(X[train], y[train])
            preds[name] = model.predict_proba(X[test])[:, 1]
    yt = y[test]
    rows, curves = [], {}
    brier_base = brier_score_loss(yt, preds["base_rate"])
    for name, pr in preds.items():
        b = brier_score_loss(yt, pr)
        rows.append({"model": name, "brier": b, "brier_skill": 1.0 - b / brier_base,
                     "log_loss": log_loss(yt, np.clip(pr, 1e-6, 1 - 1e-6), labels=[0, 1]),
                     "auc": roc_auc_score(yt, pr) if len(np.unique(yt)) == 2 and np.ptp(pr) > 0 else 0.5,
                     "test_fill_rate": float(yt.mean())})
        if np.ptp(pr) > 0:
            obs, mean_pred = calibration_curve(yt, pr, n_bins=n_bins, strategy="quantile")
            curves[name] = (mean_pred, obs)
    return FillModels(pd.DataFrame(rows), curves, int(train.sum()), int(test.sum()), models)


class QueueProbeAgent:
    """One-lot limit orders at the back of both best queues, held ``horizon_s`` (a :class:`~execgym.envs.market.data.simulated_day.StepAgent`).

    Every ``every_s`` seconds it joins the best bid and the best ask with one lot each
    and cancels whatever has not traded ``horizon_s`` later. ``labels["probes"]`` lists
    each probe's ``order_id``, ``side``, ``price_ticks``, ``t_submit`` and ``fill_time``
    (seconds after midnight; NaN if not filled): the ground truth a virtual order must
    reproduce.
    """

    def __init__(self, every_s: float = 20.0, horizon_s: float = 30.0) -> None:
        self.every_s = check_positive("every_s", every_s)
        self.horizon_s = check_positive("horizon_s", horizon_s)
        self.labels: dict = {"probes": []}
        self._live: dict[int, dict] = {}
        self._next_s = self.every_s

    def act(self, sim, report) -> None:
        now = OPEN_S + sim.config.start_of_day_s + sim.time_s
        if report is not None and len(report.agent_fills):
            for f in report.agent_fills:
                probe = self._live.get(int(f["resting_id"]))
                if probe is not None and np.isnan(probe["fill_time"]):
                    probe["fill_time"] = OPEN_S + f["time_ns"] / 1e9
        for oid, probe in list(self._live.items()):
            if now - probe["t_submit"] >= self.horizon_s - 1e-9 or oid not in sim.book:
                if oid in sim.book:
                    sim.cancel(oid)
                del self._live[oid]
        if sim.time_s >= self._next_s:
            self._next_s += self.every_s
            for side, price in ((1, sim.book.best_bid), (-1, sim.book.best_ask)):
                if price is None:
                    continue
                oid, fills = sim.submit_limit(side, price, sim.config.lot_size)
                probe = {"order_id": oid, "side": side, "price_ticks": price, "t_submit": now,
                         "fill_time": np.nan if not len(fills) else now}
                self.labels["probes"].append(probe)
                self._live[oid] = probe
