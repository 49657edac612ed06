"""The execution benchmark: train the agents and evaluate them and every baseline on every
task of a suite, on the same evaluation episodes, and write the leaderboard.

    python -m execgym.experiments.benchmark                    # benchmark=quick (minutes on 2 cores)
    python -m execgym.experiments.benchmark benchmark=full     # 5 training seeds, full budgets, 1,000 episodes
    python -m execgym.experiments.benchmark -m only=sell_30pct,sell_placement   # one job per task (joblib)

The tasks are ``conf/benchmark_tasks/default.yaml``; a suite (``conf/benchmark/``) selects
them and sets the protocol: training seeds per agent, the share of each task's training
budget, evaluation episodes and their seed. Per task, each agent is trained once per
training seed (``seed * 1000 + k``, torch on one thread: bit for bit on CPU), then every
baseline and every trained agent plays the same ``eval.n_episodes`` episodes, whose reset
seeds come from their own seed sequence (``eval.seed + seed``), not from training's.

Written to Hydra's run directory:

* ``leaderboard.md`` / ``leaderboard.csv``: per task and policy, its score (shortfall, or
  the reward's risk-adjusted cost where the task says ``metric: risk_adjusted_cost_bps``) and its paired
  differences to ``reference_policy`` and to the task's best baseline with their intervals
  (:mod:`execgym.experiments.lib.leaderboard`);
* ``episodes/<task>.csv``: every evaluated episode, from which the leaderboard is computed;
* ``plots/<task>.png``: the paired differences to the reference with their intervals;
* ``training.csv``: per agent and training seed, the steps trained and the wall time;
* ``tensorboard/<task>/<agent>_seed<k>/``: the learners' logs; ``checkpoints/``;
* ``benchmark_config.yaml``: the resolved config (Hydra's ``.hydra/`` holds the overrides).
"""

from __future__ import annotations

import copy
import logging
import time
from pathlib import Path
from typing import Any

import hydra
import pandas as pd
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from execgym.experiments.lib.agents import build_agent
from execgym.experiments.lib.builders import build_baselines, build_env_factory, cfg_int, conf_file
from execgym.experiments.lib.evaluation import compare_policies, evaluate_policy
from execgym.experiments.lib.leaderboard import leaderboard_markdown, plot_task, task_leaderboard
from execgym.experiments.lib.runner import env_task
from execgym.experiments.lib.seeding import seed_everything

logger = logging.getLogger(__name__)

#: the metrics a task may be scored by (bps; + = cost)
SCORES = ("shortfall_bps", "risk_adjusted_cost_bps")


def _load(group: str, name: str) -> dict[str, Any]:
    """A config group's file as a plain dict, without its ``defaults`` list."""
    path = conf_file(group, f"{name}.yaml")
    if not path.is_file():
        raise ValueError(f"no config {group}/{name}.yaml (looked at {path})")
    data = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    data.pop("defaults", None)
    return data


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def task_env(task: dict[str, Any]) -> dict[str, Any]:
    """The ``env`` config (``id``, ``params``) of a task: its env group's id, the market
    preset if any, and the task's params over both."""
    env = task["env"]
    params = copy.deepcopy(env.get("params") or {})
    if task.get("market"):
        params["market"] = _merge(_load("market", task["market"]), params.get("market") or {})
    return {"id": _load("env", env["group"])["id"], "params": params}


def tasks_to_run(cfg: DictConfig) -> list[str]:
    """The suite's selected tasks, or ``only``; each must be in the catalogue."""
    catalogue = cfg.benchmark.tasks
    names = [cfg.only] if cfg.get("only") else list(cfg.benchmark.select)
    unknown = [n for n in names if n not in catalogue]
    if unknown or not names:
        raise ValueError(f"unknown benchmark task(s) {unknown or names}; the catalogue has {sorted(catalogue)}")
    return names


class Benchmark:
    """One benchmark run: trains each (task, agent, seed) once and evaluates as configured."""

    def __init__(self, cfg: DictConfig, out_dir: Path) -> None:
        self.cfg, self.out_dir = cfg, out_dir
        self.seed = cfg_int(cfg, "seed")
        self.n_seeds = cfg_int(cfg, "benchmark.train_seeds", minimum=1)
        self.n_episodes = cfg_int(cfg, "benchmark.eval.n_episodes", minimum=2)
        self.eval_seed = cfg_int(cfg, "benchmark.eval.seed") + self.seed
        self.resamples = cfg_int(cfg, "benchmark.bootstrap_resamples", minimum=100)
        self.scale = float(cfg.benchmark.budget_scale)
        if not 0.0 < self.scale <= 1.0:
            raise ValueError(f"benchmark.budget_scale must be in (0, 1], got {self.scale!r}")
        self.catalogue = OmegaConf.to_container(cfg.benchmark.tasks, resolve=True)
        self.trained: dict[str, dict[tuple[str, int], Any]] = {}
        self.training_rows: list[dict[str, Any]] = []

    def metric(self, name: str) -> str:
        """The metric task ``name`` is scored by: ``shortfall_bps`` unless it says
        ``risk_adjusted_cost_bps`` (the reward's cost, risk and unfilled penalties included)."""
        metric = self.catalogue[name].get("metric", "shortfall_bps")
        if metric not in SCORES:
            raise ValueError(f"task {name}: metric must be one of {SCORES}, got {metric!r}")
        return metric

    def train(self, name: str) -> dict[tuple[str, int], Any]:
        """The task's agents, trained once per training seed: ``{(agent, k): policy}``."""
        if name in self.trained:
            return self.trained[name]
        task = self.catalogue[name]
        env_cfg = task_env(task)
        _, env_config = build_env_factory(env_cfg)
        budget = task["budget"]
        steps = max(1, round(int(budget["total_timesteps"]) * self.scale))
        policies = {}
        for agent_name, overrides in (task.get("agents") or {}).items():
            overrides = dict(overrides or {})
            agent_cfg = _merge(_load("agent", overrides.pop("agent", agent_name)), overrides)
            agent_cfg.pop("name", None)
            for k in range(self.n_seeds):
                train_seed = self.seed * 1000 + k
                seed_everything(train_seed)
                agent = build_agent(agent_cfg, env_cfg["id"], env_config, train_seed, int(budget["n_envs"]),
                                    tensorboard_dir=str(self.out_dir / "tensorboard" / name / f"{agent_name}_seed{k}"))
                logger.info("%s: training %s (seed %d) for %d steps", name, agent_name, train_seed, steps)
                start = time.perf_counter()
                agent.learn(steps, lambda n: True)
                wall = time.perf_counter() - start
                agent.save(self.out_dir / "checkpoints" / name / f"{agent_name}_seed{k}")
                self.training_rows.append({"task": name, "agent": agent_name, "train_seed": train_seed,
                                           "timesteps": agent.num_timesteps, "wall_s": round(wall, 2)})
                policies[(agent_name, k)] = agent.policy
        self.trained[name] = policies
        return policies

    def evaluate(self, name: str) -> pd.DataFrame:
        """Every baseline and trained agent of task ``name`` on the same episodes."""
        task = self.catalogue[name]
        make_env, env_config = build_env_factory(task_env(task))
        execution_task = env_task(make_env)
        baselines = build_baselines(_load("baselines", task["baselines"]), execution_task, env_config)
        if self.cfg.reference_policy not in baselines:
            raise ValueError(f"task {name}: reference_policy={self.cfg.reference_policy!r} is not among its baselines "
                             f"{sorted(baselines)}")
        heuristics = build_baselines(task.get("heuristics") or {}, execution_task, env_config)
        clash = set(heuristics) & set(baselines)
        if clash:
            raise ValueError(f"task {name}: heuristics {sorted(clash)} have the names of baselines")
        agents = dict(self.train(name))
        if task.get("transfer_from"):
            source = task["transfer_from"]
            agents |= {(f"{agent}@{source}", k): p for (agent, k), p in self.train(source).items()}
        logger.info("%s: evaluating %d baselines and %d trained agents on %d episodes", name, len(baselines),
                    len(agents), self.n_episodes)
        frames = [compare_policies(baselines, make_env, self.n_episodes, self.eval_seed, progress=self.cfg.progress)
                  .assign(kind="baseline", train_seed=-1)]
        if heuristics:
            frames.append(compare_policies(heuristics, make_env, self.n_episodes, self.eval_seed,
                                           progress=self.cfg.progress).assign(kind="heuristic", train_seed=-1))
        for (agent, k), policy in agents.items():
            frames.append(evaluate_policy(policy, make_env, self.n_episodes, self.eval_seed, agent,
                                          progress=self.cfg.progress).assign(kind="agent", train_seed=k))
        episodes = pd.concat(frames, ignore_index=True)
        episodes.insert(0, "task", name)
        # the cost the reward charges, penalties included (bps of the arrival notional; + = cost)
        episodes["risk_adjusted_cost_bps"] = -episodes["return"]
        return episodes


def run(cfg: DictConfig, out_dir: Path) -> pd.DataFrame:
    """Run the benchmark as configured, write its files to ``out_dir``; return the leaderboard
    (one row per task and policy)."""
    names = tasks_to_run(cfg)
    bench = Benchmark(cfg, out_dir)
    metrics = {n: bench.metric(n) for n in names}  # checked before anything trains
    torch.set_num_threads(1)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "benchmark_config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    confidence = float(cfg.confidence)
    tables = {}
    for name in names:
        episodes = bench.evaluate(name)
        (out_dir / "episodes").mkdir(exist_ok=True)
        episodes.to_csv(out_dir / "episodes" / f"{name}.csv", index=False)
        tables[name] = task_leaderboard(episodes, cfg.reference_policy, metrics[name], confidence=confidence,
                                        n_resamples=bench.resamples, seed=bench.seed)
        plot_task(tables[name], name, cfg.reference_policy, out_dir / "plots" / f"{name}.png", confidence,
                  metrics[name])
    pd.DataFrame(bench.training_rows, columns=["task", "agent", "train_seed", "timesteps", "wall_s"]).to_csv(
        out_dir / "training.csv", index=False)
    board = pd.concat({name: t for name, t in tables.items()}, names=["task", "policy"])
    board.to_csv(out_dir / "leaderboard.csv")
    descriptions = {n: bench.catalogue[n]["description"] for n in names}
    header = (f"# Leaderboard: benchmark={cfg.benchmark.name}, seed {bench.seed}, {bench.n_episodes} evaluation "
              f"episodes per policy, {bench.n_seeds} training seed(s) per agent\n\n")
    (out_dir / "leaderboard.md").write_text(header + leaderboard_markdown(tables, cfg.reference_policy, descriptions,
                                                                          confidence, metrics))
    return board


@hydra.main(version_base=None, config_path="../conf", config_name="benchmark")
def main(cfg: DictConfig) -> None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    run(cfg, out_dir)
    print((out_dir / "leaderboard.md").read_text())
    print(f"run directory: {out_dir}")
    print(f"TensorBoard: .venv/bin/tensorboard --logdir {out_dir / 'tensorboard'}  (then open http://localhost:6006)")


if __name__ == "__main__":
    main()
