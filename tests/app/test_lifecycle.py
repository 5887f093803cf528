"""The state machine: what may follow what, and nothing leaves a finished status."""

from __future__ import annotations

import itertools

import pytest

from app.lifecycle import FINISHED, TRANSITIONS, UNFINISHED, InvalidTransition, Status, check_transition

ALLOWED = {
    (Status.QUEUED, Status.RUNNING),
    (Status.QUEUED, Status.CANCELLED),
    (Status.QUEUED, Status.FAILED),
    (Status.QUEUED, Status.INTERRUPTED),
    (Status.RUNNING, Status.COMPLETED),
    (Status.RUNNING, Status.FAILED),
    (Status.RUNNING, Status.CANCELLED),
    (Status.RUNNING, Status.INTERRUPTED),
}


def test_lifecycle_allows_exactly_the_drawn_transitions() -> None:
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == ALLOWED


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_lifecycle_allowed_transition_passes(current: Status, target: Status) -> None:
    check_transition("x", current, target)


@pytest.mark.parametrize(("current", "target"), sorted(set(itertools.product(Status, Status)) - ALLOWED))
def test_lifecycle_illegal_transition_is_refused(current: Status, target: Status) -> None:
    with pytest.raises(InvalidTransition) as caught:
        check_transition("abc", current, target)

    assert caught.value.current == current
    assert str(caught.value) == f"simulation abc is {current}; it cannot become {target}"


def test_lifecycle_finished_and_unfinished_cover_every_status() -> None:
    assert set(Status) == FINISHED | UNFINISHED
    assert not FINISHED & UNFINISHED
    assert all(not TRANSITIONS[s] for s in FINISHED)
