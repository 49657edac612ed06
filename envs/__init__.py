"""execgym's Gymnasium environments.

Importing this package registers the environment ids under the ``execgym/``
namespace, so that ``gymnasium.make`` finds them::

    import gymnasium as gym
    import envs  # noqa: F401  (registers execgym/*)

    env = gym.make("execgym/AlmgrenChriss-v0", side="buy", n_steps=20)
    vec = gym.make_vec("execgym/AlmgrenChriss-v0", num_envs=1024, vectorization_mode="vector_entry_point")

Keyword arguments are fields of the environment's config dataclass
(:class:`envs.almgren_chriss.AlmgrenChrissConfig`).

===================================  ==============================================
id                                   what
===================================  ==============================================
``execgym/AlmgrenChriss-v0``         AC model, continuous fraction-of-remaining action
``execgym/AlmgrenChrissDiscrete-v0`` AC model, discrete participation-rate action
===================================  ==============================================
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

__all__ = ["ENV_IDS"]

ENV_IDS: dict[str, dict] = {
    "execgym/AlmgrenChriss-v0": {},
    "execgym/AlmgrenChrissDiscrete-v0": {"action": "participation"},
}

for _env_id, _kwargs in ENV_IDS.items():
    if _env_id not in registry:
        register(
            id=_env_id,
            entry_point="envs.almgren_chriss:AlmgrenChrissEnv",
            vector_entry_point="envs.almgren_chriss_vector:AlmgrenChrissVectorEnv",
            kwargs=dict(_kwargs),
        )
