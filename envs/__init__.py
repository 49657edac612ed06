"""execgym's Gymnasium environments.

Importing this package registers the environment ids under the ``execgym/``
namespace, so that ``gymnasium.make`` finds them::

    import gymnasium as gym
    from execgym import envs  # noqa: F401  (registers execgym/*)

    env = gym.make("execgym/AlmgrenChriss-v0", side="buy", n_steps=20)
    vec = gym.make_vec("execgym/AlmgrenChriss-v0", num_envs=1024, vectorization_mode="vector_entry_point")

Keyword arguments are fields of the environment's config dataclass
(:class:`execgym.envs.almgren_chriss.AlmgrenChrissConfig`, :class:`execgym.envs.lob_execution.LOBExecutionConfig`,
:class:`execgym.envs.routing.RoutingConfig`).
In worker processes that have not imported ``envs`` (SB3's ``SubprocVecEnv`` starts them
with forkserver), use gymnasium's module prefix: ``gym.make("execgym:execgym/LOBExecution-v0")``.

===================================  ==============================================
id                                   what
===================================  ==============================================
``execgym/AlmgrenChriss-v0``         AC model, continuous fraction-of-remaining action
``execgym/AlmgrenChrissDiscrete-v0`` AC model, discrete participation-rate action
``execgym/LOBExecution-v0``          simulated limit order book with impact
                                     dynamics, market orders for a fraction of
                                     the remaining shares
``execgym/LOBExecutionDiscrete-v0``  the same, discrete participation rates
``execgym/LOBExecutionPlacement-v0`` the same, limit orders: size and price offset
``execgym/LOBReplay-v0``             a recorded LOBSTER day replayed through the book,
                                     same contract as LOBExecution-v0 (``action=``
                                     any of its three action kinds)
``execgym/SmartOrderRouting-v0``     several venues (fees, latencies, ticks): split
                                     each child order of a fixed schedule
===================================  ==============================================
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

__all__ = ["ENV_IDS"]

_AC = ("execgym.envs.almgren_chriss:AlmgrenChrissEnv", "execgym.envs.almgren_chriss_vector:AlmgrenChrissVectorEnv")
_LOB = ("execgym.envs.lob_execution:LOBExecutionEnv", "execgym.envs.lob_vector:LOBExecutionVectorEnv")

#: id -> (entry point, vector entry point, default kwargs)
ENV_IDS: dict[str, tuple[str, str | None, dict]] = {
    "execgym/AlmgrenChriss-v0": (*_AC, {}),
    "execgym/AlmgrenChrissDiscrete-v0": (*_AC, {"action": "participation"}),
    "execgym/LOBExecution-v0": (*_LOB, {}),
    "execgym/LOBExecutionDiscrete-v0": (*_LOB, {"action": "participation"}),
    "execgym/LOBExecutionPlacement-v0": (*_LOB, {"action": "placement"}),
    "execgym/LOBReplay-v0": ("execgym.envs.lob_replay:LOBReplayEnv", None, {}),
    "execgym/SmartOrderRouting-v0": ("execgym.envs.routing:SmartOrderRoutingEnv", None, {}),
}

for _env_id, (_entry, _vector_entry, _kwargs) in ENV_IDS.items():
    if _env_id not in registry:
        register(id=_env_id, entry_point=_entry, vector_entry_point=_vector_entry, kwargs=dict(_kwargs))
