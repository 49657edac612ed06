"""The calibrated market presets are reproduced by the code: each file's header records the
calibration that wrote it, ``execgym.experiments.presets`` calibrates it again and finds the
same bytes, and rewrites a preset that the code no longer reproduces."""

from __future__ import annotations

import platform
import shutil
from pathlib import Path

import pytest
import yaml

from execgym.experiments import presets as P

CONF = Path(__file__).resolve().parents[2] / "conf"


def test_headers_name_the_day_seed_and_calibration():
    names = P.calibrated_presets(CONF)
    assert {"goog_2012_06_21", "goog_2012_06_21_inside", "goog_2012_06_21_follow",
            "amzn_2012_06_21_propagator"} <= set(names)
    assert "default" not in names  # not calibrated
    follow = P.preset_settings("goog_2012_06_21_follow", CONF)
    assert follow["day"] == "goog_2012_06_21" and follow["seed"] == 0
    assert follow["calibration"]["follow"] is True and follow["calibration"]["inside"] is True
    assert follow["warmup_s"] == 600.0
    assert P.preset_settings("amzn_2012_06_21_propagator", CONF)["day"] == "amzn_2012_06_21"
    with pytest.raises(ValueError, match="does not record"):
        P.preset_settings("default", CONF)
    with pytest.raises(ValueError, match="no market preset"):
        P.preset_settings("nope", CONF)


#: numpy runs its SIMD loops at the level the presets were written at (presets.PRESETS_SIMD):
#: the calibration reproduces them byte for byte; elsewhere their fits end a few last bits apart
SAME_SIMD = P.simd_level() == P.PRESETS_SIMD


def _fields(text: str, prefix: str = "") -> list[str]:
    """The dotted names of a preset's fields, in the file's order."""
    def walk(node, at):
        if isinstance(node, dict):
            return [name for key, value in node.items() for name in [f"{at}{key}", *walk(value, f"{at}{key}.")]]
        return []
    return walk(yaml.safe_load(text), prefix)


@pytest.mark.parametrize("name", P.calibrated_presets(CONF))
def test_every_calibrated_preset_is_reproduced_by_the_code(name):
    """Byte for byte where numpy runs at the presets' SIMD level; elsewhere (the fits a few last
    bits apart, presets.py's docstring) the same settings, seed and fields, in the same order."""
    text = (CONF / "market" / f"{name}.yaml").read_text()
    new = P.regenerate(name, CONF)
    hint = f"{name} is not what its calibration gives with this code: python -m execgym.experiments.presets --write {name}"
    if SAME_SIMD:
        assert P._same(text, new, CONF), hint
    else:
        first, rest = text.split("\n", 1)[0], new.split("\n", 1)[1]
        assert P._same(first + "\n" + rest, new, CONF), hint  # its header's settings and seed
        assert new.split("\n", 2)[1] == text.split("\n", 2)[1], hint  # the day
        assert _fields(new) == _fields(text), hint


def test_simd_level_names_an_x86_level_or_the_machine():
    level = P.simd_level()
    if platform.machine() in ("x86_64", "AMD64"):
        assert level in ("X86_V4", "X86_V3", "X86_V2")
    assert level and isinstance(level, str)


def test_a_stale_preset_is_found_and_rewritten(tmp_path, capsys):
    conf = tmp_path / "conf"
    shutil.copytree(CONF, conf)
    for path in (conf / "market").glob("*.yaml"):  # keep one calibrated preset (the quick one) and default
        if path.stem not in ("goog_2012_06_21", "default"):
            path.unlink()
    path = conf / "market" / "goog_2012_06_21.yaml"
    good = path.read_text()
    stale = good.replace("resilience_per_s: ", "resilience_per_s: 1", 1)
    assert stale != good
    path.write_text(stale)
    assert P.main(["--conf-dir", str(conf)]) == 1
    assert "DIFFERS" in capsys.readouterr().out
    assert P.main(["--conf-dir", str(conf), "--write", "goog_2012_06_21"]) == 0
    if SAME_SIMD:
        assert path.read_text().split("\n", 1)[1] == good.split("\n", 1)[1]
    assert P.main(["--conf-dir", str(conf)]) == 0
    with pytest.raises(SystemExit):
        P.main(["--conf-dir", str(conf), "--write", "default"])  # not calibrated: refused


def test_a_header_it_cannot_read_is_refused_not_skipped(tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(CONF, conf)
    path = conf / "market" / "goog_2012_06_21.yaml"
    path.write_text(path.read_text().replace("(calibration: {", "(calibration {", 1))
    assert "goog_2012_06_21" in P.calibrated_presets(conf)
    with pytest.raises(ValueError, match="does not record"):
        P.preset_settings("goog_2012_06_21", conf)
