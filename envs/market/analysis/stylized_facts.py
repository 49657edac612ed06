"""Stylised facts of a limit-order-book day, computed the same way for real and simulated data.

Input is a :class:`~execgym.envs.market.data.lobster_data.LobsterDay` (a LOBSTER day, or a simulated
one from :func:`~execgym.envs.market.data.simulated_day.simulate_day`). The book is sampled on
a clock grid (the state in force at each grid time), so the spread and depth
distributions are time-weighted. Trades are marketable orders
(:func:`~execgym.envs.market.analysis.calibration.flow.marketable_orders`: visible executions grouped by
time stamp and side).

* :func:`book_on_grid`: mid, spread and depth per occupied level on the grid;
* :func:`spread_distribution`: share of time at each spread (ticks);
* :func:`depth_profile`: mean shares at occupied levels ``1..L`` per side;
* :func:`return_statistics`: non-overlapping log-returns of the mid at several
  horizons: standard deviation (bps), excess kurtosis (0 for a Gaussian: heavy tails
  show as > 0) and tail quantiles;
* :func:`autocorrelation`: sample autocorrelation at lags ``1..max_lag`` (for returns,
  absolute returns and trade signs);
* :func:`intraday_volume`: share of the day's visible volume per bucket;
* :func:`log_spread_acf`: the spread's memory, the autocorrelation of its log with the
  intraday profile removed; :func:`spread_scaled_returns`: absolute returns over the mean
  spread of their window (volatility clustering beyond what the spread carries);
  :func:`over_bucket_mean`: a series over its mean in each bucket of the session (absolute
  returns without their intraday profile);
* :func:`summary_facts` / :func:`compare_facts`: the scalar facts of a day, and the real
  and simulated ones side by side with the differences beyond a stated tolerance.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from execgym.envs.market.analysis.acf import autocorrelation
from execgym.envs.market.analysis.calibration.flow import marketable_orders
from execgym.envs.market.data.lobster_data import LobsterDay
from execgym.validation import check_int, check_positive

logger = logging.getLogger(__name__)

__all__ = [
    "BookGrid",
    "FactTolerance",
    "aligned_acf",
    "autocorrelation",
    "bartlett_se",
    "book_on_grid",
    "compare_facts",
    "depth_profile",
    "intraday_volume",
    "log_returns",
    "log_spread_acf",
    "over_bucket_mean",
    "return_statistics",
    "spread_distribution",
    "spread_scaled_returns",
    "summary_facts",
]


@dataclass(frozen=True)
class BookGrid:
    """The book at grid times ``time_s`` (s after midnight).

    ``mid_ticks`` and ``spread_ticks`` are NaN where a side is empty; ``bid_depth_shares``
    and ``ask_depth_shares`` are ``(n, L)`` shares at the occupied levels, best first.
    """

    time_s: np.ndarray
    mid_ticks: np.ndarray
    spread_ticks: np.ndarray
    bid_depth_shares: np.ndarray
    ask_depth_shares: np.ndarray


def book_on_grid(day: LobsterDay, step_s: float = 1.0) -> BookGrid:
    """Sample the book every ``step_s`` seconds of the session (the state in force then)."""
    step_s = check_positive("step_s", step_s)
    grid = np.arange(day.start_s + step_s, day.end_s + 1e-9, step_s)
    t = day.messages["time_s"].to_numpy()
    idx = np.searchsorted(t, grid, side="right") - 1
    keep = idx >= 0
    grid, idx = grid[keep], idx[keep]
    s = day.book_levels(idx)  # the sampled rows only
    ok = s.ask_ok[:, 0] & s.bid_ok[:, 0]
    ask, bid = s.ask_price_ticks[:, 0].astype(float), s.bid_price_ticks[:, 0].astype(float)
    mid = day.mid_ticks(idx)
    spread = np.where(ok, ask - bid, np.nan)
    return BookGrid(grid, mid, spread, s.bid_size_shares.astype(float), s.ask_size_shares.astype(float))


def spread_distribution(spread_ticks: np.ndarray, max_ticks: int | None = None) -> pd.Series:
    """Share of samples at each spread (ticks), indexed by spread; NaNs dropped.

    With ``max_ticks`` the spreads above it are counted at ``max_ticks``.
    """
    s = np.asarray(spread_ticks, dtype=float)
    s = s[np.isfinite(s)]
    if len(s) == 0:
        raise ValueError("no finite spreads")
    s = np.rint(s).astype(np.int64)
    if max_ticks is not None:
        s = np.minimum(s, check_int("max_ticks", max_ticks, minimum=1))
    counts = pd.Series(s).value_counts().sort_index()
    counts.index.name = "spread_ticks"
    return counts / counts.sum()


def depth_profile(grid: BookGrid) -> pd.DataFrame:
    """Mean shares at occupied levels ``1..L`` per side and their mean, indexed by level."""
    bid, ask = grid.bid_depth_shares.mean(axis=0), grid.ask_depth_shares.mean(axis=0)
    return pd.DataFrame({"bid_shares": bid, "ask_shares": ask, "mean_shares": 0.5 * (bid + ask)},
                        index=pd.RangeIndex(1, len(bid) + 1, name="level"))


def log_returns(mid: np.ndarray, lag: int) -> np.ndarray:
    """Non-overlapping log-returns ``log(mid[t + lag] / mid[t])`` every ``lag`` samples (NaNs dropped)."""
    lag = check_int("lag", lag, minimum=1)
    m = np.asarray(mid, dtype=float)[::lag]
    r = np.diff(np.log(m))
    return r[np.isfinite(r)]


def aligned_acf(x: np.ndarray, max_lag: int) -> np.ndarray:
    """:func:`autocorrelation` of a series with gaps, the lags kept in step: the finite values
    are demeaned and each NaN counts as the mean (adds nothing), where dropping the NaNs would
    pair values that are not ``k`` apart."""
    max_lag = check_int("max_lag", max_lag, minimum=1)
    x = np.asarray(x, dtype=float)
    ok = np.isfinite(x)
    if ok.sum() <= max_lag + 1:
        raise ValueError(f"need more than max_lag + 1 = {max_lag + 1} finite values, got {int(ok.sum())}")
    return autocorrelation(np.where(ok, x - x[ok].mean(), 0.0), max_lag)


def bartlett_se(acf: np.ndarray, lag: int, n: int) -> float:
    """Bartlett's standard error of a sample autocorrelation at ``lag`` (from 1) of a series of
    ``n`` values whose autocorrelations from lag 1 are ``acf``:
    ``sqrt((1 + 2 sum_{j<lag} rho_j^2) / n)`` (the iid ``1 / sqrt(n)`` understates it for a
    persistent series)."""
    return float(np.sqrt((1.0 + 2.0 * np.sum(np.asarray(acf[: lag - 1]) ** 2)) / n))


def log_spread_acf(time_s: np.ndarray, spread_ticks: np.ndarray, max_lag: int, bucket_s: float = 1800.0) -> np.ndarray:
    """The spread's memory: the autocorrelation at lags ``1..max_lag`` (grid steps) of the
    log spread sampled on an even grid (``time_s``, s), less its mean in each ``bucket_s``
    bucket of the session (the intraday profile, which would otherwise correlate every lag).
    A sample with a side empty (a NaN spread) counts as its bucket's mean, so the lags stay
    aligned."""
    t = np.asarray(time_s, dtype=float)
    s = np.asarray(spread_ticks, dtype=float)
    if t.shape != s.shape or t.ndim != 1:
        raise ValueError(f"time_s and spread_ticks must be 1-d of one length, got shapes {t.shape} and {s.shape}")
    bucket_s = check_positive("bucket_s", bucket_s)
    max_lag = check_int("max_lag", max_lag, minimum=1)
    ok = np.isfinite(s) & (s > 0)
    if ok.sum() <= max_lag + 1:
        raise ValueError(f"need more than max_lag + 1 = {max_lag + 1} finite spreads, got {int(ok.sum())}")
    b = np.floor((t - t[0]) / bucket_s).astype(np.int64)
    x = np.where(ok, np.log(np.where(ok, s, 1.0)), 0.0)
    n = np.bincount(b, ok.astype(float))
    mean = np.bincount(b, x) / np.maximum(n, 1.0)
    return autocorrelation(np.where(ok, x - mean[b], 0.0), max_lag)


def over_bucket_mean(x: np.ndarray, time_s: np.ndarray, bucket_s: float = 1800.0) -> np.ndarray:
    """``x`` over its mean in each ``bucket_s`` bucket of ``time_s`` (s; from the first time):
    e.g. absolute returns without their intraday profile, whose U shape alone correlates
    them at every lag. NaNs stay NaN, in place; a bucket without a finite value, or with a
    mean of 0, gives NaN."""
    x = np.asarray(x, dtype=float)
    t = np.asarray(time_s, dtype=float)
    if x.shape != t.shape or x.ndim != 1 or len(x) == 0:
        raise ValueError(f"x and time_s must be 1-d of one non-zero length, got shapes {x.shape} and {t.shape}")
    bucket_s = check_positive("bucket_s", bucket_s)
    b = np.floor((t - t[0]) / bucket_s).astype(np.int64)
    ok = np.isfinite(x)
    n = np.bincount(b[ok], minlength=b.max() + 1)
    total = np.bincount(b[ok], x[ok], minlength=b.max() + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, total / np.maximum(n, 1), np.nan)
        return np.where(mean[b] != 0, x / mean[b], np.nan)


def spread_scaled_returns(mid: np.ndarray, spread_ticks: np.ndarray, lag: int) -> np.ndarray:
    """``|r| / s``: each non-overlapping log-return of :func:`log_returns` (over ``lag`` grid
    samples) over the mean spread (ticks) of the samples it spans from its start (a spread of 0
    or less, or NaN, left out); NaN where either is undefined, so its entries stay aligned in
    time (:func:`aligned_acf` keeps them so)."""
    lag = check_int("lag", lag, minimum=1)
    m = np.asarray(mid, dtype=float)
    s = np.asarray(spread_ticks, dtype=float)
    if m.shape != s.shape or m.ndim != 1:
        raise ValueError(f"mid and spread_ticks must be 1-d of one length, got shapes {m.shape} and {s.shape}")
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.abs(np.diff(np.log(m[::lag])))
    k = min(len(r), len(s) // lag)
    with np.errstate(invalid="ignore", divide="ignore"):
        windows = np.where(s[: k * lag] > 0, s[: k * lag], np.nan).reshape(k, lag)
        n_ok = np.isfinite(windows).sum(axis=1)
        mean_s = np.where(n_ok > 0, np.nansum(windows, axis=1) / np.maximum(n_ok, 1), np.nan)
        return r[:k] / mean_s


def return_statistics(mid: np.ndarray, step_s: float, horizons_s: tuple[float, ...]) -> pd.DataFrame:
    """Mid log-return statistics at each horizon (a multiple of the grid step ``step_s``).

    Columns: ``n``, ``std_bps``, ``excess_kurtosis`` (Fisher; 0 for Gaussian returns),
    ``q01_bps``, ``q99_bps``, ``zero_frac`` (returns exactly 0), indexed by ``horizon_s``.
    """
    rows = []
    for h in horizons_s:
        lag = int(round(check_positive("horizon", h) / step_s))
        if lag < 1 or abs(lag * step_s - h) > 1e-9 * max(h, 1.0):
            raise ValueError(f"horizon {h!r} s must be a multiple of step_s={step_s!r}")
        r = log_returns(mid, lag) * 1e4
        rows.append({"horizon_s": h, "n": len(r), "std_bps": float(np.std(r)),
                     "excess_kurtosis": float(stats.kurtosis(r, fisher=True)) if len(r) > 3 else np.nan,
                     "q01_bps": float(np.quantile(r, 0.01)), "q99_bps": float(np.quantile(r, 0.99)),
                     "zero_frac": float(np.mean(r == 0))})
    return pd.DataFrame(rows).set_index("horizon_s")


def intraday_volume(day: LobsterDay, bucket_s: float = 1800.0) -> pd.Series:
    """Share of the session's visible traded volume in each bucket, indexed by bucket start (s)."""
    bucket_s = check_positive("bucket_s", bucket_s)
    mo = marketable_orders(day.messages, day.start_s, day.end_s)
    n_b = int(np.ceil(day.duration_s / bucket_s - 1e-9))
    b = ((mo["time_s"].to_numpy() - day.start_s) // bucket_s).astype(np.int64)
    vol = np.bincount(b, weights=mo["size_shares"].to_numpy().astype(float), minlength=n_b)[:n_b]
    total = vol.sum()
    out = pd.Series(vol / total if total else vol, index=day.start_s + bucket_s * np.arange(n_b))
    out.index.name = "bucket_start_s"
    return out


def summary_facts(day: LobsterDay, step_s: float = 1.0, horizons_s: tuple[float, ...] = (1.0, 10.0, 60.0, 300.0),
                  acf_horizon_s: float = 10.0, sign_lags: int = 100, bucket_s: float = 1800.0) -> dict:
    """Every fact of one day: the scalar summary (``"scalars"``), the iid standard errors of
    those that have one (``"stderr"``: ``sqrt(24 / n)`` for an excess kurtosis, ``1 / sqrt(n)``
    for an autocorrelation) and the curves behind them.

    :param step_s: book sampling step (s).
    :param horizons_s: return horizons (s).
    :param acf_horizon_s: horizon of the returns whose (absolute) autocorrelation is measured.
    :param sign_lags: lags (in marketable orders) of the trade-sign autocorrelation.
    :param bucket_s: bucket of the intraday volume profile (s), and the buckets whose means
        the facts marked "intraday removed" take out.

    The spread's memory is read at ``acf_horizon_s`` and three times it (10 and 30 s by
    default, the lags the liquidity-provision regimes' fit matches: ``REGIME_LAGS_S`` of
    :mod:`~execgym.envs.market.analysis.calibration.inside_regimes`).
    """
    grid = book_on_grid(day, step_s)
    spread = spread_distribution(grid.spread_ticks)
    depth = depth_profile(grid)
    ret = return_statistics(grid.mid_ticks, step_s, horizons_s)
    lag = int(round(acf_horizon_s / step_s))  # grid samples per return of the autocorrelations
    r = log_returns(grid.mid_ticks, lag)
    acf_r, acf_abs = autocorrelation(r, 20), autocorrelation(np.abs(r), 50)
    scaled = spread_scaled_returns(grid.mid_ticks, grid.spread_ticks, lag)
    acf_scaled = aligned_acf(scaled, 10)
    m_lag = grid.mid_ticks[::lag]
    with np.errstate(invalid="ignore", divide="ignore"):
        abs_r = np.abs(np.diff(np.log(m_lag)))
    t_r = grid.time_s[::lag][1:]
    deseasoned = over_bucket_mean(abs_r, t_r, bucket_s)
    acf_deseasoned = aligned_acf(deseasoned, 10)
    scaled_deseasoned = over_bucket_mean(scaled, t_r[: len(scaled)], bucket_s)
    acf_scaled_deseasoned = aligned_acf(scaled_deseasoned, 10)
    spread_lags = (lag, int(round(3 * acf_horizon_s / step_s)))
    acf_log_spread = log_spread_acf(grid.time_s, grid.spread_ticks, max(spread_lags), bucket_s)
    n_spread = int(np.sum(np.isfinite(grid.spread_ticks) & (grid.spread_ticks > 0)))
    mo = marketable_orders(day.messages, day.start_s, day.end_s)
    acf_sign = autocorrelation(mo["sign"].to_numpy(), sign_lags)
    vol = intraday_volume(day, bucket_s)
    sp = grid.spread_ticks[np.isfinite(grid.spread_ticks)]
    scalars = {
        "time share with a side empty": float(np.mean(~np.isfinite(grid.spread_ticks))),
        "spread mean (ticks)": float(sp.mean()),
        "spread median (ticks)": float(np.median(sp)),
        "spread p10 (ticks)": float(np.quantile(sp, 0.1)),
        "spread p90 (ticks)": float(np.quantile(sp, 0.9)),
    }
    stderr = {}  # iid standard errors, where a fact has a textbook one
    for lvl in depth.index:
        if lvl in (1, 2, 5, len(depth)):
            scalars[f"depth level {lvl} (shares)"] = float(depth.loc[lvl, "mean_shares"])
    for h, row in ret.iterrows():
        scalars[f"return std {h:g}s (bps)"] = row["std_bps"]
    for h, row in ret.iterrows():
        name = f"return excess kurtosis {h:g}s"
        scalars[name] = row["excess_kurtosis"]
        stderr[name] = float(np.sqrt(24.0 / row["n"]))
    se_r, se_sign = 1.0 / np.sqrt(len(r)), 1.0 / np.sqrt(len(mo))
    acf_facts = {
        f"return ACF lag 1 ({acf_horizon_s:g}s)": (acf_r[0], se_r),
        f"|return| ACF mean lags 1-10 ({acf_horizon_s:g}s)": (acf_abs[:10].mean(), se_r),
        f"|return| ACF mean lags 11-50 ({acf_horizon_s:g}s)": (acf_abs[10:50].mean(), se_r),
        f"|return| ACF mean lags 1-10 ({acf_horizon_s:g}s, intraday removed)": (
            acf_deseasoned.mean(), 1.0 / np.sqrt(np.isfinite(deseasoned).sum())),
        f"|return| / spread ACF mean lags 1-10 ({acf_horizon_s:g}s)": (acf_scaled.mean(),
                                                                     1.0 / np.sqrt(np.isfinite(scaled).sum())),
        f"|return| / spread ACF mean lags 1-10 ({acf_horizon_s:g}s, intraday removed)": (
            acf_scaled_deseasoned.mean(), 1.0 / np.sqrt(np.isfinite(scaled_deseasoned).sum())),
        f"log-spread ACF lag {spread_lags[0] * step_s:g}s (intraday removed)": (
            acf_log_spread[spread_lags[0] - 1], bartlett_se(acf_log_spread, spread_lags[0], n_spread)),
        f"log-spread ACF lag {spread_lags[1] * step_s:g}s (intraday removed)": (
            acf_log_spread[spread_lags[1] - 1], bartlett_se(acf_log_spread, spread_lags[1], n_spread)),
        "trade-sign ACF lag 1": (acf_sign[0], se_sign),
        "trade-sign ACF mean lags 2-10": (acf_sign[1:10].mean(), se_sign),
        f"trade-sign ACF mean lags 11-{sign_lags}": (acf_sign[10:].mean(), se_sign),
    }
    for name, (value, se) in acf_facts.items():
        scalars[name] = float(value)
        stderr[name] = float(se)
    scalars["marketable orders per hour"] = len(mo) / day.duration_s * 3600.0
    scalars["mean marketable order (shares)"] = float(mo["size_shares"].mean())
    scalars["visible volume (shares)"] = float(mo["size_shares"].sum())
    scalars[f"volume share first {bucket_s / 60:g} min"] = float(vol.iloc[0])
    scalars[f"volume share last {bucket_s / 60:g} min"] = float(vol.iloc[-1])
    return {"scalars": scalars, "stderr": stderr, "grid": grid, "spread": spread, "depth": depth, "returns": ret,
            "acf_returns": acf_r, "acf_abs_returns": acf_abs, "acf_signs": acf_sign, "volume": vol,
            "acf_log_spread": acf_log_spread, "acf_spread_scaled_abs_returns": acf_scaled,
            "acf_abs_returns_intraday_removed": acf_deseasoned,
            "n_returns_acf": len(r), "n_signs": len(mo)}


@dataclass(frozen=True)
class FactTolerance:
    """When a simulated fact counts as different from the real one.

    :param relative: for magnitudes (spread, depth, volatility, kurtosis, volume): flag
        ``|sim / real - 1| > relative``.
    :param absolute: for correlations and shares (names with ``ACF`` or `` share ``): flag
        ``|sim - real| > absolute``.
    """

    relative: float = 0.25
    absolute: float = 0.05

    def __post_init__(self) -> None:
        check_positive("relative", self.relative)
        check_positive("absolute", self.absolute)


def compare_facts(real: dict[str, float], sim: dict[str, float] | list[dict[str, float]],
                  tol: FactTolerance | None = None, stderr_real: dict[str, float] | None = None,
                  stderr_sim: dict[str, float] | None = None) -> pd.DataFrame:
    """Real and simulated scalar facts side by side; ``differs`` flags the real differences.

    :param sim: one simulated day's facts, or a list of several days' (then ``simulated``
        is their mean, and ``sim_min`` / ``sim_max`` their range).
    :param stderr_real: iid standard errors of the real facts, where known.
    :param stderr_sim: the same for one simulated day (divided by ``sqrt(n_days)`` for the mean).

    A fact is flagged when the difference exceeds ``tol``, exceeds twice the combined
    standard error (``noise``: sampling noise is not a difference) and, with several
    simulated days, the real value lies outside their range (day-to-day variation of the
    model is not a difference either).

    Columns ``real``, ``simulated``, ``sim_min``, ``sim_max``, ``difference`` (relative for
    magnitudes, absolute for correlations and shares), ``kind``, ``tolerance``, ``noise``
    (absolute; 0 if unknown), ``differs``; indexed by fact.
    """
    tol = tol or FactTolerance()
    days = [sim] if isinstance(sim, dict) else list(sim)
    if not days:
        raise ValueError("sim must hold at least one simulated day's facts")
    for d in days:
        if set(real) != set(d):
            raise ValueError(f"facts differ: only real {sorted(set(real) - set(d))}, only simulated "
                             f"{sorted(set(d) - set(real))}")
    se_r, se_s = stderr_real or {}, stderr_sim or {}
    rows = []
    for name in real:
        values = np.array([float(d[name]) for d in days])
        a, b = float(real[name]), float(values.mean())
        absolute = "ACF" in name or " share " in name
        if absolute:
            diff, t = b - a, tol.absolute
        else:
            diff, t = (b / a - 1.0 if a != 0 else np.inf), tol.relative
        noise = 2.0 * float(np.hypot(se_r.get(name, 0.0), se_s.get(name, 0.0) / np.sqrt(len(days))))
        beyond = not np.isfinite(diff) or abs(diff) > t
        outside = len(days) == 1 or not values.min() <= a <= values.max()
        rows.append({"fact": name, "real": a, "simulated": b, "sim_min": values.min(), "sim_max": values.max(),
                     "difference": diff, "kind": "absolute" if absolute else "relative", "tolerance": t,
                     "noise": noise, "differs": bool(beyond and abs(b - a) > noise and outside)})
    return pd.DataFrame(rows).set_index("fact")
