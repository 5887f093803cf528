"""A simulation's lifecycle: an explicit state machine.

    queued --> running --> completed
       |          |------> failed
       |          |------> cancelled
       |          `------> interrupted   (the server died while it ran)
       |-----> cancelled | failed | interrupted

Every status change goes through `Store.transition`, which asks `check_transition` first and so refuses an
illegal move (a finished simulation never starts again, a cancelled one never completes), as futures refuse
with InvalidStateError.
"""

from __future__ import annotations

from enum import StrEnum

from workers.speech import Fact, fact, said


class Status(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.QUEUED: frozenset({Status.RUNNING, Status.CANCELLED, Status.FAILED, Status.INTERRUPTED}),
    Status.RUNNING: frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.INTERRUPTED}),
    Status.COMPLETED: frozenset(),
    Status.FAILED: frozenset(),
    Status.CANCELLED: frozenset(),
    Status.INTERRUPTED: frozenset(),
}

ACTIVE = frozenset({Status.QUEUED, Status.RUNNING})
TERMINAL = frozenset(Status) - ACTIVE


class InvalidTransition(Exception):
    """A status change the lifecycle does not allow, such as cancelling a completed simulation."""

    def __init__(self, sim_id: str, current: Status, target: Status) -> None:
        super().__init__(sim_id, current, target)
        self.sim_id = sim_id
        self.current = current
        self.target = target

    @property
    def fact(self) -> Fact:
        """What it says, in any language (workers.speech)."""
        current, target = fact(f"status.{self.current}"), fact(f"status.{self.target}")
        return fact("lifecycle.invalid_transition", id=self.sim_id, status=current, target=target)

    def __str__(self) -> str:
        return said(self.fact)


def check_transition(sim_id: str, current: Status, target: Status) -> None:
    """Raise InvalidTransition unless a simulation may go from `current` to `target`."""
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(sim_id, current, target)
