"""Schedules: the race step by step, exactly.

A buyer's visit is a sequence of named steps (read-write and optimistic: `search` reads the count, `read` reads
it again, under the lock where there is one, `write` writes one less back; optimistic's `write` is a
compare-and-set, and a refused one sends the buyer back to `read`). A schedule is a list of buyer numbers: each
entry lets that buyer take its next step. This module is the model of those steps: it follows a schedule on paper
(`follow`), refusing one that cannot be followed with the reason; completes it (buyers left unfinished run to
their end in number order); tells which schedule a finished run followed (`from_records`); and counts every
schedule of a small race (`interleavings`). The buyer processes obey the same steps for real (workers.launcher's
conductor), and the tests check that both agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import NamedTuple

from workers.errors import Refusal
from workers.messages import BuyerRecord
from workers.speech import Fact, all_of, fact

SCHEDULED_STRATEGIES = ("read-write", "optimistic")
MAX_SCHEDULED_BUYERS = 20
MAX_SCHEDULE = 500  # steps of up to 20 buyers: even a schedule of junk one longer fits in a 16 KiB body
MAX_ENUMERATED_BUYERS = 4
MAX_ENUMERATED_RETRIES = 2
STEPS = {"read-write": ("search", "read", "write"), "optimistic": ("search", "read", "write")}


class ScheduleError(Refusal):
    """A schedule that cannot be followed: a buyer with no step left, or one that would wait for a lock."""


class Race(NamedTuple):
    """What the model needs of a config."""

    buyers: int
    tickets: int
    strategy: str
    lock: Fact | str  # "none", or the lock's name as a fact (workers.locks.lock_fact)
    permits: int  # buyers the lock lets in at once (1 for a lock, 0 for none)
    max_retries: int


@dataclass
class _Buyer:
    step: int = 0  # index of the next step in STEPS; len(STEPS) when done
    seen: int | None = None
    read: int | None = None
    version: int = 0
    wrote: int | None = None
    outcome: str | None = None
    retries: int = 0

    def key(self) -> tuple[object, ...]:
        return (self.step, self.seen, self.read, self.version, self.wrote, self.outcome, self.retries)


@dataclass
class Model:
    """The shared state and every buyer's, one step at a time."""

    race: Race
    count: int = 0
    version: int = 0
    holders: list[int] = field(default_factory=list)
    buyers: dict[int, _Buyer] = field(default_factory=dict)

    @classmethod
    def start(cls, race: Race) -> Model:
        return cls(race, race.tickets, 0, [], {b: _Buyer() for b in range(1, race.buyers + 1)})

    def done(self, buyer: int) -> bool:
        return self.buyers[buyer].outcome is not None

    def next_step(self, buyer: int) -> str | None:
        b = self.buyers[buyer]
        return None if b.outcome is not None else STEPS[self.race.strategy][b.step]

    def blocker(self, buyer: int) -> Fact | None:
        """Why `buyer` cannot take its next step now, as a fact (workers.speech says it), or None."""
        if buyer not in self.buyers:
            return fact("schedule.no_such_buyer", buyer=buyer, buyers=self.race.buyers)
        if self.done(buyer):
            return fact("schedule.no_step_left", buyer=buyer)
        if self.next_step(buyer) == "read" and self.race.permits and len(self.holders) >= self.race.permits:
            held = all_of(fact("schedule.holder", buyer=h) for h in self.holders)
            return fact("schedule.waits_for_lock", buyer=buyer, lock=self.race.lock, holders=held)
        return None

    def take(self, buyer: int) -> str:
        """Take `buyer`'s next step; returns its name. Raises ScheduleError when it cannot be taken."""
        reason = self.blocker(buyer)
        if reason is not None:
            raise ScheduleError(reason)
        b = self.buyers[buyer]
        name = STEPS[self.race.strategy][b.step]
        if name == "search":
            b.seen = self.count
            b.step = 1
        elif name == "read":
            b.read, b.version = self.count, self.version
            if self.race.permits:
                self.holders.append(buyer)
            if b.read > 0:
                b.step = 2
            else:
                self._finish(buyer, "sold_out")
        else:  # write
            assert b.read is not None
            if self.race.strategy == "optimistic" and b.version != self.version:
                if b.retries == self.race.max_retries:
                    self._finish(buyer, "gave_up")
                else:
                    b.retries += 1
                    b.step = 1  # refused: read again
                return name
            self.count, self.version = b.read - 1, self.version + 1
            b.wrote = b.read - 1
            self._finish(buyer, "success")
        return name

    def _finish(self, buyer: int, outcome: str) -> None:
        self.buyers[buyer].outcome = outcome
        if buyer in self.holders:
            self.holders.remove(buyer)

    def key(self) -> tuple[object, ...]:
        return (self.count, self.version, tuple(self.holders), tuple(b.key() for b in self.buyers.values()))

    def outcome(self) -> Outcome:
        sold = sum(1 for b in self.buyers.values() if b.outcome == "success")
        return Outcome(oversold=max(0, sold - self.race.tickets), handed_out=sold, remaining=self.count)


class Outcome(NamedTuple):
    oversold: int
    handed_out: int
    remaining: int


def play(race: Race, schedule: Sequence[int]) -> Model:
    """The model after `schedule`'s steps. Raises ScheduleError naming the first entry that cannot be followed."""
    model = Model.start(race)
    for n, buyer in enumerate(schedule, 1):
        try:
            model.take(buyer)
        except ScheduleError as e:
            raise ScheduleError(fact("schedule.at_step", n=n, reason=e.fact)) from None
    return model


def complete(model: Model) -> list[int]:
    """The steps that run every unfinished buyer to its end, in number order (taken on `model`)."""
    rest: list[int] = []
    while True:
        unfinished = [b for b in model.buyers if not model.done(b)]
        if not unfinished:
            return rest
        runnable = [b for b in unfinished if model.blocker(b) is None]
        if not runnable:
            raise ScheduleError(fact("schedule.stuck", reason=model.blocker(unfinished[0])))
        model.take(runnable[0])
        rest.append(runnable[0])


def follow(race: Race, schedule: Sequence[int]) -> tuple[list[int], Model]:
    """Follow `schedule`, then let every unfinished buyer run to its end in number order; return the whole schedule
    and the model at the end. Raises ScheduleError naming the first entry that cannot be followed."""
    model = play(race, schedule)
    return [*schedule, *complete(model)], model


def from_records(race: Race, records: Sequence[BuyerRecord]) -> list[int] | None:
    """The schedule a finished run followed, from its records' timestamps, if the model confirms it: following it
    gives every buyer the counts it reported. None when it cannot be told (an optimistic buyer that retried, whose
    earlier reads are not recorded; a buyer that gave up or failed; timestamps that disagree with the counts)."""
    if race.strategy not in SCHEDULED_STRATEGIES or race.buyers > MAX_SCHEDULED_BUYERS:
        return None
    events: list[tuple[int, int, int]] = []
    for r in records:
        if r.outcome not in ("success", "sold_out") or r.retries or r.t_start is None or r.t_read is None:
            return None
        events.append((r.t_start, 0, r.buyer))
        events.append((r.t_read, 1, r.buyer))
        if r.outcome == "success":
            if r.t_write is None:
                return None
            events.append((r.t_write, 2, r.buyer))
    schedule = [buyer for _, _, buyer in sorted(events)]
    try:
        _, model = follow(race, schedule)
    except ScheduleError:
        return None
    for r in records:
        b = model.buyers[r.buyer]
        if (b.outcome, b.read, b.wrote) != (r.outcome, r.read, r.wrote):
            return None
    return schedule


class Interleavings(NamedTuple):
    total: int
    outcomes: list[tuple[Outcome, int, list[int]]]  # each distinct outcome, how many schedules give it, a witness


def interleavings(race: Race) -> Interleavings:
    """Every complete schedule of a small race, grouped by outcome, with one witness schedule each."""

    @cache
    def walk(key: tuple[object, ...]) -> tuple[tuple[Outcome, int, tuple[int, ...]], ...]:
        model = _states[key]
        runnable = [b for b in model.buyers if not model.done(b) and model.blocker(b) is None]
        if not runnable:
            return ((model.outcome(), 1, ()),)
        found: dict[Outcome, list[object]] = {}
        for buyer in runnable:
            after = _copy(model)
            after.take(buyer)
            _states.setdefault(after.key(), after)
            for outcome, n, witness in walk(after.key()):
                if outcome in found:
                    found[outcome][0] = int(found[outcome][0]) + n  # type: ignore[call-overload]
                else:
                    found[outcome] = [n, (buyer, *witness)]
        return tuple((o, int(v[0]), tuple(v[1])) for o, v in found.items())  # type: ignore[call-overload, arg-type]

    _states: dict[tuple[object, ...], Model] = {}
    start = Model.start(race)
    _states[start.key()] = start
    results = walk(start.key())
    ordered = sorted(results, key=lambda r: (-r[0].oversold, r[0].remaining))
    return Interleavings(
        total=sum(n for _, n, _ in ordered), outcomes=[(o, n, list(witness)) for o, n, witness in ordered]
    )


def _copy(model: Model) -> Model:
    return Model(
        model.race,
        model.count,
        model.version,
        list(model.holders),
        {b: _Buyer(*s.key()) for b, s in model.buyers.items()},  # type: ignore[arg-type]
    )
