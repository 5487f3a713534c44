"""Turn a scheduler's suggestion into a backend request: files, environment, command.

A trial's files live in its study's run folder (``<runs_dir>/<run_key>``, see
:mod:`slurmhpo.controller.rundir`). Each job (segment) of a trial gets its own folder and its
own metric file, so the byte offset the controller keeps is per job, and a late line from an
earlier segment of the same trial can never be mistaken for the new segment's progress. The
trial's config file and checkpoint folder are shared by its segments: that is how a resumed
job continues where the last one paused.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from slurmhpo.backends.base import Resources, SegmentRequest
from slurmhpo.control import ENV_HOLD
from slurmhpo.controller.checkpoints import copy_checkpoint, keep_checkpoint
from slurmhpo.controller.rundir import RunDir, execution_digest
from slurmhpo.paths import TrialPaths, write_atomic
from slurmhpo.study import StudySpec
from slurmhpo.trial import TrialContext

METRIC_FILE_NAME = "metrics.jsonl"


class StudyIdentity(Protocol):
    """What names a study's folder: the study row, or the controller's view of it."""

    name: str
    uid: str
    run_key: str


def segment_metric_file(paths: TrialPaths, segment: int) -> Path:
    """Where segment ``segment`` of the trial writes its reports."""
    return paths.segment_dir(segment) / METRIC_FILE_NAME


def trial_command(spec: StudySpec) -> tuple[str, ...]:
    """The command a segment runs: the study's command, or the entry-point runner.

    An entry point runs under the controller's own interpreter, which on a cluster is the
    environment the user installed slurmhpo and their code into.
    """
    if spec.trial.command is not None:
        return spec.trial.command
    assert spec.trial.entrypoint is not None  # the study validator guarantees one of the two
    return (sys.executable, "-m", "slurmhpo.entrypoint", spec.trial.entrypoint)


def resources_of(spec: StudySpec) -> Resources:
    """The study's [slurm] table as backend resources."""
    slurm = spec.slurm
    return Resources(
        partition=slurm.partition,
        gpus_per_task=slurm.gpus_per_task,
        cpus_per_task=slurm.cpus_per_task,
        mem_gb=slurm.mem_gb,
        time_min=slurm.time_min,
        account=slurm.account,
        qos=slurm.qos,
        setup=slurm.setup,
        extra=dict(slurm.extra),
    )


def build_request(
    spec: StudySpec,
    runs_dir: Path,
    *,
    study: StudyIdentity,
    trial: int,
    config: dict[str, Any],
    start: int,
    target: int,
    segment: int,
    job_key: str,
    checkpoint_from: tuple[int, int] | None = None,
    keep_start: bool = False,
) -> SegmentRequest:
    """Prepare the files of one segment and describe how to run it.

    First checks that the study's folder under ``runs_dir`` is ``study``'s and that ``spec``
    runs what was registered (:meth:`RunDir.verify`; :class:`UntrustedStudy` otherwise).
    Writes the trial's config file atomically (the same content every time: the config of a
    trial never changes) and creates the segment's folder. A study that continues trials in
    place tells the job to wait at its target (``SLURMHPO_HOLD_SECONDS``).
    ``checkpoint_from`` = (donor, resource): copy the donor's checkpoint at ``resource`` into
    this trial's first; ``keep_start``: keep this trial's checkpoint at ``start`` for trials
    that may copy it later (:mod:`slurmhpo.controller.checkpoints`).
    """
    run_dir = RunDir(runs_dir, study.run_key, study.uid, study.name)
    run_dir.verify(execution_digest(spec))
    paths = run_dir.trial(trial)
    paths.make_dirs()
    paths.segment_dir(segment).mkdir(parents=True, exist_ok=True)
    write_atomic(paths.config_file, json.dumps(config, sort_keys=True) + "\n")
    if checkpoint_from is not None:
        copy_checkpoint(run_dir.trial(checkpoint_from[0]), paths, checkpoint_from[1])
    elif keep_start and start > 0:
        keep_checkpoint(paths, start)
    context = TrialContext.for_paths(paths, config, start, target, resource_name=spec.resource.name)
    context = replace(context, study=spec.name, metric_file=segment_metric_file(paths, segment))
    env = {**spec.trial.env, **context.to_environ()}
    if spec.trial.continue_in_place:  # wait at the target for another segment to run
        env[ENV_HOLD] = repr(spec.trial.hold_seconds)
    workdir = Path(spec.trial.workdir) if spec.trial.workdir else Path.cwd()
    return SegmentRequest(
        job_key=job_key,
        command=trial_command(spec),
        env=env,
        workdir=workdir,
        log_dir=paths.segment_dir(segment),
        resources=resources_of(spec),
    )
