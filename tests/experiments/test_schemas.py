"""The config dataclasses are Hydra structured configs: each default lives in its dataclass,
the env and market groups extend them, and a bad value fails when the config is composed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException

from execgym.envs.almgren_chriss import AlmgrenChrissConfig
from execgym.envs.lob_config import LOBExecutionConfig
from execgym.envs.lob_replay import LOBReplayConfig
from execgym.envs.market.simulation.simulator import SimulatorConfig
from execgym.envs.routing import RoutingConfig
from execgym.experiments.lib.builders import build_env_factory
from execgym.experiments.lib.schemas import SCHEMAS

CONF = Path(__file__).resolve().parents[2] / "conf"
BASE_GROUPS = {"almgren_chriss": AlmgrenChrissConfig, "lob_execution": LOBExecutionConfig,
               "lob_replay": LOBReplayConfig, "smart_order_routing": RoutingConfig}


def compose_train(*overrides):
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        return compose(config_name="train", overrides=list(overrides))


@pytest.mark.parametrize("group, cls", sorted(BASE_GROUPS.items()))
def test_an_env_group_is_its_dataclass_with_its_defaults_written_once(group, cls):
    text = yaml.safe_load((CONF / "env" / f"{group}.yaml").read_text())
    assert "params" not in text  # no default copied into the YAML
    assert {"/schema@params": group} in text["defaults"]
    _, config = build_env_factory(compose_train(f"env={group}").env)
    assert config == cls()
    assert SCHEMAS[group] is cls


def test_the_default_market_group_is_the_simulator_config():
    text = yaml.safe_load((CONF / "market" / "default.yaml").read_text())
    assert set(text) == {"defaults"}
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        cfg = compose(config_name="metaorder_impact")
    assert SimulatorConfig.from_mapping(dict(cfg.market)) == SimulatorConfig()


@pytest.mark.parametrize("override, key", [
    ("env.params.total_shares=abc", "total_shares"),
    ("env.params.horizon_s=soon", "horizon_s"),
    ("env.params.totl_shares=5000", "totl_shares"),  # a misspelt field
    ("env.params.market.flow.resilience_per_s=fast", "resilience_per_s"),
    ("env.params.participation_rates=0.1", "participation_rates"),
])
def test_a_bad_value_fails_when_the_config_is_composed_naming_the_key(override, key):
    with pytest.raises(ConfigCompositionException) as info:
        compose_train("env=lob_execution", override)
    assert key in str(info.value) + str(info.value.__cause__)


def test_overrides_of_the_right_type_compose_and_reach_the_env():
    cfg = compose_train("env=lob_execution", "env.params.total_shares=3000", "env.params.side=buy",
                        "env.params.market.flow.resilience_per_s=0.2", "env.params.participation_rates=[0.1,0.2]")
    _, config = build_env_factory(cfg.env)
    assert (config.total_shares, config.side, config.market.flow.resilience_per_s) == (3000, "buy", 0.2)
    assert config.participation_rates == (0.1, 0.2)
    assert dataclasses.replace(config, total_shares=20_000, side="sell", participation_rates=(0.05, 0.10, 0.15, 0.20, 0.25),
                               market=LOBExecutionConfig().market) == LOBExecutionConfig()
