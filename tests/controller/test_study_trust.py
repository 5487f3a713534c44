"""What a stored study may run is what its file said when it was registered.

The database holds the study's command, environment, ``[slurm].setup`` and extra sbatch
options, and every job runs them; someone who can write the database but not the user's
files must not be able to change them. And a study none of whose jobs ever started may be
registered again from a changed file (e.g. after sbatch refused it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from controller_helpers import engine_for, load_rows, study_toml, tamper_spec

from slurmhpo.cli.main import main
from slurmhpo.store import leases
from slurmhpo.store.db import write_session
from slurmhpo.store.queries import get_study

BUDGET = {"max_trials": 3, "max_concurrent": 3}


def cli(*args: str, db: Path) -> int:
    return main([*args, "--db", f"sqlite:///{db}"])


def run(target: str | Path, db: Path) -> int:
    return cli("run", str(target), "--poll-interval", "0.1", "-q", db=db)


def tamper(db: Path, change: dict[str, Any]) -> None:
    tamper_spec(f"sqlite:///{db}", "toy", change)


@pytest.fixture
def registered(tmp_path: Path) -> tuple[Path, Path]:
    """A study registered from its file (``slurmhpo submit``): no job yet."""
    study = study_toml(tmp_path, scheduler={"type": "fifo"}, budget=BUDGET, resource_max=2)
    db = tmp_path / "hpo.db"
    assert cli("submit", str(study), db=db) == 0
    return study, db


def test_a_stored_study_runs_by_name_as_registered(registered: tuple[Path, Path]) -> None:
    _, db = registered
    assert run("toy", db) == 0
    rows = load_rows(engine_for(f"sqlite:///{db}"), "toy")
    assert rows["study"].state == "finished" and len(rows["observations"]) == 3 * 2


@pytest.mark.parametrize(
    "change",
    [
        {"slurm": {"setup": ["touch {pwned}"]}},
        {"trial": {"command": ["touch", "{pwned}"]}},
        {"trial": {"env": {"LD_PRELOAD": "{pwned}"}}},
    ],
)
def test_a_study_changed_in_the_database_is_refused_before_any_job(
    registered: tuple[Path, Path],
    tmp_path: Path,
    change: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    study, db = registered
    pwned = tmp_path / "pwned"
    filled = {
        table: {
            key: (
                [item.format(pwned=pwned) for item in value]
                if isinstance(value, list)
                else {k: v.format(pwned=pwned) for k, v in value.items()}
            )
            for key, value in values.items()
        }
        for table, values in change.items()
    }
    tamper(db, filled)
    assert run("toy", db) == 2
    err = capsys.readouterr().err
    assert "would run other commands than the study file it was registered with" in err
    rows = load_rows(engine_for(f"sqlite:///{db}"), "toy")
    assert all(job.external_id is None for job in rows["jobs"]) and not pwned.exists()

    # the user's file is the way back: no job of the changed study ever started
    assert run(study, db) == 0
    rows = load_rows(engine_for(f"sqlite:///{db}"), "toy")
    assert rows["study"].state == "finished" and len(rows["observations"]) == 3 * 2
    assert not pwned.exists()


def test_a_changed_file_replaces_a_study_whose_jobs_never_started(
    registered: tuple[Path, Path], tmp_path: Path
) -> None:
    _, db = registered
    old_uid = load_rows(engine_for(f"sqlite:///{db}"), "toy")["study"].uid
    changed = study_toml(tmp_path, scheduler={"type": "fifo"}, budget=BUDGET, resource_max=3)
    assert run(changed, db) == 0
    rows = load_rows(engine_for(f"sqlite:///{db}"), "toy")
    assert rows["study"].uid != old_uid and rows["study"].spec["resource"]["max"] == 3
    assert rows["study"].state == "finished" and len(rows["observations"]) == 3 * 3


def test_a_changed_file_is_refused_once_jobs_have_started(
    registered: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study, db = registered
    assert run(study, db) == 0
    changed = study_toml(tmp_path, scheduler={"type": "fifo"}, budget=BUDGET, resource_max=3)
    assert run(changed, db) == 2
    assert "jobs of it have started" in capsys.readouterr().err


def test_a_driven_study_is_not_replaced(
    registered: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, db = registered
    with write_session(engine_for(f"sqlite:///{db}")) as session:
        assert leases.acquire_lease(session, get_study(session, "toy").id, "h:1:other", 600)
    changed = study_toml(tmp_path, scheduler={"type": "fifo"}, budget=BUDGET, resource_max=3)
    assert cli("submit", str(changed), db=db) == 2
    assert "is driven by h:1:other" in capsys.readouterr().err
