"""Interrupted training loses nothing: SIGINT stops cleanly and resumes bit for bit; SIGKILL
at any moment, even during a checkpoint write, leaves only complete checkpoints."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from execgym.agents.actor_critic import ActorCritic
from execgym.experiments.train import run
from tests.experiments.test_train_job import _assert_same_training, _final_state, compose_train

#: a run long enough to be interrupted mid-training (about 5 s of training on 2 cores)
LONG = ["env=almgren_chriss_discrete", "total_timesteps=60000", "n_envs=8", "eval.every_steps=0",
        "eval.n_episodes=4", "final_eval.n_episodes=20"]


def _start(run_dir: Path, *overrides: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "execgym.experiments.train", *LONG, *overrides, f"hydra.run.dir={run_dir}"]
    return subprocess.Popen(cmd, cwd=run_dir.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for_training(proc: subprocess.Popen, log: Path, timeout: float = 120.0, agent: str = "actor_critic") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.is_file() and f"training {agent}" in log.read_text():
            return
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before training: {proc.stdout.read()[-3000:]}")
        time.sleep(0.05)
    raise AssertionError("training did not start")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, int]:
    """The uninterrupted run: its folder and the steps it trained."""
    folder = tmp_path_factory.mktemp("reference")
    table, _ = run(compose_train(*LONG), folder)
    return folder, table.attrs["trained_timesteps"]


@pytest.mark.parametrize("delay_s", [0.3, 1.5])
def test_sigint_stops_with_a_checkpoint_and_resuming_ends_bit_for_bit_as_the_uninterrupted_run(tmp_path, delay_s,
                                                                                             reference):
    reference_dir, reference_steps = reference
    run_dir = tmp_path / "interrupted"
    run_dir.mkdir()
    proc = _start(run_dir)
    _wait_for_training(proc, run_dir / "train.log")
    time.sleep(delay_s)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out[-3000:]
    log = (run_dir / "train.log").read_text()
    match = re.search(r"training stopped at (\d+) of (\d+) steps; checkpoint (\S+)\. Resume with: (.+)", log)
    assert match, log[-3000:]
    stopped, planned, path = int(match.group(1)), int(match.group(2)), Path(match.group(3))
    assert 0 < stopped < planned == 60000 and path.is_file()
    assert match.group(4).startswith("python -m execgym.experiments.train ") and f"resume_from={path}" in match.group(4)
    assert not (run_dir / "evaluation.csv").exists()  # an interrupted run does not pretend to have finished
    resumed, _ = run(compose_train(*LONG, f"resume_from={path}"), tmp_path / "resumed")
    assert resumed.attrs["trained_timesteps"] == reference_steps
    _assert_same_training(_final_state(reference_dir), _final_state(tmp_path / "resumed"))
    pd.testing.assert_frame_equal(pd.read_csv(reference_dir / "evaluation.csv"),
                                  pd.read_csv(tmp_path / "resumed" / "evaluation.csv"))


def test_sigkill_at_random_moments_never_leaves_a_truncated_checkpoint(tmp_path):
    """Checkpoints after every update, so kills land during writes too; every file under a
    checkpoint name loads, and the newest one resumes."""
    rng = np.random.default_rng(0)
    run_dir = tmp_path / "killed"
    run_dir.mkdir()
    for attempt in range(3):
        proc = _start(run_dir, "checkpoint_every_steps=80")
        _wait_for_training(proc, run_dir / "train.log")
        (run_dir / "train.log").unlink()
        time.sleep(float(rng.uniform(0.2, 1.5)))
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
        names = sorted((run_dir / "checkpoints").iterdir())
        complete = [p for p in names if not p.name.startswith(".")]
        assert complete, names
        assert all(re.fullmatch(r"actor_critic_\d+_steps\.pt", p.name) for p in complete), complete
        for p in complete:
            agent = ActorCritic.load(p)  # raises on a truncated file
            assert agent.num_timesteps == int(p.name.split("_")[2])
        for p in names:
            if p.name.startswith("."):
                p.unlink()  # a partial write under a temporary name: never mistaken for a checkpoint
    newest = max(complete, key=lambda p: int(p.name.split("_")[2]))
    table, _ = run(compose_train(*LONG, f"resume_from={newest}"), tmp_path / "resumed")
    assert table.attrs["trained_timesteps"] == 60000
    assert torch.load(newest, weights_only=True)["format"] == "execgym.actor_critic/2"


def test_sigint_stops_ppo_between_two_updates_and_resuming_ends_bit_for_bit(tmp_path):
    from stable_baselines3 import PPO

    ppo = [o for o in LONG if not o.startswith("total_timesteps")] + [
        "total_timesteps=20000", "agent=ppo", "agent.n_steps=32", "agent.batch_size=128", "checkpoint_every_steps=0"]
    run(compose_train(*ppo), tmp_path / "reference")
    run_dir = tmp_path / "interrupted"
    run_dir.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "execgym.experiments.train", *ppo, f"hydra.run.dir={run_dir}"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _wait_for_training(proc, run_dir / "train.log", agent="ppo")
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out[-3000:]
    match = re.search(r"training stopped at (\d+) of (\d+) steps; checkpoint (\S+)\.", (run_dir / "train.log").read_text())
    assert match, out[-3000:]
    stopped, path = int(match.group(1)), Path(match.group(3))
    assert 0 < stopped < 20000 and stopped % (32 * 8) == 0  # a boundary between two updates
    run(compose_train(*ppo, f"resume_from={path}"), tmp_path / "resumed")
    a = PPO.load(tmp_path / "reference" / "checkpoints" / "ppo_final.zip", device="cpu").policy.state_dict()
    b = PPO.load(tmp_path / "resumed" / "checkpoints" / "ppo_final.zip", device="cpu").policy.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
