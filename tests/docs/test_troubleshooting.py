"""docs/troubleshooting.md quotes what slurmhpo really prints.

Each test makes one of the documented situations happen for real (a bad study file, an old
schema, a second controller, a failing trial, ...) and checks, for a few stable fragments of
the message (no paths, process ids or job ids), both that slurmhpo printed them and that the
page quotes them. A message reworded in the code, or in the page, fails here.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from controller_helpers import study_toml
from docs_helpers import shell, start, stop, user_env, wait_for
from sqlalchemy import MetaData

from slurmhpo import __version__
from slurmhpo.controller.studies import resolve_paths
from slurmhpo.store.db import make_engine
from slurmhpo.store.migrate import head_revision, upgrade
from slurmhpo.study import load_study

if TYPE_CHECKING:
    from tests.conftest import SlurmCluster

PAGE = Path(__file__).resolve().parents[2] / "docs" / "troubleshooting.md"
NAME = "digits-mlp"


def assert_quoted(output: str, *fragments: str) -> None:
    """Each fragment is in slurmhpo's real output and on the page."""
    page = PAGE.read_text()
    for fragment in fragments:
        assert fragment in output, f"slurmhpo no longer prints {fragment!r}:\n{output}"
        assert fragment in page, f"docs/troubleshooting.md does not quote {fragment!r}"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "home").mkdir()
    return user_env(tmp_path / "home", tmp_path / "studies.db")


def test_bad_study_file_fields(tmp_path: Path, env: dict[str, str]) -> None:
    study = study_toml(tmp_path, name=NAME)
    text = study.read_text()
    study.write_text(text.replace('mode = "min"', 'mode = "minimise"'))
    done = shell(f"slurmhpo check {study}", env, tmp_path)
    assert done.returncode == 2
    assert_quoted(
        done.stderr, "slurmhpo: error: objective.mode: must be one of min, max; got 'minimise'"
    )
    study.write_text(text.replace("max_trials", "max_trial"))
    done = shell(f"slurmhpo check {study}", env, tmp_path)
    assert done.returncode == 2
    assert_quoted(
        done.stderr,
        "slurmhpo: error: budget.max_trial: is not a known setting (known settings: "
        "max_concurrent, max_gpu_hours, max_trials, max_wall_hours)",
    )


def test_no_database_yet(tmp_path: Path, env: dict[str, str]) -> None:
    done = shell("slurmhpo studies", env, tmp_path)
    assert done.returncode == 1
    assert_quoted(
        done.stderr, "does not exist; create it with: slurmhpo db upgrade --db sqlite:////"
    )


def test_old_and_new_schema(tmp_path: Path, env: dict[str, str]) -> None:
    db = tmp_path / "studies.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine, "0001")
    engine.dispose()
    done = shell("slurmhpo studies", env, tmp_path)
    assert done.returncode == 3
    assert_quoted(
        done.stderr,
        f"is at schema revision 0001, older than this slurmhpo's {head_revision()}; "
        "run: slurmhpo db upgrade --db sqlite:////",
    )
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0099'")
    done = shell("slurmhpo studies", env, tmp_path)
    assert done.returncode == 3
    assert_quoted(
        done.stderr,
        f"is at schema revision 0099, which this slurmhpo ({__version__}) does not know: a newer "
        "slurmhpo wrote it; upgrade slurmhpo (pip install -U slurmhpo) instead of using this "
        "older version",
    )


def test_study_not_found(tmp_path: Path, env: dict[str, str]) -> None:
    assert shell("slurmhpo db upgrade", env, tmp_path).returncode == 0
    done = shell(f"slurmhpo trials {NAME}", env, tmp_path)
    assert done.returncode == 1
    assert_quoted(done.stderr, f"slurmhpo: error: study '{NAME}' not found (see: slurmhpo studies)")


def test_lease_held_then_ended_study_then_a_changed_file(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """A second controller is refused while the first runs; once the study has finished,
    operator commands are refused; a changed file under the same name is refused."""
    study = study_toml(
        tmp_path, name=NAME, budget={"max_trials": 2, "max_concurrent": 2}, resource_max=3
    )
    log = tmp_path / "first.log"
    first = start(
        f"slurmhpo run {study} --poll-interval 0.2", {**env, "TOY_SLEEP": "3"}, tmp_path, log
    )
    try:
        wait_for("the first controller", lambda: "driving study" in log.read_text())
        done = shell(f"slurmhpo run {NAME} --poll-interval 0.2", env, tmp_path)
    finally:
        stop(first, signal.SIGINT)
    assert done.returncode == 1
    assert_quoted(
        done.stderr,
        f"slurmhpo: error: study '{NAME}' is driven by ",
        "; wait until it stops or its lease expires (60 s after its last heartbeat)",
    )
    assert shell(f"slurmhpo run {NAME} --poll-interval 0.2", env, tmp_path).returncode == 0
    done = shell(f"slurmhpo pause {NAME}", env, tmp_path)
    assert done.returncode == 1
    assert_quoted(
        done.stderr,
        f"slurmhpo: error: study '{NAME}' is already finished: nothing to pause "
        "(see: slurmhpo studies)",
    )
    study.write_text(study.read_text().replace("seed = 3", "seed = 4"))
    done = shell(f"slurmhpo run {study}", env, tmp_path)
    assert done.returncode == 2
    assert_quoted(
        done.stderr,
        f"slurmhpo: error: name: a different study named '{NAME}' is already in the database, "
        f"and jobs of it have started (rename this study, or continue the stored one with: "
        f"slurmhpo run {NAME})",
    )


def test_metric_lines_skipped(tmp_path: Path, env: dict[str, str]) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        "import os\n"
        "from slurmhpo import trial\n"
        "ctx = trial.get_context()\n"
        "with open(os.environ['SLURMHPO_METRIC_FILE'], 'a') as f:\n"
        "    f.write('loss is 0.5\\n')\n"
        '    f.write(\'{"epoch": 1, "loss": "0.5"}\\n\')\n'
        "    f.write('{\"loss\": 0.5}\\n')\n"
        "for epoch in range(ctx.start + 1, ctx.target + 1):\n"
        "    trial.report(epoch, loss=1.0 / epoch)\n"
    )
    study = study_toml(tmp_path, name=NAME, budget={"max_trials": 1}, resource_max=2)
    toy = str(Path(__file__).resolve().parents[1] / "controller" / "toy_trial.py")
    study.write_text(study.read_text().replace(toy, str(script)))
    done = shell(f"slurmhpo run {study} --poll-interval 0.2", env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert_quoted(
        done.stderr,
        "skipped metric data at byte 0 of ",
        "(not_json: Expecting value: line 1 column 1 (char 0))",
        "(bad_metric: not a number, dropped: 'loss'='0.5')",
        "(no_resource: no 'epoch' key)",
    )


def test_a_trial_that_keeps_failing(tmp_path: Path, env: dict[str, str]) -> None:
    study = study_toml(
        tmp_path,
        name=NAME,
        budget={"max_trials": 1},
        extra_space={"fail_always": {"type": "categorical", "choices": [True]}},
        max_retries=1,
    )
    done = shell(f"slurmhpo run {study} --poll-interval 0.2", env, tmp_path)
    assert done.returncode == 1, done.stderr
    assert_quoted(
        done.stderr,
        "WARNING trial 0: job local-",
        "failed (exit code 3); retrying from its last checkpoint",
        "WARNING trial 0 ended: job local-",
        f"slurmhpo: error: study '{NAME}' failed: every trial failed "
        f"(see: slurmhpo trials {NAME} --state failed)",
    )
    shown = shell(f"slurmhpo trial {NAME} 0", env, tmp_path)
    assert shown.returncode == 0
    assert_quoted(
        shown.stdout,
        f"trial 0 of '{NAME}': failed",
        "failure: job local-",
        "JOB  BACKEND  EXTERNAL_ID                         STATE   RESOURCES  ATTEMPT  EXIT_REASON",
    )
    status = shell(f"slurmhpo status {NAME}", env, tmp_path)
    (files,) = [line for line in status.stdout.splitlines() if line.startswith("files: ")]
    run_dir = Path(files.removeprefix("files: "))
    assert run_dir.parent == tmp_path / "runs" and run_dir.name.startswith(f"{NAME}-")
    segments = run_dir / "trials" / "trial-000000" / "segments"
    for number in ("000", "001"):
        for log in ("stdout.log", "stderr.log"):
            assert (segments / f"segment-{number}" / log).exists()
    page = PAGE.read_text()
    assert "STUDY-XXXXXXXXXXXX/trials/trial-000000/segments/segment-000/stderr.log" in page
    assert "`slurmhpo status STUDY` prints it as `files:`" in page


def test_every_trial_fails_at_once(tmp_path: Path, env: dict[str, str]) -> None:
    study = study_toml(
        tmp_path,
        name=NAME,
        scheduler={"type": "fifo"},
        budget={"max_trials": 40, "max_concurrent": 2},
        script=tmp_path / "digits_mlp.py",  # not there
    )
    done = shell(f"slurmhpo run {study} --poll-interval 0.2", env, tmp_path)
    assert done.returncode == 1, done.stderr
    assert_quoted(
        done.stderr,
        f"slurmhpo: error: study '{NAME}' failed: the first ",
        "before reporting anything, so the study ended instead of retrying every trial; fix "
        "the trial's command or environment (slurmhpo check STUDY_FILE shows the command), "
        "then register the study again under a new name",
        "/stderr.log:",
        "can't open file '",
        "digits_mlp.py': [Errno 2] No such file or directory",
    )


def test_backend_slurm_without_slurm(tmp_path: Path, env: dict[str, str]) -> None:
    """Only python and slurmhpo on PATH: no sbatch, squeue or srun."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("python", "slurmhpo"):
        (bin_dir / tool).symlink_to(Path(sys.executable).parent / tool)
    bare = {**env, "PATH": str(bin_dir)}
    study = study_toml(tmp_path, name=NAME, backend="slurm", budget={"max_trials": 1})
    done = shell(f"{bin_dir}/slurmhpo run {study} --poll-interval 0.2", bare, tmp_path)
    assert done.returncode == 2
    assert_quoted(
        done.stderr,
        'slurmhpo: error: backend: "slurm" was asked for, but sbatch is not on PATH',
    )
    assert "registered study" not in done.stderr  # refused before anything was written
    done = shell(f"{bin_dir}/slurmhpo submit-controller {study}", bare, tmp_path)
    assert done.returncode == 1
    assert_quoted(
        done.stderr, "slurmhpo: error: squeue failed, so a running chain cannot be ruled out; retry"
    )


def test_plot_without_matplotlib(tmp_path: Path, env: dict[str, str]) -> None:
    """A matplotlib that fails to import stands in for one that is not installed."""
    fake = tmp_path / "fake" / "matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('no matplotlib in this test')\n")
    study = study_toml(tmp_path, name=NAME, budget={"max_trials": 1}, resource_max=1)
    assert shell(f"slurmhpo run {study} --poll-interval 0.2", env, tmp_path).returncode == 0
    hidden = {
        **env,
        "PYTHONPATH": os.pathsep.join([str(tmp_path / "fake"), env.get("PYTHONPATH", "")]),
    }
    done = shell(f"slurmhpo plot {NAME} -o x.png", hidden, tmp_path)
    assert done.returncode == 1
    assert_quoted(
        done.stderr, 'slurmhpo: error: plots need matplotlib: pip install "slurmhpo[plot]"'
    )


@pytest.mark.slurm
def _legacy_study(db: Path, study: Path, cwd: Path) -> None:
    """The study registered by a slurmhpo of schema 0002 (no identity, no marker), then the
    database upgraded, as a user upgrading slurmhpo would."""
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine, "0002")
    spec = resolve_paths(load_study(study), cwd).to_dict()
    now = datetime.now(UTC)
    tables = MetaData()
    with engine.begin() as conn:
        tables.reflect(conn)
        conn.execute(
            tables.tables["studies"].insert(),
            [
                {
                    "name": NAME, "spec": spec, "metric": "loss", "mode": "min",
                    "state": "registered", "last_decision_seq": 0, "created_at": now,
                    "updated_at": now, "finished_at": None,
                }
            ],
        )  # fmt: skip
    upgrade(engine)
    engine.dispose()


def test_a_study_from_before_schema_0003_is_registered_again_from_its_file(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """Its folder keeps its old name (its files are there); a controller refuses it until the
    user registers it from its file; a second old study of that name, in another database
    with the same runs_dir, finds the folder taken."""
    study = study_toml(tmp_path, name=NAME, budget={"max_trials": 2}, resource_max=2)
    _legacy_study(tmp_path / "studies.db", study, tmp_path)
    done = shell(f"slurmhpo run {NAME} --poll-interval 0.2", env, tmp_path)
    assert done.returncode == 2
    assert_quoted(
        done.stderr,
        "has no slurmhpo-study.json: study 'digits-mlp' was not registered here by this user "
        "(or by a slurmhpo older than its database schema 0003) (register it from its study "
        "file: slurmhpo run STUDY.toml (the file named 'digits-mlp'; it must equal the stored "
        "study))",
    )
    done = shell(f"slurmhpo run {study} --poll-interval 0.2", env, tmp_path)
    assert done.returncode == 0 and "finished; best trial" in done.stdout, done.stderr
    assert (tmp_path / "runs" / NAME / "trials" / "trial-000001").is_dir()

    other_db = tmp_path / "other.db"
    _legacy_study(other_db, study, tmp_path)
    done = shell(f"slurmhpo run {study}", {**env, "SLURMHPO_DB": f"sqlite:///{other_db}"}, tmp_path)
    assert done.returncode == 2
    assert_quoted(
        done.stderr,
        f"/runs/{NAME} holds the files of another study ('{NAME}', uid ",
        "give this study another runs_dir, or delete ",
    )


def test_sbatch_refuses_a_bad_partition(
    slurm_cluster: SlurmCluster, tmp_path: Path, env: dict[str, str]
) -> None:
    study = study_toml(
        tmp_path,
        name=NAME,
        backend="slurm",
        budget={"max_trials": 1},
        slurm={"partition": "nosuchpart"},
    )
    done = shell(f"slurmhpo run {study} --poll-interval 0.2", env, tmp_path)
    assert done.returncode == 1
    assert_quoted(
        done.stderr,
        "WARNING submission failed (sbatch failed for shpo-digits-mlp-",
        "sbatch: error: invalid partition specified: nosuchpart",
        "sbatch: error: Batch job submission failed: Invalid partition name specified (check "
        "`sinfo` and the partition, account and qos of the study; the controller retries next "
        "cycle)); retrying next cycle",
        "slurmhpo: error: could not submit jobs 3 times in a row: "
        "sbatch failed for shpo-digits-mlp-",
    )
    # fixed, the file replaces the stored study: none of its jobs started
    study.write_text(study.read_text().replace('"nosuchpart"', f'"{slurm_cluster.partition}"'))
    done = shell(f"slurmhpo run {study} --poll-interval 0.2", env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert_quoted(
        done.stderr,
        "WARNING replaced study digits-mlp by the new file: none of its jobs had started",
    )
    assert "finished; best trial 0" in done.stdout
