"""What every strategy shares: the plan of a run, the buyer's delays, and the interface the launcher drives."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, NamedTuple

from workers.errors import TicketrushError, Told
from workers.gates import Gate
from workers.messages import BuyerRecord
from workers.speech import Fact
from workers.stores.base import TicketStore

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext
    from multiprocessing.synchronize import Semaphore

    from workers.process import LeanProcess


class Plan(NamedTuple):
    """The plain values every buyer process needs.

    A named tuple, not a dataclass: the launcher, which forks every buyer, then never imports dataclasses (and
    inspect with it), which every fork would copy and every exit tear down.
    """

    strategy: str = "read-write"
    lock: str = "none"
    permits: int | None = None
    lock_ttl_ms: int | None = None
    max_retries: int = 100
    think_ms: tuple[float, float] = (0.0, 0.0)
    hold_ms: tuple[float, float] = (0.0, 0.0)
    seed: int = 0
    lock_timeout_s: float = 30.0
    schedule: tuple[int, ...] | None = None  # the whole schedule the buyers follow, step by step
    start_timeout_s: float = 300.0
    parent_pid: int | None = None

    @property
    def random_delays(self) -> bool:
        return self.think_ms[0] != self.think_ms[1] or self.hold_ms[0] != self.hold_ms[1]

    def rng(self, buyer: int) -> random.Random | None:
        """Buyer `buyer`'s own source of delays: the same seed gives every buyer the same delays."""
        return random.Random(self.seed * 1_000_003 + buyer) if self.random_delays else None


def pause(rng: random.Random | None, bounds: tuple[float, float]) -> None:
    low, high = bounds
    if high <= 0:
        return
    seconds = (low if rng is None or low == high else rng.uniform(low, high)) / 1000
    time.sleep(seconds)


def failure(e: Exception) -> str:
    """An exception as a buyer reports it."""
    return str(e) if isinstance(e, (TicketrushError, Told)) else f"{type(e).__name__}: {e}"


def reported(e: Exception) -> tuple[str, Fact | None]:
    """An exception as a buyer reports it, in English and as its fact where it carries one (else None)."""
    return failure(e), e.fact if isinstance(e, (TicketrushError, Told)) else None


class Strategy:
    """One way of buying. Built in the launcher; `buy` runs in the buyer processes.

    `steps` names the steps of one buyer's visit, in order. `helpers` are processes of the strategy's own (the
    seller) that the launcher starts before the buyers and watches like them; `after_fork` runs in each buyer
    process before its first `buy`.
    """

    kind: ClassVar[str]
    steps: ClassVar[tuple[str, ...]]
    rehearsable: ClassVar[bool] = True  # can run a few buyers on a scratch store before the real ones fork
    buyers_open_store: ClassVar[bool] = True  # each buyer process opens the store (a connection) for itself

    def __init__(self, plan: Plan, store: TicketStore, context: BaseContext, shares: Sequence[range]) -> None:
        self.plan = plan
        self.store = store
        self.gate: Gate = Gate()  # a ScheduleGate when the run follows a schedule
        self.opened: Semaphore | None = None  # released by each buyer process once it has opened the store

    def helpers(self) -> list[LeanProcess]:
        return []

    def after_fork(self, share: int) -> None:
        """Nothing to do by default."""

    def close_launcher_ends(self) -> None:
        """In the launcher, once every buyer is forked: let go of what only the buyers and helpers use."""

    def buy(self, buyer: int) -> BuyerRecord:
        raise NotImplementedError

    def close(self) -> None:
        """Free what this process holds for the strategy."""
