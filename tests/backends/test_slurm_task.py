"""The wrapper a Slurm job runs (slurm_task.run_segment), on this machine without Slurm: it
runs the handed-over segments of a study that continues in place, in one process."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from slurmhpo.backends.slurm_task import SegmentTask, run_segment
from slurmhpo.control import ENDED_BY_CONTROLLER, answer_file, claim, hold_marker

REPORT = "import os; open(os.environ['SLURMHPO_METRIC_FILE'], 'a').write('{\"epoch\": %d}\\n')"


def segment(
    root: Path, name: str, target: int, *, hold: float = 20.0, code: int = 0
) -> SegmentTask:
    """A segment whose command reports ``target`` and exits with ``code``."""
    folder = root / name
    folder.mkdir(parents=True)
    env = {
        "SLURMHPO_METRIC_FILE": str(folder / "metrics.jsonl"),
        "SLURMHPO_TARGET_RESOURCE": str(target),
        "SLURMHPO_RESOURCE_NAME": "epoch",
        "SLURMHPO_HOLD_SECONDS": str(hold),
    }
    script = f"{REPORT % target}; raise SystemExit({code})"
    return SegmentTask((sys.executable, "-c", script), tuple(env.items()), str(root), str(folder))


def answer_when_waiting(folder: Path, rung: int, answer: dict) -> threading.Thread:
    """Play the controller: once the job waits at ``rung``, hand it ``answer``."""

    def play() -> None:
        deadline = time.monotonic() + 30
        while not hold_marker(folder, rung).exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        claim(answer_file(folder, rung), answer)

    thread = threading.Thread(target=play, daemon=True)
    thread.start()
    return thread


def test_a_job_runs_the_segment_it_is_handed_then_ends_when_told(tmp_path: Path) -> None:
    first, second = segment(tmp_path, "s0", 1), segment(tmp_path, "s1", 3)
    players = [
        answer_when_waiting(tmp_path / "s0", 1, {"job_key": "k1", "task": second.to_dict()}),
        answer_when_waiting(tmp_path / "s1", 3, ENDED_BY_CONTROLLER),
    ]
    assert run_segment(first) == 0
    for player in players:
        player.join()
    assert (tmp_path / "s0" / "metrics.jsonl").read_text() == '{"epoch": 1}\n'
    assert (tmp_path / "s1" / "metrics.jsonl").read_text() == '{"epoch": 3}\n'
    assert (tmp_path / "s1" / "stdout.log").exists()  # each segment logs into its own folder


def test_a_failing_handed_segment_ends_the_job_with_its_exit_code(tmp_path: Path) -> None:
    first, second = segment(tmp_path, "s0", 1), segment(tmp_path, "s1", 3, code=3)
    answer_when_waiting(tmp_path / "s0", 1, {"job_key": "k1", "task": second.to_dict()})
    with pytest.raises(SystemExit) as ended:
        run_segment(first)
    assert ended.value.code == 3


def test_a_segment_short_of_its_target_does_not_wait(tmp_path: Path) -> None:
    short = segment(tmp_path, "s0", 2)
    folder = tmp_path / "s0"
    script = f"{REPORT % 1}"  # reports 1 of 2, exits 0
    task = SegmentTask((sys.executable, "-c", script), short.env, short.workdir, short.log_dir)
    assert run_segment(task) == 0
    assert not hold_marker(folder, 2).exists()


def test_a_requeued_job_runs_the_segment_the_answers_lead_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = segment(tmp_path, "s0", 1), segment(tmp_path, "s1", 3, hold=0)
    claim(answer_file(tmp_path / "s0", 1), {"job_key": "k1", "task": second.to_dict()})
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    assert run_segment(first) == 0
    assert not (tmp_path / "s0" / "metrics.jsonl").exists()  # not run again
    assert (tmp_path / "s1" / "metrics.jsonl").read_text() == '{"epoch": 3}\n'
