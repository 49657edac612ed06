"""A natively vectorised Almgren-Chriss environment: M episodes stepped as numpy arrays.

Same model and spaces as :class:`execgym.envs.almgren_chriss.AlmgrenChrissEnv` (the equations
are the shared :class:`~execgym.envs.almgren_chriss.AlmgrenChrissDynamics`), with every
episode's state in ``(M,)`` arrays and termination and autoreset handled by boolean
masks, never by a Python loop over episodes.

Randomness: one ``np.random.Generator`` (seeded by ``reset(seed=...)``) draws ``(M,)``
price and volume shocks per step, so a seed reproduces the whole batch exactly; the
episodes have the same distribution as the single environment's, not the same draws.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from execgym.envs.almgren_chriss import (
    EPISODE_ACCUMULATORS,
    N_OBS,
    AlmgrenChrissConfig,
    AlmgrenChrissDynamics,
    ac_spaces,
    execution_summary,
)
from execgym.envs.contract import action_to_shares, real_action
from execgym.envs.rendering import check_render_mode
from execgym.envs.state import SnapshotMixin
from execgym.validation import check_int

__all__ = ["AlmgrenChrissVectorEnv"]


class AlmgrenChrissVectorEnv(SnapshotMixin, VectorEnv):
    """``num_envs`` independent Almgren-Chriss episodes in one set of arrays.

    :param num_envs: number of episodes ``M`` stepped together.
    :param config: an :class:`~execgym.envs.almgren_chriss.AlmgrenChrissConfig` or a mapping;
        keyword ``overrides`` are config fields, as for the single environment.
    :param autoreset_mode: ``"NextStep"`` (Gymnasium's default: the step after an
        episode ends returns the reset observation, reward 0) or ``"SameStep"`` (the
        reset observation comes back in the same step, the terminal one in
        ``info["final_obs"]``).

    ``info["execution"]`` holds the episode summaries (same keys as the single env's)
    as ``(M,)`` arrays, with ``info["_execution"]`` masking the episodes that ended.
    """

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int,
        config: AlmgrenChrissConfig | Mapping[str, Any] | None = None,
        autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        super().__init__()
        self.render_mode = check_render_mode(render_mode, allowed=())
        self.num_envs = check_int("num_envs", num_envs, minimum=1)
        self.autoreset_mode = AutoresetMode(autoreset_mode)
        if self.autoreset_mode == AutoresetMode.DISABLED:
            raise ValueError("autoreset_mode must be 'NextStep' or 'SameStep', got 'Disabled'")
        self.metadata = {**self.metadata, "autoreset_mode": self.autoreset_mode}
        self.config = AlmgrenChrissConfig.from_kwargs(config, **overrides)
        self.dynamics = AlmgrenChrissDynamics(self.config)
        self.task = self.dynamics.task
        self.single_action_space, self.single_observation_space = ac_spaces(self.config)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        m = self.num_envs
        self._step_idx = np.zeros(m, dtype=np.int64)
        self._holdings = np.zeros(m)
        self._price = np.zeros(m)
        self._prev_price = np.zeros(m)
        self._last_volume_ratio = np.ones(m)
        self._acc = {key: np.zeros(m) for key in EPISODE_ACCUMULATORS}
        self._needs_reset = np.zeros(m, dtype=bool)
        self._started = False

    def _reset_where(self, mask: np.ndarray | slice) -> None:
        self._step_idx[mask] = 0
        self._holdings[mask] = self.config.total_shares
        self._price[mask] = self.dynamics.arrival
        self._prev_price[mask] = self.dynamics.arrival
        self._last_volume_ratio[mask] = 1.0
        for acc in self._acc.values():
            acc[mask] = 0.0

    def _observations(self) -> np.ndarray:
        d = self.dynamics
        obs = np.empty((self.num_envs, N_OBS), dtype=np.float32)
        obs[:, 0] = (d.n_steps - self._step_idx) / d.n_steps
        obs[:, 1] = self._holdings / self.config.total_shares
        obs[:, 2] = self._last_volume_ratio
        obs[:, 3] = d.next_volume_ratio[self._step_idx]
        obs[:, 4] = (self._price - self._prev_price) / d.step_price_scale
        obs[:, 5] = (self._price - d.arrival) / d.horizon_price_scale
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an int or None, got {seed!r}")
        super().reset(seed=seed)
        self._reset_where(slice(None))
        self._needs_reset[:] = False
        self._started = True
        return self._observations(), {}

    def _validate_actions(self, actions: Any) -> np.ndarray:
        m = self.num_envs
        if self.config.action == "fraction":
            a = real_action(actions, ((m, 1), (m,)), name="actions").reshape(-1)
            bad = ~((a >= 0.0) & (a <= 1.0))  # NaN fails both comparisons
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise ValueError(
                    f"actions must be fractions of remaining shares in [0, 1]; env {i} got {a[i]!r}"
                )
            return a
        a = real_action(actions, ((m,), (m, 1)), integer=True, name="actions").reshape(-1)
        n = self.single_action_space.n
        bad = (a < 0) | (a >= n)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"actions must be indices in [0, {n}); env {i} got {a[i]!r}")
        return a.astype(np.int64)

    def step(self, actions: Any):
        if not self._started:
            raise RuntimeError("call reset() before step()")
        a = self._validate_actions(actions)
        d = self.dynamics
        rng = self.np_random
        # episodes awaiting a NextStep reset sit at k = n_steps; clip so indexing stays valid
        # (their step is computed and then discarded by the reset below)
        k = np.minimum(self._step_idx, d.n_steps - 1)
        remaining = self._holdings
        last = k == d.n_steps - 1
        shares = np.where(last, remaining, action_to_shares(self.task, a, remaining, k))
        xi = rng.standard_normal(self.num_envs)
        z = rng.standard_normal(self.num_envs)

        fill = d.fill_price(self._price, shares)
        cost = d.cost(shares, fill)
        holdings = np.where(shares < remaining, remaining - shares, 0.0)
        new_price = d.next_price(self._price, shares, xi)
        volume = d.market_volume(k, z)

        acc = self._acc
        d.accumulate(acc, shares, fill, cost, holdings, volume, self._price, new_price)
        self._holdings = holdings
        self._prev_price, self._price = self._price, new_price
        self._last_volume_ratio = volume / d.expected_volume[k]
        self._step_idx = k + 1

        rewards = np.asarray(d.reward_fn(cost, holdings), dtype=np.float64)
        terminated = (holdings <= 0.0) | (self._step_idx >= d.n_steps)
        truncated = np.zeros(self.num_envs, dtype=bool)
        infos: dict[str, Any] = {}

        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            was_done = self._needs_reset
            if was_done.any():
                # episodes that ended last step restart now; their action is ignored
                self._reset_where(was_done)
                rewards[was_done] = 0.0
                terminated[was_done] = False
            if terminated.any():
                infos["execution"] = self._masked(execution_summary(d, acc, self._step_idx), terminated)
                infos["_execution"] = terminated.copy()
            self._needs_reset = terminated.copy()
            return self._observations(), rewards, terminated, truncated, infos

        # SAME_STEP: report the terminal observation, then restart in place
        obs = self._observations()
        if terminated.any():
            infos["execution"] = self._masked(execution_summary(d, acc, self._step_idx), terminated)
            infos["_execution"] = terminated.copy()
            final_obs = np.full(self.num_envs, None, dtype=object)
            for i in np.flatnonzero(terminated):
                final_obs[i] = obs[i].copy()
            infos["final_obs"], infos["_final_obs"] = final_obs, terminated.copy()
            self._reset_where(terminated)
            obs = self._observations()
        return obs, rewards, terminated, truncated, infos

    @staticmethod
    def _masked(summary: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for key, value in summary.items():
            out[key] = np.where(mask, value, 0.0)
            out[f"_{key}"] = mask.copy()
        return out

    def __repr__(self) -> str:
        return f"AlmgrenChrissVectorEnv(num_envs={self.num_envs}, side={self.config.side!r})"

