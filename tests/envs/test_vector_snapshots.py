"""get_state / set_state of the native vector envs: a restored env continues bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from execgym.envs.almgren_chriss_vector import AlmgrenChrissVectorEnv
from execgym.envs.lob_vector import LOBExecutionVectorEnv


def _sync(env_id: str, n: int = 3, **params):
    """Copies of an env without a native vector env, in :class:`SnapshotSyncVectorEnv`."""
    import gymnasium as gym

    import execgym  # noqa: F401  (registers the ids)
    from execgym.envs.state import SnapshotSyncVectorEnv

    return SnapshotSyncVectorEnv([lambda: gym.make(env_id, **params)] * n, autoreset_mode="SameStep")


def _replay(**overrides):
    return _sync("execgym/LOBReplay-v0", horizon_s=300.0, decision_interval_s=30.0, **overrides)


MAKERS = {
    "ac": lambda: AlmgrenChrissVectorEnv(4, n_steps=10, autoreset_mode="SameStep"),
    "lob": lambda: LOBExecutionVectorEnv(3, horizon_s=300.0, decision_interval_s=30.0, total_shares=5000,
                                         autoreset_mode="SameStep"),
    "lob_placement": lambda: LOBExecutionVectorEnv(3, horizon_s=300.0, decision_interval_s=30.0,
                                                   total_shares=5000, action="placement"),
    "replay": _replay,
    "routing": lambda: _sync("execgym/SmartOrderRouting-v0", horizon_s=120.0),
}


def _roll(env, steps: int, seed: int) -> list:
    env.action_space.seed(seed)
    out = []
    for _ in range(steps):
        obs, rew, term, trunc, info = env.step(env.action_space.sample())
        out.append((obs.copy(), rew.copy(), term.copy()))
    return out


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_a_restored_env_continues_exactly_where_the_snapshot_was_taken(kind):
    env = MAKERS[kind]()
    env.reset(seed=3)
    _roll(env, 7, seed=0)  # mid-episode, some markets restarted
    snap = env.get_state()
    expected = _roll(env, 15, seed=1)
    other = MAKERS[kind]()
    other.reset(seed=99)  # a different history, overwritten by the snapshot
    other.set_state(snap)
    got = _roll(other, 15, seed=1)
    for (o1, r1, t1), (o2, r2, t2) in zip(expected, got):
        np.testing.assert_array_equal(o1, o2)
        np.testing.assert_array_equal(r1, r2)
        np.testing.assert_array_equal(t1, t2)
    assert any(t.any() for _, _, t in got)  # episodes ended and restarted inside the compared window


def test_a_snapshot_survives_a_weights_only_checkpoint(tmp_path):
    env = MAKERS["lob"]()
    env.reset(seed=0)
    _roll(env, 3, seed=0)
    snap = env.get_state()
    as_tensors = {**snap, "arrays": {k: torch.from_numpy(v) for k, v in snap["arrays"].items()}}
    torch.save(as_tensors, tmp_path / "s.pt")
    back = torch.load(tmp_path / "s.pt", weights_only=True)
    back["arrays"] = {k: v.numpy() for k, v in back["arrays"].items()}
    expected = _roll(env, 5, seed=2)
    fresh = MAKERS["lob"]()
    fresh.set_state(back)
    for (o1, r1, _), (o2, r2, _) in zip(expected, _roll(fresh, 5, seed=2)):
        np.testing.assert_array_equal(o1, o2)
        np.testing.assert_array_equal(r1, r2)


def test_a_snapshot_of_another_env_is_refused_naming_the_difference_and_changes_nothing():
    small = AlmgrenChrissVectorEnv(4, n_steps=10)
    small.reset(seed=0)
    other = AlmgrenChrissVectorEnv(4, n_steps=12)
    other.reset(seed=0)
    before = other.get_state()
    with pytest.raises(ValueError, match="config"):
        other.set_state(small.get_state())
    with pytest.raises(ValueError, match="num_envs"):
        AlmgrenChrissVectorEnv(3, n_steps=10).set_state(small.get_state())
    with pytest.raises(TypeError, match="get_state"):
        other.set_state({"arrays": {}})
    after = other.get_state()
    for name, value in before["arrays"].items():
        np.testing.assert_array_equal(value, after["arrays"][name])


# -- envs without a native vector env: SnapshotSyncVectorEnv -------------------------------


def test_a_sync_snapshot_refers_to_the_recorded_day_instead_of_copying_it():
    env = _replay()
    env.reset(seed=5)
    _roll(env, 4, seed=0)
    snap = env.get_state()
    assert snap["pickle"].dtype == np.uint8 and snap["shared"]
    assert snap["pickle"].nbytes < 1_000_000  # the GOOG day alone pickles to about 50 MB
    other = _replay()
    other.set_state(snap)
    assert other.envs[0].unwrapped.day is other.envs[1].unwrapped.day is env.envs[0].unwrapped.day


def test_a_sync_snapshot_of_another_config_or_a_foreign_object_is_refused_and_changes_nothing():
    import pickle
    import zlib

    env = _replay()
    env.reset(seed=1)
    before = env.get_state()
    longer = _replay(total_shares=6000)
    longer.reset(seed=1)
    with pytest.raises(ValueError, match="config"):
        env.set_state(longer.get_state())
    evil = dict(before, pickle=np.frombuffer(zlib.compress(pickle.dumps({"x": print})), dtype=np.uint8))
    with pytest.raises(ValueError, match="builtins.print"):
        env.set_state(evil)
    after = env.get_state()
    np.testing.assert_array_equal(before["pickle"], after["pickle"])
