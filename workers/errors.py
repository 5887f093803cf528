"""The engine's exceptions: one shallow tree, all picklable so they can cross a process boundary."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from workers.speech import Fact, fact, is_fact, said

if TYPE_CHECKING:
    from workers.messages import BuyerRecord


class TicketrushError(Exception):
    """Base class for every error the engine raises on purpose: its message is words, or a fact (workers.speech)
    that str() says in English and a face says in its user's language (workers.speech.told)."""

    def __init__(self, message: str | Fact = "", *args: object) -> None:
        super().__init__(message, *args)
        self.message = message
        self.fact = message if is_fact(message) else None

    def __str__(self) -> str:
        return said(self.message)


class Told(Exception):
    """An error whose message is a fact (workers.speech): str() says it in English; a face says its `fact` in its
    user's language (workers.speech.told)."""

    def __init__(self, fact: Fact) -> None:
        super().__init__(fact)
        self.fact = fact

    def __str__(self) -> str:
        return said(self.fact)


class Refusal(Told, ValueError):
    """Input the engine refuses; a ValueError, so that a pydantic validator that raises it refuses its field."""


class DbError(TicketrushError):
    """The ticket database file is missing, unreadable or not of the form {"count": n}."""


class LockTimeout(TicketrushError):
    """A buyer gave up waiting for the lock."""


class RunCancelled(TicketrushError):
    """The run was cancelled before it finished."""


class RunTimedOut(TicketrushError):
    """The run went past its time limit."""


class RunFailed(TicketrushError):
    """The run could not be carried out (processes could not start, the db could not be read)."""


class StoreRefused(TicketrushError):
    """A run its store cannot take, refused before it starts: no server named, or more connections than it allows.

    `field`, `value` and `limit` say which setting of the run is refused, for a face that names fields; the
    message is words, or a fact (workers.speech) that a face says in its user's language.
    """

    def __init__(
        self, message: str | Fact, field: str = "store", value: object = None, limit: int | None = None
    ) -> None:
        super().__init__(message, field, value, limit)
        self.field = field
        self.value = value
        self.limit = limit


class StoreLost(TicketrushError):
    """The store's server could not be reached, or closed the connection."""


class WriteConflict(TicketrushError):
    """The store refused a transaction because another one committed first (a serialization failure)."""


class StoreFailed(RunFailed):
    """The store's server failed the run mid-way; `records` keeps what the buyers had reported by then."""

    def __init__(self, message: str | Fact, records: Iterable[BuyerRecord] = ()) -> None:
        super().__init__(message)
        self.records = list(records)


def exit_cause(exitcode: int | None) -> Fact:
    """How a child process ended, for error messages: "was killed by signal 9" or "exited with code 1"."""
    if exitcode is not None and exitcode < 0:
        return fact("exit.signal", signal=-exitcode)
    return fact("exit.code", code=exitcode)


def time_limit_passed(seconds: float) -> Fact:
    """Why a run stopped at its time limit: "the run went past its time limit of 5 s"."""
    return fact("run.time_limit", seconds=f"{seconds:g}")


def gave_up_waiting(seconds: float, lock: Fact) -> Fact:
    """Why a buyer stopped waiting for `lock`: "gave up after waiting 2 s for the process lock"."""
    return fact("lock.gave_up", seconds=f"{seconds:g}", lock=lock)
