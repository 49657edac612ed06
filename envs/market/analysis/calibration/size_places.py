"""Fit limit order sizes by placement (the flow's ``limit_size_place_probs``) to a recorded day.

A limit order's size depends on where it goes. In the GOOG day (2012-06-21) 74% of the
submissions priced inside the spread are exactly 100 shares and 19% smaller; at their side's
best 49% and 47%; one to five ticks behind it 30% and 67% (median 11 shares). With one pooled
table the simulated quotes that improve the best are as often odd lots as the deep ones, and
the touch holds too little (a lower quartile of 14 shares against the day's 74).

:func:`submission_places` classifies each submission by the book before it (the
:data:`~execgym.envs.market.simulation.flow.SIZE_PLACES`: strictly better than its side's
best, or crossing; at the best, or on an empty side; behind it), as the flow's kernel does
for a new order; :func:`place_size_probs` counts each class's sizes over an empirical table's
entries (a size that the table lumps into its last entry counts there).
"""

from __future__ import annotations

import numpy as np

from execgym.envs.market.data.lobster_data import LobsterDay, price_vs_best
from execgym.envs.market.simulation.events import EventType
from execgym.envs.market.simulation.flow import SIZE_PLACES

__all__ = ["place_size_probs", "submission_places"]


def submission_places(day: LobsterDay) -> np.ndarray:
    """Each message's placement class (an index of ``SIZE_PLACES``; ``-1`` for a message that
    is not a submission), by its side's best quote in the book before it (the first message:
    the book after it)."""
    better, has = price_vs_best(day)  # ticks better than the side's best
    place = np.where(~has | (better == 0), 1, np.where(better > 0, 0, 2))
    return np.where(day.messages["type"].to_numpy() == int(EventType.SUBMISSION), place, -1)


def place_size_probs(sizes_shares: np.ndarray, places: np.ndarray, table_sizes: tuple[float, ...],
                     lumped: bool) -> tuple[float, ...]:
    """Counts of each placement class's ``sizes_shares`` (``places``: their classes, indices of
    ``SIZE_PLACES``) over the entries of an empirical table ``table_sizes``, flat: ``n``
    counts per class, in ``SIZE_PLACES`` order. With ``lumped`` the table's last entry stands
    for every size its other entries do not list (``empirical_sizes``'s rest); without, every
    size must be listed. A class without any order takes the pooled counts (the flow needs
    a distribution for each).

    :raises ValueError: on mismatched inputs, or a size the table does not list (not lumped).
    """
    sizes = np.asarray(sizes_shares, dtype=np.float64)
    places = np.asarray(places)
    if sizes.shape != places.shape or sizes.ndim != 1:
        raise ValueError(f"sizes_shares and places must be 1-d of one length, got shapes {sizes.shape} and "
                         f"{places.shape}")
    if len(places) and (places.min() < 0 or places.max() >= len(SIZE_PLACES)):
        raise ValueError(f"places must be indices of SIZE_PLACES (0..{len(SIZE_PLACES) - 1}), got values from "
                         f"{places.min()} to {places.max()}")
    table = np.asarray(table_sizes, dtype=np.float64)
    if table.ndim != 1 or len(table) == 0:
        raise ValueError(f"table_sizes must list at least one size, got {table_sizes!r}")
    listed = table[:-1] if lumped else table
    order = np.argsort(listed, kind="stable")
    pos = np.clip(np.searchsorted(listed[order], sizes), 0, max(len(listed) - 1, 0))
    found = (len(listed) > 0) & (listed[order][pos] == sizes) if len(listed) else np.zeros(len(sizes), dtype=bool)
    if not lumped and not np.all(found):
        raise ValueError(f"size {sizes[~found][0]!r} is not in table_sizes and the table lumps nothing")
    index = np.where(found, order[pos] if len(listed) else 0, len(table) - 1)
    n = len(table)
    pooled = np.bincount(index, minlength=n).astype(np.float64)
    out = []
    for k in range(len(SIZE_PLACES)):
        counts = np.bincount(index[places == k], minlength=n).astype(np.float64)
        out.extend(counts if counts.sum() > 0 else pooled)
    return tuple(float(x) for x in out)
