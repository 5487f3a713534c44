"""Checkpoints one trial starts from that another trial wrote (population-based training).

When PBT's exploit step starts a new trial at resource r from a donor's state, the controller
copies the donor's checkpoint at r into the new trial's checkpoint folder before its first job
is submitted (on a cluster the run folders are on the shared file system, so this is one file
copy where the controller runs). Two things make that safe:

* **The donor's checkpoint at r must still exist.** A trial's own jobs keep only their two
  newest checkpoints (:mod:`slurmhpo.trial`), and a donor is usually resumed before anybody
  exploits it. So before a segment of such a study starts from resource s > 0, the controller
  keeps the trial's checkpoint at s: a hard link in ``kept-checkpoints/`` (no data copied; it
  survives the trial's own pruning, since checkpoints are replaced, never changed in place).
  The copy then takes the kept file, or the live one of a donor still paused at r.
* **A controller killed mid-copy must leave no half checkpoint.** :func:`copy_atomic` copies
  to a temporary name that checkpoint readers never accept, then renames. The copy is redone
  by the next controller (the segment is still pending), and skipped once the trial has a
  checkpoint at r or later.

Disk cost: one kept link per boundary a trial passes, i.e. one checkpoint per segment
(deleting a study's run folder frees them).
"""

from __future__ import annotations

import logging
from pathlib import Path

from slurmhpo.paths import TrialPaths, copy_atomic, list_checkpoints

log = logging.getLogger("slurmhpo.controller")


def keep_checkpoint(paths: TrialPaths, resource: int) -> Path | None:
    """Link the trial's checkpoint at ``resource`` into its kept folder (idempotent); the
    kept path, or None when the trial has no checkpoint at exactly that resource."""
    for found, path in list_checkpoints(paths.checkpoint_dir):
        if found == resource:
            kept = paths.kept_dir / path.name
            if not kept.exists():
                copy_atomic(path, kept, link=True)
            return kept
    return None


def copy_checkpoint(donor: TrialPaths, paths: TrialPaths, resource: int) -> Path | None:
    """Give the trial of ``paths`` the donor's checkpoint at ``resource`` (see the module
    docstring); returns the copy, or None when there was nothing to do or nothing to copy."""
    if any(found >= resource for found, _ in list_checkpoints(paths.checkpoint_dir)):
        return None  # copied before (or the trial already went on from it)
    source = _source(donor, resource)
    if source is None:
        log.warning(
            "trial %d starts at %d from trial %d's state, but %s holds no checkpoint at or "
            "below %d: it trains from scratch (does the script save a checkpoint at every "
            "boundary? docs/trials.md)",
            paths.trial, resource, donor.trial, donor.checkpoint_dir, resource,
        )  # fmt: skip
        return None
    found, path = source
    if found != resource:
        log.warning(
            "trial %d starts at %d from trial %d's newest checkpoint at or below it, at %d",
            paths.trial, resource, donor.trial, found,
        )  # fmt: skip
    target = paths.checkpoint_dir / path.name
    copy_atomic(path, target)
    return target


def _source(donor: TrialPaths, resource: int) -> tuple[int, Path] | None:
    """The donor's checkpoint at ``resource`` (kept first), else its newest below it."""
    candidates = list_checkpoints(donor.kept_dir) + list_checkpoints(donor.checkpoint_dir)
    below = [(found, path) for found, path in candidates if found <= resource]
    return max(below, key=lambda item: item[0], default=None)
