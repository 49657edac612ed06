"""Reproduce the calibrated market presets (``conf/market``) from the settings in their headers.

    python -m execgym.experiments.presets                       # which presets the code reproduces
    python -m execgym.experiments.presets --write goog_2012_06_21_inside   # rewrite some (or: --write all)

Every calibrated preset's first line records how :mod:`execgym.experiments.stylized_facts`
wrote it: the ``calibration`` settings and the seed (files without a seed were written with
the default, 0), the second line its LOBSTER file, which names the day (``conf/day``), and
the file its warm-up; the day's session and folder are the ``conf/day`` option's as it is now. This entry point calibrates each again with the current code and compares
the result with the file (the body, and the header but for settings added since with their
default value): a preset that the code no longer reproduces was calibrated before a change
of the flow or of its calibration, and ``--write`` brings it up to date. Files without such
a header (``default.yaml``) are not calibrated and are left out. The comparison and the
rewrite are exact: a preset is the YAML that ``stylized_facts ... write_market_config=...``
writes, byte for byte.

Byte for byte on a machine like the one that wrote them: the calibration's maximum-likelihood
fits stop where the likelihood's last bits stop improving, and (inferred, :data:`PRESETS_SIMD`)
numpy computes float64 ``exp`` and ``log`` with AVX-512 code (its ``X86_V4`` loops) where the
CPU has it and with the C library's elsewhere, which differ in the last bit now and then; the fitted parameters then
differ from the fourth significant digit, and the refinements that simulate with them take it
from there. :data:`PRESETS_SIMD` names the level the presets were written at and
:func:`simd_level` this machine's; where they differ the check prints a note and a preset
that DIFFERS is only this machine's calibration (its settings and fields are still compared
by the tests).
"""

from __future__ import annotations

import argparse
import ast
import logging
import platform
import re
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf, open_dict

from execgym.experiments.lib.builders import conf_file
from execgym.experiments.lib.market_calibration import calibrated_market, load_day, market_yaml

logger = logging.getLogger(__name__)

__all__ = ["PRESETS_SIMD", "calibrated_presets", "preset_settings", "regenerate", "simd_level"]

#: the numpy SIMD level (:func:`simd_level`) of the machines that wrote ``conf/market``'s presets
#: and reproduced them in CI. Inferred, not recorded: an AMD EPYC without AVX-512 (``X86_V3``,
#: 2026-12-02) calibrates ``goog_2012_06_21_clustered``'s Hawkes kernels 2e-4 away from the
#: file (the same code, the same locked packages), where the earlier machines reproduced it
PRESETS_SIMD = "X86_V4"

_HEADER = re.compile(r"^# Calibrated by: python -m execgym\.experiments\.stylized_facts \(calibration: (\{.*\})"
                     r"(?:, seed: (-?\d+))?\)$")
_SOURCE = re.compile(r"^# from the LOBSTER file (\S+?)\. ")


def simd_level() -> str:
    """The highest x86-64 level numpy runs its SIMD loops at on this machine (``X86_V4``:
    AVX-512, ``X86_V3``: AVX2, else its baseline), or the machine's name off x86-64."""
    try:
        from numpy._core._multiarray_umath import __cpu_baseline__, __cpu_features__
    except ImportError:  # pragma: no cover - numpy's private layout changed: say so
        return f"unknown ({platform.machine()})"
    levels = [f for f in ("X86_V4", "X86_V3", "X86_V2") if __cpu_features__.get(f)]
    if levels:
        return levels[0]
    return "+".join(__cpu_baseline__) or platform.machine()


def calibrated_presets(conf_dir: Path | None = None) -> list[str]:
    """The names of the presets in ``conf/market`` that say they were calibrated (their first
    line starts ``# Calibrated by:``; :func:`preset_settings` refuses one it cannot read)."""
    market = (conf_dir or conf_file()) / "market"
    return sorted(p.stem for p in market.glob("*.yaml") if p.read_text().startswith("# Calibrated by:"))


def _days(conf_dir: Path) -> dict[str, str]:
    """Each ``conf/day`` option's message file (without a compression suffix) -> its name."""
    out: dict[str, str] = {}
    for path in sorted((conf_dir / "day").glob("*.yaml")):
        messages = re.sub(r"\.(xz|gz|bz2)$", "", str(OmegaConf.load(path).data.messages))
        if messages in out:
            raise ValueError(f"conf/day options {out[messages]!r} and {path.stem!r} name one message file {messages!r}")
        out[messages] = path.stem
    return out


def preset_settings(name: str, conf_dir: Path | None = None) -> dict:
    """``{"day", "seed", "warmup_s", "calibration"}`` that wrote the preset ``name`` (its
    header; the warm-up is a field of the preset itself).

    :raises ValueError: if the preset does not record its calibration or its day is unknown.
    """
    conf_dir = conf_dir or conf_file()
    path = conf_dir / "market" / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"no market preset {name!r} in {conf_dir / 'market'}")
    lines = path.read_text().replace("\r\n", "\n").split("\n", 2)
    head = _HEADER.match(lines[0])
    source = _SOURCE.match(lines[1]) if len(lines) > 1 else None
    if head is None or source is None:
        raise ValueError(f"preset {name!r} does not record its calibration (its first lines are not those "
                         f"stylized_facts writes)")
    days = _days(conf_dir)
    file = re.sub(r"\.(xz|gz|bz2)$", "", source.group(1))
    if file not in days:
        raise ValueError(f"preset {name!r} was calibrated on {file!r}, which no conf/day option names "
                         f"(known: {sorted(days)})")
    return {"day": days[file], "seed": int(head.group(2) or 0), "warmup_s": float(OmegaConf.load(path).warmup_s),
            "calibration": ast.literal_eval(head.group(1))}


def regenerate(name: str, conf_dir: Path | None = None) -> str:
    """The text of preset ``name`` calibrated again with the current code (module docstring)."""
    conf_dir = conf_dir or conf_file()
    settings = preset_settings(name, conf_dir)
    with initialize_config_dir(config_dir=str(conf_dir), version_base=None):
        cfg = compose(config_name="stylized_facts", overrides=[f"day={settings['day']}", f"seed={settings['seed']}",
                                                             f"warmup_s={settings['warmup_s']}"])
    with open_dict(cfg):
        for key, value in settings["calibration"].items():
            if key not in cfg.calibration:
                raise ValueError(f"preset {name!r} records calibration setting {key!r}, which stylized_facts no "
                                 f"longer has")
            cfg.calibration[key] = value
    day = load_day(cfg.data)
    _, _, market = calibrated_market(cfg, day)
    return market_yaml(market, cfg)


def _same(old: str, new: str, conf_dir: Path) -> bool:
    """The body and the recorded settings agree (settings added since, at their defaults, aside)."""
    old_lines, new_lines = old.split("\n", 1), new.split("\n", 1)
    if old_lines[1:] != new_lines[1:]:
        return False
    a, b = (_HEADER.match(x[0]) for x in (old_lines, new_lines))
    if a is None or b is None or (a.group(2) or "0") != (b.group(2) or "0"):
        return False
    recorded, now = ast.literal_eval(a.group(1)), ast.literal_eval(b.group(1))
    defaults = OmegaConf.to_container(OmegaConf.load(conf_dir / "stylized_facts.yaml").calibration)
    return all(now[k] == recorded.get(k, defaults.get(k)) for k in now)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", nargs="+", metavar="NAME", help="presets to rewrite (or: all)")
    parser.add_argument("--conf-dir", type=Path, default=None, help="the config directory (default: the package's)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    conf_dir = args.conf_dir or conf_file()
    names = calibrated_presets(conf_dir)
    if args.write:
        unknown = sorted(set(args.write) - set(names) - {"all"})
        if unknown:
            parser.error(f"not calibrated presets: {unknown} (calibrated: {names})")
        for name in names if "all" in args.write else args.write:
            path = conf_dir / "market" / f"{name}.yaml"
            path.write_text(regenerate(name, conf_dir))
            logger.warning("wrote %s", path)
        return 0
    if simd_level() != PRESETS_SIMD:
        print(f"note: numpy runs at {simd_level()} here, the presets were written at {PRESETS_SIMD}: the "
              "maximum-likelihood fits end a few last bits apart, so a preset may differ here and be current")
    stale = []
    for name in names:
        same = _same((conf_dir / "market" / f"{name}.yaml").read_text(), regenerate(name, conf_dir), conf_dir)
        print(f"{name:32s} {'reproduced' if same else 'DIFFERS: python -m execgym.experiments.presets --write ' + name}")
        stale += [] if same else [name]
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
