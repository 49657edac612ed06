"""Fit the cancellation rate by order size (the flow's ``cancel_size_edges_shares``,
``cancel_size_factors`` and ``cancel_size_behind_ticks``) to a recorded day.

Large resting orders are patient, deep in the book. In the GOOG day (2012-06-21) the
submissions of 500 shares or more are 0.4% of the orders but live 27 s on average (until
their deletion or last fill), against 7 s for the odd lots. Weighted by their lives the orders
average 78 shares, against 63 submitted. The round lots' patience depends on where they rest:
placed within 10 ticks of their side's best they are deleted at 0.13-0.16 per second, as fast
as the odd lots; beyond 10 ticks at 0.04-0.07. With one cancellation rate for every order the
simulated book rests as many small orders deep as it receives, spreads the same depth over
more price levels, and its ten recorded levels span fewer ticks and hold fewer shares than the
day's (the GOOG ``inside_follow_reach`` model: 24 ticks and 75-90 shares a level against
29-33 ticks and 100-140).

:func:`order_lives` reads each submission's life off the message file; :func:`cancel_size_factors`
estimates each size group's cancellation hazard by maximum likelihood for exponential lives
with a competing risk (fills: deletions over the orders' seconds alive), over the orders placed
more than ``behind_ticks`` behind their side's best (by default the day's median distance
there: the deeper half). The factors are the hazards over the day's pooled rate ``rho``
(``rate_per_s``; what ``calibrate_flow`` does): the deep orders keep their measured lives
(GOOG, 70 ticks: 1.57 for the odd lots, 0.57 for the round lots, 0.38 for 500 shares or more,
1.66 for the nearer orders; ``rho`` = 0.082/s pools the fast churn near the best with the
patient orders deep), and the refinement (``refine_depth``)
places fewer orders deep to match the depth. Without a rate the factors are normalised to keep
the flow's steady-state depth in shares instead: an order of size ``s`` rests
``1 / (rho f(s))`` on average, so the resting shares are those of one rate ``rho`` when
``sum_g S_g / f_g = sum_g S_g`` (``S_g``: the shares submitted in group ``g``), and only the
mix of resting sizes changes. On GOOG that scaling left the round lots' factor at 0.96 and
placed orders too deep (the distances of the order and cancellation levels doubled). The flow
applies a factor by the order's current distance from its best (its remaining size's group),
the fit reads the distance at submission.

A file that records only the best level (the AMZN sample: a 1-level file) has no submissions
behind the best: nothing to fit.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from execgym.envs.market.analysis.calibration.size_places import submission_places
from execgym.envs.market.data.lobster_data import LobsterDay, price_vs_best
from execgym.envs.market.simulation.events import EventType
from execgym.envs.market.simulation.flow import MAX_CANCEL_SIZE_GROUPS, SIZE_PLACES

__all__ = ["CancelSizeFit", "DEFAULT_EDGES_SHARES", "cancel_size_factors", "near_hazard", "order_lives"]

#: the default size groups' edges (shares): odd lots, one round lot, up to 499, 500 and more
DEFAULT_EDGES_SHARES = (100.0, 101.0, 500.0)
#: the fewest deletions a size group needs for its hazard
MIN_GROUP_DELETIONS = 20


def order_lives(day: LobsterDay) -> pd.DataFrame:
    """Each order submitted in the day's session: ``size_shares`` (at submission), ``life_s``
    (to its first deletion, else to its last execution), ``deleted`` and ``place`` (an index of
    :data:`~execgym.envs.market.simulation.flow.SIZE_PLACES`: inside the spread, at its side's
    best, behind it; :func:`~execgym.envs.market.analysis.calibration.size_places.submission_places`)
    and ``behind_ticks`` (ticks behind that best; 0 unless behind). Orders with neither
    in the session's messages (resting at the close, or deleted beyond the recorded levels,
    which a LOBSTER file does not record) are left out."""
    m = day.messages
    places = submission_places(day)
    better, _ = price_vs_best(day)
    t = m["time_s"].to_numpy()
    ty = m["type"].to_numpy()
    ids = m["order_id"].to_numpy()
    in_session = (t >= day.start_s) & (t < day.end_s)
    sub = (ty == int(EventType.SUBMISSION)) & in_session
    subs = pd.DataFrame({"time_s": t[sub], "size_shares": m["size_shares"].to_numpy()[sub], "place": places[sub],
                         "behind_ticks": np.where(places[sub] == SIZE_PLACES.index("behind"), -better[sub], 0)},
                        index=ids[sub])
    subs = subs[~subs.index.duplicated()]
    deletion = (ty == int(EventType.DELETION)) & in_session
    fill = (ty == int(EventType.EXECUTION_VISIBLE)) & in_session
    deleted_at = pd.Series(t[deletion], index=ids[deletion]).groupby(level=0).min()
    filled_at = pd.Series(t[fill], index=ids[fill]).groupby(level=0).max()
    end = deleted_at.reindex(subs.index).fillna(filled_at.reindex(subs.index))
    life = end - subs["time_s"]
    ok = life.notna() & (life >= 0)
    return pd.DataFrame({"size_shares": subs["size_shares"][ok].astype(float), "life_s": life[ok].astype(float),
                         "deleted": deleted_at.reindex(subs.index)[ok].notna(), "place": subs["place"][ok],
                         "behind_ticks": subs["behind_ticks"][ok]})


def _near_hazard(lives: pd.DataFrame, behind_ticks: int) -> float:
    near = lives[lives["behind_ticks"] <= behind_ticks]
    alive_s = float(near["life_s"].sum())
    return float(near["deleted"].sum()) / alive_s if alive_s > 0 else 0.0


def near_hazard(day: LobsterDay, behind_ticks: int) -> float:
    """The deletion hazard (1/s per order: deletions over seconds alive, fills a competing
    risk) of the day's orders placed inside the spread, at their side's best or at most
    ``behind_ticks`` behind it (:func:`order_lives`); 0 without any. What the flow's
    ``cancel_near_factor`` times its rate should give; the depth refinement
    (``refine_depth(cancel_near=True)``) matches it by simulation."""
    return _near_hazard(order_lives(day), behind_ticks)


class CancelSizeFit(NamedTuple):
    """:func:`cancel_size_factors`' fit: the flow's ``cancel_size_edges_shares``,
    ``cancel_size_factors`` and ``cancel_size_behind_ticks``, a table per size group, and
    ``cancel_near_factor`` (with a rate: the hazard of the other orders, placed inside the
    spread, at the best or within ``behind_ticks`` of it, over the rate; else 1)."""

    edges_shares: tuple[float, ...]
    factors: tuple[float, ...]
    behind_ticks: int
    table: pd.DataFrame
    near_factor: float = 1.0


def cancel_size_factors(day: LobsterDay, edges_shares: tuple[float, ...] = DEFAULT_EDGES_SHARES,
                        behind_ticks: int | None = None, rate_per_s: float | None = None) -> CancelSizeFit:
    """Each size group's cancellation-rate factor (its hazard over ``rate_per_s``; ``None``:
    normalised to keep the depth in shares, module docstring) and a table per group of the orders, deletions, mean life (s), hazard
    (1/s per order: deletions over the orders' seconds alive), submitted shares and factor,
    over the orders placed more than ``behind_ticks`` behind their side's best (the flow
    applies the factors there only); ``None``: the median distance of the day's submissions
    behind their best, rounded down (the deeper half).

    A group with fewer than :data:`MIN_GROUP_DELETIONS` deletions (its hazard would be noise,
    e.g. on a short window) is merged with a neighbour: the fit's edges drop the one between
    them (the sparsest group first, into its smaller neighbour).

    A ``ValueError`` if the edges are not increasing positive numbers (at most
    ``MAX_CANCEL_SIZE_GROUPS - 1``), ``rate_per_s`` is not a positive number, the day records
    no submission behind the best, or fewer than two groups keep :data:`MIN_GROUP_DELETIONS`
    deletions.
    """
    edges = tuple(float(e) for e in edges_shares)
    if not 1 <= len(edges) < MAX_CANCEL_SIZE_GROUPS or any(not np.isfinite(e) or e <= 0 for e in edges) or any(
            b <= a for a, b in zip(edges, edges[1:])):
        raise ValueError(f"edges_shares must be 1 to {MAX_CANCEL_SIZE_GROUPS - 1} increasing sizes > 0 (shares), "
                         f"got {edges_shares!r}")
    if rate_per_s is not None and (isinstance(rate_per_s, bool) or not isinstance(rate_per_s, (int, float))
                                   or not np.isfinite(rate_per_s) or rate_per_s <= 0):
        raise ValueError(f"rate_per_s must be a finite number > 0 (1/s) or None, got {rate_per_s!r}")
    lives = order_lives(day)
    behind = lives.loc[lives["place"] == SIZE_PLACES.index("behind"), "behind_ticks"]
    if behind.empty:
        raise ValueError(f"day {day.name!r} records no submission behind its side's best ({day.levels}-level file): "
                         f"nothing to fit the cancellation by size on")
    if behind_ticks is None:
        behind_ticks = int(np.median(behind))
    if isinstance(behind_ticks, bool) or not isinstance(behind_ticks, (int, np.integer)) or behind_ticks < 0:
        raise ValueError(f"behind_ticks must be an int >= 0 (ticks behind the best) or None, got {behind_ticks!r}")
    hazard_near = _near_hazard(lives, behind_ticks)
    near_factor = 1.0 if rate_per_s is None or hazard_near == 0.0 else hazard_near / rate_per_s
    lives = lives[lives["behind_ticks"] > behind_ticks]
    sizes = lives["size_shares"].to_numpy()
    deleted = lives["deleted"].to_numpy()
    kept = list(edges)
    while True:
        counts = np.bincount(np.searchsorted(np.asarray(kept), sizes[deleted], side="right"), minlength=len(kept) + 1)
        g = int(np.argmin(counts))
        if counts[g] >= MIN_GROUP_DELETIONS:
            break
        if not kept:
            raise ValueError(f"day {day.name!r} has {int(deleted.sum())} deletions of orders placed more than "
                             f"{behind_ticks} ticks behind their best: fewer than {MIN_GROUP_DELETIONS} in each of "
                             f"two size groups")
        # merge into the smaller neighbour: drop the edge between them
        lower = g > 0 and (g == len(kept) or counts[g - 1] <= counts[g + 1])
        del kept[g - 1 if lower else g]
    if not kept:
        raise ValueError(f"day {day.name!r}: the sizes of the orders placed more than {behind_ticks} ticks behind "
                         f"their best fall in one group of edges {edges!r}: nothing to fit the cancellation by size on")
    group = np.searchsorted(np.asarray(kept), sizes, side="right")
    rows = []
    for g in range(len(kept) + 1):
        sel = group == g
        n_del = int(deleted[sel].sum())
        rows.append({"from_shares": 0.0 if g == 0 else kept[g - 1], "to_shares": np.inf if g == len(kept) else kept[g],
                     "orders": int(sel.sum()), "deletions": n_del,
                     "mean_life_s": float(lives["life_s"].to_numpy()[sel].mean()),
                     "hazard_per_s": n_del / float(lives["life_s"].to_numpy()[sel].sum()),
                     "submitted_shares": float(sizes[sel].sum())})
    table = pd.DataFrame(rows)
    hazard = table["hazard_per_s"].to_numpy()
    shares = table["submitted_shares"].to_numpy()
    if rate_per_s is None:
        table["factor"] = hazard * float(np.sum(shares / hazard) / np.sum(shares))
    else:
        table["factor"] = hazard / rate_per_s
    return CancelSizeFit(tuple(kept), tuple(float(f) for f in table["factor"]), int(behind_ticks), table, near_factor)
