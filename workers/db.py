"""The ticket database: a JSON file {"count": n}, read whole and replaced whole.

A write goes to a new temporary file in the same folder, which then takes the db's name in one step, so a
reader sees the old count or the new one, never an empty or half-written file, even when the writer is
killed in the middle. Every write uses a fresh file: a reader still holding an older db file keeps reading
it whole, because no file is ever written again once it has been the db.

On Linux the new file is swapped with the db (renameat2 RENAME_EXCHANGE), which leaves the old db file under
the temporary name, to be deleted afterwards (see `tidy`). A plain os.replace does the same job in one call,
but on ext4 replacing an existing file forces the new file's data to be written out first (the auto_da_alloc
safeguard), which made each write about four times slower here; the swap does not trigger it. Where the
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

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_READ_SIZE = 4096
_FAST_PREFIX = b'{"count": '


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


def parse(data: bytes) -> object:
    """The count in a db file's bytes: the usual '{"count": 12}' directly, anything else through json."""
    if data.startswith(_FAST_PREFIX) and data.endswith(b"}"):
        digits = data[len(_FAST_PREFIX) : -1]
        if digits.isdigit() and (digits[:1] != b"0" or len(digits) == 1):
            return int(digits)
    data = json.loads(data)
    return data.get("count") if isinstance(data, dict) else None


class TicketDb:
    """One process's handle on the db file.

    A buyer that expects to sell calls `stage()` before taking the lock and `tidy()` after giving it back,
    so that only filling and swapping in the new file happen inside its critical section:

        db.stage()                  # create the fresh file the next write will fill
        with lock.held(timeout):
            db.write(db.read() - 1) # fill it, swap it in; the old db file waits under the temporary name
        db.tidy()                   # delete the old db file
        ...
        db.close()                  # when done: delete a staged file never filled

    Without them, `write` does everything itself (the old db file goes at the next write, or `tidy`).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._name = os.fspath(path)
        self._can_exchange = _renameat2 is not None
        self._staged: int | None = None  # descriptor of a fresh, empty file under the temporary name
        self._old_db_left = False  # the previous db file is under the temporary name

    def create(self, count: int) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DbError(f"could not create the folder of ticket db {self.path}: {e.strerror or e}") from e
        self.write(count)
        self.tidy()

    def read(self) -> int:
        try:
            count = parse(self._read_bytes())
        except FileNotFoundError as e:
            raise DbError(f"ticket db {self.path} does not exist") from e
        except (OSError, ValueError) as e:
            raise DbError(f"ticket db {self.path} is unreadable: {e}") from e
        if not isinstance(count, int) or isinstance(count, bool):
            raise DbError(f'ticket db {self.path} is not of the form {{"count": n}}')
        return count

    def _read_bytes(self) -> bytes:
        fd = os.open(self._name, os.O_RDONLY)
        try:
            data = chunk = os.read(fd, _READ_SIZE)
            while len(chunk) == _READ_SIZE:
                chunk = os.read(fd, _READ_SIZE)
                data += chunk
            return data
        finally:
            os.close(fd)

    def _temporary(self) -> str:
        return f"{self._name}.{os.getpid()}.tmp"

    def stage(self) -> None:
        """Create the fresh file the next write will fill (a no-op if one is ready)."""
        if self._staged is None:
            try:
                self._staged = self._create_fresh()
            except OSError as e:
                raise DbError(f"could not write ticket db {self.path}: {e.strerror or e}") from e

    def write(self, count: int) -> None:
        data = b'{"count": %d}' % count  # what json.dumps({"count": count}) gives, without its cost inside the lock
        try:
            fd = self._staged if self._staged is not None else self._create_fresh()
            self._staged = None
            try:
                if os.write(fd, data) != len(data):
                    raise OSError(errno.ENOSPC, "short write")
            finally:
                os.close(fd)
            self._swap_in()
        except OSError as e:
            with contextlib.suppress(OSError):
                os.unlink(self._temporary())
            self._old_db_left = False
            raise DbError(f"could not write ticket db {self.path}: {e.strerror or e}") from e

    def tidy(self) -> None:
        """Delete the previous db file that `write` left under the temporary name.

        Never fails: a file it cannot delete is a leftover, and `remove_leftovers` deletes those.
        """
        if self._old_db_left:
            self._old_db_left = False
            with contextlib.suppress(OSError):
                os.unlink(self._temporary())

    def close(self) -> None:
        """Delete what this handle left behind: the previous db file, a staged file never filled."""
        self.tidy()
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
        """Delete temporary files left by writers that died before replacing the db; return how many."""
        leftovers = list(self.path.parent.glob(f"{self.path.name}.*.tmp"))
        for leftover in leftovers:
            leftover.unlink(missing_ok=True)
        return len(leftovers)
