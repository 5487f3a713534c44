"""The dashboard in a real headless browser (Debian's chromium, driven by selenium through the
system chromedriver, so nothing is downloaded): the studies page and a study page, for a
finished study and for one whose controller is running.

Screenshots go to ``test-artifacts/dashboard/`` at the repository root (ignored by git), or
to ``$SLURMHPO_TEST_ARTIFACTS/dashboard``. Without chromium, its
driver or selenium the tests skip on a laptop and fail under CI=true.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from controller_helpers import load_rows, study_toml
from dashboard_helpers import STUDY, start_dashboard

from slurmhpo.store.db import make_engine, read_session
from slurmhpo.store.queries import get_study, rung

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT_S = 120  # a hang guard, not a timing assertion
ARTIFACTS = (
    Path(
        os.environ.get(
            "SLURMHPO_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"
        )
    )
    / "dashboard"
)


@pytest.fixture
def browser(skip_or_fail_ci) -> Iterator[object]:
    """A headless chromium, or skip (fail in CI) naming what is missing."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if missing:
        skip_or_fail_ci(f"{', '.join(missing)} missing: apt-get install chromium chromium-driver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        skip_or_fail_ci("selenium is missing: pip install -e '.[test]'")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--window-size=1400,2300",
        "--enable-unsafe-swiftshader",  # software WebGL for the parallel coordinates
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_until(driver, what: str, probe):
    """Poll ``probe(driver)`` until truthy; fail naming ``what`` (and the page's error)."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, WAIT_S, poll_frequency=0.2).until(probe)
    except TimeoutException:
        error = driver.execute_script("return document.getElementById('error')?.textContent")
        pytest.fail(f"timed out waiting for {what} (page error: {error!r})")


def texts(driver, css: str) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent.trim())", css
    )


def attrs(driver, css: str, name: str) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])]"
        ".map(e => e.getAttribute(arguments[1]))",
        css,
        name,
    )


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    assert driver.save_screenshot(str(path)), path
    return path


def rung_truth(db_url: str, name: str, levels: list[int]) -> dict[int, list[int]]:
    """Trial numbers at each level, ranked by the store's rung query."""
    engine = make_engine(db_url, readonly=True)
    try:
        with read_session(engine) as session:
            study = get_study(session, name)
            return {r: [n for n, _ in rung(session, study, r)] for r in levels}
    finally:
        engine.dispose()


def severe_errors(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_finished_study_in_the_browser(finished_sqlite: str, browser, served) -> None:
    base, _ = start_dashboard(served, finished_sqlite, "--poll", "0.5")
    rows = load_rows(make_engine(finished_sqlite, readonly=True), STUDY)

    browser.get(base + "/")
    wait_until(browser, "the studies table", lambda d: texts(d, "#studies tbody tr"))
    assert attrs(browser, "#studies tbody tr", "data-study") == [STUDY]
    cells = texts(browser, "#studies tbody tr td")
    assert cells[0] == STUDY and cells[1] == "finished" and "12 / 12" in cells[2]
    screenshot(browser, "studies.png")

    browser.find_element("css selector", f'a[href="/studies/{STUDY}"]').click()
    wait_until(browser, "the trials table", lambda d: len(texts(d, "#trials tbody tr")) == 12)
    numbers = [int(n) for n in attrs(browser, "#trials tbody tr", "data-trial")]
    assert numbers == sorted(t.number for t in rows["trials"])
    states = dict(zip(numbers, texts(browser, "#trials tbody tr td:nth-child(3)"), strict=True))
    assert states == {t.number: t.state for t in rows["trials"]}

    # the rung view: who reached each rung, in the store's rank order; bold = went on
    truth = rung_truth(finished_sqlite, STUDY, [1, 3, 9])
    reached = {t.number: t.reached_resource for t in rows["trials"]}
    for level, ranked in truth.items():
        shown = [int(n) for n in attrs(browser, f'.rung[data-rung="{level}"] li', "data-trial")]
        assert shown == ranked, level
        went_on = attrs(browser, f'.rung[data-rung="{level}"] li', "class")
        assert went_on == ["went-on" if reached[n] > level else "" for n in ranked], level

    # sort by value (click the header), filter by fate, open one trial's jobs
    browser.find_element("css selector", '#trials th[data-column="value"]').click()
    values = [float(v) for v in texts(browser, "#trials tbody tr td:nth-child(6)")]
    assert values == sorted(values)
    completed = sum(t.state == "completed" for t in rows["trials"])
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element("id", "fate")).select_by_value("completed")
    assert len(texts(browser, "#trials tbody tr")) == completed > 0
    browser.find_element("css selector", "#trials tbody tr").click()
    wait_until(browser, "the trial's jobs", lambda d: texts(d, "#trial-detail tbody tr"))
    opened = int(browser.find_element("id", "trial-detail").get_attribute("data-trial"))
    jobs = [
        j
        for j in rows["jobs"]
        if j.trial_id == next(t.id for t in rows["trials"] if t.number == opened)
    ]
    assert attrs(browser, "#trial-detail tbody tr", "data-job") == [str(j.id) for j in jobs]
    Select(browser.find_element("id", "fate")).select_by_value("")
    assert browser.execute_script("return document.querySelectorAll('#curves .trace').length") > 0
    screenshot(browser, "study-finished.png")
    assert severe_errors(browser) == []


def test_running_study_updates_without_reload(tmp_path: Path, browser, served) -> None:
    db_url = f"sqlite:///{tmp_path / 'live.db'}"
    path = study_toml(tmp_path, name="live", budget={"max_trials": 9, "max_concurrent": 3})
    controller = subprocess.Popen(
        [sys.executable, "-m", "slurmhpo.cli.main", "run", str(path), "--db", db_url,
         "--poll-interval", "0.2", "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "TOY_SLEEP": "1.0"},  # about 20 s: the pages load meanwhile
    )  # fmt: skip
    served.append(controller)  # stopped after the test, if it is still running
    db_file = tmp_path / "live.db"
    wait_until(browser, "the study to be registered", lambda _: db_file.exists())
    base, _ = start_dashboard(served, db_url, "--poll", "0.5")

    browser.get(base + "/")
    wait_until(
        browser,
        "the live study listed as running",
        lambda d: "running" in texts(d, '#studies tr[data-study="live"] td:nth-child(2)'),
    )
    browser.get(base + "/studies/live")
    wait_until(browser, "the first trials", lambda d: texts(d, "#trials tbody tr"))
    browser.execute_script("window.__sameDocument = 'yes'")  # a reload would drop it
    first_version = browser.execute_script("return document.body.dataset.version")
    first_rungs = texts(browser, ".rung h3")
    assert texts(browser, "#state") == ["running"]
    assert "live" in texts(browser, '[data-card="controller"]')[0]
    wait_until(
        browser,
        "a redraw with new data",
        lambda d: d.execute_script("return document.body.dataset.version") != first_version,
    )
    screenshot(browser, "study-running.png")

    assert controller.wait(timeout=300) == 0, controller.stdout.read()
    wait_until(browser, "the finished state", lambda d: texts(d, "#state") == ["finished"])
    wait_until(browser, "all 9 trials", lambda d: len(texts(d, "#trials tbody tr")) == 9)
    assert browser.execute_script("return window.__sameDocument") == "yes"
    truth = rung_truth(db_url, "live", [1, 3, 9])
    for level, ranked in truth.items():
        shown = [int(n) for n in attrs(browser, f'.rung[data-rung="{level}"] li', "data-trial")]
        assert shown == ranked, level
    assert texts(browser, ".rung h3") != first_rungs
    screenshot(browser, "study-live-finished.png")
    assert severe_errors(browser) == []
