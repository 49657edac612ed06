"""Property tests of the public entry points with arbitrary bad values: each raises a
TypeError or ValueError that names what was wrong, and never anything else; nothing is
written or half-changed."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from execgym.envs.almgren_chriss import AlmgrenChrissConfig, AlmgrenChrissEnv
from execgym.envs.lob_execution import LOBExecutionConfig, LOBExecutionEnv
from execgym.envs.market.data.lobster import read_messages, read_orderbook
from execgym.envs.market.data.lobster_data import sample_lobster_dir
from execgym.envs.routing import RoutingConfig, SmartOrderRoutingEnv
from execgym.experiments.lib.builders import build_env_factory
from execgym.experiments.train import INT_SETTINGS, run
from tests.experiments.test_train_job import compose_train

JUNK = st.one_of(st.text(max_size=4), st.booleans(), st.none(), st.floats(), st.integers(-10**20, 10**20),
                 st.complex_numbers(), st.lists(st.integers(), max_size=2), st.just(float("nan")))


def _scalar_fields(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)
            if str(f.type).removesuffix(" | None") in ("bool", "int", "float", "str")]


@pytest.mark.parametrize("env_cls, cfg_cls", [(AlmgrenChrissEnv, AlmgrenChrissConfig),
                                              (LOBExecutionEnv, LOBExecutionConfig),
                                              (SmartOrderRoutingEnv, RoutingConfig)])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_env_constructors_take_any_value_or_refuse_it_by_name(env_cls, cfg_cls, data):
    field = data.draw(st.sampled_from(_scalar_fields(cfg_cls)))
    value = data.draw(JUNK)
    try:
        env_cls(**{field: value})
    except (TypeError, ValueError) as err:
        assert field in str(err) or repr(value)[:20] in str(err) or "horizon" in str(err), err


MESSAGES = sample_lobster_dir() / "AMZN_2012-06-21_34200000_57600000_message_1.csv.xz"
BOOK = sample_lobster_dir() / "AMZN_2012-06-21_34200000_57600000_orderbook_1.csv.xz"


def _rows(path: Path, n: int = 60) -> list[list[str]]:
    import lzma

    with lzma.open(path, "rt") as f:
        return [next(f).strip().split(",") for _ in range(n)]


MESSAGE_ROWS, BOOK_ROWS = _rows(MESSAGES), _rows(BOOK)
BAD_FIELDS = st.one_of(st.sampled_from(["", "abc", "-5", "0", "1e400", "nan", "inf", "9223372036854775808", "1.5",
                                        "-9999999999", " ", "0x10", "\u00e9"]),
                       st.text(max_size=6).filter(lambda t: "," not in t and "\n" not in t and "\r" not in t))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["message", "orderbook"]), data=st.data())
def test_lobster_readers_on_mutated_real_files_name_the_file_and_row(tmp_path, kind, data):
    rows = [list(r) for r in (MESSAGE_ROWS if kind == "message" else BOOK_ROWS)]
    r = data.draw(st.integers(0, len(rows) - 1))
    c = data.draw(st.integers(0, len(rows[0]) - 1))
    rows[r][c] = data.draw(BAD_FIELDS)
    path = tmp_path / f"AMZN_2012-06-21_34200000_57600000_{kind}_1.csv"
    path.write_bytes(("\n".join(",".join(row) for row in rows) + "\n").encode("utf-8"))
    try:
        (read_messages if kind == "message" else read_orderbook)(path)
    except ValueError as err:
        text = str(err)
        assert path.name in text, text
        found = [int(x) for x in __import__("re").findall(r"row (\d+)", text)]
        assert not found or found[0] in (r + 1, r + 2) or "line" in text, (r + 1, text)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from([k for k, _ in INT_SETTINGS]),
       value=st.sampled_from(["1.5", "-3", "true", "abc", "null", "1e9", "'7'", "[1]", "-0.0"]))
def test_train_overrides_are_refused_by_name_before_anything_is_written(tmp_path, key, value):
    out = tmp_path / f"{key}-{abs(hash(value))}"
    with pytest.raises((TypeError, ValueError), match=key.replace(".", r"\.")):
        run(compose_train(f"{key}={value}"), out)
    assert not out.exists() or not any(out.iterdir())


@settings(max_examples=30, deadline=None)
@given(field=st.sampled_from(["total_shares", "horizon_s", "decision_interval_s", "side", "keep_unfilled",
                              "participation_rates", "unfilled_penalty_bps"]),
       value=st.sampled_from([-1, 0, "abc", None, True, 1.5, math.inf, [0.5, -0.1], "no"]))
def test_env_overrides_of_a_hydra_env_group_are_refused_by_name(field, value):
    spec = {"id": "execgym/LOBExecution-v0", "params": {field: value}}
    try:
        build_env_factory(spec)
    except (TypeError, ValueError) as err:
        assert field in str(err) or "horizon" in str(err), err


@pytest.mark.parametrize("config, key", [("compare_baselines", "seed"), ("compare_baselines", "n_episodes"),
                                         ("evaluate", "seed"), ("evaluate", "n_episodes"),
                                         ("robust_execution", "n_episodes"), ("metaorder_impact", "n_runs"),
                                         ("square_root_law", "n_workers"), ("square_root_law", "sign_blocks"),
                                         ("metaorder_impact", "n_workers"), ("market_facts", "n_sessions"),
                                         ("market_facts", "seed"), ("market_facts", "n_workers")])
@pytest.mark.parametrize("value", ["1.5", "true", "-2"])
def test_every_entry_points_integer_settings_are_never_truncated(tmp_path, config, key, value):
    """``seed=1.5`` used to run with seed 1: now every job refuses it, naming the key."""
    import importlib

    from hydra import compose, initialize_config_dir

    root = Path(__file__).resolve().parents[1]
    with initialize_config_dir(config_dir=str(root / "conf"), version_base=None):
        cfg = compose(config_name=config, overrides=[f"{key}={value}"])
    module = importlib.import_module(f"execgym.experiments.{config}")
    with pytest.raises((TypeError, ValueError), match=key):
        module.run(cfg, tmp_path)
