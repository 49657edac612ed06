"""The Almgren-Chriss execution environment: the paper's dynamics as a simulation.

:class:`AlmgrenChrissConfig` holds the parameters, :class:`AlmgrenChrissDynamics` the
model (shared with the vectorised :mod:`execgym.envs.almgren_chriss_vector`), and
:class:`AlmgrenChrissEnv` the Gymnasium environment ``execgym/AlmgrenChriss-v0``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Mapping

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from execgym.envs.contract import (
    ACTION_KINDS,
    BPS,
    ExecutionTask,
    action_to_shares,
    check_participation_rates,
    real_action,
    side_sign,
)
from execgym.envs.market.simulation.volume import IntradayVolumeProfile, lognormal_mean_one
from execgym.envs.rendering import RENDER_METADATA, RenderMixin, check_render_mode
from execgym.envs.rewards import REWARD_KINDS, MeanVarianceReward, make_reward
from execgym.validation import (
    MAX_DECISIONS,
    check_choice,
    check_field_types,
    check_finite,
    check_int,
    check_nonnegative,
    check_positive,
)

logger = logging.getLogger(__name__)

__all__ = [
    "OBS_LAST_RETURN_Z",
    "OBS_PRICE_MOVE_Z",
    "AlmgrenChrissConfig",
    "AlmgrenChrissDynamics",
    "AlmgrenChrissEnv",
    "ac_spaces",
    "execution_summary",
]

# environment-specific observation features, after the common header (execgym.envs.contract)
OBS_LAST_RETURN_Z = 4
OBS_PRICE_MOVE_Z = 5
N_OBS = 6


@dataclass(frozen=True)
class AlmgrenChrissConfig:
    """Parameters of ``execgym/AlmgrenChriss-v0``. Defaults are the paper's example (section 3).

    Time is in trading days, money in USD. ``sigma = 0 `` is allowed (a noise-free
    market, useful in tests); the Almgren-Chriss *schedule* needs ``sigma > 0``.

    :param side: ``"sell"`` (liquidation) or ``"buy"`` (acquisition).
    :param total_shares: parent order ``X`` (shares).
    :param horizon_days: ``T`` (trading days).
    :param n_steps: ``N`` decision intervals, ``tau = T / N``.
    :param arrival_price_usd: ``S_0`` (USD/share).
    :param sigma: volatility of the arithmetic random walk (USD/share/sqrt(day)).
    :param drift_usd_per_day: drift ``mu`` of the unaffected price (USD/share/day), the
        same for both sides (a rising price helps a seller and hurts a buyer); 0 by
        default (the paper's driftless walk). Used to simulate a misspecified model.
    :param epsilon: fixed temporary cost per share traded (USD/share).
    :param eta: temporary impact (USD/share per share/day): a trade of ``n`` shares in
        one interval pays ``epsilon + eta * n / tau`` per share over the unaffected price.
    :param gamma: permanent impact (USD/share per share).
    :param risk_aversion: ``lambda`` (1/USD) of the mean-variance reward.
    :param reward: ``"shortfall"`` or ``"mean_variance"`` (:mod:`execgym.envs.rewards`).
    :param action: ``"fraction"`` (continuous) or ``"participation"`` (discrete).
    :param participation_rates: the discrete choices, fractions of expected volume.
    :param daily_volume_shares: expected market volume per day (shares).
    :param volume_profile: intraday volume model (a mapping is converted).
    """

    side: str = "sell"
    total_shares: float = 1_000_000.0
    horizon_days: float = 5.0
    n_steps: int = 50
    arrival_price_usd: float = 50.0
    sigma: float = 0.95
    drift_usd_per_day: float = 0.0
    epsilon: float = 0.0625
    eta: float = 2.5e-6
    gamma: float = 2.5e-7
    risk_aversion: float = 1e-6
    reward: str = "shortfall"
    action: str = "fraction"
    participation_rates: tuple[float, ...] = (0.05, 0.10, 0.15, 0.20, 0.25)
    daily_volume_shares: float = 5_000_000.0
    volume_profile: IntradayVolumeProfile = field(default_factory=IntradayVolumeProfile)

    def __post_init__(self) -> None:
        check_field_types(self)
        check_choice("side", self.side, ("buy", "sell"))
        check_positive("total_shares", self.total_shares)
        check_positive("horizon_days", self.horizon_days)
        if check_int("n_steps", self.n_steps, minimum=1) > MAX_DECISIONS:
            raise ValueError(f"n_steps must be <= {MAX_DECISIONS}, got {self.n_steps!r}")
        check_positive("arrival_price_usd", self.arrival_price_usd)
        check_nonnegative("sigma", self.sigma)
        object.__setattr__(self, "drift_usd_per_day", check_finite("drift_usd_per_day", self.drift_usd_per_day))
        check_nonnegative("epsilon", self.epsilon)
        check_nonnegative("eta", self.eta)
        check_nonnegative("gamma", self.gamma)
        check_nonnegative("risk_aversion", self.risk_aversion)
        check_choice("reward", self.reward, REWARD_KINDS)
        # the model has no book to place limit orders in: market-order actions only
        check_choice("action", self.action, tuple(k for k in ACTION_KINDS if k != "placement"))
        object.__setattr__(self, "participation_rates", check_participation_rates(self.participation_rates))
        check_positive("daily_volume_shares", self.daily_volume_shares)
        if isinstance(self.volume_profile, Mapping):
            object.__setattr__(self, "volume_profile", IntradayVolumeProfile(**self.volume_profile))
        elif not isinstance(self.volume_profile, IntradayVolumeProfile):
            raise TypeError(
                f"volume_profile must be an IntradayVolumeProfile or a mapping, got {self.volume_profile!r}"
            )

    @classmethod
    def from_kwargs(cls, config: AlmgrenChrissConfig | Mapping[str, Any] | None, **overrides: Any) -> AlmgrenChrissConfig:
        """A config from an instance, a mapping (e.g. a Hydra node) and/or keyword overrides."""
        if config is None:
            base: dict[str, Any] = {}
        elif isinstance(config, AlmgrenChrissConfig):
            return replace(config, **overrides) if overrides else config
        elif isinstance(config, Mapping):
            base = dict(config)
        else:
            raise TypeError(f"config must be an AlmgrenChrissConfig or a mapping, got {type(config).__name__}")
        base.update(overrides)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(base) - known)
        if unknown:
            raise TypeError(f"unknown AlmgrenChrissConfig parameter(s) {unknown}; known: {sorted(known)}")
        if "participation_rates" in base:
            base["participation_rates"] = tuple(base["participation_rates"])
        return cls(**base)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data view (for logs and saved configs)."""
        return asdict(self)


class AlmgrenChrissDynamics:
    """The model's equations on floats or ``(M,)`` arrays, shared by the single and vector envs.

    For side sign ``s`` (+1 buy, -1 sell) and a trade of ``n >= 0`` shares at step ``k``
    from unaffected price ``S``:

    * fill price ``S + s (epsilon 1[n > 0] + eta n / tau)`` (temporary impact);
    * cost ``s n (fill - S_0)`` (currency, positive = worse than arrival);
    * next unaffected price ``S + sigma sqrt(tau) xi + s gamma n + mu tau`` (random walk
      plus permanent impact plus drift ``mu = drift_usd_per_day``), ``xi ~ N(0, 1)``;
    * market volume ``E[V_k] exp(s_v z - s_v^2/2)``, ``z ~ N(0, 1)``.
    """

    def __init__(self, cfg: AlmgrenChrissConfig) -> None:
        try:
            self._build(cfg)
        except (OverflowError, ZeroDivisionError) as err:
            raise ValueError(f"the model's parameters overflow float64 arithmetic ({err}): sigma={cfg.sigma!r}, "
                             f"eta={cfg.eta!r}, gamma={cfg.gamma!r}, epsilon={cfg.epsilon!r}, "
                             f"risk_aversion={cfg.risk_aversion!r}, total_shares={cfg.total_shares!r}, "
                             f"arrival_price_usd={cfg.arrival_price_usd!r}") from None

    def _build(self, cfg: AlmgrenChrissConfig) -> None:
        self.cfg = cfg
        self.sign = side_sign(cfg.side)
        self.n_steps = cfg.n_steps
        self.tau = cfg.horizon_days / cfg.n_steps
        self.sqrt_tau = math.sqrt(self.tau)
        self.eta_over_tau = cfg.eta / self.tau
        self.drift_per_step = cfg.drift_usd_per_day * self.tau
        self.arrival = cfg.arrival_price_usd
        self.notional = cfg.total_shares * cfg.arrival_price_usd
        edges = np.linspace(0.0, cfg.horizon_days, cfg.n_steps + 1)
        self.expected_volume = cfg.volume_profile.expected_volume(edges, cfg.daily_volume_shares)
        self.expected_volume.setflags(write=False)
        self.mean_expected_volume = float(self.expected_volume.mean())
        # expected volume of the coming interval relative to the mean, per step (N + 1 entries:
        # the terminal observation repeats the last interval's)
        nxt = self.expected_volume / self.mean_expected_volume
        self.next_volume_ratio = np.append(nxt, nxt[-1])
        self.volume_noise_sigma = cfg.volume_profile.noise_sigma
        # observation scales of price moves: one step's and the horizon's standard deviation,
        # or one basis point of the arrival price when the market has no noise
        one_bp = cfg.arrival_price_usd / BPS
        self.step_price_scale = cfg.sigma * self.sqrt_tau if cfg.sigma > 0 else one_bp
        self.horizon_price_scale = cfg.sigma * math.sqrt(cfg.horizon_days) if cfg.sigma > 0 else one_bp
        self.reward_fn = make_reward(
            cfg.reward, self.notional, cfg.risk_aversion, cfg.sigma**2 * self.tau
        )
        self.mv = MeanVarianceReward(self.notional, cfg.risk_aversion, cfg.sigma**2 * self.tau)
        self.task = ExecutionTask(
            side=cfg.side,
            total_shares=cfg.total_shares,
            n_steps=cfg.n_steps,
            horizon=cfg.horizon_days,
            time_unit="days",
            arrival_price=cfg.arrival_price_usd,
            expected_volume_shares=self.expected_volume,
            action_kind=cfg.action,
            participation_rates=cfg.participation_rates,
            impact_model={
                "sigma": cfg.sigma,
                "eta": cfg.eta,
                "gamma": cfg.gamma,
                "epsilon": cfg.epsilon,
                "risk_aversion": cfg.risk_aversion,
            },
        )

    def fill_price(self, price, shares):
        """Execution price of ``shares`` traded from unaffected ``price`` (USD/share)."""
        return price + self.sign * (self.cfg.epsilon * (shares > 0) + self.eta_over_tau * shares)

    def cost(self, shares, fill):
        """Implementation-shortfall increment of a fill (USD)."""
        return self.sign * shares * (fill - self.arrival)

    def next_price(self, price, shares, xi):
        """Unaffected price after the interval (USD/share)."""
        # the drift is added last: with mu = 0 the prices are bit-identical to the driftless walk
        return price + self.cfg.sigma * self.sqrt_tau * xi + self.sign * self.cfg.gamma * shares + self.drift_per_step

    def market_volume(self, step, z):
        """Realised market volume of interval ``step`` (shares)."""
        return self.expected_volume[step] * lognormal_mean_one(z, self.volume_noise_sigma)

    def accumulate(self, acc, shares, fill, cost, holdings, volume, mid, new_price) -> None:
        """Add one step to the episode accumulators ``acc`` (:data:`EPISODE_ACCUMULATORS`), in place."""
        acc["cost"] += cost
        acc["risk_charge"] += self.mv.risk_charge(holdings)
        acc["fill_value"] += shares * fill
        acc["executed"] += shares
        acc["market_volume"] += volume
        acc["market_value"] += volume * 0.5 * (mid + new_price)


def ac_spaces(cfg: AlmgrenChrissConfig) -> tuple[spaces.Space, spaces.Box]:
    """``(action_space, observation_space)`` of one Almgren-Chriss episode."""
    if cfg.action == "fraction":
        action_space: spaces.Space = spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
    else:
        action_space = spaces.Discrete(len(cfg.participation_rates))
    low = np.array([0, 0, 0, 0, -np.inf, -np.inf], dtype=np.float32)
    high = np.array([1, 1, np.inf, np.inf, np.inf, np.inf], dtype=np.float32)
    return action_space, spaces.Box(low, high, dtype=np.float32)


def execution_summary(dynamics: AlmgrenChrissDynamics, acc: dict[str, Any], n_steps_done: Any) -> dict[str, Any]:
    """Episode summary from the accumulators ``acc`` (floats, or ``(M,)`` arrays).

    ``acc`` holds ``cost`` (USD), ``risk_charge`` (USD), ``fill_value`` (USD),
    ``executed`` (shares), ``market_volume`` (shares) and ``market_value`` (USD). Keys:
    ``shortfall_usd`` / ``shortfall_bps``: implementation shortfall vs the arrival price
    (positive = cost); ``executed_shares``; ``avg_fill_price`` (USD/share);
    ``arrival_price``; ``market_vwap`` (market volume-weighted mean of each interval's
    mid-interval unaffected price, USD/share); ``vwap_slippage_bps`` (average fill vs
    market VWAP, positive = worse); ``participation`` (executed / market volume);
    ``mv_cost_usd`` / ``mv_cost_bps``: shortfall plus ``lambda sigma^2 tau sum x_k^2``,
    whose mean over episodes of a fixed schedule is ``E + lambda V``; ``n_steps``.
    """
    d = dynamics
    executed, volume = np.asarray(acc["executed"]), np.asarray(acc["market_volume"])
    with np.errstate(divide="ignore", invalid="ignore"):
        avg_fill = np.where(executed > 0, acc["fill_value"] / executed, np.nan)
        vwap = np.where(volume > 0, acc["market_value"] / volume, np.nan)
        participation = np.where(volume > 0, executed / volume, np.nan)
    mv_cost = acc["cost"] + acc["risk_charge"]
    return {
        "shortfall_usd": acc["cost"] + 0.0,
        "shortfall_bps": acc["cost"] / d.notional * BPS,
        "executed_shares": executed + 0.0,
        "avg_fill_price": avg_fill,
        "arrival_price": np.full(executed.shape, d.arrival),
        "market_vwap": vwap,
        "vwap_slippage_bps": d.sign * (avg_fill - vwap) / vwap * BPS,
        "participation": participation,
        "mv_cost_usd": mv_cost,
        "mv_cost_bps": mv_cost / d.notional * BPS,
        "n_steps": np.asarray(n_steps_done, dtype=np.float64),
    }


EPISODE_ACCUMULATORS = ("cost", "risk_charge", "fill_value", "executed", "market_volume", "market_value")


class AlmgrenChrissEnv(RenderMixin, gym.Env):
    """Optimal execution in the Almgren-Chriss (2000) model.

    A parent order of ``total_shares`` is bought or sold over ``n_steps`` intervals; the
    price is an arithmetic random walk moved by the order's permanent impact, and each
    child order pays temporary impact (:class:`AlmgrenChrissDynamics`). Market volume
    follows a seeded U-shaped intraday profile, so volume-driven algorithms (VWAP, POV)
    have something to follow; it does not move the price in this model.

    Action space (``config.action``):
      * ``"fraction"``: ``Box(0, 1, (1,), float32)``, the fraction of the remaining shares
        to trade this step;
      * ``"participation"``: ``Discrete(len(participation_rates))``, trade
        ``participation_rates[a]`` x the interval's expected volume (capped by what is left).
      Whatever the action, the last step trades every remaining share.

    Observation space: ``Box(shape=(6,), float32)``

    =====  ======================  =====================================  ============
    idx    name                    unit                                   range
    =====  ======================  =====================================  ============
    0      ``time_left_frac``      steps left / ``n_steps``               [0, 1]
    1      ``inventory_left_frac`` shares left / ``total_shares``         [0, 1]
    2      ``last_volume_ratio``   last interval's volume / expected      [0, inf)
    3      ``next_volume_ratio``   coming interval's expected volume /    [0, inf)
                                   mean per interval
    4      ``last_return_z``       last interval's price change /         (-inf, inf)
                                   ``sigma sqrt(tau)`` (1 bp if sigma=0)
    5      ``price_move_z``        price change since arrival /           (-inf, inf)
                                   ``sigma sqrt(T)`` (1 bp if sigma=0)
    =====  ======================  =====================================  ============

    Rewards (``config.reward``), in bps of arrival notional ``X S_0``
    (:mod:`execgym.envs.rewards`):
      * ``"shortfall"``: minus the step's implementation shortfall; the episode sums to
        minus its shortfall in bps;
      * ``"mean_variance"``: also minus ``lambda sigma^2 tau x_k^2``, so the expected
        return of a fixed schedule is ``-(E + lambda V)`` in bps.

    Starting state: ``x_0 = total_shares``, price ``S_0``.

    Episode end: *terminated* when no shares are left, which happens at the latest
    after ``n_steps`` steps; there is no truncation.

    ``info`` at every step: ``step`` (0-based decision index), ``time_days`` (decision
    time), ``shares`` (child order), ``fill_price`` (NaN if nothing traded), ``mid``
    (unaffected price at decision), ``market_volume`` (shares in the interval),
    ``holdings`` (shares left after the trade), ``cum_shortfall_bps``. At the end,
    ``info["execution"]`` summarises the episode (see :func:`execution_summary`).
    """

    metadata = dict(RENDER_METADATA)

    def __init__(self, config: AlmgrenChrissConfig | Mapping[str, Any] | None = None, render_mode: str | None = None,
                 **overrides: Any) -> None:
        super().__init__()
        self.render_mode = check_render_mode(render_mode)
        self.config = AlmgrenChrissConfig.from_kwargs(config, **overrides)
        self.dynamics = AlmgrenChrissDynamics(self.config)
        self.task = self.dynamics.task
        self.action_space, self.observation_space = ac_spaces(self.config)
        self._step: int | None = None

    # -- state ---------------------------------------------------------------------------

    def _observation(self) -> np.ndarray:
        d = self.dynamics
        return np.array(
            [
                (d.n_steps - self._step) / d.n_steps,
                self._holdings / self.config.total_shares,
                self._last_volume_ratio,
                d.next_volume_ratio[self._step],
                (self._price - self._prev_price) / d.step_price_scale,
                (self._price - d.arrival) / d.horizon_price_scale,
            ],
            dtype=np.float32,
        )

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._step = 0
        self._holdings = float(self.config.total_shares)
        self._price = self._prev_price = float(self.dynamics.arrival)
        self._last_volume_ratio = 1.0
        self._last_fill = math.nan
        # USD: shortfall; lambda sigma^2 tau sum x_k^2; sum of shares * fill; shares executed;
        # market shares; market volume * interval mean price (USD)
        self._acc = dict.fromkeys(EPISODE_ACCUMULATORS, 0.0)
        return self._observation(), {}

    def _render_state(self) -> dict[str, Any]:
        d, step = self.dynamics, self._step
        left = d.n_steps - (step or 0)
        return dict(step=step, n_steps=d.n_steps, time_left=f"{left} steps ({left * d.tau:.4g} days)",
                    holdings_shares=getattr(self, "_holdings", self.config.total_shares),
                    total_shares=self.config.total_shares, side=self.config.side,
                    last_fill=getattr(self, "_last_fill", math.nan), spread="none (no book in this model)")

    def _validate_action(self, action: Any) -> Any:
        if self.config.action == "fraction":
            value = float(real_action(action, ((1,),))[0])
            if not (0.0 <= value <= 1.0):  # also rejects NaN
                raise ValueError(f"action must be a fraction of remaining shares in [0, 1], got {action!r}")
            return np.array([value])
        a = real_action(action, ((), (1,)), integer=True)
        n = self.action_space.n
        if not (0 <= int(a.reshape(-1)[0]) < n):
            raise ValueError(
                f"action must be an integer index in [0, {n}) into participation_rates "
                f"{self.config.participation_rates}, got {action!r}"
            )
        return np.array([int(a.reshape(-1)[0])])

    def step(self, action: Any):
        if self._step is None:
            raise RuntimeError("call reset() before step()")
        if self._step >= self.config.n_steps or self._holdings <= 0.0:
            raise RuntimeError("the episode has ended; call reset()")
        a = self._validate_action(action)
        d, k = self.dynamics, self._step
        remaining = self._holdings
        if k == d.n_steps - 1:
            shares = remaining
        else:
            shares = float(action_to_shares(self.task, a, np.array([remaining]), np.array([k]))[0])
        # both draws every step, whatever the action: common random numbers across policies
        xi = float(self.np_random.standard_normal())
        z = float(self.np_random.standard_normal())

        mid = self._price
        fill = d.fill_price(mid, shares)
        cost = d.cost(shares, fill)
        holdings = remaining - shares if shares < remaining else 0.0
        new_price = d.next_price(mid, shares, xi)
        volume = float(d.market_volume(k, z))

        acc = self._acc
        d.accumulate(acc, shares, fill, cost, holdings, volume, mid, new_price)
        self._holdings = holdings
        self._prev_price, self._price = mid, new_price
        self._last_volume_ratio = volume / d.expected_volume[k]
        self._last_fill = fill if shares > 0 else math.nan
        self._step = k + 1

        reward = float(d.reward_fn(cost, holdings))
        terminated = holdings <= 0.0 or self._step >= d.n_steps
        info: dict[str, Any] = {
            "step": k,
            "time_days": k * d.tau,
            "shares": shares,
            "fill_price": fill if shares > 0 else math.nan,
            "mid": mid,
            "market_volume": volume,
            "holdings": holdings,
            "cum_shortfall_bps": acc["cost"] / d.notional * BPS,
        }
        if terminated:
            summary = execution_summary(d, acc, self._step)
            info["execution"] = {key: float(value) for key, value in summary.items()}
        return self._observation(), reward, terminated, False, info
