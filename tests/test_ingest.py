"""The metric-file reader: new complete lines only, every record and problem exactly once."""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slurmhpo.ingest import (
    PROBLEM_KINDS,
    Problem,
    ReadResult,
    Record,
    problem_key,
    read_new_records,
)
from slurmhpo.trial import TrialContext

MiB = 1024 * 1024


def read(path: Path, offset: int = 0, **limits: int) -> ReadResult:
    return read_new_records(path, offset, resource_name="epoch", metric="val_loss", **limits)


def append(path: Path, data: bytes | str) -> None:
    with open(path, "ab") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def line(epoch: int, loss: float, **extra: object) -> str:
    return json.dumps({"epoch": epoch, "val_loss": loss, **extra}) + "\n"


def kinds(result: ReadResult) -> list[str]:
    return [p.kind for p in result.problems]


def drain(path: Path, offset: int, **limits: int) -> tuple[list[Record], list[Problem], int]:
    """Call until nothing more is waiting, as a controller catching up would."""
    records: list[Record] = []
    problems: list[Problem] = []
    for _ in range(10_000):  # a reader that stops making progress fails instead of hanging
        result = read(path, offset, **limits)
        records += result.records
        problems += result.problems
        assert result.new_offset >= offset or "truncated" in kinds(result)
        offset = result.new_offset
        if not result.more:
            return records, problems, offset
    pytest.fail(f"still more to read at offset {offset} after 10,000 calls")


# --- normal reading -------------------------------------------------------------------------


def test_normal_lines(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    first = '{"epoch": 1, "val_loss": 0.5, "acc": 3, "time": 1764000000.25}\n'
    append(path, first + line(2, 0.25))
    result = read(path)
    assert result.problems == []
    assert result.new_offset == path.stat().st_size
    assert result.more is False
    one, two = result.records
    assert one == Record(
        resource=1,
        metrics={"val_loss": 0.5, "acc": 3.0},
        value=0.5,
        reported_at=datetime(2025, 11, 24, 16, 0, 0, 250000, tzinfo=UTC),
        line_offset=0,
    )
    assert isinstance(one.metrics["acc"], float)
    assert (two.resource, two.value, two.reported_at, two.line_offset) == (2, 0.25, None, 63)


def test_offset_progression_over_appends(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    offset, seen = 0, []
    for epoch in range(1, 6):
        append(path, line(epoch, 1 / epoch))
        result = read(path, offset)
        assert [r.resource for r in result.records] == [epoch]
        assert result.records[0].line_offset == offset
        offset = result.new_offset
        seen.append(epoch)
        assert offset == path.stat().st_size
    idle = read(path, offset)
    assert (idle.records, idle.problems, idle.new_offset) == ([], [], offset)


def test_half_line_then_its_completion(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    append(path, line(1, 0.9))
    whole = line(2, 0.8).encode()
    append(path, whole[:10])
    first = read(path)
    assert [r.resource for r in first.records] == [1]
    start_of_second = len(line(1, 0.9))
    assert first.new_offset == start_of_second
    assert read(path, first.new_offset).records == []
    append(path, whole[10:])
    second = read(path, first.new_offset)
    assert [(r.resource, r.value, r.line_offset) for r in second.records] == [
        (2, 0.8, start_of_second)
    ]
    assert second.new_offset == path.stat().st_size


def test_blank_lines_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    append(path, "\n   \n" + line(1, 0.1) + "\r\n")
    result = read(path)
    assert [r.resource for r in result.records] == [1]
    assert result.problems == []


def test_crlf_line_and_bom_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    append(path, b"\xef\xbb\xbf" + line(1, 0.1).replace("\n", "\r\n").encode())
    result = read(path)
    assert [r.value for r in result.records] == [0.1]
    assert result.problems == []


# --- bad lines ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("not json at all", "not_json"),
        ('{"epoch": 1, "val_loss": 0.5', "not_json"),
        ("[" * 100_000 + "]" * 100_000, "not_json"),  # deep nesting: RecursionError, caught
        ('{"epoch": ' + "9" * 5000 + "}", "not_json"),  # beyond Python's int digit limit
        ("[1, 2]", "not_object"),
        ('"a string"', "not_object"),
        ("3.5", "not_object"),
        ("null", "not_object"),
        ('{"val_loss": 0.5}', "no_resource"),
        ('{"epoch": true, "val_loss": 0.5}', "bad_resource"),
        ('{"epoch": 3.0, "val_loss": 0.5}', "bad_resource"),
        ('{"epoch": 0, "val_loss": 0.5}', "bad_resource"),
        ('{"epoch": -2, "val_loss": 0.5}', "bad_resource"),
        ('{"epoch": "3", "val_loss": 0.5}', "bad_resource"),
        ('{"epoch": 1000000000, "val_loss": 0.5}', "bad_resource"),
    ],
    ids=lambda value: value[:24],
)
def test_dropped_lines_are_reported_and_neighbours_kept(
    tmp_path: Path, text: str, kind: str
) -> None:
    path = tmp_path / "m.jsonl"
    append(path, line(1, 0.5) + text + "\n" + line(2, 0.4))
    result = read(path, max_line_bytes=300_000, max_bytes=MiB)
    assert [r.resource for r in result.records] == [1, 2]
    assert kinds(result) == [kind]
    assert result.problems[0].offset == len(line(1, 0.5))
    assert result.problems[0].detail
    assert result.new_offset == path.stat().st_size


def test_nan_and_infinities_are_kept_as_floats(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    append(path, '{"epoch": 1, "val_loss": NaN, "up": Infinity, "down": -Infinity}\n')
    (record,) = read(path).records
    assert record.value is not None and math.isnan(record.value)
    assert record.metrics["up"] == math.inf
    assert record.metrics["down"] == -math.inf


def test_string_metric_drops_that_key_only(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    append(path, '{"epoch": 4, "val_loss": 0.3, "note": "ok", "flag": true, "acc": 0.9}\n')
    result = read(path)
    (record,) = result.records
    assert record.metrics == {"val_loss": 0.3, "acc": 0.9}
    assert record.value == 0.3
    assert kinds(result) == ["bad_metric"]
    assert "'note'" in result.problems[0].detail and "'flag'" in result.problems[0].detail


def test_string_objective_gives_no_value(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    append(path, '{"epoch": 4, "val_loss": "0.3", "acc": 0.9}\n{"epoch": 5, "acc": 0.8}\n')
    result = read(path)
    assert [(r.resource, r.value) for r in result.records] == [(4, None), (5, None)]
    assert kinds(result) == ["bad_metric"]  # a missing objective is not a problem of the line


@pytest.mark.parametrize("bad_time", ['"yesterday"', "NaN", "1e300", "true", "null"])
def test_bad_time_keeps_record_without_timestamp(tmp_path: Path, bad_time: str) -> None:
    path = tmp_path / "m.jsonl"
    append(path, '{"epoch": 1, "val_loss": 0.3, "time": ' + bad_time + "}\n")
    result = read(path)
    (record,) = result.records
    assert (record.value, record.reported_at, record.metrics) == (0.3, None, {"val_loss": 0.3})
    assert kinds(result) == ["bad_metric"]
    assert "time" in result.problems[0].detail


def test_huge_int_metric_is_bad_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    append(path, '{"epoch": 1, "val_loss": ' + "9" * 400 + "}\n")
    result = read(path)
    assert [r.value for r in result.records] == [None]
    assert kinds(result) == ["bad_metric"]


def test_invalid_utf8_line_reported_others_kept(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    append(path, line(1, 0.5).encode() + b'{"epoch": 2, "v\xff": 1}\n' + line(3, 0.4).encode())
    result = read(path)
    assert [r.resource for r in result.records] == [1, 3]
    assert kinds(result) == ["not_utf8"]
    assert result.problems[0].offset == len(line(1, 0.5))


# --- too long lines -------------------------------------------------------------------------


def test_huge_line_written_in_two_steps_reported_once(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    limits = {"max_line_bytes": 1000, "max_bytes": 4000}
    append(path, line(1, 0.5))
    long_start = path.stat().st_size
    append(path, '{"epoch": 2, "pad": "' + "x" * 1500)
    first = read(path, 0, **limits)
    assert [r.resource for r in first.records] == [1]
    assert [(p.kind, p.offset) for p in first.problems] == [("too_long", long_start)]
    assert first.new_offset == path.stat().st_size  # inside the long line, past what was seen
    idle = read(path, first.new_offset, **limits)
    assert (idle.records, idle.problems, idle.new_offset) == ([], [], first.new_offset)
    append(path, "y" * 6000)  # still growing, beyond one read: skipped silently
    offset = first.new_offset
    for _ in range(3):
        growing = read(path, offset, **limits)
        assert (growing.records, growing.problems) == ([], [])
        offset = growing.new_offset
    assert offset == path.stat().st_size
    append(path, '"}\n' + line(3, 0.2))
    last = read(path, offset, **limits)
    assert [r.resource for r in last.records] == [3]
    assert last.problems == []
    assert last.new_offset == path.stat().st_size


def test_a_line_far_longer_than_one_read_is_skipped_in_one_call(tmp_path: Path) -> None:
    """The skip reads on to the line's end (nothing kept), then the lines after it: a job
    that ends right after such a line has all its reports read by the next call."""
    path = tmp_path / "m.jsonl"
    limits = {"max_line_bytes": 1000, "max_bytes": 4000}
    append(path, line(1, 0.5) + '{"epoch": 2, "pad": "' + "x" * 50_000 + '"}\n')
    append(path, line(3, 0.3) + line(4, 0.2))
    result = read(path, 0, **limits)
    assert [r.resource for r in result.records] == [1, 3, 4]
    assert kinds(result) == ["too_long"]
    assert (result.new_offset, result.more) == (path.stat().st_size, False)
    capped = read(path, 0, **limits, max_skip_bytes=10_000)  # the skip has its own bound
    assert ([r.resource for r in capped.records], capped.more) == ([1], True)
    assert capped.new_offset == 4000 + 10_000  # one read of max_bytes, then the skip bound


def test_complete_long_line_in_one_read(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    append(path, line(1, 0.5, pad="x" * 2000) + line(2, 0.4))
    result = read(path, max_line_bytes=1000, max_bytes=10_000)
    assert [r.resource for r in result.records] == [2]
    assert [(p.kind, p.offset) for p in result.problems] == [("too_long", 0)]


def test_line_of_exactly_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    head = '{"epoch": 1, "val_loss": 0.5'
    text = head + " " * (100 - len(head) - 1) + "}\n"  # padded with JSON whitespace
    assert len(text) - 1 == 100
    append(path, text[:-1])
    assert read(path, max_line_bytes=100, max_bytes=101).new_offset == 0  # waits, no report
    append(path, "\n")
    result = read(path, max_line_bytes=100, max_bytes=101)
    assert [r.resource for r in result.records] == [1]
    assert result.problems == []


# --- the file itself ------------------------------------------------------------------------


def test_missing_file_keeps_offset(tmp_path: Path) -> None:
    path = tmp_path / "never.jsonl"
    result = read(path, 0)
    assert (result.records, kinds(result), result.new_offset) == ([], ["missing"], 0)


def test_deleted_file(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    append(path, line(1, 0.5))
    offset = read(path).new_offset
    path.unlink()
    result = read(path, offset)
    assert (result.records, kinds(result), result.new_offset) == ([], ["missing"], offset)
    again = read(path, offset)
    assert problem_key(path, again.problems[0]) == problem_key(path, result.problems[0])


def test_truncated_file_is_read_again_from_start(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    append(path, line(1, 0.5) + line(2, 0.4) + line(3, 0.3))
    offset = read(path).new_offset
    path.write_text(line(4, 0.2))  # rewritten shorter
    result = read(path, offset)
    assert kinds(result) == ["truncated"]
    assert result.problems[0].offset == offset
    assert [(r.resource, r.line_offset) for r in result.records] == [(4, 0)]
    assert result.new_offset == path.stat().st_size
    append(path, line(5, 0.1))
    later = read(path, result.new_offset)
    assert ([r.resource for r in later.records], later.problems) == ([5], [])


def test_file_rewritten_past_the_offset_is_read_again_from_start(tmp_path: Path) -> None:
    """A restarted script rewrote the file and it grew past the old offset before the reader
    looked: the old offset is inside a line, so the whole new file is read once more."""
    path = tmp_path / "m.jsonl"
    append(path, line(1, 0.5) + line(2, 0.4))
    offset = read(path).new_offset
    rewritten = line(1, 0.55, run=2) + line(2, 0.45, run=2) + line(3, 0.35, run=2)
    assert rewritten[offset - 1] != "\n"  # the old offset falls inside a line
    path.write_text(rewritten)
    result = read(path, offset)
    assert [(p.kind, p.offset) for p in result.problems] == [("replaced", offset)]
    assert [r.resource for r in result.records] == [1, 2, 3]
    assert result.new_offset == path.stat().st_size


def test_a_rewrite_cannot_hide_inside_the_skip_of_a_long_line(tmp_path: Path) -> None:
    """An offset left inside a line skipped as too long is no rewrite: no problem, no
    re-read; one that no long line explains is, even deep into a file."""
    path = tmp_path / "m.jsonl"
    limits = {"max_line_bytes": 100, "max_bytes": 150}
    append(path, line(1, 0.5) + '{"epoch": 2, "pad": "' + "x" * 130)
    first = read(path, 0, **limits)
    assert kinds(first) == ["too_long"]
    append(path, "y" * 40)
    skipping = read(path, first.new_offset, **limits)
    assert (skipping.records, skipping.problems) == ([], [])
    path.write_text(line(7, 0.1) * 8)  # rewritten: short lines all the way past the offset
    result = read(path, skipping.new_offset, **limits)
    assert kinds(result)[0] == "replaced"


def test_skip_of_a_first_line_just_over_the_limit_is_no_rewrite(tmp_path: Path) -> None:
    """The boundary: a too-long line at byte 0 seen with limit + 1 bytes leaves the offset
    where the look back reaches byte 0 without a newline; that is still the skip."""
    path = tmp_path / "m.jsonl"
    limits = {"max_line_bytes": 400, "max_bytes": 450}
    text = '{"epoch": 1, "pad": "' + "x" * 600 + '"}\n'
    append(path, text[:401])
    first = read(path, 0, **limits)
    assert (kinds(first), first.new_offset) == (["too_long"], 401)
    append(path, text[401:] + line(2, 0.4))
    second = read(path, first.new_offset, **limits)
    assert ([r.resource for r in second.records], second.problems) == ([2], [])


def test_rewrite_with_a_line_boundary_at_the_offset_is_not_seen(tmp_path: Path) -> None:
    """The documented limit: same lengths, so the old offset is a line start in the new file;
    reading goes on from there and the rewritten lines before it are not read."""
    path = tmp_path / "m.jsonl"
    append(path, line(1, 0.5) + line(2, 0.4))
    offset = read(path).new_offset
    path.write_text(line(1, 0.6) + line(2, 0.3) + line(3, 0.2))
    result = read(path, offset)
    assert ([r.resource for r in result.records], result.problems) == ([3], [])


def test_consecutive_bad_lines_are_one_problem(tmp_path: Path) -> None:
    """A burst of binary garbage holds newlines at random: one problem, not one per line."""
    path = tmp_path / "m.jsonl"
    garbage = b"\xff" + bytes(range(256)) * 4  # four newlines: five lines, invalid UTF-8
    append(path, line(1, 0.5))
    start = path.stat().st_size
    append(path, garbage + b"\n" + b"{oops\n\n[1]\n")
    end = path.stat().st_size
    append(path, line(2, 0.4) + "not json\n" + line(3, 0.3))
    result = read(path)
    assert [r.resource for r in result.records] == [1, 2, 3]
    assert [(p.kind, p.offset) for p in result.problems] == [
        ("not_utf8", start),
        ("not_json", end + len(line(2, 0.4))),
    ]
    assert result.problems[0].detail.startswith("7 bad lines in a row")  # 5 + oops + [1]


def test_a_run_of_bad_lines_continued_by_a_later_call_is_not_reported_again(
    tmp_path: Path,
) -> None:
    """Garbage whose last line is unfinished: a later report ends it, and that last piece is
    part of the damage already reported. A bad line after a good one is a new problem."""
    path = tmp_path / "m.jsonl"
    append(path, line(1, 0.5) + "\x00\x01garbage\n\xff\xfe more")
    first = read(path)
    assert ([r.resource for r in first.records], kinds(first)) == ([1], ["not_json"])
    append(path, "\n" + line(2, 0.4))
    second = read(path, first.new_offset)
    assert ([r.resource for r in second.records], second.problems) == ([2], [])
    append(path, "oops\n" + line(3, 0.3))
    third = read(path, second.new_offset)
    assert ([r.resource for r in third.records], kinds(third)) == ([3], ["not_json"])


def test_truncated_to_empty(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    append(path, line(1, 0.5))
    path.write_bytes(b"")
    result = read(path, len(line(1, 0.5)))
    assert (result.records, kinds(result), result.new_offset) == ([], ["truncated"], 0)


def test_directory_is_unreadable_not_a_crash(tmp_path: Path) -> None:
    result = read(tmp_path, 0)
    assert (result.records, kinds(result), result.new_offset) == ([], ["unreadable"], 0)


def test_fifo_is_unreadable_and_does_not_block(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    os.mkfifo(path)  # opening a FIFO for reading would wait for a writer without O_NONBLOCK
    result = read(path, 0)
    assert (result.records, kinds(result), result.new_offset) == ([], ["unreadable"], 0)


READ_IN_A_CHILD = (
    "import json, sys\n"
    "from pathlib import Path\n"
    "from slurmhpo.ingest import read_new_records\n"
    "r = read_new_records(Path(sys.argv[1]), 0, resource_name='epoch', metric='val_loss')\n"
    "print(json.dumps([len(r.records), [p.kind for p in r.problems], r.new_offset]))\n"
)


def test_permission_denied_is_unreadable(tmp_path: Path, mode_enforcing_prefix: list[str]) -> None:
    """Read by a child process held to file modes: as root (CI) it runs without the
    capabilities that let root read any file, so the test runs there instead of skipping."""
    path = tmp_path / "m.jsonl"
    append(path, line(1, 0.5))
    path.chmod(0)
    done = subprocess.run(
        [*mode_enforcing_prefix, sys.executable, "-c", READ_IN_A_CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(done.stdout) == [0, ["unreadable"], 0]


def test_max_bytes_bounds_each_read(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    lines = [line(e, e / 7, lr=e / 3, step=e * 1000) for e in range(1, 50_000)]
    path.write_text("".join(lines))
    size = path.stat().st_size
    assert size > 3 * MiB
    offset, records, calls = 0, [], 0
    while True:
        result = read(path, offset, max_bytes=MiB)
        calls += 1
        assert result.new_offset - offset <= MiB
        assert result.problems == []
        records += result.records
        offset = result.new_offset
        if not result.more:
            break
    assert math.ceil(size / MiB) <= calls <= math.ceil(size / MiB) + 1
    assert offset == size
    assert [r.resource for r in records] == list(range(1, 50_000))


def test_bad_arguments_raise(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    with pytest.raises(ValueError, match="offset"):
        read(path, -1)
    with pytest.raises(ValueError, match="max_bytes"):
        read(path, 0, max_line_bytes=100, max_bytes=100)


# --- the real trial side --------------------------------------------------------------------


def test_lines_written_by_the_trial_side_parse_back_exactly(tmp_path: Path) -> None:
    ctx = TrialContext.for_testing({"lr": 0.1}, target=5, tmp_dir=tmp_path)
    written = [
        ctx.report(epoch=1, val_loss=0.123456789012345, acc=7),
        ctx.report(epoch=2, val_loss=float("nan"), acc=-1e-300),
        ctx.report(resource=3, val_loss=float("inf"), acc=2.5),
    ]
    result = read_new_records(ctx.metric_file, 0, resource_name="epoch", metric="val_loss")
    assert result.problems == []
    assert result.new_offset == ctx.metric_file.stat().st_size
    for record, sent in zip(result.records, written, strict=True):
        assert record.resource == sent["epoch"]
        assert json.dumps(record.metrics) == json.dumps(
            {k: float(v) for k, v in sent.items() if k not in ("epoch", "time")}
        )
        assert record.reported_at == datetime.fromtimestamp(sent["time"], tz=UTC)
        assert abs(record.reported_at.timestamp() - sent["time"]) <= 1e-6  # datetime: 1 us
    assert result.records[0].value == 0.123456789012345
    assert math.isnan(result.records[1].value or 0.0)


def test_problem_kinds_are_the_documented_ones() -> None:
    assert set(PROBLEM_KINDS) >= {
        "not_json",
        "not_object",
        "no_resource",
        "bad_resource",
        "bad_metric",
        "too_long",
        "not_utf8",
        "truncated",
        "missing",
    }


# --- property: any split of an appended stream yields every record once, in order -----------

metric_values = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**6), 10**6)
records_strategy = st.lists(
    st.tuples(
        st.integers(1, 10_000),
        st.dictionaries(
            st.sampled_from(["val_loss", "acc", "lr", "ünï"]), metric_values, max_size=4
        ),
    ),
    max_size=25,
)
BAD_LINES = {
    "not_json": b"oops {",
    "not_object": b"[1, 2, 3]",
    "not_utf8": b'{"epoch": 1, "v\xff": 2}',
    "too_long": b'{"epoch": 1, "pad": "' + b"x" * 500 + b'"}',
}


def build_stream(
    items: list[tuple[int, dict[str, float | int]]], bad_slots: list[str]
) -> tuple[bytes, list[tuple[int, str]], list[tuple[int, str]]]:
    """The bytes, the expected (resource, metrics json) and the expected (offset, kind)."""
    stream, expected, problems = b"", [], []
    for i, (epoch, metrics) in enumerate(items):
        if i < len(bad_slots):
            problems.append((len(stream), bad_slots[i]))
            stream += BAD_LINES[bad_slots[i]] + b"\n"
        stream += (json.dumps({"epoch": epoch, **metrics}) + "\n").encode()
        expected.append((epoch, json.dumps({k: float(v) for k, v in metrics.items()})))
    return stream, expected, problems


def feed_in_pieces(
    path: Path, stream: bytes, cuts: list[float]
) -> tuple[list[Record], list[Problem]]:
    """Append ``stream`` cut at the fractions ``cuts``, draining the reader after each piece
    (limits 400/450, so BAD_LINES' too-long line spans reads); checks it ends at the end."""
    points = sorted({int(c * len(stream)) for c in cuts} | {0, len(stream)})
    offset, got, problems = 0, [], []
    path.write_bytes(b"")
    for lo, hi in itertools.pairwise(points):
        append(path, stream[lo:hi])
        records, found, offset = drain(path, offset, max_line_bytes=400, max_bytes=450)
        got += records
        problems += found
    assert offset == len(stream)
    return got, problems


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    items=records_strategy,
    bad_slots=st.lists(st.sampled_from(sorted(BAD_LINES)), max_size=6),
    cuts=st.lists(st.floats(0, 1), max_size=12),
)
def test_random_splits_give_every_record_once_in_order(
    tmp_path_factory: pytest.TempPathFactory,
    items: list[tuple[int, dict[str, float | int]]],
    bad_slots: list[str],
    cuts: list[float],
) -> None:
    path = tmp_path_factory.mktemp("prop") / "m.jsonl"
    stream, expected, expected_problems = build_stream(items, bad_slots)
    got, problems = feed_in_pieces(path, stream, cuts)
    assert [(r.resource, json.dumps(r.metrics)) for r in got] == expected
    assert [(p.offset, p.kind) for p in problems] == expected_problems
    starts = [r.line_offset for r in got]
    assert all(stream[s:].startswith(b'{"epoch": ') for s in starts)
    assert starts == sorted(set(starts))


def build_runs_stream(
    epochs: list[int], runs: list[list[str]]
) -> tuple[bytes, list[int], list[tuple[int, str]]]:
    """Each epoch's line after a run of bad lines (maybe none): the bytes, the expected
    epochs, and the expected (offset, kind): one per run, its first line's."""
    stream, problems = b"", []
    for i, epoch in enumerate(epochs):
        run = runs[i] if i < len(runs) else []
        if run:
            problems.append((len(stream), run[0]))
        stream += b"".join(BAD_LINES[kind] + b"\n" for kind in run)
        stream += (json.dumps({"epoch": epoch, "val_loss": 0.5}) + "\n").encode()
    return stream, epochs, problems


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    epochs=st.lists(st.integers(1, 10_000), max_size=12),
    runs=st.lists(st.lists(st.sampled_from(sorted(BAD_LINES)), max_size=4), max_size=12),
    cuts=st.lists(st.floats(0, 1), max_size=12),
)
def test_random_splits_report_each_run_of_bad_lines_once(
    tmp_path_factory: pytest.TempPathFactory,
    epochs: list[int],
    runs: list[list[str]],
    cuts: list[float],
) -> None:
    """However the appends split a run of consecutive bad lines over calls, it is one
    problem, at its first line, of that line's kind; every record is still read once."""
    path = tmp_path_factory.mktemp("runs") / "m.jsonl"
    stream, expected, expected_problems = build_runs_stream(epochs, runs)
    got, problems = feed_in_pieces(path, stream, cuts)
    assert [r.resource for r in got] == expected
    assert [(p.offset, p.kind) for p in problems] == expected_problems
