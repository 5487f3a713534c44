"""``python -m slurmhpo.bench.dashboard``: how long a big study takes to open in the dashboard.

    python -m slurmhpo.bench.dashboard --db sqlite:////tmp/board.db --json board.json
    python -m slurmhpo.bench.dashboard --db postgresql+psycopg://postgres@127.0.0.1/test

Makes a finished study of ``--trials`` trials (default 10,000) with ten observations per
trial on average (100,000): a quarter each stopped at epoch 1, 3, 9 and 27, one job per rung
segment, a resume decision per promotion (:mod:`slurmhpo.store.bulk`), in a new database
next to ``--db`` (removed after, unless ``--keep-db``). Then, ``--repeat`` times, a fresh
read-only engine and app answer what the study page loads: the HTML, the status document
and the board (tables and rung view), then the curves (every observation). Per answer: wall
time, the process's CPU time and size; their sums without the curves are what "opens" costs
on the server, with them what "draws everything" costs (CPU time shows the cost apart from
other load on a shared machine; the load average is recorded with the figures).
``--browser`` also opens the page in headless chromium (Debian's, through selenium) and
reads when it showed its tables and when it had drawn everything, charts too, counted from
the start of navigation. Figures go to stdout, and to ``--json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from slurmhpo.controller.studies import register_study
from slurmhpo.store.bulk import MadeTrial, insert_history
from slurmhpo.store.db import make_engine, write_session
from slurmhpo.store.migrate import upgrade
from slurmhpo.store.queries import get_study
from slurmhpo.store.scratch import scratch_database
from slurmhpo.study import StudySpec

NAME = "board-bench"
LEVELS = (1, 3, 9, 27)


def made_trials(n: int, seed: int) -> list[MadeTrial]:
    """Trial i stops at LEVELS[i % 4] (so ten observations per trial on average)."""
    rng = np.random.default_rng(seed)
    xs = rng.random(n)
    noise = rng.normal(0.0, 0.01, size=(n, LEVELS[-1]))
    trials = []
    for i in range(n):
        group = i % len(LEVELS)
        reached = LEVELS[group]
        bounds = [0, *LEVELS[: group + 1]]
        segments = [(a, b, "completed") for a, b in itertools.pairwise(bounds)]
        values = [(xs[i] - 0.3) ** 2 + 1.0 / r + noise[i, r - 1] for r in range(1, reached + 1)]
        state = "completed" if reached == LEVELS[-1] else ("stopped" if i % 3 else "paused")
        trials.append(MadeTrial(i, {"x": float(xs[i])}, state, segments, values, resumes=group))
    return trials


def spec(runs: Path) -> StudySpec:
    return StudySpec.from_dict(
        {
            "name": NAME,
            "backend": "local",
            "runs_dir": str(runs),
            "objective": {"metric": "loss", "mode": "min"},
            "resource": {"name": "epoch", "min": 1, "max": LEVELS[-1]},
            "scheduler": {"type": "asha", "variant": "promotion", "eta": 3},
            "searcher": {"type": "random"},
            "budget": {"max_trials": 10**6, "max_concurrent": 8},
            "trial": {"command": ["python", "train.py"], "workdir": str(runs)},
            "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        }
    )


def build(url: str, trials: int, runs: Path) -> dict[str, Any]:
    """Create the study; returns what was made and how long it took."""
    started = time.perf_counter()
    engine = make_engine(url)
    try:
        upgrade(engine)
        register_study(engine, spec(runs))
        made = made_trials(trials, seed=0)
        with write_session(engine) as session:
            study = get_study(session, NAME)
            insert_history(session, study, made, origin=datetime(2026, 1, 1, tzinfo=UTC))
            study.state = "finished"
            study.finished_at = datetime(2026, 1, 2, tzinfo=UTC)
    finally:
        engine.dispose()
    return {
        "trials": trials,
        "observations": sum(len(t.values) for t in made),
        "jobs": sum(len(t.segments) for t in made),
        "build_s": round(time.perf_counter() - started, 2),
    }


def server_side(url: str, repeat: int) -> list[dict[str, Any]]:
    """Per repeat: a new engine and app, then the page's three requests, timed."""
    from starlette.testclient import TestClient

    from slurmhpo.dashboard.app import create_app

    paths = {
        "html": f"/studies/{NAME}",
        "status": f"/api/status/{NAME}",
        "board": f"/api/studies/{NAME}/board",
        "curves": f"/api/studies/{NAME}/curves",
    }
    opening = ("html", "status", "board")  # what the page needs to show its tables
    runs = []
    for _ in range(repeat):
        engine = make_engine(url, readonly=True)
        try:
            app = create_app(engine, database="bench", token=None, loopback=True)
            client = TestClient(app, base_url="http://127.0.0.1")
            run: dict[str, Any] = {}
            for key, path in paths.items():
                t0, c0 = time.perf_counter(), time.process_time()
                answer = client.get(path)
                run[f"{key}_s"] = round(time.perf_counter() - t0, 3)
                run[f"{key}_cpu_s"] = round(time.process_time() - c0, 3)
                run[f"{key}_bytes"] = len(answer.content)
                if answer.status_code != 200:
                    raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:200]}")
            run["open_s"] = round(sum(run[f"{k}_s"] for k in opening), 3)
            run["open_cpu_s"] = round(sum(run[f"{k}_cpu_s"] for k in opening), 3)
            run["total_s"] = round(sum(run[f"{k}_s"] for k in paths), 3)
            run["total_cpu_s"] = round(sum(run[f"{k}_cpu_s"] for k in paths), 3)
            runs.append(run)
        finally:
            engine.dispose()
    return runs


def browser_side(url: str, repeat: int) -> list[dict[str, float]]:
    """Per load, seconds from navigation start until the study page showed its tables and
    rung view (``tables_s``) and until it had drawn everything, charts too (``all_s``)."""
    import socket

    import uvicorn
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    from slurmhpo.dashboard.app import create_app

    engine = make_engine(url, readonly=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(engine, database="bench", token=None, loopback=True, poll_s=60)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1400,2300", "--enable-unsafe-swiftshader"):  # fmt: skip
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    seconds: list[dict[str, float]] = []
    try:
        for _ in range(repeat):
            driver.get(f"http://127.0.0.1:{port}/studies/{NAME}")
            WebDriverWait(driver, 120, poll_frequency=0.05).until(
                lambda d: d.execute_script("return window.shpoDrawnAt")
            )
            tables, drawn = driver.execute_script("return [shpoTableAt, shpoDrawnAt]")
            seconds.append(
                {"tables_s": round(tables / 1000.0, 3), "all_s": round(drawn / 1000.0, 3)}
            )
    finally:
        driver.quit()
        server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()
    return seconds


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m slurmhpo.bench.dashboard", description=__doc__)
    p.add_argument("--db", default=None, help="where to make the database (SQLite or PG URL)")
    p.add_argument("--trials", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--browser", action="store_true", help="also time the page in chromium")
    p.add_argument("--json", default=None, metavar="FILE")
    p.add_argument("--keep-db", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    where = args.db or f"sqlite:///{Path(tempfile.gettempdir()) / 'slurmhpo-board.db'}"
    with (
        tempfile.TemporaryDirectory() as runs,
        scratch_database(where, "dashboard", keep=args.keep_db) as url,
    ):
        made = build(url, args.trials, Path(runs))
        print(f"made {made}", file=sys.stderr)
        server = server_side(url, args.repeat)
        browser = browser_side(url, args.repeat) if args.browser else []

    def spread(key: str) -> dict[str, float]:
        values = [r[key] for r in server]
        return {"median": statistics.median(values), "max": max(values)}

    result = {
        "database": url.split(":", 1)[0],
        "made": made,
        "server": server,
        "server_open_s": spread("open_s"),
        "server_open_cpu_s": spread("open_cpu_s"),
        "server_total_s": spread("total_s"),
        "server_total_cpu_s": spread("total_cpu_s"),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "browser_drawn_s": browser,
        "machine": {"python": platform.python_version(), "cpus": _cpus()},
    }
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    sys.exit(main())
