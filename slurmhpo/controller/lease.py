"""Lease take-over: who may drive a study, and taking over from a controller that died here.

A lease row names the one controller driving a study until it expires (judged by the database
server's clock, see :mod:`slurmhpo.store.leases`). A controller that died on this very host
(kill -9, OOM) is known dead at once, so its lease is taken over without waiting for it to
expire; anywhere else, waiting out the TTL is the only safe answer.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import TYPE_CHECKING

from slurmhpo.errors import SlurmhpoError
from slurmhpo.store import leases

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger("slurmhpo.controller")


class LeaseHeld(SlurmhpoError):
    """Another controller drives this study."""


def take_lease(session: Session, study_id: int, owner: str, ttl: float) -> bool:
    """Take (or keep) the study's lease for ``owner``, taking it over from a controller that
    died on this host; False if a live controller holds it."""
    return leases.acquire_lease(session, study_id, owner, ttl) or _take_over_dead_holder(
        session, study_id, owner, ttl
    )


def owner_is_dead_here(owner: str) -> bool:
    """True if lease owner ``host:pid:uuid`` is a process of this host that has ended.

    Unsure answers are False (another host, an unparsable owner, a pid we may not signal),
    so the lease is then left to expire as usual. A reused pid reads as alive: safe too.
    """
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _take_over_dead_holder(session: Session, study_id: int, owner: str, ttl: float) -> bool:
    """Take the lease of a controller that died on THIS host (kill -9, OOM, a crash).

    Without this, a controller restarted right after a crash is refused until the dead
    one's lease expires (``lease_ttl``, 60 s by default). Only a holder whose owner id
    names this host and a process that no longer exists is taken over; the release is
    conditional on that exact owner, so a live controller is never displaced.
    """
    held = leases.current_lease(session, study_id)
    if held is None or not owner_is_dead_here(held[0].owner):
        return False
    dead = held[0].owner
    if not leases.release_lease(session, study_id, dead):
        return False
    taken = leases.acquire_lease(session, study_id, owner, ttl)
    if taken:
        log.warning("took over the lease of %s: that process is gone", dead)
    return taken
