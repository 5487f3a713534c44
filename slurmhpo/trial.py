"""The trial side: what a training script needs to run under slurmhpo, and nothing more.

A trial may run as several jobs ("segments"): the controller pauses it at a rung and later
resumes it from its checkpoint as a new job. Each job learns everything from environment
variables, reports by appending lines to a metric file, and checkpoints into a directory.
This module imports only the standard library, :mod:`slurmhpo.errors` and
:mod:`slurmhpo.paths`, so a compute node needs none of the controller's dependencies. Any
language can follow the same contract; it is spelled out here precisely.

Environment (all set by the controller for every job; all required except SLURMHPO_FSYNC)
-----------------------------------------------------------------------------------------
``SLURMHPO_STUDY``            study name
``SLURMHPO_TRIAL``            trial number (int >= 0)
``SLURMHPO_CONFIG``           path of the trial's configuration: a UTF-8 JSON object, written
                              atomically by the controller before the job starts
``SLURMHPO_RESOURCE_NAME``    name of the resource, e.g. ``epoch``
``SLURMHPO_START_RESOURCE``   int >= 0: resources 1..start are done; 0 for a new trial. Resume
                              from the checkpoint taken at ``start`` and train step start+1 next
``SLURMHPO_TARGET_RESOURCE``  int > start: stop after reporting this resource (the rung where
                              the controller will pause the trial, or the maximum resource)
``SLURMHPO_CHECKPOINT_DIR``   directory for checkpoints (kept across the trial's jobs)
``SLURMHPO_METRIC_FILE``      file to append reports to (one per job: the controller keeps a
                              byte offset per job)
``SLURMHPO_FSYNC``            optional, ``1`` (default) or ``0``: fsync after each report and
                              checkpoint. Turning it off trades crash safety for speed

A job that Slurm requeues (preemption, node failure) runs again with the same variables, and
``SLURM_RESTART_COUNT`` > 0. Then :attr:`TrialContext.start` is moved up to the newest checkpoint
this job already reported (see :func:`resume_point`), so the rerun continues where the first
run got to instead of training its whole segment again; every resource is still reported.

Metric file format (JSON Lines)
-------------------------------
UTF-8 text; every report is ONE JSON object on ONE line ending with ``\\n``, for example::

    {"epoch": 3, "val_loss": 0.31, "val_accuracy": 0.9, "time": 1764000000.25}

* the key named by ``SLURMHPO_RESOURCE_NAME`` holds the resource reached, an int >= 1;
* ``time`` is the Unix time (seconds, a float) of the report; writers in other languages
  should include it;
* every other key is a metric, and its value is a JSON number. A failed or diverged value is
  written ``NaN``, ``Infinity`` or ``-Infinity``: these bare tokens are not strict JSON, but
  Python's ``json.loads`` (which the controller uses) reads them back as floats, and the
  schedulers rank them worst. Strings, booleans, null, lists and objects are not metrics and
  this module refuses them.
* Write each line with a single ``write`` on a file opened for appending (``O_APPEND``, shell
  ``>>``, C ``fopen(..., "a")`` + one ``fputs`` + ``fflush``), so a reader sees a whole line or
  a line still missing its ``\\n``. Readers ignore a last line without ``\\n`` until it is
  complete; :func:`report` first ends such a line if it was cut short, so the cut line is
  skipped and the new report kept.
  From bash: ``printf '{"epoch": %d, "val_loss": %s, "time": %s}\\n' "$e" "$loss"
  "$(date +%s.%N)" >> "$SLURMHPO_METRIC_FILE"``.
* Only one job of a trial runs at a time, so reports of different jobs never interleave.

Reports at resources beyond the target are allowed, but the controller may stop the job as
soon as it has read the target's report. A resumed job may repeat a resource an earlier job
already reported (when its checkpoint is older than ``start``); the controller keeps the
first report of each resource. Take the checkpoint for resource r BEFORE reporting r: then a
job killed right after a report never leaves the controller believing in progress that no
checkpoint holds.

Checkpoint format
-----------------
``<SLURMHPO_CHECKPOINT_DIR>/checkpoint-<resource, 9 digits>.pkl`` holds a pickled dict, and
``checkpoint-<resource>.bin`` raw bytes (any format a script likes, from any language). Files
are written atomically (temp file + rename); names of temp files start with a dot and never
match the pattern above. Saving keeps the new checkpoint and the previous one (in case the
newest turns out unreadable) and deletes the others, including any at a HIGHER resource (an
abandoned future: the trial was restarted from an earlier point).

Running a script by hand
------------------------
Outside slurmhpo the variables are missing and :func:`get_context` says so. Build a context
with :meth:`TrialContext.for_testing` and call its methods, or export its
:meth:`TrialContext.to_environ` into the environment of a process that uses the module-level
functions.
"""

from __future__ import annotations

import json
import numbers
import os
import pickle
import re
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from slurmhpo.errors import SlurmhpoError
from slurmhpo.paths import TrialPaths, is_temp_file, list_checkpoints, write_atomic
from slurmhpo.paths import checkpoint_name as _checkpoint_name

ENV_STUDY = "SLURMHPO_STUDY"
ENV_TRIAL = "SLURMHPO_TRIAL"
ENV_CONFIG = "SLURMHPO_CONFIG"
ENV_RESOURCE_NAME = "SLURMHPO_RESOURCE_NAME"
ENV_START = "SLURMHPO_START_RESOURCE"
ENV_TARGET = "SLURMHPO_TARGET_RESOURCE"
ENV_CHECKPOINT_DIR = "SLURMHPO_CHECKPOINT_DIR"
ENV_METRIC_FILE = "SLURMHPO_METRIC_FILE"
ENV_FSYNC = "SLURMHPO_FSYNC"
ENV_SLURM_RESTART = "SLURM_RESTART_COUNT"  # set by Slurm; > 0 in a requeued job's rerun

REQUIRED_ENV = (
    ENV_STUDY,
    ENV_TRIAL,
    ENV_CONFIG,
    ENV_RESOURCE_NAME,
    ENV_START,
    ENV_TARGET,
    ENV_CHECKPOINT_DIR,
    ENV_METRIC_FILE,
)
TIME_KEY = "time"
_RESOURCE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class TrialEnvironmentError(SlurmhpoError):
    """The job's environment does not describe a slurmhpo trial (missing or bad variable)."""

    exit_code = 2


@dataclass(frozen=True)
class TrialContext:
    """Everything one job of a trial knows: which config, where to start and stop, which files.

    Construction validates the values (ValueError naming the fix). Methods do the I/O; the
    module-level functions do the same on the context read from the environment.
    """

    study: str
    trial: int
    config: dict[str, Any] = field(hash=False)
    config_file: Path
    start: int
    target: int
    resource_name: str
    checkpoint_dir: Path
    metric_file: Path
    fsync: bool = True

    def __post_init__(self) -> None:
        for name in ("config_file", "checkpoint_dir", "metric_file"):
            object.__setattr__(self, name, Path(getattr(self, name)))
        _check_resource_name(self.resource_name)
        if not _is_int(self.trial) or self.trial < 0:
            raise ValueError(f"trial must be an int >= 0, got {self.trial!r}")
        if not isinstance(self.config, dict):
            raise ValueError(f"config must be a dict, got {type(self.config).__name__}")
        if not _is_int(self.start) or self.start < 0:
            raise ValueError(f"start must be an int >= 0, got {self.start!r}")
        if not _is_int(self.target) or self.target <= self.start:
            raise ValueError(
                f"target must be an int greater than start ({self.start}), got {self.target!r}"
            )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> TrialContext:
        """Read the context from ``environ`` (default ``os.environ``) and the config file.

        Raises TrialEnvironmentError naming the first missing or malformed variable.
        """
        env = os.environ if environ is None else environ
        missing = [name for name in REQUIRED_ENV if not env.get(name)]
        if missing:
            raise TrialEnvironmentError(
                f"environment variable {missing[0]} is not set (missing: {', '.join(missing)}); "
                "this script expects to be started by slurmhpo. To run it by hand, build a "
                "context with slurmhpo.trial.TrialContext.for_testing(config, target, tmp_dir) "
                "and export its to_environ(), or set every SLURMHPO_* variable yourself"
            )
        config_file = Path(env[ENV_CONFIG])
        try:
            context = cls(
                study=env[ENV_STUDY],
                trial=_env_int(env, ENV_TRIAL),
                config=_read_config(config_file),
                config_file=config_file,
                start=_env_int(env, ENV_START),
                target=_env_int(env, ENV_TARGET),
                resource_name=env[ENV_RESOURCE_NAME],
                checkpoint_dir=Path(env[ENV_CHECKPOINT_DIR]),
                metric_file=Path(env[ENV_METRIC_FILE]),
                fsync=_env_bool(env, ENV_FSYNC, default=True),
            )
        except ValueError as exc:
            raise TrialEnvironmentError(
                f"the SLURMHPO_* environment is inconsistent: {exc} "
                f"({ENV_START}={env[ENV_START]!r}, {ENV_TARGET}={env[ENV_TARGET]!r}, "
                f"{ENV_RESOURCE_NAME}={env[ENV_RESOURCE_NAME]!r})"
            ) from exc
        if env.get(ENV_SLURM_RESTART, "0").strip() not in ("", "0"):
            start = resume_point(context)
            if start > context.start:
                context = replace(context, start=start)
        return context

    @classmethod
    def for_paths(
        cls,
        paths: TrialPaths,
        config: dict[str, Any],
        start: int,
        target: int,
        resource_name: str = "epoch",
        fsync: bool = True,
    ) -> TrialContext:
        """The context of a job of the trial ``paths`` names; no I/O (see :meth:`to_environ`)."""
        return cls(
            study=paths.study,
            trial=paths.trial,
            config=dict(config),
            config_file=paths.config_file,
            start=start,
            target=target,
            resource_name=resource_name,
            checkpoint_dir=paths.checkpoint_dir,
            metric_file=paths.metric_file,
            fsync=fsync,
        )

    @classmethod
    def for_testing(
        cls,
        config: dict[str, Any],
        target: int,
        tmp_dir: Path | str,
        start: int = 0,
        resource_name: str = "epoch",
        study: str = "by-hand",
        trial: int = 0,
    ) -> TrialContext:
        """A context for running a training function by hand, with all files under ``tmp_dir``.

        Writes ``config`` to the config file and creates the directories, exactly as the
        controller would, so ``to_environ()`` can start the script as a subprocess too.
        """
        paths = TrialPaths(Path(tmp_dir), study, trial)
        context = cls.for_paths(paths, config, start, target, resource_name)
        paths.make_dirs()
        write_atomic(paths.config_file, json.dumps(context.config, indent=2) + "\n")
        return context

    def to_environ(self) -> dict[str, str]:
        """The SLURMHPO_* variables that make :meth:`from_environ` return this context.

        The config itself is not included: it must already be in ``config_file``.
        """
        return {
            ENV_STUDY: self.study,
            ENV_TRIAL: str(self.trial),
            ENV_CONFIG: str(self.config_file),
            ENV_RESOURCE_NAME: self.resource_name,
            ENV_START: str(self.start),
            ENV_TARGET: str(self.target),
            ENV_CHECKPOINT_DIR: str(self.checkpoint_dir),
            ENV_METRIC_FILE: str(self.metric_file),
            ENV_FSYNC: "1" if self.fsync else "0",
        }

    def should_stop(self, resource: int) -> bool:
        """True once ``resource`` reached the target: end the training loop after reporting it."""
        return resource >= self.target

    def report(self, resource: int | None = None, **metrics: Any) -> dict[str, Any]:
        """Append one record to the metric file and return it (see the module docstring).

        Give the resource as ``resource=`` or under its own name (``epoch=3``), not both.
        Metric values must be real numbers (NaN and infinities allowed); anything else raises
        TypeError before anything is written. The key ``time`` is added, so it is reserved.
        """
        record = make_record(self.resource_name, resource, metrics)
        line = json.dumps(record, allow_nan=True) + "\n"
        append_line(self.metric_file, line.encode("utf-8"), fsync=self.fsync)
        return record

    def save_checkpoint(self, state: dict[str, Any] | bytes, resource: int) -> Path:
        """Atomically store ``state`` as the checkpoint at ``resource``; returns its path.

        A dict is pickled; bytes are stored as they are. Keeps this checkpoint and the
        previous one, deleting older ones, those at higher resources and leftover temp files.
        """
        return save_checkpoint_to(self.checkpoint_dir, state, resource, durable=self.fsync)

    def load_checkpoint(self, at_most: int | None = None) -> tuple[Any, int] | None:
        """The newest readable checkpoint at a resource <= ``at_most`` (default: ``start``).

        Returns ``(state, resource)``: continue training with resource+1. With the default
        and ``start == 0`` it returns None, since a new trial must not pick up files of an
        abandoned attempt. Also None (with a warning when ``start > 0``) if nothing fits.
        """
        if at_most is None and self.start == 0:
            return None
        limit = self.start if at_most is None else at_most
        found = load_checkpoint_from(self.checkpoint_dir, limit)
        if found is None and at_most is None:
            warnings.warn(
                f"{ENV_START} is {self.start} but {self.checkpoint_dir} holds no readable "
                f"checkpoint at or below it; training restarts from scratch",
                RuntimeWarning,
                stacklevel=2,
            )
        return found


def resume_point(context: TrialContext) -> int:
    """Where a rerun of the same job (a Slurm requeue) can continue: the newest checkpoint
    above ``start`` at a resource this job's metric file already reports, below ``target``.

    Reported, because a checkpoint is taken just before its report: a run killed in between
    leaves a checkpoint whose report is missing, and resuming from it would skip that report.
    Below ``target``, so the rerun always has a resource left to train and report. Without
    such a checkpoint, ``start``.
    """
    limit = min(highest_reported(context.metric_file, context.resource_name), context.target - 1)
    for resource, _path in list_checkpoints(context.checkpoint_dir):  # highest first
        if context.start < resource <= limit:
            return resource
    return context.start


def highest_reported(metric_file: Path, resource_name: str) -> int:
    """The highest resource in the complete lines of ``metric_file`` (0 if none or no file).

    Lines that do not parse, or lack an int resource, are skipped: the controller judges them.
    """
    try:
        data = Path(metric_file).read_bytes()
    except FileNotFoundError:
        return 0
    highest = 0
    for line in data.split(b"\n")[:-1]:  # the part after the last newline is incomplete
        try:
            record = json.loads(line)
        except ValueError:
            continue
        value = record.get(resource_name) if isinstance(record, dict) else None
        if _is_int(value):
            highest = max(highest, value)
    return highest


def make_record(
    resource_name: str, resource: int | None, metrics: Mapping[str, Any]
) -> dict[str, Any]:
    """Build one metric record: resource first, then the metrics, then ``time``.

    Raises TypeError/ValueError (naming the fix) for a missing, doubled or bad resource, a
    reserved key, or a metric value that is not a real number.
    """
    values = dict(metrics)
    named = values.pop(resource_name, None)
    if resource is not None and named is not None and resource != named:
        raise ValueError(
            f"resource given twice ({resource!r} and {resource_name}={named!r}); pass one"
        )
    value = resource if resource is not None else named
    if value is None:
        raise TypeError(f"report() needs the resource: pass {resource_name}=<int> or resource=")
    if not _is_int(value) or value < 1:
        raise ValueError(f"{resource_name} must be an int >= 1, got {value!r}")
    if TIME_KEY in values:
        raise ValueError(f"'{TIME_KEY}' is added by report(); name your metric e.g. 'train_time'")
    record: dict[str, Any] = {resource_name: int(value)}
    for key, metric in values.items():
        record[key] = _metric_value(key, metric)
    record[TIME_KEY] = time.time()
    return record


def _metric_value(key: str, value: Any) -> int | float:
    """A JSON-ready number for metric ``key``; refuses non-numbers with the fix."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"metric names must be non-empty strings, got {key!r}")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"metric {key!r} is {type(value).__name__} {value!r}; metrics must be real numbers "
            "(use float(x) or tensor.item(); log other values elsewhere)"
        )
    if isinstance(value, numbers.Integral):
        return int(value)
    return float(value)  # NaN and infinities stay: json writes them as NaN/Infinity tokens


def append_line(path: Path, line: bytes, fsync: bool = True) -> None:
    """Append ``line`` (which must end with a newline) to ``path`` with one ``write`` call.

    ``O_APPEND`` makes the kernel place each write at the current end of file, so lines of
    concurrent writers on one host never interleave. Opening and closing per line pushes the
    data to an NFS server at close (close-to-open consistency). The parent directory is
    created if missing.

    If the file does not end with a newline, one is written first, in the same ``write``: a
    line cut short (a writer killed mid-line, a short write on a full disk, a stray partial
    write) would otherwise glue onto this report and turn both into one bad line. Ended, the
    cut line is skipped once by the reader and this report is kept.
    """
    if not line.endswith(b"\n") or b"\n" in line[:-1]:
        raise ValueError("a metric line must contain exactly one newline, at its end")
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT  # read: the last byte, see above
    try:
        fd = os.open(path, flags, 0o666)
    except FileNotFoundError:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, flags, 0o666)
    try:
        view = memoryview(b"\n" + line if _ends_inside_a_line(fd) else line)
        while view:  # a regular file takes it all in one write; loop only on a short write
            view = view[os.write(fd, view) :]
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


def _ends_inside_a_line(fd: int) -> bool:
    """Whether the open file's last byte is not a newline (False for an empty file)."""
    try:
        size = os.fstat(fd).st_size
        return size > 0 and os.pread(fd, 1, size - 1) != b"\n"
    except OSError:  # not seekable (a FIFO, say): nothing to check, nothing to mend
        return False


def save_checkpoint_to(
    directory: Path, state: dict[str, Any] | bytes, resource: int, durable: bool = True
) -> Path:
    """Write ``state`` as the checkpoint at ``resource`` in ``directory`` and prune the rest."""
    if isinstance(state, (bytes, bytearray, memoryview)):
        binary, data = True, bytes(state)
    elif isinstance(state, dict):
        binary, data = False, pickle.dumps(state, protocol=pickle.DEFAULT_PROTOCOL)
    else:
        raise TypeError(
            f"checkpoint state must be a dict (pickled) or bytes, got {type(state).__name__}; "
            "wrap other objects in a dict"
        )
    path = Path(directory) / _checkpoint_name(resource, binary)
    write_atomic(path, data, durable=durable)
    _prune_checkpoints(Path(directory), resource, path)
    return path


def _prune_checkpoints(directory: Path, resource: int, kept: Path) -> None:
    """Keep ``kept`` and the newest checkpoint below ``resource``; delete others and temp files."""
    previous_kept = False
    for other_resource, other in list_checkpoints(directory):
        if other == kept:
            continue
        if other_resource < resource and not previous_kept:
            previous_kept = True
            continue
        other.unlink(missing_ok=True)
    for entry in os.scandir(directory):
        if is_temp_file(entry.name):
            Path(entry.path).unlink(missing_ok=True)


def load_checkpoint_from(directory: Path, at_most: int) -> tuple[Any, int] | None:
    """Newest readable checkpoint in ``directory`` with resource <= ``at_most``, or None.

    An unreadable pickle (truncated or corrupt file) is skipped with a warning, so the
    previous checkpoint is used instead.
    """
    for resource, path in list_checkpoints(Path(directory)):
        if resource > at_most:
            continue
        data = path.read_bytes()
        if path.suffix == ".bin":
            return data, resource
        try:
            return pickle.loads(data), resource
        except Exception as exc:  # any unpickling failure means: try the previous checkpoint
            warnings.warn(f"skipping unreadable checkpoint {path}: {exc!r}", stacklevel=2)
    return None


def running_under_slurmhpo(environ: Mapping[str, str] | None = None) -> bool:
    """True if the SLURMHPO_* variables of a trial are set (all of them, non-empty)."""
    env = os.environ if environ is None else environ
    return all(env.get(name) for name in REQUIRED_ENV)


def get_context() -> TrialContext:
    """The current job's context, read from the environment (TrialEnvironmentError if absent)."""
    return TrialContext.from_environ()


def report(resource: int | None = None, **metrics: Any) -> dict[str, Any]:
    """Append one record to this job's metric file: ``report(epoch=3, val_loss=0.31)``."""
    return get_context().report(resource, **metrics)


def save_checkpoint(state: dict[str, Any] | bytes, resource: int) -> Path:
    """Atomically save this job's checkpoint at ``resource`` (see TrialContext.save_checkpoint)."""
    return get_context().save_checkpoint(state, resource)


def load_checkpoint(at_most: int | None = None) -> tuple[Any, int] | None:
    """This job's checkpoint to resume from, as ``(state, resource)``, or None to start fresh."""
    return get_context().load_checkpoint(at_most)


def should_stop(resource: int) -> bool:
    """True once ``resource`` reached this job's target resource."""
    return get_context().should_stop(resource)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_resource_name(name: str) -> None:
    if not isinstance(name, str) or _RESOURCE_NAME.fullmatch(name) is None or name == TIME_KEY:
        raise ValueError(
            f"resource name {name!r} is invalid: use an identifier such as 'epoch' (not 'time')"
        )


def _env_int(env: Mapping[str, str], name: str) -> int:
    text = env[name].strip()
    try:
        return int(text)
    except ValueError:
        raise TrialEnvironmentError(f"{name}={text!r} is not an integer") from None


def _env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    text = env.get(name, "").strip().lower()
    if not text:
        return default
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise TrialEnvironmentError(f"{name}={text!r} must be 1 or 0")


def _read_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TrialEnvironmentError(f"{ENV_CONFIG}={str(path)!r} cannot be read: {exc}") from exc
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TrialEnvironmentError(f"{ENV_CONFIG}={str(path)!r} is not JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise TrialEnvironmentError(f"{ENV_CONFIG}={str(path)!r} must hold a JSON object")
    return config
