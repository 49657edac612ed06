"""A natively vectorised ``execgym/LOBExecution-v0``: M independent markets in one compiled call.

Each market has its own order book, background flow and random streams, held in stacked
arrays; :func:`_vec_step` steps them all (agent orders, background flow, the horizon,
rewards, observations and autoreset) without returning to Python, through the episode
core of :mod:`execgym.envs.lob_core`. This is also the engine of the single env
:class:`execgym.envs.lob_execution.LOBExecutionEnv` (at M = 1): market ``m`` reset with seed
``s + m`` is the single env reset with seed ``s + m``, bit for bit, as ``SyncVectorEnv``
would give, and both equal the pinned Python implementation the core replaced
(``tests/envs/reference_lob_env.py``; tested). ``parallel=True`` steps the markets on
numba's threads with the same results.

Supports the three action modes of the single environment: market orders (``"fraction"``,
``"participation"``) and limit orders (``"placement"``: the agent's child order rests in its
market's book, is cancelled or kept (``keep_unfilled``) at the next decision, fills against
the background flow and is cancelled at the horizon, where the remainder walks the book).
Buffers are fixed per market
(``n_levels`` ticks of price grid, ``capacity`` resting orders); exceeding one raises a
``RuntimeError`` that says which to raise.
"""

from __future__ import annotations

import math
import os
from typing import Any, Mapping

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from numba import njit, prange

from execgym.envs import lob_core as core
from execgym.envs.contract import (
    side_sign,
)
from execgym.envs.lob_config import (
    LOBExecutionConfig,
    check_actions,
    execution_summary,
    lob_action_space,
    lob_observation_space,
    lob_task,
    simulated_expected_volume,
    volume_arrays,
)
from execgym.envs.market.simulation import _book_kernels as K
from execgym.envs.market.simulation import flow as F
from execgym.envs.market.simulation._jit import HOT, prefetch
from execgym.envs.market.simulation.rng import new_state
from execgym.envs.market.simulation.simulator import AGENT_ID_START, AGENT_OWNER
from execgym.envs.rendering import check_render_mode
from execgym.envs.state import SnapshotMixin
from execgym.validation import check_int

__all__ = ["LOBExecutionVectorEnv", "default_capacity", "l2_cache_bytes"]

#: buckets of each market's id map: it holds only the agent's orders (the background flow's
#: ids stay out of it, ``_book_kernels``' unmapped orders), of which at most one rests
AGENT_HTAB_BUCKETS = 64

#: the simulated market's constants (one record for all markets): where an episode starts
MARKET_DTYPE = np.dtype([
    ("start_s", np.float64),  # market time of the first decision
    ("warmup_s", np.float64),  # background flow run before it
    ("mid0_ticks", np.float64),  # initial fundamental
    ("base0_ticks", np.int64),  # price of the grid's level 0
    ("diffusion_step_s", np.float64),
    ("prefetch", np.bool_),  # see LOBExecutionVectorEnv's ``prefetch``
], align=True)  # padded to 48 bytes: in an array of them, each record's fields stay aligned
# int64 scratch entries per market of ``_vec_step``
N_WORK = 18


@njit(**HOT)
def _consume(sc, fills, acc, rec):
    """Add the fills in the buffer to ``acc`` (volume, value, agent passive volume, value) and
    empty it; the agent's fills are also appended to ``rec = (records (cap, 2): price, size;
    count (1,))`` when it has room (the count goes on, so an overflow shows)."""
    n = sc[K.S_N_FILLS]
    log, count = rec
    for f in range(n):
        size = fills[f, K.F_SIZE]
        price = fills[f, K.F_PRICE]
        acc[0] += size
        acc[1] += size * price
        if fills[f, K.F_REST_OWNER] == AGENT_OWNER or fills[f, K.F_AGG_OWNER] == AGENT_OWNER:
            acc[2] += size
            acc[3] += size * price
            j = count[0]
            if j < log.shape[0]:
                log[j, 0] = price
                log[j, 1] = size
            count[0] = j + 1
    sc[K.S_N_FILLS] = 0


@njit(**HOT)
def _run(rngs, flow, book, t_end, acc, rec):
    """Run the flow to ``t_end``, consuming fills as the buffer fills; a book error code or OK."""
    sc, lvl, orders, htab, fills, log, evbuf = book
    while True:
        status = F.run_flow(rngs, flow, (sc, lvl, orders, htab, fills, log), evbuf, t_end)
        _consume(sc, fills, acc, rec)
        if status == K.OK:
            return K.OK
        if status != K.NEED_FILL_SPACE:
            return status


@njit(**HOT)
def _agent_event(book, fp, fs, live, etype, oid, side, price, size, owner, acc, rec):
    """One event of the agent's (an order, a cancel or a modify), with the impact of its
    fills as ``MarketSimulator`` applies it (and the regrouping of the background order it
    left partly filled, :func:`~execgym.envs.market.simulation.flow.regroup_resting`); fills into ``acc``."""
    sc, lvl, orders, htab, fills, log, evbuf = book
    evbuf[0, K.E_TYPE] = etype
    evbuf[0, K.E_ID] = oid
    evbuf[0, K.E_SIDE] = side
    evbuf[0, K.E_PRICE] = price
    evbuf[0, K.E_SIZE] = size
    evbuf[0, K.E_OWNER] = owner
    evbuf[0, K.E_TIME] = np.int64(fs.t_s * 1e9)
    _, status = K.process(sc, lvl, orders, htab, fills, log, evbuf, 0)
    if status != K.OK:
        return status
    signed = 0
    for f in range(sc[K.S_N_FILLS]):
        signed += fills[f, K.F_SIZE] * fills[f, K.F_AGG_SIDE]
    if signed != 0:
        F.apply_impact(fs, fp, float(signed))
    # room in the top list: live holds twice the order records (the agent's trade leaves at
    # most one order partly filled)
    if fp[F.P_CSZ_SPLIT] == 1.0 and sc[K.S_N_FILLS] > 0:
        F.regroup_resting(fp, fs, live, sc, lvl, orders, fills, 0, sc[K.S_N_FILLS])
    _consume(sc, fills, acc, rec)
    return K.OK


@njit(**HOT)
def _agent_market(book, fp, fs, live, e, side, size, acc, rec):
    """The agent's market order of ``size`` shares, with its impact; fills into ``acc``."""
    oid = e.next_agent_id
    e.next_agent_id += 1
    return _agent_event(book, fp, fs, live, K.EV_MARKET, oid, side, 0, size, AGENT_OWNER, acc, rec)


@njit(**HOT)
def _child_resting(htab, orders, e):
    """Whether the agent's last limit order still rests in the book."""
    return e.child_id != 0 and K.h_find(htab, orders, e.child_id) != -1


@njit(**HOT)
def _cancel_child(book, fp, fs, live, e, acc, rec):
    """Cancel the agent's resting limit order, if any."""
    status = K.OK
    if _child_resting(book[3], book[2], e):
        status = _agent_event(book, fp, fs, live, K.EV_CANCEL, e.child_id, 0, 0, 0, 0, acc, rec)
    e.child_id = 0
    return status


@njit(**HOT)
def _agent_place(p, book, fp, fs, live, e, side, size, offset_ticks, acc, rec):
    """The placement action: a limit order of ``size`` shares at :func:`~execgym.envs.lob_core.placement_price`,
    after cancelling (or, with ``keep_unfilled`` and the same price, resizing) the previous
    child; fills into ``acc``."""
    sc, orders, htab = book[0], book[2], book[3]
    bb, ba, n_levels, base = sc[K.S_BEST_BID], sc[K.S_BEST_ASK], sc[K.S_N_LEVELS], sc[K.S_BASE]
    bid = base + bb if bb >= 0 else -1
    ask = base + ba if ba < n_levels else -1
    own, opp = (bid, ask) if side > 0 else (ask, bid)
    reference = fs.fund_ticks + F.transient(fp, fs) if own < 0 and opp < 0 else 0.0
    price = core.placement_price(side, offset_ticks, own, opp, reference)
    if _child_resting(htab, orders, e):
        slot = K.h_find(htab, orders, e.child_id)
        if p.keep_unfilled and orders[slot].price_ticks == price and size > 0:
            return _agent_event(book, fp, fs, live, K.EV_MODIFY, e.child_id, 0, price, size, 0, acc, rec)
        status = _cancel_child(book, fp, fs, live, e, acc, rec)
        if status != K.OK:
            return status
    if size <= 0:
        return K.OK
    oid = e.next_agent_id
    e.next_agent_id += 1
    e.child_id = oid
    return _agent_event(book, fp, fs, live, K.EV_LIMIT, oid, side, price, size, AGENT_OWNER, acc, rec)


@njit(**HOT)
def _mid(sc, fallback):
    bb, ba = sc[K.S_BEST_BID], sc[K.S_BEST_ASK]
    if bb >= 0 and ba < sc[K.S_N_LEVELS]:
        return 0.5 * ((sc[K.S_BASE] + bb) + (sc[K.S_BASE] + ba))
    return fallback


@njit(**HOT)
def _reset_market(p, mp, rngs, next_rngs, flow, book, e, vring, acc, rec):
    """A fresh book, warmed up as ``MarketSimulator.reset`` does; the episode's state."""
    sc, lvl, orders, htab = book[0], book[1], book[2], book[3]
    fp, fs = flow[0], flow[3]
    n_levels = lvl.shape[1]
    for j in range(sc.shape[0]):
        sc[j] = 0
    sc[K.S_N_LEVELS] = n_levels
    sc[K.S_BEST_BID] = -1
    sc[K.S_BEST_ASK] = n_levels
    sc[K.S_LOT] = p.lot_shares
    sc[K.S_BASE] = mp.base0_ticks
    sc[K.S_MAP_FROM] = AGENT_ID_START  # the flow names its orders' slots: their ids stay out of the map
    for s in range(2):
        for i in range(n_levels):
            lvl[s, i].head = -1
            lvl[s, i].tail = -1
            lvl[s, i].volume_shares = 0
            lvl[s, i].count = 0
    cap = orders.shape[0]
    for i in range(cap):
        orders[i].id = K.EMPTY_KEY
        orders[i].next = i + 1
    orders[cap - 1].next = -1
    for i in range(htab.shape[0]):
        htab[i] = K.EMPTY_SLOT
    F.start_state(fs, mp.start_s - mp.warmup_s, mp.mid0_ticks, mp.diffusion_step_s)
    for r in range(2):
        for j in range(4):
            rngs[r][j] = next_rngs[r][j]
    status = K.OK
    if mp.warmup_s > 0.0:
        status = _run(rngs, flow, book, mp.start_s, acc, rec)
    core.start_episode(e, vring, _mid(sc, fs.fund_ticks + F.transient(fp, fs)), AGENT_ID_START, p.total_shares)
    return status


@njit(**HOT)
def _observe(p, next_ratio, book, e, top, out):
    """The observation of one market (:func:`~execgym.envs.lob_core.observe` on its book)."""
    sc, lvl, orders, htab = book[0], book[1], book[2], book[3]
    K.top_of_book(sc, lvl, p.imbalance_levels, top)
    queue_frac = 0.0
    resting = 0.0
    if e.child_id != 0:
        slot = K.h_find(htab, orders, e.child_id)
        if slot != -1:
            s = 0 if orders[slot].side > 0 else 1
            level = lvl[s, orders[slot].price_ticks - sc[K.S_BASE]].volume_shares
            ahead = K.queue_ahead(sc, lvl, orders, htab, e.child_id)
            queue_frac = ahead / level if level else 0.0
            resting = 1.0
    core.observe(p, e, next_ratio, top, queue_frac, resting, out)


@njit(**HOT)
def _step_market(p, rates, expected, rngs, flow, book, e, vring, action, offset_ticks, acc, own, final, out_exec,
                 rec):
    """One decision of one market (``action``: the fraction, index or placement fraction;
    ``offset_ticks``: the placement's offset); returns (reward, terminated, status)."""
    fp, fs, live = flow[0], flow[3], flow[4]
    side = p.sign
    remaining = e.holdings_shares
    placing = p.mode == core.MODE_PLACEMENT
    size = core.child_size(p, e, rates, expected, action)
    for j in range(4):
        acc[j] = 0
        own[j] = 0  # immediate fills: volume, value
        final[j] = 0
    if placing:
        st = _agent_place(p, book, fp, fs, live, e, side, size, offset_ticks, own, rec)
        if st != K.OK:
            return 0.0, False, st
    elif size > 0:
        st = _agent_market(book, fp, fs, live, e, side, size, own, rec)
        if st != K.OK:
            return 0.0, False, st
    fs.vol_shares = 0.0
    fs.value_tick_shares = 0.0
    st = _run(rngs, flow, book, fs.t_s + p.decision_interval_s, acc, rec)
    if st != K.OK:
        return 0.0, False, st
    report_volume = acc[0]
    market_volume = report_volume + own[0]
    market_value = float(acc[1] + own[1])
    executed = own[0] + acc[2]
    value = float(own[1]) + float(acc[3])
    terminated = False
    if core.at_horizon(p, e):
        # the horizon: cancel what rests and walk the book with the remainder
        held = remaining - executed
        if placing:
            st = _cancel_child(book, fp, fs, live, e, final, rec)
            if st != K.OK:
                return 0.0, False, st
        if held > 0:
            st = _agent_market(book, fp, fs, live, e, side, held, final, rec)
            if st != K.OK:
                return 0.0, False, st
            market_volume += final[0]
            market_value += float(final[1])
            executed += final[0]
            value += float(final[1])
        terminated = True
    cost = core.account(p, e, executed, value, market_volume, market_value, terminated)
    if e.holdings_shares <= 0:
        if placing:
            st = _cancel_child(book, fp, fs, live, e, final, rec)
            if st != K.OK:
                return 0.0, False, st
        terminated = True
    reward = core.finish(p, e, vring, expected, cost, report_volume, _mid(book[0], np.nan))
    if terminated:
        core.summary_row(e, out_exec)
    return reward, terminated, K.OK


@njit(**HOT)
def _prefetch_rows(q, rngs, flow, book, episode):
    """Ask for market ``q``'s small state rows (one or two cache lines each)."""
    sc, evbuf = book[0], book[6]
    fs = flow[3]
    es, vring = episode
    prefetch(sc, q * sc.shape[1])
    prefetch(evbuf, q * evbuf.shape[1] * evbuf.shape[2])
    prefetch(fs, q)
    prefetch(es, q)
    prefetch(vring, q * vring.shape[1])
    prefetch(rngs[0], q * 4)
    prefetch(rngs[1], q * 4)


@njit(**HOT)
def _prefetch_book(q, flow, book):
    """Ask for the parts of market ``q``'s book that its next step is likely to touch: the
    order records in use, the live list and the levels around the touch (not the id map: it
    holds the agent's order only).
    The markets' states do not fit in the cache together; fetched while the previous
    market computes, they need not be waited for."""
    sc, lvl, orders, fills = book[0], book[1], book[2], book[4]
    fs, live = flow[3], flow[4]
    n_o = orders.shape[1]
    used = min(n_o, sc[q, K.S_N_ORDERS] + 32)  # the free list is LIFO: slots in use stay low
    for i in range(used):
        prefetch(orders, q * n_o + i)
    n_l = live.shape[1]
    for i in range(0, min(n_l, fs[q].n_live), 8):
        prefetch(live, q * n_l + i)
    n_levels = lvl.shape[2]
    bb = sc[q, K.S_BEST_BID]
    ba = sc[q, K.S_BEST_ASK]
    for i in range(max(0, bb - 10), min(n_levels, bb + 3), 2):
        prefetch(lvl, ((q * 2) * n_levels + i) * 4)
    for i in range(max(0, ba - 2), min(n_levels, ba + 11), 2):
        prefetch(lvl, ((q * 2 + 1) * n_levels + i) * 4)
    for i in range(0, 4 * K.N_F, 8):
        prefetch(fills, q * fills.shape[1] * K.N_F + i)


@njit(**HOT)
def _prefetch_ahead(m, n, rngs, flow, book, episode):
    """While market ``m`` steps: the next market's book and the one after's small rows."""
    if m + 2 < n:
        _prefetch_rows(m + 2, rngs, flow, book, episode)
    if m + 1 < n:
        _prefetch_book(m + 1, flow, book)


@njit(**HOT)
def _step_one(m, p, mp, consts, rngs, next_rngs, flow, book, episode, io, same_step):
    """Step market ``m`` once (or reset it, NextStep mode): everything it touches is its own
    (its rows of every array, its scratch ``work[m]``), so markets may step in any order or
    at once."""
    rates, expected, next_ratio = consts
    fp, cum_w, sizes, fs, live = flow
    sc, lvl, orders, htab, fills, log, evbuf = book
    es, vring = episode
    actions, needs_reset, obs, final_obs, rewards, terminated, summaries, status, work, agent_fills, n_agent_fills = io
    w = work[m]
    acc, own, final, top = w[0:4], w[4:8], w[8:12], w[12:18]
    status[m] = K.OK
    rewards[m] = 0.0
    terminated[m] = False
    rngs_m = (rngs[0][m], rngs[1][m])
    next_m = (next_rngs[0][m], next_rngs[1][m])
    flow_m = (fp, cum_w, sizes, fs[m], live[m])
    book_m = (sc[m], lvl[m], orders[m], htab[m], fills[m], log[m], evbuf[m])
    e = es[m]
    n_agent_fills[m] = 0
    rec = (agent_fills[m], n_agent_fills[m:m + 1])
    if needs_reset[m]:
        status[m] = _reset_market(p, mp, rngs_m, next_m, flow_m, book_m, e, vring[m], acc, rec)
        needs_reset[m] = False
        _observe(p, next_ratio, book_m, e, top, obs[m])
        return
    r, done, st = _step_market(p, rates, expected, rngs_m, flow_m, book_m, e, vring[m], actions[m, 0],
                               actions[m, 1], acc, own, final, summaries[m], rec)
    status[m] = st
    rewards[m] = r
    terminated[m] = done
    _observe(p, next_ratio, book_m, e, top, obs[m])
    if done:
        if same_step:
            for j in range(obs.shape[1]):
                final_obs[m, j] = obs[m, j]
            status[m] = _reset_market(p, mp, rngs_m, next_m, flow_m, book_m, e, vring[m], acc, rec)
            _observe(p, next_ratio, book_m, e, top, obs[m])
        else:
            needs_reset[m] = True


@njit(**HOT)
def _first_failure(status):
    for m in range(status.shape[0]):
        if status[m] != K.OK:
            return m
    return -1


@njit(**HOT)
def _vec_step(params, market_params, consts, rngs, next_rngs, flow, book, episode, io, same_step):
    """Step every market once, in order, prefetching the next market's state (see the
    module docstring).

    ``params`` / ``market_params``: one-record arrays of :data:`~execgym.envs.lob_core.PARAMS_DTYPE`
    and :data:`MARKET_DTYPE`. Grouped arguments, each a tuple of arrays with the markets on
    the first axis (but the constants): ``consts = (rates, expected, next_ratio)``, ``rngs`` / ``next_rngs`` =
    (flow stream, diffusion stream), ``flow = (fp, cum_w, sizes, fs, live)``, ``book = (sc,
    lvl, orders, htab, fills, log, evbuf)``, ``episode = (es, vring)`` and ``io = (actions,
    needs_reset, obs, final_obs, rewards, terminated, summaries, status, work, agent_fills,
    n_agent_fills)``; ``work`` is an int64 scratch array of :data:`N_WORK` entries per market;
    ``agent_fills[m]`` records market ``m``'s agent fills of the step (``(M, 0, 2)``: none).
    Returns the first market whose book ran out of room (its status says which), or -1.
    """
    p, mp = params[0], market_params[0]
    n = io[0].shape[0]
    ahead = mp.prefetch
    for m in range(n):
        if ahead:
            _prefetch_ahead(m, n, rngs, flow, book, episode)
        _step_one(m, p, mp, consts, rngs, next_rngs, flow, book, episode, io, same_step)
    return _first_failure(io[7])


@njit(cache=True, parallel=True)
def _vec_step_parallel(params, market_params, consts, rngs, next_rngs, flow, book, episode, io, same_step):
    """:func:`_vec_step` with the markets shared among numba's threads (``prange``): each
    market's step is the serial one, so the results are bit for bit the same."""
    n = io[0].shape[0]
    ahead = market_params[0].prefetch
    for m in prange(n):  # each thread gets a contiguous block of markets: prefetching the next ones pays too
        if ahead:
            _prefetch_ahead(m, n, rngs, flow, book, episode)
        _step_one(m, params[0], market_params[0], consts, rngs, next_rngs, flow, book, episode, io, same_step)
    return _first_failure(io[7])


def _flat(step):
    """``step`` entered with its arguments flat, as Python calls it: numba checks the types
    of plain arrays far faster than those of tuples and record scalars (2 us instead of 4
    per call, which is most of a single market's step)."""

    def flat(params, market_params, rates, expected, next_ratio, rs, rd, next_rs, next_rd, fp, cum_w, sizes, fs,
             live, sc, lvl, orders, htab, fills, log, evbuf, es, vring, actions, needs_reset, obs, final_obs,
             rewards, terminated, summaries, status, work, agent_fills, n_agent_fills, same_step):
        return step(params, market_params, (rates, expected, next_ratio), (rs, rd), (next_rs, next_rd),
                    (fp, cum_w, sizes, fs, live), (sc, lvl, orders, htab, fills, log, evbuf), (es, vring),
                    (actions, needs_reset, obs, final_obs, rewards, terminated, summaries, status, work,
                     agent_fills, n_agent_fills), same_step)

    return njit(**HOT)(flat)


_vec_step_flat = _flat(_vec_step)
_vec_step_flat_parallel = _flat(_vec_step_parallel)


def l2_cache_bytes() -> int:
    """The CPU's per-core L2 cache size (bytes) as the C library reports it, else 2 MiB."""
    try:
        size = os.sysconf("SC_LEVEL2_CACHE_SIZE")
    except (AttributeError, ValueError, OSError):
        size = 0
    return size if size > 0 else 1 << 21


def default_capacity(fp: np.ndarray) -> int:
    """Order records per market for flow parameters ``fp`` (:func:`execgym.envs.market.simulation.flow.flow_params`).

    Resting background orders form an immigration-death queue: arrivals at most
    ``lambda_total * tod_max`` per second, each cancelled at rate at least ``theta`` (with the
    cancellation by size, ``theta`` times the smallest factor), so their number is Poisson
    with mean at most ``n = lambda_total * tod_max / theta``. The capacity covers
    ``n`` plus ten standard deviations plus 64 (the agent's orders and slack), rounded up
    to a multiple of 64 (the deviations widened by ``1 / (1 - b)`` for a flow clustered with
    branching ratio ``b``): small, so each market's order records and hash table stay compact
    in the cache, and far beyond what the flow reaches.
    """
    theta = fp[F.P_THETA]
    if fp[F.P_CSZ_N] > 0:
        # cancellation by size: theta is the live list's proposals' rate (its factor); the most
        # patient orders are cancelled at the smallest
        factors = [fp[F.P_CSZ_F0 + g] for g in range(int(fp[F.P_CSZ_N]))] + [fp[F.P_CSZ_NEAR]]
        theta *= min(factors) / fp[F.P_CSZ_ACC]
    n = fp[F.P_LAM_TOTAL] * fp[F.P_TOD_MAX] / theta
    # clustered flow (branching ratio b): bursts of submissions widen the count's spread by 1 / (1 - b)
    b = sum(fp[F.P_CLUSTER_A0 + 2 * k] / fp[F.P_CLUSTER_A0 + 2 * k + 1]
            for k in range(F.MAX_CLUSTER_KERNELS) if fp[F.P_CLUSTER_A0 + 2 * k + 1] > 0)
    return 64 * math.ceil((n + 10.0 * math.sqrt(n) / (1.0 - b) + 64.0) / 64.0)


class LOBExecutionVectorEnv(SnapshotMixin, VectorEnv):
    """``num_envs`` independent LOB execution episodes stepped in one compiled call.

    :param num_envs: markets ``M``.
    :param config: an :class:`~execgym.envs.lob_execution.LOBExecutionConfig` or mapping (overrides
        as keywords): any of the single env's action modes.
    :param autoreset_mode: ``"NextStep"`` (gymnasium's default) or ``"SameStep"``
        (terminal observations in ``info["final_obs"]``).
    :param n_levels: price-grid width per market (ticks, centred on the initial mid).
    :param capacity: order records per market; by default :func:`default_capacity` of
        the market (the background queue's steady state plus ten standard deviations).
    :param prefetch: while one market steps, ask the CPU for the next market's book (its
        hash table, order records, live list and levels near the touch). It pays when the
        markets' books do not fit in the L2 cache together (at M = 1,024 on the benchmark
        machine: 2.3x the steps per second) and costs when they nearly do; by default
        (``None``) it is on when the books take more than four times the L2 cache
        (:func:`l2_cache_bytes`).
    :param parallel: step the markets on numba's threads (``prange``; ``numba.set_num_threads``
        sets how many): every market's step is the serial one, so results are bit for bit those
        of the serial run; it pays from a few dozen markets on (``benchmarks/bench_lob_env.py``).
    :param agent_fill_capacity: per market, how many of the agent's fills a step records
        (price and size, for :class:`~execgym.envs.lob_execution.LOBExecutionEnv`'s ``info``); 0
        (the default) records none.

    ``info["execution"]`` holds the single env's episode summary keys as ``(M,)`` arrays
    with ``info["_execution"]`` marking the markets whose episode ended.
    """

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int, config: LOBExecutionConfig | Mapping[str, Any] | None = None,
                 autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP, n_levels: int = 1 << 11,
                 capacity: int | None = None, prefetch: bool | None = None, render_mode: str | None = None,
                 parallel: bool = False, agent_fill_capacity: int = 0, **overrides: Any) -> None:
        super().__init__()
        self.render_mode = check_render_mode(render_mode, allowed=())
        self.num_envs = m = check_int("num_envs", num_envs, minimum=1)
        self.config = cfg = LOBExecutionConfig.from_kwargs(config, **overrides)
        self.autoreset_mode = AutoresetMode(autoreset_mode)
        if self.autoreset_mode == AutoresetMode.DISABLED:
            raise ValueError("autoreset_mode must be 'NextStep' or 'SameStep', got 'Disabled'")
        self.metadata = {**self.metadata, "autoreset_mode": self.autoreset_mode}
        self.task = lob_task(cfg, simulated_expected_volume(cfg), cfg.market.initial_mid_ticks, cfg.market.tick_size)
        self.single_action_space = lob_action_space(cfg)
        self.single_observation_space = lob_observation_space()
        self.action_space = batch_space(self.single_action_space, m)
        self.observation_space = batch_space(self.single_observation_space, m)
        market = cfg.market
        self._fp, self._cum_w, self._sizes = F.flow_params(market.flow, market.impact, market.lot_size,
                                                           market.diffusion_step_s)
        self._rates, self._expected, self._next_ratio = volume_arrays(cfg, self.task.expected_volume_shares)
        n_levels = check_int("n_levels", n_levels, minimum=64)
        capacity = default_capacity(self._fp) if capacity is None else check_int("capacity", capacity, minimum=64)
        if capacity > F.MAX_LIVE_SLOTS:
            raise ValueError(f"capacity must be at most {F.MAX_LIVE_SLOTS} order records per market (the flow's live "
                             f"list names their slots), got {capacity}")
        self.capacity = capacity
        self._params = core.make_params(cfg, market.lot_size, side_sign(cfg.side))
        mp = np.zeros(1, dtype=MARKET_DTYPE)
        mp["start_s"], mp["warmup_s"], mp["mid0_ticks"] = market.start_of_day_s, market.warmup_s, \
            market.initial_mid_ticks
        mp["base0_ticks"] = max(1, int(market.initial_mid_ticks) - n_levels // 2)
        mp["diffusion_step_s"] = market.diffusion_step_s
        self._market_params = mp
        self._sc = np.zeros((m, K.N_SC), dtype=np.int64)
        self._lvl = np.zeros((m, 2, n_levels), dtype=K.LEVEL_DTYPE)
        self._orders = np.zeros((m, capacity), dtype=K.ORDER_DTYPE)
        # the id map holds the agent's orders only (the flow's ids are unmapped: sc[S_MAP_FROM]),
        # at most one resting at a time
        self._htab = np.full((m, AGENT_HTAB_BUCKETS), K.EMPTY_SLOT, dtype=K.HTAB_DTYPE)
        self._fills = np.zeros((m, capacity + 2, K.N_F), dtype=np.int64)
        self._log = np.zeros((m, 1, K.N_G), dtype=np.int64)
        self._evbuf = np.zeros((m, 1, K.N_E), dtype=np.int64)
        self._fs = np.zeros(m, dtype=F.FLOW_STATE_DTYPE)
        self._live = np.zeros((m, F.live_width(self._fp, 2 * capacity)), dtype=np.int64)
        self._rs = np.zeros((m, 4), dtype=np.uint64)
        self._rd = np.zeros((m, 4), dtype=np.uint64)
        self._next_rs = np.zeros((m, 4), dtype=np.uint64)
        self._next_rd = np.zeros((m, 4), dtype=np.uint64)
        self._es = np.zeros(m, dtype=core.EPISODE_DTYPE)
        self._vring = np.zeros((m, cfg.volatility_window))
        self._obs = np.zeros((m, core.N_OBS), dtype=np.float32)
        self._final_obs = np.zeros_like(self._obs)
        self._rewards = np.zeros(m)
        self._terminated = np.zeros(m, dtype=bool)
        self._needs_reset = np.zeros(m, dtype=bool)
        self._summaries = np.zeros((m, core.N_SUMMARY))
        self._status = np.zeros(m, dtype=np.int64)
        self._work = np.zeros((m, N_WORK), dtype=np.int64)
        self._agent_fills = np.zeros((m, check_int("agent_fill_capacity", agent_fill_capacity, minimum=0), 2),
                                     dtype=np.int64)
        self._n_agent_fills = np.zeros(m, dtype=np.int64)
        if prefetch is None:
            prefetch = self._htab.nbytes + self._orders.nbytes + self._live.nbytes > 4 * l2_cache_bytes()
        elif not isinstance(prefetch, (bool, np.bool_)):
            raise TypeError(f"prefetch must be a bool or None, got {prefetch!r}")
        self.prefetch = bool(prefetch)
        if not isinstance(parallel, (bool, np.bool_)):
            raise TypeError(f"parallel must be a bool, got {parallel!r}")
        self.parallel = bool(parallel)
        mp["prefetch"] = self.prefetch
        self._episode_rngs: list[np.random.Generator] = []
        self._actions = np.zeros((m, 2))  # the step's actions, where the kernel reads them
        # the kernel's arguments, listed once: the arrays never move (snapshots restore in place)
        self._kernel_args = (
            self._params, self._market_params, self._rates, self._expected, self._next_ratio, self._rs, self._rd,
            self._next_rs, self._next_rd, self._fp, self._cum_w, self._sizes, self._fs, self._live, self._sc,
            self._lvl, self._orders, self._htab, self._fills, self._log, self._evbuf, self._es, self._vring,
            self._actions, self._needs_reset, self._obs, self._final_obs, self._rewards, self._terminated,
            self._summaries, self._status, self._work, self._agent_fills, self._n_agent_fills,
            self.autoreset_mode == AutoresetMode.SAME_STEP)

    # -- seeding: market m follows the single env reset with seed + m ---------------------

    def _prepare_next(self, markets: np.ndarray) -> None:
        """Draw the next episode's kernel streams for ``markets``, as the single env's reset does."""
        for i in markets:
            market_rng = np.random.default_rng(self._episode_rngs[i].integers(0, 2**63 - 1))
            self._next_rs[i] = new_state(market_rng)
            self._next_rd[i] = new_state(market_rng)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an int or None, got {seed!r}")
        super().reset(seed=seed)
        if seed is None:
            seeds = [int(self.np_random.integers(0, 2**31 - 1)) for _ in range(self.num_envs)]
        else:
            seeds = [int(seed) + i for i in range(self.num_envs)]
        self._episode_rngs = [seeding.np_random(s)[0] for s in seeds]
        everyone = np.arange(self.num_envs)
        self._prepare_next(everyone)
        self._needs_reset[:] = True
        self._call(np.zeros((self.num_envs, 2)))
        self._prepare_next(everyone)
        return self._obs.copy(), {}

    def _validate(self, actions: Any) -> np.ndarray:
        """The actions as an ``(M, 2)`` float64 array (column 1 used by placement only)."""
        return check_actions(self.config, actions, self.num_envs)

    # -- one market's book, for the single env (prices in ticks, -1: none) -----------------

    def touch(self, m: int) -> tuple[int, int]:
        """(best bid, best ask) of market ``m``, ticks; -1 for an empty side."""
        sc = self._sc[m]
        bb, ba, base = int(sc[K.S_BEST_BID]), int(sc[K.S_BEST_ASK]), int(sc[K.S_BASE])
        return (base + bb if bb >= 0 else -1), (base + ba if ba < int(sc[K.S_N_LEVELS]) else -1)

    def resting_child(self, m: int) -> dict[str, int] | None:
        """Market ``m``'s resting child order (placement): its id, price (ticks), remaining and
        queue-ahead shares and its level's volume (shares); ``None`` if none rests."""
        child = int(self._es[m]["child_id"])
        slot = K.h_find(self._htab[m], self._orders[m], child) if child else -1
        if slot == -1:
            return None
        order = self._orders[m, slot]
        side = 0 if order["side"] > 0 else 1
        return {"order_id": child, "price_ticks": int(order["price_ticks"]), "remaining_shares": int(order["size_shares"]),
                "queue_ahead_shares": int(K.queue_ahead(self._sc[m], self._lvl[m], self._orders[m], self._htab[m],
                                                        child)),
                "level_shares": int(self._lvl[m, side, order["price_ticks"] - self._sc[m, K.S_BASE]]["volume_shares"])}

    def _call(self, actions: np.ndarray) -> None:
        self._actions[...] = actions
        i = (_vec_step_flat_parallel if self.parallel else _vec_step_flat)(*self._kernel_args)
        if i >= 0:
            code = int(self._status[i])
            what = "n_levels (the price left the grid)" if code == K.OUT_OF_RANGE else "capacity"
            raise RuntimeError(f"market {i} ran out of room (kernel status {code}); create the env with a larger {what}")

    def step(self, actions: Any):
        if not self._episode_rngs:
            raise RuntimeError("call reset() before step()")
        a = self._validate(actions)
        was_pending = self._needs_reset.copy()
        self._call(a)
        terminated = self._terminated.copy()
        infos: dict[str, Any] = {}
        restarted = terminated if self.autoreset_mode == AutoresetMode.SAME_STEP else was_pending
        if restarted.any():
            self._prepare_next(np.flatnonzero(restarted))
        if terminated.any():
            infos["execution"] = self._summary(terminated)
            infos["_execution"] = terminated.copy()
            if self.autoreset_mode == AutoresetMode.SAME_STEP:
                final = np.full(self.num_envs, None, dtype=object)
                for i in np.flatnonzero(terminated):
                    final[i] = self._final_obs[i].copy()
                infos["final_obs"], infos["_final_obs"] = final, terminated.copy()
        return self._obs.copy(), self._rewards.copy(), terminated, np.zeros(self.num_envs, dtype=bool), infos

    def _summary(self, mask: np.ndarray) -> dict[str, np.ndarray]:
        cfg = self.config
        out = execution_summary(*(self._summaries[:, j] for j in range(core.N_SUMMARY)), cfg.total_shares, side_sign(cfg.side),
                                cfg.market.tick_size)
        return {k: np.where(mask, v, 0.0) for k, v in out.items()} | {f"_{k}": mask.copy() for k in out}
