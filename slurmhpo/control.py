"""Hold files: how a job that finished its segment learns whether to run the next one.

On a busy cluster every job waits in the queue before it starts, and promotion-style ASHA,
Hyperband and BOHB end a job at every rung: each resume of a paused trial would be a new job
and a new wait. A study with ``[trial] continue_in_place = true`` saves those waits. A job
whose segment reached its target does not end at once: its wrapper (what runs the trial
command inside the job) waits up to ``SLURMHPO_HOLD_SECONDS`` for the controller's answer,
which is either the next segment to run in this job (first choice: the resume of its own
trial, which goes on from its checkpoint) or "end".

The files live in the folder of the segment's metric file (its segment folder); ``r`` is the
segment's target:

``hold-<r>``
    written by the wrapper once the segment's command exited 0 having reported ``r``. The
    controller counts the job as a free worker only once this file exists, so a job that
    never waits (a backend without a wrapper that holds, a segment that failed) is never
    counted on.
``answer-<r>.json``
    written exactly once, by whichever side comes first. The controller writes
    ``{"job_key": K, "task": {...}}`` (run this segment next: command, env, workdir,
    log_dir; K is its job row's key) or ``{"end": true, "by": "controller"}``. The wrapper,
    when it gave up waiting, writes ``{"end": true, "by": "job"}``.

"Exactly once" makes the hand-over safe without locks: an answer is a complete temporary file
given its final name with a hard link, and ``link`` fails when the name exists (atomically,
on local file systems and on NFS). So the two writers cannot both win, a reader never sees
half a file, and the loser reads the winner's answer and obeys it: a controller that finds
the job gave up submits the segment as a new job instead. A restarted controller that finds
its own job key in an answer knows that its claim had landed.

Answers also let a job that Slurm requeued (preemption, node failure) find the segment it
was running: it starts again with its first segment's environment and follows the answers
from there (:func:`follow`).

Like :mod:`slurmhpo.trial`, this module needs only the standard library: job wrappers import
it on compute nodes.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from slurmhpo.trial import ENV_METRIC_FILE, ENV_RESOURCE_NAME, ENV_TARGET, highest_reported

ENV_HOLD = "SLURMHPO_HOLD_SECONDS"  # set on segments that wait at their target for an answer
POLL_SECONDS = 0.5  # how often a waiting job looks for its answer
ENDED_BY_JOB: dict[str, Any] = {"end": True, "by": "job"}
ENDED_BY_CONTROLLER: dict[str, Any] = {"end": True, "by": "controller"}


def hold_marker(folder: Path | str, rung: int) -> Path:
    """The file a job's wrapper writes when it starts waiting at ``rung``."""
    return Path(folder) / f"hold-{rung:09d}"


def answer_file(folder: Path | str, rung: int) -> Path:
    """The answer for the job waiting at ``rung`` in segment folder ``folder``."""
    return Path(folder) / f"answer-{rung:09d}.json"


def read_answer(path: Path) -> dict[str, Any] | None:
    """The answer in ``path``, or None while there is none. An answer is always complete (it
    appears by ``link``), so a file that does not parse is damage: it reads as "end"."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        answer = json.loads(text)
    except json.JSONDecodeError:
        return dict(ENDED_BY_JOB, damaged=True)
    return answer if isinstance(answer, dict) else dict(ENDED_BY_JOB, damaged=True)


def claim(path: Path, answer: dict[str, Any]) -> dict[str, Any]:
    """Write ``answer`` to ``path`` unless an answer is there already; returns the answer in
    force (``answer`` itself when this call won, else the one found)."""
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.write(fd, (json.dumps(answer) + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temp, path)
            return answer
        except FileExistsError:
            found = read_answer(path)
            return found if found is not None else dict(ENDED_BY_JOB, damaged=True)
    finally:
        temp.unlink(missing_ok=True)


def next_task(answer: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The segment an answer hands over (command, env, workdir, log_dir), or None for "end"."""
    task = None if answer is None else answer.get("task")
    if not isinstance(task, dict) or not isinstance(task.get("env"), dict):
        return None
    return task


def waits(env: Mapping[str, str]) -> float:
    """How long a segment with environment ``env`` waits at its target (0: it does not)."""
    try:
        seconds = float(env.get(ENV_HOLD, "") or 0)
    except ValueError:
        return 0.0
    return seconds if 0 < seconds < float("inf") else 0.0


def place_of(env: Mapping[str, str]) -> tuple[Path, int]:
    """(segment folder, target) of the segment with environment ``env``."""
    return Path(env[ENV_METRIC_FILE]).parent, int(env[ENV_TARGET])


def follow(task: dict[str, Any]) -> dict[str, Any] | None:
    """From a job's first segment ``task``, follow the answers to the segment it runs now;
    None when the last answer was "end". For a job that Slurm started again from the
    beginning: its environment is still its first segment's."""
    while waits(task["env"]):
        folder, target = place_of(task["env"])
        answer = read_answer(answer_file(folder, target))
        if answer is None:
            return task
        following = next_task(answer)
        if following is None:
            return None
        task = following
    return task


def reached_target(env: Mapping[str, str]) -> bool:
    """Whether the segment's metric file reports its target: only then may its job wait for
    another segment (one that exited 0 short of its target ends, and is judged as such)."""
    target = int(env[ENV_TARGET])
    return highest_reported(Path(env[ENV_METRIC_FILE]), env[ENV_RESOURCE_NAME]) >= target


def wait_for_answer(
    folder: Path | str,
    rung: int,
    hold_seconds: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """The job side: announce the wait at ``rung``, wait up to ``hold_seconds`` for the
    controller's answer, then give up by claiming "ended by the job" (which loses, and is
    replaced by the controller's answer, if that arrived at the last moment)."""
    hold_marker(folder, rung).write_text(f"{os.getpid()}\n", encoding="utf-8")
    path = answer_file(folder, rung)
    deadline = clock() + hold_seconds
    while True:
        answer = read_answer(path)
        if answer is not None:
            return answer
        left = deadline - clock()
        if left <= 0:
            return claim(path, ENDED_BY_JOB)
        sleep(min(POLL_SECONDS, left))
