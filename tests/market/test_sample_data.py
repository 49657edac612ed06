"""The LOBSTER sample days ship inside the package, compressed, byte for byte LOBSTER's files."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from execgym.envs.lob_replay import LOBReplayConfig
from execgym.envs.market.data.lobster import read_messages, read_orderbook, resolve_lobster_file
from execgym.envs.market.data.lobster_data import default_lobster_dir, load_lobster, sample_lobster_dir

ROOT = Path(__file__).resolve().parents[2]


def _documented_hashes() -> dict[str, str]:
    """File name -> sha256 of the decompressed CSV, as the data README states them."""
    text = (sample_lobster_dir() / "README.md").read_text()
    return dict(re.findall(r"\| `([A-Z]+_[^`]+\.csv)` \|[^\n]*\| `([0-9a-f]{64})` \|", text))


def test_the_sample_is_package_data_not_a_file_outside_the_package():
    import execgym

    folder = sample_lobster_dir()
    assert folder.is_relative_to(Path(execgym.__file__).parent)
    assert (folder / "LOBSTER_SampleFiles_ReadMe.txt").is_file()
    assert "lobsterdata.com" in (folder / "README.md").read_text()


def test_every_documented_file_decompresses_to_its_documented_sha256():
    hashes = _documented_hashes()
    assert len(hashes) == 4 and {n.split("_")[0] for n in hashes} == {"GOOG", "AMZN"}
    for name, digest in hashes.items():
        packed = sample_lobster_dir() / (name + ".xz")
        assert packed.is_file(), packed
        assert not (sample_lobster_dir() / name).exists()  # only the compressed copy ships
        with lzma.open(packed) as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest, name


def test_a_plain_name_resolves_to_its_compressed_copy_and_missing_files_are_named(tmp_path):
    name = "AMZN_2012-06-21_34200000_57600000_message_1.csv"
    assert resolve_lobster_file(sample_lobster_dir() / name).name == name + ".xz"
    with pytest.raises(FileNotFoundError, match=r"nope\.csv.*nope\.csv\.xz"):
        resolve_lobster_file(tmp_path / "nope.csv")


@pytest.mark.parametrize("compress", ["plain", "gz", "bz2", "xz"])
def test_plain_and_compressed_copies_read_the_same(tmp_path, compress):
    name = "AMZN_2012-06-21_34200000_57600000_orderbook_1.csv"
    with lzma.open(sample_lobster_dir() / (name + ".xz")) as f:
        raw = f.read()
    if compress == "plain":
        (tmp_path / name).write_bytes(raw)
    elif compress == "gz":
        (tmp_path / (name + ".gz")).write_bytes(gzip.compress(raw))
    elif compress == "bz2":
        (tmp_path / (name + ".bz2")).write_bytes(bz2.compress(raw))
    else:
        shutil.copy(sample_lobster_dir() / (name + ".xz"), tmp_path)
    mine = read_orderbook(tmp_path / name, levels=1)
    expected = np.loadtxt(raw.decode().splitlines(), delimiter=",", dtype=np.int64)
    np.testing.assert_array_equal(mine, expected)


def test_a_bad_row_in_a_compressed_file_is_named_with_the_file(tmp_path):
    path = tmp_path / "BAD_2012-06-21_message_1.csv.xz"
    path.write_bytes(lzma.compress(b"34200.1,1,1,100,5000000,1\n34200.2,1,2,abc,5000000,1\n"))
    with pytest.raises(ValueError, match=r"BAD_2012-06-21_message_1\.csv\.xz: row 2 column 4: 'abc'"):
        read_messages(path)


def test_environment_variable_points_every_reader_at_a_users_folder(tmp_path, monkeypatch):
    for suffix in ("message_1", "orderbook_1"):
        name = f"AMZN_2012-06-21_34200000_57600000_{suffix}.csv"
        with lzma.open(sample_lobster_dir() / (name + ".xz")) as f:
            (tmp_path / name).write_bytes(f.read())
    monkeypatch.setenv("EXECGYM_LOBSTER_DIR", str(tmp_path))
    assert default_lobster_dir() == tmp_path
    cfg = LOBReplayConfig(message_file="AMZN_2012-06-21_34200000_57600000_message_1.csv",
                          orderbook_file="AMZN_2012-06-21_34200000_57600000_orderbook_1.csv")
    assert cfg.path("message_file") == tmp_path / "AMZN_2012-06-21_34200000_57600000_message_1.csv"
    monkeypatch.setenv("EXECGYM_LOBSTER_DIR", str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="message_file=.*EXECGYM_LOBSTER_DIR"):
        LOBReplayConfig()


def test_loaded_sample_has_the_documented_rows():
    day = load_lobster(sample_lobster_dir() / "AMZN_2012-06-21_34200000_57600000_message_1.csv",
                       sample_lobster_dir() / "AMZN_2012-06-21_34200000_57600000_orderbook_1.csv")
    assert len(day.messages) == 57_515 and day.levels == 1
