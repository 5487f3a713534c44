"""Every ``slurmhpo ...`` example in README.md and docs/*.md runs, for real.

Examples are found by tests/docs/docs_helpers.py (fenced or 4-space-indented lines starting
with ``slurmhpo ``), plus the README's two main commands. Each runs through bash against a
temporary SQLite database and a toy study named ``digits-mlp``, with these substitutions:

- ``docs/examples/digits_mlp.toml`` -> a toy study file of the same name (tests/controller/
  toy_trial.py: milliseconds per epoch instead of seconds);
- ``slurmhpo run ...`` gets ``--poll-interval 0.2`` (the default 5 s would make a toy study take
  a minute);
- ``--partition cpu`` -> the local cluster's partition (there is no ``cpu`` partition here);
- ``~`` and every relative output path land in temporary folders (HOME and the working
  directory are temporary).

Which study an example meets depends on what it does (see ``route``): read-only commands a
finished study; operator commands (pause, resume, ...) a registered study that no controller
drives, so each is queued; ``--watch`` runs on a pseudo-terminal for two frames, then Ctrl-C;
a daemon without ``--exit-when-idle`` runs until it drives the study, then SIGTERM;
``dashboard`` serves until its ``/api/status`` answers with the study, then Ctrl-C. The
quickstart (docs/quickstart.md) runs in its own order, against a live study, on the local
backend and on the local Slurm cluster; ``submit-controller`` only on Slurm.

A new example therefore runs as soon as it is written; one that cannot run here must be put
in NOT_RUN with the reason. A new ``slurmhpo bench`` example fails at once until it is listed
(or given a route): running an unknown benchmark campaign could take hours. Commands that
are not slurmhpo's (``systemctl --user``, ``loginctl``, ``scancel``, ``pip``,
``bash deploy/...``) are not examples in this sense; NOT_SLURMHPO lists them for the reader.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from docs_helpers import (
    REPO,
    DocsWorld,
    Example,
    all_examples,
    copy_db,
    shell,
    start,
    stop,
    user_env,
    wait_for,
    watch_in_pty,
)

SLURM_TESTS = Path(__file__).resolve().parents[1] / "slurm"
if str(SLURM_TESTS) not in sys.path:
    sys.path.insert(0, str(SLURM_TESTS))

from controller_helpers import study_toml  # noqa: E402
from slurm_study_helpers import cancel_by_name_prefix, slurm_study_toml  # noqa: E402

DIGITS_FILE = "docs/examples/digits_mlp.toml"
README_MAIN = ("slurmhpo run docs/examples/digits_mlp.toml", "slurmhpo run digits-mlp")
LIFECYCLE = {"pause", "resume", "stop", "cancel", "extend"}
BENCH_REASON = (
    "a benchmark run on the simulated backend: minutes of CPU on this suite's 2 shared cores "
    "(YAHPO data for lcbench); tests/bench runs slurmhpo bench on small settings"
)
NOT_RUN: dict[str, str] = {
    "slurmhpo bench --method asha-promotion --task lcbench/3945 --seeds 10 --json out.json": (
        BENCH_REASON
    ),
    "slurmhpo bench --seeds 10 --json dev.json --plot dev.png": BENCH_REASON,
    "slurmhpo bench --task synthetic/hartmann3-mf --seeds 2 --budget-factor 6": BENCH_REASON,
    "slurmhpo bench --seeds 10 --json dev.json --plot docs/benchmarks.png": (
        BENCH_REASON + "; it also rewrites the docs' own figure"
    ),
    "slurmhpo bench --method bohb-async-stopping --seeds 5": BENCH_REASON,
    "slurmhpo bench --method asha-promotion --task synthetic/hartmann6-mf --seeds 1 "
    "--max-trials 1000 --budget-seconds 1e9": BENCH_REASON + " (a 1,000-trial study)",
    "slurmhpo bench --seeds 5 --queue-wait WAIT [--continue-in-place] --json FILE --method "
    "asha-stopping,asha-promotion,hyperband,hyperband-stopping,bohb-async,bohb-async-stopping,"
    "adaptive,median,bohb-sync": BENCH_REASON + " (issue 14's table: 1,620 runs)",
    "slurmhpo bench --method asha-promotion,asha-stopping --seeds 5 --queue-wait 600 "
    "[--continue-in-place] --task lcbench/189905,lcbench/189873,lcbench/189908,lcbench/189866": (
        BENCH_REASON + " (issue 14's held-out check)"
    ),
    "slurmhpo bench --method pbt,random --seeds 10 --json dev-pbt.json": (
        BENCH_REASON + " (issue 16's population-based training: 120 runs)"
    ),
    "slurmhpo bench --method asha-stopping,asha-promotion --seeds 10 --json dev-asha.json": (
        BENCH_REASON + " (issue 16's comparison: 120 runs)"
    ),
    "slurmhpo bench-pareto --seeds 10 --json docs/benchmarks-pareto.json": (
        BENCH_REASON + " (50 runs; it also rewrites the docs' own JSON)"
    ),
}
NOT_SLURMHPO = {
    "systemctl --user ...": "needs a systemd user session (none in a container or CI)",
    "loginctl enable-linger": "changes logind state of the machine",
    "scancel --name shpo-ctl-STUDY": "run by the submit-controller test as its clean-up",
    "pip install ...": "the test runs inside the installed package",
    "sudo bash deploy/local-slurm/up": "the slurm_cluster fixture requires the cluster up",
    "export SLURMHPO_DB=postgresql+psycopg://...": "examples use a temporary SQLite file",
}
FAST_POLL = "--poll-interval 0.2"


def route(example: Example) -> str:
    """How an example is run (see the module docstring)."""
    words = example.words
    if example.text in NOT_RUN:
        return "not-run"
    if example.path.name == "quickstart.md":
        return "quickstart"
    if words[1] in ("bench", "bench-pareto"):
        return "unlisted-bench"
    if words[1] == "submit-controller":
        return "slurm"
    if "--watch" in words:
        return "watch"
    if words[1] == "daemon" and not {"--print-systemd-unit", "--exit-when-idle"} & set(words):
        return "until-signal"
    if words[1] == "dashboard":
        return "serve"
    if words[1] in LIFECYCLE or words[1] in {"run", "daemon"}:
        return "registered"
    if words[1] == "submit":
        return "fresh"
    return "finished"


def substitute(text: str, study_file: Path, partition: str = "gpu") -> str:
    """The example with the documented substitutions applied."""
    text = text.replace(DIGITS_FILE, str(study_file)).replace(
        "--partition cpu", "--partition " + partition
    )
    if text.split()[1] == "run" and "--poll-interval" not in text:
        text += " " + FAST_POLL
    return text


EXAMPLES = all_examples()
LOCAL = [e for e in EXAMPLES if route(e) not in {"not-run", "quickstart", "slurm"}]


def test_examples_are_found_in_every_user_doc() -> None:
    """Guards the extraction: README, cluster.md, cli.md and the quickstart have examples."""
    files = {e.path.name for e in EXAMPLES}
    assert {"README.md", "cluster.md", "cli.md", "quickstart.md"} <= files
    assert len(EXAMPLES) > 40


def test_the_readme_main_commands_are_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    for command in README_MAIN:
        assert command in readme


def test_every_not_run_entry_is_still_in_the_docs() -> None:
    """A stale entry would hide nothing, but it would mislead: drop it when the docs change."""
    texts = {e.text for e in EXAMPLES}
    assert set(NOT_RUN) <= texts, set(NOT_RUN) - texts


def test_every_slurmhpo_subcommand_appears_in_some_example() -> None:
    """No command is documented only in prose."""
    from test_cli_reference import PARSER_COMMANDS

    used = {" ".join(e.words[1:3]) for e in EXAMPLES} | {e.words[1] for e in EXAMPLES}
    assert set(PARSER_COMMANDS) - used == set()


def check_outcome(
    example: Example, command: str, done: subprocess.CompletedProcess[str], cwd: Path, home: Path
) -> None:
    """What every example must show beyond exit 0: its output says it did its job."""
    out, err = done.stdout, done.stderr
    where = f"{example.where}: {command}\nstdout: {out}\nstderr: {err}"
    assert done.returncode == 0, where
    assert "error" not in err.lower() and "Traceback" not in err, where
    words = command.split()
    written = re.search(r"(?:^|\s)(?:-o|--output|>)\s+(\S+)", command)
    if written:
        target = Path(re.sub(r"^~", str(home), written.group(1)))
        target = target if target.is_absolute() else cwd / target
        assert target.stat().st_size > 0, where
        if target.suffix == ".png":
            assert target.read_bytes()[:4] == b"\x89PNG", where
    elif "--json" in words:
        json.loads(out)
    sub = words[1]
    expected = {
        "check": "is valid",
        "submit": "digits-mlp",
        "db": "(head)",
        "best": "best trial of 'digits-mlp'",
        "trial": "trial 12 of 'digits-mlp'" if "12" in words else "of 'digits-mlp'",
        "status": "digits-mlp",
        "studies": "digits-mlp",
        "trials": "TRIAL",
        "run": "finished; best trial",
    }
    if sub in LIFECYCLE:
        assert f"{sub} of study 'digits-mlp' queued as command" in out, where
    elif sub in expected and not written and "--json" not in words:
        assert expected[sub] in out, where


@pytest.mark.parametrize("example", LOCAL, ids=lambda e: f"{e.where} {' '.join(e.words[1:3])}")
def test_example_runs(example: Example, world: DocsWorld, tmp_path: Path) -> None:
    kind = route(example)
    if kind == "unlisted-bench":
        pytest.fail(
            f"{example.where}: a new `slurmhpo bench` example; benchmark runs take minutes, so "
            "add it to NOT_RUN in this file with the reason (or make it fast and route it)",
            pytrace=False,
        )
    undriven = {"registered", "until-signal"}
    source = world.registered_db if kind in undriven else world.finished_db
    db = tmp_path / "studies.db"
    if kind != "fresh":
        copy_db(source, db)
    study_file = world.registered_file if kind in undriven | {"fresh"} else world.finished_file
    command = substitute(example.text, study_file)
    env = world.env(db)
    # docs/cluster.md creates this folder (mkdir -p) on the line before its redirect into it.
    (world.home / ".config" / "systemd" / "user").mkdir(parents=True, exist_ok=True)
    if kind == "watch":
        code, screen = watch_in_pty(command, env, tmp_path)
        assert code == 0, screen
        assert screen.count("\x1b[H\x1b[2J") >= 2 and "digits-mlp" in screen, screen
        return
    if kind == "serve":
        serve_until_answered(command, env, tmp_path)
        return
    if kind == "until-signal":
        log = tmp_path / "out.log"
        proc = start(command, env, tmp_path, log)
        try:
            wait_for(
                "the daemon to take the study",
                lambda: "took study" in _log_text(command, world, log),
            )
        finally:
            code = stop(proc, signal.SIGTERM)
        assert code == 0, _log_text(command, world, log)
        return
    done = shell(command, env, tmp_path)
    check_outcome(example, command, done, tmp_path, world.home)
    if example.words[1] == "daemon" and "--exit-when-idle" in example.words:
        status = shell("slurmhpo status digits-mlp --json", env, tmp_path)
        assert json.loads(status.stdout)["study"]["state"] == "finished", status.stdout


def serve_until_answered(command: str, env: dict[str, str], cwd: Path) -> None:
    """Start a ``slurmhpo dashboard`` example, read its ``/api/status`` (which must list
    digits-mlp), then Ctrl-C it: it must exit 0."""
    log = cwd / "dashboard.log"
    match = re.search(r"--port\s+(\d+)", command)
    port = match.group(1) if match else "8765"
    proc = start(command, env, cwd, log)
    try:
        wait_for("the dashboard to listen", lambda: "dashboard on" in log.read_text())

        def answered() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=10) as r:
                    return "digits-mlp" in [s["name"] for s in json.load(r)["studies"]]
            except OSError:
                return False

        wait_for("the dashboard to list digits-mlp", answered)
    finally:
        code = stop(proc, signal.SIGINT)
    assert code == 0, log.read_text()


def _log_text(command: str, world: DocsWorld, fallback: Path) -> str:
    """The daemon's log: its --log-file (``~`` is the test's HOME), else its stderr."""
    match = re.search(r"--log-file\s+(\S+)", command)
    path = Path(match.group(1).replace("~", str(world.home), 1)) if match else fallback
    return path.read_text() if path.exists() else ""


def test_readme_ctrl_c_then_run_by_name_picks_the_study_up(tmp_path: Path) -> None:
    """README: "Ctrl-C stops the controller cleanly and `slurmhpo run digits-mlp` picks the
    study up again"; both main commands, for real, on a live toy study."""
    home = tmp_path / "home"
    home.mkdir()
    study = study_toml(
        tmp_path, name="digits-mlp", budget={"max_trials": 4, "max_concurrent": 2}, resource_max=3
    )
    env = user_env(home, tmp_path / "studies.db", TOY_SLEEP="0.3")
    log = tmp_path / "run.log"
    proc = start(substitute(README_MAIN[0], study), env, tmp_path, log)
    runs = tmp_path / "runs"  # the study's folder: digits-mlp- and 12 hex digits of its uid
    wait_for(
        "a first metric line",
        lambda: any(p.stat().st_size for p in runs.glob("digits-mlp-*/trials/**/metrics.jsonl")),
    )
    assert stop(proc, signal.SIGINT) == 0, log.read_text()
    assert "goes on: slurmhpo run digits-mlp" in log.read_text()
    done = shell(substitute(README_MAIN[1], study), env, tmp_path)
    assert done.returncode == 0 and "study 'digits-mlp' finished; best trial" in done.stdout, done


def study_state(name: str, env: dict[str, str], cwd: Path) -> str | None:
    """The study's state as `slurmhpo status NAME --json` reports it (None until it can)."""
    status = shell(f"slurmhpo status {name} --json", env, cwd)
    return json.loads(status.stdout)["study"]["state"] if status.returncode == 0 else None


# ---- the quickstart, in order, against a live study ----------------------------------------
def run_quickstart(study: Path, tmp_path: Path, env: dict[str, str]) -> list[str]:
    """Run docs/quickstart.md's examples in order; returns the commands run.

    ``run`` starts in the background (the reader's first terminal); the next commands act on
    the live study; the first one that needs the study finished waits for the controller.
    """
    examples = [e for e in EXAMPLES if route(e) == "quickstart"]
    assert [e.words[1] for e in examples][:2] == ["check", "run"], "quickstart order changed"
    controller = None
    ran = []
    for example in examples:
        command = substitute(example.text, study)
        sub = example.words[1]
        if sub == "run":
            controller = start(command, env, tmp_path, tmp_path / "controller.log")
            log = tmp_path / "controller.log"
            wait_for(
                "the controller to drive the study", lambda log=log: "driving" in log.read_text()
            )
        elif "--watch" in example.words:
            code, screen = watch_in_pty(command, env, tmp_path)
            assert code == 0 and screen.count("\x1b[H\x1b[2J") >= 2, screen
        elif sub == "dashboard":
            serve_until_answered(command, env, tmp_path)
        else:
            if sub in {"best", "trials", "trial", "plot", "export"} and controller is not None:
                assert controller.wait(timeout=600) == 0, (tmp_path / "controller.log").read_text()
                controller = None
                assert "finished; best trial" in (tmp_path / "controller.log").read_text()
            done = shell(command, env, tmp_path)
            check_outcome(example, command, done, tmp_path, Path(env["HOME"]))
            if sub in {"pause", "resume"}:
                assert "applied:" in done.stdout, done.stdout
            if sub == "status" and ran and ran[-1].split()[1] == "pause":
                assert "study digits-mlp: paused" in done.stdout, done.stdout
        ran.append(command)
    assert controller is None, "the quickstart never waited for its study to finish"
    return ran


def test_quickstart_on_local_processes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    study = study_toml(
        tmp_path, name="digits-mlp", budget={"max_trials": 4, "max_concurrent": 2}, resource_max=3
    )
    env = user_env(home, tmp_path / "studies.db", TOY_SLEEP="3.0")
    ran = run_quickstart(study, tmp_path, env)
    assert any(" pause " in c for c in ran) and any(" resume " in c for c in ran)


@pytest.mark.slurm
def test_quickstart_on_the_local_slurm_cluster(slurm_cluster: object, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    study = slurm_study_toml(
        tmp_path,
        name="digits-mlp",
        partition=slurm_cluster.partition,  # type: ignore[attr-defined]
        budget={"max_trials": 4, "max_concurrent": 2},
        resource_max=3,
        # 9 s per trial, as on local processes: at load 6 a 3 s trial's study had finished
        # before the quickstart's pause came
        env={"TOY_SLEEP": "3.0"},
    )
    env = user_env(home, tmp_path / "studies.db")
    try:
        run_quickstart(study, tmp_path, env)
    finally:
        cancel_by_name_prefix("shpo-digits-mlp-")
    trial = shell("slurmhpo trial digits-mlp 0 --json", env, tmp_path)
    jobs = json.loads(trial.stdout)["jobs"]
    assert jobs and all(job["backend"] == "slurm" for job in jobs), jobs


@pytest.mark.slurm
def test_submit_controller_examples_on_the_local_slurm_cluster(
    slurm_cluster: object, tmp_path: Path
) -> None:
    """cluster.md's and cli.md's submit-controller examples: the job drives a toy study to
    its end (a unique study name per run, since controller jobs are found by name)."""
    examples = [e for e in EXAMPLES if route(e) == "slurm"]
    assert examples
    partition = slurm_cluster.partition  # type: ignore[attr-defined]
    for number, example in enumerate(examples):
        name = f"docs-ctl-{tmp_path.name[-12:]}-{number}".replace("_", "-")
        folder = tmp_path / name
        folder.mkdir()
        study = slurm_study_toml(
            folder,
            name=name,
            partition=partition,
            budget={"max_trials": 2, "max_concurrent": 2},
            resource_max=2,
        )
        env = user_env(tmp_path, folder / "studies.db")
        command = substitute(example.text, study, partition)
        try:
            done = shell(command, env, folder)
            assert done.returncode == 0 and done.stdout.strip().isdigit(), (command, done)

            wait_for(
                f"{name} to finish under its controller job",
                lambda name=name, env=env, folder=folder: (
                    study_state(name, env, folder) == "finished"
                ),
                timeout=300,
            )
        finally:
            shell(f"scancel --name shpo-ctl-{name}", env, folder)
            cancel_by_name_prefix(f"shpo-{name}-")
