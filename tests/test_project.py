"""Project-level guarantees: import direction, README commands and CI agree."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# folder -> modules it must not import (execgym.<folder> is the folder, see pyproject.toml)
_MARKET = {"gymnasium", "torch", "hydra", "omegaconf", "stable_baselines3", "execgym.envs.almgren_chriss",
           "execgym.baselines", "execgym.agents", "execgym.experiments"}
FORBIDDEN = {
    # the market's sub-packages: simulation -> data -> analysis
    "envs/market/simulation": _MARKET | {"execgym.envs.market.data", "execgym.envs.market.analysis"},
    "envs/market/data": _MARKET | {"execgym.envs.market.analysis"},
    "envs/market": {"gymnasium", "torch", "hydra", "omegaconf", "stable_baselines3", "execgym.envs.almgren_chriss",
                    "execgym.baselines", "execgym.agents", "execgym.experiments"},
    "envs": {"torch", "hydra", "omegaconf", "stable_baselines3", "execgym.baselines", "execgym.agents",
             "execgym.experiments"},
    "baselines": {"torch", "hydra", "omegaconf", "execgym.agents", "execgym.experiments"},
    "agents": {"hydra", "omegaconf", "execgym.baselines", "execgym.experiments"},
}
#: the folders' old top-level names: nothing imports them any more
OLD_TOP_LEVEL = {"envs", "agents", "baselines", "experiments", "conf"}


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, ``from execgym import envs`` counted as ``execgym.envs``."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def _python_files() -> list[Path]:
    return [p for p in ROOT.rglob("*.py") if not {".venv", "outputs", "build"} & set(p.relative_to(ROOT).parts)]


def test_code_and_tests_import_execgym_only():
    for path in _python_files():
        for name in _imports(path):
            assert name.split(".")[0] not in OLD_TOP_LEVEL, f"{path} imports {name}: use execgym.{name}"


def test_the_market_and_the_validation_helpers_import_nothing_above_them():
    """The market imports only the market and :mod:`execgym.validation`; the validation
    helpers, which every layer uses, import nothing of execgym."""
    for path in (ROOT / "envs" / "market").rglob("*.py"):
        for name in _imports(path):
            if name.startswith("execgym"):
                assert name.startswith(("execgym.envs.market", "execgym.validation")), f"{path} imports {name}"
    assert not {n for n in _imports(ROOT / "execgym" / "validation.py") if n.startswith("execgym")}


def test_experiment_scripts_import_the_library_never_each_other():
    """``experiments/*.py`` are thin Hydra scripts over :mod:`execgym.experiments.lib`; the
    library imports no script."""
    scripts = {f"execgym.experiments.{p.stem}" for p in (ROOT / "experiments").glob("*.py") if p.stem != "__init__"}
    assert "execgym.experiments.train" in scripts
    for path in [*(ROOT / "experiments").glob("*.py"), *(ROOT / "experiments" / "lib").glob("*.py")]:
        for name in _imports(path):
            assert not any(name == s or name.startswith(s + ".") for s in scripts), f"{path} imports the script {name}"


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_flow_one_way(package):
    for path in (ROOT / package).rglob("*.py"):
        for name in _imports(path):
            for banned in FORBIDDEN[package]:
                assert not (name == banned or name.startswith(banned + ".")), f"{path} imports {name}"


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(?:bash|sh)\n(.*?)\n```", quick, flags=re.S)


def test_readme_quick_start_has_two_commands_and_ci_runs_the_test_one():
    commands = _readme_commands()
    assert len(commands) == 2, commands
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.startswith("#") and not line.startswith("set ")
          and not line.startswith("cd ")]
    assert ci == [commands[1]]
    assert "pytest" in commands[1] and "constraints.txt" in commands[1]
    assert "execgym.experiments.benchmark" in commands[0] and "constraints.txt" in commands[0]


def test_torch_is_pinned_to_the_cpu_build_version():
    constraints = (ROOT / "constraints.txt").read_text().splitlines()
    assert "torch==2.13.0" in constraints
    pinned = [line for line in constraints if line and not line.startswith("#")]
    assert all("==" in line for line in pinned), [p for p in pinned if "==" not in p]


@pytest.mark.parametrize("script", sorted(p.stem for p in (ROOT / "benchmarks").glob("bench_*.py")))
def test_every_benchmark_script_imports(script):
    """A benchmark whose imports broke (a module moved) fails here, not when a figure is due."""
    import importlib

    importlib.import_module(f"benchmarks.{script}")


def test_no_module_outside_the_book_touches_its_private_arrays():
    """Compiled drivers use ``OrderBook.arrays``, ``make_room`` and ``take_fills``."""
    book_py = ROOT / "envs" / "market" / "simulation" / "book.py"
    private = re.compile(r"\bbook\._(sc|lvl|orders|htab|fills|log|make_room|take_fills\w*|grow\w*|regrid)\b|\bb\._(sc|lvl)\b")
    for path in _python_files():
        if path != book_py and "tests" not in path.relative_to(ROOT).parts:
            hits = private.findall(path.read_text())
            assert not hits, f"{path} reaches into the book's private state: {hits}"


def test_the_readme_leaderboard_is_the_published_benchmark_output():
    """The README shows the leaderboard file that `benchmark=full seed=0` wrote, unedited."""
    published = (ROOT / "benchmarks" / "results" / "leaderboard_full_seed0.md").read_text()
    body = published.split("\n", 1)[1].strip()  # without its title line
    readme = (ROOT / "README.md").read_text()
    assert body in readme
    board = (ROOT / "benchmarks" / "results" / "leaderboard_full_seed0.csv").read_text().splitlines()
    assert board[0].startswith("task,policy,kind,n_seeds,n_episodes,shortfall_bps")
    assert all(",1000," in row for row in board[1:])  # every row: 1,000 evaluation episodes
