"""Where every per-trial file lives, and how control files are written safely.

One class, :class:`TrialPaths`, names every file of a trial so that the controller, the
backends and the trial side never spell a path twice. Layout under a root directory chosen by
the controller (the default root is the controller's business, not this module's)::

    <root>/<study folder>/trials/trial-000007/
        config.json              the configuration, written once, atomically, by the controller
        metrics.jsonl            one JSON object per line, appended by the trial's jobs
        checkpoints/             checkpoint-000000003.pkl, checkpoint-000000004.bin, ...
        kept-checkpoints/        the controller's links to checkpoints other trials may copy
        segments/segment-002/    everything one job (segment) of the trial logs
            stdout.log
            stderr.log

The study folder is the study's *run key* (``<name>-<uid prefix>``: the controller chooses it,
see ``slurmhpo.controller.rundir``), so two studies of one name never share files. Folder
names and trial numbers are checked, never escaped: a name that is not a plain path
component (``/``, ``..``, leading dot, spaces, ...) is refused with a :class:`ConfigError`, so
no name escapes ``root``.

:func:`write_atomic` is the one way to write a file that another process may read at any
moment (config files, checkpoints): readers see the old content or the new one, never a mix.

This module uses the standard library only, because the trial side imports it on compute
nodes where a training script should not pay for (or need) the controller's dependencies.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from slurmhpo.errors import ConfigError

_FOLDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,149}")  # a name plus "-" and a uid prefix
_CHECKPOINT = re.compile(r"checkpoint-(\d{9})\.(pkl|bin)")
_TEMP_MARK = ".tmp-"
MAX_RESOURCE = 999_999_999  # checkpoint names hold 9 digits, so they sort as text too


def check_folder_name(folder: str) -> str:
    """Return ``folder`` if it is safe as one path component, else raise ConfigError.

    Safe means 1 to 150 characters (a study name of up to 100 and its uid suffix) of letters,
    digits, ``.``, ``_`` and ``-``, starting with a letter or digit: no separators, no ``..``,
    no hidden names, nothing a shell must quote.
    """
    if not isinstance(folder, str) or _FOLDER.fullmatch(folder) is None:
        raise ConfigError(
            "run_key",
            f"study folder {folder!r} is not usable as a directory name",
            "use 1-150 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return folder


def check_trial_number(trial: int) -> int:
    """Return ``trial`` if it is a non-negative int (not a bool), else raise ConfigError."""
    if isinstance(trial, bool) or not isinstance(trial, int) or trial < 0:
        raise ConfigError("trial", f"trial number {trial!r} is invalid", "use an int >= 0")
    return trial


def _check_index(what: str, value: int, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_RESOURCE:
        raise ValueError(f"{what} must be an int in [{low}, {MAX_RESOURCE}], got {value!r}")
    return value


def checkpoint_name(resource: int, binary: bool) -> str:
    """Name of the checkpoint at ``resource``: ``.bin`` holds raw bytes, ``.pkl`` a pickle."""
    _check_index("checkpoint resource", resource, 0)
    return f"checkpoint-{resource:09d}.{'bin' if binary else 'pkl'}"


def parse_checkpoint_name(name: str) -> tuple[int, bool] | None:
    """Inverse of :func:`checkpoint_name`: ``(resource, binary)``, or None for any other file.

    Temporary files left by an interrupted :func:`write_atomic` never parse, so a reader can
    never mistake a half-written checkpoint for a complete one.
    """
    match = _CHECKPOINT.fullmatch(name)
    if match is None:
        return None
    return int(match.group(1)), match.group(2) == "bin"


def list_checkpoints(directory: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints in ``directory`` as ``(resource, path)``, highest resource first.

    A missing directory has no checkpoints. If one resource has both a ``.pkl`` and a ``.bin``
    file, both are listed (the ``.bin`` one first); writers avoid leaving such pairs.
    """
    found: list[tuple[int, bool, Path]] = []
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return []
    for entry in entries:
        parsed = parse_checkpoint_name(entry.name)
        if parsed is not None and entry.is_file():
            found.append((parsed[0], parsed[1], Path(entry.path)))
    found.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [(resource, path) for resource, _, path in found]


def is_temp_file(name: str) -> bool:
    """True for the temporary names :func:`write_atomic` uses (``.<target>.tmp-<random>``)."""
    return name.startswith(".") and _TEMP_MARK in name


def write_atomic(path: Path | str, data: bytes | str, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` so that readers see the whole old or the whole new file.

    The data goes to a uniquely named temporary file in the same directory (so the rename
    cannot cross file systems), is flushed and fsync'ed, then ``os.replace``d onto ``path``;
    ``durable`` also fsyncs the directory so the rename survives a node crash (skipped
    silently where the file system cannot fsync a directory). Strings are encoded as UTF-8.
    Missing parent directories are created. On any error the temporary file is removed and
    ``path`` is untouched.
    """
    target = Path(path)
    if isinstance(data, str):
        payload = data.encode("utf-8")
    elif isinstance(data, (bytes, bytearray, memoryview)):
        payload = bytes(data)
    else:
        raise TypeError(f"write_atomic needs bytes or str, got {type(data).__name__}")
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = _temp_name(target)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if durable:
        _fsync_directory(target.parent)


def _temp_name(target: Path) -> Path:
    """A unique temporary name next to ``target`` that :func:`is_temp_file` recognises."""
    return target.with_name(f".{target.name}{_TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}")


def copy_atomic(source: Path | str, target: Path | str, *, link: bool = False) -> None:
    """Put a copy of ``source`` at ``target`` so that ``target`` is whole or absent, never half.

    Like :func:`write_atomic`, but streamed from a file (checkpoints may be larger than memory
    should hold): the copy goes to a temporary name that no checkpoint reader accepts, is
    fsync'ed, then renamed onto ``target``. A process killed mid-copy leaves only the temporary
    file, which the trial side deletes when it next saves a checkpoint. ``link``: a hard link
    instead of a copy where the file system allows one (for files that are replaced, never
    changed in place, as checkpoints are): the data stays when ``source`` is deleted.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = _temp_name(target)
    try:
        linked = False
        if link:
            try:
                os.link(source, temp)
                linked = True
            except OSError:  # no hard links here (another file system, FAT, ...): copy
                pass
        if not linked:
            shutil.copyfile(source, temp)
            with open(temp, "rb+") as handle:
                os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_directory(target.parent)


def make_private_dir(directory: Path | str) -> Path:
    """Create ``directory`` (and missing parents) and make it 0700: only its owner may enter.

    For folders that hold secrets (submitit's pickles carry the trial's environment and the
    controller job's database URL). An existing folder is tightened too, since an older
    slurmhpo or the umask may have left it readable by others. Returns the path.
    """
    path = Path(directory)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != 0o700:
        try:
            path.chmod(0o700)
        except PermissionError:
            raise ConfigError(
                "runs_dir",
                f"{path} holds job files that must be private, but it belongs to another user",
                "give each user their own runs_dir",
            ) from None
    return path


def _fsync_directory(directory: Path) -> None:
    """Persist a rename in ``directory``; some file systems refuse, which costs only durability."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@dataclass(frozen=True)
class TrialPaths:
    """Every file of trial ``trial`` of a study under ``root``; computing names has no I/O.

    ``study`` is the study's folder name: the controller passes the study's run key, never
    its bare name (see the module docstring). Construction validates it and the trial
    number (ConfigError otherwise). Nothing is created on disk until a caller asks, e.g. with
    :meth:`make_dirs`.
    """

    root: Path
    study: str
    trial: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))
        check_folder_name(self.study)
        check_trial_number(self.trial)

    @cached_property
    def study_dir(self) -> Path:
        """Directory of the whole study (all its trials)."""
        return self.root / self.study

    @cached_property
    def trial_dir(self) -> Path:
        """Directory holding every file of this trial (computed once: building a segment's
        request names it about ten times, and a 10,000-trial study builds thousands)."""
        return self.study_dir / "trials" / f"trial-{self.trial:06d}"

    @property
    def config_file(self) -> Path:
        """The trial's configuration as a JSON object (``SLURMHPO_CONFIG`` points here)."""
        return self.trial_dir / "config.json"

    @property
    def metric_file(self) -> Path:
        """Append-only JSON-lines file of reports (``SLURMHPO_METRIC_FILE`` points here)."""
        return self.trial_dir / "metrics.jsonl"

    @property
    def checkpoint_dir(self) -> Path:
        """Directory of the trial's checkpoints (``SLURMHPO_CHECKPOINT_DIR`` points here)."""
        return self.trial_dir / "checkpoints"

    @property
    def kept_dir(self) -> Path:
        """Checkpoints the controller keeps for trials that may start from them (hard links
        taken before a later segment's job could prune them; population-based training)."""
        return self.trial_dir / "kept-checkpoints"

    def checkpoint_file(self, resource: int, binary: bool = False) -> Path:
        """The checkpoint taken at ``resource`` (see :func:`checkpoint_name`)."""
        return self.checkpoint_dir / checkpoint_name(resource, binary)

    def segment_dir(self, segment: int) -> Path:
        """Log directory of the trial's ``segment``-th job (0 = first), e.g. submitit's folder."""
        _check_index("segment", segment, 0)
        return self.trial_dir / "segments" / f"segment-{segment:03d}"

    def segment_stdout(self, segment: int) -> Path:
        """Standard output of one segment, for backends that redirect it themselves."""
        return self.segment_dir(segment) / "stdout.log"

    def segment_stderr(self, segment: int) -> Path:
        """Standard error of one segment, for backends that redirect it themselves."""
        return self.segment_dir(segment) / "stderr.log"

    def make_dirs(self) -> None:
        """Create the trial directory and its checkpoint directory (idempotent)."""
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
