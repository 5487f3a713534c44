"""The trial side as a training script sees it: environment, metric lines, checkpoints."""

from __future__ import annotations

import json
import math
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from slurmhpo import trial
from slurmhpo.errors import SlurmhpoError
from slurmhpo.paths import TrialPaths, checkpoint_name
from slurmhpo.trial import REQUIRED_ENV, TrialContext, TrialEnvironmentError


@pytest.fixture()
def ctx(tmp_path: Path) -> TrialContext:
    return TrialContext.for_testing({"lr": 0.1, "act": "relu"}, target=9, tmp_dir=tmp_path)


def lines(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


# --- environment ----------------------------------------------------------------------------


def test_environment_round_trip(ctx: TrialContext) -> None:
    env = ctx.to_environ()
    assert set(REQUIRED_ENV) <= set(env)
    assert env["SLURMHPO_CONFIG"] == str(ctx.config_file)
    assert env["SLURMHPO_START_RESOURCE"] == "0"
    assert env["SLURMHPO_TARGET_RESOURCE"] == "9"
    assert TrialContext.from_environ(env) == ctx
    assert TrialContext.from_environ(env).config == {"lr": 0.1, "act": "relu"}
    assert trial.running_under_slurmhpo(env)


def test_for_paths_uses_the_paths_class(tmp_path: Path) -> None:
    paths = TrialPaths(tmp_path, "study-a", 4)
    context = TrialContext.for_paths(paths, {"x": 1}, start=3, target=9, resource_name="step")
    env = context.to_environ()
    assert env["SLURMHPO_METRIC_FILE"] == str(paths.metric_file)
    assert env["SLURMHPO_CHECKPOINT_DIR"] == str(paths.checkpoint_dir)
    assert env["SLURMHPO_STUDY"] == "study-a"
    assert env["SLURMHPO_TRIAL"] == "4"
    assert env["SLURMHPO_RESOURCE_NAME"] == "step"
    assert not paths.trial_dir.exists()  # no I/O


def test_missing_variables_are_named_with_the_fix(ctx: TrialContext) -> None:
    with pytest.raises(TrialEnvironmentError) as info:
        TrialContext.from_environ({})
    message = str(info.value)
    assert "SLURMHPO_STUDY is not set" in message
    assert all(name in message for name in REQUIRED_ENV)
    assert "for_testing" in message
    assert isinstance(info.value, SlurmhpoError)
    for name in REQUIRED_ENV:
        env = ctx.to_environ()
        del env[name]
        with pytest.raises(TrialEnvironmentError, match=f"{name} is not set"):
            TrialContext.from_environ(env)
        assert not trial.running_under_slurmhpo(env)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("SLURMHPO_TRIAL", "seven", "SLURMHPO_TRIAL='seven' is not an integer"),
        ("SLURMHPO_START_RESOURCE", "1.5", "not an integer"),
        ("SLURMHPO_TARGET_RESOURCE", "0", "target must be an int greater than start"),
        ("SLURMHPO_START_RESOURCE", "-1", "start must be an int >= 0"),
        ("SLURMHPO_RESOURCE_NAME", "time", "resource name 'time' is invalid"),
        ("SLURMHPO_RESOURCE_NAME", "my epoch", "is invalid"),
        ("SLURMHPO_FSYNC", "maybe", "must be 1 or 0"),
    ],
)
def test_malformed_variables_are_refused(
    ctx: TrialContext, name: str, value: str, expected: str
) -> None:
    env = {**ctx.to_environ(), name: value}
    with pytest.raises(TrialEnvironmentError, match=expected):
        TrialContext.from_environ(env)


def test_target_must_exceed_start(ctx: TrialContext) -> None:
    env = {**ctx.to_environ(), "SLURMHPO_START_RESOURCE": "9"}
    with pytest.raises(TrialEnvironmentError, match="greater than start"):
        TrialContext.from_environ(env)


@pytest.mark.parametrize(
    ("content", "expected"),
    [(None, "cannot be read"), ("{not json", "is not JSON"), ("[1, 2]", "JSON object")],
)
def test_bad_config_file_is_refused(ctx: TrialContext, content: str | None, expected: str) -> None:
    if content is None:
        ctx.config_file.unlink()
    else:
        ctx.config_file.write_text(content)
    with pytest.raises(TrialEnvironmentError, match=expected):
        TrialContext.from_environ(ctx.to_environ())


def test_fsync_flag_is_optional(ctx: TrialContext) -> None:
    env = ctx.to_environ()
    del env["SLURMHPO_FSYNC"]
    assert TrialContext.from_environ(env).fsync is True
    assert TrialContext.from_environ({**env, "SLURMHPO_FSYNC": "0"}).fsync is False


def test_module_functions_read_os_environ(
    ctx: TrialContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {**ctx.to_environ(), "SLURMHPO_START_RESOURCE": "2"}.items():
        monkeypatch.setenv(name, value)
    assert trial.get_context().start == 2
    trial.save_checkpoint({"w": 1}, 2)
    assert trial.load_checkpoint() == ({"w": 1}, 2)
    trial.report(epoch=3, loss=1.0)
    assert trial.should_stop(9) and not trial.should_stop(8)
    assert lines(ctx.metric_file)[0]["epoch"] == 3


# --- reports --------------------------------------------------------------------------------


def test_report_appends_one_complete_line_per_call(ctx: TrialContext) -> None:
    first = ctx.report(epoch=1, val_loss=0.5, val_accuracy=0.75)
    ctx.report(resource=2, val_loss=0.25, step=10)
    records = lines(ctx.metric_file)
    assert len(records) == 2
    assert records[0] == first
    assert list(records[0]) == ["epoch", "val_loss", "val_accuracy", "time"]
    assert records[1]["epoch"] == 2 and records[1]["step"] == 10
    assert all(isinstance(r["time"], float) for r in records)
    assert records[0]["time"] <= records[1]["time"]


def test_non_finite_values_round_trip_through_json(ctx: TrialContext) -> None:
    ctx.report(epoch=1, a=math.nan, b=math.inf, c=-math.inf, d=np.float32(0.5), e=np.int64(3))
    text = ctx.metric_file.read_text()
    assert "NaN" in text and "Infinity" in text and "-Infinity" in text
    (record,) = lines(ctx.metric_file)
    assert math.isnan(record["a"])
    assert record["b"] == math.inf and record["c"] == -math.inf
    assert record["d"] == 0.5 and record["e"] == 3


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"val_loss": 0.1}, TypeError, "needs the resource: pass epoch="),
        ({"epoch": 0, "val_loss": 0.1}, ValueError, "epoch must be an int >= 1"),
        ({"epoch": 1.5}, ValueError, "must be an int"),
        ({"epoch": True}, ValueError, "must be an int"),
        ({"epoch": 1, "resource": 2}, ValueError, "resource given twice"),
        ({"epoch": 1, "time": 3.0}, ValueError, "train_time"),
        ({"epoch": 1, "note": "hello"}, TypeError, "metrics must be real numbers"),
        ({"epoch": 1, "flag": True}, TypeError, "metrics must be real numbers"),
        ({"epoch": 1, "missing": None}, TypeError, "metrics must be real numbers"),
        ({"epoch": 1, "loss": [0.1]}, TypeError, "tensor.item"),
    ],
)
def test_bad_reports_are_refused_and_write_nothing(
    ctx: TrialContext, kwargs: dict, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        ctx.report(**kwargs)
    assert not ctx.metric_file.exists()


def test_report_beyond_target_is_allowed(ctx: TrialContext) -> None:
    ctx.report(epoch=ctx.target + 1, loss=0.0)
    assert lines(ctx.metric_file)[0]["epoch"] == 10


def test_append_line_refuses_embedded_newlines(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exactly one newline"):
        trial.append_line(tmp_path / "m.jsonl", b'{"a": 1}\n{"a": 2}\n')
    with pytest.raises(ValueError, match="exactly one newline"):
        trial.append_line(tmp_path / "m.jsonl", b'{"a": 1}')


WRITER = textwrap.dedent(
    """
    import sys
    from slurmhpo import trial
    writer, count = int(sys.argv[1]), int(sys.argv[2])
    padding = {f"metric_{k:02d}": 0.123456789 * k for k in range(60)}
    for i in range(1, count + 1):
        trial.report(epoch=i, writer=writer, **padding)
    """
)


def test_a_line_cut_short_is_ended_before_the_next_report(tmp_path: Path) -> None:
    """A partial last line (a writer killed mid-line) must not swallow the next report."""
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'{"epoch": 1, "loss": 0.5}\n{"epoch": 2, "lo')
    trial.append_line(path, b'{"epoch": 2, "loss": 0.4}\n')
    trial.append_line(path, b'{"epoch": 3, "loss": 0.3}\n')
    assert path.read_bytes().split(b"\n") == [
        b'{"epoch": 1, "loss": 0.5}',
        b'{"epoch": 2, "lo',
        b'{"epoch": 2, "loss": 0.4}',
        b'{"epoch": 3, "loss": 0.3}',
        b"",
    ]


def test_concurrent_appends_from_two_processes_never_interleave(ctx: TrialContext) -> None:
    env = {**os.environ, **ctx.to_environ(), "SLURMHPO_FSYNC": "0"}
    count = 1500
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(w), str(count)], env=env)
        for w in (1, 2)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    text = ctx.metric_file.read_text(encoding="utf-8")
    assert text.endswith("\n")
    # report() ends a last line it sees unfinished; another writer's line still being copied
    # in can look so for an instant, which adds a blank line (readers skip those), never a
    # merge. json.loads fails on any torn or merged line.
    records = [json.loads(line) for line in text.splitlines() if line]
    assert len(records) == 2 * count
    assert len(json.dumps(records[0])) > 1500  # lines long enough that a split write would show
    for writer in (1, 2):
        epochs = [r["epoch"] for r in records if r["writer"] == writer]
        assert epochs == list(range(1, count + 1))


# --- checkpoints ----------------------------------------------------------------------------


def resumed(ctx: TrialContext, start: int) -> TrialContext:
    return TrialContext.from_environ({**ctx.to_environ(), "SLURMHPO_START_RESOURCE": str(start)})


def test_checkpoint_round_trip_dict_and_bytes(ctx: TrialContext) -> None:
    path = ctx.save_checkpoint({"weights": [1.0, 2.0], "epoch": 1}, 1)
    assert path.name == "checkpoint-000000001.pkl"
    assert pickle.loads(path.read_bytes()) == {"weights": [1.0, 2.0], "epoch": 1}
    assert resumed(ctx, 1).load_checkpoint() == ({"weights": [1.0, 2.0], "epoch": 1}, 1)
    ctx.save_checkpoint(b"\x00raw model bytes", 2)
    assert resumed(ctx, 2).load_checkpoint() == (b"\x00raw model bytes", 2)


def test_new_trial_ignores_old_checkpoints(ctx: TrialContext) -> None:
    ctx.save_checkpoint({"a": 1}, 3)
    assert ctx.start == 0 and ctx.load_checkpoint() is None
    assert ctx.load_checkpoint(at_most=5) == ({"a": 1}, 3)


def test_resume_loads_the_newest_checkpoint_not_beyond_start(ctx: TrialContext) -> None:
    for epoch in (1, 2, 3):
        ctx.save_checkpoint({"epoch": epoch}, epoch)
    assert resumed(ctx, 3).load_checkpoint() == ({"epoch": 3}, 3)
    assert resumed(ctx, 2).load_checkpoint() == ({"epoch": 2}, 2)
    assert resumed(ctx, 7).load_checkpoint() == ({"epoch": 3}, 3)


def run_epochs(context: TrialContext, first: int, last: int, *, report_last: bool = True) -> None:
    """Train epochs first..last the contract's way: checkpoint, then report."""
    for epoch in range(first, last + 1):
        context.save_checkpoint({"epoch": epoch}, epoch)
        if epoch < last or report_last:
            context.report(epoch, loss=1.0 / epoch)


def test_a_requeued_rerun_continues_from_its_newest_reported_checkpoint(
    ctx: TrialContext,
) -> None:
    segment = resumed(ctx, 2)  # a segment 2 -> 9
    run_epochs(segment, 3, 5)  # then Slurm requeues the job
    env = {**segment.to_environ(), "SLURM_RESTART_COUNT": "1"}
    rerun = TrialContext.from_environ(env)
    assert rerun.start == 5 and rerun.target == 9
    assert rerun.load_checkpoint() == ({"epoch": 5}, 5)
    assert TrialContext.from_environ(segment.to_environ()).start == 2  # a first run: unchanged
    assert TrialContext.from_environ({**env, "SLURM_RESTART_COUNT": "0"}).start == 2


def test_a_rerun_never_skips_a_report_nor_passes_the_target(ctx: TrialContext) -> None:
    segment = resumed(ctx, 2)
    run_epochs(segment, 3, 6, report_last=False)  # killed between checkpoint 6 and its report
    with segment.metric_file.open("a") as out:
        out.write('{"epoch": 6, "loss": 0.1')  # and mid-write: an incomplete last line
    env = {**segment.to_environ(), "SLURM_RESTART_COUNT": "2"}
    assert TrialContext.from_environ(env).start == 5  # 6 was never reported: redo it
    run_epochs(segment, 6, 9)  # the target reached and reported
    assert TrialContext.from_environ(env).start == 8  # something is always left to run


def test_a_rerun_without_a_usable_checkpoint_keeps_its_start(ctx: TrialContext) -> None:
    segment = resumed(ctx, 2)
    env = {**segment.to_environ(), "SLURM_RESTART_COUNT": "1"}
    assert TrialContext.from_environ(env).start == 2  # no metric file, no checkpoint
    segment.report(3, loss=0.5)  # a report without a checkpoint above start
    assert TrialContext.from_environ(env).start == 2


def test_saving_keeps_latest_and_previous_only(ctx: TrialContext) -> None:
    for epoch in range(1, 6):
        ctx.save_checkpoint({"epoch": epoch}, epoch)
    names = sorted(os.listdir(ctx.checkpoint_dir))
    assert names == [checkpoint_name(4, False), checkpoint_name(5, False)]
    ctx.save_checkpoint(b"bytes", 5)  # same resource, other format: replaces it
    assert sorted(os.listdir(ctx.checkpoint_dir)) == [
        checkpoint_name(4, False),
        checkpoint_name(5, True),
    ]


def test_saving_lower_resource_drops_abandoned_future(ctx: TrialContext) -> None:
    for epoch in (1, 2, 3, 4):
        ctx.save_checkpoint({"epoch": epoch}, epoch)
    ctx.save_checkpoint({"epoch": "restarted"}, 1)  # the trial was restarted from scratch
    assert os.listdir(ctx.checkpoint_dir) == [checkpoint_name(1, False)]
    assert resumed(ctx, 4).load_checkpoint() == ({"epoch": "restarted"}, 1)


def test_leftover_temp_file_is_ignored_then_cleaned(ctx: TrialContext) -> None:
    ctx.save_checkpoint({"epoch": 1}, 1)
    ctx.save_checkpoint({"epoch": 2}, 2)
    temp = ctx.checkpoint_dir / f".{checkpoint_name(3, False)}.tmp-999-dead"
    temp.write_bytes(pickle.dumps({"epoch": 3})[:10])  # a job killed while writing epoch 3
    assert resumed(ctx, 3).load_checkpoint() == ({"epoch": 2}, 2)
    ctx.save_checkpoint({"epoch": 3}, 3)
    assert not temp.exists()
    assert resumed(ctx, 3).load_checkpoint() == ({"epoch": 3}, 3)


def test_unreadable_latest_falls_back_to_previous(ctx: TrialContext) -> None:
    ctx.save_checkpoint({"epoch": 1}, 1)
    latest = ctx.save_checkpoint({"epoch": 2}, 2)
    latest.write_bytes(latest.read_bytes()[:7])  # corrupted behind our back
    with pytest.warns(UserWarning, match="unreadable checkpoint"):
        assert resumed(ctx, 2).load_checkpoint() == ({"epoch": 1}, 1)


def test_resume_without_checkpoint_warns_and_returns_none(ctx: TrialContext) -> None:
    with pytest.warns(RuntimeWarning, match="restarts from scratch"):
        assert resumed(ctx, 3).load_checkpoint() is None


@pytest.mark.parametrize("state", [[1, 2], "text", 3, None])
def test_checkpoint_state_must_be_dict_or_bytes(ctx: TrialContext, state: object) -> None:
    with pytest.raises(TypeError, match="dict"):
        ctx.save_checkpoint(state, 1)  # type: ignore[arg-type]
    assert os.listdir(ctx.checkpoint_dir) == []


def test_should_stop_at_target(ctx: TrialContext) -> None:
    assert [ctx.should_stop(r) for r in (0, 8, 9, 10)] == [False, False, True, True]


def test_direct_construction_validates(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="target"):
        TrialContext.for_testing({}, target=0, tmp_dir=tmp_path)
    with pytest.raises(ValueError, match="config must be a dict"):
        TrialContext(
            study="s",
            trial=1,
            config=[],  # type: ignore[arg-type]
            config_file=tmp_path / "c.json",
            start=0,
            target=1,
            resource_name="epoch",
            checkpoint_dir=tmp_path,
            metric_file=tmp_path / "m.jsonl",
        )


def test_trial_side_imports_nothing_of_the_controller() -> None:
    code = (
        "import json, sys, slurmhpo.trial; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('slurmhpo', 'numpy'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(done.stdout)
    assert loaded == ["slurmhpo", "slurmhpo.errors", "slurmhpo.paths", "slurmhpo.trial"]
