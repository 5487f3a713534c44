"""The dashboard's JSON endpoints on SQLite and PostgreSQL: they mirror ``status --json``,
and the study board, rung view and trial details match what the database holds."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from controller_helpers import load_rows
from dashboard_helpers import STUDY, run_study
from sqlalchemy.engine import make_url

from slurmhpo.store.db import make_engine, read_session
from slurmhpo.store.queries import get_study, rung

PASSWORD = "pw-never-shown-7431"  # PostgreSQL here trusts local connections: it is ignored


def status_json(db_url: str, *name: str) -> dict:
    argv = [sys.executable, "-m", "slurmhpo.cli.main", "status", *name, "--json", "--db", db_url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def study_db(request: pytest.FixtureRequest, tmp_path_factory) -> str:
    """URL of a database with the finished study STUDY (on PostgreSQL: with a password)."""
    if request.param == "sqlite":
        return request.getfixturevalue("finished_sqlite")
    url = make_url(request.getfixturevalue("pg_url")).set(password=PASSWORD)
    shown = url.render_as_string(hide_password=False)
    run_study(tmp_path_factory.mktemp("pg-study"), shown)
    return shown


def test_endpoints_describe_the_finished_study(study_db: str, app_client) -> None:
    client = app_client(study_db)
    bodies = []

    def get(path: str) -> dict:
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.text)
        bodies.append(answer.text)
        return answer.json()

    # /api/status is `slurmhpo status --json`; per study, the same but for its "now"
    assert get("/api/status") == status_json(study_db)
    detail = get(f"/api/status/{STUDY}")
    expected = status_json(study_db, STUDY)
    assert detail["study"].pop("now") and expected["study"].pop("now")
    assert detail == expected

    engine = make_engine(study_db, readonly=True)
    try:
        rows = load_rows(engine, STUDY)
        with read_session(engine) as session:
            study = get_study(session, STUDY)
            rungs_in_db = {r: rung(session, study, r) for r in (1, 3, 9)}
    finally:
        engine.dispose()
    number = {t.id: t.number for t in rows["trials"]}
    observed: dict[int, dict[int, float]] = {}
    for o in rows["observations"]:
        observed.setdefault(number[o.trial_id], {})[o.resource] = o.value
    jobs_of: dict[int, list] = {}
    for job in rows["jobs"]:
        jobs_of.setdefault(number[job.trial_id], []).append(job)

    board = get(f"/api/studies/{STUDY}/board")
    assert board["name"] == STUDY and board["params"] == ["x"]
    assert [t["number"] for t in board["trials"]] == sorted(number.values())
    for row in board["trials"]:
        trial = next(t for t in rows["trials"] if t.number == row["number"])
        assert (row["state"], row["reached"], row["config"]) == (
            trial.state,
            trial.reached_resource,
            trial.config,
        )
        assert row["value"] == observed[row["number"]][trial.reached_resource]
        assert row["best"] == min(observed[row["number"]].values())
        assert row["jobs"] == len(jobs_of[row["number"]])
    fates = {row["fate"] for row in board["trials"]}
    assert "completed" in fates and "paused" in fates  # ASHA promotion with 12 trials, eta 3
    curves = get(f"/api/studies/{STUDY}/curves")
    drawn = [
        point for c in curves["curves"] for point in zip(c["trial"], c["x"], c["y"], strict=True)
    ]
    assert sorted((t, x, y) for t, x, y in drawn if t is not None) == sorted(
        (n, r, v) for n, by_resource in observed.items() for r, v in by_resource.items()
    )
    fate_of = {row["number"]: row["fate"] for row in board["trials"]}
    for c in curves["curves"]:
        assert {fate_of[t] for t in c["trial"] if t is not None} == {c["category"]}
    best_so_far = curves["anytime"]["values"]
    assert best_so_far == sorted(best_so_far, reverse=True)  # mode min: it only improves
    assert best_so_far[-1] == min(min(v.values()) for v in observed.values())

    # the rung view ranks as the store's rung query does; went_on = observed past that level
    assert board["rungs"]["kind"] == "rungs" and board["rungs"]["levels"] == [1, 3, 9]
    (bracket,) = board["rungs"]["brackets"]
    for level in bracket["levels"]:
        r = level["resource"]
        assert [(n, v) for n, v, _ in level["entries"]] == rungs_in_db[r]
        assert [w for _, _, w in level["entries"]] == [
            max(observed[n]) > r for n, _ in rungs_in_db[r]
        ]
    assert any(w for _, _, w in bracket["levels"][0]["entries"])  # someone was promoted

    # a trial's jobs with their outcomes
    resumed = max(jobs_of, key=lambda n: len(jobs_of[n]))
    trial = get(f"/api/studies/{STUDY}/trials/{resumed}")
    assert [
        (j["id"], j["state"], j["start_resource"], j["target_resource"]) for j in trial["jobs"]
    ] == [(j.id, j.state, j.start_resource, j.target_resource) for j in jobs_of[resumed]]
    assert len(trial["jobs"]) > 1
    assert [o["resource"] for o in trial["observations"]] == sorted(observed[resumed])

    first = get(f"/api/studies/{STUDY}/version")
    assert get(f"/api/studies/{STUDY}/version") == first  # a finished study does not move

    assert client.get("/api/status/no-such-study").status_code == 404
    missing = client.get(f"/api/studies/{STUDY}/trials/999")
    assert missing.status_code == 404 and "999" in missing.json()["error"]

    info = get("/api/info")
    assert info["read_only"] is True
    for page in ("/", f"/studies/{STUDY}", "/static/study.js"):
        answer = client.get(page)
        assert answer.status_code == 200
        bodies.append(answer.text)
    if make_url(study_db).password:
        assert "***" in info["database"]
        assert not [b for b in bodies if PASSWORD in b]


def test_the_pages_and_plotly_js_are_served_from_the_installed_packages(
    finished_sqlite: str, app_client
) -> None:
    client = app_client(finished_sqlite)
    study_page = client.get(f"/studies/{STUDY}")
    assert study_page.headers["content-type"].startswith("text/html")
    sources = re.findall(r'src="([^"]+)"', study_page.text)
    assert sources and all(src.startswith("/static/") for src in sources)  # no CDN
    assert '"/vendor/plotly.min.js"' in client.get("/static/study.js").text
    plotly = client.get("/vendor/plotly.min.js")
    assert plotly.status_code == 200 and len(plotly.content) > 1_000_000
    assert b"plotly.js" in plotly.content[:2000]


def test_serving_leaves_the_sqlite_file_untouched(finished_sqlite: str, app_client) -> None:
    db_file = Path(make_url(finished_sqlite).database)
    before = db_file.read_bytes()
    client = app_client(finished_sqlite)
    for path in ("/api/status", f"/api/status/{STUDY}", f"/api/studies/{STUDY}/board"):
        assert client.get(path).status_code == 200
    assert db_file.read_bytes() == before


def test_the_version_moves_when_an_observation_arrives(tmp_path: Path, app_client) -> None:
    from slurmhpo.store.db import write_session
    from slurmhpo.store.queries import Report, get_trial, record_observations

    url = f"sqlite:///{tmp_path / 'live.db'}"
    run_study(tmp_path, url, trials=4)
    client = app_client(url)
    before = client.get(f"/api/studies/{STUDY}/version").json()
    engine = make_engine(url)
    try:
        with write_session(engine) as session:
            trial = get_trial(session, get_study(session, STUDY), 1)
            record_observations(session, trial, [Report(resource=5, value=0.01)])
    finally:
        engine.dispose()
    after = client.get(f"/api/studies/{STUDY}/version").json()
    assert after != before
    board = client.get(f"/api/studies/{STUDY}/board").json()
    row = next(t for t in board["trials"] if t["number"] == 1)
    assert (row["reached"], row["value"], row["best"]) == (5, 0.01, 0.01)
