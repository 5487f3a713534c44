"""One validator of extra sbatch options: what ``slurmhpo check`` accepts, the backend submits.

Before, study.py and backends/slurm.py each had their own rules: ``export``, ``get-user-env``,
a tab inside a value and ``x--y`` passed ``check`` and were refused at submit; ``gres`` and
``nodes`` went the other way. Both now call :func:`check_sbatch_extra`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from slurmhpo.backends.base import Resources, SegmentRequest
from slurmhpo.backends.slurm import SlurmBackend
from slurmhpo.errors import ConfigError
from slurmhpo.sbatch_options import check_sbatch_extra
from slurmhpo.study import StudySpec

REFUSED = [
    ({"export": "NONE"}, "slurm.extra.export"),
    ({"get-user-env": "L"}, "slurm.extra.get-user-env"),
    ({"get_user_env": "L"}, "slurm.extra.get_user_env"),
    ({"comment": "a\tb"}, "slurm.extra.comment"),
    ({"comment": "a\nb"}, "slurm.extra.comment"),
    ({"x--y": "1"}, "slurm.extra.x--y"),
    ({"x-": "1"}, "slurm.extra.x-"),
    ({"gres": "gpu:1"}, "slurm.extra.gres"),
    ({"nodes": 2}, "slurm.extra.nodes"),
    ({"partition": "x"}, "slurm.extra.partition"),
    ({"job_name": "x"}, "slurm.extra.job_name"),
    ({"bad name": "x"}, "slurm.extra.bad name"),
    ({"c": 1.5}, "slurm.extra.c"),
    ({"c": True}, "slurm.extra.c"),
    ({"mail_type": "END", "mail-type": "FAIL"}, "slurm.extra.mail-type"),
]
ACCEPTED = [
    {"constraint": "a100"},
    {"mail_type": "END", "comment": "it's; $(not run)"},
    {"exclusive": "user", "nice": 10},
]


def study(extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "s",
        "objective": {"metric": "loss", "mode": "min"},
        "resource": {"max": 3},
        "budget": {"max_trials": 2},
        "trial": {"command": ["python", "train.py"]},
        "slurm": {"extra": extra},
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
    }


def submit_refusal(extra: dict[str, Any], root: Path) -> ConfigError | None:
    """What the Slurm backend says about ``extra``: it checks every request before sbatch."""
    request = SegmentRequest(
        job_key="k",
        command=(sys.executable, "-c", "pass"),
        env={},
        workdir=root,
        log_dir=root / "log",
        resources=Resources(extra=extra),
    )
    try:
        SlurmBackend(root / "slurm").submit([request])
    except ConfigError as error:
        return error
    raise AssertionError("the backend did not refuse; this helper is for refused options only")


@pytest.mark.parametrize(("extra", "field"), REFUSED)
def test_check_and_submit_refuse_the_same_options(
    extra: dict[str, Any], field: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as at_check:
        StudySpec.from_dict(study(extra))
    assert at_check.value.field == field
    at_submit = submit_refusal(extra, tmp_path)
    assert at_submit is not None and at_submit.field == field


@pytest.mark.parametrize("extra", ACCEPTED)
def test_accepted_options_come_back_in_sbatch_spelling(extra: dict[str, Any]) -> None:
    spec = StudySpec.from_dict(study(extra))
    expected = {key.replace("_", "-"): value for key, value in extra.items()}
    assert dict(spec.slurm.extra) == expected == check_sbatch_extra(extra)
    # the stored form loads back unchanged, so a registered study compares equal to its file
    assert StudySpec.from_dict(spec.to_dict()) == spec


def test_refusals_name_the_setting_to_use_instead() -> None:
    with pytest.raises(ConfigError, match=r"slurm\.gpus_per_task") as info:
        check_sbatch_extra({"gres": "gpu:a100:1"})
    assert "constraint" in str(info.value)
    with pytest.raises(ConfigError, match=r"slurm\.time_min"):
        check_sbatch_extra({"time": 10})
