"""Process identity that survives pid reuse: (boot id, pid, start time in clock ticks).

A pid alone names a different process once ours has exited and the kernel recycled the
number; the start time from ``/proc/<pid>/stat`` and the boot id make the name unique, so the
local backend never reports (or signals) a stranger as its job. Linux only, like Slurm.
"""

from __future__ import annotations

import os
import signal
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def boot_id() -> str:
    """This boot's random id (empty where /proc does not have it)."""
    try:
        return _BOOT_ID.read_text(encoding="ascii").strip()
    except OSError:
        return ""


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/<pid>/stat (after the command name, which may hold spaces)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


@dataclass(frozen=True)
class ProcessId:
    """One process, named so that a recycled pid never matches it."""

    pid: int
    start_ticks: int
    boot: str

    @classmethod
    def of(cls, pid: int) -> ProcessId | None:
        """Identity of the live process ``pid`` now, or None if it is gone."""
        fields = _stat_fields(pid)
        if fields is None:
            return None
        return cls(pid=pid, start_ticks=int(fields[19]), boot=boot_id())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProcessId:
        return cls(pid=int(data["pid"]), start_ticks=int(data["start_ticks"]), boot=data["boot"])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def alive(self) -> bool:
        """True while this very process runs (a zombie counts as exited)."""
        fields = _stat_fields(self.pid)
        if fields is None or fields[0] in {"Z", "X", "x"}:
            return False
        return int(fields[19]) == self.start_ticks and boot_id() == self.boot

    def signal(self, signum: int, group: bool = False) -> bool:
        """Send ``signum`` to this process (or its process group) if it is still ours.

        Returns False when the process is gone (nothing was sent). The check and the kill are
        not atomic, but a pid is recycled only after its zombie was reaped, which our own
        processes' parents do after the fact, so the window is negligible.
        """
        if not self.alive():
            return False
        try:
            if group:
                os.killpg(self.pid, signum)
            else:
                os.kill(self.pid, signum)
        except ProcessLookupError:
            return False
        return True


def signal_name(signum: int) -> str:
    """``SIGKILL`` for 9, ``signal 99`` for numbers Python does not name."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
