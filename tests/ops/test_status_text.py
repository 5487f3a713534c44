"""Pure helpers of ``slurmhpo status``: the levels shown per scheduler, and the text bars."""

from __future__ import annotations

from pathlib import Path

from controller_helpers import study_toml

from slurmhpo.cli.cmd_status import progress_bar, study_levels
from slurmhpo.study import load_study


def test_levels_are_rungs_for_successive_halving_and_epochs_otherwise(tmp_path: Path) -> None:
    asha = load_study(study_toml(tmp_path, resource_max=27))
    assert study_levels(asha) == ("rungs", [1, 3, 9, 27])
    hb = load_study(study_toml(tmp_path, scheduler={"type": "hyperband", "eta": 2}, resource_max=5))
    assert study_levels(hb) == ("rungs", [1, 2, 4, 5])
    from_max = {"type": "hyperband", "rung_levels": "from_max"}  # Hyperband paper: not 1, 3, 9..
    assert study_levels(load_study(study_toml(tmp_path, scheduler=from_max, resource_max=52))) == (
        "rungs",
        [2, 6, 17, 52],
    )
    fifo = load_study(study_toml(tmp_path, scheduler={"type": "fifo"}, resource_max=4))
    assert study_levels(fifo) == ("epochs", [1, 2, 3, 4])
    median = load_study(study_toml(tmp_path, scheduler={"type": "median"}, resource_max=100))
    kind, levels = study_levels(median)
    assert kind == "epochs" and len(levels) == 10 and (levels[0], levels[-1]) == (1, 100)


def test_progress_bar() -> None:
    assert progress_bar(3, None) == "3 / no limit"
    assert progress_bar(6, 12) == "[############............]   50%  6 / 12"
    assert progress_bar(30, 12).startswith("[" + "#" * 24 + "]  250%")
