"""What lets a buyer take its next step: at once (`Gate`), or when a schedule says so (`ScheduleGate`).

A strategy calls `before(buyer)` ahead of each step of a visit and `after(buyer)` once the step is done (after the
lock is given back, when the step ends the visit). Under a schedule the launcher's conductor releases one step at
a time, in the schedule's order, and waits for each to be done before releasing the next:

    conductor (launcher)                 buyer 2's process
      go[2].release()      ----------->  before(2): go[2].acquire()   ... the step ...
      waits on the acks    <-----------  after(2): one 4-byte write to the acks pipe

A step a buyer could not finish (it failed) is reported with the buyer's number negated.
"""

from __future__ import annotations

import contextlib
import os
import select
import struct
from typing import TYPE_CHECKING

from workers.errors import Told
from workers.speech import fact

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

_ACK = struct.Struct("=i")


class NotReleased(Told):
    """The conductor never released this step (the run was stopped)."""


class StartLine:
    """Where the buyers of a run started together wait: one byte written to a pipe releases them all at once.

    Each buyer waits for the pipe to be readable and never reads, so the byte stays and every waiter sees it. A
    multiprocessing Event wakes its waiters one after another instead: each takes the Event's shared lock in
    turn, and `set` waits until every one has said it woke.
    """

    def __init__(self) -> None:
        self._r, self._w = os.pipe()

    def wait(self, timeout_s: float) -> bool:
        """True once released; False if `timeout_s` passed first."""
        return bool(select.select([self._r], [], [], timeout_s)[0])

    def release(self) -> None:
        os.write(self._w, b"!")

    def close(self) -> None:
        for fd in (self._r, self._w):
            with contextlib.suppress(OSError):
                os.close(fd)


class Gate:
    """No schedule: every step goes at once."""

    scheduled = False

    def before(self, buyer: int) -> None:
        pass

    def after(self, buyer: int) -> None:
        pass

    def failed(self, buyer: int) -> None:
        pass


class ScheduleGate(Gate):
    """Each buyer waits for its own go before every step; the conductor hears each step done over one pipe."""

    scheduled = True

    def __init__(self, context: BaseContext, buyers: int, timeout_s: float) -> None:
        self.go = [context.Semaphore(0) for _ in range(buyers + 1)]  # go[b] for buyer b (go[0] unused)
        self.acks_r, self.acks_w = os.pipe()
        self.timeout_s = timeout_s

    def before(self, buyer: int) -> None:
        if not self.go[buyer].acquire(timeout=self.timeout_s):
            raise NotReleased(fact("gate.not_released", seconds=f"{self.timeout_s:g}"))

    def after(self, buyer: int) -> None:
        os.write(self.acks_w, _ACK.pack(buyer))

    def failed(self, buyer: int) -> None:
        os.write(self.acks_w, _ACK.pack(-buyer))

    def release(self, buyer: int) -> None:
        self.go[buyer].release()

    def heard(self) -> int:
        """The next ack: a buyer whose step is done (negative: it failed)."""
        data = os.read(self.acks_r, _ACK.size)
        if len(data) != _ACK.size:
            raise EOFError("no buyer can report a step any more")
        return int(_ACK.unpack(data)[0])
