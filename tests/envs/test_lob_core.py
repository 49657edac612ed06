"""The single LOB envs run the compiled episode core and equal the pinned Python env
(``tests/envs/reference_lob_env.py``, the implementation before the core) bit for bit:
observations, rewards, terminations and every ``info`` entry, per-fill lists included."""

from __future__ import annotations

import numpy as np
import pytest

from execgym.envs import lob_core as core
from execgym.envs.lob_execution import LOBExecutionEnv
from execgym.envs.lob_replay import LOBReplayEnv
from tests.envs.reference_lob_env import ReferenceLOBEnv, ReferenceReplayEnv
from tests.envs.test_lob_vector import KW, actions_for


def _assert_same_episodes(env, reference, action: str, seed: int, n_steps: int, rng: np.random.Generator) -> int:
    """Step both envs with the same actions from the same seeds, resetting after each
    episode (alternately with and without a seed); the decisions compared."""
    compared = 0
    o1, _ = env.reset(seed=seed)
    o2, _ = reference.reset(seed=seed)
    np.testing.assert_array_equal(o1, o2)
    for field in ("side", "total_shares", "n_steps", "horizon", "arrival_price", "participation_rates"):
        assert getattr(env.task, field) == getattr(reference.task, field), field
    np.testing.assert_array_equal(env.task.expected_volume_shares, reference.task.expected_volume_shares)
    for i in range(n_steps):
        a = actions_for(action, rng, 1)[0]
        o1, r1, t1, tr1, info1 = env.step(a)
        o2, r2, t2, tr2, info2 = reference.step(a)
        np.testing.assert_array_equal(o1, o2)
        assert (r1, t1, tr1) == (r2, t2, tr2)
        assert info1.keys() == info2.keys()
        for key in info2:
            np.testing.assert_equal(info1[key], info2[key], err_msg=key)
        compared += 1
        if t1:
            kw = {"seed": seed + i} if i % 2 else {}
            np.testing.assert_array_equal(env.reset(**kw)[0], reference.reset(**kw)[0])
    return compared


@pytest.mark.parametrize("action", ["fraction", "participation", "placement"])
@pytest.mark.parametrize("side", ["buy", "sell"])
def test_the_single_env_is_the_pinned_python_env_bit_for_bit(action, side):
    kw = dict(KW, action=action, side=side, keep_unfilled=action == "placement" and side == "buy")
    n = _assert_same_episodes(LOBExecutionEnv(**kw), ReferenceLOBEnv(**kw), action, 7, 30, np.random.default_rng(1))
    assert n == 30


@pytest.mark.parametrize("action", ["fraction", "participation", "placement"])
@pytest.mark.parametrize("side", ["buy", "sell"])
def test_the_replay_env_is_the_pinned_python_env_on_the_recorded_day_bit_for_bit(action, side):
    kw = dict(action=action, side=side, horizon_s=300.0, decision_interval_s=30.0, total_shares=2_000,
              keep_unfilled=action == "placement" and side == "sell")
    _assert_same_episodes(LOBReplayEnv(**kw), ReferenceReplayEnv(**kw), action, 3, 25, np.random.default_rng(2))


def test_the_record_types_name_their_units_and_hold_integers_as_integers():
    for name in core.EPISODE_DTYPE.names:
        kind = core.EPISODE_DTYPE[name].kind
        if name.endswith("_shares") and "tick" not in name or name in ("step", "next_agent_id", "child_id",
                                                                         "vol_n", "vol_head"):
            assert kind == "i", name
    assert core.PARAMS_DTYPE["keep_unfilled"].kind == "b" and core.PARAMS_DTYPE["mode"].kind == "i"
    assert core.OBS_NAMES[core.OBS_VOL] == "volatility_ticks" and len(core.OBS_NAMES) == core.N_OBS


def test_the_records_the_kernels_take_keep_every_field_on_its_natural_boundary():
    # a packed record puts the fields after a flag off their 8-byte boundary (unaligned loads
    # in every kernel that reads them); each record the compiled code takes is aligned
    from execgym.envs import lob_vector
    from execgym.envs.market.simulation import _book_kernels as K
    from execgym.envs.market.simulation import flow as F

    for dtype in (core.PARAMS_DTYPE, core.EPISODE_DTYPE, lob_vector.MARKET_DTYPE, F.FLOW_STATE_DTYPE,
                  K.ORDER_DTYPE, K.LEVEL_DTYPE):
        for name in dtype.names:
            field, offset = dtype.fields[name][:2]
            assert offset % field.base.alignment == 0, (name, offset)
        assert dtype.itemsize % max(dtype.fields[n][0].base.alignment for n in dtype.names) == 0
