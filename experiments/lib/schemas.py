"""The config dataclasses as Hydra structured configs: each default lives in its dataclass.

:func:`register` stores, in Hydra's ``ConfigStore`` group ``schema``, the schema of every env
config (``almgren_chriss``, ``lob_execution``, ``lob_replay``, ``smart_order_routing``) and of
the simulated market (``market``). The env and market config groups in ``conf/`` extend them
(``defaults: [/schema@params: lob_execution]``) and set only what differs from the
dataclass, so a default is written once, ``python -m execgym.experiments.train --cfg job``
shows them all, and a bad value (a string for a number, a misspelt field) fails when the
config is composed, naming the key. The dataclasses' own checks (ranges, units, choices)
still run when the env is built from the composed config.

Importing :mod:`execgym.experiments.lib` registers them (every job does).
"""

from __future__ import annotations

from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, ListConfig, OmegaConf

from execgym.envs.almgren_chriss import AlmgrenChrissConfig
from execgym.envs.lob_config import LOBExecutionConfig
from execgym.envs.lob_replay import LOBReplayConfig
from execgym.envs.market.simulation.simulator import SimulatorConfig
from execgym.envs.routing import RoutingConfig

__all__ = ["SCHEMAS", "register", "schema"]

#: schema name -> config dataclass
SCHEMAS: dict[str, type] = {
    "almgren_chriss": AlmgrenChrissConfig,
    "lob_execution": LOBExecutionConfig,
    "lob_replay": LOBReplayConfig,
    "smart_order_routing": RoutingConfig,
    "market": SimulatorConfig,
}


def schema(name: str) -> DictConfig:
    """The typed, writable config node of ``SCHEMAS[name]`` with the dataclass's defaults
    (the dataclasses are frozen; their Hydra nodes must accept overrides)."""
    node = OmegaConf.structured(SCHEMAS[name])
    _writable(node)
    return node


def _writable(node: Any) -> None:
    """Clear the read-only flag a frozen dataclass puts on its node and every nested one."""
    if isinstance(node, (DictConfig, ListConfig)):
        OmegaConf.set_readonly(node, False)
        for key in (node.keys() if isinstance(node, DictConfig) else range(len(node))):
            _writable(node._get_node(key))


def register() -> None:
    """Store every schema in Hydra's ``ConfigStore`` (group ``schema``); idempotent."""
    store = ConfigStore.instance()
    for name in SCHEMAS:
        store.store(group="schema", name=name, node=schema(name))


register()
