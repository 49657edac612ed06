"""execgym: reinforcement-learning environments for optimal trade execution.

The package's parts live in the repository's top-level folders and install as one package
(``pyproject.toml`` maps them):

=======================  ===========================================================
``execgym.envs.market``  order book, order flow, impact, LOBSTER data (no RL)
``execgym.envs``         the Gymnasium environments (ids ``execgym/...``)
``execgym.baselines``    TWAP, VWAP, POV, Almgren-Chriss and the advanced schedules
``execgym.agents``       the actor-critic and the stable-baselines3 adapters
``execgym.experiments``  the Hydra entry points (``python -m execgym.experiments.train``)
``execgym.conf``         their Hydra configs
``execgym.data``         the LOBSTER sample days (GOOG and AMZN, 2012-06-21, xz)
=======================  ===========================================================

Importing ``execgym`` registers the environment ids, so in a fresh process (or a worker
of SB3's ``SubprocVecEnv``) ``gymnasium.make("execgym:execgym/LOBExecution-v0")`` works.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from execgym import envs  # noqa: F401  (registers execgym/*)
from execgym.envs import ENV_IDS

try:
    __version__ = version("execgym")
except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
    __version__ = "0+unknown"

__all__ = ["ENV_IDS", "__version__"]
