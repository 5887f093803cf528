"""The state machine, every pair of statuses checked against the rules: what may follow what, and nothing leaves
a finished status."""

from __future__ import annotations

import itertools

import pytest

from app.lifecycle import ACTIVE, TERMINAL, InvalidTransition, Status, check_transition

# The rules as the README states them: a queued simulation starts, or ends without running (cancelled, failed,
# or interrupted by the server's death); a running one ends in any finished status; a finished one never changes.
ENDS = {Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.INTERRUPTED}
ALLOWED = {(Status.QUEUED, Status.RUNNING)} | {(Status.QUEUED, end) for end in ENDS - {Status.COMPLETED}}
ALLOWED |= {(Status.RUNNING, end) for end in ENDS}


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_lifecycle_allowed_transition_passes(current: Status, target: Status) -> None:
    check_transition("x", current, target)


@pytest.mark.parametrize(("current", "target"), sorted(set(itertools.product(Status, Status)) - ALLOWED))
def test_lifecycle_illegal_transition_is_refused(current: Status, target: Status) -> None:
    with pytest.raises(InvalidTransition) as caught:
        check_transition("abc", current, target)

    assert caught.value.current == current
    assert str(caught.value) == f"simulation abc is {current}; it cannot become {target}"


def test_lifecycle_finished_statuses_are_the_four_ends() -> None:
    assert TERMINAL == ENDS
    assert {Status.QUEUED, Status.RUNNING} == ACTIVE
