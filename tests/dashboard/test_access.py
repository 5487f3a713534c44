"""Who may connect: loopback by default, a token for any other address, never a password."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

import pytest
from dashboard_helpers import STUDY, run_study, start_dashboard
from sqlalchemy.engine import make_url

from slurmhpo.cli.main import main
from slurmhpo.dashboard.access import COOKIE, TOKEN_ENV, check_bind, is_loopback
from slurmhpo.errors import ConfigError

TOKEN = "k7Qd-token-for-tests_0123456789"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    argv = [sys.executable, "-m", "slurmhpo.cli.main", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.3.4.5", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("10.1.2.3", False), ("login1.cluster", False)],
)  # fmt: skip
def test_only_loopback_addresses_bind_without_a_token(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    if loopback:
        check_bind(host, None)
    else:
        with pytest.raises(ConfigError, match=TOKEN_ENV):
            check_bind(host, None)
        check_bind(host, TOKEN)


def test_the_command_refuses_an_open_address_without_a_token(finished_sqlite: str) -> None:
    done = cli("dashboard", "--host", "0.0.0.0", "--db", finished_sqlite)
    assert done.returncode == 2
    assert TOKEN_ENV in done.stderr and "--host 127.0.0.1" in done.stderr
    short = cli("dashboard", "--host", "0.0.0.0", "--token", "abc", "--db", finished_sqlite)
    assert short.returncode == 2 and "16 or more" in short.stderr


def test_without_the_extra_the_command_exits_2_naming_pip(monkeypatch, capsys) -> None:
    import slurmhpo.dashboard as dashboard

    monkeypatch.setattr(dashboard, "REQUIRED", ("starlette", "no_such_module_for_this_test"))
    assert main(["dashboard"]) == 2
    err = capsys.readouterr().err
    assert 'pip install "slurmhpo[dashboard]"' in err and "no_such_module_for_this_test" in err


def test_with_a_token_every_request_must_carry_it(finished_sqlite: str, app_client) -> None:
    client = app_client(finished_sqlite, token=TOKEN, host="0.0.0.0")
    for path in ("/", f"/studies/{STUDY}", "/api/status", "/vendor/plotly.min.js"):
        assert client.get(path).status_code == 401, path
    assert client.get("/api/status", headers={"authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/status", headers={"authorization": f"Bearer {TOKEN}"}).json()["studies"]
    # a browser: ?token= once sets an HttpOnly cookie and redirects to the URL without it
    first = client.get(f"/studies/{STUDY}?token={TOKEN}", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == f"/studies/{STUDY}"
    assert "HttpOnly" in first.headers["set-cookie"]
    assert client.get(f"/studies/{STUDY}").status_code == 200  # the client kept the cookie
    client.cookies.clear()
    client.cookies.set(COOKIE, "wrong")
    assert client.get("/api/status").status_code == 401


def test_a_loopback_dashboard_refuses_foreign_host_names(finished_sqlite: str, app_client):
    client = app_client(finished_sqlite)
    assert client.get("/api/status").status_code == 200
    assert client.get("/api/status", headers={"host": "evil.example:8765"}).status_code == 400
    assert client.get("/api/status", headers={"host": "localhost:8765"}).status_code == 200


@pytest.mark.postgres
def test_the_served_command_never_shows_the_database_password(
    pg_url: str, tmp_path, served
) -> None:
    password = "pw-never-shown-9952"  # PostgreSQL here trusts local connections
    url = make_url(pg_url).set(password=password).render_as_string(hide_password=False)
    run_study(tmp_path, url, trials=3)
    base, process = start_dashboard(served, url)
    seen = []
    for path in ("/", "/api/info", "/api/status", f"/api/status/{STUDY}", "/api/status/nope"):
        try:
            with urllib.request.urlopen(base + path, timeout=30) as answer:
                seen.append(answer.read().decode())
        except urllib.error.HTTPError as exc:  # the 404 of an unknown study
            seen.append(exc.read().decode())
    assert json.loads(seen[1])["database"].count("***") == 1
    process.terminate()
    output = process.communicate(timeout=30)[0]
    assert "***" in output and STUDY in seen[2]
    assert not [text for text in [*seen, output] if password in text]
