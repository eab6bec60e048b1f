"""Other job queues, measured the way bench/engine_throughput.py measures activitylog's engine:
a no-op task, one producer enqueueing one by one, one worker process.

One module per peer. Each imports its library only when it runs: the peers are not project
dependencies (bench/setup.sh installs them into .venv), so nothing here needs them installed to
be imported or type-checked.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable

from peers import celery_noop, procrastinate_noop
from peers.peer_run import PeerFailed, PeerRun, PeerSettings

__all__ = ["PEERS", "Peer", "PeerFailed", "PeerRun", "PeerSettings", "importable_peers"]


@dataclasses.dataclass(frozen=True, slots=True)
class Peer:
    name: str
    library: str
    """The module whose presence means the peer can run."""
    broker: str
    """What it keeps its queue in: "redis" or "postgresql"."""
    measure: Callable[[PeerSettings], PeerRun]
    reference: float
    """Its jobs/s on this machine kind as issue #7 reports it (one producer, one worker)."""
    target: float
    """How many times its jobs/s activitylog's engine aims at (issue #7)."""


PEERS = {
    "celery": Peer("celery", "celery", "redis", celery_noop.measure, 290.0, 2.0),
    "procrastinate": Peer(
        "procrastinate", "procrastinate", "postgresql", procrastinate_noop.measure, 190.0, 3.0
    ),
}


def importable_peers() -> tuple[str, ...]:
    return tuple(name for name, peer in PEERS.items() if importlib.util.find_spec(peer.library))
