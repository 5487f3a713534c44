"""The inspection CLI driven in-process through main(), on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from slurmhpo.cli.main import main
from slurmhpo.cli.table import format_table
from slurmhpo.store.migrate import head_revision


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_upgrade_then_studies_json_is_an_empty_list(
    capsys: pytest.CaptureFixture[str], db_url: str
) -> None:
    code, out, _ = run(capsys, "db", "upgrade", "--db", db_url)
    assert code == 0 and f"is at revision {head_revision()} (head)" in out
    assert run(capsys, "studies", "--json", "--db", db_url) == (0, "[]\n", "")
    assert run(capsys, "--db", db_url, "studies", "--json") == (0, "[]\n", "")
    assert run(capsys, "db", "current", "--db", db_url) == (0, f"{head_revision()} (head)\n", "")


def test_db_from_environment(
    capsys: pytest.CaptureFixture[str], sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLURMHPO_DB", sqlite_url)
    assert run(capsys, "db", "upgrade")[0] == 0
    assert run(capsys, "studies", "--json") == (0, "[]\n", "")


def test_missing_schema_exits_3_naming_the_fix(
    capsys: pytest.CaptureFixture[str], db_url: str
) -> None:
    if db_url.startswith("sqlite"):
        Path(db_url.removeprefix("sqlite:///")).touch()
    code, out, err = run(capsys, "studies", "--db", db_url)
    assert code == 3 and out == ""
    assert err.startswith("slurmhpo: error: database at ")
    assert "has no slurmhpo schema; run: slurmhpo db upgrade --db " in err
    assert run(capsys, "db", "current", "--db", db_url)[1].startswith("none (no slurmhpo schema")


def test_read_only_command_on_a_missing_file_creates_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "sub" / "none.db"
    for argv in (["studies"], ["db", "current"], ["trials", "x"], ["export", "x", "--format=csv"]):
        code, out, err = run(capsys, *argv, "--db", f"sqlite:///{path}")
        assert code == 1 and out == ""
        assert f"database {path} does not exist; create it with: slurmhpo db upgrade" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "--db: cannot parse 'not a url' as a database URL"),
        ("nosuchdb://h/d", "--db: cannot use database URL nosuchdb://h/d"),
        ("postgresql+psycopg://postgres@127.0.0.1:1/x", "127.0.0.1:1/x is unavailable"),
    ],
)
def test_bad_db_url_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], url: str, expected: str
) -> None:
    code, out, err = run(capsys, "studies", "--db", url)
    assert code != 0 and out == ""
    assert err.startswith("slurmhpo: error: ") and expected in err
    assert "Traceback" not in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "trials")[0] == 2
    assert run(capsys, "trials", "s", "--sort", "colour")[0] == 2
    assert run(capsys)[0] == 2


def test_unknown_study_and_trial(capsys: pytest.CaptureFixture[str], study_url: str) -> None:
    assert run(capsys, "best", "nope", "--db", study_url) == (
        1,
        "",
        "slurmhpo: error: study 'nope' not found (see: slurmhpo studies)\n",
    )
    code, _, err = run(capsys, "trial", "mlp", "9", "--db", study_url)
    assert code == 1 and "trial 9 of study 'mlp' not found (see: slurmhpo trials mlp)" in err


def test_studies_json_and_table(capsys: pytest.CaptureFixture[str], study_url: str) -> None:
    code, out, _ = run(capsys, "studies", "--json", "--db", study_url)
    studies = json.loads(out)
    assert code == 0 and [(s["name"], s["n_trials"], s["mode"]) for s in studies] == [
        ("mlp", 4, "min"),
        ("other", 0, "max"),
    ]
    assert set(studies[0]) == {
        "name", "state", "metric", "mode", "n_trials", "created_at", "updated_at", "finished_at"
    }  # fmt: skip
    code, out, _ = run(capsys, "studies", "--db", study_url)
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["NAME", "STATE", "METRIC", "MODE", "TRIALS"]
    column = lines[0].index("METRIC")
    assert [line[column:].split()[0] for line in lines[1:]] == ["val_loss", "accuracy"]


def test_trials_listing(capsys: pytest.CaptureFixture[str], study_url: str) -> None:
    code, out, _ = run(capsys, "trials", "mlp", "--json", "--db", study_url)
    trials = json.loads(out)
    assert code == 0 and [t["number"] for t in trials] == [0, 1, 2, 3]
    assert [t["value"] for t in trials] == [0.3, 0.9, "nan", None]
    assert trials[0]["config"] == {"lr": 0.01, "act": "relu"} and trials[0]["resource"] == 3
    out = run(
        capsys, "trials", "mlp", "--sort", "metric", "--top", "2", "--json", "--db", study_url
    )[1]
    assert [t["number"] for t in json.loads(out)] == [0, 1]
    out = run(capsys, "trials", "mlp", "--state", "failed", "--json", "--db", study_url)[1]
    assert [t["number"] for t in json.loads(out)] == [2]
    out = run(capsys, "trials", "mlp", "--db", study_url)[1]
    header, *rows = out.splitlines()
    value_col = header.index("VALUE")
    assert [row[value_col:].split()[0] for row in rows[:3]] == ["0.3", "0.9", "nan"]


def test_trial_detail(capsys: pytest.CaptureFixture[str], study_url: str) -> None:
    code, out, _ = run(capsys, "trial", "mlp", "0", "--json", "--db", study_url)
    detail = json.loads(out)
    assert code == 0 and detail["study"] == "mlp" and detail["state"] == "completed"
    assert [(j["external_id"], j["state"], j["exit_reason"]) for j in detail["jobs"]] == [
        ("1000", "completed", None),
        ("1001", "failed", "OOM"),
    ]
    assert [(o["resource"], o["value"]) for o in detail["observations"]] == [(1, 0.5), (3, 0.3)]
    assert detail["observations"][0]["reported_at"] == "2026-03-04T05:06:07+00:00"
    failed = json.loads(run(capsys, "trial", "mlp", "2", "--json", "--db", study_url)[1])
    assert failed["failure_reason"] == "diverged" and failed["value"] == "nan"
    out = run(capsys, "trial", "mlp", "0", "--db", study_url)[1]
    assert "OOM" in out and "lr=0.01 act=relu" in out


def test_best(capsys: pytest.CaptureFixture[str], study_url: str) -> None:
    best = json.loads(run(capsys, "best", "mlp", "--json", "--db", study_url)[1])
    assert (best["study"], best["number"], best["value"], best["resource"]) == ("mlp", 0, 0.3, 3)
    assert run(capsys, "best", "other", "--json", "--db", study_url) == (0, "null\n", "")
    out = run(capsys, "best", "mlp", "--db", study_url)[1]
    assert "trial 0, val_loss=0.3 at resource 3" in out


def test_export_csv(capsys: pytest.CaptureFixture[str], study_url: str) -> None:
    code, out, _ = run(capsys, "export", "mlp", "--format", "csv", "--db", study_url)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 4
    assert list(rows[0]) == [
        "trial", "state", "bracket", "resource", "value", "reported_at",
        "config.act", "config.lr", "metrics.epoch", "metrics.val_loss",
    ]  # fmt: skip
    assert [(r["trial"], r["resource"], r["value"]) for r in rows] == [
        ("0", "1", "0.5"),
        ("0", "3", "0.3"),
        ("1", "1", "0.9"),
        ("2", "1", "nan"),
    ]
    assert (rows[3]["config.act"], rows[3]["config.lr"]) == ("", "1.0")


def test_export_json_to_file(
    capsys: pytest.CaptureFixture[str], study_url: str, tmp_path: Path
) -> None:
    target = tmp_path / "out.json"
    assert run(
        capsys, "export", "mlp", "--format", "json", "-o", str(target), "--db", study_url
    ) == (
        0,
        "",
        "",
    )
    rows = json.loads(target.read_text())
    assert [(r["trial"], r["resource"]) for r in rows] == [(0, 1), (0, 3), (1, 1), (2, 1)]
    assert rows[1]["config"] == {"lr": 0.01, "act": "relu"}
    assert rows[1]["metrics"] == {"val_loss": 0.3, "epoch": 3}
    assert rows[3]["value"] == "nan" and rows[3]["metrics"]["val_loss"] == "NaN"


def test_format_table_aligns_columns() -> None:
    text = format_table(["A", "LONG HEADER", "C"], [["xxxx", 1, None], ["y", 22222222222222, "z"]])
    assert text == ("A     LONG HEADER     C\nxxxx  1               -\ny     22222222222222  z")
    with pytest.raises(ValueError, match="expected 3"):
        format_table(["A", "B", "C"], [["only one"]])
