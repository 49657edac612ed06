"""The LOB execution episode, written once: compiled functions over a named episode state.

Every LOB execution environment (the native vector env for M simulated markets, the single
env, the replay of a recorded day) runs the same episode: size the child order from the
action, price a placement, account the fills against the arrival mid, charge what is left
at the horizon, compute the reward and the observation. Those steps live here, as numba
functions over two record types; what differs between the envs (which market sends the
orders and runs between decisions) does not.

:data:`PARAMS_DTYPE` holds an episode's constants (one record for all markets of an env),
:data:`EPISODE_DTYPE` the state of one market's episode (one record per market). Units are in
the field names: ``_ticks`` prices, ``_shares`` sizes, ``_tick_shares`` sums of size x
price, ``_s`` seconds, ``_bps`` basis points.

One decision, in order (each market does the market-specific parts itself):

1. :func:`child_size` (and, for a placement, :func:`placement_price`); the market sends the
   child order, runs for the decision interval and, at the horizon (:func:`at_horizon`),
   cancels the child and walks the book with the rest;
2. :func:`account` the step's fills; the market cancels the child if the order is complete;
3. :func:`finish` the step: reward, volume ratio, rolling volatility;
4. :func:`observe` the new state.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from execgym.envs.contract import (
    BPS,
    OBS_INVENTORY_LEFT,
    OBS_LAST_VOLUME_RATIO,
    OBS_NEXT_VOLUME_RATIO,
    OBS_TIME_LEFT,
)
from execgym.envs.market.simulation._jit import HOT

__all__ = ["EPISODE_DTYPE", "MODES", "N_OBS", "N_SUMMARY", "OBS_NAMES", "PARAMS_DTYPE", "account", "at_horizon",
           "child_size", "finish", "make_params", "observe", "placement_price", "push_volatility", "start_episode",
           "summary_row"]

#: observation features, in order (see :class:`execgym.envs.lob_execution.LOBExecutionEnv`)
OBS_NAMES = (
    "time_left_frac", "inventory_left_frac", "last_volume_ratio", "next_volume_ratio",
    "spread_ticks", "depth_imbalance", "microprice_offset_ticks", "volatility_ticks",
    "mid_move_bps", "queue_ahead_frac", "has_resting_order",
)
N_OBS = len(OBS_NAMES)
(OBS_SPREAD, OBS_IMBALANCE, OBS_MICRO, OBS_VOL, OBS_MID_MOVE, OBS_QUEUE, OBS_RESTING) = range(4, 11)
#: spread (ticks) reported when one side of the book is empty
MAX_SPREAD_OBS = 100.0

#: action kinds as the compiled code sees them
MODE_FRACTION, MODE_PARTICIPATION, MODE_PLACEMENT = 0, 1, 2
MODES = {"fraction": MODE_FRACTION, "participation": MODE_PARTICIPATION, "placement": MODE_PLACEMENT}

PARAMS_DTYPE = np.dtype([
    ("n_steps", np.int64),
    ("decision_interval_s", np.float64),
    ("total_shares", np.int64),
    ("lot_shares", np.int64),
    ("sign", np.int64),  # +1 buy, -1 sell
    ("mode", np.int64),  # MODE_*
    ("keep_unfilled", np.bool_),
    ("unfilled_penalty_bps", np.float64),
    ("risk_penalty_bps", np.float64),
    ("imbalance_levels", np.int64),
], align=True)  # aligned fields: the three after the flag sat off their 8-byte boundary when packed

EPISODE_DTYPE = np.dtype([
    ("step", np.int64),  # decisions taken
    ("holdings_shares", np.int64),  # shares still to execute
    ("arrival_ticks", np.float64),  # mid at the start
    ("cost_tick_shares", np.float64),  # side * sum(size * (fill - arrival)), penalty included
    ("value_tick_shares", np.float64),  # sum of the agent's fill size x price
    ("executed_shares", np.int64),
    ("market_volume_shares", np.int64),  # everything traded over the horizon, own included
    ("market_value_tick_shares", np.float64),
    ("unfilled_shares", np.int64),  # what the book could not absorb at the horizon
    ("last_volume_ratio", np.float64),  # last interval's market volume / expected
    ("last_mid_ticks", np.float64),
    ("vol_sum", np.float64),  # rolling sums of the last window's mid changes (ticks)
    ("vol_sum_sq", np.float64),
    ("vol_n", np.int64),
    ("vol_head", np.int64),
    ("next_agent_id", np.int64),  # the id of the agent's next order
    ("child_id", np.int64),  # the agent's resting limit order (placement), 0 if none
    ("last_executed_shares", np.int64),  # the last decision's fills
    ("last_value_tick_shares", np.float64),
    ("last_interval_volume_shares", np.int64),  # the market's volume over the last interval, own immediate fills excluded
])
#: the episode summary row of :func:`summary_row`, the arguments of
#: :func:`execgym.envs.lob_execution.execution_summary` in order
N_SUMMARY = 8


def make_params(config, lot_shares: int, sign: int) -> np.ndarray:
    """The one-record :data:`PARAMS_DTYPE` array of a :class:`~execgym.envs.lob_execution.LOBContractConfig`."""
    p = np.zeros(1, dtype=PARAMS_DTYPE)
    p["n_steps"], p["decision_interval_s"], p["total_shares"] = config.n_steps, config.decision_interval_s, \
        config.total_shares
    p["lot_shares"], p["sign"], p["mode"] = lot_shares, sign, MODES[config.action]
    p["keep_unfilled"] = bool(config.keep_unfilled)
    p["unfilled_penalty_bps"], p["risk_penalty_bps"] = config.unfilled_penalty_bps, config.risk_penalty_bps
    p["imbalance_levels"] = config.imbalance_levels
    return p


@njit(**HOT)
def round_half_even(x):
    """Python's ``int(round(x))`` for a float."""
    r = math.floor(x)
    d = x - r
    if d > 0.5 or (d == 0.5 and r % 2.0 != 0.0):
        r += 1.0
    return np.int64(r)


@njit(**HOT)
def start_episode(e, vring, arrival_ticks, first_agent_id, total_shares):
    """A fresh episode in record ``e`` (its rolling window ``vring`` emptied)."""
    e.step = 0
    e.holdings_shares = total_shares
    e.arrival_ticks = arrival_ticks
    e.cost_tick_shares = 0.0
    e.value_tick_shares = 0.0
    e.executed_shares = 0
    e.market_volume_shares = 0
    e.market_value_tick_shares = 0.0
    e.unfilled_shares = 0
    e.last_volume_ratio = 1.0
    e.last_mid_ticks = arrival_ticks
    e.vol_sum = 0.0
    e.vol_sum_sq = 0.0
    e.vol_n = 0
    e.vol_head = 0
    e.next_agent_id = first_agent_id
    e.child_id = 0
    e.last_executed_shares = 0
    e.last_value_tick_shares = 0.0
    e.last_interval_volume_shares = 0
    for j in range(vring.shape[0]):
        vring[j] = 0.0


@njit(**HOT)
def child_size(p, e, rates, expected, action):
    """Shares of the child order for ``action`` (the fraction of what remains, or the index
    of a participation rate of the interval's expected volume), in whole lots."""
    remaining = e.holdings_shares
    if p.mode != MODE_PARTICIPATION:
        shares = action * float(remaining)
    else:
        shares = min(rates[np.int64(action)] * expected[e.step], float(remaining))
    return min(remaining, np.int64(shares // p.lot_shares) * p.lot_shares)


@njit(**HOT)
def placement_price(side, offset_ticks, own_touch, opp_touch, reference_ticks):
    """The limit price of a placement ``round(offset_ticks)`` ticks behind the own-side touch
    (negative crosses); with the own side empty, measured from one tick inside the opposite
    touch, and with both empty from ``reference_ticks``. Touches are -1 when absent."""
    offset = round_half_even(offset_ticks)
    if own_touch >= 0:
        touch = own_touch
    elif opp_touch >= 0:
        touch = opp_touch - side
    else:
        touch = round_half_even(reference_ticks)
    return max(1, touch - side * offset)


@njit(**HOT)
def at_horizon(p, e):
    """Whether the decision being taken is the last one."""
    return e.step + 1 == p.n_steps


@njit(**HOT)
def account(p, e, executed, value, market_volume, market_value, terminated):
    """Book one decision's fills (``executed`` shares worth ``value`` tick-shares; the market's
    ``market_volume`` / ``market_value`` over the interval, own included); at the horizon
    (``terminated``) charge what is left. Returns the step's cost (tick-shares)."""
    arrival = e.arrival_ticks
    cost = p.sign * (value - executed * arrival)
    e.step += 1
    e.holdings_shares -= executed
    e.executed_shares += executed
    e.cost_tick_shares += cost
    e.value_tick_shares += value
    e.market_volume_shares += market_volume
    e.market_value_tick_shares += market_value
    e.last_executed_shares = executed
    e.last_value_tick_shares = value
    if terminated and e.holdings_shares > 0:
        e.unfilled_shares = e.holdings_shares
        cost += e.unfilled_shares * arrival * p.unfilled_penalty_bps / BPS
        e.cost_tick_shares += e.unfilled_shares * arrival * p.unfilled_penalty_bps / BPS
    return cost


@njit(**HOT)
def finish(p, e, vring, expected, cost, report_volume, mid):
    """After :func:`account` and the market's last orders (``report_volume``: what traded in
    the interval besides the agent's immediate fills): the decision's reward (minus its cost in bps of the arrival notional, minus the risk
    penalty); the last interval's volume ratio and the rolling volatility move on to
    ``mid`` (NaN: the mid is undefined, the last one is kept)."""
    k = e.step - 1
    notional = p.total_shares * e.arrival_ticks
    frac = e.holdings_shares / p.total_shares
    reward = -cost / notional * BPS - p.risk_penalty_bps * frac * frac
    e.last_volume_ratio = report_volume / expected[k] if expected[k] > 0 else 1.0
    e.last_interval_volume_shares = report_volume
    if math.isnan(mid):
        mid = e.last_mid_ticks
    push_volatility(e, vring, mid - e.last_mid_ticks)
    e.last_mid_ticks = mid
    return reward


@njit(**HOT)
def push_volatility(e, vring, x):
    """Add ``x`` to the rolling window ``vring`` (its sums in ``e``), dropping the oldest."""
    window = vring.shape[0]
    n = e.vol_n
    if n == window:
        head = e.vol_head
        old = vring[head]
        e.vol_sum -= old
        e.vol_sum_sq -= old * old
        vring[head] = x
        e.vol_head = (head + 1) % window
    else:
        vring[(e.vol_head + n) % window] = x
        e.vol_n = n + 1
    e.vol_sum += x
    e.vol_sum_sq += x * x


@njit(**HOT)
def observe(p, e, next_ratio, top, queue_frac, resting, out):
    """The observation (:data:`OBS_NAMES`) into ``out``, from the episode, the book's
    ``top = (bid, ask, bid size, ask size, bid depth, ask depth)`` over the imbalance levels
    (prices -1 when a side is empty) and the child order's queue position."""
    bid, ask, bsz, asz, bvol, avol = top[0], top[1], top[2], top[3], top[4], top[5]
    if bid >= 0 and ask >= 0:
        spread = float(ask - bid)
        mid = 0.5 * (bid + ask)
        micro = (bid * asz + ask * bsz) / (bsz + asz) - mid
    else:
        spread = MAX_SPREAD_OBS
        mid = e.last_mid_ticks
        micro = 0.0
    depth = bvol + avol
    n = e.vol_n
    if n < 2:
        vol = 0.0
    else:
        mean = e.vol_sum / n
        vol = math.sqrt(max(e.vol_sum_sq / n - mean * mean, 0.0))
    out[OBS_TIME_LEFT] = (p.n_steps - e.step) / p.n_steps
    out[OBS_INVENTORY_LEFT] = e.holdings_shares / p.total_shares
    out[OBS_LAST_VOLUME_RATIO] = e.last_volume_ratio
    out[OBS_NEXT_VOLUME_RATIO] = next_ratio[e.step]
    out[OBS_SPREAD] = min(spread, MAX_SPREAD_OBS)
    out[OBS_IMBALANCE] = (bvol - avol) / depth if depth else 0.0
    out[OBS_MICRO] = micro
    out[OBS_VOL] = vol
    out[OBS_MID_MOVE] = (mid - e.arrival_ticks) / e.arrival_ticks * BPS
    out[OBS_QUEUE] = queue_frac
    out[OBS_RESTING] = resting


@njit(**HOT)
def summary_row(e, out):
    """The episode's accumulators in :func:`~execgym.envs.lob_execution.execution_summary`'s order."""
    out[0] = e.cost_tick_shares
    out[1] = e.executed_shares
    out[2] = e.value_tick_shares
    out[3] = e.market_volume_shares
    out[4] = e.market_value_tick_shares
    out[5] = e.unfilled_shares
    out[6] = e.step
    out[7] = e.arrival_ticks
