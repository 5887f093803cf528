"""The result channel: buyer processes report to the coordinator through one pipe, without a lock.

A write of at most PIPE_BUF bytes to a pipe is atomic (POSIX): it is never interleaved with another
writer's bytes and never half done, even when the writer is killed. So each message is a single os.write of
a length-prefixed pickle no longer than PIPE_BUF (see workers.frames), and a batch of records too long for one
message is split in halves until each part fits.

Compared with a multiprocessing.Queue, a buyer needs no feeder thread (one less thread to start and join in
each of a thousand short-lived processes) and takes no shared write lock, which a buyer killed in the middle
of a write would leave held, stalling every other buyer's report.

    channel = RecordChannel.open()          # in the coordinator; channel.writer goes to the launcher
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
from collections.abc import Sequence

from workers.frames import FRAME_HEADER, FramedEnd, frame
from workers.messages import BuyerRecord

MAX_MESSAGE = select.PIPE_BUF - FRAME_HEADER.size
PIPE_SIZE = 1 << 20  # room for ~15,000 unread records before a buyer's write waits for the coordinator
MAX_ERROR_CHARS = 300
RECORDS_PER_MESSAGE = 40  # 3-3.5 KB pickled: a message fits at the first try unless errors are long


class RecordChannel:
    """The read end (a FramedEnd, in the coordinator) and the write end (a descriptor, in the buyers)."""

    def __init__(self, reader: FramedEnd | None, writer: int | None) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    def open(cls) -> RecordChannel:
        """A new channel, both ends in this process; the write end is meant to be handed to the buyers."""
        reader, writer = os.pipe()
        with contextlib.suppress(OSError, AttributeError):  # a smaller pipe only makes writers wait sooner
            fcntl.fcntl(writer, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        return cls(FramedEnd(reader), writer)

    @classmethod
    def for_writing(cls, writer: int) -> RecordChannel:
        """The channel's write end, as inherited from the process that opened it."""
        return cls(None, writer)

    def send(self, records: Sequence[BuyerRecord]) -> None:
        """Report `records`, in as many atomic messages as they need."""
        for start in range(0, len(records), RECORDS_PER_MESSAGE):
            self._send([tuple(r) for r in records[start : start + RECORDS_PER_MESSAGE]])

    def _send(self, rows: list[tuple[object, ...]]) -> None:
        data = pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)
        if len(data) <= MAX_MESSAGE:
            os.write(self._writer(), frame(data))
        elif len(rows) > 1:  # long error messages: split until each part fits
            half = len(rows) // 2
            self._send(rows[:half])
            self._send(rows[half:])
        else:
            record = BuyerRecord._make(rows[0])
            error = (record.error or "")[:MAX_ERROR_CHARS] + " (cut short)"
            self._send([tuple(record._replace(error=error, error_fact=None))])  # the words cut short alone

    def ready(self, timeout: float) -> bool:
        return self._reader().poll(timeout)

    def receive(self) -> list[BuyerRecord]:
        """One message's records (blocks until a message is there; EOFError once every writer has closed)."""
        return [BuyerRecord._make(fields) for fields in pickle.loads(self._reader().recv_bytes())]

    def close_writer(self) -> None:
        if self.writer is not None:
            os.close(self.writer)
            self.writer = None

    def close(self) -> None:
        self.close_writer()
        if self.reader is not None:
            self.reader.close()
            self.reader = None

    def _reader(self) -> FramedEnd:
        if self.reader is None:
            raise ValueError("this end of the channel cannot read")
        return self.reader

    def _writer(self) -> int:
        if self.writer is None:
            raise ValueError("this end of the channel cannot write")
        return self.writer
