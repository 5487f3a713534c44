"""Reading new records from metric files: what the controller does every cycle for every job.

The trial side (:mod:`slurmhpo.trial`, whose docstring defines the line format) appends one
JSON object per line. The controller keeps, per job, the byte offset up to which the file is
ingested, and calls :func:`read_new_records` with it. The cost of a call grows with the NEW
bytes only: an idle file costs one ``open`` + ``fstat`` + ``close`` and no read at all.

Contract of :func:`read_new_records`
------------------------------------
* It never raises because of what is (or is not) on disk: every defect becomes a
  :class:`Problem` and the good lines around it are still returned. It raises ValueError
  only for bad arguments (a bug in the caller).
* Only complete lines (ending in ``\\n``) are parsed. A last line without its ``\\n`` is left
  for the next call: ``new_offset`` stops at its start.
* Each call parses at most ``max_bytes`` (+1, see below), read with one ``pread``, so a huge
  burst is consumed over several calls; ``ReadResult.more`` says that data is still waiting.
  Only the skip of a too-long line reads more, without keeping it: up to ``max_skip_bytes``
  to find the line's end, then one more ``max_bytes`` after it (see
  :func:`read_new_records`).
* Store ``new_offset`` with the observations, in the same transaction, and pass it back next
  time. Every record and every problem is then returned exactly once, in file order.

Lines longer than ``max_line_bytes`` (without the ``\\n``) are skipped with one ``too_long``
problem, even while still growing: as soon as the unfinished tail of the file is longer than
the limit, the problem is reported and ``new_offset`` jumps to the end of the bytes read,
INSIDE that line. No extra state is needed to remember "skipping": every other offset this
function returns is 0 or just after a ``\\n``, so a call whose ``offset - 1`` byte is not a
``\\n`` knows it is inside a line that was already reported, and skips silently up to the
next ``\\n``. That is why a call reads from ``offset - 1``: one byte more, still one read.

A stored offset can also land inside a line because the file was rewritten (a restarted
script that opened it with ``"w"``, a file deleted and written anew) and has grown past the
offset before the reader looked. The two cases are told apart without stored state: a skip
of a too-long line only ever leaves an offset MORE than ``max_line_bytes`` past the start of
its line, so when the line around ``offset - 1`` starts closer than that (one more read of
at most ``max_line_bytes`` bytes, and only when ``offset - 1`` is not a ``\n``), the file
was replaced: that is a ``replaced`` problem, and reading starts again from offset 0, as
after ``truncated``. Skipping to the next line boundary instead would silently drop the
rewritten lines before the old offset and the line across it.

Decisions about bad data (one problem per line at most, keyed by the line's offset)
-----------------------------------------------------------------------------------
* Blank (whitespace-only) lines are ignored silently: they carry nothing.
* ``not_utf8`` / ``not_json`` / ``not_object``: the line is dropped. A UTF-8 BOM at offset 0
  is tolerated (some Windows tools write one).
* Dropped lines that follow each other (no record between them) in one call are ONE problem,
  of the first line's kind and at its offset, whose detail counts them: a burst of binary
  garbage, which holds ``\\n`` bytes at random, is one defect, not hundreds of warnings.
  A run that a later call continues (its first line dropped, and the line before it, read
  again, dropped too: say, garbage whose unfinished last line a later report ended) is not
  reported again. Only then is the file read back, at most ``max_line_bytes`` bytes.
* ``no_resource`` / ``bad_resource``: the line is dropped. The resource must be a JSON int
  (not ``3.0``, not ``true``) between 1 and :data:`slurmhpo.paths.MAX_RESOURCE`, exactly as
  the trial side writes it; anything else is a writer bug worth seeing, not guessing around.
* ``bad_metric``: the line is KEPT without the offending keys (a stray string metric must not
  cost a trial its observation). If the objective is among them, ``Record.value`` is None,
  exactly as when the objective is absent. An unusable ``time`` is reported the same way and
  gives ``reported_at=None``.
* ``missing``: the file does not exist (yet): no records, offset unchanged.
* ``truncated``: the file is shorter than ``offset`` (rewritten or replaced). Reading starts
  again from offset 0 in the same call. Records already ingested may come back; the store
  keeps the first report of each (trial, resource), so they add nothing, while reports the
  new file holds past the old offset's reach are not lost (jumping to the current size would
  lose every line written before we noticed). A file replaced by one that is already longer
  than ``offset`` cannot be told apart from growth by its size.
* ``replaced``: the offset lands inside a line that is not one skipped as too long (see
  above): the file was rewritten and is already longer than ``offset``. Read again from 0,
  as after ``truncated``. A rewritten file with a line boundary exactly at ``offset`` still
  cannot be told apart from growth: its lines before ``offset`` are not read.
* ``unreadable``: any other OS error, or a path that is not a regular file. Offset unchanged.

Logging each problem once: problems carry the offset of their line, and offsets only move
forward, so ``problem_key(path, problem)`` identifies a problem. ``missing`` and
``unreadable`` repeat with the same key every cycle until the situation changes, so a
controller that remembers the keys it logged (per job) logs them once.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from slurmhpo.metric_lines import (
    DROPPED_KINDS,
    TIME_KEY,
    LineRules,
    Problem,
    Record,
    parse_line,
    too_long,
)

# Record, Problem and TIME_KEY live in slurmhpo.metric_lines (one line's rules) and are part
# of this module's interface too.
__all__ = [
    "PROBLEM_KINDS",
    "TIME_KEY",
    "Problem",
    "ReadResult",
    "Record",
    "problem_key",
    "read_new_records",
]

DEFAULT_MAX_LINE_BYTES = 1_000_000
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_SKIP_BYTES = 256 * 1024 * 1024  # the end of a too-long line sought per call
PROBLEM_KINDS = (
    "not_json",
    "not_object",
    "no_resource",
    "bad_resource",
    "bad_metric",
    "too_long",
    "not_utf8",
    "truncated",
    "replaced",
    "missing",
    "unreadable",
)


@dataclass(frozen=True)
class ReadResult:
    """What one call found; store ``new_offset`` and pass it back next time.

    ``more`` is True when the call stopped at its byte limit with data still waiting, so
    the caller may read again at once instead of waiting for its next cycle.
    """

    records: list[Record]
    problems: list[Problem]
    new_offset: int
    more: bool = False


@dataclass(frozen=True)
class _Chunk:
    """Bytes read from the file: ``data[0]`` is at file offset ``start``."""

    data: bytes
    start: int
    more: bool


def problem_key(path: Path | str, problem: Problem) -> tuple[str, int, str]:
    """A hashable identity for ``problem`` in ``path``: log a problem only if its key is new."""
    return (str(path), problem.offset, problem.kind)


def read_new_records(
    path: Path,
    offset: int,
    *,
    resource_name: str,
    metric: str,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_skip_bytes: int = DEFAULT_MAX_SKIP_BYTES,
) -> ReadResult:
    """Parse the complete lines of ``path`` after byte ``offset`` (see the module docstring).

    ``resource_name`` is the key holding the resource (e.g. ``epoch``), ``metric`` the
    objective. ``max_bytes`` must exceed ``max_line_bytes`` so that every call either makes
    progress or has nothing new to read. Never raises for file contents or OS errors.

    A read that ends inside a line skipped as too long goes on looking for that line's end,
    ``max_bytes`` at a time, none of it kept, up to ``max_skip_bytes``; found, the lines
    after it are read too (``max_bytes`` more). So a 100 MB line costs one call, not one per
    ``max_bytes``: a caller that stops reading a file when its job ends (with ``more`` still
    True) would otherwise lose the reports written after the long line.
    """
    _check_arguments(offset, max_line_bytes, max_bytes)
    options = LineRules(resource_name, metric, max_line_bytes)
    first, inside = _read_once(Path(path), offset, options, max_bytes)
    if not (inside and first.more):
        return first
    skipped_to, at_line_end = _skip_line(Path(path), first.new_offset, max_bytes, max_skip_bytes)
    if not at_line_end:
        return replace(first, new_offset=skipped_to, more=True)
    rest, _ = _read_once(Path(path), skipped_to, options, max_bytes)
    return ReadResult(
        first.records + rest.records, first.problems + rest.problems, rest.new_offset, rest.more
    )


def _read_once(
    path: Path, offset: int, options: LineRules, max_bytes: int
) -> tuple[ReadResult, bool]:
    """One bounded read and parse; the flag says it ended inside a line being skipped."""
    problems: list[Problem] = []
    chunk = _read_chunk(path, offset, max_bytes, options.max_line_bytes, problems)
    if chunk is None:
        restarted = problems and problems[-1].kind in ("truncated", "replaced")
        return ReadResult([], problems, 0 if restarted else offset), False
    records, new_offset = _parse_chunk(chunk, options, problems, path)
    end = chunk.start + len(chunk.data)
    inside = new_offset == end and chunk.data[-1:] != b"\n"
    return ReadResult(records, problems, new_offset, chunk.more), inside


def _skip_line(path: Path, offset: int, piece: int, budget: int) -> tuple[int, bool]:
    """Scan from ``offset`` for the end of the line being skipped, ``piece`` bytes a read,
    at most ``budget`` bytes; returns (the offset reached, whether just past a newline)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return offset, False
    try:
        position = offset
        while position - offset < budget:
            data = os.pread(fd, min(piece, budget - (position - offset)), position)
            if not data:
                break
            newline = data.find(b"\n")
            if newline >= 0:
                return position + newline + 1, True
            position += len(data)
        return position, False
    except OSError:
        return position, False
    finally:
        os.close(fd)


def _check_arguments(offset: int, max_line_bytes: int, max_bytes: int) -> None:
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"offset must be an int >= 0, got {offset!r}")
    if max_line_bytes < 1:
        raise ValueError(f"max_line_bytes must be >= 1, got {max_line_bytes!r}")
    if max_bytes <= max_line_bytes:
        raise ValueError(
            f"max_bytes ({max_bytes}) must be greater than max_line_bytes ({max_line_bytes}), "
            "or a line of allowed length might never fit in one read"
        )


def _read_chunk(
    path: Path, offset: int, max_bytes: int, max_line_bytes: int, problems: list[Problem]
) -> _Chunk | None:
    """Read the new bytes after ``offset`` (plus the byte before it); None if there are none.

    Appends ``missing``/``unreadable``/``truncated``/``replaced`` to ``problems``. After
    ``truncated`` or ``replaced`` the chunk starts at offset 0 (None if the file is now
    empty). Opening the file (rather than a bare ``stat``) makes NFS revalidate its size:
    close-to-open consistency.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        problems.append(Problem(offset, "missing", f"{path} does not exist (yet)"))
        return None
    except OSError as exc:
        problems.append(Problem(offset, "unreadable", f"cannot open {path}: {exc}"))
        return None
    try:
        return _read_open_file(fd, path, offset, (max_bytes, max_line_bytes), problems)
    except OSError as exc:
        problems.append(Problem(offset, "unreadable", f"cannot read {path}: {exc}"))
        return None
    finally:
        os.close(fd)


def _read_open_file(
    fd: int, path: Path, offset: int, limits: tuple[int, int], problems: list[Problem]
) -> _Chunk | None:
    """The :func:`_read_chunk` work on an open descriptor (OSError propagates);
    ``limits`` is (max_bytes, max_line_bytes)."""
    max_bytes, max_line_bytes = limits
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        problems.append(Problem(offset, "unreadable", f"{path} is not a regular file"))
        return None
    size = info.st_size
    if size < offset:
        problems.append(
            Problem(
                offset,
                "truncated",
                f"{path} is {size} bytes, shorter than the {offset} already read; reading "
                "it again from the start (reports already stored are kept, repeats ignored)",
            )
        )
        offset = 0
    if size == offset:
        return None
    chunk = _pread_from(fd, offset, size, max_bytes)
    if offset > 0 and chunk.data[:1] != b"\n" and not _in_skipped_line(fd, offset, max_line_bytes):
        problems.append(
            Problem(
                offset,
                "replaced",
                f"{path} was rewritten: byte {offset}, where reading had stopped, is inside a "
                "line; reading it again from the start (reports already stored are kept, "
                "repeats ignored)",
            )
        )
        chunk = _pread_from(fd, 0, size, max_bytes)
    return chunk


def _pread_from(fd: int, offset: int, size: int, max_bytes: int) -> _Chunk:
    """Up to ``max_bytes`` after ``offset``, with the byte before it (see the module doc)."""
    start = max(offset - 1, 0)  # the byte before offset tells whether we are inside a line
    length = min(size - start, max_bytes + (offset - start))
    data = os.pread(fd, length, start)
    return _Chunk(data, start, more=start + len(data) < size)


def _in_skipped_line(fd: int, offset: int, max_line_bytes: int) -> bool:
    """Whether ``offset`` (not at a line start) can be one this reader left inside a line it
    skipped as too long: only if that line started more than ``max_line_bytes`` before it.
    Reads at most ``max_line_bytes`` bytes before ``offset - 1`` to find the line's start."""
    low = max(offset - 1 - max_line_bytes, 0)
    before = os.pread(fd, offset - 1 - low, low)
    newline = before.rfind(b"\n")
    if newline < 0 and low > 0:
        return True  # no line start within reach: the line is longer than the limit
    return offset - (low + newline + 1) > max_line_bytes  # no newline: the line starts at 0


def _parse_chunk(
    chunk: _Chunk, options: LineRules, problems: list[Problem], path: Path
) -> tuple[list[Record], int]:
    """Parse the complete lines of ``chunk``; returns the records and the new offset.

    ``path`` is read again only when the first line is dropped, to see whether the line
    before it (read by an earlier call) was dropped too: then the run goes on, already
    reported (see the module docstring).
    """
    data, start = chunk.data, chunk.start
    pos = 0
    if start > 0:  # data[0] is the byte before the caller's offset
        if data[:1] != b"\n":  # inside a line already reported too long: skip to its end
            newline = data.find(b"\n", 1)
            if newline < 0:
                return [], start + len(data)
            pos = newline
        pos += 1
    records: list[Record] = []
    first = start + pos
    dropped = _DroppedRun(problems, first, lambda: _line_before_dropped(path, first, options))
    while (newline := data.find(b"\n", pos)) >= 0:
        found: list[Problem] = []
        record = parse_line(data[pos:newline], start + pos, options, found)
        if record is not None:
            records.append(record)
        dropped.add(found, record, start + newline + 1)
        pos = newline + 1
    tail = len(data) - pos
    if tail > options.max_line_bytes:  # an unfinished line already too long: a dropped line
        unfinished = too_long(start + pos, tail, options, unfinished=True)
        dropped.add([unfinished], None, start + len(data))
        dropped.flush()
        return records, start + len(data)
    dropped.flush()
    return records, start + pos


class _DroppedRun:
    """Collects consecutive dropped lines so that they become one problem (module doc).

    A run that starts at ``first`` (the call's first line) continues the run of an earlier
    call if ``continues()`` says the line before was dropped: it is then not reported again.
    """

    def __init__(self, problems: list[Problem], first: int, continues: Callable[[], bool]) -> None:
        self.problems = problems
        self.run: list[Problem] = []
        self.end = 0
        self.first = first
        self.continues: Callable[[], bool] | None = continues

    def add(self, found: list[Problem], record: Record | None, end: int) -> None:
        """One line's problems; ``end`` is the offset just past the line."""
        if record is None and found and found[0].kind in DROPPED_KINDS:
            self.run.append(found[0])
            self.end = end
            return
        if record is not None:
            self.flush()  # a blank line (no record, no problem) does not end a run
        self.problems.extend(found)

    def flush(self) -> None:
        continues, self.continues = self.continues, None  # only the call's first run may
        if self.run and self.run[0].offset == self.first and continues and continues():
            self.run = []
            return
        if len(self.run) > 1:
            first = self.run[0]
            detail = (
                f"{len(self.run)} bad lines in a row, bytes {first.offset} to {self.end}; "
                f"the first: {first.detail}"
            )
            self.problems.append(Problem(first.offset, first.kind, detail))
        else:
            self.problems.extend(self.run)
        self.run = []


def _line_before_dropped(path: Path, offset: int, options: LineRules) -> bool:
    """Whether the line that ends just before ``offset`` yields no record (a dropped line).

    Reads at most ``max_line_bytes`` bytes back; a line longer than that was dropped as too
    long. False when there is no line before, or on any OS error (the problem is then
    reported again: a repeat is better than a silence).
    """
    if offset == 0:
        return False
    low = max(offset - 1 - options.max_line_bytes, 0)
    try:
        with open(path, "rb") as file:
            file.seek(low)
            before = file.read(offset - 1 - low)
    except OSError:
        return False
    newline = before.rfind(b"\n")
    if newline < 0 and low > 0:
        return True
    scratch: list[Problem] = []
    record = parse_line(before[newline + 1 :], low + newline + 1, options, scratch)
    return record is None and bool(scratch) and scratch[0].kind in DROPPED_KINDS
