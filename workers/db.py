"""The ticket database: a JSON file {"count": n} (with a "version" once optimistic buyers have written it), read
whole and replaced whole.

A write goes to a new temporary file in the same folder, which then takes the db's name in one step, so a
reader sees the old count or the new one, never an empty or half-written file, even when the writer is
killed in the middle. Every write uses a fresh file: a reader still holding an older db file keeps reading
it whole, because no file is ever written again once it has been the db.

On Linux the new file is swapped with the db (renameat2 RENAME_EXCHANGE), which leaves the old db file under
the temporary name, to be deleted afterwards (see `drop_replaced`). A plain os.replace does the same job in one call,
but on ext4 replacing an existing file forces the new file's data to be written out first (the auto_da_alloc
safeguard), which makes each write several times slower; the swap does not trigger it. Where the
swap is not supported, os.replace is used.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
from pathlib import Path
from typing import Any

from workers.errors import DbError
from workers.speech import fact

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_READ_SIZE = 4096
_FAST_PREFIX = b'{"count": '
_VERSION_KEY = b', "version": '


def _load_renameat2() -> Any:
    """libc's renameat2, or None where there is none."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    renameat2.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    return renameat2


_renameat2 = _load_renameat2()


def _exchange(a: bytes, b: bytes) -> int:
    """Swap two directory entries atomically: 0 on success, else the errno."""
    if _renameat2 is None:
        return errno.ENOSYS
    if _renameat2(_AT_FDCWD, a, _AT_FDCWD, b, _RENAME_EXCHANGE) == 0:
        return 0
    return ctypes.get_errno()


def _number(digits: bytes) -> int | None:
    if digits.isdigit() and (digits[:1] != b"0" or len(digits) == 1):
        return int(digits)
    return None


def parse(data: bytes) -> tuple[object, object]:
    """The count and version in a db file's bytes: '{"count": 12}' (version 0) and '{"count": 12, "version": 3}'
    directly, anything else through json."""
    if data.startswith(_FAST_PREFIX) and data.endswith(b"}"):
        body = data[len(_FAST_PREFIX) : -1]
        count, _, version = body.partition(_VERSION_KEY)
        fast_count, fast_version = _number(count), _number(version) if version else 0
        if fast_count is not None and fast_version is not None:
            return fast_count, fast_version
    data = json.loads(data)
    if not isinstance(data, dict):
        return None, None
    return data.get("count"), data.get("version", 0)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _identity(described: os.stat_result) -> tuple[int, int, int, int, int]:
    """What tells one db file from another, and a file from itself rewritten in place."""
    return (described.st_ino, described.st_dev, described.st_size, described.st_mtime_ns, described.st_ctime_ns)


class TicketDb:
    """One process's handle on the db file.

    A buyer that expects to sell calls `stage()` before taking the lock and `drop_replaced()` after giving it back,
    so that only filling and swapping in the new file happen inside its critical section:

        db.stage()                  # create the fresh file the next write will fill
        with lock.held(timeout):
            db.write(db.read() - 1) # fill it, swap it in; the old db file waits under the temporary name
        db.drop_replaced()                   # delete the old db file
        ...
        db.close()                  # when done: delete a staged file never filled

    Without them, `write` does everything itself (the old db file goes at the next write, or `drop_replaced`).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._name = os.fspath(path)
        self._can_exchange = _renameat2 is not None
        self._staged: int | None = None  # descriptor of a fresh, empty file under the temporary name
        self._old_db_left = False  # the previous db file is under the temporary name
        self._held_fd: int | None = None  # the db file `read` read last, kept open; what it was; its count
        self._held_identity: tuple[int, int, int, int, int] | None = None
        self._held_count = 0

    def create(self, count: int) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DbError(fact("db.no_folder", path=str(self.path), words=e.strerror or str(e))) from e
        self.write(count)
        self.drop_replaced()

    def read(self) -> int:
        """The count, read through the db file this handle read last if the db's name still leads to it.

        That file is kept open, and while it is open its inode number cannot be given to another file: so if a
        stat of the db's name finds the same device, inode, size and change times, the name leads to the very
        file already read. A writer here never writes a file again once it is the db (see the module's
        docstring); another program that rewrites the db in place changes its size or its modification time
        (to the file system clock's resolution: a rewrite of the same length within one tick of that clock after
        the read goes unseen). One stat instead of an open, a read and a close, in every buyer's search and
        again inside its critical section. A forked child inherits the open file as a descriptor of its own,
        which it may close without closing the parent's.
        """
        try:
            identity = _identity(os.stat(self._name))
        except OSError:
            return self._load(self._name)[0]  # says what is wrong with the db (missing, unreadable)
        if identity == self._held_identity:
            return self._held_count
        self._forget_held()
        try:
            fd = os.open(self._name, os.O_RDONLY)
        except OSError:
            return self._load(self._name)[0]
        try:
            identity = _identity(os.fstat(fd))  # before the read: a rewrite meanwhile shows at the next stat
            count = self._checked(parse(self._read_all(fd)))[0]
        except (OSError, ValueError) as e:
            os.close(fd)
            raise DbError(fact("db.unreadable", path=str(self.path), words=str(e))) from e
        except DbError:
            os.close(fd)
            raise
        self._held_fd, self._held_identity, self._held_count = fd, identity, count
        return count

    def _forget_held(self) -> None:
        if self._held_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._held_fd)
        self._held_fd, self._held_identity = None, None

    def read_versioned(self) -> tuple[int, int]:
        """The latest count and its version: the db's, or a newer one a compare-and-set has claimed but whose
        writer has not swapped it into the db yet (see `compare_and_set`)."""
        count, version = self._load(self._name)
        while True:
            try:
                count, version = self._load(self._version_name(version + 1))
            except FileNotFoundError:
                return count, version

    def compare_and_set(self, version: int, count: int) -> bool:
        """Write `count` as version `version + 1` if no one has written that version yet; False if someone has.

        The new file is filled, then hard-linked as `<db>.v<version + 1>`: link() fails if that name exists, so
        of all the writers who read `version` exactly one claims the next version, in one atomic step and with
        no lock held. The winner then swaps its file into the db, so the db stays a whole `{"count": n, ...}`
        that the lesson's code can read. A reader follows the versions claimed beyond the db's
        (`read_versioned`), so a winner killed between the claim and the swap loses nothing.
        """
        data = b'{"count": %d, "version": %d}' % (count, version + 1)
        try:
            self._fill(data)
            try:
                os.link(self._temporary(), self._version_name(version + 1))
            except FileExistsError:
                os.unlink(self._temporary())
                return False
            self._swap_in()
        except OSError as e:
            self._forget_temporary()
            raise DbError(fact("db.unwritable", path=str(self.path), words=e.strerror or str(e))) from e
        return True

    def _version_name(self, version: int) -> str:
        return f"{self._name}.v{version}"

    def _load(self, name: str) -> tuple[int, int]:
        try:
            fd = os.open(name, os.O_RDONLY)
            try:
                parsed = parse(self._read_all(fd))
            finally:
                os.close(fd)
        except FileNotFoundError as e:
            if name != self._name:
                raise
            raise DbError(fact("db.missing", path=str(self.path))) from e
        except (OSError, ValueError) as e:
            raise DbError(fact("db.unreadable", path=str(self.path), words=str(e))) from e
        return self._checked(parsed)

    def _checked(self, parsed: tuple[object, object]) -> tuple[int, int]:
        count, version = parsed
        if not _is_count(count) or not _is_count(version):
            raise DbError(fact("db.malformed", path=str(self.path)))
        return count, version  # type: ignore[return-value]

    @staticmethod
    def _read_all(fd: int) -> bytes:
        data = chunk = os.read(fd, _READ_SIZE)
        while len(chunk) == _READ_SIZE:
            chunk = os.read(fd, _READ_SIZE)
            data += chunk
        return data

    def _temporary(self) -> str:
        return f"{self._name}.{os.getpid()}.tmp"

    def stage(self) -> None:
        """Create the fresh file the next write will fill (a no-op if one is ready)."""
        if self._staged is None:
            try:
                self._staged = self._create_fresh()
            except OSError as e:
                raise DbError(fact("db.unwritable", path=str(self.path), words=e.strerror or str(e))) from e

    def write(self, count: int) -> None:
        data = b'{"count": %d}' % count  # what json.dumps({"count": count}) gives, without its cost inside the lock
        try:
            self._fill(data)
            self._swap_in()
        except OSError as e:
            self._forget_temporary()
            raise DbError(fact("db.unwritable", path=str(self.path), words=e.strerror or str(e))) from e

    def _fill(self, data: bytes) -> None:
        """Write `data` into the staged file (or a fresh one) under the temporary name."""
        fd = self._staged if self._staged is not None else self._create_fresh()
        self._staged = None
        try:
            if os.write(fd, data) != len(data):
                raise OSError(errno.ENOSPC, "short write")
        finally:
            os.close(fd)

    def _forget_temporary(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self._temporary())
        self._old_db_left = False

    def drop_replaced(self) -> None:
        """Delete the previous db file that `write` left under the temporary name.

        Never fails: a file it cannot delete is a leftover, and `remove_leftovers` deletes those.
        """
        if self._old_db_left:
            self._old_db_left = False
            with contextlib.suppress(OSError):
                os.unlink(self._temporary())

    def close(self) -> None:
        """Delete what this handle left behind: the previous db file, a staged file never filled; close the db
        file it read last."""
        self._forget_held()
        self.drop_replaced()
        if self._staged is not None:
            with contextlib.suppress(OSError):
                os.close(self._staged)
                os.unlink(self._temporary())
            self._staged = None

    def _create_fresh(self) -> int:
        """Open a new, empty file under the temporary name, deleting what was there (an old db file, or the
        leftover of a writer with the same pid that was killed)."""
        temporary = self._temporary()
        self._old_db_left = False
        try:
            return os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            os.unlink(temporary)
            return os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)

    def _swap_in(self) -> None:
        """Give the filled temporary file the db's name in one step."""
        temporary = self._temporary()
        if self._can_exchange:
            failure = _exchange(os.fsencode(temporary), os.fsencode(self._name))
            if failure == 0:
                self._old_db_left = True
                return
            if failure in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                self._can_exchange = False  # not on this file system
            elif failure != errno.ENOENT:  # ENOENT: no db yet to swap with
                raise OSError(failure, os.strerror(failure))
        os.replace(temporary, self._name)

    def remove_leftovers(self) -> int:
        """Make the db the latest version, then delete what writers left beside it; return how many files.

        Left beside the db: temporary files of writers that died before replacing it, and the version files of
        compare-and-set (the latest of them is copied into the db first, so the count survives their deletion).
        Only for when no buyer is left writing.
        """
        versions = list(self.path.parent.glob(f"{self.path.name}.v*"))
        if versions and self.path.exists():
            count, version = self.read_versioned()
            if version > self._load(self._name)[1]:
                self.write(count)
                self.drop_replaced()
        leftovers = [*self.path.parent.glob(f"{self.path.name}.*.tmp"), *versions]
        for leftover in leftovers:
            leftover.unlink(missing_ok=True)
        return len(leftovers)
