"""Disk trouble: a run folder or a whole data directory that is full or read-only.

Real file systems: tmpfs mounts (this needs root, or CAP_SYS_ADMIN; the tests that mount, marked `disk`, skip,
saying so, where mounting is refused, and fail under CI). As root, chmod stops nothing, but a read-only mount
does. A run that cannot write fails with a message saying why, the ticket db is never torn, and the server keeps
answering, with a 503 that says why when its own store cannot be used, and is back to normal once the disk is.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from live_server import Server, wait_for

from app.dispatcher import Dispatcher
from app.lifecycle import Status
from app.settings import Settings
from app.store import Store
from app.store_errors import StoreError
from workers import SimulationConfig

TINY = {"buyers": 2, "tickets": 1, "lock": "file", "think_ms": 0, "hold_ms": 0}


class Mounts:
    """tmpfs mounts made for one test, unmounted at its end (after its servers have stopped)."""

    def __init__(self) -> None:
        self.points: list[Path] = []

    def tmpfs(self, point: Path, size: str) -> Path:
        point.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(point)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"this machine does not allow mounting a tmpfs: {done.stderr.strip()}")
        self.points.append(point)
        return point

    def remount(self, point: Path, mode: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{mode}", str(point)], check=True)

    def unmount_all(self) -> None:
        for point in reversed(self.points):
            subprocess.run(["umount", "--lazy", str(point)], check=False)


@pytest.fixture
def mounts() -> Iterator[Mounts]:
    made = Mounts()
    yield made
    made.unmount_all()


def fill(folder: Path) -> Path:
    """Write a file until the file system is full; returns it (delete it to free the space)."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as out:
        for chunk in (65536, 4096, 1):
            try:
                while True:
                    out.write(b"\0" * chunk)
            except OSError:
                pass
    return filler


def whole_db(run_dir: Path) -> int | None:
    """The run's ticket db, which must be whole JSON if it exists; None if it was never written."""
    path = run_dir / "db.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    assert set(data) == {"count"}, data
    count: int = data["count"]
    return count


def leftovers(run_dir: Path) -> list[str]:
    return sorted(p.name for p in run_dir.glob("*") if p.name.endswith((".tmp", ".partial")))


@pytest.mark.slow
@pytest.mark.disk
def test_disk_full_run_folder_fails_the_run_saying_so(
    mounts: Mounts, start_server: Callable[..., Server], tmp_path: Path
) -> None:
    runs = mounts.tmpfs(tmp_path / "data" / "runs", "256k")
    server = start_server(data_dir=tmp_path / "data")
    done = server.wait_finished(server.post(TINY)["id"])
    filler = fill(runs)

    no_room = server.wait_finished(server.post(TINY)["id"])  # not even for the ticket db

    assert no_room["status"] == "failed", no_room
    assert "could not write ticket db" in no_room["error"] and "No space left on device" in no_room["error"]
    assert whole_db(runs / no_room["id"]) is None and leftovers(runs / no_room["id"]) == []

    filler.unlink()
    (runs / "filler").write_bytes(b"\0" * 128 * 1024)  # room for a ticket db, not for 20,000 buyer records
    big = {"buyers": 20_000, "tickets": 100, "lock": "file", "executor": "pool", "think_ms": 0, "hold_ms": 0}
    no_room_for_buyers = server.wait_finished(server.post(big)["id"], timeout=120)

    assert no_room_for_buyers["status"] == "failed", no_room_for_buyers
    assert no_room_for_buyers["error"].startswith("the run finished but its buyer records were not saved")
    assert "disk is full" in no_room_for_buyers["error"]
    assert whole_db(runs / no_room_for_buyers["id"]) == 0
    assert leftovers(runs / no_room_for_buyers["id"]) == []

    assert server.get(done["id"]) == done  # the earlier result is untouched, and the server carries on
    assert server.client.get(f"/simulations/{done['id']}/buyers").json()["count"] == 2
    (runs / "filler").unlink()
    assert server.wait_finished(server.post(TINY)["id"])["status"] == "completed"


@pytest.mark.slow
@pytest.mark.disk
def test_disk_filling_up_mid_run_tears_no_ticket_db(
    mounts: Mounts, start_server: Callable[..., Server], tmp_path: Path
) -> None:
    runs = mounts.tmpfs(tmp_path / "data" / "runs", "256k")
    server = start_server(data_dir=tmp_path / "data")
    sim = server.post({"buyers": 6, "tickets": 6, "lock": "file", "think_ms": 1500, "hold_ms": 0})
    run_dir = runs / sim["id"]
    server.wait_until(sim["id"], lambda s: s["status"] == "running", 30, "running")
    wait_for(lambda: whole_db(run_dir) == 6, 30, "the ticket db to be written")

    fill(runs)  # while the buyers think: every sale's write then finds the disk full
    simulation = server.wait_finished(sim["id"])

    assert simulation["status"] == "failed", simulation
    assert "disk is full" in simulation["error"]  # the buyer records could not be saved either
    assert whole_db(run_dir) == 6  # no sale got through, and the db is whole
    assert leftovers(run_dir) == []
    assert server.client.get("/simulations").status_code == 200


@pytest.mark.slow
@pytest.mark.disk
def test_disk_read_only_run_folder_fails_the_run_saying_so(
    mounts: Mounts, start_server: Callable[..., Server], tmp_path: Path
) -> None:
    runs = mounts.tmpfs(tmp_path / "data" / "runs", "1m")
    server = start_server(data_dir=tmp_path / "data")
    done = server.wait_finished(server.post(TINY)["id"])
    mounts.remount(runs, "ro")

    refused = server.wait_finished(server.post(TINY)["id"])

    assert refused["status"] == "failed", refused
    assert refused["error"].startswith("could not create the folder of ticket db")
    assert refused["error"].endswith("Read-only file system")
    assert server.get(done["id"]) == done
    assert whole_db(runs / done["id"]) == 0
    mounts.remount(runs, "rw")
    assert server.wait_finished(server.post(TINY)["id"])["status"] == "completed"


def _integrity(data_dir: Path) -> str:
    with sqlite3.connect(data_dir / "ticketrush.sqlite3") as db:
        (answer,) = db.execute("PRAGMA integrity_check").fetchone()
    return str(answer)


FULL = ("database or disk is full", "disk I/O error")  # what SQLite says, by how far it got


def _unavailable(response: Any, causes: tuple[str, ...]) -> bool:
    return bool(response.status_code == 503 and any(cause in response.json()["detail"] for cause in causes))


@pytest.mark.slow
@pytest.mark.disk
def test_disk_data_directory_full_is_503_for_writes_then_recovers(
    mounts: Mounts, start_server: Callable[..., Server], tmp_path: Path
) -> None:
    data_dir = mounts.tmpfs(tmp_path / "data", "2m")
    server = start_server(data_dir=data_dir)
    done = server.wait_finished(server.post(TINY)["id"])
    filler = fill(data_dir)

    for method, path in [("POST", "/simulations"), ("DELETE", f"/simulations/{done['id']}")]:
        response = server.client.request(method, path, json=TINY if method == "POST" else None)
        assert _unavailable(response, FULL), (method, path, response.status_code, response.text)
    reads = [
        ("/simulations", lambda body: done["id"] in [s["id"] for s in body["data"]]),
        (f"/simulations/{done['id']}", lambda body: body == done),
        (f"/simulations/{done['id']}/buyers", lambda body: body["count"] == 2),
    ]
    for path, shows_the_data in reads:  # a read needs no space: served, or a 503 that says why
        response = server.client.get(path)
        assert _unavailable(response, FULL) or (response.status_code == 200 and shows_the_data(response.json()))
    assert server.client.get("/healthz").status_code == 200

    filler.unlink()
    assert server.get(done["id"]) == done
    assert server.client.get(f"/simulations/{done['id']}/buyers").json()["count"] == 2
    assert server.wait_finished(server.post(TINY)["id"])["status"] == "completed"
    assert _integrity(data_dir) == "ok"


@pytest.mark.disk
def test_disk_store_on_a_file_system_turned_read_only_fails_clearly_then_recovers(
    mounts: Mounts, tmp_path: Path
) -> None:
    """The kernel refuses to remount a file system read-only while a file on it is open for writing, and a
    server keeps its store open; what a store does when its files can no longer be opened for writing is
    checked here, on a store whose connection is closed before the remount."""
    data_dir = mounts.tmpfs(tmp_path / "data", "2m")
    store = Store(data_dir)
    store.init()
    config = SimulationConfig.model_validate(TINY).resolved()
    row = store.create(config)
    store.close()
    mounts.remount(data_dir, "ro")

    with pytest.raises(StoreError, match=r"unable to open database file|readonly database"):
        store.create(config)
    with pytest.raises(StoreError, match=r"unable to open database file|readonly database"):
        store.transition(row.id, Status.CANCELLED)

    mounts.remount(data_dir, "rw")
    store.transition(row.id, Status.CANCELLED)
    found = store.get(row.id)
    assert found is not None and found.status == Status.CANCELLED
    assert store.get(store.create(config).id) is not None
    store.close()
    assert _integrity(data_dir) == "ok"


def test_disk_store_error_while_a_run_is_taken_from_the_queue_loses_no_simulation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_leftover_children: None
) -> None:
    """The store fails just as the dispatcher takes a queued simulation to start it: the simulation waits for
    the store to answer again, then runs (it is not dropped from the queue and left queued for ever)."""
    store = Store(tmp_path / "data")
    store.init()
    real_get = store.get
    failures = []

    def flaky_get(sim_id: str) -> Any:
        if threading.current_thread().name == "ticketrush-dispatcher" and not failures:
            failures.append(sim_id)
            raise StoreError("disk I/O error")
        return real_get(sim_id)

    monkeypatch.setattr(store, "get", flaky_get)
    dispatcher = Dispatcher(store, Settings(data_dir=tmp_path / "data"))
    dispatcher.start()
    try:
        row = dispatcher.submit(SimulationConfig.model_validate(TINY))
        final = wait_for(
            lambda: (r := real_get(row.id)) is not None and r.status not in (Status.QUEUED, Status.RUNNING) and r,
            30,
            "the simulation to finish",
        )
    finally:
        dispatcher.close()
    assert failures == [row.id]
    assert final.status == Status.COMPLETED, final
