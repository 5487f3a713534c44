"""`slurmhpo check` and `slurmhpo run` on study files: a mistake exits 2 and writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from slurmhpo.cli.main import main
from slurmhpo.store.db import make_engine, read_session
from slurmhpo.store.models import Study

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "digits_mlp.toml"


def test_check_accepts_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(EXAMPLE)]) == 0
    assert "'digits-mlp' is valid" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("mistake", "field"),
    [
        ('scheduler = { type = "asha", variant = "promotion", eta = 1 }', "scheduler.eta"),
        ("budget = { max_trials = -4, max_concurrent = 2 }", "budget.max_trials"),
        ('objective = { metric = "val_loss", mode = "minimum" }', "objective.mode"),
    ],
)
def test_a_mistake_exits_2_names_the_field_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mistake: str, field: str
) -> None:
    key = mistake.split(" = ")[0]
    lines = [
        mistake if line.startswith(f"{key} = ") else line
        for line in EXAMPLE.read_text().splitlines()
    ]
    bad = tmp_path / "bad.toml"
    bad.write_text("\n".join(lines) + "\n")
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert main(["db", "upgrade", "--db", url]) == 0

    assert main(["check", str(bad)]) == 2
    assert main(["run", str(bad), "--db", url]) == 2
    err = capsys.readouterr().err
    assert f"slurmhpo: error: {field}" in err
    engine = make_engine(url, readonly=True)
    with read_session(engine) as session:
        assert session.scalar(select(func.count(Study.id))) == 0


def test_run_with_a_bad_file_creates_no_database(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n')
    db = tmp_path / "never.db"
    assert main(["run", str(bad), "--db", f"sqlite:///{db}"]) == 2
    assert not db.exists()
