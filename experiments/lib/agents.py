"""Build trainable agents (execgym's actor-critic or SB3 models) from Hydra configs."""

from __future__ import annotations

import io
import logging
import pickle
import random
import zipfile
from pathlib import Path
from typing import Any, Callable, Mapping

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.vec_env import VecMonitor

from execgym import envs
from execgym.agents.actor_critic import CHECKPOINT_FORMAT, ActorCritic, ActorCriticConfig
from execgym.agents.checkpoint import atomic_write, load_checkpoint
from execgym.agents.residual import ResidualPolicy, ResidualVectorEnv, ScheduleResidual
from execgym.agents.sb3 import SB3_ALGORITHMS, GymnasiumVecEnv, make_sb3_model, without_log_folder
from execgym.envs.state import SnapshotSyncVectorEnv

logger = logging.getLogger(__name__)

__all__ = ["AGENT_KINDS", "Trainable", "build_agent", "load_policy", "make_vector_env"]

AGENT_KINDS = ("actor_critic", *SB3_ALGORITHMS)

#: the member of an off-policy SB3 checkpoint's .zip that holds its replay buffer (SB3's own
#: loader reads only ``data`` and ``*.pth`` members, so the file stays an ordinary SB3 zip)
REPLAY_BUFFER_MEMBER = "execgym_replay_buffer.pkl"


def make_vector_env(env_id: str, config: Any, n_envs: int) -> gym.vector.VectorEnv:
    """``n_envs`` copies of the environment with same-step autoreset: the native vector env
    where the id has one, else gymnasium's ``SyncVectorEnv`` (with snapshots, so training
    resumes exactly either way)."""
    if envs.ENV_IDS[env_id][1] is not None:
        return gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="vector_entry_point",
                            config=config, autoreset_mode=AutoresetMode.SAME_STEP).unwrapped
    return SnapshotSyncVectorEnv([lambda: gym.make(env_id, config=config)] * n_envs,
                                 autoreset_mode=AutoresetMode.SAME_STEP)


class Trainable:
    """One interface over both kinds of agent: ``learn``, ``save``, and ``policy.predict``.

    :param metadata: what the checkpoints record about the run (env id, agent kind and
        name, seed) and what a resume checks; loaded agents carry their checkpoint's.
    """

    def __init__(self, kind: str, model: ActorCritic | BaseAlgorithm, metadata: Mapping[str, Any] | None = None,
                 residual: ScheduleResidual | None = None) -> None:
        self.kind, self.model = kind, model
        self.metadata = dict(metadata or {})
        #: the residual action map the model was trained in (:mod:`execgym.agents.residual`), if any
        self.residual = residual
        #: set (by the trainer's signal handler) to stop at the next boundary between updates
        self.stop_requested = False
        #: (path, step count) of the checkpoint an SB3 model wrote when it stopped on request
        self.stop_checkpoint: tuple[Path, int] | None = None

    @property
    def steps_per_update(self) -> int:
        """Environment steps (all copies) between two updates: training budgets are whole updates."""
        if isinstance(self.model, ActorCritic):
            return self.model.config.n_steps * self.model.env.num_envs
        n_envs = self.model.get_env().num_envs
        if isinstance(self.model, OnPolicyAlgorithm):
            return self.model.n_steps * n_envs
        return int(self.model.train_freq.frequency) * n_envs if self.model.train_freq.unit.value == "step" else n_envs

    def planned_timesteps(self, total_timesteps: int) -> int:
        """The step count training to ``total_timesteps`` ends at: whole updates from here."""
        remaining = total_timesteps - self.num_timesteps
        if remaining <= 0:
            return self.num_timesteps
        per = self.steps_per_update
        return self.num_timesteps + -(-remaining // per) * per

    @property
    def policy(self):
        """The trained policy in the env's own actions (SB3's ``predict``)."""
        return self.model if self.residual is None else ResidualPolicy(self.model, self.residual)

    @property
    def num_timesteps(self) -> int:
        return int(self.model.num_timesteps)

    def learn(self, total_timesteps: int, on_update: Callable[[int], bool], checkpoint_dir: Path | None = None,
              checkpoint_every: int = 0, name: str = "agent") -> None:
        """Train; ``on_update(num_timesteps)`` runs after each update (False stops).

        With ``checkpoint_dir``, a checkpoint every ``checkpoint_every`` steps, always between
        two updates (SB3 models: at the start of a rollout), through :meth:`save`.
        """
        if isinstance(self.model, ActorCritic):
            next_save = [self.num_timesteps + checkpoint_every]

            def callback(agent: ActorCritic, n: int) -> bool:
                if checkpoint_dir is not None and checkpoint_every and n >= next_save[0]:
                    self.save(Path(checkpoint_dir) / f"{name}_{n}_steps")
                    next_save[0] = n + checkpoint_every
                return on_update(n)

            self.model.learn(total_timesteps, callback=callback)
            return

        trainable = self
        stopping = [False]

        class _Hook(BaseCallback):
            """``on_update`` after each rollout and its update; checkpoints at the start of a
            rollout (the state between two updates, which resumes exactly); a False answer from
            ``on_update`` writes a checkpoint there and stops."""

            next_save = self.num_timesteps + checkpoint_every

            def _on_step(self) -> bool:
                return not stopping[0]

            def _on_rollout_start(self) -> None:
                n = trainable.num_timesteps
                if trainable.stop_requested and checkpoint_dir is not None:
                    trainable.stop_checkpoint = trainable.save(Path(checkpoint_dir) / f"{name}_{n}_steps"), n
                    stopping[0] = True
                elif checkpoint_dir is not None and checkpoint_every and n >= self.next_save:
                    trainable.save(Path(checkpoint_dir) / f"{name}_{n}_steps")
                    self.next_save = n + checkpoint_every

            def _on_rollout_end(self) -> None:
                trainable.stop_requested = on_update(self.num_timesteps) is False

        self.model.learn(total_timesteps, callback=_Hook(), reset_num_timesteps=False, progress_bar=False)

    # -- exact resume of SB3 models: what their .zip leaves out -------------------------

    def _sb3_envs(self):
        """(VecMonitor, the Gymnasium vector env under it) of an SB3 model."""
        monitor = self.model.get_env()
        return monitor, getattr(getattr(monitor, "venv", None), "venv", None)

    def _sb3_resume_state(self) -> dict[str, Any] | None:
        """Everything an SB3 model needs beyond its .zip to continue exactly from a boundary
        between two updates: the env's state and observations, the global RNGs (SB3 samples
        actions with torch's, shuffles minibatches and samples replay batches with numpy's),
        the action space's RNG (off-policy warm-up actions) and VecMonitor's episode
        statistics. An off-policy model's replay buffer is written into the .zip by
        :meth:`save`. ``None`` where the env has no snapshot."""
        monitor, venv = self._sb3_envs()
        if not hasattr(venv, "get_state") or self.model._last_obs is None:
            return None
        space_rng = getattr(self.model.action_space, "_np_random", None)
        return {"env_state": venv.get_state(), "last_obs": np.array(self.model._last_obs),
                "last_episode_starts": np.array(self.model._last_episode_starts),
                "last_original_obs": None if getattr(self.model, "_last_original_obs", None) is None
                else np.array(self.model._last_original_obs),
                "torch_rng": torch.get_rng_state().numpy(), "numpy_rng": np.random.get_state(),
                "python_rng": random.getstate(),
                "action_space_rng": None if space_rng is None else space_rng.bit_generator.state,
                "monitor": (monitor.episode_returns.copy(), monitor.episode_lengths.copy(), monitor.episode_count)}

    def _sb3_restore(self, path: str | Path) -> None:
        state = getattr(self.model, "execgym_resume", None)
        monitor, venv = self._sb3_envs()
        off_policy = isinstance(self.model, OffPolicyAlgorithm)
        buffer = _read_replay_buffer(path) if off_policy else None
        if state is None or not hasattr(venv, "set_state") or (off_policy and buffer is None):
            logger.warning("%s: no env state%s to restore (a non-native vector env, or an older checkpoint): "
                           "training continues from fresh episodes, not bit for bit", path,
                           " or replay buffer" if off_policy else "")
            return
        try:
            venv.set_state(state["env_state"])
        except ValueError as err:
            raise ValueError(f"{path}: the checkpoint was trained on another env: {err}") from err
        if buffer is not None:
            self.model.replay_buffer = buffer
        self.model._last_obs = state["last_obs"]
        self.model._last_episode_starts = state["last_episode_starts"]
        if state.get("last_original_obs") is not None:
            self.model._last_original_obs = state["last_original_obs"]
        if state.get("action_space_rng") is not None:
            rng = np.random.Generator(getattr(np.random, state["action_space_rng"]["bit_generator"])())
            rng.bit_generator.state = state["action_space_rng"]
            self.model.action_space._np_random = rng
        torch.set_rng_state(torch.from_numpy(state["torch_rng"]))
        np.random.set_state(state["numpy_rng"])
        random.setstate(state["python_rng"])
        monitor.episode_returns, monitor.episode_lengths, monitor.episode_count = state["monitor"]

    def save(self, path: Path) -> Path:
        """A checkpoint at ``path`` (``.pt`` actor-critic, written atomically; ``.zip`` SB3)
        recording :attr:`metadata` and the step count."""
        meta = {**self.metadata, "num_timesteps": self.num_timesteps}
        if isinstance(self.model, ActorCritic):
            return self.model.save(path.with_suffix(".pt"), metadata=meta)
        self.model.execgym_metadata = meta  # SB3 saves the model's attributes, and restores them on load
        self.model.execgym_resume = self._sb3_resume_state()
        buffer = getattr(self.model, "replay_buffer", None) if self.model.execgym_resume is not None else None

        def write(f) -> None:
            if buffer is None:
                self.model.save(f)  # SB3 saves to a file object too
                return
            data = io.BytesIO()
            self.model.save(data)
            with zipfile.ZipFile(data, "a") as archive, archive.open(REPLAY_BUFFER_MEMBER, "w") as member:
                pickle.dump(buffer, member, protocol=pickle.HIGHEST_PROTOCOL)
            f.write(data.getbuffer())

        return atomic_write(path.with_suffix(".zip"), write)


def build_agent(agent_cfg: Mapping[str, Any], env_id: str, env_config: Any, seed: int, n_envs: int,
                tensorboard_dir: str | None = None, resume_from: str | None = None) -> Trainable:
    """An agent from its config group (``kind`` + hyperparameters), on ``n_envs`` env copies.

    :param tensorboard_dir: the learner's own TensorBoard logs (SB3's, or the actor-critic's
        losses, entropy, explained variance, episode returns and steps/s).
    :param resume_from: a checkpoint saved by :meth:`Trainable.save` to continue from.
    """
    cfg = dict(agent_cfg)
    kind = cfg.pop("kind")
    if kind not in AGENT_KINDS:
        raise ValueError(f"agent.kind must be one of {AGENT_KINDS}, got {kind!r}")
    residual_spec = cfg.pop("residual", None)
    meta = {"env_id": env_id, "agent_kind": kind, "seed": int(seed), "n_envs": int(n_envs)}
    venv = make_vector_env(env_id, env_config, n_envs)
    residual = None
    if residual_spec is not None:
        residual = make_residual(residual_spec, vector_env_task(venv))
        meta["residual"] = dict(residual_spec)
        venv = ResidualVectorEnv(venv, residual)
    if kind == "actor_critic":
        if resume_from:
            data = load_checkpoint(resume_from, CHECKPOINT_FORMAT)
            checked = _resume_metadata(resume_from, data["metadata"], meta)  # before the env is touched
            model = ActorCritic.from_checkpoint(data, resume_from, env=venv, tensorboard_log=tensorboard_dir)
            return Trainable(kind, model, checked, residual)
        model = ActorCritic(venv, ActorCriticConfig(**cfg), seed=seed, tensorboard_log=tensorboard_dir)
        return Trainable(kind, model, meta, residual)
    # VecMonitor: episode returns and lengths, so SB3 logs rollout/ep_rew_mean and ep_len_mean
    sb3_env = VecMonitor(GymnasiumVecEnv(venv))
    if resume_from:
        if Path(resume_from).suffix != ".zip":
            raise ValueError(f"resume_from={resume_from!r}: agent.kind={kind!r} resumes from an SB3 .zip checkpoint")
        cls = SB3_ALGORITHMS[kind][0]
        try:
            model = cls.load(resume_from, env=sb3_env, device="cpu", tensorboard_log=tensorboard_dir)
        except FileNotFoundError:
            raise
        except Exception as err:  # zip, pickle, space mismatch: name the file
            raise ValueError(f"{resume_from}: not a {kind} checkpoint this env can resume "
                             f"({type(err).__name__}: {err})") from err
        if tensorboard_dir is None:
            without_log_folder(model)
        agent = Trainable(kind, model, _resume_metadata(resume_from, getattr(model, "execgym_metadata", {}), meta),
                          residual)
        agent._sb3_restore(resume_from)
        return agent
    return Trainable(kind, make_sb3_model(kind, sb3_env, seed, cfg, tensorboard_log=tensorboard_dir), meta,
                     residual)


def vector_env_task(venv: gym.vector.VectorEnv) -> Any:
    """The :class:`~execgym.envs.contract.ExecutionTask` of a vector env's copies."""
    task = getattr(venv, "task", None)
    if task is None and hasattr(venv, "envs"):
        task = venv.envs[0].unwrapped.task
    if task is None:
        raise ValueError(f"{type(venv).__name__} exposes no execution task (env.unwrapped.task)")
    return task


def make_residual(spec: Mapping[str, Any], task: Any) -> ScheduleResidual:
    """A :class:`~execgym.agents.residual.ScheduleResidual` from an agent config's ``residual``
    mapping (``multipliers`` for discrete agents, else ``max_multiplier``)."""
    if not isinstance(spec, Mapping):
        raise TypeError(f"agent.residual must be a mapping (e.g. {{}} or {{multipliers: [0, 1, 2]}}), got {spec!r}")
    unknown = set(spec) - {"multipliers", "max_multiplier"}
    if unknown:
        raise ValueError(f"agent.residual: unknown keys {sorted(unknown)}; known: multipliers, max_multiplier")
    return ScheduleResidual(task, spec.get("multipliers"), spec.get("max_multiplier", 2.0))


def _read_replay_buffer(path: str | Path):
    """The replay buffer :meth:`Trainable.save` wrote into an SB3 .zip, or ``None``."""
    try:
        with zipfile.ZipFile(path) as archive:
            if REPLAY_BUFFER_MEMBER not in archive.namelist():
                return None
            with archive.open(REPLAY_BUFFER_MEMBER) as member:
                return pickle.load(member)
    except Exception as err:  # zip or pickle errors: name the file
        raise ValueError(f"{path}: its replay buffer cannot be read ({type(err).__name__}: {err})") from err


def _resume_metadata(path: str | Path, saved: Mapping[str, Any], run: Mapping[str, Any]) -> dict[str, Any]:
    """The run's metadata after checking that the checkpoint at ``path`` belongs to it: same
    env id, agent kind, seed and env count (each mismatch named, with both values)."""
    wrong = {k: (saved[k], run[k]) for k in ("env_id", "agent_kind", "seed", "n_envs") if k in saved and saved[k] != run[k]}
    if wrong:
        detail = "; ".join(f"{k}: checkpoint {a!r}, this run {b!r}" for k, (a, b) in wrong.items())
        raise ValueError(f"{path} cannot resume this run ({detail}); resume with the original command's "
                         "settings (drop the conflicting overrides)")
    return {**run, **{k: v for k, v in saved.items() if k != "num_timesteps"}}


def load_policy(path: str | Path, env_id: str | None = None, env: gym.Env | None = None):
    """A trained policy from a checkpoint (``.pt``: actor-critic; ``.zip``: SB3), for evaluation.

    With ``env_id`` and ``env``, the checkpoint must have been trained on that id (when it
    records one) and have the env's observation and action spaces.

    :raises FileNotFoundError: naming the path.
    :raises ValueError: naming the file, if it cannot be read or does not fit the env (both
        sides named).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    policy, meta = None, {}
    if path.suffix == ".pt":
        policy = ActorCritic.load(path)
        meta = policy.metadata
    elif path.suffix == ".zip":
        errors = []
        for name, (cls, _, _) in SB3_ALGORITHMS.items():
            try:
                policy = cls.load(path, device="cpu")
                meta = getattr(policy, "execgym_metadata", {})
                break
            except Exception as err:  # wrong algorithm class, or not a readable zip: try the next, then report
                errors.append(f"{name}: {type(err).__name__}: {err}")
        if policy is None:
            raise ValueError(f"{path}: not a readable SB3 checkpoint ({errors[0]})")
    else:
        raise ValueError(f"{path}: not a checkpoint this project can load (.pt actor-critic or .zip SB3)")
    if meta.get("residual") is not None:
        if env is None:
            raise ValueError(f"{path} acts in residual actions around TWAP: load it with the env it runs in (env=...)")
        policy = ResidualPolicy(policy, make_residual(meta["residual"], env.unwrapped.task))
    if env_id is not None and meta.get("env_id") not in (None, env_id):
        raise ValueError(f"{path} was trained on {meta['env_id']!r}, but this evaluation runs {env_id!r}")
    if env is not None:
        for what in ("observation_space", "action_space"):
            if what == "action_space" and isinstance(policy, ResidualPolicy):
                continue  # it acts in the env's actions by construction
            mine, theirs = getattr(policy, what), getattr(env, what)
            if mine != theirs:
                raise ValueError(f"{path}: the checkpoint's {what} {mine} differs from the env's {theirs}"
                                 + (f" ({env_id})" if env_id else ""))
    return policy
