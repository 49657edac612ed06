"""The adaptive execution agent: a batched advantage actor-critic (A2C) with GAE.

The reference module sketches an ``AdaptiveExecutionAgent`` (a 128-64 softmax actor over
the participation rates and a 128-64 critic sharing one Adam optimiser) that only samples
actions. This is the complete learner:

* rollouts of ``n_steps`` from ``n_envs`` environments in a Gymnasium vector env (the
  native ``AlmgrenChrissVectorEnv`` or ``SyncVectorEnv``) with same-step autoreset;
* generalised advantage estimation (Schulman et al. 2016) with ``gamma`` and
  ``gae_lambda``; truncated episodes bootstrap from the critic's value of their final
  observation, terminated ones from zero;
* loss ``-(log pi(a|s) A) - ent_coef H(pi) + vf_coef (R - V(s))^2``, gradient-norm
  clipping, Adam;
* running mean/variance observation normalisation (saved with the model);
* ``learn(total_timesteps, callback)``, ``save``/``load`` and SB3's ``predict``
  (argmax when ``deterministic``).

Discrete action spaces only (the participation rates); use stable-baselines3 (PPO, SAC,
TD3) for continuous ones. Seeded: weights, action sampling and the environments' resets
come from ``seed``, so the same seed gives the same learning curve on CPU.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from torch import nn

from execgym.agents.checkpoint import (
    atomic_save,
    from_tensors,
    load_checkpoint,
    space_from_dict,
    space_to_dict,
    to_tensors,
)
from execgym.validation import check_fraction, check_int, check_nonnegative, check_positive

logger = logging.getLogger(__name__)

#: the ``format`` of the actor-critic's checkpoint files
CHECKPOINT_FORMAT = "execgym.actor_critic/2"

__all__ = ["ActorCritic", "ActorCriticConfig", "RunningMeanStd", "TrainingCallback"]


@dataclass(frozen=True)
class ActorCriticConfig:
    """Hyperparameters of :class:`ActorCritic` (the Hydra group ``agent=actor_critic``).

    :param learning_rate: Adam step size.
    :param n_steps: rollout length per environment between updates.
    :param gamma: discount factor per decision.
    :param gae_lambda: GAE's bias/variance trade-off.
    :param ent_coef: entropy bonus weight.
    :param vf_coef: value-loss weight.
    :param max_grad_norm: gradient-norm clip.
    :param hidden_sizes: widths of the actor's and the critic's hidden layers.
    :param normalize_obs: keep running observation statistics and standardise inputs.
    :param reward_scale: rewards are multiplied by this before learning (bps are large).
    """

    learning_rate: float = 7e-4
    n_steps: int = 16
    gamma: float = 1.0
    gae_lambda: float = 0.95
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    hidden_sizes: tuple[int, ...] = (128, 64)
    normalize_obs: bool = True
    reward_scale: float = 0.01

    def __post_init__(self) -> None:
        check_positive("learning_rate", self.learning_rate)
        check_int("n_steps", self.n_steps, minimum=1)
        check_fraction("gamma", self.gamma)
        check_fraction("gae_lambda", self.gae_lambda)
        check_nonnegative("ent_coef", self.ent_coef)
        check_nonnegative("vf_coef", self.vf_coef)
        check_positive("max_grad_norm", self.max_grad_norm)
        sizes = tuple(int(check_int("hidden_sizes[i]", h, minimum=1)) for h in self.hidden_sizes)
        if not sizes:
            raise ValueError("hidden_sizes must list at least one layer width")
        object.__setattr__(self, "hidden_sizes", sizes)
        check_positive("reward_scale", self.reward_scale)


class RunningMeanStd:
    """Running mean and variance of observations (parallel Welford update)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.mean = np.zeros(shape)
        self.var = np.ones(shape)
        self.count = 1e-4

    def update(self, batch: np.ndarray) -> None:
        b_mean, b_var, b_count = batch.mean(axis=0), batch.var(axis=0), batch.shape[0]
        delta = b_mean - self.mean
        total = self.count + b_count
        self.mean = self.mean + delta * b_count / total
        m2 = self.var * self.count + b_var * b_count + delta**2 * self.count * b_count / total
        self.var = m2 / total
        self.count = total

    def normalize(self, obs: np.ndarray) -> np.ndarray:
        return np.clip((obs - self.mean) / np.sqrt(self.var + 1e-8), -10.0, 10.0)


class TrainingCallback(Protocol):
    """Called after every update; return ``False`` to stop training."""

    def __call__(self, agent: ActorCritic, num_timesteps: int) -> bool: ...


def _mlp(sizes: list[int], out: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(sizes[-1], out))
    return nn.Sequential(*layers)


class ActorCritic:
    """Advantage actor-critic for discrete actions (module docstring).

    :param env: a Gymnasium vector env with same-step autoreset (e.g.
        ``AlmgrenChrissVectorEnv(n, autoreset_mode="SameStep")``), or a callable that
        makes one single environment (then ``n_envs`` copies run in a ``SyncVectorEnv``).
    :param config: hyperparameters.
    :param n_envs: copies when ``env`` is a callable.
    :param seed: seeds weights, action sampling and the environments.
    :param tensorboard_log: a folder for TensorBoard: after every update, ``learn`` writes
        (under ``<folder>/actor_critic``, at the step count) SB3's tags where they mean the same:
        ``train/policy_loss``, ``train/value_loss``, ``train/entropy``,
        ``train/explained_variance``, ``rollout/ep_rew_mean`` and ``rollout/ep_len_mean``
        (last 100 episodes) and ``time/fps`` (environment steps per second of this ``learn``).
    """

    def __init__(
        self,
        env: gym.vector.VectorEnv | Callable[[], gym.Env] | None,
        config: ActorCriticConfig | None = None,
        n_envs: int = 8,
        seed: int = 0,
        observation_space: gym.spaces.Box | None = None,
        action_space: gym.spaces.Discrete | None = None,
        tensorboard_log: str | Path | None = None,
    ) -> None:
        self.config = config or ActorCriticConfig()
        self.tensorboard_log = tensorboard_log
        #: plain values saved with the agent (the trainer records the env id and agent name)
        self.metadata: dict[str, Any] = {}
        self.seed = check_int("seed", seed, minimum=0)
        self.env = None
        if env is not None:
            if isinstance(env, gym.vector.VectorEnv):
                self.env = env
            elif callable(env):
                self.env = gym.vector.SyncVectorEnv([env] * check_int("n_envs", n_envs, minimum=1),
                                                    autoreset_mode=AutoresetMode.SAME_STEP)
            else:
                raise TypeError(f"env must be a gymnasium VectorEnv or a callable making one env, got {env!r}")
            if self.env.metadata.get("autoreset_mode") != AutoresetMode.SAME_STEP:
                raise ValueError("the vector env must use same-step autoreset (autoreset_mode='SameStep')")
            observation_space = self.env.single_observation_space
            action_space = self.env.single_action_space
        if not isinstance(action_space, gym.spaces.Discrete):
            raise TypeError(
                f"ActorCritic needs a Discrete action space (e.g. execgym/AlmgrenChrissDiscrete-v0), got "
                f"{action_space!r}; for continuous actions use stable-baselines3 PPO, SAC or TD3"
            )
        self.observation_space, self.action_space = observation_space, action_space
        obs_dim = int(np.prod(observation_space.shape))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            sizes = [obs_dim, *self.config.hidden_sizes]
            self.actor = _mlp(sizes, int(action_space.n))
            self.critic = _mlp(sizes, 1)
        self.optimizer = torch.optim.Adam(list(self.actor.parameters()) + list(self.critic.parameters()),
                                          lr=self.config.learning_rate)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.obs_rms = RunningMeanStd(observation_space.shape)
        self.num_timesteps = 0
        self._obs: np.ndarray | None = None

    # -- acting ------------------------------------------------------------------------

    def _prepare(self, obs: np.ndarray) -> torch.Tensor:
        if self.config.normalize_obs:
            obs = self.obs_rms.normalize(obs)
        return torch.as_tensor(obs, dtype=torch.float32)

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, Any]:
        """SB3's signature: the action for one observation or a batch (argmax if deterministic)."""
        if isinstance(observation, tuple):
            raise TypeError("predict() got a tuple; pass only the observation: obs, info = env.reset()")
        obs = np.asarray(observation, dtype=np.float64)
        single = obs.ndim == len(self.observation_space.shape)
        batch = obs.reshape(1, -1) if single else obs.reshape(obs.shape[0], -1)
        with torch.no_grad():
            logits = self.actor(self._prepare(batch))
            if deterministic:
                action = logits.argmax(dim=-1)
            else:
                action = torch.multinomial(torch.softmax(logits, -1), 1, generator=self.generator).squeeze(-1)
        action = action.numpy().astype(np.int64)
        return (action[0] if single else action), state

    # -- learning ----------------------------------------------------------------------

    def learn(self, total_timesteps: int, callback: TrainingCallback | None = None,
              progress: bool = True) -> ActorCritic:
        """Train for ``total_timesteps`` environment steps (across all copies).

        Logs a line per ~10% of the budget (episode return so far, steps/s); ``callback``
        runs after every update and may stop training by returning ``False``.
        """
        if self.env is None:
            raise RuntimeError("this agent has no environment (it was loaded for prediction); pass one to load()")
        total = check_int("total_timesteps", total_timesteps, minimum=1)
        cfg, env = self.config, self.env
        n_envs = env.num_envs
        if self._obs is None:
            self._obs, _ = env.reset(seed=self.seed)
        target = self.num_timesteps + total
        start, next_log = time.perf_counter(), self.num_timesteps + max(total // 10, 1)
        ep_returns, ep_lengths, running, length = [], [], np.zeros(n_envs), np.zeros(n_envs, dtype=np.int64)
        writer = None
        if self.tensorboard_log is not None:
            from torch.utils.tensorboard import SummaryWriter  # only when logging: it imports tensorboard

            writer = SummaryWriter(log_dir=str(Path(self.tensorboard_log) / "actor_critic"))
        while self.num_timesteps < target:
            obs_buf = np.zeros((cfg.n_steps, n_envs, *self.observation_space.shape))
            act_buf = np.zeros((cfg.n_steps, n_envs), dtype=np.int64)
            rew_buf = np.zeros((cfg.n_steps, n_envs))
            done_buf = np.zeros((cfg.n_steps, n_envs))
            boot_buf = np.zeros((cfg.n_steps, n_envs))  # value of truncated episodes' final obs
            for t in range(cfg.n_steps):
                if cfg.normalize_obs:
                    self.obs_rms.update(self._obs)
                action, _ = self.predict(self._obs)
                next_obs, reward, terminated, truncated, info = env.step(action)
                obs_buf[t], act_buf[t] = self._obs, action
                rew_buf[t] = reward * cfg.reward_scale
                done_buf[t] = np.logical_or(terminated, truncated)
                running += reward
                length += 1
                for i in np.flatnonzero(truncated & ~terminated):
                    with torch.no_grad():
                        final = np.asarray(info["final_obs"][i], dtype=np.float64)[None]
                        boot_buf[t, i] = float(self.critic(self._prepare(final)))
                for i in np.flatnonzero(done_buf[t]):
                    ep_returns.append(running[i])
                    ep_lengths.append(int(length[i]))
                    running[i], length[i] = 0.0, 0
                self._obs = next_obs
            self._update(obs_buf, act_buf, rew_buf, done_buf, boot_buf)
            self.num_timesteps += cfg.n_steps * n_envs
            if writer is not None:
                fps = (self.num_timesteps - target + total) / (time.perf_counter() - start)
                self._log(writer, ep_returns[-100:], ep_lengths[-100:], fps)
            if progress and self.num_timesteps >= next_log:
                recent = np.mean(ep_returns[-50:]) if ep_returns else float("nan")
                logger.info("actor-critic: %d/%d steps, mean episode return %.3f, %.0f steps/s",
                            self.num_timesteps, target, recent,
                            (self.num_timesteps - target + total) / (time.perf_counter() - start))
                next_log += max(total // 10, 1)
            if callback is not None and callback(self, self.num_timesteps) is False:
                break
        if writer is not None:
            writer.close()
        return self

    def _log(self, writer, returns: list[float], lengths: list[int], fps: float) -> None:
        """One TensorBoard point per update, at the step count (tags: see the class docstring)."""
        n = self.num_timesteps
        for tag, value in (("train/policy_loss", self.last_losses["policy"]),
                           ("train/value_loss", self.last_losses["value"]),
                           ("train/entropy", self.last_losses["entropy"]),
                           ("train/explained_variance", self.last_losses["explained_variance"]),
                           ("time/fps", fps)):
            writer.add_scalar(tag, value, n)
        if returns:
            writer.add_scalar("rollout/ep_rew_mean", float(np.mean(returns)), n)
            writer.add_scalar("rollout/ep_len_mean", float(np.mean(lengths)), n)

    def _update(self, obs, actions, rewards, dones, bootstrap) -> None:
        cfg = self.config
        n_steps, n_envs = rewards.shape
        flat_obs = self._prepare(obs.reshape(n_steps * n_envs, -1))
        values = self.critic(flat_obs).reshape(n_steps, n_envs)
        with torch.no_grad():
            last_value = self.critic(self._prepare(self._obs)).squeeze(-1).numpy()
            v = values.detach().numpy()
            adv = np.zeros_like(rewards)
            gae = np.zeros(n_envs)
            for t in reversed(range(n_steps)):
                next_v = last_value if t == n_steps - 1 else v[t + 1]
                # at an episode end the next state is a reset: bootstrap only a truncation
                next_v = np.where(dones[t] > 0, bootstrap[t], next_v)
                nonterminal = 1.0 - dones[t]
                delta = rewards[t] + cfg.gamma * next_v - v[t]
                gae = delta + cfg.gamma * cfg.gae_lambda * nonterminal * gae
                adv[t] = gae
            returns = torch.as_tensor(adv + v, dtype=torch.float32).reshape(-1)
            adv_t = torch.as_tensor(adv, dtype=torch.float32).reshape(-1)
            adv_t = (adv_t - adv_t.mean()) / (adv_t.std() + 1e-8)
        logits = self.actor(flat_obs)
        dist = torch.distributions.Categorical(logits=logits)
        act = torch.as_tensor(actions.reshape(-1))
        policy_loss = -(dist.log_prob(act) * adv_t).mean()
        value_loss = ((returns - values.reshape(-1)) ** 2).mean()
        entropy = dist.entropy().mean()
        loss = policy_loss + cfg.vf_coef * value_loss - cfg.ent_coef * entropy
        self.optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(list(self.actor.parameters()) + list(self.critic.parameters()), cfg.max_grad_norm)
        self.optimizer.step()
        target_var = float(returns.var())
        explained = 1.0 - float((returns - values.detach().reshape(-1)).var()) / target_var if target_var > 0 else math.nan
        self.last_losses = {"policy": policy_loss.item(), "value": value_loss.item(), "entropy": entropy.item(),
                            "explained_variance": explained}

    # -- persistence -------------------------------------------------------------------

    def save(self, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
        """Save everything needed to continue exactly (one ``.pt`` file, written atomically):
        weights, optimiser, observation statistics, config, seed, step count, the action
        sampler's generator and, while training on a native vector env, that env's full
        state (markets, random streams, episode counters) and its current observations.

        :param metadata: plain values stored with it (e.g. the env id and agent name);
            defaults to :attr:`metadata`.
        """
        data: dict[str, Any] = {
            "format": CHECKPOINT_FORMAT, "config": asdict(self.config), "seed": self.seed,
            "num_timesteps": int(self.num_timesteps), "actor": self.actor.state_dict(),
            "critic": self.critic.state_dict(), "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "obs_rms": to_tensors({"mean": np.asarray(self.obs_rms.mean), "var": np.asarray(self.obs_rms.var),
                                   "count": float(self.obs_rms.count)}),
            "observation_space": space_to_dict(self.observation_space),
            "action_space": space_to_dict(self.action_space),
            "metadata": dict(self.metadata if metadata is None else metadata),
        }
        if self.env is not None and self._obs is not None and hasattr(self.env, "get_state"):
            data["training"] = to_tensors({"env_state": self.env.get_state(), "last_obs": np.asarray(self._obs)})
        return atomic_save(data, path)

    @classmethod
    def load(cls, path: str | Path, env: gym.vector.VectorEnv | Callable[[], gym.Env] | None = None,
             n_envs: int = 8, tensorboard_log: str | Path | None = None) -> ActorCritic:
        """Load a saved agent; pass ``env`` to continue training (resume), omit it to predict.

        With a native vector env of the same config, training continues exactly where the
        checkpoint was taken (bit for bit on CPU); other envs restart their episodes.

        :raises ValueError: naming the file, if it is not a readable actor-critic checkpoint,
            or if ``env``'s spaces differ from the checkpoint's (both are named).
        """
        return cls.from_checkpoint(load_checkpoint(path, CHECKPOINT_FORMAT), path, env, n_envs, tensorboard_log)

    @classmethod
    def from_checkpoint(cls, data: dict[str, Any], path: str | Path,
                        env: gym.vector.VectorEnv | Callable[[], gym.Env] | None = None, n_envs: int = 8,
                        tensorboard_log: str | Path | None = None) -> ActorCritic:
        """:meth:`load` from a checkpoint dict already read (by
        :func:`~execgym.agents.checkpoint.load_checkpoint`) from ``path`` (named in errors)."""
        observation_space = space_from_dict(data["observation_space"])
        action_space = space_from_dict(data["action_space"])
        agent = cls(env, ActorCriticConfig(**data["config"]), n_envs=n_envs, seed=data["seed"],
                    observation_space=observation_space, action_space=action_space,
                    tensorboard_log=tensorboard_log)
        if agent.observation_space != observation_space or agent.action_space != action_space:
            raise ValueError(f"{path}: the checkpoint's spaces (observation {observation_space}, action "
                             f"{action_space}) differ from the env's (observation {agent.observation_space}, "
                             f"action {agent.action_space})")
        agent.actor.load_state_dict(data["actor"])
        agent.critic.load_state_dict(data["critic"])
        agent.optimizer.load_state_dict(data["optimizer"])
        agent.generator.set_state(data["generator"])
        rms = from_tensors(data["obs_rms"])
        agent.obs_rms.mean, agent.obs_rms.var, agent.obs_rms.count = rms["mean"], rms["var"], rms["count"]
        agent.num_timesteps = int(data["num_timesteps"])
        agent.metadata = dict(data.get("metadata", {}))
        if agent.env is not None:
            training = data.get("training")
            if training is not None and hasattr(agent.env, "set_state"):
                state = from_tensors(training)
                try:
                    agent.env.set_state(state["env_state"])
                except ValueError as err:
                    raise ValueError(f"{path}: the checkpoint was trained on another env: {err}") from err
                agent._obs = state["last_obs"]
            else:
                logger.warning("%s: no env state to restore (an env without snapshots): training continues "
                               "from fresh episodes, not bit for bit", path)
        return agent
