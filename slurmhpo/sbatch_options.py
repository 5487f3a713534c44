"""The one check of a study's extra sbatch options (``[slurm].extra``).

``slurmhpo check`` (through :mod:`slurmhpo.study`) and the Slurm backend at submit time both
call :func:`check_sbatch_extra`, so a study that passes ``check`` is never refused at submit
for its extra options, and the reverse. It lives below both (standard library only), where
the layers let each of them import it.

What is refused, and why:

* names that are not long sbatch option names (``x--y``, ``-x``, ``x_``, upper case): sbatch
  has none such, and a name is written into the batch script;
* options slurmhpo sets itself, or whose effect it must know: the ``[slurm]`` settings
  (partition, time, CPUs, memory, account, qos, GPUs, since GPU-hours are budgeted from
  ``gpus_per_task``), the job's shape (one task on one node), its names, log files, array and
  signals, and the job's environment (``export``, ``get-user-env``: the trial's variables are
  slurmhpo's to set);
* two spellings of one option (``mail_type`` and ``mail-type``);
* values that are not a string or an integer, and values with a control character (a tab
  included): a newline would start a new line of the batch script, and no sbatch value needs
  one.

Names are returned in sbatch's spelling (``mail-type``); values are data, quoted by the
backend, never read by a shell.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from slurmhpo.errors import ConfigError
from slurmhpo.fields import describe

_OPTION = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")

# option -> the [slurm] setting to use instead ("" when slurmhpo sets it and there is none)
_SETTING = {
    "partition": "slurm.partition",
    "time": "slurm.time_min",
    "cpus-per-task": "slurm.cpus_per_task",
    "mem": "slurm.mem_gb",
    "account": "slurm.account",
    "qos": "slurm.qos",
    "gres": "slurm.gpus_per_task (a GPU type: extra.constraint)",
    "gpus": "slurm.gpus_per_task (a GPU type: extra.constraint)",
    "gpus-per-node": "slurm.gpus_per_task",
    "gpus-per-task": "slurm.gpus_per_task",
}
_MANAGED = frozenset(
    {"ntasks", "nodes", "array", "job-name", "output", "error", "open-mode", "signal"}
    | {"wrap", "chdir", "parsable", "test-only", "export", "get-user-env"}
)
RESERVED_SBATCH_OPTIONS = frozenset(_SETTING) | _MANAGED


def _refuse_reserved(key: str, option: str) -> None:
    if option not in RESERVED_SBATCH_OPTIONS:
        return
    setting = _SETTING.get(option)
    fix = f"use {setting} instead" if setting else "remove it: slurmhpo sets it itself"
    raise ConfigError(f"slurm.extra.{key}", f"--{option} is managed by slurmhpo", fix)


def check_sbatch_extra(extra: Mapping[str, object]) -> dict[str, str | int]:
    """Validate extra sbatch options; returns them with names in sbatch's spelling.

    Raises :class:`ConfigError` naming ``slurm.extra.<key>`` and the fix (see module docstring).
    """
    checked: dict[str, str | int] = {}
    for key, value in extra.items():
        if not isinstance(key, str) or _OPTION.fullmatch(key) is None:
            raise ConfigError(
                f"slurm.extra.{key}",
                "is not an sbatch option name",
                "use a long option name as sbatch spells it, without dashes in front, "
                "e.g. constraint or mail-type",
            )
        option = key.replace("_", "-")
        _refuse_reserved(key, option)
        if option in checked:
            raise ConfigError(f"slurm.extra.{key}", f"--{option} is given twice", "keep one")
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ConfigError(
                f"slurm.extra.{key}", f"must be a string or an integer, got {describe(value)}"
            )
        if isinstance(value, str) and any(ord(char) < 32 or ord(char) == 127 for char in value):
            raise ConfigError(
                f"slurm.extra.{key}",
                "contains a control character (newline, tab, ...)",
                "write the value on one line, with spaces instead of tabs",
            )
        checked[option] = value
    return checked
