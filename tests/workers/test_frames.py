"""A FramedEnd and a multiprocessing Connection understand each other, whichever end is which."""

from __future__ import annotations

import os
import socket
import threading
from multiprocessing import Pipe
from multiprocessing.connection import Connection

import pytest

from workers.frames import FramedEnd, frame


def test_a_framed_message_written_whole_is_read_by_connection_recv_bytes() -> None:
    reader, writer = os.pipe()
    connection = Connection(reader, writable=False)
    try:
        os.write(writer, frame(b"one message") + frame(b""))
        assert connection.recv_bytes() == b"one message"
        assert connection.recv_bytes() == b""
    finally:
        connection.close()
        os.close(writer)


def test_objects_cross_both_ways_between_a_pipe_connection_and_a_framed_end() -> None:
    coordinator, other = Pipe()
    end = FramedEnd(os.dup(other.fileno()))
    other.close()
    try:
        job = ([range(1, 3), range(3, 1001)], {"lock": "file"}, "x" * 100_000)  # longer than a socket buffer
        sender = threading.Thread(target=coordinator.send, args=(job,))
        sender.start()
        assert end.poll(5)
        assert end.recv() == job
        sender.join(5)
        end.send(("started", 123))
        assert coordinator.poll(5) and coordinator.recv() == ("started", 123)
        assert not end.poll(0)
    finally:
        coordinator.close()
        end.close()


def test_the_other_end_closing_is_an_eof_before_or_within_a_message() -> None:
    a, b = socket.socketpair()
    end = FramedEnd(a.detach())
    b.sendall(frame(b"whole")[:-2])  # a message cut short
    b.close()
    with pytest.raises(EOFError):
        end.recv_bytes()
    with pytest.raises(EOFError):
        end.recv_bytes()
    end.close()
    end.close()  # closing twice is harmless
    with pytest.raises(OSError):
        end.poll(0)
