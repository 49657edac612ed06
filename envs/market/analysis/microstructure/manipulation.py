"""Manipulation patterns: an agent that injects them into a simulated day, and their detectors.

**Quote stuffing** (Egginton, Van Ness and Van Ness 2016, "Quote stuffing", Financial
Management 45(3)): bursts of order submissions and cancellations far above the usual
message rate, for a second or two. :func:`detect_quote_stuffing` counts submission and
cancellation messages in bins of ``bin_s`` and flags bins above a trailing baseline: the
rolling median ``m`` of the previous ``baseline_s`` and a robust scale ``s = max(1.4826
MAD, sqrt(m), 1)`` (the Poisson floor ``sqrt(m)`` keeps quiet periods from flagging
noise); a bin is flagged when its count exceeds ``m + z s``. Adjacent flagged bins form
one episode.

**Layering / spoofing** (the pattern of the US v. Coscia and Sarao cases; Cartea,
Jaimungal and Wang 2020, "Spoofing and price manipulation in order-driven markets",
Applied Math. Finance 27): large orders placed on one side, away from the touch, that
are not meant to trade; once the trader's genuine order on the *other* side executes,
the large orders are cancelled. :func:`detect_layering` flags an order that

* is large: at least ``size_factor`` times the day's median submission size;
* rests away from the touch: at least ``min_distance_ticks`` behind its side's best quote
  when submitted;
* never trades and is deleted within ``max_lifetime_s``;
* is deleted within ``reaction_s`` after an execution of a resting order on the opposite
  side (the genuine order's fill).

Flagged orders of one side deleted within ``reaction_s`` of each other form one episode
(several layers); with ``min_orders > 1`` only episodes of at least that many orders are
kept (layering proper rather than a single spoof order). Both detectors read only the LOBSTER message frame (and, for the
touch, its order-book file), so they run on real and simulated days alike.

:class:`ManipulationAgent` injects both patterns into a
:class:`~execgym.envs.market.simulation.simulator.MarketSimulator` day through its agent-order API at
seeded random times, recording the ground truth in ``labels``; :func:`interval_scores`
and :func:`layering_scores` give precision and recall against it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from execgym.envs.market.analysis.microstructure.frames import prevailing_quotes
from execgym.envs.market.data.lobster_data import OPEN_S, LobsterDay
from execgym.envs.market.simulation.events import EventType
from execgym.envs.market.simulation.simulator import MarketSimulator, StepReport
from execgym.validation import check_choice, check_int, check_nonnegative, check_positive

logger = logging.getLogger(__name__)

__all__ = [
    "LayeringParams",
    "ManipulationAgent",
    "ManipulationConfig",
    "StuffingParams",
    "detect_layering",
    "detect_quote_stuffing",
    "interval_scores",
    "layering_scores",
    "message_rate",
]


@dataclass(frozen=True)
class ManipulationConfig:
    """What :class:`ManipulationAgent` injects, and when. Times in seconds, sizes in shares.

    :param n_stuffing_bursts: quote-stuffing bursts in the day.
    :param burst_duration_s: length of each burst.
    :param burst_messages: messages per burst (half submissions, half their cancellations).
    :param stuffing_offset_ticks: stuffing orders rest this far behind the touch (so they never trade).
    :param stuffing_size_shares: size of each stuffing order.
    :param n_layering_episodes: layering episodes in the day (alternating buy/sell spoof sides
        when ``layering_side`` is ``"both"``).
    :param layering_side: spoof side: ``"buy"``, ``"sell"`` or ``"both"``.
    :param n_layers: spoof orders per episode, on consecutive price levels.
    :param layer_size_shares: size of each spoof order.
    :param layer_distance_ticks: distance of the first layer behind its side's best quote.
    :param genuine_size_shares: the genuine order, resting at the opposite best quote.
    :param max_wait_s: the episode is abandoned (everything cancelled) if the genuine order
        has not traded by then.
    :param margin_s: no event starts in the first and last ``margin_s`` of the day, and
        events are at least this far apart.
    """

    n_stuffing_bursts: int = 10
    burst_duration_s: float = 2.0
    burst_messages: int = 400
    stuffing_offset_ticks: int = 3
    stuffing_size_shares: int = 100
    n_layering_episodes: int = 10
    layering_side: str = "both"
    n_layers: int = 3
    layer_size_shares: int = 5000
    layer_distance_ticks: int = 2
    genuine_size_shares: int = 100
    max_wait_s: float = 60.0
    margin_s: float = 60.0

    def __post_init__(self) -> None:
        check_int("n_stuffing_bursts", self.n_stuffing_bursts, minimum=0)
        check_positive("burst_duration_s", self.burst_duration_s)
        check_int("burst_messages", self.burst_messages, minimum=2)
        check_int("stuffing_offset_ticks", self.stuffing_offset_ticks, minimum=1)
        check_int("stuffing_size_shares", self.stuffing_size_shares, minimum=1)
        check_int("n_layering_episodes", self.n_layering_episodes, minimum=0)
        check_choice("layering_side", self.layering_side, ("buy", "sell", "both"))
        check_int("n_layers", self.n_layers, minimum=1)
        check_int("layer_size_shares", self.layer_size_shares, minimum=1)
        check_int("layer_distance_ticks", self.layer_distance_ticks, minimum=1)
        check_int("genuine_size_shares", self.genuine_size_shares, minimum=1)
        check_positive("max_wait_s", self.max_wait_s)
        check_nonnegative("margin_s", self.margin_s)


class ManipulationAgent:
    """Injects quote stuffing and layering into a simulated day (a :class:`~execgym.envs.market.data.simulated_day.StepAgent`).

    Event start times (session seconds) are drawn once, uniformly over the day, non-
    overlapping and ``margin_s`` apart. ``labels`` (times in seconds after midnight, like
    LOBSTER's) holds ``"stuffing"``: a list of ``(t_start, t_end)`` bursts, and
    ``"layering"``: one dict per episode with ``side`` (+1 buy / -1 sell spoofs),
    ``t_place``, ``t_cancel``, ``order_ids`` of the spoof orders, ``genuine_id`` and
    ``executed`` (whether the genuine order traded before the cancellation).

    :param config: what to inject.
    :param rng: the source of the event times and sides.
    :param duration_s: the day's length (session seconds).
    """

    def __init__(self, config: ManipulationConfig, rng: np.random.Generator, duration_s: float) -> None:
        if not isinstance(config, ManipulationConfig):
            raise TypeError(f"config must be a ManipulationConfig, got {type(config).__name__}")
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        self.config = cfg = config
        duration_s = check_positive("duration_s", duration_s)
        kinds = ["stuff"] * cfg.n_stuffing_bursts + ["layer"] * cfg.n_layering_episodes
        span = {"stuff": cfg.burst_duration_s, "layer": cfg.max_wait_s}
        need = sum(span[k] + cfg.margin_s for k in kinds) + cfg.margin_s
        if need > duration_s:
            raise ValueError(f"duration_s={duration_s} cannot hold the configured events (needs {need:.0f} s)")
        order = rng.permutation(len(kinds))
        kinds = [kinds[i] for i in order]
        # spread the events: random gaps that sum to the free time
        free = duration_s - need
        gaps = np.diff(np.concatenate([[0.0], np.sort(rng.uniform(0.0, free, len(kinds)))]))
        t, self._schedule = cfg.margin_s, []
        for kind, gap in zip(kinds, gaps):
            t += gap
            self._schedule.append((t, kind))
            t += span[kind] + cfg.margin_s
        sides = {"buy": [1], "sell": [-1], "both": [1, -1]}[cfg.layering_side]
        first = int(rng.integers(len(sides)))
        self._sides = [sides[(first + i) % len(sides)] for i in range(cfg.n_layering_episodes)]
        self.labels: dict = {"stuffing": [], "layering": []}
        self._next = 0
        self._burst: tuple[float, float, int] | None = None  # (t_start, t_end, messages left)
        self._episode: dict | None = None
        self._offset = None

    @property
    def schedule(self) -> list[tuple[float, str]]:
        """The planned events: ``(session start time (s), "stuff" | "layer")``."""
        return list(self._schedule)

    def _clock(self, sim: MarketSimulator) -> float:
        return OPEN_S + sim.config.start_of_day_s + sim.time_s

    def act(self, sim: MarketSimulator, report: StepReport | None) -> None:
        if self._episode is not None:
            self._step_layering(sim, report)
        if self._burst is not None:
            self._step_stuffing(sim)
        while self._next < len(self._schedule) and sim.time_s >= self._schedule[self._next][0] \
                and self._episode is None and self._burst is None:
            _, kind = self._schedule[self._next]
            self._next += 1
            if kind == "stuff":
                now = sim.time_s
                self._burst = (now, now + self.config.burst_duration_s, self.config.burst_messages // 2)
                self.labels["stuffing"].append([self._clock(sim), self._clock(sim) + self.config.burst_duration_s])
                self._step_stuffing(sim)
            else:
                self._start_layering(sim)

    # -- quote stuffing ----------------------------------------------------------------

    def _step_stuffing(self, sim: MarketSimulator) -> None:
        t0, t1, left = self._burst
        now = sim.time_s
        # pairs due by now, spread evenly over the burst
        total = self.config.burst_messages // 2
        due = total if now >= t1 else int(np.ceil(total * (now - t0) / (t1 - t0)))
        n = max(0, min(left, due - (total - left)))
        bid, ask = sim.book.best_bid, sim.book.best_ask
        off = self.config.stuffing_offset_ticks
        for i in range(n):
            side = 1 if (total - left + i) % 2 == 0 else -1
            if side == 1 and bid is None or side == -1 and ask is None:
                continue
            price = bid - off if side == 1 else ask + off
            oid, _ = sim.submit_limit(side, max(1, price), self.config.stuffing_size_shares)
            if oid in sim.book:
                sim.cancel(oid)
        left -= n
        if left <= 0:
            self.labels["stuffing"][-1][1] = self._clock(sim)
            self._burst = None
        else:
            self._burst = (t0, t1, left)

    # -- layering ------------------------------------------------------------------------

    def _start_layering(self, sim: MarketSimulator) -> None:
        cfg = self.config
        side = self._sides[len(self.labels["layering"])]
        bid, ask = sim.book.best_bid, sim.book.best_ask
        if bid is None or ask is None:
            return
        ids = []
        for j in range(cfg.n_layers):
            price = bid - cfg.layer_distance_ticks - j if side == 1 else ask + cfg.layer_distance_ticks + j
            oid, _ = sim.submit_limit(side, max(1, price), cfg.layer_size_shares)
            ids.append(oid)
        genuine, fills = sim.submit_limit(-side, ask if side == 1 else bid, cfg.genuine_size_shares)
        self._episode = {"side": side, "t_place": self._clock(sim), "t_cancel": None, "order_ids": ids,
                         "genuine_id": genuine, "executed": len(fills) > 0, "t_start_session": sim.time_s}
        self.labels["layering"].append(self._episode)
        if self._episode["executed"]:
            self._end_layering(sim)

    def _step_layering(self, sim: MarketSimulator, report: StepReport | None) -> None:
        ep = self._episode
        if report is not None and len(report.agent_fills):
            if np.any(report.agent_fills["resting_id"] == ep["genuine_id"]):
                ep["executed"] = True
        if ep["executed"] or sim.time_s - ep["t_start_session"] >= self.config.max_wait_s:
            self._end_layering(sim)

    def _end_layering(self, sim: MarketSimulator) -> None:
        ep = self._episode
        for oid in [*ep["order_ids"], ep["genuine_id"]]:
            if oid in sim.book:
                sim.cancel(oid)
        ep["t_cancel"] = self._clock(sim)
        del ep["t_start_session"]
        self._episode = None


# --- detectors ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StuffingParams:
    """Parameters of :func:`detect_quote_stuffing` (module docstring)."""

    bin_s: float = 1.0
    baseline_s: float = 300.0
    z: float = 8.0
    min_messages: int = 20

    def __post_init__(self) -> None:
        check_positive("bin_s", self.bin_s)
        check_positive("baseline_s", self.baseline_s)
        check_positive("z", self.z)
        check_int("min_messages", self.min_messages, minimum=1)
        if self.baseline_s < 3 * self.bin_s:
            raise ValueError(f"baseline_s must be at least 3 bins, got {self.baseline_s} with bin_s={self.bin_s}")


def message_rate(messages: pd.DataFrame, bin_s: float) -> pd.DataFrame:
    """Submissions and cancellations (types 1-3) per bin of ``bin_s`` seconds from the first message."""
    t = messages["time_s"].to_numpy()
    quote = messages["type"].isin((EventType.SUBMISSION, EventType.CANCELLATION, EventType.DELETION)).to_numpy()
    if len(t) == 0:
        return pd.DataFrame({"t0_s": [], "count": []})
    edges = t[0] + bin_s * np.arange(int(np.floor((t[-1] - t[0]) / bin_s)) + 2)
    counts, _ = np.histogram(t[quote], bins=edges)
    return pd.DataFrame({"t0_s": edges[:-1], "count": counts})


def detect_quote_stuffing(messages: pd.DataFrame, params: StuffingParams | None = None) -> pd.DataFrame:
    """Quote-stuffing episodes: runs of bins whose message count jumps above a trailing baseline.

    :return: one row per episode: ``t_start``, ``t_end`` (seconds after midnight),
        ``n_messages``, ``peak_count`` (largest bin), ``baseline`` (median count per bin
        before it).
    """
    p = params if params is not None else StuffingParams()
    if not isinstance(p, StuffingParams):
        raise TypeError(f"params must be a StuffingParams, got {type(p).__name__}")
    rate = message_rate(messages, p.bin_s)
    c = rate["count"].astype(float)
    window = int(round(p.baseline_s / p.bin_s))
    past = c.shift(1)
    med = past.rolling(window, min_periods=3).median()
    mad = (past - med).abs().rolling(window, min_periods=3).median()  # approximate rolling MAD
    scale = np.maximum.reduce([1.4826 * mad.to_numpy(), np.sqrt(med.to_numpy()), np.ones(len(c))])
    flag = (c.to_numpy() > med.to_numpy() + p.z * scale) & (c.to_numpy() >= p.min_messages)
    flag &= np.isfinite(med.to_numpy())
    episodes = []
    i, n = 0, len(flag)
    while i < n:
        if not flag[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and flag[j + 1]:
            j += 1
        episodes.append({"t_start": float(rate["t0_s"].iloc[i]), "t_end": float(rate["t0_s"].iloc[j] + p.bin_s),
                         "n_messages": int(c.iloc[i : j + 1].sum()), "peak_count": int(c.iloc[i : j + 1].max()),
                         "baseline": float(med.iloc[i])})
        i = j + 1
    out = pd.DataFrame(episodes, columns=["t_start", "t_end", "n_messages", "peak_count", "baseline"])
    logger.info("quote stuffing: %d episodes", len(out))
    return out


def interval_scores(detected: pd.DataFrame, truth, tolerance_s: float = 0.0) -> dict:
    """Precision and recall of detected intervals against true ``(t_start, t_end)`` intervals.

    A detection is correct if it overlaps a true interval widened by ``tolerance_s``; a true
    interval is found if some detection overlaps it.
    """
    truth = np.asarray(truth, dtype=float).reshape(-1, 2)
    ds = detected["t_start"].to_numpy(float) if len(detected) else np.zeros(0)
    de = detected["t_end"].to_numpy(float) if len(detected) else np.zeros(0)
    overlap = (ds[:, None] < truth[None, :, 1] + tolerance_s) & (de[:, None] > truth[None, :, 0] - tolerance_s)
    tp_det = int(overlap.any(axis=1).sum())
    found = int(overlap.any(axis=0).sum())
    return {"n_detected": len(ds), "n_true": len(truth),
            "precision": tp_det / len(ds) if len(ds) else float("nan"),
            "recall": found / len(truth) if len(truth) else float("nan")}


@dataclass(frozen=True)
class LayeringParams:
    """Parameters of :func:`detect_layering` (module docstring)."""

    size_factor: float = 12.0
    min_distance_ticks: int = 1
    max_lifetime_s: float = 120.0
    reaction_s: float = 0.2
    min_orders: int = 1

    def __post_init__(self) -> None:
        check_positive("size_factor", self.size_factor)
        check_int("min_orders", self.min_orders, minimum=1)
        check_int("min_distance_ticks", self.min_distance_ticks, minimum=0)
        check_positive("max_lifetime_s", self.max_lifetime_s)
        check_positive("reaction_s", self.reaction_s)


def detect_layering(day: LobsterDay, params: LayeringParams | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Flag large, never-executed orders away from the touch deleted right after an
    opposite-side execution (module docstring).

    :return: ``(orders, episodes)``. ``orders``: one row per flagged order with
        ``order_id``, ``side`` (+1 buy / -1 sell), ``size_shares``, ``distance_ticks``,
        ``t_submit``, ``t_delete``, ``lag_s`` (deletion minus the last opposite execution).
        ``episodes``: ``side``, ``t_start`` (first submission), ``t_end`` (last deletion),
        ``n_orders``, ``shares``.
    """
    p = params if params is not None else LayeringParams()
    if not isinstance(p, LayeringParams):
        raise TypeError(f"params must be a LayeringParams, got {type(p).__name__}")
    m = day.messages
    unit = day.price_units_per_tick
    mtype = m["type"].to_numpy()
    sub = np.flatnonzero(mtype == EventType.SUBMISSION)
    empty = (pd.DataFrame(columns=["order_id", "side", "size_shares", "distance_ticks", "t_submit", "t_delete", "lag_s"]),
             pd.DataFrame(columns=["side", "t_start", "t_end", "n_orders", "shares"]))
    if len(sub) == 0:
        return empty
    q = prevailing_quotes(day)
    size = m["size_shares"].to_numpy()[sub]
    threshold = p.size_factor * np.median(size)
    side = m["direction"].to_numpy()[sub]
    price = m["price"].to_numpy()[sub].astype(float)
    best = np.where(side == 1, q["bid"].to_numpy()[sub], q["ask"].to_numpy()[sub])
    dist = (best - price) * side / unit
    cand = (size >= threshold) & np.isfinite(dist) & (dist >= p.min_distance_ticks)
    subs = pd.DataFrame({"order_id": m["order_id"].to_numpy()[sub][cand], "side": side[cand],
                         "size_shares": size[cand], "distance_ticks": dist[cand],
                         "t_submit": m["time_s"].to_numpy()[sub][cand]})
    if subs.empty:
        return empty
    later = m[m["order_id"].isin(subs["order_id"]) & np.isin(mtype, (EventType.CANCELLATION, EventType.DELETION, EventType.EXECUTION_VISIBLE))]
    executed = set(later.loc[later["type"] == EventType.EXECUTION_VISIBLE, "order_id"])
    deleted = later[later["type"] == EventType.DELETION].groupby("order_id")["time_s"].first()
    subs = subs[~subs["order_id"].isin(executed)]
    subs = subs.assign(t_delete=subs["order_id"].map(deleted)).dropna(subset=["t_delete"])
    subs = subs[subs["t_delete"] - subs["t_submit"] <= p.max_lifetime_s]
    # the last execution of an opposite-side resting order at or before each deletion
    ex = m[mtype == EventType.EXECUTION_VISIBLE]
    lag = np.full(len(subs), np.inf)
    for s in (1, -1):
        et = ex.loc[ex["direction"] == -s, "time_s"].to_numpy()
        mine = (subs["side"] == s).to_numpy()
        td = subs["t_delete"].to_numpy()[mine]
        k = np.searchsorted(et, td, side="right") - 1
        ok = k >= 0
        lg = np.full(len(td), np.inf)
        lg[ok] = td[ok] - et[k[ok]]
        lag[mine] = lg
    subs = subs.assign(lag_s=lag)
    flagged = subs[subs["lag_s"] <= p.reaction_s]
    flagged = flagged.sort_values("t_delete").reset_index(drop=True)
    episodes, keep = [], np.zeros(len(flagged), bool)
    for s in (1, -1):
        mine = np.flatnonzero((flagged["side"] == s).to_numpy())
        if len(mine) == 0:
            continue
        td = flagged["t_delete"].to_numpy()[mine]
        group = np.concatenate([[0], np.cumsum(np.diff(td) > p.reaction_s)])
        for gid in np.unique(group):
            rows = mine[group == gid]
            if len(rows) < p.min_orders:
                continue
            keep[rows] = True
            g = flagged.iloc[rows]
            episodes.append({"side": s, "t_start": float(g["t_submit"].min()), "t_end": float(g["t_delete"].max()),
                             "n_orders": len(g), "shares": int(g["size_shares"].sum())})
    flagged = flagged[keep].reset_index(drop=True)
    ep = pd.DataFrame(episodes, columns=["side", "t_start", "t_end", "n_orders", "shares"])
    logger.info("layering: %d orders flagged in %d episodes", len(flagged), len(ep))
    return flagged, ep.sort_values("t_start").reset_index(drop=True)


def layering_scores(flagged: pd.DataFrame, labels: dict) -> pd.DataFrame:
    """Order-level and episode-level precision and recall of :func:`detect_layering` against
    an agent's ``labels``, per spoof side (``buy``, ``sell``) and overall (``all``)."""
    rows = []
    episodes = labels.get("layering", [])
    for name, sides in (("buy", (1,)), ("sell", (-1,)), ("all", (1, -1))):
        eps = [e for e in episodes if e["side"] in sides]
        true_ids = {oid for e in eps for oid in e["order_ids"]}
        f = flagged[flagged["side"].isin(sides)]
        hit = f["order_id"].isin(true_ids)
        found_eps = [e for e in eps if set(e["order_ids"]) & set(f["order_id"])]
        executed = [e for e in eps if e["executed"]]
        rows.append({
            "side": name, "true_orders": len(true_ids), "flagged_orders": len(f),
            "precision": float(hit.mean()) if len(f) else float("nan"),
            "recall": len(set(f["order_id"]) & true_ids) / len(true_ids) if true_ids else float("nan"),
            "true_episodes": len(eps), "episodes_executed": len(executed),
            "episode_recall": len(found_eps) / len(eps) if eps else float("nan"),
            "executed_episode_recall": (sum(1 for e in executed if e in found_eps) / len(executed)
                                        if executed else float("nan")),
        })
    return pd.DataFrame(rows)
