"""Refine a calibrated market's depth profile by simulation until it reproduces the recorded
day's depth.

:func:`~execgym.envs.market.analysis.calibration.flow.calibrate_flow` maps the measured depth
at each distance ``d`` from the opposite best quote to the flow's steady-state depth
``depth_d = lambda_d mean_size / rho`` (``match="depth"``). That steady state assumes
orders stay where they were placed relative to the anchor; in the simulated book the anchor
moves (the spread widens and narrows, market orders walk the book), so an order placed at
``d`` rests at other distances later, and the simulated depth by distance comes out below the
target (about half of it beyond 10 ticks for the GOOG day). :func:`refine_depth` corrects
this by a fixed-point iteration, the indirect inference of Gourieroux, Monfort and Renault
(1993) on one auxiliary statistic per distance:

    depth_d <- depth_d * target_d / simulated_d,

each factor clipped to ``[1/4, 4]``, simulating the recorded day's length with the market
after each update (one seed per iteration). A flow with one depth profile for both sides
takes the mean of the sides' targets and simulations; a two-sided one (``depth_sell_shares``)
refines each side against its own.

With ``fleeting=True`` the same simulations refine the fleeting orders' two shares
(``cluster_join_frac``, ``cluster_cancel_newest_frac``) against two more statistics of the
day (:func:`~execgym.envs.market.analysis.calibration.flow.fleeting_shares`: the share of
submissions at their side's best, the share of cancellations within 0.1 s), by the same
multiplicative update, each share kept in [0, 1].

With ``spread_profile=True`` they also refine the intraday spread's multipliers
(``placement_scale``) against the day's time-weighted mean spread in each of the flow's
buckets (:func:`~execgym.envs.market.analysis.calibration.spread_profile.bucket_spreads`):
the spread does not grow in proportion to the placement distances (fleeting orders join the
best whatever the scale, and a book built at one scale lingers into the next bucket), so
the first guess, the day's spread ratio, leaves the GOOG open's book at half its width.

With ``spread_rate=True`` (market orders that wait for a tight spread) they also refine the
market orders' baseline rate ``market_rate_per_s`` against the day's count of marketable
orders: the spread factors keep that count only if the simulated spread spends the day's
share of time in each bucket, and a simulated book is seldom as tight as the day's.

With ``revisions=True`` they also refine the order revisions' two rates
(``revise_best_per_s``, ``revise_deep_per_s``) against the day's counts of cancellations
followed by a same-side submission within 10 ms, at the best and behind it (the clustering
makes some such pairs on its own, and the simulated book rests orders beyond the recorded
levels).

With ``cancel_near=True`` (cancellation by size) they also refine the near factor
(``cancel_near_factor``) against the day's deletion hazard of the orders placed within
``cancel_size_behind_ticks`` of their best
(:func:`~execgym.envs.market.analysis.calibration.cancel_sizes.near_hazard`). The fit sets the
factor to that hazard over ``rho``, but with the clustering the flow's base cancellations run at
``(1 - n) rho`` and its excited ones land only within the recorded levels, so the simulated
hazard comes out lower (GOOG ``inside_follow_patient``: 0.04-0.06 per second against the day's
0.09-0.16), the simulated orders live longer and the recorded stream is sparser.

With ``inside=True`` (orders inside a wide spread) they also solve for the probabilities
``inside_probs``. A LOBSTER file records only the submissions within its levels: every order
posted inside the spread is recorded, the others only if they land within the recorded levels
(a share ``r`` of them; GOOG ``_follow``: about a quarter). So if a share ``a`` of a bucket's
new orders goes inside (the flow's ``p`` and what its other rules put there, ``q``:
``a = p + (1 - p) q``), the recorded share is ``T = a / (a + (1 - a) r)``: its odds are
``a``'s over ``r``. Where the flow posts inside (``p > 0``) and ``q`` is small, each step
multiplies ``p``'s odds by the day's share ``R``'s over the simulated ``T``'s (at most by
:data:`MAX_FACTOR` either way), which with ``r`` and ``q`` unchanged lands on ``R``; where
``p = 0`` the first step is ``p <- (R - T) / (1 - T)`` (``q`` read off the simulation as if
every order were recorded). Reading ``q`` as ``(T - p) / (1 - p)`` at every step, as if ``r``
were 1, overshoots: on the GOOG ``_follow`` model the narrowest bucket's probability swung
between 0.10 (``T = 0.33`` against ``R = 0.11``) and 0 from one step to the next, and the
preset, stopped at 0.10, spent 19% of the session with a spread under 10 ticks (the day:
3.9%). A bucket with fewer than :data:`MIN_INSIDE_COUNT` simulated submissions (a spread the
simulation does not reach) only falls: its odds by the factor of the nearest reached bucket
below it, clipped to ``[MIN_UNREACHED_FACTOR, 1]``: a high probability there would keep the spread
from ever reaching it, and one step must not set it to 0 for good.

With ``gain_decay=a > 0`` update ``i`` (from 1) takes only the fraction ``i^-a`` of its step
(of the logarithm for the multiplicative updates and of the log-odds for the inside
probabilities; of the change for a first step from 0): a stochastic approximation with decreasing gains (Robbins and Monro 1951,
whose convergence conditions, gains that sum to infinity with squares that do not, hold
for ``1/2 < a <= 1``; ``a = 1/2`` only damps), so that each noisy simulated day moves the
parameters less than the one before. With whole steps the coupled updates can oscillate
about their targets instead of settling: the depth moves the spread and the spread the
market orders' rate (an eight-day refinement of the GOOG ``_follow`` model simulated 5909,
10519, 5282, 7714, 3718, 8168, 4121 and 8819 marketable orders against the day's 5931; with
``a = 0.5``: 5909, 10519, 7543, 6131, 6338, 6218, 5689, 6095).
"""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np
import pandas as pd

from execgym.envs.market.analysis.calibration.cancel_sizes import near_hazard
from execgym.envs.market.analysis.calibration.flow import cancellation_rates, fleeting_shares, marketable_orders
from execgym.envs.market.analysis.calibration.inside import MAX_INSIDE_PROB, inside_statistics
from execgym.envs.market.analysis.calibration.revisions import revision_statistics
from execgym.envs.market.analysis.calibration.spread_profile import bucket_spreads
from execgym.envs.market.data.lobster_data import LobsterDay
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation.simulator import SimulatorConfig
from execgym.validation import check_int

logger = logging.getLogger(__name__)

__all__ = ["refine_depth"]

#: bounds of one iteration's factor per distance
MAX_FACTOR = 4.0
#: bounds of a refined intraday-spread multiplier: far beyond, new orders land outside the
#: book and the spread no longer follows the multiplier (fleeting orders still join the best)
MAX_SCALE = 8.0
#: fewest simulated submissions in a spread bucket to refine its inside probability
MIN_INSIDE_COUNT = 30
#: the smallest factor of one step for a bucket the simulation does not reach
MIN_UNREACHED_FACTOR = 0.25


def _depth_by_side(day: LobsterDay, k: int, anchor: str) -> tuple[np.ndarray, np.ndarray]:
    rates = cancellation_rates(day, k, anchor)
    return (np.nan_to_num(rates["buy_depth_shares"].to_numpy()), np.nan_to_num(rates["sell_depth_shares"].to_numpy()))


def _factor(target: np.ndarray, simulated: np.ndarray) -> np.ndarray:
    ok = (target > 0) & (simulated > 0)
    return np.where(ok, np.clip(target / np.where(ok, simulated, 1.0), 1.0 / MAX_FACTOR, MAX_FACTOR), 1.0)


def _power(factor: float, exponent: float) -> float:
    """``factor ** exponent`` (a square root exactly as ``math.sqrt`` takes it)."""
    return math.sqrt(factor) if exponent == 0.5 else factor ** exponent


def _scalar_factor(target: float, simulated: float) -> float:
    """:func:`_factor` of one statistic."""
    return float(_factor(np.array([target]), np.array([simulated]))[0])


def _inside_probs(probs: tuple[float, ...], target: np.ndarray, simulated: dict, gain: float = 1.0
                  ) -> tuple[float, ...]:
    """One step of the inside probabilities (module docstring), ``gain`` of it: of the
    log-odds where the flow posts inside, of the change from 0 elsewhere."""
    p = np.asarray(probs, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    got = np.asarray(simulated["shares"], dtype=np.float64)
    seen = simulated["counts"] >= MIN_INSIDE_COUNT
    posts = seen & (p > 0) & (target > 0)
    # the odds step, at most MAX_FACTOR either way (a bucket with nothing inside moves by it)
    t = np.clip(got, 1e-12, 1.0 - 1e-12)
    r = np.clip(target, 1e-12, 1.0 - 1e-12)
    step = np.clip(np.log(r / (1.0 - r)) - np.log(t / (1.0 - t)), -math.log(MAX_FACTOR), math.log(MAX_FACTOR))
    p_in = np.where(posts, p, 0.5)
    stepped = 1.0 / (1.0 + (1.0 - p_in) / p_in * np.exp(-gain * step))
    first = np.clip((target - got) / np.maximum(1.0 - got, 1e-9), 0.0, MAX_INSIDE_PROB)
    new = np.where(posts, stepped, np.where(seen, p + gain * (first - p), p))
    new = np.clip(new, 0.0, MAX_INSIDE_PROB)
    # a bucket the simulation does not reach takes the change of the nearest one below it that it
    # does (a factor of its odds: a high probability there would keep the spread from ever reaching it)
    factor = 1.0
    for i in range(len(p)):
        if seen[i]:
            if 0 < p[i] < 1:
                factor = float(np.clip(new[i] / (1.0 - new[i]) / (p[i] / (1.0 - p[i])), MIN_UNREACHED_FACTOR, 1.0))
        elif 0 < p[i] < 1:
            odds = p[i] / (1.0 - p[i]) * factor
            new[i] = odds / (1.0 + odds)
    return tuple(float(x) for x in new)


def refine_depth(market: SimulatorConfig, day: LobsterDay, iterations: int = 2, seed: int = 0,
                 fleeting: bool = False, spread_profile: bool = False,
                 spread_rate: bool = False, revisions: bool = False,
                 inside: bool = False, gain_decay: float = 0.0,
                 cancel_near: bool = False) -> tuple[SimulatorConfig, pd.DataFrame]:
    """``market`` with its flow's depth profile refined against ``day`` (module docstring).

    :param market: a market calibrated to ``day`` (its flow's distances are ``1..K``).
    :param day: the recorded day (with its order book).
    :param iterations: updates of the profile (each simulates the day once).
    :param seed: the simulations' seeds are spawned from it.
    :param fleeting: also refine the fleeting orders' shares (module docstring); the flow
        needs clustering.
    :param spread_profile: also refine the intraday spread's multipliers (module docstring);
        the flow needs a ``placement_scale``.
    :param spread_rate: also refine the market orders' baseline rate (module docstring);
        the flow needs ``market_spread_factor``.
    :param revisions: also refine the order revisions' rates (module docstring); the flow
        needs ``revise_best_per_s`` or ``revise_deep_per_s``.
    :param inside: also solve for the probabilities of orders inside a wide spread (module
        docstring); the flow needs ``inside_probs``.
    :param gain_decay: ``a``: update ``i`` (from 1) takes the step's gain ``i^-a`` (module
        docstring); 0: every update takes its whole step.
    :param cancel_near: also refine the cancellation by size's near factor
        (``cancel_near_factor``, module docstring); the flow needs ``cancel_size_factors``.
    :return: the refined market and a table by distance: the target depth (mean of the
        sides), the configured depth and the simulated depth before each update (shares).
    """
    iterations = check_int("iterations", iterations, minimum=1)
    if isinstance(gain_decay, bool) or not isinstance(gain_decay, (int, float)) or not 0.0 <= gain_decay <= 1.0:
        raise ValueError(f"gain_decay must be a number in [0, 1], got {gain_decay!r}")
    if not isinstance(market, SimulatorConfig):
        raise TypeError(f"market must be a SimulatorConfig, got {type(market).__name__}")
    if day.orderbook is None:
        raise ValueError(f"day {day.name!r} has no order book loaded: refining the depth needs it")
    flow = market.flow
    k = len(flow.depth_shares)
    target_buy, target_sell = _depth_by_side(day, k, flow.anchor)
    if fleeting:
        if not flow.cluster_alphas_per_s:
            raise ValueError("fleeting=True refines the clustering's excited events: the flow has no clustering")
        target_fleeting = fleeting_shares(day)
    if revisions:
        if not flow.revise_best_per_s and not flow.revise_deep_per_s:
            raise ValueError("revisions=True refines the order revisions' rates: the flow has no revise_best_per_s "
                             "or revise_deep_per_s")
        target_revisions = revision_statistics(day)
    if spread_rate:
        if not flow.market_spread_factor:
            raise ValueError("spread_rate=True refines the market orders' rate with their spread factors: the flow "
                             "has no market_spread_factor")
        target_orders = len(marketable_orders(day.messages, day.start_s, day.end_s))
    if inside:
        if not flow.inside_probs:
            raise ValueError("inside=True refines the probabilities of orders inside the spread: the flow has no "
                             "inside_probs")
        target_inside = inside_statistics(day, flow.inside_spread_ticks)["shares"]
    if cancel_near:
        if not flow.cancel_size_factors:
            raise ValueError("cancel_near=True refines the cancellation by size's near factor: the flow has no "
                             "cancel_size_factors")
        target_near = near_hazard(day, flow.cancel_size_behind_ticks)
    if spread_profile:
        if not flow.placement_scale:
            raise ValueError("spread_profile=True refines the intraday spread: the flow has no placement_scale")
        starts = flow.placement_scale_starts()
        target_spread = bucket_spreads(day, starts)
    table = pd.DataFrame({"target_shares": 0.5 * (target_buy + target_sell), "configured_shares": flow.depth_shares},
                         index=pd.RangeIndex(1, k + 1, name="distance_ticks"))
    for i, seq in enumerate(np.random.SeedSequence(seed).spawn(iterations)):
        sim = simulate_day(market, np.random.default_rng(seq), day.duration_s, dt_s=60.0, levels=day.levels,
                           open_time_s=day.start_s)
        sim_buy, sim_sell = _depth_by_side(sim, k, flow.anchor)
        table[f"simulated_{i}_shares"] = 0.5 * (sim_buy + sim_sell)
        gain = (i + 1.0) ** -gain_decay
        if flow.depth_sell_shares:
            changes = {"depth_shares": tuple(np.asarray(flow.depth_shares) * _factor(target_buy, sim_buy) ** gain),
                       "depth_sell_shares": tuple(np.asarray(flow.depth_sell_shares)
                                                  * _factor(target_sell, sim_sell) ** gain)}
        else:
            factor = _factor(target_buy + target_sell, sim_buy + sim_sell) ** gain
            changes = {"depth_shares": tuple(np.asarray(flow.depth_shares) * factor)}
        if fleeting:
            got = fleeting_shares(sim)
            for field, stat in (("cluster_join_frac", "join_share"), ("cluster_cancel_newest_frac", "fast_cancel_share")):
                now = max(getattr(flow, field), 0.01)  # a zero share would stay zero
                factor = _scalar_factor(target_fleeting[stat], got[stat]) ** gain
                changes[field] = float(min(now * factor, 1.0 - (flow.cluster_improve_frac if field == "cluster_join_frac"
                                                                 else 0.0)))
            logger.info("fleeting refinement %d/%d: joins %.3f (simulated %.3f, target %.3f), newest cancels %.3f "
                        "(simulated fast %.3f, target %.3f)", i + 1, iterations, changes["cluster_join_frac"],
                        got["join_share"], target_fleeting["join_share"], changes["cluster_cancel_newest_frac"],
                        got["fast_cancel_share"], target_fleeting["fast_cancel_share"])
        if spread_profile:
            got_spread = bucket_spreads(sim, starts)
            # half the step (the square root of the factor): one simulated minute after the open is noisy
            factor = _factor(target_spread, got_spread) ** (0.5 * gain)
            changes["placement_scale"] = tuple(np.clip(np.asarray(flow.placement_scale) * factor, 1.0 / MAX_SCALE,
                                                       MAX_SCALE))
            logger.info("spread refinement %d/%d: simulated / target spread by bucket %s", i + 1, iterations,
                        " ".join(f"{x:.2f}" for x in got_spread / target_spread))
        if revisions:
            got = revision_statistics(sim)
            for field, stat in (("revise_best_per_s", "best_per_s"), ("revise_deep_per_s", "deep_per_s")):
                changes[field] = float(getattr(flow, field) * _scalar_factor(target_revisions[stat], got[stat]) ** gain)
            logger.info("revision refinement %d/%d: at the best %.4g/s per order (simulated %.3f revisions/s, "
                        "target %.3f), behind %.4g/s (simulated %.3f, target %.3f)", i + 1, iterations,
                        changes["revise_best_per_s"], got["best_per_s"], target_revisions["best_per_s"],
                        changes["revise_deep_per_s"], got["deep_per_s"], target_revisions["deep_per_s"])
        if spread_rate:
            got_orders = len(marketable_orders(sim.messages, sim.start_s, sim.end_s))
            # half steps: the depth's update moves the spread, and with it the market orders' rate
            changes["market_rate_per_s"] = flow.market_rate_per_s * _power(_scalar_factor(target_orders, got_orders),
                                                                           0.5 * gain)
            logger.info("market-order rate refinement %d/%d: %d simulated marketable orders, target %d", i + 1,
                        iterations, got_orders, target_orders)
        if cancel_near:
            got_near = near_hazard(sim, flow.cancel_size_behind_ticks)
            changes["cancel_near_factor"] = flow.cancel_near_factor * _scalar_factor(target_near, got_near) ** gain
            logger.info("near-cancellation refinement %d/%d: factor %.4g (simulated hazard %.4f/s, target %.4f/s)",
                        i + 1, iterations, changes["cancel_near_factor"], got_near, target_near)
        if inside:
            changes["inside_probs"] = _inside_probs(flow.inside_probs, target_inside,
                                                    inside_statistics(sim, flow.inside_spread_ticks), gain)
            logger.info("inside refinement %d/%d: probabilities by spread bucket %s", i + 1, iterations,
                        " ".join(f"{x:.3f}" for x in changes["inside_probs"]))
        flow = dataclasses.replace(flow, **changes)
        market = dataclasses.replace(market, flow=flow)
        logger.info("depth refinement %d/%d: simulated / target depth over 1..%d ticks %.3f", i + 1, iterations, k,
                    table[f"simulated_{i}_shares"].sum() / max(table["target_shares"].sum(), 1e-12))
    table["refined_shares"] = flow.depth_shares
    return market, table
