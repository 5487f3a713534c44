"""The small exception hierarchy every layer raises.

Each error carries the exit code the CLI should use, so that the command line maps failures to
codes in one place and messages always say what to do next.
"""

from __future__ import annotations


class SlurmhpoError(Exception):
    """Base of every error slurmhpo raises on purpose; ``exit_code`` is what the CLI returns."""

    exit_code = 1


class ConfigError(SlurmhpoError):
    """Bad user input (study file, search space, CLI option): names the field and the fix.

    ``field`` is a dotted path such as ``space.lr.low`` or ``scheduler.eta``.
    """

    exit_code = 2

    def __init__(self, field: str, problem: str, fix: str | None = None) -> None:
        self.field = field
        self.problem = problem
        self.fix = fix
        message = f"{field}: {problem}"
        if fix:
            message += f" ({fix})"
        super().__init__(message)


class NotFoundError(SlurmhpoError):
    """A study, trial or job that the user named does not exist."""

    exit_code = 1


class SchemaError(SlurmhpoError):
    """The database schema is missing, older or newer than this slurmhpo; the message says
    how to fix it."""

    exit_code = 3


class StoreError(SlurmhpoError):
    """A database operation failed (connection, integrity, lock); wraps the driver's error."""

    exit_code = 1


class BackendUnavailable(SlurmhpoError):
    """The backend's controller cannot be reached right now (slurmctld down or restarting).

    Transient by nature: the caller keeps what it wanted to do (a cancel, a submission) and
    tries again in a later cycle. It is never a verdict on a job or a study, and never counts
    towards the failed submissions that end a run (those mean a configuration a person must
    fix).
    """
