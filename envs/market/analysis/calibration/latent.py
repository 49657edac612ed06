"""Latent liquidity's settings from a recorded day.

The flow's latent orders (:mod:`execgym.envs.market.simulation.flow`, ``latent_frac``) go the
depth profile's distance ``d`` less ``latent_offset_ticks`` from the centre that the impact
moves, where the other orders go ``d`` from the opposite best. With the book centred on the
centre, an order ``d`` from the opposite best sits ``d - s/2`` from the mid for a spread of
``s`` ticks, so the offset that places both alike is half the spread: here half the day's
time-weighted median spread, rounded half to even (GOOG 2012-06-21: 25 ticks, an offset of 12).

The share itself is a modelling choice, not an estimate from the day's messages (which do not
say which orders sit around a latent price): it trades the order-level realism, which falls as
more orders ignore the quotes, against how firmly the book follows the centre (envs/market/NOTEBOOK.md's
latent-liquidity tables measure both).
"""

from __future__ import annotations

import numpy as np

from execgym.envs.market.analysis.calibration.spread_profile import spread_rows
from execgym.envs.market.data.lobster_data import LobsterDay
from execgym.envs.market.simulation.flow import LATENT_IMPROVE
from execgym.validation import check_choice, check_fraction, check_int

__all__ = ["latent_settings", "median_spread_ticks"]


def median_spread_ticks(day: LobsterDay) -> float:
    """The day's time-weighted median spread (ticks) over the session's two-sided rows.

    :raises ValueError: if the day has no order book or never quotes both sides.
    """
    _, hold, spread, ok = spread_rows(day)
    w = hold[ok]
    if not ok.any() or w.sum() <= 0.0:
        raise ValueError(f"day {day.name!r} never quotes both sides within its session: no spread")
    s = spread[ok]
    order = np.argsort(s, kind="stable")
    cum = np.cumsum(w[order])
    return float(s[order][np.searchsorted(cum, 0.5 * cum[-1])])


def latent_settings(day: LobsterDay, frac: float, offset_ticks: int | None = None, improve: str | None = None) -> dict:
    """``{"latent_frac", "latent_offset_ticks"}`` for the flow: the share ``frac`` in (0, 1]
    and the offset (ticks), by default half the day's median spread, rounded half to even
    (module docstring); with ``improve`` also ``latent_improve`` (``"spread"``, ``"join"`` or
    ``"inside"``: how far a latent order may better its side's best; ``FlowConfig``).

    :raises ValueError: on a share outside (0, 1], a negative offset or an unknown ``improve``.
    """
    frac = check_fraction("frac", frac, allow_zero=False)
    if offset_ticks is None:
        offset_ticks = int(round(0.5 * median_spread_ticks(day)))
    out = {"latent_frac": frac, "latent_offset_ticks": check_int("offset_ticks", offset_ticks, minimum=0)}
    if improve is not None:
        out["latent_improve"] = check_choice("improve", improve, LATENT_IMPROVE)
    return out
