"""Checkpoint files: atomic writes, weights-only loads, and errors that name the file."""

from __future__ import annotations

import zipfile

import gymnasium as gym
import numpy as np
import pytest
import torch

from execgym.agents.actor_critic import ActorCritic
from execgym.agents.checkpoint import atomic_save, load_checkpoint, space_from_dict, space_to_dict
from execgym.envs.almgren_chriss_vector import AlmgrenChrissVectorEnv
from execgym.experiments.lib.agents import load_policy


def _agent() -> ActorCritic:
    env = AlmgrenChrissVectorEnv(4, n_steps=10, action="participation", autoreset_mode="SameStep")
    return ActorCritic(env, seed=0).learn(160, progress=False)


def test_a_save_that_fails_midway_leaves_the_previous_file_and_no_litter(tmp_path, monkeypatch):
    path = tmp_path / "agent.pt"
    atomic_save({"format": "x", "v": torch.ones(3)}, path)

    def broken(obj, f, *args, **kwargs):
        f.write(b"partial bytes")
        raise KeyboardInterrupt  # Ctrl-C during the write

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(KeyboardInterrupt):
        atomic_save({"format": "x", "v": torch.zeros(3)}, path)
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(path, "x")["v"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["agent.pt"]


@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage", "pickle", "other_format"])
def test_damaged_or_foreign_files_raise_naming_the_file(tmp_path, damage):
    good = _agent().save(tmp_path / "good.pt")
    bad = tmp_path / f"{damage}.pt"
    if damage == "empty":
        bad.write_bytes(b"")
    elif damage == "truncated":
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif damage == "garbage":
        bad.write_bytes(b"\x00\x01 not a checkpoint" * 100)
    elif damage == "pickle":  # a pickle of an arbitrary object: a weights-only load refuses it
        torch.save({"format": "execgym.actor_critic/2", "evil": zipfile.ZipInfo("x")}, bad, pickle_protocol=2)
    else:
        torch.save({"format": "something else"}, bad)
    with pytest.raises(ValueError, match=rf"{damage}\.pt"):
        ActorCritic.load(bad)
    with pytest.raises(ValueError, match=rf"{damage}\.pt"):
        load_policy(bad)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        ActorCritic.load(tmp_path / "missing.pt")


def test_evaluation_refuses_a_checkpoint_whose_spaces_do_not_fit_the_env(tmp_path):
    path = _agent().save(tmp_path / "discrete.pt", metadata={"env_id": "execgym/AlmgrenChrissDiscrete-v0"})
    continuous = gym.make("execgym/AlmgrenChriss-v0", n_steps=10)
    with pytest.raises(ValueError, match="trained on 'execgym/AlmgrenChrissDiscrete-v0'.*'execgym/AlmgrenChriss-v0'"):
        load_policy(path, "execgym/AlmgrenChriss-v0", continuous)
    with pytest.raises(ValueError, match=r"action_space Discrete\(5\) differs from the env's Box"):
        load_policy(path, None, continuous)
    fits = gym.make("execgym/AlmgrenChrissDiscrete-v0", n_steps=10)
    assert load_policy(path, "execgym/AlmgrenChrissDiscrete-v0", fits).predict(fits.reset(seed=0)[0])[0] in range(5)


@pytest.mark.parametrize("space", [gym.spaces.Discrete(5), gym.spaces.Discrete(3, start=1),
                                   gym.spaces.Box(-1.0, np.array([1.0, 2.0], np.float32), dtype=np.float32)])
def test_spaces_round_trip_through_plain_descriptions(space):
    assert space_from_dict(space_to_dict(space)) == space
