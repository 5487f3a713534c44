"""Counting and timing what an engine asks of its database: for benchmarks, not for production.

Why here: only the store may import SQLAlchemy, and a load benchmark must see the store's work
without knowing how the controller is built (the controller is being rewritten; the probe must
give the same kind of numbers before and after). A :class:`StoreProbe` attached to an engine
counts:

* ``transactions``: every transaction begun on the engine (a read session's too);
* ``commits`` and ``statements``, and statements by kind (``kinds``: verb and first table,
  e.g. ``UPDATE jobs``), which says what a cycle spends its statements on;
* ``db_seconds``: wall time spent inside the driver (each statement's ``execute``, each
  ``commit`` and ``rollback``). Commits are timed by wrapping the dialect's ``do_commit`` /
  ``do_rollback`` of THIS engine, because SQLAlchemy has no event after a commit at the
  connection level, and the commit is where SQLite and PostgreSQL flush their logs.

With ``stamp_decisions=True`` it also notes the wall-clock instant (``time.time()``) right
after the commit that stored each :class:`~slurmhpo.store.models.Decision`: the honest end of
a write-to-decision latency. It relies on decisions being added as ORM objects (as
:func:`~slurmhpo.store.queries.append_decision` does); decisions stored otherwise are simply
not stamped, and the caller falls back to a coarser bound.

The probe works on any engine, e.g. the one inside Optuna's ``RDBStorage``. Detach it with
:meth:`StoreProbe.close`.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from slurmhpo.store.models import Decision

_DECISIONS_KEY = "slurmhpo_probe_decisions"
_VERB = re.compile(r"\s*(\w+)")
_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)", re.IGNORECASE)


def statement_kind(statement: str) -> str:
    """``SELECT jobs``, ``UPDATE studies``, ``BEGIN``...: the verb and the first table."""
    verb = _VERB.match(statement)
    table = _TABLE.search(statement)
    words = [verb.group(1).upper() if verb else "?"]
    if table:
        words.append(table.group(1))
    return " ".join(words)


@dataclass(frozen=True)
class ProbeCounts:
    """Totals since the probe was attached; subtract two snapshots for one interval."""

    transactions: int = 0
    commits: int = 0
    statements: int = 0
    db_seconds: float = 0.0

    def __sub__(self, other: ProbeCounts) -> ProbeCounts:
        return self + ProbeCounts(
            -other.transactions, -other.commits, -other.statements, -other.db_seconds
        )

    def __add__(self, other: ProbeCounts) -> ProbeCounts:
        return ProbeCounts(
            self.transactions + other.transactions,
            self.commits + other.commits,
            self.statements + other.statements,
            self.db_seconds + other.db_seconds,
        )


class StoreProbe:
    """Counts and times the database work of one engine (see the module docstring)."""

    def __init__(self, engine: Engine, *, stamp_decisions: bool = False) -> None:
        self.engine = engine
        self.transactions = 0
        self.commits = 0
        self.statements = 0
        self.db_seconds = 0.0
        self.kinds: Counter[str] = Counter()
        # (study id, decision seq) -> time.time() just after the commit that stored it
        self.decision_commits: dict[tuple[int, int], float] = {}
        self._stamp = stamp_decisions
        self._statement_started = 0.0
        dialect = engine.dialect
        self._originals = {"do_commit": dialect.do_commit, "do_rollback": dialect.do_rollback}
        dialect.do_commit = self._timed(dialect.do_commit, commit=True)  # type: ignore[method-assign]
        dialect.do_rollback = self._timed(dialect.do_rollback, commit=False)  # type: ignore[method-assign]
        self._engine_events: list[tuple[str, Any]] = [
            ("begin", self._on_begin),
            ("before_cursor_execute", self._before_execute),
            ("after_cursor_execute", self._after_execute),
        ]
        self._session_events: list[tuple[str, Any]] = []
        if stamp_decisions:
            self._session_events = [
                ("pending_to_persistent", self._on_persistent),
                ("after_commit", self._on_commit),
                ("after_soft_rollback", self._on_rollback),
            ]
        for name, handler in self._engine_events:
            event.listen(engine, name, handler)
        for name, handler in self._session_events:
            event.listen(Session, name, handler)

    def snapshot(self) -> ProbeCounts:
        return ProbeCounts(self.transactions, self.commits, self.statements, self.db_seconds)

    def close(self) -> None:
        """Detach every hook; the counts stay readable."""
        for name, handler in self._engine_events:
            event.remove(self.engine, name, handler)
        for name, handler in self._session_events:
            event.remove(Session, name, handler)
        for name, original in self._originals.items():
            setattr(self.engine.dialect, name, original)
        self._engine_events, self._session_events = [], []

    # ---- engine hooks ------------------------------------------------------------------------
    def _timed(self, call: Any, *, commit: bool) -> Any:
        def timed(dbapi_connection: Any) -> None:
            began = time.perf_counter()
            try:
                call(dbapi_connection)
            finally:
                self.db_seconds += time.perf_counter() - began
                self.commits += commit

        return timed

    def _on_begin(self, _connection: Any) -> None:
        self.transactions += 1

    def _before_execute(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.kinds[statement_kind(statement)] += 1
        self._statement_started = time.perf_counter()

    def _after_execute(self, *_args: Any) -> None:
        self.db_seconds += time.perf_counter() - self._statement_started
        self.statements += 1

    # ---- session hooks (decision commit instants) --------------------------------------------
    def _ours(self, session: Session) -> bool:
        return session.bind is self.engine

    def _on_persistent(self, session: Session, instance: Any) -> None:
        if isinstance(instance, Decision) and self._ours(session):
            session.info.setdefault(_DECISIONS_KEY, []).append(instance)

    def _on_commit(self, session: Session) -> None:
        stored = session.info.pop(_DECISIONS_KEY, None)
        if stored:
            now = time.time()
            for decision in stored:
                self.decision_commits[(decision.study_id, decision.seq)] = now

    def _on_rollback(self, session: Session, _previous: Any) -> None:
        session.info.pop(_DECISIONS_KEY, None)
