"""The engine's exceptions: one shallow tree, all picklable so they can cross a process boundary."""


class TicketrushError(Exception):
    """Base class for every error the engine raises on purpose."""


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
