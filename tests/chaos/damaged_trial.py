"""A trial whose metric file is damaged mid-run, in the way CHAOS_SCENARIO names.

It reports epochs 1 and 2, waits until the controller has ingested them (the job's stored
byte offset equals the file's size: read from the study's SQLite file, CHAOS_DB), damages
the file, and reports on to the target epoch. Every valid line it writes is also written to
CHAOS_LEDGER (one JSON object per line), so the test can compare what the controller stored
with what was written. Handshakes through the database and the controller's log
(CHAOS_LOG) make each run see the damage the same way, whatever the machine's load; each
wait gives up after GIVE_UP_S (exit 9), so a broken controller fails the test, never hangs it.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

from slurmhpo import trial

GIVE_UP_S = 120.0
HUGE_LINE_BYTES = 100 * 1024 * 1024
LEDGER = Path(os.environ["CHAOS_LEDGER"])


def loss(epoch: int, run: int = 1) -> float:
    return round(1.0 / epoch + 0.01 * run, 6)


def report(epoch: int) -> None:
    """A valid report through the trial API, noted in the ledger."""
    trial.report(epoch, loss=loss(epoch))
    note(epoch, loss(epoch))


def note(epoch: int, value: float) -> None:
    with open(LEDGER, "a") as out:
        out.write(json.dumps({"epoch": epoch, "loss": value}) + "\n")


def hand_written(epoch: int, run: int) -> bytes:
    """A valid line as another run of the script writes it (an extra key: a longer line)."""
    value = loss(epoch, run)
    note(epoch, value)
    record = {"epoch": epoch, "loss": value, "run": run, "time": time.time()}
    return (json.dumps(record) + "\n").encode()


def append_raw(path: Path, data: bytes) -> None:
    with open(path, "ab") as out:
        out.write(data)


def wait_until(what: str, done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + GIVE_UP_S
    while not done():
        if time.monotonic() > deadline:
            print(f"gave up waiting for {what}", file=sys.stderr)
            sys.exit(9)
        time.sleep(0.05)


def stored_offset(path: Path) -> int | None:
    """The byte offset the controller has stored for this metric file."""
    uri = f"file:{os.environ['CHAOS_DB']}?mode=ro"
    try:
        with sqlite3.connect(uri, uri=True, timeout=5) as db:
            row = db.execute(
                "SELECT metric_offset FROM jobs WHERE metric_path = ?", (str(path),)
            ).fetchone()
    except sqlite3.Error:
        return None  # busy or locked for a moment: ask again
    return None if row is None else int(row[0])


def caught_up(path: Path) -> None:
    """Wait until the controller has read the whole file."""
    wait_until("the controller to catch up", lambda: stored_offset(path) == path.stat().st_size)


def logged(kind: str) -> None:
    """Wait until the controller's log shows a skipped-data warning of ``kind``."""
    log = Path(os.environ["CHAOS_LOG"])
    wait_until(f"a {kind} warning", lambda: f"({kind}: " in log.read_text(errors="replace"))


# --- the damages: each returns the next epoch to report -----------------------------------


def rewritten(path: Path) -> int:
    """A restarted script: the file opened with "w" and written anew, already longer than
    what the controller had read when it next looks (one write)."""
    data = hand_written(1, 2) + hand_written(2, 2) + hand_written(3, 2)
    with open(path, "wb") as out:
        out.write(data)
    return 4


def truncated(path: Path) -> int:
    """Cut to nothing, seen so by the controller (its offset back to 0), then written anew."""
    os.truncate(path, 0)
    wait_until("the controller to see the truncation", lambda: stored_offset(path) == 0)
    append_raw(path, hand_written(1, 2) + hand_written(2, 2))
    return 3


def partial_line(path: Path) -> int:
    """A write cut short: half a line, then the script goes on reporting."""
    append_raw(path, b'{"epoch": 3, "lo')
    return 3


def garbage(path: Path) -> int:
    """64 KiB of random bytes (newlines among them), the last piece unfinished."""
    append_raw(path, random.Random(12).randbytes(64 * 1024).rstrip(b"\n") + b"\x00")
    return 3


def huge_line(path: Path) -> int:
    """One line of 100 MiB (the limit is 1 MB), written at once."""
    head = b'{"epoch": 3, "pad": "'
    append_raw(path, head + b"x" * (HUGE_LINE_BYTES - len(head) - 3) + b'"}\n')
    return 3


def deleted(path: Path) -> int:
    """The file deleted; the next report starts a new, shorter one."""
    path.unlink()
    report(3)
    caught_up(path)
    return 4


def unreadable(path: Path) -> int:
    """The trial's directory made unreadable (mode 000) until the controller has said so.

    The test runs the controller (and so this trial) as root WITHOUT the capabilities that
    let root ignore file modes, so the mode is enforced on it as on any user.
    """
    directory = path.parents[2]  # <runs>/<study>/trials/trial-000000
    mode = directory.stat().st_mode & 0o7777
    directory.chmod(0)
    try:
        logged("unreadable")
    finally:
        directory.chmod(mode)
    return 3


DAMAGES: dict[str, Callable[[Path], int]] = {
    damage.__name__: damage
    for damage in (rewritten, truncated, partial_line, garbage, huge_line, deleted, unreadable)
}


def main() -> int:
    context = trial.get_context()
    path = context.metric_file
    report(1)
    report(2)
    caught_up(path)
    next_epoch = DAMAGES[os.environ["CHAOS_SCENARIO"]](path)
    for epoch in range(next_epoch, context.target + 1):
        report(epoch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
