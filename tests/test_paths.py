"""TrialPaths names every per-trial file; write_atomic replaces whole files and leaves no temp."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from slurmhpo.errors import ConfigError
from slurmhpo.paths import (
    TrialPaths,
    checkpoint_name,
    is_temp_file,
    list_checkpoints,
    parse_checkpoint_name,
    write_atomic,
)


def test_layout_names_every_file(tmp_path: Path) -> None:
    paths = TrialPaths(tmp_path, "digits-mlp", 7)
    trial_dir = tmp_path / "digits-mlp" / "trials" / "trial-000007"
    assert paths.study_dir == tmp_path / "digits-mlp"
    assert paths.trial_dir == trial_dir
    assert paths.config_file == trial_dir / "config.json"
    assert paths.metric_file == trial_dir / "metrics.jsonl"
    assert paths.checkpoint_dir == trial_dir / "checkpoints"
    assert paths.checkpoint_file(3) == trial_dir / "checkpoints" / "checkpoint-000000003.pkl"
    assert paths.checkpoint_file(3, binary=True).name == "checkpoint-000000003.bin"
    assert paths.segment_dir(2) == trial_dir / "segments" / "segment-002"
    assert paths.segment_stdout(2) == trial_dir / "segments" / "segment-002" / "stdout.log"
    assert paths.segment_stderr(0).name == "stderr.log"


def test_naming_does_no_io_and_make_dirs_is_idempotent(tmp_path: Path) -> None:
    paths = TrialPaths(str(tmp_path), "s", 0)  # a str root is accepted
    assert isinstance(paths.root, Path)
    assert not paths.trial_dir.exists()
    paths.make_dirs()
    paths.make_dirs()
    assert paths.checkpoint_dir.is_dir()


@pytest.mark.parametrize(
    "name",
    ["", ".", "..", "../x", "a/b", "/abs", ".hidden", "-flag", "with space", "x" * 151, "é"],
)
def test_unsafe_study_folders_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError) as info:
        TrialPaths(tmp_path, name, 1)
    assert info.value.field == "run_key"
    assert "letters, digits" in str(info.value)


@pytest.mark.parametrize("name", ["a", "digits-mlp-0123456789ab", "run_2.v1", "A..b", "x" * 150])
def test_safe_study_folders_stay_inside_root(tmp_path: Path, name: str) -> None:
    paths = TrialPaths(tmp_path, name, 1)
    assert paths.trial_dir.resolve().is_relative_to(tmp_path.resolve())
    assert paths.study_dir.name == name


@pytest.mark.parametrize("trial", [-1, True, 1.0, "3"])
def test_bad_trial_numbers_are_refused(tmp_path: Path, trial: object) -> None:
    with pytest.raises(ConfigError):
        TrialPaths(tmp_path, "s", trial)  # type: ignore[arg-type]


def test_distinct_trials_get_distinct_dirs(tmp_path: Path) -> None:
    dirs = {TrialPaths(tmp_path, "s", n).trial_dir for n in range(50)}
    assert len(dirs) == 50


def test_bad_segment_number_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="segment"):
        TrialPaths(tmp_path, "s", 1).segment_dir(-1)


def test_checkpoint_names_round_trip_and_sort_as_text() -> None:
    assert parse_checkpoint_name(checkpoint_name(12, binary=False)) == (12, False)
    assert parse_checkpoint_name(checkpoint_name(0, binary=True)) == (0, True)
    assert checkpoint_name(9, False) < checkpoint_name(10, False)
    for other in ["checkpoint-1.pkl", ".checkpoint-000000001.pkl.tmp-1-ab", "notes.txt"]:
        assert parse_checkpoint_name(other) is None
    with pytest.raises(ValueError):
        checkpoint_name(-1, False)


def test_list_checkpoints_ignores_temp_files_and_missing_dir(tmp_path: Path) -> None:
    assert list_checkpoints(tmp_path / "missing") == []
    for resource in (1, 3, 2):
        (tmp_path / checkpoint_name(resource, False)).write_bytes(b"x")
    (tmp_path / ".checkpoint-000000009.pkl.tmp-1-aa").write_bytes(b"half")
    assert [r for r, _ in list_checkpoints(tmp_path)] == [3, 2, 1]


def test_write_atomic_creates_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "config.json"
    write_atomic(target, '{"lr": 0.1}')
    assert target.read_text() == '{"lr": 0.1}'
    write_atomic(target, b"\x00" * 10_000)
    assert target.read_bytes() == b"\x00" * 10_000
    write_atomic(target, "short", durable=False)
    assert target.read_text() == "short"  # fully replaced, no tail of the longer content
    assert os.listdir(target.parent) == ["config.json"]


def test_write_atomic_failure_keeps_old_content_and_removes_temp(tmp_path: Path) -> None:
    target = tmp_path / "config.json"
    write_atomic(target, "old")
    with pytest.raises(TypeError, match="bytes or str"):
        write_atomic(target, 12345)  # type: ignore[arg-type]
    (tmp_path / "dir_target").mkdir()
    (tmp_path / "dir_target" / "keep").write_text("x")
    with pytest.raises(OSError):
        write_atomic(tmp_path / "dir_target", "cannot replace a non-empty directory")
    assert target.read_text() == "old"
    assert not [name for name in os.listdir(tmp_path) if is_temp_file(name)]


def test_temp_names_are_recognized() -> None:
    assert is_temp_file(".config.json.tmp-12-abcd")
    assert not is_temp_file("config.json")
    assert not is_temp_file(".hidden")
