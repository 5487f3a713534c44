"""``slurmhpo trials``, ``slurmhpo trial`` and ``slurmhpo best``: look at a study's trials.

A trial's ``value`` is its objective at ``resource``, the highest resource it reported;
``--sort metric`` and ``best`` rank as ``slurmhpo.store.queries`` documents (furthest trained
first, then by metric, NaN/inf last).

JSON, ``trials``: a list of trial objects with keys ``number``, ``state``, ``bracket``,
``resource``, ``value``, ``config``, ``created_at``, ``updated_at``.
``best``: one trial object plus ``study``, or ``null`` when no trial has reported yet. In a
study with several objectives: ``study``, ``objectives`` (list of ``metric``, ``mode``) and
``pareto_front``, the non-dominated trials (:mod:`slurmhpo.store.pareto_front`), each a trial
object plus ``values`` (metric -> value at ``resource``); an empty list before any result.
``trial``: a trial object plus ``study``, ``failure_reason``, ``jobs`` (list of ``id``,
``backend``, ``external_id``, ``state``, ``start_resource``, ``target_resource``, ``attempt``,
``exit_reason``, ``submitted_at``, ``started_at``, ``ended_at``) and ``observations`` (list
of ``resource``, ``value``, ``metrics``, ``reported_at``, ``ingested_at``).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from slurmhpo.cli.common import (
    add_db_option,
    add_json_option,
    json_time,
    json_value,
    open_store,
    print_json,
    text_config,
    text_value,
)
from slurmhpo.cli.table import format_table
from slurmhpo.errors import ConfigError
from slurmhpo.store import queries as q
from slurmhpo.store.db import read_session
from slurmhpo.store.models import TRIAL_STATES
from slurmhpo.store.pareto_front import (
    is_multi_objective,
    named_values,
    pareto_front,
    study_objectives,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from slurmhpo.store.models import Study


def register(subparsers: Any) -> None:
    trials = subparsers.add_parser("trials", help="list the trials of a study")
    trials.add_argument("study", metavar="STUDY")
    trials.add_argument("--state", choices=TRIAL_STATES, help="only trials in this state")
    trials.add_argument("--sort", choices=("number", "metric"), default="number")
    trials.add_argument("--top", type=int, metavar="N", help="only the first N (after sorting)")
    add_json_option(trials)
    add_db_option(trials)
    trials.set_defaults(handler=run_trials)

    trial = subparsers.add_parser("trial", help="one trial: config, jobs, observations")
    trial.add_argument("study", metavar="STUDY")
    trial.add_argument("number", metavar="NUMBER", type=int)
    add_json_option(trial)
    add_db_option(trial)
    trial.set_defaults(handler=run_trial)

    best = subparsers.add_parser("best", help="the best trial of a study so far")
    best.add_argument("study", metavar="STUDY")
    add_json_option(best)
    add_db_option(best)
    best.set_defaults(handler=run_best)


def _summary_json(summary: q.TrialSummary) -> dict[str, Any]:
    trial = summary.trial
    return {
        "number": trial.number,
        "state": trial.state,
        "bracket": trial.bracket,
        "resource": summary.resource,
        "value": json_value(summary.value),
        "config": trial.config,
        "created_at": json_time(trial.created_at),
        "updated_at": json_time(trial.updated_at),
    }


def _summary_cells(summary: q.TrialSummary) -> list[object]:
    trial = summary.trial
    return [
        trial.number,
        trial.state,
        trial.bracket,
        summary.resource,
        text_value(summary.value),
        text_config(trial.config),
    ]


SUMMARY_HEADERS = ["TRIAL", "STATE", "BRACKET", "RESOURCE", "VALUE", "CONFIG"]


def run_trials(args: argparse.Namespace) -> int:
    if args.top is not None and args.top < 1:
        raise ConfigError("--top", f"{args.top} is not a positive count", "use --top 1 or more")
    engine = open_store(args)
    with read_session(engine) as session:
        study = q.get_study(session, args.study)
        found = q.list_trials(session, study, state=args.state, sort=args.sort, top=args.top)
        if args.json:
            print_json([_summary_json(s) for s in found])
        elif not found:
            print(
                f"study {study.name!r} has no trials"
                + (f" in state {args.state}" if args.state else "")
            )
        else:
            print(format_table(SUMMARY_HEADERS, [_summary_cells(s) for s in found]))
    engine.dispose()
    return 0


def run_best(args: argparse.Namespace) -> int:
    engine = open_store(args)
    with read_session(engine) as session:
        study = q.get_study(session, args.study)
        if is_multi_objective(study):
            _print_front(session, study, args.json)
            engine.dispose()
            return 0
        best = q.best_trial(session, study)
        if args.json:
            print_json(None if best is None else {"study": study.name, **_summary_json(best)})
        elif best is None:
            print(f"no trial of study {study.name!r} has reported a {_feasible(study)}value yet")
        else:
            print(
                f"best trial of {study.name!r} ({study.metric}, {study.mode}): trial "
                f"{best.trial.number}, {study.metric}={text_value(best.value)} "
                f"at resource {best.resource}"
            )
            print(f"config: {text_config(best.trial.config)}")
    engine.dispose()
    return 0


def _print_front(session: Session, study: Study, as_json: bool) -> None:
    """``best`` of a study with several objectives: its Pareto front."""
    front = pareto_front(session, study)
    objectives = study_objectives(study)
    if as_json:
        members = [
            {
                **_summary_json(q.TrialSummary(m.trial, m.resource, m.values[0])),
                "values": {k: json_value(v) for k, v in named_values(study, m).items()},
            }
            for m in front
        ]
        print_json(
            {
                "study": study.name,
                "objectives": [{"metric": k, "mode": mode} for k, mode in objectives],
                "pareto_front": members,
            }
        )
        return
    if not front:
        print(f"no trial of study {study.name!r} has reported a {_feasible(study)}result yet")
        return
    names = [f"{metric} ({mode})" for metric, mode in objectives]
    print(
        f"Pareto front of {study.name!r}: {len(front)} non-dominated trial(s) "
        f"at resource {front[0].resource}"
    )
    cells = [
        [m.trial.number, *(text_value(v) for v in m.values), text_config(m.trial.config)]
        for m in front
    ]
    print(format_table(["TRIAL", *(n.upper() for n in names), "CONFIG"], cells))


def _feasible(study: Study) -> str:
    """ "feasible " for a study with outcome constraints: the best it reports meets them."""
    return "feasible " if q.study_constraints(study) else ""


def _trial_detail(session: Session, study_name: str, number: int) -> dict[str, Any]:
    study = q.get_study(session, study_name)
    trial = q.get_trial(session, study, number)
    summary = q.summarize_trial(session, trial)
    jobs = [
        {
            "id": job.id,
            "backend": job.backend,
            "external_id": job.external_id,
            "state": job.state,
            "start_resource": job.start_resource,
            "target_resource": job.target_resource,
            "attempt": job.attempt,
            "exit_reason": job.exit_reason,
            "submitted_at": json_time(job.submitted_at),
            "started_at": json_time(job.started_at),
            "ended_at": json_time(job.ended_at),
        }
        for job in q.trial_jobs(session, trial)
    ]
    observations = [
        {
            "resource": obs.resource,
            "value": json_value(obs.objective),
            "metrics": obs.metrics,
            "reported_at": json_time(obs.reported_at),
            "ingested_at": json_time(obs.ingested_at),
        }
        for obs in q.trial_observations(session, trial)
    ]
    detail = {"study": study.name, **_summary_json(summary)}
    detail.update(failure_reason=trial.failure_reason, jobs=jobs, observations=observations)
    return detail


def run_trial(args: argparse.Namespace) -> int:
    engine = open_store(args)
    with read_session(engine) as session:
        detail = _trial_detail(session, args.study, args.number)
    engine.dispose()
    if args.json:
        print_json(detail)
        return 0
    print(f"trial {detail['number']} of {detail['study']!r}: {detail['state']}")
    print(f"config: {text_config(detail['config'])}")
    if detail["failure_reason"]:
        print(f"failure: {detail['failure_reason']}")
    print("\njobs:")
    job_cells = [
        [j["id"], j["backend"], j["external_id"], j["state"],
         f"{j['start_resource']}->{j['target_resource']}", j["attempt"], j["exit_reason"]]
        for j in detail["jobs"]
    ]  # fmt: skip
    headers = ["JOB", "BACKEND", "EXTERNAL_ID", "STATE", "RESOURCES", "ATTEMPT", "EXIT_REASON"]
    print(format_table(headers, job_cells) if job_cells else "(none)")
    print("\nobservations:")
    obs_cells = [
        [o["resource"], text_value(_float(o["value"])), o["reported_at"]]
        for o in detail["observations"]
    ]
    headers = ["RESOURCE", "VALUE", "REPORTED_AT"]
    print(format_table(headers, obs_cells) if obs_cells else "(none)")
    return 0


def _float(value: float | str | None) -> float | None:
    """Back from :func:`json_value` ("nan", "inf", "-inf" are valid float() input)."""
    return None if value is None else float(value)
