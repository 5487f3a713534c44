"""The hold-file protocol of continuing in place (slurmhpo.control): one answer per rung,
written by whichever side comes first, and a requeued job finding its segment again."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from slurmhpo.control import (
    ENDED_BY_CONTROLLER,
    ENDED_BY_JOB,
    answer_file,
    claim,
    follow,
    hold_marker,
    next_task,
    reached_target,
    read_answer,
    wait_for_answer,
)


def segment_env(folder: Path, target: int, hold: float = 30.0) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    env = {
        "SLURMHPO_METRIC_FILE": str(folder / "metrics.jsonl"),
        "SLURMHPO_TARGET_RESOURCE": str(target),
        "SLURMHPO_RESOURCE_NAME": "epoch",
    }
    if hold:
        env["SLURMHPO_HOLD_SECONDS"] = str(hold)
    return env


def task(folder: Path, target: int, hold: float = 30.0) -> dict:
    env = segment_env(folder, target, hold)
    return {"command": ["true"], "env": env, "workdir": str(folder), "log_dir": str(folder)}


def test_the_first_claim_wins_and_the_second_reads_it(tmp_path: Path) -> None:
    path = answer_file(tmp_path, 3)
    ours = {"job_key": "k1", "task": task(tmp_path / "next", 9)}
    assert claim(path, ours) == ours
    assert claim(path, ENDED_BY_JOB) == ours  # the job came second: it obeys the controller
    assert read_answer(path) == ours
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left


def test_many_racing_claims_leave_exactly_one_answer(tmp_path: Path) -> None:
    path = answer_file(tmp_path, 1)
    answers: list[dict] = []
    barrier = threading.Barrier(8)

    def race(i: int) -> None:
        barrier.wait()
        answers.append(claim(path, {"job_key": f"k{i}"}))

    threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winner = json.loads(path.read_text())
    assert answers == [winner] * 8


def test_a_waiting_job_announces_itself_and_gives_up_after_its_hold(tmp_path: Path) -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    answer = wait_for_answer(tmp_path, 5, 2.0, clock=lambda: now[0], sleep=sleep)
    assert hold_marker(tmp_path, 5).exists()
    assert answer == ENDED_BY_JOB and read_answer(answer_file(tmp_path, 5)) == ENDED_BY_JOB
    assert now[0] == 2.0


def test_a_waiting_job_takes_the_answer_that_arrives(tmp_path: Path) -> None:
    now = [0.0]
    handed = {"job_key": "k", "task": task(tmp_path / "b", 9)}

    def sleep(seconds: float) -> None:
        now[0] += seconds
        if now[0] >= 1.0:
            claim(answer_file(tmp_path, 3), handed)

    answer = wait_for_answer(tmp_path, 3, 60.0, clock=lambda: now[0], sleep=sleep)
    assert next_task(answer) == handed["task"]
    assert next_task(ENDED_BY_CONTROLLER) is None


def test_a_requeued_job_follows_the_answers_to_its_current_segment(tmp_path: Path) -> None:
    first, second, third = (
        task(tmp_path / "s0", 1),
        task(tmp_path / "s1", 3),
        task(tmp_path / "s2", 9),
    )
    claim(answer_file(tmp_path / "s0", 1), {"job_key": "k1", "task": second})
    claim(answer_file(tmp_path / "s1", 3), {"job_key": "k2", "task": third})
    assert follow(first) == third  # no answer at s2 yet: that is the segment it runs
    claim(answer_file(tmp_path / "s2", 9), ENDED_BY_CONTROLLER)
    assert follow(first) is None  # it had been told to end
    assert follow(task(tmp_path / "plain", 4, hold=0)) == task(tmp_path / "plain", 4, hold=0)


def test_only_a_segment_that_reported_its_target_may_wait(tmp_path: Path) -> None:
    env = segment_env(tmp_path, 3)
    metrics = Path(env["SLURMHPO_METRIC_FILE"])
    metrics.write_text('{"epoch": 1, "loss": 0.5}\n{"epoch": 2, "loss": 0.4}\n')
    assert not reached_target(env)
    with metrics.open("a") as fh:
        fh.write('{"epoch": 3, "loss": 0.3}\n')
    assert reached_target(env)
