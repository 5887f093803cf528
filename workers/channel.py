"""The result channel: buyer processes report to the coordinator through one pipe, without a lock.

A write of at most PIPE_BUF bytes to a pipe is atomic (POSIX): it is never interleaved with another
writer's bytes and never half done, even when the writer is killed. So each message is a single os.write of
a length-prefixed pickle no longer than PIPE_BUF (the framing of multiprocessing.Connection, whose recv_bytes
reads it), and a batch of records too long for one message is split in halves until each part fits.

Compared with a multiprocessing.Queue, a buyer needs no feeder thread (one less thread to start and join in
each of a thousand short-lived processes) and takes no shared write lock, which a buyer killed in the middle
of a write would leave held, stalling every other buyer's report.

    channel = RecordChannel(context)        # in the coordinator, before the buyers start
    channel.send(records)                   # in a buyer process
    if channel.ready(timeout):              # in the coordinator
        records = channel.receive()
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
import select
import struct
from collections.abc import Sequence
from multiprocessing.context import BaseContext

from workers.messages import BuyerRecord

_HEADER = struct.Struct("!i")
MAX_MESSAGE = select.PIPE_BUF - _HEADER.size
PIPE_SIZE = 1 << 20  # room for ~15,000 unread records before a buyer's write waits for the coordinator
MAX_ERROR_CHARS = 300
RECORDS_PER_MESSAGE = 40  # 3-3.5 KB pickled: a message fits at the first try unless errors are long


class RecordChannel:
    def __init__(self, context: BaseContext) -> None:
        self.reader, self.writer = context.Pipe(duplex=False)
        with contextlib.suppress(OSError, AttributeError):  # a smaller pipe only makes writers wait sooner
            fcntl.fcntl(self.writer.fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)

    def send(self, records: Sequence[BuyerRecord]) -> None:
        """Report `records`, in as many atomic messages as they need."""
        for start in range(0, len(records), RECORDS_PER_MESSAGE):
            self._send([tuple(r) for r in records[start : start + RECORDS_PER_MESSAGE]])

    def _send(self, rows: list[tuple[object, ...]]) -> None:
        data = pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)
        if len(data) <= MAX_MESSAGE:
            os.write(self.writer.fileno(), _HEADER.pack(len(data)) + data)
        elif len(rows) > 1:  # long error messages: split until each part fits
            half = len(rows) // 2
            self._send(rows[:half])
            self._send(rows[half:])
        else:
            record = BuyerRecord._make(rows[0])
            error = (record.error or "")[:MAX_ERROR_CHARS] + " (cut short)"
            self._send([tuple(record._replace(error=error))])

    def ready(self, timeout: float) -> bool:
        return self.reader.poll(timeout)

    def receive(self) -> list[BuyerRecord]:
        """One message's records (blocks until a message is there)."""
        return [BuyerRecord._make(fields) for fields in pickle.loads(self.reader.recv_bytes())]

    def close(self) -> None:
        self.reader.close()
        self.writer.close()
