"""Routers for ``execgym/SmartOrderRouting-v0``, behind SB3's ``predict`` interface.

Each router reads only the observation (decoded by
:func:`execgym.envs.routing.decode_routing_observation`: per venue, its ladder's price offsets
beyond the NBBO far touch and sizes, its taker fee and latency) and returns split weights
over venues, the environment's action. Prices are in bps of the arrival mid and
side-adjusted (larger is worse for the order), so every router serves buys and sells.

=========================  =====================================================================
name                       split
=========================  =====================================================================
``best_price``             everything to the venue with the best all-in touch (price + fee)
``liquidity_proportional`` in proportion to the displayed depth at each venue's touch
``score``                  a weighted score of price, fee, depth and latency, each an estimated
                           cost in bps of the child sent there alone; softmax of minus the score
``cont_kukanov``           the cheapest split of the child over the visible ladders with fees
                           (Cont-Kukanov's deterministic case, :func:`~execgym.baselines.cont_kukanov.marketable_split`)
=========================  =====================================================================

The score router fixes the reference module's sketch. There, the score added a capped
liquidity ratio, ``1 / (1 + fee)`` and ``1 / (1 + latency)`` with fixed weights: the terms
had no common unit (a fee of 0.003 USD scored almost the same as a free venue), the price
did not enter at all, and the allocation truncated shares to integers. Here every term is
a cost of the child in bps of the arrival mid, weights are configuration, and the
allocation is a softmax with a temperature in bps (0: all to the best score).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import numpy as np

from execgym.baselines.cont_kukanov import marketable_split
from execgym.envs.routing import MAX_OFFSET_BPS, RoutingView, decode_routing_observation
from execgym.validation import check_int, check_nonnegative

logger = logging.getLogger(__name__)

__all__ = ["ROUTERS", "BestPriceRouter", "ContKukanovRouter", "LiquidityProportionalRouter", "Router",
           "ScoreRouter", "make_router"]


class Router:
    """Base class: decode the observation, compute ``(M, K)`` weights, return them as the action.

    :param n_venues: ``K`` of the environment.
    :param n_levels: ladder levels per venue in its observation.
    """

    def __init__(self, n_venues: int, n_levels: int) -> None:
        self.n_venues = check_int("n_venues", n_venues, minimum=1)
        self.n_levels = check_int("n_levels", n_levels, minimum=1)

    def weights(self, view: RoutingView) -> np.ndarray:
        raise NotImplementedError

    def predict(self, observation: np.ndarray, state: Any = None, episode_start: np.ndarray | None = None,
                deterministic: bool = False) -> tuple[np.ndarray, Any]:
        if isinstance(observation, tuple):
            raise TypeError("observation is a tuple: pass the observation, not gymnasium's (obs, info) from reset()")
        single = np.ndim(observation) == 1
        view = decode_routing_observation(observation, self.n_venues, self.n_levels)
        w = np.clip(self.weights(view), 0.0, None)
        total = w.sum(axis=1, keepdims=True)
        w = np.where(total > 0, w / np.where(total > 0, total, 1.0), 1.0 / self.n_venues).astype(np.float32)
        return (w[0] if single else w), state


def _touch_all_in_bps(view: RoutingView) -> np.ndarray:
    """All-in price of each venue's touch beyond the NBBO (bps): offset + fee; inf if empty."""
    return np.where(view.size[:, :, 0] > 0, view.offset_bps[:, :, 0] + view.fee_bps, np.inf)


class BestPriceRouter(Router):
    """Everything to the venue with the best all-in touch (ties: the lower index)."""

    def weights(self, view: RoutingView) -> np.ndarray:
        all_in = _touch_all_in_bps(view)
        w = np.zeros_like(all_in)
        w[np.arange(len(w)), np.argmin(all_in, axis=1)] = 1.0
        return w


class LiquidityProportionalRouter(Router):
    """In proportion to the displayed depth at each venue's touch."""

    def weights(self, view: RoutingView) -> np.ndarray:
        return view.size[:, :, 0].copy()


def _walk_offset_bps(view: RoutingView, beyond_depth_bps: float) -> np.ndarray:
    """Average offset (bps) of taking the whole child from each venue's visible ladder alone;
    shares beyond the visible depth are priced at the deepest level plus ``beyond_depth_bps``."""
    child = view.child[:, None, None]
    size, offset = view.size, view.offset_bps
    before = np.cumsum(size, axis=2) - size
    take = np.clip(child - before, 0.0, size)
    visible = size.sum(axis=2)
    deepest = np.where(size > 0, offset, 0.0).max(axis=2)
    rest = np.maximum(view.child[:, None] - visible, 0.0)
    total = (take * offset).sum(axis=2) + rest * (deepest + beyond_depth_bps)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(view.child[:, None] > 0, total / view.child[:, None], offset[:, :, 0])


class ScoreRouter(Router):
    """Softmax of minus a weighted cost score (all terms in bps of the arrival mid).

    ``score_k = w_price * touch_offset_k + w_fee * fee_k + w_depth * walk_k + w_latency * latency_frac_k``,
    where ``walk_k`` is the child's average price beyond the venue's touch if sent there
    alone (its depth cost) and ``latency_frac_k`` the venue's latency in decision
    intervals (``w_latency`` in bps per interval of latency). Weights
    ``exp(-score / temperature_bps)``; temperature 0 sends everything to the best score.

    :param beyond_depth_bps: price of shares beyond the visible ladder: deepest level + this.
    """

    def __init__(self, n_venues: int, n_levels: int, w_price: float = 1.0, w_fee: float = 1.0, w_depth: float = 1.0,
                 w_latency: float = 5.0, temperature_bps: float = 0.25, beyond_depth_bps: float = 5.0) -> None:
        super().__init__(n_venues, n_levels)
        self.w_price = check_nonnegative("w_price", w_price)
        self.w_fee = check_nonnegative("w_fee", w_fee)
        self.w_depth = check_nonnegative("w_depth", w_depth)
        self.w_latency = check_nonnegative("w_latency", w_latency)
        self.temperature_bps = check_nonnegative("temperature_bps", temperature_bps)
        self.beyond_depth_bps = check_nonnegative("beyond_depth_bps", beyond_depth_bps)

    def scores(self, view: RoutingView) -> np.ndarray:
        """``(M, K)`` scores (bps; lower is better); a venue with an empty touch scores inf."""
        touch = view.offset_bps[:, :, 0]
        walk = _walk_offset_bps(view, self.beyond_depth_bps) - touch
        score = (self.w_price * touch + self.w_fee * view.fee_bps + self.w_depth * walk
                 + self.w_latency * view.latency_frac)
        return np.where(view.size[:, :, 0] > 0, score, np.inf)

    def weights(self, view: RoutingView) -> np.ndarray:
        score = self.scores(view)
        best = score.min(axis=1, keepdims=True)
        if self.temperature_bps == 0.0:
            return (score == best).astype(np.float64)
        with np.errstate(invalid="ignore"):
            return np.nan_to_num(np.exp(-(score - best) / self.temperature_bps))


class ContKukanovRouter(Router):
    """The cheapest split of the child over the visible ladders, fees included.

    Per observation, :func:`~execgym.baselines.cont_kukanov.marketable_split` on all-in offsets
    (the ladder is side-adjusted, so it is solved as a buy). A child larger than the
    visible depth of all venues takes all of it and sends the rest in proportion.
    """

    def weights(self, view: RoutingView) -> np.ndarray:
        out = np.zeros(view.fee_bps.shape)
        for i in range(len(out)):
            sizes = view.size[i]
            prices = np.where(sizes > 0, view.offset_bps[i], MAX_OFFSET_BPS)
            child = float(view.child[i])
            visible = float(sizes.sum())
            if visible <= 0:
                continue
            out[i] = marketable_split("buy", prices, sizes, view.fee_bps[i], min(child, visible))
            if child > visible:
                out[i] += (child - visible) * sizes.sum(axis=1) / visible
        return out


ROUTERS: dict[str, Callable[..., Router]] = {
    "best_price": BestPriceRouter,
    "liquidity_proportional": LiquidityProportionalRouter,
    "score": ScoreRouter,
    "cont_kukanov": ContKukanovRouter,
}


def make_router(name: str, n_venues: int, n_levels: int, **kwargs: Any) -> Router:
    """The router called ``name`` (a key of :data:`ROUTERS`) for ``K`` venues and ``L`` levels."""
    try:
        factory = ROUTERS[name]
    except KeyError:
        raise ValueError(f"unknown router {name!r}; known: {sorted(ROUTERS)}") from None
    return factory(n_venues, n_levels, **kwargs)
