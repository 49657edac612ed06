"""Numba kernels of the limit order book: state in a few preallocated arrays (int64 and named records).

This module is the hot path; :mod:`execgym.envs.market.simulation.book` wraps it in a Python API.

State
-----
``sc``      (N_SC,)                scalars (best levels, grid base, counters, ...)
``lvl``     (2, n_levels)          LEVEL_DTYPE records per side and price level: FIFO head
                                   and tail order slots, visible volume (shares), order count
``orders``  (capacity,)            one 64-byte ORDER_DTYPE record per slot: id, side, price
                                   (ticks), remaining size (shares), owner, prev and next
                                   slot in the level's FIFO queue, time (ns)
``htab``    (2^k,) int64           open-addressing hash map order id -> slot: each
                                   bucket holds the key's home bucket and the slot, whose
                                   record holds the key (linear
                                   probing, backward-shift deletion, no tombstones)
``fills``   (fill_cap, 8)          fill records: time, price, size, aggressor side,
                                   aggressor id, resting id, aggressor owner, resting owner
``log``     (log_cap, 6)           LOBSTER-convention messages: time, type, id, size,
                                   price, direction

Unmapped orders
---------------
A caller that keeps its own orders' slots (the background flow: its live list names each
order's slot) may keep them out of the id map: ids from 1 to ``sc[S_MAP_FROM] - 1`` are
*unmapped*. Such an order is never inserted in ``htab`` nor deleted from it, which saves a
random bucket's cache miss per submission block and per cancellation; an event about one
names its slot in the ``owner`` field (EV_CANCEL, EV_MODIFY: the record must hold the id,
else the id is unknown); EV_EXECUTE of an unmapped id is refused as unknown, and the id
queries (:func:`h_find`, :func:`queue_ahead`) do not see unmapped orders. A new order's
unmapped id is not checked for duplicates: its caller numbers its orders. ``sc[S_MAP_FROM]``
0 (the default) maps every id.

Side index 0 is the bid (buy orders, direction +1), 1 the ask (sell orders, -1).
Level ``i`` holds price ``base + i`` ticks. Free order slots form a list through the
``next`` field. Kernels return a status code; on any non-OK status the event that
caused it has not changed the book.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from execgym.envs.market.simulation._jit import HOT, HOT_FORCE, HOT_INLINE
from execgym.envs.market.simulation.events import EventType

# --- layout constants ------------------------------------------------------------------
# scalars
S_BEST_BID = 0  # level index of best bid, -1 if no bids
S_BEST_ASK = 1  # level index of best ask, n_levels if no asks
S_BASE = 2  # price (ticks) of level 0
S_N_LEVELS = 3
S_FREE = 4  # head of the free slot list, -1 if full
S_N_ORDERS = 5  # resting orders, both sides
S_N_BID_ORDERS = 6
S_N_ASK_ORDERS = 7  # must stay S_N_BID_ORDERS + 1: indexed by side
S_N_FILLS = 8
S_N_LOG = 9
S_LOT = 10  # lot size (shares)
S_LOG_ON = 11  # 1: write the event log
S_ERR_INDEX = 12  # index of the event that failed
S_TRADED_VOLUME = 13  # shares traded since creation
S_N_EVENTS = 14  # events processed since creation
S_SKIP_UNKNOWN = 15  # 1 (replay mode): events about unknown ids are skipped, executions
#                      larger than the resting order clipped; both counted in S_N_SKIPPED
S_N_SKIPPED = 16  # events skipped that way
S_MAP_FROM = 17  # ids 1 .. S_MAP_FROM - 1 are unmapped (0: none are; see "Unmapped orders")
S_LAST_SLOT = 18  # the slot of the order that rested last
N_SC = 20

#: an order slot: one 64-byte record (id EMPTY_KEY: free, ``next`` chaining the free list)
ORDER_DTYPE = np.dtype([
    ("id", np.int64),
    ("side", np.int64),           # direction: +1 bid (buy), -1 ask (sell)
    ("price_ticks", np.int64),
    ("size_shares", np.int64),    # remaining
    ("owner", np.int64),
    ("prev", np.int64),           # slots of the neighbours in the level's FIFO queue (-1: none)
    ("next", np.int64),
    ("time_ns", np.int64),        # arrival
])
#: a price level of one side: its FIFO queue's head and tail slots (-1: empty), the visible
#: volume and the number of orders
LEVEL_DTYPE = np.dtype([("head", np.int64), ("tail", np.int64), ("volume_shares", np.int64), ("count", np.int64)])
# fill fields
#: a fill's fields in the order of its int64 row: the one fill representation, read by the
#: kernels as rows indexed by F_* and elsewhere as records (``book.FILL_DTYPE``, a view)
FILL_FIELDS = ("time_ns", "price_ticks", "size_shares", "aggressor_side", "aggressor_id", "resting_id",
               "aggressor_owner", "resting_owner")
F_TIME, F_PRICE, F_SIZE, F_AGG_SIDE, F_AGG_ID, F_REST_ID, F_AGG_OWNER, F_REST_OWNER = range(len(FILL_FIELDS))
N_F = len(FILL_FIELDS)
# LOBSTER log fields and message types
G_TIME, G_TYPE, G_ID, G_SIZE, G_PRICE, G_DIR = range(6)
N_G = 6
# (plain ints for the compiled code; the same codes as execgym.envs.market.simulation.events.EventType)
MSG_SUBMIT, MSG_CANCEL_PARTIAL, MSG_DELETE, MSG_EXECUTE, MSG_EXECUTE_HIDDEN = (
    int(EventType.SUBMISSION), int(EventType.CANCELLATION), int(EventType.DELETION), int(EventType.EXECUTION_VISIBLE),
    int(EventType.EXECUTION_HIDDEN))

# event record fields (input to ``process``) and event types
EVENT_FIELDS = ("type", "order_id", "side", "price_ticks", "size_shares", "owner", "time_ns")
E_TYPE, E_ID, E_SIDE, E_PRICE, E_SIZE, E_OWNER, E_TIME = range(len(EVENT_FIELDS))
N_E = len(EVENT_FIELDS)
EV_LIMIT, EV_MARKET, EV_IOC, EV_CANCEL, EV_MODIFY, EV_EXECUTE = 0, 1, 2, 3, 4, 5
EV_HIDDEN = 6
# EV_CANCEL: size = shares to cancel (>= remaining, or 0, deletes the order); an unmapped
#   id's slot in ``owner``
# EV_MODIFY: price = new price (ticks), size = new size (shares); an unmapped id's slot in
#   ``owner``
# EV_EXECUTE: a trade against the named resting order by an unseen aggressor (replay)
# EV_HIDDEN: a trade against hidden liquidity (no visible order; id 0): side = the hidden
#   order's (LOBSTER's type-5 direction), price (ticks) > 0, size (shares); one fill (the
#   aggressor on the other side, ids 0, resting owner 0) and one type-5 message; the book
#   is unchanged

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
#: the int64 bounds as module constants (numba freezes them into the code; ``np.iinfo``
#: inside a kernel is a call per use unless the optimiser folds it, which it does not in
#: a debug build, where it took 6% of a profile of the background flow)
INT64_MAX = int(np.iinfo(np.int64).max)
INT64_MIN = int(np.iinfo(np.int64).min)

_MIX1 = np.uint64(0xBF58476D1CE4E5B9)  # splitmix64's finaliser (Steele, Lea, Flood 2014)
_MIX2 = np.uint64(0x94D049BB133111EB)
_BLOCK_BITS = np.uint64(3)  # ids 8 k .. 8 k + 7 share a home block of 8 buckets (one cache line)
_IN_BLOCK = np.uint64(7)
#: a hash bucket holds its key's home bucket (high 32 bits) and the order's slot (low 32
#: bits); the key itself is the order record's id. 8 bytes, so a vector-env market's table
#: is half the size of (id, slot) pairs, and probing compares homes without reading records
HTAB_DTYPE = np.int64
EMPTY_SLOT = -1
_SLOT_MASK = (1 << 32) - 1


# --- hash map id -> slot ---------------------------------------------------------------


@njit(cache=True, inline="always")
def _h_home(htab, key):
    # The block (key // 8) is mixed by splitmix64's finaliser, every input bit reaching the
    # bits the mask keeps; the key's low 3 bits pick the bucket within the block. So
    # consecutive ids (how the flow and exchanges number orders) share one 64-byte cache
    # line of 8 buckets and inserting a new order rarely misses the cache, while ids
    # sharing their low bits still spread over all blocks (linear probing fills each
    # block's unused buckets).
    k = np.uint64(key)
    z = k >> _BLOCK_BITS
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z ^= z >> np.uint64(31)
    return np.int64(((z << _BLOCK_BITS) | (k & _IN_BLOCK)) & np.uint64(htab.shape[0] - 1))


@njit(cache=True, inline="always")
def _h_probe(htab, orders, key, home):
    """The bucket of ``key`` (whose home bucket is ``home``) if present, else the first
    empty bucket of its probe sequence: where :func:`h_insert` would put it, as long as
    nothing is deleted meanwhile."""
    mask = htab.shape[0] - 1
    i = home
    while True:
        entry = htab[i]
        if entry == EMPTY_SLOT:
            return i
        if entry >> 32 == home and orders[entry & _SLOT_MASK].id == key:  # the record tells whether it is ours
            return i
        i = (i + 1) & mask


@njit(cache=True)
def h_homes(htab, keys):
    """The home bucket of each of ``keys`` (for checks: :meth:`OrderBook.check_invariants`)."""
    out = np.empty(keys.shape[0], dtype=np.int64)
    for i in range(keys.shape[0]):
        out[i] = _h_home(htab, keys[i])
    return out


@njit(cache=True, inline="always")
def _unmapped(sc, key):
    """Whether id ``key`` is kept out of the id map (module docstring: unmapped orders)."""
    return 0 < key < sc[S_MAP_FROM]


@njit(cache=True, inline="always")
def _named_slot(orders, key, slot):
    """``slot`` if its record holds order ``key``, else -1 (an unmapped order's lookup)."""
    if slot < 0 or slot >= orders.shape[0] or orders[slot].id != key:
        return -1
    return slot


@njit(cache=True, inline="always")
def _h_slot(htab, bucket):
    """The slot bucket ``bucket`` maps to, or -1 if it is empty."""
    entry = htab[bucket]
    return -1 if entry == EMPTY_SLOT else entry & _SLOT_MASK


@njit(**HOT)
def h_find(htab, orders, key):
    """Slot of order ``key``, or -1."""
    return _h_slot(htab, _h_probe(htab, orders, key, _h_home(htab, key)))


@njit(**HOT)
def h_insert(htab, orders, key, slot):
    """Map ``key`` to ``slot``."""
    mask = htab.shape[0] - 1
    home = _h_home(htab, key)
    i = home
    while htab[i] != EMPTY_SLOT:
        i = (i + 1) & mask
    htab[i] = (home << 32) | slot


@njit(**HOT)
def h_delete(htab, orders, key):
    """Remove ``key`` (which must be present, its order record still holding it), shifting
    its probe chain back."""
    _h_delete_at(htab, _h_probe(htab, orders, key, _h_home(htab, key)))


@njit(cache=True, inline="always")
def _h_delete_at(htab, i):
    """Empty bucket ``i`` (in use), shifting its probe chain back (no tombstones)."""
    mask = htab.shape[0] - 1
    j = i
    while True:
        j = (j + 1) & mask
        entry = htab[j]
        if entry == EMPTY_SLOT:
            break
        hj = entry >> 32
        # move entry j into the hole at i if its home is not cyclically in (i, j]
        if (j > i and (hj <= i or hj > j)) or (j < i and (hj <= i and hj > j)):
            htab[i] = entry
            i = j
    htab[i] = EMPTY_SLOT


def new_htab(size: int) -> np.ndarray:
    """An empty hash table of ``size`` (a power of two) buckets."""
    return np.full(size, EMPTY_SLOT, dtype=HTAB_DTYPE)


# --- small helpers (one array argument each, so LLVM inlines them without refcounting) ---


@njit(cache=True, inline="always")
def _side_index(direction):
    return 0 if direction > 0 else 1


@njit(**HOT)
def _write_log(log, n, time, mtype, oid, size, price, direction):
    log[n, G_TIME] = time
    log[n, G_TYPE] = mtype
    log[n, G_ID] = oid
    log[n, G_SIZE] = size
    log[n, G_PRICE] = price
    log[n, G_DIR] = direction


@njit(**HOT)
def _write_fill(fills, n, time, price, size, agg_side, agg_id, rest_id, agg_owner, rest_owner):
    fills[n, F_TIME] = time
    fills[n, F_PRICE] = price
    fills[n, F_SIZE] = size
    fills[n, F_AGG_SIDE] = agg_side
    fills[n, F_AGG_ID] = agg_id
    fills[n, F_REST_ID] = rest_id
    fills[n, F_AGG_OWNER] = agg_owner
    fills[n, F_REST_OWNER] = rest_owner


@njit(**HOT)
def _rescan_best(sc, lvl, s):
    """Recompute the best level of side ``s`` after its best level emptied."""
    n_levels = sc[S_N_LEVELS]
    if s == 0:
        if sc[S_N_BID_ORDERS] == 0:
            sc[S_BEST_BID] = -1
            return
        i = sc[S_BEST_BID]
        while i >= 0 and lvl[0, i].count == 0:
            i -= 1
        sc[S_BEST_BID] = i
    else:
        if sc[S_N_ASK_ORDERS] == 0:
            sc[S_BEST_ASK] = n_levels
            return
        i = sc[S_BEST_ASK]
        while i < n_levels and lvl[1, i].count == 0:
            i += 1
        sc[S_BEST_ASK] = i


# --- the event path ----------------------------------------------------------------------
#
# One function body on purpose: numba reference-counts array arguments at every call of a
# function it does not inline, and those atomic operations cost more than the book
# operations themselves. Each event goes through up to three stages, written once:
# (1) validate and apply in-place changes, (2) unlink a resting order, (3) match an
# aggressive order and rest its remainder.


@njit(**HOT_INLINE)
def _bad_size_or_price(size, lot, price):
    """``ERR_SIZE`` for a size (shares) under 1, ``ERR_LOT`` off the lot, ``ERR_PRICE`` for a
    price (ticks) under 1, else ``OK``."""
    if size <= 0:
        return ERR_SIZE
    if size % lot != 0:
        return ERR_LOT
    if price <= 0:
        return ERR_PRICE
    return OK


@njit(**HOT)
def process(sc, lvl, orders, htab, fills, log, events, start):
    """Apply ``events[start:]`` in order; stop at the first non-OK status.

    Returns ``(next_index, status)``: events before ``next_index`` are applied; the one
    at ``next_index`` (if any) was refused with ``status`` and changed nothing.
    """
    n = events.shape[0]
    base = sc[S_BASE]
    n_levels = sc[S_N_LEVELS]
    lot = sc[S_LOT]
    log_on = sc[S_LOG_ON] == 1
    fill_cap = fills.shape[0]
    log_cap = log.shape[0]
    i = start
    status = OK
    while i < n:
        etype = events[i, E_TYPE]
        oid = events[i, E_ID]
        direction = events[i, E_SIDE]
        price = events[i, E_PRICE]
        size = events[i, E_SIZE]
        owner = events[i, E_OWNER]
        time = events[i, E_TIME]
        nf = sc[S_N_FILLS]
        ng = sc[S_N_LOG]

        unlink = -1  # slot to remove from the book
        unlink_bucket = -1  # its hash bucket (found in stage 1)
        ins_bucket = -1  # where a new order's id goes in the hash map (stage 1's probe), until a deletion
        ins_home = 0
        match = False  # run an aggressive order
        rest = False  # rest its remainder
        m_dir = direction
        m_limit = price
        m_owner = owner
        worst = sc[S_N_ORDERS] + 1  # fills an aggressive order can make at most

        # ---- stage 1: validate; in-place changes --------------------------------------
        mapped = not _unmapped(sc, oid)
        if etype == EV_LIMIT or etype == EV_MARKET or etype == EV_IOC:
            if mapped:
                ins_home = _h_home(htab, oid)
                ins_bucket = _h_probe(htab, orders, oid, ins_home)  # one probe: the duplicate check and the insert
            if direction != 1 and direction != -1:
                status = ERR_SIDE
            elif size <= 0:
                status = ERR_SIZE
            elif size % lot != 0:
                status = ERR_LOT
            elif oid == EMPTY_KEY:
                status = ERR_ID
            elif etype != EV_MARKET and price <= 0:
                status = ERR_PRICE
            elif etype == EV_LIMIT and (price < base or price >= base + n_levels):
                status = OUT_OF_RANGE
            elif mapped and htab[ins_bucket] != EMPTY_SLOT:
                status = ERR_DUPLICATE_ID
            elif fill_cap - nf < worst:
                status = NEED_FILL_SPACE
            elif log_on and log_cap - ng < worst + 2:
                status = NEED_LOG_SPACE
            elif etype == EV_LIMIT and sc[S_FREE] == -1:
                status = NEED_ORDER_CAPACITY
            else:
                match = True
                rest = etype == EV_LIMIT
                if etype == EV_MARKET:
                    m_limit = INT64_MAX if direction > 0 else INT64_MIN
        elif etype == EV_CANCEL or etype == EV_EXECUTE:
            if mapped:
                unlink_bucket = _h_probe(htab, orders, oid, _h_home(htab, oid))
                slot = _h_slot(htab, unlink_bucket)
            else:
                slot = _named_slot(orders, oid, owner) if etype == EV_CANCEL else -1
            if slot == -1:
                if sc[S_SKIP_UNKNOWN] == 1:
                    sc[S_N_SKIPPED] += 1
                else:
                    status = ERR_UNKNOWN_ID
            else:
                q = orders[slot].size_shares
                rp = orders[slot].price_ticks
                rdir = orders[slot].side
                if etype == EV_EXECUTE and size > q and sc[S_SKIP_UNKNOWN] == 1:
                    # recorded data executing more than the replay holds: clip and count
                    sc[S_N_SKIPPED] += 1
                    size = q
                if size < 0 or (etype == EV_EXECUTE and (size == 0 or size > q)):
                    status = ERR_SIZE
                elif log_on and log_cap - ng < 1:
                    status = NEED_LOG_SPACE
                elif etype == EV_EXECUTE and fill_cap - nf < 1:
                    status = NEED_FILL_SPACE
                else:
                    if etype == EV_EXECUTE:
                        _write_fill(fills, nf, time, rp, size, -rdir, -1, oid, owner, orders[slot].owner)
                        nf += 1
                        sc[S_TRADED_VOLUME] += size
                        cut = size
                        mtype = MSG_EXECUTE
                    else:
                        cut = q if (size == 0 or size >= q) else size
                        mtype = MSG_DELETE if cut == q else MSG_CANCEL_PARTIAL
                    if log_on:
                        _write_log(log, ng, time, mtype, oid, cut, rp, rdir)
                        ng += 1
                    if cut == q:
                        unlink = slot
                    else:
                        orders[slot].size_shares = q - cut
                        lvl[_side_index(rdir), rp - base].volume_shares -= cut
        elif etype == EV_HIDDEN:
            if direction != 1 and direction != -1:
                status = ERR_SIDE
            elif _bad_size_or_price(size, lot, price) != OK:
                status = _bad_size_or_price(size, lot, price)
            elif fill_cap - nf < 1:
                status = NEED_FILL_SPACE
            elif log_on and log_cap - ng < 1:
                status = NEED_LOG_SPACE
            else:
                _write_fill(fills, nf, time, price, size, -direction, 0, 0, owner, 0)
                nf += 1
                sc[S_TRADED_VOLUME] += size
                if log_on:
                    _write_log(log, ng, time, MSG_EXECUTE_HIDDEN, 0, size, price, direction)
                    ng += 1
        elif etype == EV_MODIFY:
            if mapped:
                unlink_bucket = _h_probe(htab, orders, oid, _h_home(htab, oid))
                slot = _h_slot(htab, unlink_bucket)
            else:
                slot = _named_slot(orders, oid, owner)
            if slot == -1:
                if sc[S_SKIP_UNKNOWN] == 1:
                    sc[S_N_SKIPPED] += 1
                else:
                    status = ERR_UNKNOWN_ID
            elif _bad_size_or_price(size, lot, price) != OK:
                status = _bad_size_or_price(size, lot, price)
            elif price < base or price >= base + n_levels:
                status = OUT_OF_RANGE
            elif fill_cap - nf < worst:
                status = NEED_FILL_SPACE
            elif log_on and log_cap - ng < worst + 2:
                status = NEED_LOG_SPACE
            else:
                q = orders[slot].size_shares
                rp = orders[slot].price_ticks
                rdir = orders[slot].side
                if price == rp and size <= q:
                    # a size cut at the same price keeps time priority
                    if size < q:
                        orders[slot].size_shares = size
                        lvl[_side_index(rdir), rp - base].volume_shares -= q - size
                        if log_on:
                            _write_log(log, ng, time, MSG_CANCEL_PARTIAL, oid, q - size, rp, rdir)
                            ng += 1
                else:
                    # price change or size up: cancel and re-enter at the back (may match)
                    if log_on:
                        _write_log(log, ng, time, MSG_DELETE, oid, q, rp, rdir)
                        ng += 1
                    unlink = slot
                    match = True
                    rest = True
                    m_dir = rdir
                    m_limit = price
                    m_owner = orders[slot].owner
        else:
            status = ERR_TYPE

        if status != OK:
            break

        # ---- stage 2: unlink a resting order ------------------------------------------
        if unlink != -1:
            slot = unlink
            s = _side_index(orders[slot].side)
            li = orders[slot].price_ticks - base
            prev = orders[slot].prev
            nxt = orders[slot].next
            if prev == -1:
                lvl[s, li].head = nxt
            else:
                orders[prev].next = nxt
            if nxt == -1:
                lvl[s, li].tail = prev
            else:
                orders[nxt].prev = prev
            lvl[s, li].volume_shares -= orders[slot].size_shares
            lvl[s, li].count -= 1
            if mapped:
                _h_delete_at(htab, unlink_bucket)  # stage 1 found it; nothing changed the map since
            orders[slot].id = EMPTY_KEY
            orders[slot].next = sc[S_FREE]
            sc[S_FREE] = slot
            sc[S_N_ORDERS] -= 1
            if s == 0:
                sc[S_N_BID_ORDERS] -= 1
                if lvl[0, li].count == 0 and li == sc[S_BEST_BID]:
                    _rescan_best(sc, lvl, 0)
            else:
                sc[S_N_ASK_ORDERS] -= 1
                if lvl[1, li].count == 0 and li == sc[S_BEST_ASK]:
                    _rescan_best(sc, lvl, 1)

        # ---- stage 3: match FIFO level by level, then rest the remainder --------------
        if match:
            rem = size
            o = 1 if m_dir > 0 else 0  # the side being taken
            while rem > 0:
                if o == 1:
                    li = sc[S_BEST_ASK]
                    if li >= n_levels or base + li > m_limit:
                        break
                else:
                    li = sc[S_BEST_BID]
                    if li < 0 or base + li < m_limit:
                        break
                lp = base + li
                head = lvl[o, li].head
                while rem > 0 and head != -1:
                    hq = orders[head].size_shares
                    f = hq if hq < rem else rem
                    hid = orders[head].id
                    _write_fill(fills, nf, time, lp, f, m_dir, oid, hid, m_owner, orders[head].owner)
                    nf += 1
                    if log_on:
                        _write_log(log, ng, time, MSG_EXECUTE, hid, f, lp, -m_dir)
                        ng += 1
                    rem -= f
                    lvl[o, li].volume_shares -= f
                    if f == hq:
                        # the head order is filled: pop it from the front of the queue
                        nxt = orders[head].next
                        if not _unmapped(sc, hid):
                            h_delete(htab, orders, hid)
                        ins_bucket = -1  # a deletion shifts buckets: the insert probes again
                        orders[head].id = EMPTY_KEY
                        orders[head].next = sc[S_FREE]
                        sc[S_FREE] = head
                        sc[S_N_ORDERS] -= 1
                        sc[S_N_BID_ORDERS + o] -= 1  # S_N_ASK_ORDERS == S_N_BID_ORDERS + 1
                        lvl[o, li].count -= 1
                        head = nxt
                    else:
                        orders[head].size_shares = hq - f
                sc[S_TRADED_VOLUME] += size - rem
                lvl[o, li].head = head
                if head == -1:
                    lvl[o, li].tail = -1
                else:
                    orders[head].prev = -1
                if head == -1:
                    _rescan_best(sc, lvl, o)
            if rest and rem > 0:
                slot = sc[S_FREE]
                sc[S_FREE] = orders[slot].next
                s = _side_index(m_dir)
                li = m_limit - base
                orders[slot].id = oid
                orders[slot].side = m_dir
                orders[slot].price_ticks = m_limit
                orders[slot].size_shares = rem
                orders[slot].owner = m_owner
                orders[slot].time_ns = time
                orders[slot].next = -1
                tail = lvl[s, li].tail
                orders[slot].prev = tail
                if tail == -1:
                    lvl[s, li].head = slot
                else:
                    orders[tail].next = slot
                lvl[s, li].tail = slot
                lvl[s, li].volume_shares += rem
                lvl[s, li].count += 1
                if mapped:
                    if ins_bucket >= 0:
                        htab[ins_bucket] = (ins_home << 32) | slot
                    else:
                        h_insert(htab, orders, oid, slot)
                sc[S_LAST_SLOT] = slot
                sc[S_N_ORDERS] += 1
                if s == 0:
                    sc[S_N_BID_ORDERS] += 1
                    if li > sc[S_BEST_BID]:
                        sc[S_BEST_BID] = li
                else:
                    sc[S_N_ASK_ORDERS] += 1
                    if li < sc[S_BEST_ASK]:
                        sc[S_BEST_ASK] = li
                if log_on:
                    _write_log(log, ng, time, MSG_SUBMIT, oid, rem, m_limit, m_dir)
                    ng += 1

        sc[S_N_FILLS] = nf
        sc[S_N_LOG] = ng
        sc[S_N_EVENTS] += 1
        i += 1

    if status != OK:
        sc[S_ERR_INDEX] = i
    return i, status


#: :func:`process` compiled into its caller (the background flow calls it once per event:
#: inlined, the call and its ~80 flattened array arguments disappear from the event loop), by
#: LLVM (:data:`~execgym.envs.market.simulation._jit.HOT_FORCE`)
process_inline = njit(**HOT_FORCE)(process.py_func)


# --- queries ----------------------------------------------------------------------------


@njit(**HOT)
def depth(sc, lvl, n, out):
    """Top ``n`` occupied levels per side into ``out`` (4, n): bid px, bid sz, ask px, ask sz.

    Missing levels have price 0 and size 0. Returns the numbers of bid and ask levels.
    """
    base = sc[S_BASE]
    k = 0
    i = sc[S_BEST_BID]
    while k < n and i >= 0:
        if lvl[0, i].count > 0:
            out[0, k] = base + i
            out[1, k] = lvl[0, i].volume_shares
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
        if lvl[1, i].count > 0:
            out[2, k] = base + i
            out[3, k] = lvl[1, i].volume_shares
            k += 1
        i += 1
    na = k
    while k < n:
        out[2, k] = 0
        out[3, k] = 0
        k += 1
    return nb, na


@njit(**HOT)
def top_of_book(sc, lvl, k, out):
    """Into ``out`` (6,): best bid, best ask (ticks, -1 if none), their sizes, and the
    volume of the top ``k`` occupied levels per side."""
    base = sc[S_BASE]
    n_levels = sc[S_N_LEVELS]
    for j in range(6):
        out[j] = 0
    out[0] = -1
    out[1] = -1
    i = sc[S_BEST_BID]
    if i >= 0:
        out[0] = base + i
        out[2] = lvl[0, i].volume_shares
    seen = 0
    while seen < k and i >= 0:
        if lvl[0, i].count > 0:
            out[4] += lvl[0, i].volume_shares
            seen += 1
        i -= 1
    i = sc[S_BEST_ASK]
    if i < n_levels:
        out[1] = base + i
        out[3] = lvl[1, i].volume_shares
    seen = 0
    while seen < k and i < n_levels:
        if lvl[1, i].count > 0:
            out[5] += lvl[1, i].volume_shares
            seen += 1
        i += 1


@njit(**HOT)
def fill_totals(fills, owner):
    """``(volume, value, owner_volume, owner_value)`` of an ``(n, 8)`` fill array: shares and
    tick-shares, in all and for the fills in which ``owner`` took part (either side)."""
    volume = 0
    value = 0
    own_volume = 0
    own_value = 0
    for f in range(fills.shape[0]):
        size = fills[f, F_SIZE]
        v = size * fills[f, F_PRICE]
        volume += size
        value += v
        if fills[f, F_AGG_OWNER] == owner or fills[f, F_REST_OWNER] == owner:
            own_volume += size
            own_value += v
    return volume, value, own_volume, own_value


@njit(**HOT)
def queue_ahead(sc, lvl, orders, htab, oid):
    """Shares ahead of order ``oid`` in its level's queue, or -1 if unknown."""
    slot = h_find(htab, orders, oid)
    if slot == -1:
        return -1
    ahead = 0
    p = orders[slot].prev
    while p != -1:
        ahead += orders[p].size_shares
        p = orders[p].prev
    return ahead


@njit(**HOT)
def level_orders(sc, lvl, orders, s, li, out):
    """The queue at side ``s``, level ``li`` in FIFO order into ``out`` (k, 4): id, size, owner, time."""
    k = 0
    slot = lvl[s, li].head
    while slot != -1 and k < out.shape[0]:
        out[k, 0] = orders[slot].id
        out[k, 1] = orders[slot].size_shares
        out[k, 2] = orders[slot].owner
        out[k, 3] = orders[slot].time_ns
        k += 1
        slot = orders[slot].next
    return k


@njit(**HOT)
def rebuild_hash(sc, orders, htab):
    """Insert every live mapped order of ``orders`` into an empty ``htab``."""
    for slot in range(orders.shape[0]):
        if orders[slot].id != EMPTY_KEY and not _unmapped(sc, orders[slot].id):
            h_insert(htab, orders, orders[slot].id, slot)
