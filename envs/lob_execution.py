"""The limit-order-book execution environment ``execgym/LOBExecution-v0``.

A parent order placed into a warmed-up simulated market (:mod:`execgym.envs.market.simulation`):
at each decision the agent sends a child order, then the background flow runs for one
decision interval. Variants (action modes, side, market) are configurations of the one
class :class:`LOBExecutionEnv`.

:class:`LOBEnv` is the Gymnasium side that every LOB execution env shares (spaces, the
task, the action check, ``info``, rendering); the episode itself is the compiled core of
:mod:`execgym.envs.lob_core`, run here on the native vector env's arrays at M = 1 and, by the
replay env, over a recorded day.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from execgym.envs import lob_core as core
from execgym.envs.contract import BPS, ExecutionTask, side_sign
from execgym.envs.lob_config import (
    LOBContractConfig,
    LOBExecutionConfig,
    check_actions,
    default_market,
    execution_summary,
    lob_action_space,
    lob_observation_space,
    lob_task,
    simulated_expected_volume,
)
from execgym.envs.lob_core import (
    MAX_SPREAD_OBS,
    OBS_IMBALANCE,
    OBS_MICRO,
    OBS_MID_MOVE,
    OBS_NAMES,
    OBS_QUEUE,
    OBS_RESTING,
    OBS_SPREAD,
    OBS_VOL,
)
from execgym.envs.lob_vector import LOBExecutionVectorEnv
from execgym.envs.rendering import RENDER_METADATA, RenderMixin, check_render_mode

__all__ = ["MAX_SPREAD_OBS", "OBS_IMBALANCE", "OBS_MICRO", "OBS_MID_MOVE", "OBS_NAMES", "OBS_QUEUE", "OBS_RESTING",
           "OBS_SPREAD", "OBS_VOL", "LOBContractConfig", "LOBEnv", "LOBExecutionConfig", "LOBExecutionEnv",
           "default_market", "execution_summary"]

#: agent fills one decision can record for ``info`` (a horizon walk through the book is far fewer)
AGENT_FILL_CAPACITY = 1 << 14
#: positions of the episode record's fields in ``record.item()`` (one call reads them all)
_F = {name: i for i, name in enumerate(core.EPISODE_DTYPE.names)}


class LOBEnv(RenderMixin, gym.Env):
    """What every single LOB execution env shares: the spaces, the task, the action check,
    ``info`` and rendering of the contract of ``execgym/LOBExecution-v0`` (see
    :class:`LOBExecutionEnv`). A subclass supplies the market: :meth:`_start` (a new episode
    in :attr:`_episode`), :meth:`_decide` (one decision), :meth:`_touch` and the market's
    tick and lot sizes, expected volumes and initial arrival price.
    """

    metadata = dict(RENDER_METADATA)
    #: the config dataclass (a subclass of :class:`LOBContractConfig`)
    config_class: type = LOBExecutionConfig

    def __init__(self, config: LOBContractConfig | Mapping[str, Any] | None = None, render_mode: str | None = None,
                 **overrides: Any) -> None:
        super().__init__()
        self.render_mode = check_render_mode(render_mode)
        self.config = self.config_class.from_kwargs(config, **overrides)
        self.sign = side_sign(self.config.side)
        self.action_space = lob_action_space(self.config)
        self.observation_space = lob_observation_space()
        self._task: ExecutionTask | None = None
        self._expected_volume: np.ndarray | None = None
        self._arrival_ticks: float | None = None
        self._last_fill = math.nan
        self._done = False

    # -- the market (subclasses) ------------------------------------------------------------

    @property
    def tick_size(self) -> float:
        """Currency per tick of the market."""
        raise NotImplementedError

    @property
    def lot_size(self) -> int:
        """Shares per lot of the market."""
        raise NotImplementedError

    def _expected_volume_shares(self) -> np.ndarray:
        """Expected market volume in each decision interval (shares), ``(n_steps,)``."""
        raise NotImplementedError

    def _initial_arrival_ticks(self) -> float:
        """The arrival price (ticks) the task reports before the first reset."""
        raise NotImplementedError

    def _start(self) -> np.ndarray:
        """Start an episode (its market drawn from ``self.np_random``); its first observation."""
        raise NotImplementedError

    def _decide(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, np.ndarray]:
        """One decision for the checked ``(1, 2)`` action: (observation, reward, terminated,
        the agent's fills as ``(n, 2)`` ticks and shares)."""
        raise NotImplementedError

    def _touch(self) -> tuple[int, int]:
        """(best bid, best ask) in ticks, -1 for an empty side."""
        raise NotImplementedError

    @property
    def _episode(self):
        """The episode's :data:`~execgym.envs.lob_core.EPISODE_DTYPE` record."""
        raise NotImplementedError

    # -- the contract -----------------------------------------------------------------------

    @property
    def task(self) -> ExecutionTask:
        """The parent order: expected volumes from the market, arrival price from the last reset."""
        if self._task is None:
            if self._expected_volume is None:
                self._expected_volume = np.asarray(self._expected_volume_shares(), dtype=np.float64)
            arrival = self._arrival_ticks if self._arrival_ticks is not None else self._initial_arrival_ticks()
            self._task = lob_task(self.config, self._expected_volume, arrival, self.tick_size)
        return self._task

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        obs = self._start()
        self._arrival_ticks = float(self._episode["arrival_ticks"])
        self._task = None
        self._last_fill = math.nan
        self._done = False
        return obs, {}

    def step(self, action: Any):
        if self._arrival_ticks is None:
            raise RuntimeError("call reset() before step()")
        if self._done:
            raise RuntimeError("the episode has ended; call reset()")
        obs, reward, terminated, fills = self._decide(check_actions(self.config, action, None))
        self._done = terminated = bool(terminated)
        return obs, float(reward), terminated, False, self._info(fills, terminated)

    def _info(self, fills: np.ndarray, terminated: bool) -> dict[str, Any]:
        cfg, tick = self.config, self.tick_size
        e = self._episode.item()  # one call reads every field
        k = e[_F["step"]] - 1
        executed, value = e[_F["last_executed_shares"]], e[_F["last_value_tick_shares"]]
        self._last_fill = value / executed * tick if executed else math.nan
        notional_ticks = cfg.total_shares * e[_F["arrival_ticks"]]
        info: dict[str, Any] = {
            "step": k,
            "time_s": k * cfg.decision_interval_s,
            # lists, not arrays: their length varies, which gymnasium's vector info batching forbids
            "fill_prices": [price * tick for price in fills[:, 0].tolist()],  # currency
            "fill_sizes": fills[:, 1].tolist(),  # shares
            "shares": float(executed),
            "holdings": float(e[_F["holdings_shares"]]),
            "mid": e[_F["last_mid_ticks"]] * tick,
            "fill_price": self._last_fill,
            "market_volume": float(e[_F["last_interval_volume_shares"]]),
            "cum_shortfall_bps": e[_F["cost_tick_shares"]] / notional_ticks * BPS,
        }
        if terminated:
            info["unfilled_at_horizon"] = e[_F["unfilled_shares"]]
            row = np.zeros(core.N_SUMMARY)
            core.summary_row(self._episode, row)
            summary = execution_summary(*(np.float64(v) for v in row), cfg.total_shares, self.sign, tick)
            info["execution"] = {key: float(v) for key, v in summary.items()}
        return info

    def _render_state(self) -> dict[str, Any]:
        cfg = self.config
        started = self._arrival_ticks is not None
        step = int(self._episode["step"]) if started else None
        spread = "-"
        if started:
            bid, ask = self._touch()
            spread = f"{ask - bid} ticks ({(ask - bid) * self.tick_size:.4g})" if bid >= 0 and ask >= 0 \
                else "one side empty"
        return dict(step=step, n_steps=cfg.n_steps, time_left=f"{(cfg.n_steps - (step or 0)) * cfg.decision_interval_s:g} s",
                    holdings_shares=int(self._episode["holdings_shares"]) if started else cfg.total_shares,
                    total_shares=cfg.total_shares, side=cfg.side, last_fill=self._last_fill, spread=spread)


class LOBExecutionEnv(LOBEnv):
    """Execute a parent order in a simulated limit order book with impact dynamics.

    Each step: the agent's child order is sent (cancelling its previous resting order
    unless ``keep_unfilled``), then the market runs for ``decision_interval_s``. At the
    horizon the remainder is sent as a market order that walks the book; what the book
    cannot absorb is reported in ``info["unfilled_at_horizon"]`` and charged
    ``unfilled_penalty_bps`` in the shortfall.

    Defaults: sell 20,000 shares over 30 minutes from the open in 60 decisions of 30 s,
    in :func:`default_market` (about a quarter of the market's expected volume).

    Action space (``config.action``):
      * ``"fraction"`` (default): ``Box(0, 1, (1,))``: a market order for that fraction of
        the remaining shares;
      * ``"participation"``: ``Discrete(5)``: a market order for the rate (5%..25%) times the
        interval's expected market volume;
      * ``"placement"``: ``Box([0, -K], [1, K], (2,))``: a limit order for ``a[0]`` of the
        remaining shares, ``round(a[1])`` ticks behind the own-side touch (negative crosses).

    Observation space: ``Box(shape=(11,), float32)``

    =====  ============================  ===========================================  ===========
    idx    name                          unit                                         range
    =====  ============================  ===========================================  ===========
    0      ``time_left_frac``            decisions left / ``n_steps``                 [0, 1]
    1      ``inventory_left_frac``       shares left / ``total_shares``               [0, 1]
    2      ``last_volume_ratio``         last interval's market volume / expected     [0, inf)
    3      ``next_volume_ratio``         next interval's expected volume / mean       [0, inf)
    4      ``spread_ticks``              best ask - best bid (100 if a side is empty) [1, 100]
    5      ``depth_imbalance``           (bid - ask) / (bid + ask) volume, top 5      [-1, 1]
    6      ``microprice_offset_ticks``   microprice - mid                             (-50, 50)
    7      ``volatility_ticks``          std of mid changes over recent decisions     [0, inf)
    8      ``mid_move_bps``              (mid - arrival mid) / arrival mid, bps       (-inf, inf)
    9      ``queue_ahead_frac``          shares ahead of the own resting order /      [0, 1]
                                         its level's volume (0 if none)
    10     ``has_resting_order``         1 if a child order rests in the book         {0, 1}
    =====  ============================  ===========================================  ===========

    Reward: minus the step's implementation shortfall against the arrival mid, in bps of
    arrival notional (``side * sum(fill - arrival) * size / (X * arrival) * 1e4``), minus
    the optional risk penalty; without it the episode's rewards sum to minus its shortfall.

    Episode end: terminated when the order is complete or at the horizon (after the
    forced completion); no truncation.

    The episode runs in the compiled core (:mod:`execgym.envs.lob_core`) on the native
    vector env's arrays at M = 1 (:class:`~execgym.envs.lob_vector.LOBExecutionVectorEnv`),
    so this class is the Gymnasium wrapper only. ``n_levels`` and ``capacity`` size its
    book as there (a price that leaves the ``n_levels``-tick grid raises, naming it).

    ``info`` every step: ``fill_prices`` (currency) and ``fill_sizes`` (shares) of the
    agent's fills (lists, one entry per fill),
    ``shares`` (executed this step), ``holdings``, ``mid``, ``market_volume``,
    ``time_s``, ``step``, ``cum_shortfall_bps``; at the end ``info["execution"]``
    (shortfall, average fill, market VWAP over the horizon, slippage, realised
    participation = own volume / total traded volume) and ``unfilled_at_horizon``.
    """

    config_class = LOBExecutionConfig

    def __init__(self, config: LOBExecutionConfig | Mapping[str, Any] | None = None, render_mode: str | None = None,
                 n_levels: int = 1 << 11, capacity: int | None = None, **overrides: Any) -> None:
        super().__init__(config, render_mode=render_mode, **overrides)
        self._markets = LOBExecutionVectorEnv(1, self.config, autoreset_mode=AutoresetMode.NEXT_STEP,
                                              n_levels=n_levels, capacity=capacity, prefetch=False,
                                              agent_fill_capacity=AGENT_FILL_CAPACITY)

    @property
    def tick_size(self) -> float:
        return self.config.market.tick_size

    @property
    def lot_size(self) -> int:
        return self.config.market.lot_size

    def _expected_volume_shares(self) -> np.ndarray:
        return simulated_expected_volume(self.config)

    def _initial_arrival_ticks(self) -> float:
        return self.config.market.initial_mid_ticks

    @property
    def _episode(self):
        return self._markets._es[0]

    def _start(self) -> np.ndarray:
        markets = self._markets
        markets._episode_rngs = [self.np_random]  # the market's streams come from this env's np_random
        markets._prepare_next(np.zeros(1, dtype=np.int64))
        markets._needs_reset[0] = True
        markets._call(np.zeros((1, 2)))
        return markets._obs[0].copy()

    def _decide(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, np.ndarray]:
        markets = self._markets
        markets._call(action)
        n = int(markets._n_agent_fills[0])
        if n > AGENT_FILL_CAPACITY:
            raise RuntimeError(f"{n} agent fills in one decision, more than the {AGENT_FILL_CAPACITY} recorded")
        return markets._obs[0].copy(), markets._rewards[0], markets._terminated[0], markets._agent_fills[0, :n]

    def _touch(self) -> tuple[int, int]:
        return self._markets.touch(0)

    def resting_child(self) -> dict[str, int] | None:
        """The agent's resting child order (placement): price (ticks), remaining and
        queue-ahead shares, its level's volume; ``None`` if none rests."""
        return self._markets.resting_child(0)
