"""The Python LOB execution env as it was before the compiled episode core (pinned from
execgym 2026-11-28, ``envs/lob_execution.py``): a test oracle and a benchmark reference.

It runs the episode operation by operation in Python over :class:`MarketSimulator`; the
compiled core (single env = the native engine at M = 1, and the vector env) must equal it
bit for bit, and ``benchmarks/bench_lob_env.py`` reports the speed-up over it.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import replace
from typing import Any, Mapping

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from execgym.envs.contract import (
    BPS,
    OBS_INVENTORY_LEFT,
    OBS_LAST_VOLUME_RATIO,
    OBS_NEXT_VOLUME_RATIO,
    OBS_TIME_LEFT,
    ExecutionTask,
    action_to_shares,
    real_action,
    side_sign,
)
from execgym.envs.lob_config import LOBContractConfig, LOBExecutionConfig, execution_summary
from execgym.envs.lob_core import (
    OBS_IMBALANCE,
    OBS_MICRO,
    OBS_MID_MOVE,
    OBS_NAMES,
    OBS_QUEUE,
    OBS_RESTING,
    OBS_SPREAD,
    OBS_VOL,
)
from execgym.envs.lob_replay import _NO_FILLS, LOBReplayConfig, LOBReplayEnv, _totals
from execgym.envs.market.simulation.simulator import MarketSimulator
from execgym.envs.rendering import RENDER_METADATA, RenderMixin, check_render_mode

logger = logging.getLogger(__name__)

__all__ = ["ReferenceLOBEnv"]

#: spread (ticks) reported when one side of the book is empty
MAX_SPREAD_OBS = 100.0


class ReferenceLOBEnv(RenderMixin, gym.Env):
    """The contract of :class:`execgym.envs.lob_execution.LOBExecutionEnv` (its docstring
    specifies it), as the pinned Python code ran it over :class:`MarketSimulator`."""

    metadata = dict(RENDER_METADATA)
    #: the config dataclass (a subclass of :class:`LOBContractConfig`)
    config_class: type = LOBExecutionConfig

    def __init__(self, config: LOBContractConfig | Mapping[str, Any] | None = None, render_mode: str | None = None,
                 **overrides: Any) -> None:
        super().__init__()
        self.render_mode = check_render_mode(render_mode)
        self.config = self.config_class.from_kwargs(config, **overrides)
        cfg = self.config
        self.sign = side_sign(cfg.side)
        if cfg.action == "participation":
            self.action_space = spaces.Discrete(len(cfg.participation_rates))
        elif cfg.action == "fraction":
            self.action_space = spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        else:
            k = float(cfg.placement_max_offset_ticks)
            self.action_space = spaces.Box(np.array([0.0, -k], np.float32), np.array([1.0, k], np.float32),
                                           dtype=np.float32)
        low = np.array([0, 0, 0, 0, 0, -1, -MAX_SPREAD_OBS / 2, 0, -np.inf, 0, 0], dtype=np.float32)
        high = np.array([1, 1, np.inf, np.inf, MAX_SPREAD_OBS, 1, MAX_SPREAD_OBS / 2, np.inf, np.inf, 1, 1],
                        dtype=np.float32)
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self._sim: MarketSimulator | None = None
        self._task: ExecutionTask | None = None
        self._expected_volume: np.ndarray | None = None

    # -- the task -----------------------------------------------------------------------

    # -- the market (subclasses with another market override these) -------------------------

    @property
    def tick_size(self) -> float:
        """Currency per tick of the market."""
        return self.config.market.tick_size

    @property
    def lot_size(self) -> int:
        """Shares per lot of the market."""
        return self.config.market.lot_size

    def _expected_volume_shares(self) -> np.ndarray:
        """Expected market volume in each decision interval (shares), ``(n_steps,)``."""
        cfg = self.config
        sim = MarketSimulator(replace(cfg.market, warmup_s=0.0), np.random.default_rng(0))
        edges = np.arange(cfg.n_steps + 1) * cfg.decision_interval_s
        return np.diff([0.0] + [sim.expected_volume_shares(0.0, b) for b in edges[1:]])

    def _initial_arrival_ticks(self) -> float:
        """The arrival price (ticks) the task reports before the first reset."""
        return self.config.market.initial_mid_ticks

    def _reset_market(self) -> None:
        """Put a market, drawn from ``self.np_random``, in ``self._sim``."""
        market_rng = np.random.default_rng(self.np_random.integers(0, 2**63 - 1))
        if self._sim is None:
            self._sim = MarketSimulator(self.config.market, market_rng)
        else:
            self._sim.reset(market_rng)

    @property
    def task(self) -> ExecutionTask:
        """The parent order: expected volumes from the market model, arrival price from the last reset."""
        if self._task is None:
            cfg = self.config
            if self._expected_volume is None:
                self._expected_volume = self._expected_volume_shares()
            arrival = (self._arrival_ticks if self._sim is not None else self._initial_arrival_ticks())
            self._task = ExecutionTask(
                side=cfg.side, total_shares=float(cfg.total_shares), n_steps=cfg.n_steps, horizon=cfg.horizon_s,
                time_unit="s", arrival_price=arrival * self.tick_size,
                expected_volume_shares=self._expected_volume, action_kind=cfg.action,
                participation_rates=cfg.participation_rates,
                placement_max_offset_ticks=cfg.placement_max_offset_ticks, impact_model=None)
        return self._task

    # -- gymnasium API ------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        cfg = self.config
        self._reset_market()
        sim = self._sim
        mid = sim.book.mid
        self._arrival_ticks = mid if mid is not None else sim.reference_ticks
        self._task = None
        task = self.task
        self._expected = task.expected_volume_shares
        mean_volume = self._expected.mean()
        ratio = self._expected / mean_volume if mean_volume > 0 else np.ones_like(self._expected)
        self._next_ratio = np.append(ratio, 0.0)
        self._step = 0
        self._holdings = int(cfg.total_shares)
        self._child: int | None = None
        self._last_volume_ratio = 1.0
        self._last_fill = math.nan
        self._last_mid = self._arrival_ticks
        self._vol = _RollingStd(cfg.volatility_window)
        self._obs = np.zeros(len(OBS_NAMES), dtype=np.float32)
        self._cost_ticks = 0.0  # side * sum(size * (fill - arrival)), tick-shares
        self._fill_value = 0.0  # tick-shares
        self._executed = 0
        self._market_volume = 0  # all traded shares over the horizon, own included
        self._market_value = 0.0
        self._unfilled = 0
        return self._observation(), {}

    def _observation(self) -> np.ndarray:
        cfg, book = self.config, self._sim.book
        bid, ask, bsz, asz, bvol, avol = book.top(cfg.imbalance_levels)
        if bid >= 0 and ask >= 0:
            spread = float(ask - bid)
            mid = 0.5 * (bid + ask)
            micro_offset = (bid * asz + ask * bsz) / (bsz + asz) - mid
        else:
            spread, mid, micro_offset = MAX_SPREAD_OBS, self._last_mid, 0.0
        depth = bvol + avol
        queue_frac, resting = 0.0, 0.0
        if self._child is not None and self._child in book:
            order = book.order(self._child)
            level = book.volume_at(order.side, order.price_ticks)
            queue_frac = order.queue_ahead_shares / level if level else 0.0
            resting = 1.0
        obs = self._obs
        obs[OBS_TIME_LEFT] = (cfg.n_steps - self._step) / cfg.n_steps
        obs[OBS_INVENTORY_LEFT] = self._holdings / cfg.total_shares
        obs[OBS_LAST_VOLUME_RATIO] = self._last_volume_ratio
        obs[OBS_NEXT_VOLUME_RATIO] = self._next_ratio[self._step]
        obs[OBS_SPREAD] = min(spread, MAX_SPREAD_OBS)
        obs[OBS_IMBALANCE] = (bvol - avol) / depth if depth else 0.0
        obs[OBS_MICRO] = micro_offset
        obs[OBS_VOL] = self._vol.std()
        obs[OBS_MID_MOVE] = (mid - self._arrival_ticks) / self._arrival_ticks * BPS
        obs[OBS_QUEUE] = queue_frac
        obs[OBS_RESTING] = resting
        return obs.copy()

    def _render_state(self) -> dict[str, Any]:
        cfg = self.config
        step = self._step if self._sim is not None else None
        spread = "-"
        if step is not None:
            bid, ask = self._sim.book.top(1)[:2]
            spread = f"{ask - bid} ticks ({(ask - bid) * self.tick_size:.4g})" if bid >= 0 and ask >= 0 else "one side empty"
        return dict(step=step, n_steps=cfg.n_steps, time_left=f"{(cfg.n_steps - (step or 0)) * cfg.decision_interval_s:g} s",
                    holdings_shares=self._holdings if step is not None else cfg.total_shares,
                    total_shares=cfg.total_shares, side=cfg.side, last_fill=getattr(self, "_last_fill", math.nan),
                    spread=spread)

    def _validate_action(self, action: Any) -> np.ndarray:
        cfg = self.config
        if cfg.action == "participation":
            a = real_action(action, ((), (1,)), integer=True)
            n = self.action_space.n
            if not 0 <= int(a.reshape(-1)[0]) < n:
                raise ValueError(f"action must be an integer index in [0, {n}) into participation_rates "
                                 f"{cfg.participation_rates}, got {action!r}")
            return np.array([int(a.reshape(-1)[0])])
        want = 1 if cfg.action == "fraction" else 2
        a = real_action(action, ((want,),))
        if not 0.0 <= a[0] <= 1.0:
            raise ValueError(f"action[0] must be a fraction of remaining shares in [0, 1], got {action!r}")
        if want == 2 and not abs(a[1]) <= cfg.placement_max_offset_ticks:
            raise ValueError(f"action[1] must be an offset in [-{cfg.placement_max_offset_ticks}, "
                             f"{cfg.placement_max_offset_ticks}] ticks, got {action!r}")
        return a.reshape(1, -1)

    def _send(self, action: np.ndarray) -> np.ndarray:
        """Send the child order for ``action``; return its immediate fills."""
        cfg, sim, lot = self.config, self._sim, self.lot_size
        remaining = self._holdings
        shares = float(action_to_shares(self.task, action, np.array([float(remaining)]), np.array([self._step]))[0])
        size = min(remaining, int(shares // lot) * lot)
        if cfg.action != "placement":
            self._cancel_child()
            return sim.submit_market(cfg.side, size) if size > 0 else _NO_FILLS
        book = sim.book
        offset = int(round(float(action[0, 1])))
        touch = book.best_bid if self.sign > 0 else book.best_ask
        if touch is None:  # own side empty: measure from the opposite touch
            opp = book.best_ask if self.sign > 0 else book.best_bid
            touch = (opp - self.sign) if opp is not None else int(round(sim.reference_ticks))
        price = max(1, touch - self.sign * offset)
        if self._child is not None and self._child in book:
            if cfg.keep_unfilled and book.order(self._child).price_ticks == price and size > 0:
                return sim.modify(self._child, size_shares=size)
            self._cancel_child()
        if size <= 0:
            return _NO_FILLS
        self._child, fills = sim.submit_limit(cfg.side, price, size)
        return fills

    def _cancel_child(self) -> None:
        if self._child is not None and self._child in self._sim.book:
            self._sim.cancel(self._child)
        self._child = None

    def step(self, action: Any):
        if self._sim is None:
            raise RuntimeError("call reset() before step()")
        cfg = self.config
        if self._step >= cfg.n_steps or self._holdings <= 0:
            raise RuntimeError("the episode has ended; call reset()")
        a = self._validate_action(action)
        sim = self._sim
        k = self._step
        fills = [self._send(a)]
        immediate = _totals(fills[0])
        report = sim.advance(cfg.decision_interval_s)
        fills.append(report.agent_fills)
        market_volume = report.volume_shares + immediate[0]
        market_value = float(report.value_tick_shares + immediate[1])
        executed = immediate[0] + report.agent_volume_shares
        value = float(immediate[1]) + float(report.agent_value_tick_shares)
        self._step = k + 1
        terminated = False
        if self._step == cfg.n_steps:
            # the horizon: cancel what rests and walk the book with the remainder
            held = self._holdings - executed
            self._cancel_child()
            if held > 0:
                final = sim.submit_market(cfg.side, held)
                fills.append(final)
                final_volume, final_value = _totals(final)
                market_volume += final_volume
                market_value += float(final_value)
                executed += final_volume
                value += float(final_value)
            terminated = True
        n_fills = sum(len(part) for part in fills)
        cost_ticks = self.sign * (value - executed * self._arrival_ticks)
        self._holdings -= executed
        self._executed += executed
        self._cost_ticks += cost_ticks
        self._fill_value += value
        self._market_volume += market_volume
        self._market_value += market_value
        if terminated and self._holdings > 0:
            self._unfilled = self._holdings
            cost_ticks += self._unfilled * self._arrival_ticks * cfg.unfilled_penalty_bps / BPS
            self._cost_ticks += self._unfilled * self._arrival_ticks * cfg.unfilled_penalty_bps / BPS
        if self._holdings <= 0:
            self._cancel_child()
            terminated = True
        notional_ticks = cfg.total_shares * self._arrival_ticks
        reward = -cost_ticks / notional_ticks * BPS
        reward -= cfg.risk_penalty_bps * (self._holdings / cfg.total_shares) ** 2
        self._last_volume_ratio = report.volume_shares / self._expected[k] if self._expected[k] > 0 else 1.0
        mid = sim.book.mid
        mid = self._last_mid if mid is None else mid
        self._vol.push(mid - self._last_mid)
        self._last_mid = mid
        tick = self.tick_size
        self._last_fill = value / executed * tick if executed else math.nan
        info: dict[str, Any] = {
            "step": k,
            "time_s": k * cfg.decision_interval_s,
            # lists, not arrays: their length varies, which gymnasium's vector info batching forbids
            "fill_prices": (_concat_field(fills, "price_ticks", n_fills) * tick).tolist(),  # currency
            "fill_sizes": _concat_field(fills, "size_shares", n_fills).tolist(),  # shares
            "shares": float(executed),
            "holdings": float(self._holdings),
            "mid": mid * tick,
            "fill_price": value / executed * tick if executed else math.nan,
            "market_volume": float(report.volume_shares),
            "cum_shortfall_bps": self._cost_ticks / notional_ticks * BPS,
        }
        if terminated:
            info["unfilled_at_horizon"] = self._unfilled
            info["execution"] = self._summary()
        return self._observation(), float(reward), terminated, False, info

    def _summary(self) -> dict[str, float]:
        cfg = self.config
        summary = execution_summary(
            np.float64(self._cost_ticks), np.float64(self._executed), np.float64(self._fill_value),
            np.float64(self._market_volume), np.float64(self._market_value), np.float64(self._unfilled),
            np.float64(self._step), np.float64(self._arrival_ticks), cfg.total_shares, self.sign, self.tick_size)
        return {key: float(value) for key, value in summary.items()}


def _concat_field(parts: list[np.ndarray], name: str, n: int) -> np.ndarray:
    """One field of several fill arrays, concatenated (``n`` values in all)."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([p[name] for p in parts if len(p)])


class _RollingStd:
    """Population standard deviation of the last ``n`` values pushed, in O(1) per push."""

    def __init__(self, n: int) -> None:
        self.values: deque[float] = deque(maxlen=n)
        self.total = 0.0
        self.total_sq = 0.0

    def push(self, x: float) -> None:
        if len(self.values) == self.values.maxlen:
            old = self.values[0]
            self.total -= old
            self.total_sq -= old * old
        self.values.append(x)
        self.total += x
        self.total_sq += x * x

    def std(self) -> float:
        n = len(self.values)
        if n < 2:
            return 0.0
        mean = self.total / n
        return math.sqrt(max(self.total_sq / n - mean * mean, 0.0))


class ReferenceReplayEnv(ReferenceLOBEnv):
    """The pinned Python episode over a recorded day, the oracle of
    :class:`~execgym.envs.lob_replay.LOBReplayEnv`: its market (the recorded day, where an
    episode starts, the tick and lot) is the replay env's own, so only the episode differs."""

    config_class = LOBReplayConfig
    tick_size = LOBReplayEnv.tick_size
    lot_size = LOBReplayEnv.lot_size
    _expected_volume_shares = LOBReplayEnv._expected_volume_shares
    _initial_arrival_ticks = LOBReplayEnv._initial_arrival_ticks
    _reset_market = LOBReplayEnv._reset_market

    def __init__(self, config=None, render_mode=None, **overrides) -> None:
        super().__init__(config, render_mode=render_mode, **overrides)
        self.day = self.config.load_day()
