"""A study's run folder, claimed by a marker file that names the study and what it may run.

Two problems meet here:

* **Stale files.** A study's folder used to be ``<runs_dir>/<name>``: a new study with an old
  name (a fresh database, or one re-created after a cancel) appended to the old study's metric
  files and the controller ingested the old lines as new observations. The folder is now the
  study's ``run_key`` (``<name>-<uid prefix>``, see :class:`slurmhpo.store.models.Study`), and
  the marker ``slurmhpo-study.json`` in it names the study's ``uid``: a folder whose marker
  names another study is refused, never shared.
* **A database is not a trusted source of shell lines.** The stored study's command, its
  environment, ``[slurm].setup`` and extra sbatch options become what every job runs. The
  marker also holds a digest of exactly those fields (:func:`execution_digest`), written when
  the study is registered from its file by the user who runs it. Before every job, the
  controller checks that the marker is still that user's (owned by them, writable by nobody
  else) and that the stored study's digest equals it. Someone who can write the database but
  not this user's files can change the stored study, but not make this user's controller run
  the change. See docs/security.md for what this does not cover.

Registration (:func:`claim`) writes the marker; :func:`verify` runs before each job is built.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slurmhpo.errors import ConfigError
from slurmhpo.paths import TrialPaths, write_atomic
from slurmhpo.study import StudySpec

MARKER = "slurmhpo-study.json"


class UntrustedStudy(ConfigError):
    """The stored study may not run here: its folder or its commands are not what was
    registered (see the module docstring)."""


def execution_digest(spec: StudySpec) -> str:
    """SHA-256 of every field of ``spec`` that decides what runs, and where.

    Budget, space and scheduler settings are left out: they change no shell line, and
    ``slurmhpo extend`` rewrites the budget of a stored study.
    """
    data = spec.to_dict()
    trial = {key: data["trial"].get(key) for key in ("command", "entrypoint", "env", "workdir")}
    slurm = data.get("slurm", {})
    fields: dict[str, Any] = {
        "trial": trial,
        "setup": slurm.get("setup", []),
        "extra": slurm.get("extra", {}),
        "backend": data["backend"],
        "runs_dir": data.get("runs_dir"),
    }
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RunDir:
    """The folder ``<root>/<key>`` of the study ``name`` with identity ``uid``."""

    root: Path
    key: str
    uid: str
    name: str

    @property
    def path(self) -> Path:
        return Path(self.root) / self.key

    @property
    def marker(self) -> Path:
        return self.path / MARKER

    def trial(self, number: int) -> TrialPaths:
        """The files of trial ``number`` (checks the key like a study name)."""
        return TrialPaths(Path(self.root), self.key, number)

    def claim(self, digest: str) -> None:
        """Write the marker: this folder is this study's, and it runs what ``digest`` says.

        Called when the user registers the study from its file (again). A marker naming
        another study is refused; one naming this study is replaced (the file is the truth).
        """
        record = self._read()
        if record is not None:
            self._check_owner(record)
        body = {"study": self.name, "uid": self.uid, "execution_sha256": digest}
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            write_atomic(self.marker, json.dumps(body, sort_keys=True) + "\n")
            for path in (self.path, self.marker):  # a umask of 002 must not void the marker
                mode = stat.S_IMODE(path.stat().st_mode)
                if mode & (stat.S_IWGRP | stat.S_IWOTH):
                    path.chmod(mode & ~(stat.S_IWGRP | stat.S_IWOTH))
        except OSError as exc:
            raise UntrustedStudy(
                "runs_dir",
                f"cannot claim {self.path} for study {self.name!r}: {exc.strerror}",
                "use a runs_dir you own (the user who registers a study drives it)",
            ) from None

    def verify(self, digest: str) -> None:
        """Refuse (:class:`UntrustedStudy`) unless the marker is this user's and this study's
        and ``digest`` is the one registered."""
        record = self._read()
        if record is None:
            raise UntrustedStudy(
                "runs_dir",
                f"{self.path} has no {MARKER}: study {self.name!r} was not registered here "
                "by this user (or by a slurmhpo older than its database schema 0003)",
                f"register it from its study file: slurmhpo run STUDY.toml (the file named "
                f"{self.name!r}; it must equal the stored study)",
            )
        self._check_owner(record)
        self._check_private()
        if record.get("execution_sha256") != digest:
            raise UntrustedStudy(
                "slurm.setup",
                f"the stored study {self.name!r} would run other commands than the study file "
                "it was registered with (trial command, env or workdir, [slurm].setup or "
                "extra, backend or runs_dir differ): the database was changed",
                "see who can write the database (docs/security.md); to run it as stored, "
                "register that definition from a study file under a new name",
            )

    def _read(self) -> dict[str, Any] | None:
        try:
            record = json.loads(self.marker.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise UntrustedStudy(
                "runs_dir",
                f"{self.marker} is unreadable ({exc})",
                f"remove it if {self.path} is this study's folder, then register it again",
            ) from None
        return record if isinstance(record, dict) else {}

    def _check_owner(self, record: dict[str, Any]) -> None:
        if record.get("uid") != self.uid:
            raise UntrustedStudy(
                "runs_dir",
                f"{self.path} holds the files of another study "
                f"({record.get('study')!r}, uid {record.get('uid')}), not of study "
                f"{self.name!r} (uid {self.uid})",
                f"give this study another runs_dir, or delete {self.path} if that study "
                "and its files are no longer needed",
            )

    def _check_private(self) -> None:
        """The marker and its folder must be this user's and writable by nobody else: else
        whoever may write there could forge the marker."""
        for path in (self.path, self.marker):
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode) or info.st_uid != os.geteuid():
                raise UntrustedStudy(
                    "runs_dir",
                    f"{path} is a symbolic link or belongs to another user",
                    "run the study's controller as the user who registered it",
                )
            if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                raise UntrustedStudy(
                    "runs_dir",
                    f"{path} is writable by its group or by others",
                    f"chmod go-w {path}",
                )
