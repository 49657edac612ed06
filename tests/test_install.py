"""execgym as users install it: a wheel in a fresh virtual environment, run from another
folder; beside packages named like its folders; resolved together with rl_zoo3.

These tests build and install the package, so they take a minute; they are what a user
on a fresh machine does, and what the editable install used by the other tests cannot show.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest
from numba.core import caching
from numba.core import config as numba_config

ROOT = Path(__file__).resolve().parents[1]
#: the folders' names, taken on PyPI by other projects (envs, baselines, ...) and common in users' trees
SHADOWED = ("envs", "agents", "baselines", "experiments", "conf")

#: run inside the installed environment: every id makes, resets and steps; nothing leaks from the source tree
CHECK_ALL_IDS = textwrap.dedent("""
    import sys
    from pathlib import Path

    import gymnasium as gym
    import execgym
    import execgym.envs.market.simulation.book
    import execgym.conf

    expected_root = Path(sys.argv[1]).resolve()
    for module in (execgym, execgym.envs.market.simulation.book, execgym.conf):
        where = Path(module.__file__).resolve()
        assert where.is_relative_to(expected_root), (module.__name__, where, expected_root)
    from numba.core import event
    with event.install_recorder("numba:compile") as compiled:  # what is compiled, not loaded from numba's cache
        for env_id in execgym.ENV_IDS:
            env = gym.make("execgym:" + env_id)
            obs, info = env.reset(seed=0)
            assert env.observation_space.contains(obs), env_id
            env.action_space.seed(0)
            env.step(env.action_space.sample())
            env.close()
            print("made", env_id)
    for _, e in compiled.buffer:
        if e.is_start:
            print("compiled", e.data["dispatcher"].py_func.__module__ + "." + e.data["dispatcher"].py_func.__qualname__)
    leaked = set(sys.modules) & %r
    assert not leaked, f"execgym imported same-named packages: {leaked}"
""" % (set(SHADOWED),))


def _run(cmd: list, cwd: Path, env: dict | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc


def _clean_env(**extra: str) -> dict:
    """This process's environment without anything that would put the source tree on the path."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP"}}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of the tracked-looking tree, so no stale ``build/`` or local file leaks in."""
    out = tmp_path_factory.mktemp("dist")
    src = out / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", ".venv", "build", "outputs", "multirun",
                                                            "__pycache__", "*.egg-info", ".pytest_cache", ".hypothesis"))
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, src], cwd=out)
    (built,) = out.glob("execgym-*.whl")
    return built


def _kernel_cache_dir(source_dir: Path, cache_root: str | None) -> Path:
    """Where numba keeps the compiled functions of the sources in ``source_dir``: under
    ``cache_root`` (a ``NUMBA_CACHE_DIR``) in numba's layout, else the folder's ``__pycache__``."""
    if cache_root:
        return Path(cache_root) / caching.UserProvidedCacheLocator.get_suitable_cache_subpath(str(source_dir / "_.py"))
    return source_dir / "__pycache__"


def _seed_kernel_cache(site: Path, cache_root: Path) -> int:
    """Copy this checkout's compiled kernels (``envs``) to where the copy installed under
    ``site`` looks for them with ``NUMBA_CACHE_DIR=cache_root``; the number of files copied.

    Numba keys a cached function by its source file's contents (and the kernels by the
    contents of every kernel source, ``envs/market/simulation/_jit.py``), not by where the
    file lies: the installed copy's sources are these, so it loads what this checkout
    compiled instead of compiling the flow again (minutes); a kernel not compiled here yet is
    compiled there as a user's first run would."""
    copied = 0
    for source_dir in sorted({p.parent for p in (ROOT / "envs").rglob("*.py")}):
        files = sorted(_kernel_cache_dir(source_dir, numba_config.CACHE_DIR).glob("*.nb[ci]"))  # data before index
        if files:
            target = _kernel_cache_dir(site / "execgym" / "envs" / source_dir.relative_to(ROOT / "envs"), str(cache_root))
            target.mkdir(parents=True, exist_ok=True)
            for f in files:
                shutil.copy2(f, target / f.name)
            copied += len(files)
    return copied


@pytest.fixture(scope="module")
def wheel_env(installed_site, tmp_path_factory) -> dict:
    """The environment of the installed copy's processes: clean, with a numba cache of its own
    seeded with the kernels this checkout compiled (:func:`_seed_kernel_cache`; they are
    compiled here first, by making every id as the wheel will, if no test has yet)."""
    _run([sys.executable, "-c", CHECK_ALL_IDS, ROOT], cwd=tmp_path_factory.mktemp("warm"), env=_clean_env())
    cache = tmp_path_factory.mktemp("numba_cache")
    assert _seed_kernel_cache(installed_site, cache) > 0, "this checkout has no compiled kernels after making every id"
    return _clean_env(NUMBA_CACHE_DIR=str(cache))


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh venv holding the wheel; its dependencies come from this environment's
    site-packages, added as a plain path (its .pth files, among them the editable install's
    finder, are not processed, so the source tree stays invisible)."""
    root = tmp_path_factory.mktemp("fresh")
    venv.create(root / "venv", with_pip=False)
    python = root / "venv" / "bin" / "python"
    (_purelib(python, root) / "_execgym_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel],
         cwd=root)
    return python


@pytest.fixture(scope="module")
def installed_site(installed) -> Path:
    """The fresh venv's site-packages, where the wheel installed ``execgym``."""
    return _purelib(installed, installed.parent)


def _purelib(python: Path, cwd: Path) -> Path:
    """``python``'s site-packages folder (asked from a process started in ``cwd``)."""
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return Path(_run([python, "-c", code], cwd=cwd).stdout.strip())


def test_the_wheel_carries_every_module_config_and_sample_day(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("envs", "agents", "baselines", "experiments", "conf"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".py", ".yaml"} and "__pycache__" not in path.parts:
                assert f"execgym/{folder}/{path.relative_to(ROOT / folder)}" in names, path
    for path in (ROOT / "execgym").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            assert str(path.relative_to(ROOT)) in names, path
    assert not {n for n in names if n.split("/")[0] in SHADOWED}, "the wheel installs a generic top-level name"


def test_wheel_in_a_fresh_venv_makes_every_id_and_trains_from_another_folder(installed, installed_site, wheel_env,
                                                                            tmp_path):
    made = _run([installed, "-c", CHECK_ALL_IDS, installed_site], cwd=tmp_path, env=wheel_env).stdout
    assert made.count("made ") == len(__import__("execgym").ENV_IDS)
    # the flow's kernels came from this checkout's cache (minutes to compile): same sources, same code
    again = [line for line in made.splitlines() if line.startswith("compiled execgym.envs.market.simulation.flow.")]
    assert not again, f"the installed copy compiled the flow again instead of loading the seeded kernels: {again}"
    run_dir = tmp_path / "run"
    _run([installed, "-m", "execgym.experiments.train", "total_timesteps=1024", "n_envs=16", "eval.every_steps=512",
          "eval.n_episodes=4", "final_eval.n_episodes=6", "checkpoint_every_steps=1024", f"hydra.run.dir={run_dir}"],
         cwd=tmp_path, env=wheel_env)
    assert (run_dir / "evaluation.csv").is_file() and (run_dir / ".hydra" / "config.yaml").is_file()
    assert any((run_dir / "checkpoints").glob("actor_critic_final.pt"))


@pytest.mark.parametrize("where", ["wheel", "editable"])
def test_same_named_packages_first_on_the_path_change_nothing(where, installed, wheel_env, tmp_path):
    shadow = tmp_path / "users_tree"
    for name in SHADOWED:  # what PyPI's envs, OpenAI's baselines or a user's own folders look like
        (shadow / name).mkdir(parents=True)
        (shadow / name / "__init__.py").write_text(f'"""Someone else\'s {name}."""\nclass Env: ...\n')
    python, env = (installed, wheel_env) if where == "wheel" else (Path(sys.executable), _clean_env())
    expected = Path(_run([python, "-c", "import execgym, pathlib; print(pathlib.Path(execgym.__file__).parents[1])"],
                         cwd=tmp_path, env=env).stdout.strip())
    proc = _run([python, "-c", CHECK_ALL_IDS, expected], cwd=shadow, env={**env, "PYTHONPATH": str(shadow)})
    assert "made execgym/LOBReplay-v0" in proc.stdout


def test_base_install_resolves_beside_rl_zoo3_and_current_optuna(wheel, tmp_path):
    """pip's resolver, dry run: execgym's base requirements, rl_zoo3 and optuna >= 3 together."""
    report = tmp_path / "report.json"
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "-q", "--report", report,
           wheel, "rl_zoo3", "optuna>=3"]
    try:
        proc = subprocess.run([str(c) for c in cmd], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        pytest.skip("the package index did not answer within 5 minutes")
    if proc.returncode != 0 and any(s in proc.stderr for s in ("NewConnectionError", "Temporary failure in name",
                                                               "Network is unreachable", "ConnectTimeout")):
        pytest.skip(f"the package index is unreachable: {proc.stderr[-300:]}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    chosen = {i["metadata"]["name"].lower().replace("_", "-"): i["metadata"]["version"]
              for i in json.loads(report.read_text())["install"]}
    assert {"execgym", "rl-zoo3", "optuna", "stable-baselines3", "gymnasium"} <= set(chosen)
    assert int(chosen["optuna"].split(".")[0]) >= 3
