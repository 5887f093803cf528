"""The CPython internals in workers.compat are still what the engine expects: a change fails here, loudly."""

from __future__ import annotations

import inspect
import multiprocessing
import os
from multiprocessing import process as mp_process
from multiprocessing.connection import Connection

from workers.compat import ForkPopen, forget_child, frame


def test_fork_popen_still_launches_through_an_overridable_launch() -> None:
    launch = getattr(ForkPopen, "_launch", None)
    assert launch is not None, "multiprocessing.popen_fork.Popen._launch is gone: workers.process must change"
    assert list(inspect.signature(launch).parameters) == ["self", "process_obj"]
    assert "_launch" in inspect.getsource(ForkPopen.__init__)  # still called when a Popen is made


def test_multiprocessing_still_tracks_live_children_in_a_set_we_can_take_a_process_off() -> None:
    children = getattr(mp_process, "_children", None)
    assert isinstance(children, set), "multiprocessing.process._children changed: workers.compat must follow"
    process = multiprocessing.get_context("fork").Process(target=os._exit, args=(0,))
    process.start()
    assert process in children
    forget_child(process)
    assert process not in children
    process.join(10)
    assert process.exitcode == 0


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
