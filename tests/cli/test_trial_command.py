"""The newcomer's first failure: a bare `python` in [trial].command, and a wrong script path.

A bare ``python`` is found through the JOB's PATH, which may hold another Python without the
user's packages: every trial then failed. It is now the controller's interpreter, stored with
the study and shown by ``slurmhpo check``, which also warns when the script is not where the
jobs start.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from slurmhpo.cli.main import main
from slurmhpo.controller.studies import (
    register_study,
    resolve_interpreter,
    resolve_paths,
    script_of,
)
from slurmhpo.store.db import make_engine, read_session
from slurmhpo.store.migrate import upgrade
from slurmhpo.store.models import Observation, Study, Trial
from slurmhpo.study import load_study

TOY = Path(__file__).resolve().parents[1] / "controller" / "toy_trial.py"


def study_file(tmp_path: Path, command: list[str], workdir: Path | None = None) -> Path:
    """Two FIFO trials of the toy trial on the local backend, never retried."""
    workdir_line = f'workdir = "{workdir}"\n' if workdir is not None else ""
    quoted = ", ".join(f'"{part}"' for part in command)
    path = tmp_path / "bare.toml"
    path.write_text(
        'name = "bare"\nbackend = "local"\n'
        f'runs_dir = "{tmp_path / "runs"}"\n'
        'objective = { metric = "loss", mode = "min" }\n'
        'resource = { name = "epoch", min = 1, max = 2 }\n'
        'scheduler = { type = "fifo" }\nsearcher = { type = "random" }\n'
        "budget = { max_trials = 2, max_concurrent = 2 }\n"
        f"[trial]\ncommand = [{quoted}]\n{workdir_line}max_retries = 0\n"
        '[space]\nx = { type = "float", low = 0.0, high = 1.0 }\n'
    )
    return path


@pytest.fixture
def wrong_python_first_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `python` and `python3` first on PATH that fail like a Python without the packages."""
    fake = tmp_path / "fake-bin"
    fake.mkdir()
    for name in ("python", "python3"):
        script = fake / name
        script.write_text(
            "#!/bin/sh\necho \"ModuleNotFoundError: No module named 'x'\" >&2\nexit 1\n"
        )
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{Path(sys.executable).parent}:/usr/bin:/bin")


@pytest.mark.usefixtures("wrong_python_first_on_path")
def test_bare_python_runs_the_controllers_interpreter_not_the_one_on_path(
    tmp_path: Path,
) -> None:
    path = study_file(tmp_path, ["python", str(TOY)])
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    assert main(["run", str(path), "--db", url, "--poll-interval", "0.1", "-q"]) == 0

    engine = make_engine(url, readonly=True)
    with read_session(engine) as session:
        study = session.scalars(select(Study)).one()
        states = sorted(session.scalars(select(Trial.state)))
        observed = len(session.scalars(select(Observation.id)).all())
    assert study.spec["trial"]["command"] == [sys.executable, str(TOY)]
    assert states == ["completed", "completed"]
    assert observed == 4  # two trials x epochs 1 and 2


def test_check_shows_the_resolved_interpreter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = study_file(tmp_path, ["python3", str(TOY), "--flag"])
    assert main(["check", str(path)]) == 0
    captured = capsys.readouterr()
    assert f"jobs run: {sys.executable} {TOY} --flag" in captured.out
    assert "warning" not in captured.err


def test_check_warns_when_the_relative_script_is_not_where_jobs_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "train.py").write_text("")
    path = study_file(tmp_path, ["python", "code/train.py"])
    monkeypatch.chdir(tmp_path / "code")  # jobs would start here, where code/train.py is not
    assert main(["check", str(path)]) == 0
    err = capsys.readouterr().err
    assert "trial.command: code/train.py does not exist in" in err
    assert str(tmp_path / "code") in err

    monkeypatch.chdir(tmp_path)  # from here the path is right
    assert main(["check", str(path)]) == 0
    assert "warning" not in capsys.readouterr().err


def test_check_resolves_the_script_against_trial_workdir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "train.py").write_text("")
    monkeypatch.chdir(tmp_path)
    path = study_file(tmp_path, ["python", "train.py"], workdir=tmp_path / "code")
    assert main(["check", str(path)]) == 0
    assert "warning" not in capsys.readouterr().err
    wrong = study_file(tmp_path, ["python", "train.py"], workdir=tmp_path)
    assert main(["check", str(wrong)]) == 0
    assert "train.py does not exist in" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("command", "resolved"),
    [
        (("python", "a.py"), (sys.executable, "a.py")),
        (("python3", "-u", "a.py"), (sys.executable, "-u", "a.py")),
        (("python3.9", "a.py"), ("python3.9", "a.py")),  # a version asked for: kept
        (("/opt/py/bin/python", "a.py"), ("/opt/py/bin/python", "a.py")),
        (("bash", "python"), ("bash", "python")),
        (None, None),
    ],
)
def test_only_a_bare_python_head_is_replaced(
    command: tuple[str, ...] | None, resolved: tuple[str, ...] | None
) -> None:
    assert resolve_interpreter(command) == resolved


@pytest.mark.parametrize(
    ("command", "script"),
    [
        (("python", "train.py", "--lr", "0.1"), "train.py"),
        (("python", "-u", "src/train.py"), "src/train.py"),
        (("python", "-m", "pkg.train"), None),
        (("bash", "-c", "echo hi.txt"), None),
        (("./run.sh", "x.cfg"), "./run.sh"),
        (("srun", "--ntasks", "1", "train"), None),  # nothing looks like a file
        (("Rscript", "fit.R"), "fit.R"),
    ],
)
def test_the_script_of_a_command(command: tuple[str, ...], script: str | None) -> None:
    assert script_of(command) == script


def test_the_same_file_from_another_spelling_of_the_interpreter_is_the_same_study(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`slurmhpo run` (.venv/bin/python3) and `python -m slurmhpo.cli.main run`
    (.venv/bin/python) resolve `python` differently: still the stored study, which runs with
    the interpreter it was registered with. A study stored with a bare `python` (before
    resolution) is accepted too; another interpreter is another study."""
    real = tmp_path / "python3.11"
    real.write_text("")
    for alias in ("python", "python3"):
        (tmp_path / alias).symlink_to(real)
    (tmp_path / "other-python").write_text("")
    engine = make_engine(f"sqlite:///{tmp_path / 'studies.db'}")
    upgrade(engine)
    spec = load_study(study_file(tmp_path, ["python", str(TOY)]))

    monkeypatch.setattr(sys, "executable", str(tmp_path / "python3"))
    first = register_study(engine, resolve_paths(spec))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    assert register_study(engine, resolve_paths(spec)) == first
    monkeypatch.setattr(sys, "executable", str(tmp_path / "other-python"))
    # another interpreter is another study: none of its jobs started, so it replaces it
    replaced = register_study(engine, resolve_paths(spec))
    assert replaced != first and replaced.trial.command[0] == str(tmp_path / "other-python")

    older = make_engine(f"sqlite:///{tmp_path / 'older.db'}")
    upgrade(older)
    resolved = resolve_paths(spec)
    bare = dataclasses.replace(resolved.trial, command=spec.trial.command)
    stored = register_study(older, dataclasses.replace(resolved, trial=bare))  # as before
    assert stored.trial.command == ("python", str(TOY))
    assert register_study(older, resolve_paths(spec)) == stored
