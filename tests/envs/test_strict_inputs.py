"""Bad actions and config values raise a clear TypeError/ValueError at the boundary and
change nothing: an env that refused an action continues exactly as a twin that never saw it."""

from __future__ import annotations

import re

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from execgym.envs.almgren_chriss import AlmgrenChrissConfig, AlmgrenChrissEnv
from execgym.envs.almgren_chriss_vector import AlmgrenChrissVectorEnv
from execgym.envs.lob_execution import LOBExecutionConfig, LOBExecutionEnv
from execgym.envs.lob_replay import LOBReplayEnv
from execgym.envs.lob_vector import LOBExecutionVectorEnv
from execgym.envs.market.simulation.flow import FlowConfig
from execgym.envs.market.simulation.simulator import SimulatorConfig
from execgym.envs.routing import RoutingConfig, SmartOrderRoutingEnv

LOB = dict(horizon_s=300.0, decision_interval_s=30.0, total_shares=5000)
SINGLE = {
    "ac_fraction": lambda: AlmgrenChrissEnv(n_steps=10),
    "ac_participation": lambda: AlmgrenChrissEnv(n_steps=10, action="participation"),
    "lob_fraction": lambda: LOBExecutionEnv(**LOB),
    "lob_participation": lambda: LOBExecutionEnv(**LOB, action="participation"),
    "lob_placement": lambda: LOBExecutionEnv(**LOB, action="placement"),
    "routing": lambda: SmartOrderRoutingEnv(),
}
VECTOR = {
    "ac_vec_fraction": lambda: AlmgrenChrissVectorEnv(3, n_steps=10),
    "ac_vec_participation": lambda: AlmgrenChrissVectorEnv(3, n_steps=10, action="participation"),
    "lob_vec_fraction": lambda: LOBExecutionVectorEnv(3, **LOB),
    "lob_vec_participation": lambda: LOBExecutionVectorEnv(3, **LOB, action="participation"),
    "lob_vec_placement": lambda: LOBExecutionVectorEnv(3, **LOB, action="placement"),
}

#: values no action space of execgym admits, whatever its shape
NOT_REAL = st.one_of(
    st.text(max_size=5), st.binary(max_size=5), st.booleans(), st.complex_numbers(allow_nan=False),
    st.none(), st.just(object()), st.lists(st.text(max_size=2), min_size=1, max_size=3),
    st.lists(st.booleans(), min_size=1, max_size=3), st.just([[0.5], [0.5, 0.5]]),
    st.floats().map(lambda x: np.array([x], dtype=np.complex128)),
)
#: real numbers of the wrong shape or range (NaN and infinities included): none is a valid action of any env
BAD_NUMBERS = st.one_of(
    st.tuples(st.lists(st.floats(0.0, 1.0), max_size=6), st.sampled_from([np.nan, np.inf, -np.inf, 1e7, -1e7]),
              st.integers(0, 6)).map(lambda t: np.array(t[0][:t[2]] + [t[1]] + t[0][t[2]:])),
    st.floats(allow_nan=True).filter(lambda x: not 0.0 <= x <= 1.0).map(lambda x: np.array([x, 0.0])[:1]),
    st.integers(min_value=-10**6, max_value=10**6).filter(lambda i: not 0 <= i < 5),
    st.floats(allow_nan=True).filter(lambda x: not 0.0 <= x <= 1.0).map(lambda x: np.full((3, 1), x)),
)


def _fingerprint(env, seed: int = 5) -> list:
    """What the env does next on a fixed sequence of valid actions."""
    env.action_space.seed(seed)
    out = []
    for _ in range(4):
        obs, reward, terminated, *_ = env.step(env.action_space.sample())
        out.append((np.asarray(obs).copy(), np.asarray(reward).copy()))
        if np.all(terminated):
            break
    return out


def _assert_refused_and_unchanged(make, bad) -> None:
    env, twin = make(), make()
    env.reset(seed=11)
    twin.reset(seed=11)
    with pytest.raises((TypeError, ValueError), match=r"action|actions"):
        env.step(bad)
    for (o1, r1), (o2, r2) in zip(_fingerprint(env), _fingerprint(twin)):
        np.testing.assert_array_equal(o1, o2)
        np.testing.assert_array_equal(r1, r2)


@pytest.mark.parametrize("kind", sorted({**SINGLE, **VECTOR}))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad=st.one_of(NOT_REAL, BAD_NUMBERS))
def test_every_env_refuses_bad_actions_by_name_and_changes_nothing(kind, bad):
    _assert_refused_and_unchanged({**SINGLE, **VECTOR}[kind], bad)


def test_the_placement_vector_env_refuses_a_transposed_batch():
    make = VECTOR["lob_vec_placement"]
    good = np.tile([0.5, 1.0], (3, 1))
    _assert_refused_and_unchanged(make, good.T)
    with pytest.raises(ValueError, match=r"shape \(3, 2\).*got \(2, 3\)"):
        env = make()
        env.reset(seed=0)
        env.step(good.T)


@pytest.mark.parametrize("bad", ["0.5", b"\x00", True, 0.5 + 0j, np.array(["0.5"]), np.array([True])])
def test_strings_bools_and_complex_fractions_are_type_errors(bad):
    env = LOBExecutionEnv(**LOB)
    env.reset(seed=0)
    with pytest.raises(TypeError, match=re.escape(repr(bad)[:10])):
        env.step(bad)


@pytest.mark.parametrize("cls, field, value", [
    (LOBExecutionConfig, "keep_unfilled", "no"), (LOBExecutionConfig, "keep_unfilled", 1),
    (LOBExecutionConfig, "total_shares", 5000.5), (LOBExecutionConfig, "total_shares", True),
    (LOBExecutionConfig, "horizon_s", "300"), (LOBExecutionConfig, "side", 1),
    (AlmgrenChrissConfig, "n_steps", 10.0), (AlmgrenChrissConfig, "sigma", True),
    (RoutingConfig, "total_shares", "48000"), (SimulatorConfig, "lot_size", 1.5),
    (FlowConfig, "market_rate_per_s", "fast"),
])
def test_config_fields_are_type_checked_naming_field_and_value(cls, field, value):
    assert field in cls.__dataclass_fields__  # the table names real fields
    with pytest.raises(TypeError, match=rf"{cls.__name__}\.{field} must be .*{re.escape(repr(value))}"):
        cls(**{field: value})


def test_the_almgren_chriss_env_refuses_placement_at_construction():
    with pytest.raises(ValueError, match="action must be one of .*'placement'"):
        AlmgrenChrissEnv(action="placement")
    with pytest.raises(ValueError, match="action"):
        gym.make("execgym/AlmgrenChriss-v0", action="placement")


def test_a_replay_window_outside_the_recorded_session_is_refused_at_construction():
    with pytest.raises(ValueError, match=r"start_window_s=.*inside the recorded session"):
        LOBReplayEnv(start_window_s=(36_000.0, 70_000.0))
    with pytest.raises(ValueError, match=r"start_window_s=.*inside the recorded session"):
        LOBReplayEnv(start_window_s=(30_000.0, 40_000.0))
