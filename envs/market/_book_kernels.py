"""Numba kernels of the limit order book: state in a few preallocated int64 arrays.

This module is the hot path; :mod:`envs.market.book` wraps it in a Python API.

State
-----
``sc``      (N_SC,)                scalars (best levels, grid base, counters, ...)
``lvl``     (2, n_levels, 4)       per side and price level: FIFO head and tail order
                                   slots, visible volume (shares), order count
``orders``  (capacity, 8)          one 64-byte record per order slot: id, side, price
                                   (ticks), remaining size (shares), owner, prev and next
                                   slot in the level's FIFO queue, time (ns)
``htab``    (2^k, 2)               open-addressing hash map order id -> slot (linear
                                   probing, backward-shift deletion, no tombstones)
``fills``   (fill_cap, 8)          fill records: time, price, size, aggressor side,
                                   aggressor id, resting id, aggressor owner, resting owner
``log``     (log_cap, 6)           LOBSTER-convention messages: time, type, id, size,
                                   price, direction

Side index 0 is the bid (buy orders, direction +1), 1 the ask (sell orders, -1).
Level ``i`` holds price ``base + i`` ticks. Free order slots form a list through the
``next`` field. Kernels return a status code; on any non-OK status the event that
caused it has not changed the book.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# --- layout constants ------------------------------------------------------------------
# scalars
S_BEST_BID = 0  # level index of best bid, -1 if no bids
S_BEST_ASK = 1  # level index of best ask, n_levels if no asks
S_BASE = 2  # price (ticks) of level 0
S_N_LEVELS = 3
S_FREE = 4  # head of the free slot list, -1 if full
S_N_ORDERS = 5  # resting orders, both sides
S_N_BID_ORDERS = 6
S_N_ASK_ORDERS = 7
S_N_FILLS = 8
S_N_LOG = 9
S_LOT = 10  # lot size (shares)
S_LOG_ON = 11  # 1: write the event log
S_ERR_INDEX = 12  # index of the event that failed
S_TRADED_VOLUME = 13  # shares traded since creation
S_N_EVENTS = 14  # events processed since creation
N_SC = 16

# order record fields
O_ID, O_SIDE, O_PRICE, O_SIZE, O_OWNER, O_PREV, O_NEXT, O_TIME = 0, 1, 2, 3, 4, 5, 6, 7
N_O = 8
# level fields
L_HEAD, L_TAIL, L_VOLUME, L_COUNT = 0, 1, 2, 3
# fill fields
F_TIME, F_PRICE, F_SIZE, F_AGG_SIDE, F_AGG_ID, F_REST_ID, F_AGG_OWNER, F_REST_OWNER = range(8)
N_F = 8
# LOBSTER log fields and message types
G_TIME, G_TYPE, G_ID, G_SIZE, G_PRICE, G_DIR = range(6)
N_G = 6
MSG_SUBMIT, MSG_CANCEL_PARTIAL, MSG_DELETE, MSG_EXECUTE, MSG_EXECUTE_HIDDEN = 1, 2, 3, 4, 5

# event record fields (input to ``process``) and event types
E_TYPE, E_ID, E_SIDE, E_PRICE, E_SIZE, E_OWNER, E_TIME = range(7)
N_E = 7
EV_LIMIT, EV_MARKET, EV_IOC, EV_CANCEL, EV_MODIFY, EV_EXECUTE = 0, 1, 2, 3, 4, 5
# EV_CANCEL: size = shares to cancel (>= remaining, or 0, deletes the order)
# EV_MODIFY: price = new price (ticks), size = new size (shares)
# EV_EXECUTE: a trade against the named resting order by an unseen aggressor (replay)

# status codes
OK = 0
NEED_ORDER_CAPACITY = 1
NEED_FILL_SPACE = 2
NEED_LOG_SPACE = 3
OUT_OF_RANGE = 4
ERR_SIZE = 10
ERR_PRICE = 11
ERR_UNKNOWN_ID = 12
ERR_DUPLICATE_ID = 13
ERR_TYPE = 14
ERR_SIDE = 15
ERR_LOT = 16
ERR_ID = 17

EMPTY_KEY = np.iinfo(np.int64).min
_HASH_MULT = np.uint64(0x9E3779B97F4A7C15)


# --- hash map id -> slot ---------------------------------------------------------------


@njit(cache=True, inline="always")
def _h_home(htab, key):
    # Fibonacci hashing, with the high half folded into the low bits that the mask keeps
    h = np.uint64(key) * _HASH_MULT
    h ^= h >> np.uint64(32)
    return np.int64(h & np.uint64(htab.shape[0] - 1))


@njit(cache=True)
def h_find(htab, key):
    """Slot of order ``key``, or -1."""
    mask = htab.shape[0] - 1
    i = _h_home(htab, key)
    while True:
        k = htab[i, 0]
        if k == key:
            return htab[i, 1]
        if k == EMPTY_KEY:
            return -1
        i = (i + 1) & mask


@njit(cache=True)
def h_insert(htab, key, slot):
    mask = htab.shape[0] - 1
    i = _h_home(htab, key)
    while htab[i, 0] != EMPTY_KEY:
        i = (i + 1) & mask
    htab[i, 0] = key
    htab[i, 1] = slot


@njit(cache=True)
def h_delete(htab, key):
    """Remove ``key`` (which must be present), shifting its probe chain back."""
    mask = htab.shape[0] - 1
    i = _h_home(htab, key)
    while htab[i, 0] != key:
        i = (i + 1) & mask
    j = i
    while True:
        j = (j + 1) & mask
        kj = htab[j, 0]
        if kj == EMPTY_KEY:
            break
        home = _h_home(htab, kj)
        # move entry j into the hole at i if its home is not cyclically in (i, j]
        if (j > i and (home <= i or home > j)) or (j < i and (home <= i and home > j)):
            htab[i, 0] = kj
            htab[i, 1] = htab[j, 1]
            i = j
    htab[i, 0] = EMPTY_KEY
    htab[i, 1] = -1


# --- queue primitives -------------------------------------------------------------------


@njit(cache=True, inline="always")
def _side_index(direction):
    return 0 if direction > 0 else 1


@njit(cache=True)
def _rescan_best(sc, lvl, s):
    """Recompute the best level of side ``s`` after its best level emptied."""
    n_levels = sc[S_N_LEVELS]
    if s == 0:
        if sc[S_N_BID_ORDERS] == 0:
            sc[S_BEST_BID] = -1
            return
        i = sc[S_BEST_BID]
        while i >= 0 and lvl[0, i, L_COUNT] == 0:
            i -= 1
        sc[S_BEST_BID] = i
    else:
        if sc[S_N_ASK_ORDERS] == 0:
            sc[S_BEST_ASK] = n_levels
            return
        i = sc[S_BEST_ASK]
        while i < n_levels and lvl[1, i, L_COUNT] == 0:
            i += 1
        sc[S_BEST_ASK] = i


@njit(cache=True)
def _unlink(sc, lvl, orders, htab, slot):
    """Remove resting order ``slot`` from its queue, the hash map and the book."""
    s = _side_index(orders[slot, O_SIDE])
    li = orders[slot, O_PRICE] - sc[S_BASE]
    prev = orders[slot, O_PREV]
    nxt = orders[slot, O_NEXT]
    if prev == -1:
        lvl[s, li, L_HEAD] = nxt
    else:
        orders[prev, O_NEXT] = nxt
    if nxt == -1:
        lvl[s, li, L_TAIL] = prev
    else:
        orders[nxt, O_PREV] = prev
    lvl[s, li, L_VOLUME] -= orders[slot, O_SIZE]
    lvl[s, li, L_COUNT] -= 1
    h_delete(htab, orders[slot, O_ID])
    orders[slot, O_ID] = EMPTY_KEY
    orders[slot, O_NEXT] = sc[S_FREE]
    sc[S_FREE] = slot
    sc[S_N_ORDERS] -= 1
    if s == 0:
        sc[S_N_BID_ORDERS] -= 1
    else:
        sc[S_N_ASK_ORDERS] -= 1
    if lvl[s, li, L_COUNT] == 0:
        if (s == 0 and li == sc[S_BEST_BID]) or (s == 1 and li == sc[S_BEST_ASK]):
            _rescan_best(sc, lvl, s)


@njit(cache=True)
def _rest(sc, lvl, orders, htab, oid, direction, price, size, owner, time):
    """Append a new order at the back of its level's queue (caller checked capacity/range)."""
    slot = sc[S_FREE]
    sc[S_FREE] = orders[slot, O_NEXT]
    s = _side_index(direction)
    li = price - sc[S_BASE]
    orders[slot, O_ID] = oid
    orders[slot, O_SIDE] = direction
    orders[slot, O_PRICE] = price
    orders[slot, O_SIZE] = size
    orders[slot, O_OWNER] = owner
    orders[slot, O_TIME] = time
    orders[slot, O_NEXT] = -1
    tail = lvl[s, li, L_TAIL]
    orders[slot, O_PREV] = tail
    if tail == -1:
        lvl[s, li, L_HEAD] = slot
    else:
        orders[tail, O_NEXT] = slot
    lvl[s, li, L_TAIL] = slot
    lvl[s, li, L_VOLUME] += size
    lvl[s, li, L_COUNT] += 1
    h_insert(htab, oid, slot)
    sc[S_N_ORDERS] += 1
    if s == 0:
        sc[S_N_BID_ORDERS] += 1
        if li > sc[S_BEST_BID]:
            sc[S_BEST_BID] = li
    else:
        sc[S_N_ASK_ORDERS] += 1
        if li < sc[S_BEST_ASK]:
            sc[S_BEST_ASK] = li


@njit(cache=True, inline="always")
def _log(sc, log, time, mtype, oid, size, price, direction):
    if sc[S_LOG_ON] == 1:
        n = sc[S_N_LOG]
        log[n, G_TIME] = time
        log[n, G_TYPE] = mtype
        log[n, G_ID] = oid
        log[n, G_SIZE] = size
        log[n, G_PRICE] = price
        log[n, G_DIR] = direction
        sc[S_N_LOG] = n + 1


@njit(cache=True)
def _match(sc, lvl, orders, htab, fills, log, direction, limit_price, size, oid, owner, time):
    """Match an aggressive order against the opposite side, FIFO within each level.

    ``limit_price`` bounds the levels it may take (ticks). Returns the unfilled shares.
    """
    rem = size
    base = sc[S_BASE]
    if direction > 0:
        o = 1
        n_levels = sc[S_N_LEVELS]
        while rem > 0:
            li = sc[S_BEST_ASK]
            if li >= n_levels or base + li > limit_price:
                break
            rem = _take_level(sc, lvl, orders, htab, fills, log, o, li, rem, direction, oid, owner, time)
    else:
        o = 0
        while rem > 0:
            li = sc[S_BEST_BID]
            if li < 0 or base + li < limit_price:
                break
            rem = _take_level(sc, lvl, orders, htab, fills, log, o, li, rem, direction, oid, owner, time)
    return rem


@njit(cache=True)
def _take_level(sc, lvl, orders, htab, fills, log, o, li, rem, direction, oid, owner, time):
    price = sc[S_BASE] + li
    while rem > 0:
        head = lvl[o, li, L_HEAD]
        if head == -1:
            break
        q = orders[head, O_SIZE]
        f = q if q < rem else rem
        n = sc[S_N_FILLS]
        fills[n, F_TIME] = time
        fills[n, F_PRICE] = price
        fills[n, F_SIZE] = f
        fills[n, F_AGG_SIDE] = direction
        fills[n, F_AGG_ID] = oid
        fills[n, F_REST_ID] = orders[head, O_ID]
        fills[n, F_AGG_OWNER] = owner
        fills[n, F_REST_OWNER] = orders[head, O_OWNER]
        sc[S_N_FILLS] = n + 1
        sc[S_TRADED_VOLUME] += f
        _log(sc, log, time, MSG_EXECUTE, orders[head, O_ID], f, price, orders[head, O_SIDE])
        rem -= f
        if f == q:
            _unlink(sc, lvl, orders, htab, head)  # rescans best if the level empties
        else:
            orders[head, O_SIZE] = q - f
            lvl[o, li, L_VOLUME] -= f
    return rem


# --- events -----------------------------------------------------------------------------


@njit(cache=True)
def _room(sc, orders, fills, log, extra_orders):
    """Status if the buffers cannot take a worst-case event, else OK."""
    worst_fills = sc[S_N_ORDERS] + 1
    if fills.shape[0] - sc[S_N_FILLS] < worst_fills:
        return NEED_FILL_SPACE
    if sc[S_LOG_ON] == 1 and log.shape[0] - sc[S_N_LOG] < worst_fills + 2:
        return NEED_LOG_SPACE
    if extra_orders > 0 and sc[S_FREE] == -1:
        return NEED_ORDER_CAPACITY
    return OK


@njit(cache=True)
def apply_event(sc, lvl, orders, htab, fills, log, ev):
    """Apply one event record ``ev`` (fields ``E_*``); return a status code."""
    etype = ev[E_TYPE]
    oid = ev[E_ID]
    direction = ev[E_SIDE]
    price = ev[E_PRICE]
    size = ev[E_SIZE]
    owner = ev[E_OWNER]
    time = ev[E_TIME]
    lot = sc[S_LOT]
    base = sc[S_BASE]
    n_levels = sc[S_N_LEVELS]

    if etype == EV_LIMIT or etype == EV_MARKET or etype == EV_IOC:
        if direction != 1 and direction != -1:
            return ERR_SIDE
        if size <= 0:
            return ERR_SIZE
        if size % lot != 0:
            return ERR_LOT
        if oid == EMPTY_KEY:
            return ERR_ID
        if etype != EV_MARKET:
            if price <= 0:
                return ERR_PRICE
            if etype == EV_LIMIT and (price < base or price >= base + n_levels):
                return OUT_OF_RANGE
        if h_find(htab, oid) != -1:
            return ERR_DUPLICATE_ID
        st = _room(sc, orders, fills, log, 1 if etype == EV_LIMIT else 0)
        if st != OK:
            return st
        if etype == EV_MARKET:
            limit = np.iinfo(np.int64).max if direction > 0 else np.iinfo(np.int64).min
        else:
            limit = price
        rem = _match(sc, lvl, orders, htab, fills, log, direction, limit, size, oid, owner, time)
        if etype == EV_LIMIT and rem > 0:
            _rest(sc, lvl, orders, htab, oid, direction, price, rem, owner, time)
            _log(sc, log, time, MSG_SUBMIT, oid, rem, price, direction)
        return OK

    if etype == EV_CANCEL or etype == EV_EXECUTE:
        slot = h_find(htab, oid)
        if slot == -1:
            return ERR_UNKNOWN_ID
        if size < 0 or (etype == EV_EXECUTE and size == 0):
            return ERR_SIZE
        q = orders[slot, O_SIZE]
        if etype == EV_EXECUTE and size > q:
            return ERR_SIZE
        if sc[S_LOG_ON] == 1 and log.shape[0] - sc[S_N_LOG] < 1:
            return NEED_LOG_SPACE
        rp = orders[slot, O_PRICE]
        rdir = orders[slot, O_SIDE]
        if etype == EV_EXECUTE:
            if fills.shape[0] - sc[S_N_FILLS] < 1:
                return NEED_FILL_SPACE
            n = sc[S_N_FILLS]
            fills[n, F_TIME] = time
            fills[n, F_PRICE] = rp
            fills[n, F_SIZE] = size
            fills[n, F_AGG_SIDE] = -rdir
            fills[n, F_AGG_ID] = -1
            fills[n, F_REST_ID] = oid
            fills[n, F_AGG_OWNER] = owner
            fills[n, F_REST_OWNER] = orders[slot, O_OWNER]
            sc[S_N_FILLS] = n + 1
            sc[S_TRADED_VOLUME] += size
            _log(sc, log, time, MSG_EXECUTE, oid, size, rp, rdir)
            cut = size
        else:
            cut = q if (size == 0 or size >= q) else size
            _log(sc, log, time, MSG_DELETE if cut == q else MSG_CANCEL_PARTIAL, oid, cut, rp, rdir)
        if cut == q:
            _unlink(sc, lvl, orders, htab, slot)
        else:
            orders[slot, O_SIZE] = q - cut
            lvl[_side_index(rdir), rp - base, L_VOLUME] -= cut
        return OK

    if etype == EV_MODIFY:
        slot = h_find(htab, oid)
        if slot == -1:
            return ERR_UNKNOWN_ID
        if size <= 0:
            return ERR_SIZE
        if size % lot != 0:
            return ERR_LOT
        if price <= 0:
            return ERR_PRICE
        if price < base or price >= base + n_levels:
            return OUT_OF_RANGE
        st = _room(sc, orders, fills, log, 0)
        if st != OK:
            return st
        q = orders[slot, O_SIZE]
        rp = orders[slot, O_PRICE]
        rdir = orders[slot, O_SIDE]
        if price == rp and size <= q:
            # size down (or unchanged) keeps time priority
            if size < q:
                orders[slot, O_SIZE] = size
                lvl[_side_index(rdir), rp - base, L_VOLUME] -= q - size
                _log(sc, log, time, MSG_CANCEL_PARTIAL, oid, q - size, rp, rdir)
            return OK
        # price change or size up: cancel and re-enter at the back (may match)
        rowner = orders[slot, O_OWNER]
        _log(sc, log, time, MSG_DELETE, oid, q, rp, rdir)
        _unlink(sc, lvl, orders, htab, slot)
        rem = _match(sc, lvl, orders, htab, fills, log, rdir, price, size, oid, rowner, time)
        if rem > 0:
            _rest(sc, lvl, orders, htab, oid, rdir, price, rem, rowner, time)
            _log(sc, log, time, MSG_SUBMIT, oid, rem, price, rdir)
        return OK

    return ERR_TYPE


@njit(cache=True)
def process(sc, lvl, orders, htab, fills, log, events, start):
    """Apply ``events[start:]`` in order; stop at the first non-OK status.

    Returns ``(next_index, status)``: events before ``next_index`` are applied; the one
    at ``next_index`` (if any) was refused with ``status`` and changed nothing.
    """
    n = events.shape[0]
    i = start
    while i < n:
        st = apply_event(sc, lvl, orders, htab, fills, log, events[i])
        if st != OK:
            sc[S_ERR_INDEX] = i
            return i, st
        sc[S_N_EVENTS] += 1
        i += 1
    return i, OK


# --- queries ----------------------------------------------------------------------------


@njit(cache=True)
def depth(sc, lvl, n, out):
    """Top ``n`` occupied levels per side into ``out`` (4, n): bid px, bid sz, ask px, ask sz.

    Missing levels have price 0 and size 0. Returns the numbers of bid and ask levels.
    """
    base = sc[S_BASE]
    k = 0
    i = sc[S_BEST_BID]
    while k < n and i >= 0:
        if lvl[0, i, L_COUNT] > 0:
            out[0, k] = base + i
            out[1, k] = lvl[0, i, L_VOLUME]
            k += 1
        i -= 1
    nb = k
    while k < n:
        out[0, k] = 0
        out[1, k] = 0
        k += 1
    k = 0
    i = sc[S_BEST_ASK]
    n_levels = sc[S_N_LEVELS]
    while k < n and i < n_levels:
        if lvl[1, i, L_COUNT] > 0:
            out[2, k] = base + i
            out[3, k] = lvl[1, i, L_VOLUME]
            k += 1
        i += 1
    na = k
    while k < n:
        out[2, k] = 0
        out[3, k] = 0
        k += 1
    return nb, na


@njit(cache=True)
def queue_ahead(sc, lvl, orders, htab, oid):
    """Shares ahead of order ``oid`` in its level's queue, or -1 if unknown."""
    slot = h_find(htab, oid)
    if slot == -1:
        return -1
    ahead = 0
    p = orders[slot, O_PREV]
    while p != -1:
        ahead += orders[p, O_SIZE]
        p = orders[p, O_PREV]
    return ahead


@njit(cache=True)
def level_orders(sc, lvl, orders, s, li, out):
    """The queue at side ``s``, level ``li`` in FIFO order into ``out`` (k, 4): id, size, owner, time."""
    k = 0
    slot = lvl[s, li, L_HEAD]
    while slot != -1 and k < out.shape[0]:
        out[k, 0] = orders[slot, O_ID]
        out[k, 1] = orders[slot, O_SIZE]
        out[k, 2] = orders[slot, O_OWNER]
        out[k, 3] = orders[slot, O_TIME]
        k += 1
        slot = orders[slot, O_NEXT]
    return k


@njit(cache=True)
def rebuild_hash(orders, htab):
    """Insert every live order of ``orders`` into an empty ``htab``."""
    for slot in range(orders.shape[0]):
        if orders[slot, O_ID] != EMPTY_KEY:
            h_insert(htab, orders[slot, O_ID], slot)
