"""One long-lived process that drives every active study of a database.

Each round the daemon lists the studies that are not over (registered, running, paused,
stopping), tries to take the lease of each one it does not drive yet (a :class:`Controller`
per study), runs one cycle of every controller it holds, then sleeps. A lease held by someone
else (:class:`LeaseHeld`) is skipped silently and tried again next round, which is how
several daemons share one database: each study is driven by exactly one of them at a time,
and when a daemon dies its studies move to another once their leases expire.

A study that ends (finished or cancelled) is dropped and its lease released. A study whose
cycle fails (say, sbatch refuses its partition) is dropped too, logged, and retried after
``retry_after`` seconds, so one broken study never stops the others. On :meth:`request_stop`
(SIGTERM/SIGINT) the daemon finishes the current round and releases every lease it holds;
jobs keep running and whoever drives the studies next re-adopts them.

Login-node manners, whatever the number of studies:

* **Status queries**: the Slurm backends of all studies share one
  :class:`~slurmhpo.backends.slurm_queries.SlurmQueries`. Before cycling, the daemon asks
  Slurm once about the jobs of every study it holds (one squeue, one sacct) and each study's
  poll is answered from that snapshot.
* **Actions**: at most ``max_acting_studies`` studies per round submit or cancel jobs; the
  others observe and decide, and their new jobs wait as pending rows for a later round. The
  order of the studies rotates from round to round, so none is starved. A round therefore
  runs at most 2 status commands plus ``max_acting_studies`` x (sbatch, scancel, and the
  squeue+sacct pair that re-adopts jobs after a restart) Slurm commands, and
  :attr:`Daemon.last_round_commands` says how many it did run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from slurmhpo.backends.base import Backend
from slurmhpo.backends.slurm_queries import SlurmQueries
from slurmhpo.controller.build import build_controller
from slurmhpo.controller.lease import LeaseHeld
from slurmhpo.controller.loop import Controller
from slurmhpo.controller.studies import make_backend
from slurmhpo.errors import SlurmhpoError, StoreError
from slurmhpo.store.commands import active_study_names
from slurmhpo.store.db import read_session
from slurmhpo.store.queries import get_study
from slurmhpo.study import StudySpec

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("slurmhpo.daemon")


@dataclass(frozen=True)
class DaemonOptions:
    """Knobs of the daemon; the defaults suit a login node."""

    poll_interval: float = 5.0
    lease_ttl: float = 60.0
    retry_after: float = 60.0  # seconds before a study whose cycle failed is tried again
    exit_when_idle: bool = False  # stop once no study of the database is active
    max_acting_studies: int = 8  # studies that may submit or cancel jobs in one round


class Daemon:
    """Drives every active study of ``engine``'s database (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        options: DaemonOptions,
        backend_for: Callable[[StudySpec], Backend] | None = None,
    ) -> None:
        self.engine = engine
        self.options = options
        self.slurm_queries = SlurmQueries()  # shared by the Slurm backends of all studies
        self.backend_for = backend_for or self._shared_backend
        self.held: dict[str, Controller] = {}
        self.last_round_commands: Counter[str] = Counter()  # Slurm commands, by name
        self._failed_at: dict[str, float] = {}
        self._rounds = 0
        self._stop = threading.Event()

    def _shared_backend(self, spec: StudySpec) -> Backend:
        return make_backend(spec, slurm_queries=self.slurm_queries)

    def request_stop(self) -> None:
        """Stop after the current round (safe to call from a signal handler)."""
        self._stop.set()

    def run(self) -> None:
        """Rounds until a stop is requested (or, with ``exit_when_idle``, nothing is left)."""
        log.info("daemon started (poll every %.3g s)", self.options.poll_interval)
        try:
            while not self._stop.is_set():
                try:
                    active = self.round()
                except StoreError as exc:  # e.g. the database restarts: not a reason to quit
                    log.error("database error: %s; retrying next round", exc)
                    active = None  # unknown: not idle
                if self.options.exit_when_idle and active == 0:
                    log.info("no active study left; exiting")
                    break
                self._stop.wait(self.options.poll_interval)
        finally:
            self.release_all()
        log.info("daemon stopped")

    def round(self) -> int:
        """Adopt what is free, cycle what is held; returns how many studies are active."""
        with read_session(self.engine) as session:
            names = active_study_names(session)
        for name in names:
            if name not in self.held and not self._backing_off(name):
                self._adopt(name)
        before = Counter(self.slurm_queries.calls)
        self._prefetch_statuses()
        try:
            acting = self.options.max_acting_studies
            for name in self._rotated(list(self.held)):
                if self._stop.is_set():
                    break
                acting -= self._cycle(name, act=acting > 0)
        finally:
            self.slurm_queries.forget()
        self.last_round_commands = Counter(self.slurm_queries.calls) - before
        if self.last_round_commands:
            log.debug("round: %d studies held, Slurm commands %s", len(self.held),
                      dict(self.last_round_commands))  # fmt: skip
        return len(names)

    def _prefetch_statuses(self) -> None:
        """One squeue + one sacct for the jobs of every held study on Slurm (module doc)."""
        ids: list[str] = []
        for name, controller in list(self.held.items()):
            if controller.backend.name != "slurm":
                continue
            try:
                ids += controller.external_ids()
            except SlurmhpoError as exc:  # a database hiccup: that study's poll asks itself
                log.warning("study %s: cannot list its jobs: %s", name, exc)
        if ids:
            self.slurm_queries.prefetch(ids)

    def _rotated(self, names: list[str]) -> list[str]:
        """``names`` starting one further each round, so every study gets to act in turn."""
        self._rounds += 1
        if not names:
            return names
        shift = self._rounds % len(names)
        return names[shift:] + names[:shift]

    def release_all(self) -> None:
        """Release every lease this daemon holds (jobs go on)."""
        for name in list(self.held):
            self._drop(name, release=True)

    # ---- per study -------------------------------------------------------------------------
    def _adopt(self, name: str) -> None:
        try:
            controller = self._controller(name)
            controller.open()
        except LeaseHeld:
            return  # another daemon (or `slurmhpo run`) drives it: try again next round
        except SlurmhpoError as exc:
            log.error("cannot drive study %s: %s (retrying in %.0f s)", name, exc, self._wait())
            self._failed_at[name] = time.monotonic()
            return
        self.held[name] = controller
        log.info("took study %s as %s", name, controller.owner)

    def _controller(self, name: str) -> Controller:
        with read_session(self.engine) as session:
            spec = StudySpec.from_dict(get_study(session, name).spec)
        return build_controller(
            self.engine,
            name,
            backend=self.backend_for(spec),
            poll_interval=self.options.poll_interval,
            lease_ttl=self.options.lease_ttl,
        )

    def _cycle(self, name: str, *, act: bool) -> int:
        """One cycle of a held study; returns 1 if it submitted or cancelled, else 0."""
        controller = self.held[name]
        try:
            more = controller.cycle(act=act)
        except LeaseHeld as exc:
            log.warning("study %s: %s", name, exc)
            self._drop(name, release=False)
            return 1
        except SlurmhpoError as exc:
            log.error("study %s: %s (retrying in %.0f s)", name, exc, self._wait())
            self._failed_at[name] = time.monotonic()
            self._drop(name, release=True)
            return 1
        if not more:
            log.info("study %s is %s; dropping it", name, controller.study.state)
            self._drop(name, release=True)
        return 1 if controller.backend_actions else 0

    def _drop(self, name: str, *, release: bool) -> None:
        controller = self.held.pop(name)
        if not release:
            return
        try:
            controller.close()
        except SlurmhpoError as exc:  # the lease then expires by itself
            log.warning("study %s: could not release its lease: %s", name, exc)

    def _backing_off(self, name: str) -> bool:
        failed = self._failed_at.get(name)
        return failed is not None and time.monotonic() - failed < self._wait()

    def _wait(self) -> float:
        return self.options.retry_after
