"""Train an agent, watch it against the baselines in TensorBoard, and compare them at the end.

    python -m execgym.experiments.train [env=<group>] [agent=<group>] [seed=<n>] [overrides]
    python -m execgym.experiments.train -m seed=0,1 agent=actor_critic,ppo      # joblib, 2 workers

In Hydra's run directory: ``.hydra/`` (the config), ``checkpoints/`` (periodic and final),
``tensorboard/`` (agent and baseline series under the same tags, HParams; ``train/``: the
learner's own logs, SB3's or the actor-critic's losses, entropy, explained variance, episode
returns and steps/s),
``evaluation.csv`` (every episode of the final comparison, agent and baselines on the
same seeds) and ``evaluation.md``. A multirun also writes ``evaluation_all.csv`` / ``.md``
for all its runs in the sweep directory.
"""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import hydra
import pandas as pd
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from execgym.experiments.lib.agents import build_agent
from execgym.experiments.lib.builders import build_baselines, build_env_factory, cfg_int
from execgym.experiments.lib.runner import env_task, run_comparison
from execgym.experiments.lib.seeding import seed_everything
from execgym.experiments.lib.tensorboard_eval import PeriodicEvaluator, eval_metrics

logger = logging.getLogger(__name__)


#: the run's integer settings: (key, minimum); 0 where allowed means "off"
INT_SETTINGS = (("seed", 0), ("total_timesteps", 1), ("n_envs", 1), ("checkpoint_every_steps", 0),
                ("eval.every_steps", 0), ("eval.n_episodes", 1), ("eval.seed", 0), ("final_eval.n_episodes", 1),
                ("final_eval.seed", 0))


def check_settings(cfg: DictConfig) -> dict[str, int]:
    """The run's integer settings, validated before anything is built (:data:`INT_SETTINGS`:
    integers, not floats or bools; ``checkpoint_every_steps`` and ``eval.every_steps`` may
    be 0, meaning off). Raises ``TypeError``/``ValueError`` naming the key and value."""
    return {key: cfg_int(cfg, key, minimum) for key, minimum in INT_SETTINGS}


class StopRequest:
    """SIGINT/SIGTERM during training ask for a clean stop: the current update finishes, a
    checkpoint is written, and the run ends with a message saying how to resume. A second
    signal aborts at once."""

    def __init__(self) -> None:
        self.signal: str | None = None

    def __bool__(self) -> bool:
        return self.signal is not None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signal.Signals(signum).name
        logger.warning("%s: finishing the current update, then writing a checkpoint (send it again to abort)",
                       self.signal)

    @contextmanager
    def installed(self):
        """Handle SIGINT and SIGTERM inside the block (main thread only; elsewhere a no-op)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


def run(cfg: DictConfig, out_dir: Path, command: str | None = None) -> tuple[pd.DataFrame | None, float]:
    """Train and evaluate as configured; return the comparison table and the agent's objective.

    The objective (what an Optuna sweep minimises) is the agent's mean mean-variance cost
    in bps where the environment defines it, else its mean shortfall in bps.

    ``total_timesteps`` is the run's total: training stops at the first whole update at or
    after it (the log says where), and a run resumed from its checkpoint
    (``resume_from=...``) trains up to the same total, not that much more. A SIGINT or SIGTERM
    stops training after the current update and writes a checkpoint; the table is then
    ``None`` and the message says how to resume (``command``: the command line to repeat).
    """
    settings = check_settings(cfg)
    seed, total = settings["seed"], settings["total_timesteps"]
    seed_everything(seed)
    torch.set_num_threads(1)
    out_dir.mkdir(parents=True, exist_ok=True)
    make_env, env_config = build_env_factory(cfg.env)
    task = env_task(make_env)
    baselines = build_baselines(cfg.baselines, task, env_config)
    if cfg.reference_policy not in baselines:
        raise ValueError(f"reference_policy={cfg.reference_policy!r} is not among the baselines {sorted(baselines)}")
    agent_cfg = OmegaConf.to_container(cfg.agent, resolve=True)
    name = agent_cfg.pop("name", agent_cfg["kind"])
    tb_dir = out_dir / "tensorboard"
    agent = build_agent(agent_cfg, cfg.env.id, env_config, seed, settings["n_envs"],
                        tensorboard_dir=str(tb_dir / "train"), resume_from=cfg.resume_from)
    agent.metadata["agent_name"] = name
    evaluator = PeriodicEvaluator(make_env, baselines, tb_dir, settings["eval.every_steps"],
                                  settings["eval.n_episodes"], settings["eval.seed"])
    ckpt_dir = out_dir / "checkpoints"
    planned = agent.planned_timesteps(total)
    if agent.num_timesteps:
        logger.info("resuming %s from %s at %d steps", name, cfg.resume_from, agent.num_timesteps)
    if planned != total and planned > agent.num_timesteps:
        logger.info("total_timesteps=%d trains %d steps: whole updates of %d steps", total, planned,
                    agent.steps_per_update)
    stop = StopRequest()

    def on_update(num_timesteps: int) -> bool:
        evaluator(agent.policy, num_timesteps)
        return not stop

    logger.info("training %s on %s to %d steps (seed %d, %d envs)", name, cfg.env.id, planned, seed, settings["n_envs"])
    start = time.perf_counter()
    if agent.num_timesteps < total:
        with stop.installed():
            agent.learn(total - agent.num_timesteps, on_update, checkpoint_dir=ckpt_dir,
                        checkpoint_every=settings["checkpoint_every_steps"], name=name)
    train_s = time.perf_counter() - start
    if stop and (agent.stop_checkpoint is not None or agent.num_timesteps < planned):
        # the actor-critic stops between two updates; an SB3 model has written its checkpoint
        # at the start of the rollout it then abandoned
        path, steps = agent.stop_checkpoint or (agent.save(ckpt_dir / f"{name}_{agent.num_timesteps}_steps"),
                                                agent.num_timesteps)
        again = f"{command} resume_from={path}" if command else f"the same command with resume_from={path}"
        logger.warning("%s: training stopped at %d of %d steps; checkpoint %s. Resume with: %s",
                       stop.signal, steps, planned, path, again)
        evaluator.close()
        return None, float("inf")
    final_ckpt = agent.save(ckpt_dir / f"{name}_final")
    evaluator.evaluate(agent.policy, agent.num_timesteps)

    policies = {name: agent.policy, **baselines}
    result = run_comparison(policies, make_env, settings["final_eval.n_episodes"], settings["final_eval.seed"],
                            notional=task.notional, reference=cfg.reference_policy,
                            risk_aversion=getattr(env_config, "risk_aversion", None),
                            columns={"run_agent": name, "run_seed": seed, "run_env": cfg.env.id})
    result.write(out_dir, episodes_file="evaluation.csv", summary_file=None, table_file="evaluation.md")
    episodes, table = result.episodes, result.table
    table.attrs["trained_timesteps"] = agent.num_timesteps
    mine = episodes[episodes["policy"] == name]
    final = eval_metrics(mine, task.total_shares)
    objective = final.get("eval/mean_variance_bps", final["eval/shortfall_bps_mean"])
    evaluator.log_hparams({"agent": name, "seed": seed, "total_timesteps": agent.num_timesteps,
                           **{k: v for k, v in agent_cfg.items() if k != "kind"}}, final)
    evaluator.close()
    logger.info("trained to %d steps in %.1f s; final checkpoint %s", agent.num_timesteps, train_s, final_ckpt)
    return table, float(objective) if not math.isnan(objective) else float("inf")


@hydra.main(version_base=None, config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith("resume_from=")]
    command = " ".join(["python -m execgym.experiments.train", *overrides])
    table, objective = run(cfg, out_dir, command)
    if table is None:
        print(f"\ntraining was interrupted; the checkpoint and the command that resumes it are in the log above "
              f"(run directory: {out_dir})")
        return objective
    steps = table.attrs["trained_timesteps"]
    print(f"\n{cfg.agent.name} (seed {cfg.seed}, trained {steps:,} steps) against the baselines on "
          f"{cfg.final_eval.n_episodes} seeded episodes of {cfg.env.id}:\n")
    print(table.to_markdown())
    print(f"\nrun directory: {out_dir}")
    print(f"TensorBoard: .venv/bin/tensorboard --logdir {out_dir / 'tensorboard'}  (then open http://localhost:6006)")
    return objective


if __name__ == "__main__":
    main()
