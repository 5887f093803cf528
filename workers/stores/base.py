"""The store interface: what every strategy is written against.

A store object is made by the coordinator, travels to the launcher by pickling, and reaches the buyer
processes by fork. Each side calls its own part:

    coordinator   connection_problem(n) why n connections are more than the store's server takes (or None)
                  create(tickets)   the tickets exist before any buyer starts; a failure fails the run early
                  remove_leftovers() what killed writers left behind (also for a run killed with its server)
    launcher      share(context)    make what the buyers share through fork (shared memory); before forking
                  final_count()     the tickets left, once every buyer has finished
    each process  open() ... close()  its own handle (a file descriptor, a connection), never inherited
                  read(), write(n)                       the lesson's way: read the count, write one back
                  read_versioned(), compare_and_set(v, n) optimistic concurrency, where the store can
                  take_one()                             check and decrement in one step, where the store can
                  transaction(kind, timeout)             the store's own isolation: "for-update" (a write lock
                                                         from the first read to the commit), "serializable"
                  before_sale(), after_sale()            work a store can do outside the critical section
    the caller    drop()            remove what the run left outside its folder (a table, keys), when the run
                                    is deleted

A method a store cannot do raises NotImplementedError; `workers.support` keeps strategies off such stores.
Inside `transaction`, `read` and `write` belong to the transaction; a refused commit raises WriteConflict, a
lock wait that runs out LockTimeout. A store on a server raises StoreLost when the server cannot be reached or
closes the connection (see `ServerStore`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import select
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from workers.errors import StoreLost
from workers.speech import Fact, fact, is_fact

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

TRANSACTION_KINDS = ("for-update", "serializable")
WORDS_KEPT = 500  # characters of a server's words kept in a notice, which is one write of at most PIPE_BUF bytes


class TicketStore:
    kind: ClassVar[str]
    label: ClassVar[str]  # what the explanation calls it
    site_packages: ClassVar[bool] = False  # its buyers import installed packages (a database client)
    server: ClassVar[str | None] = None  # the server it lives on ("PostgreSQL"), None for a store of its own
    write_lock: ClassVar[str | None] = None  # what a for-update transaction waits for, where the store has one

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    @property
    def lock_path(self) -> Path:
        """Where a file lock guarding this store lives: a file of its own, never the store itself."""
        return self.run_dir / "tickets.lock"

    def home(self) -> Fact:
        """Where the tickets live, as the explanation says it ("the PostgreSQL table ticketrush_...")."""
        return fact("home.db")

    def connection_problem(self, connections: int, who: Fact) -> Fact | None:
        """Why a run that opens `connections` at once (`who` opens them) is more than the store takes; None: it
        is not. A store without a server takes any number."""
        return None

    def admit(self, timeout_s: float) -> None:
        """Wait, at most `timeout_s`, until no other run on this store's server is between its connection check
        and its buyers' connections, then keep the next one waiting until `admitted`: two runs that start at
        the same instant are checked one after the other, each against the connections the other opened.
        Nothing to wait for without a server."""

    def admitted(self) -> None:
        """This run's buyers have opened their connections, or the run ended: let the next run be checked."""

    def create(self, tickets: int) -> None:
        raise NotImplementedError

    def remove_leftovers(self) -> int:
        return 0

    def drop(self) -> None:
        """Nothing outside the run's folder to remove by default."""

    def scratch(self) -> TicketStore | None:
        """A store of the same kind beside this one, for a rehearsal; None: this store cannot have one."""
        return None

    def share(self, context: BaseContext) -> None:
        """Nothing to share by default: each process opens the store itself."""

    def notices(self) -> int | None:
        """A descriptor the launcher watches for news from the buyers' side of the store (see ServerStore)."""
        return None

    def final_count(self) -> int:
        return self.read()

    def open(self) -> None:
        """Nothing to open by default."""

    def close(self) -> None:
        """Nothing to close by default."""

    def read(self) -> int:
        raise NotImplementedError

    def write(self, count: int) -> None:
        raise NotImplementedError

    def read_versioned(self) -> tuple[int, int]:
        raise NotImplementedError

    def compare_and_set(self, version: int, count: int) -> bool:
        raise NotImplementedError

    def take_one(self) -> int | None:
        """Take a ticket if one is left, in one step no other buyer can come between: the count left after it,
        or None when there was none."""
        raise NotImplementedError

    def begin(self, kind: str, timeout: float) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def rollback(self) -> None:
        raise NotImplementedError

    @contextlib.contextmanager
    def transaction(self, kind: str, timeout: float) -> Iterator[None]:
        """`with store.transaction("for-update", 30):` begin, run the block, commit; roll back if it raises."""
        self.begin(kind, timeout)
        try:
            yield
        except BaseException:
            self.rollback()
            raise
        self.commit()

    def before_sale(self) -> None:
        """Called by a buyer that expects to sell, before it enters the critical section."""

    def after_sale(self) -> None:
        """Called by a buyer once it has left the critical section."""


def first_line(error: BaseException) -> str:
    """An exception's message as one line: a server's first line says what happened, the rest why it might."""
    lines = str(error).strip().splitlines()
    return lines[0].strip().rstrip(".") if lines else type(error).__name__


def store_label(store: TicketStore) -> Fact:
    """What a message calls the store ("the PostgreSQL table"), in any language."""
    return fact(f"store.label.{store.kind}")


def loss_heard(line: str) -> str | Fact:
    """A loss as it came over the notice pipe (see `ServerStore.lost`): its fact, or the line as it is."""
    with contextlib.suppress(ValueError):
        message = json.loads(line)
        if is_fact(message):
            return message
    return line


def run_key(run_dir: Path) -> str:
    """The run's name outside its folder (a table, keys): the folder's name in lower-case letters, digits and
    underscores, and a hash of the folder's whole path, so that two runs in folders of the same name (on two
    machines sharing a server, say) never share a table."""
    name = re.sub(r"[^a-z0-9_]+", "_", run_dir.name.lower())[:32] or "run"
    digest = hashlib.blake2b(str(run_dir.resolve()).encode(), digest_size=4).hexdigest()
    return f"{name}_{digest}"


class ServerStore(TicketStore):
    """A store that lives on a server: each process opens its own connection to `url` after it is forked.

    A process whose connection the server cannot make, or closes, raises StoreLost, and the first one to see it
    says so to the launcher over a pipe (the store's `notices`): one line in one write of at most PIPE_BUF
    bytes, never waited for (a full pipe already holds what the launcher needs), so no buyer blocks on it. The
    launcher passes the first message on to the coordinator, which fails the run with the server's own words
    once every buyer has finished.
    """

    site_packages = True

    def __init__(self, run_dir: Path, url: str) -> None:
        super().__init__(run_dir)
        self.url = url
        self.key = run_key(run_dir)
        self._notice_r: int | None = None
        self._notice_w: int | None = None
        self.heard: Fact | None = None  # the first loss this process met, for a caller with no launcher to tell

    def __getstate__(self) -> dict[str, object]:
        return {"run_dir": self.run_dir, "url": self.url}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["run_dir"], state["url"])  # type: ignore[misc]

    @property
    def where(self) -> str:
        """The server, as a message names it: host and port, never a password."""
        raise NotImplementedError

    def share(self, context: BaseContext) -> None:
        self._notice_r, self._notice_w = os.pipe()
        os.set_blocking(self._notice_w, False)

    def notices(self) -> int | None:
        return self._notice_r

    def words(self, error: BaseException) -> str:
        """What the client's `error` says happened, in one line."""
        return first_line(error)

    def lost(self, what: str, error: BaseException) -> StoreLost:
        """The StoreLost for `error`, said once to the launcher: "the PostgreSQL server at ... <what>: <its words>"
        (`what`: "unreachable" or "closed"; the server's words stay as it said them, in every language)."""
        words = self.words(error)[:WORDS_KEPT]
        message = fact("store.lost", server=self.server, where=self.where, what=fact(f"store.lost.{what}"), words=words)
        self.heard = self.heard or message
        if self._notice_w is not None:
            with contextlib.suppress(OSError):  # a full pipe already holds a message: the first one is enough
                os.write(self._notice_w, json.dumps(message).encode()[: select.PIPE_BUF - 1] + b"\n")
            self._notice_w = None  # this process has said it
        return StoreLost(message)
