"""Message passing instead of shared data (the lesson's sections 6 and 7): buyers never touch the store. Each
sends a request to one seller process, which alone reads and writes the store and answers every buyer.

    buyer --- request (buyer, its process) ---> one pipe, the seller's queue ---> seller
    buyer <--- answer (sold or sold out) --- a pipe per buyer process <------------'

The requests travel as a multiprocessing.Queue's would (the lesson: a queue is a pipe plus a lock), but without
the lock: each request is one write of a few bytes, which a pipe delivers whole and never interleaved (POSIX,
up to PIPE_BUF), so no buyer killed mid-write can leave a lock held that would stall the others. The seller
takes every request waiting when it looks, reads the count once, decides them in order, holds, writes the
count once and answers each: several requests per read and write, with nothing oversold.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from workers.hygiene import die_with_parent
from workers.messages import BuyerRecord, Outcome
from workers.process import LeanProcess
from workers.speech import Fact, fact, said
from workers.stores.base import TicketStore
from workers.strategies.base import Plan, Strategy, pause, reported

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

_REQUEST = struct.Struct("=iiq")  # buyer, its share (process), when it was sent
_ANSWER = struct.Struct("=iBqqqqq")  # buyer, outcome, count read, taken, read, written (0: none), error length
_OUTCOMES: tuple[Outcome, ...] = ("success", "sold_out", "error")
_MAX_BATCH = 512  # requests read at once: the seller's one read of the pipe (512 * 16 bytes)
_MAX_ERROR = 200
_MAX_ERROR_WITH_FACT = 2000  # its words and its fact, beyond which the words alone are sent, cut short


class Seller(Strategy):
    kind = "seller"
    steps = ("request", "answer")
    rehearsable = False
    buyers_open_store = False  # only the seller does

    def __init__(self, plan: Plan, store: TicketStore, context: BaseContext, shares: Sequence[range]) -> None:
        super().__init__(plan, store, context, shares)
        self.requests_r, self.requests_w = os.pipe()
        self.answers = [os.pipe() for _ in shares]  # (read end, write end) for each buyer process
        self.share = 0
        self._seller = LeanProcess(target=_serve, args=(self,), name="ticketrush-seller")

    def helpers(self) -> list[LeanProcess]:
        return [self._seller]

    def after_fork(self, share: int) -> None:
        self.share = share

    def close_launcher_ends(self) -> None:
        os.close(self.requests_r)
        os.close(self.requests_w)  # the seller sees the end of its queue once every buyer process is gone
        for ends in self.answers:
            for fd in ends:
                os.close(fd)

    def buy(self, buyer: int) -> BuyerRecord:
        """Think, send a request, wait for the seller's answer (at most `lock_timeout_s`)."""
        plan = self.plan
        now = time.monotonic_ns
        rng = plan.rng(buyer)
        t_start = now()
        read = wrote = t_searched = t_sent = t_taken = t_read = t_write = None
        outcome: Outcome = "error"
        error = error_fact = None
        try:
            pause(rng, plan.think_ms)
            t_searched = t_sent = now()
            os.write(self.requests_w, _REQUEST.pack(buyer, self.share, t_sent))
            answer = self._answer_for(buyer, plan.lock_timeout_s)
            if answer is None:
                outcome = "gave_up"
                error_fact = fact("buyer.seller_silent", seconds=f"{plan.lock_timeout_s:g}")
                error = said(error_fact)
            else:
                outcome, read, t_taken, t_read, t_write, error, error_fact = answer
                wrote = read - 1 if outcome == "success" else None
        except Exception as e:  # a buyer reports any failure instead of dying with it
            error, error_fact = reported(e)
        return BuyerRecord(
            buyer, os.getpid(), outcome, None, read, wrote, error,
            t_start, t_searched, t_sent, t_taken, t_read, t_write, now(), error_fact=error_fact,
        )  # fmt: skip

    def _answer_for(
        self, buyer: int, timeout: float
    ) -> tuple[Outcome, int, int, int, int | None, str | None, Fact | None] | None:
        """The seller's answer to `buyer`; answers to earlier buyers of this process that gave up are skipped."""
        fd = self.answers[self.share][0]
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            head = _read_exactly(fd, _ANSWER.size)
            who, code, read, taken, t_read, t_write, error_length = _ANSWER.unpack(head)
            error, error_fact = _told(_read_exactly(fd, error_length)) if error_length else (None, None)
            if who == buyer:
                return _OUTCOMES[code], read, taken, t_read, t_write or None, error, error_fact


def _telling(e: Exception) -> bytes:
    """What a round's failure tells its buyers: its words, then its fact as JSON where it has one and both fit."""
    words, said_as = reported(e)
    data = words.encode()
    if said_as is not None:
        both = data + b"\0" + json.dumps(said_as).encode()
        if len(both) <= _MAX_ERROR_WITH_FACT:
            return both
    return data[:_MAX_ERROR]


def _told(data: bytes) -> tuple[str, Fact | None]:
    """The words and the fact (None: words alone) a buyer was told by `_telling`."""
    words, _, said_as = data.partition(b"\0")
    return words.decode(errors="replace"), json.loads(said_as) if said_as else None


def _read_exactly(fd: int, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            raise EOFError("the seller is gone")
        data += chunk
    return data


def _serve(seller: Seller) -> None:
    """The seller process: answer requests in rounds until every buyer has closed its end of the queue."""
    plan, store = seller.plan, seller.store
    die_with_parent(plan.parent_pid)
    os.close(seller.requests_w)  # so that the queue ends once every buyer process is gone
    answers = [write_end for _, write_end in seller.answers]
    rng = plan.rng(0)
    pending = b""
    store.open()
    try:
        while True:
            data = os.read(seller.requests_r, _MAX_BATCH * _REQUEST.size)
            if not data:
                return
            pending += data
            whole = len(pending) - len(pending) % _REQUEST.size
            batch = [_REQUEST.unpack_from(pending, at) for at in range(0, whole, _REQUEST.size)]
            pending = pending[whole:]
            _decide(batch, store, plan, rng, answers)
    finally:
        store.close()


def _decide(batch: list[tuple[int, int, int]], store: TicketStore, plan: Plan, rng: object, answers: list[int]) -> None:
    """One round: read the count once, decide every request in turn, hold, write once, answer each."""
    now = time.monotonic_ns
    t_taken = now()
    error = b""
    try:
        count = store.read()
        t_read = now()
        decided = []
        for buyer, share, _ in batch:
            decided.append((buyer, share, 0 if count > 0 else 1, count))
            count -= count > 0
        sold = any(code == 0 for _, _, code, _ in decided)
        t_write = 0
        if sold:
            pause(rng, plan.hold_ms)  # type: ignore[arg-type]
            store.before_sale()
            store.write(count)
            t_write = now()
            store.after_sale()
    except Exception as e:  # every buyer of the round is told why
        error = _telling(e)
        t_read = t_write = 0
        decided = [(buyer, share, 2, 0) for buyer, share, _ in batch]
    for buyer, share, code, read in decided:
        message = _ANSWER.pack(buyer, code, read, t_taken, t_read, t_write if code == 0 else 0, len(error)) + error
        os.write(answers[share], message)
