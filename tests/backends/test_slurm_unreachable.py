"""The Slurm backend tells "slurmctld does not answer" (transient) from a refusal (a verdict),
with stand-in Slurm commands on PATH, so no cluster is needed (the real outage is
tests/chaos/test_slurmctld_killed.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from slurmhpo.backends.base import SegmentRequest
from slurmhpo.backends.slurm import SlurmBackend
from slurmhpo.backends.slurm_queries import unreachable
from slurmhpo.errors import BackendUnavailable, SlurmhpoError

DOWN = "scancel: error: Kill job error on job id 7: Unable to contact slurm controller"
REFUSED = "scancel: error: Kill job error on job id 7: Access/permission denied"


def _fake_scancel(folder: Path, message: str) -> None:
    script = folder / "scancel"
    script.write_text(f"#!/bin/sh\necho '{message}' >&2\nexit 8\n")
    script.chmod(0o755)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (DOWN, True),
        ("squeue: error: Socket timed out on send/recv operation", True),
        (REFUSED, False),
        ("sbatch: error: invalid partition specified: nope", False),
    ],
)
def test_unreachable_reads_slurm_client_errors(text: str, expected: bool) -> None:
    assert unreachable(text) is expected


def test_scancel_that_cannot_reach_slurmctld_is_transient(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_scancel(tmp_path, DOWN)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    with pytest.raises(BackendUnavailable, match="Unable to contact"):
        SlurmBackend(tmp_path / "root").cancel(["7"])


def test_scancel_refused_is_not_mistaken_for_an_outage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_scancel(tmp_path, REFUSED)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    with pytest.raises(SlurmhpoError, match="permission denied") as raised:
        SlurmBackend(tmp_path / "root").cancel(["7"])
    assert not isinstance(raised.value, BackendUnavailable)


def test_sbatch_that_cannot_reach_slurmctld_is_transient(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sbatch = tmp_path / "sbatch"
    message = "sbatch: error: Batch job submission failed: Unable to contact slurm controller"
    sbatch.write_text(f"#!/bin/sh\necho '{message}' >&2\nexit 1\n")
    sbatch.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    request = SegmentRequest("shpo-x-j1", ("true",), {}, tmp_path, tmp_path / "log")
    with pytest.raises(BackendUnavailable, match="Unable to contact"):
        SlurmBackend(tmp_path / "root").submit([request])
