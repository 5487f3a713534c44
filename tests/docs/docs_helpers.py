"""Finding the shell examples in the docs, and running slurmhpo commands as a user would.

An example is a line of a fenced code block, or a line indented by 4 spaces outside one,
whose text starts with ``slurmhpo `` (a trailing ``# comment`` is dropped; a line ending in
``\\`` continues on the next). Commands run through ``bash -c`` with the real ``slurmhpo``
console script first on PATH, HOME set to a temporary folder (so ``~`` and the default data
directory stay inside the test) and SLURMHPO_DB pointing at a temporary database.
"""

from __future__ import annotations

import dataclasses
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC_FILES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
COMMENT = re.compile(r"\s+#\s.*$")
COMMAND_TIMEOUT_S = 120.0
CLEAR_SCREEN = "\x1b[H\x1b[2J"
# Found once with the test's own PATH: a test may hand a command a PATH without bash on it.
BASH = shutil.which("bash") or "/bin/bash"


@dataclasses.dataclass(frozen=True)
class Example:
    """One documented command: where it is, and its text without the comment."""

    path: Path
    line: int
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"

    @property
    def words(self) -> list[str]:
        return self.text.split()


def extract(path: Path) -> list[Example]:
    """The ``slurmhpo ...`` examples of one Markdown file, in order."""
    examples: list[Example] = []
    fenced = False
    pending: tuple[int, str] | None = None
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        code = line.strip() if fenced else (line[4:].strip() if line.startswith("    ") else "")
        if pending is not None:
            start, text = pending
            text = text + " " + code.rstrip("\\").strip()
            pending = (start, text) if code.endswith("\\") else None
            if pending is None:
                examples.append(Example(path, start, COMMENT.sub("", text).strip()))
            continue
        if not code.startswith("slurmhpo "):
            continue
        if code.endswith("\\"):
            pending = (number, code.rstrip("\\").strip())
        else:
            examples.append(Example(path, number, COMMENT.sub("", code).strip()))
    return examples


def all_examples() -> list[Example]:
    return [example for path in DOC_FILES for example in extract(path)]


@dataclasses.dataclass(frozen=True)
class DocsWorld:
    """Where the docs tests keep their studies: ``root/finished`` holds a toy ``digits-mlp``
    study that ran to its end, ``root/registered`` one that was submitted and never driven."""

    root: Path
    finished_file: Path
    registered_file: Path

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def finished_db(self) -> Path:
        return self.root / "finished.db"

    @property
    def registered_db(self) -> Path:
        return self.root / "registered.db"

    def env(self, db: Path, **extra: str) -> dict[str, str]:
        return user_env(self.home, db, **extra)


def user_env(home: Path, db: Path, **extra: str) -> dict[str, str]:
    """The environment of a user whose HOME is ``home`` and whose database is ``db``."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "HOME": str(home), "PATH": path, "SLURMHPO_DB": f"sqlite:///{db}"}
    env.update(extra)
    return env


def copy_db(source: Path, target: Path) -> Path:
    """A private copy of a SQLite database (with its WAL files, if any are left)."""
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")
    return target


def shell(command: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run one command line through bash, as typed at a prompt (bounded)."""
    return subprocess.run(
        [BASH, "-c", command],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )


def start(command: str, env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start a long-running command (a controller, a daemon); its output goes to ``log``.

    ``exec`` makes the command itself the child, so a signal reaches slurmhpo, not bash.
    """
    with log.open("ab") as out:
        return subprocess.Popen(
            [BASH, "-c", f"exec {command}"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
        )


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGINT, timeout: float = 60.0) -> int:
    """Send ``sig`` and wait for the exit code; kill (and fail) if it does not exit."""
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(
            f"{proc.args!r} did not exit within {timeout:.0f} s of {sig}"
        ) from None


def wait_for(what: str, probe: Callable[[], object], timeout: float = 120.0) -> None:
    """Poll ``probe()`` until it is truthy; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def watch_in_pty(command: str, env: dict[str, str], cwd: Path, frames: int = 2) -> tuple[int, str]:
    """Run a ``--watch`` command on a pseudo-terminal until it has drawn ``frames`` frames,
    then press Ctrl-C (SIGINT); returns its exit code and everything it drew."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [BASH, "-c", f"exec {command}"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
        cwd=cwd,
        close_fds=True,
    )
    os.close(terminal)
    screen = b""
    deadline = time.monotonic() + 60.0
    try:
        while screen.decode(errors="replace").count(CLEAR_SCREEN) < frames:
            if time.monotonic() > deadline or proc.poll() is not None:
                break
            ready, _, _ = select.select([controller], [], [], 0.5)
            if ready:
                try:
                    screen += os.read(controller, 65536)
                except OSError:  # the terminal closed: the command exited
                    break
        code = stop(proc, signal.SIGINT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(controller)
    return code, screen.decode(errors="replace")
