"""Lease contract on SQLite and PostgreSQL: one holder at a time, expiry by the server clock."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine, update

from slurmhpo.store import queries as q
from slurmhpo.store.db import make_engine, read_session, write_session
from slurmhpo.store.leases import (
    acquire_lease,
    current_lease,
    make_owner,
    release_lease,
    renew_lease,
)
from slurmhpo.store.models import Lease


def _study_id(engine: Engine) -> int:
    with write_session(engine) as s:
        return q.create_study(s, "s", {}, "loss", "min").id


def _acquire(engine: Engine, study_id: int, owner: str, ttl: float = 60.0) -> bool:
    with write_session(engine) as s:
        return acquire_lease(s, study_id, owner, ttl)


def _expire(engine: Engine, study_id: int) -> None:
    """Make the lease lapse without waiting: expiry := its last heartbeat (in the past)."""
    with write_session(engine) as s:
        s.execute(
            update(Lease).where(Lease.study_id == study_id).values(expires_at=Lease.heartbeat_at)
        )


def test_owner_id_names_host_and_pid() -> None:
    host, pid, token = make_owner().split(":")
    assert host and pid.isdigit() and len(token) == 32
    assert make_owner() != make_owner()


def test_refused_while_held_by_another_session(engine: Engine, db_url: str) -> None:
    study_id = _study_id(engine)
    other = make_engine(db_url)
    try:
        assert _acquire(engine, study_id, "a")
        assert not _acquire(other, study_id, "b")
        with write_session(other) as s:
            assert not renew_lease(s, study_id, "b", 60)
            assert not release_lease(s, study_id, "b")
        with read_session(other) as s:
            found = current_lease(s, study_id)
            assert found is not None and found[0].owner == "a" and found[1] is True
    finally:
        other.dispose()


def test_reacquire_and_renew_keep_acquired_at(engine: Engine) -> None:
    study_id = _study_id(engine)
    assert _acquire(engine, study_id, "a", ttl=10)
    with read_session(engine) as s:
        first = current_lease(s, study_id)
        assert first is not None
        acquired = first[0].acquired_at
    assert _acquire(engine, study_id, "a", ttl=3600)
    with write_session(engine) as s:
        assert renew_lease(s, study_id, "a", 7200)
    with read_session(engine) as s:
        found = current_lease(s, study_id)
        assert found is not None
        lease, live = found
        assert live and lease.acquired_at == acquired
        # expiry = server time of the heartbeat + ttl, both taken by the server in one statement
        assert abs((lease.expires_at - lease.heartbeat_at) - timedelta(seconds=7200)) < timedelta(
            milliseconds=2
        )


def test_expired_lease_can_be_taken_over(engine: Engine, db_url: str) -> None:
    study_id = _study_id(engine)
    other = make_engine(db_url)
    try:
        assert _acquire(engine, study_id, "a")
        _expire(engine, study_id)
        with read_session(engine) as s:
            found = current_lease(s, study_id)
            assert found is not None and found[1] is False
        assert _acquire(other, study_id, "b")
        with write_session(engine) as s:  # the old holder learns it lost the study
            assert not renew_lease(s, study_id, "a", 60)
        assert not _acquire(engine, study_id, "a")
    finally:
        other.dispose()


def test_release_frees_the_lease_at_once(engine: Engine) -> None:
    study_id = _study_id(engine)
    assert _acquire(engine, study_id, "a")
    with write_session(engine) as s:
        assert release_lease(s, study_id, "a")
    assert _acquire(engine, study_id, "b")


@pytest.mark.parametrize("lapsed_holder", [False, True], ids=["no-row", "expired-row"])
def test_racing_controllers_get_exactly_one_winner(
    engine: Engine, db_url: str, lapsed_holder: bool
) -> None:
    """Fresh study (INSERT race) and a lapsed lease (conditional UPDATE race)."""
    study_id = _study_id(engine)
    if lapsed_holder:
        assert _acquire(engine, study_id, "old")
        _expire(engine, study_id)
    engines = [make_engine(db_url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))
    results: dict[str, bool] = {}

    def contend(index: int, eng: Engine) -> None:
        barrier.wait()
        results[f"c{index}"] = _acquire(eng, study_id, f"c{index}")

    threads = [threading.Thread(target=contend, args=(i, e)) for i, e in enumerate(engines)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in engines:
        e.dispose()
    winners = [name for name, won in results.items() if won]
    assert len(results) == 4 and len(winners) == 1
    with read_session(engine) as s:
        found = current_lease(s, study_id)
        assert found is not None and found[0].owner == winners[0]
