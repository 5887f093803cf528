"""GET /simulations/{id}/replay through the real server: where a finished run's race stood after any of the steps
of the schedule it followed, named step by step, as the dashboard's replay slider shows it."""

from __future__ import annotations

from typing import Any

from live_server import Server

LESSON_RACE = {"buyers": 2, "tickets": 1, "lock": "none", "schedule": [1, 2, 1, 2, 1, 2]}


def replay(server: Server, sim_id: str, steps: int | None = None, expect: int = 200) -> dict[str, Any]:
    params = {} if steps is None else {"steps": steps}
    answer = server.client.get(f"/simulations/{sim_id}/replay", params=params)
    assert answer.status_code == expect, answer.text
    body: dict[str, Any] = answer.json()
    return body


def finished(server: Server, config: dict[str, Any]) -> dict[str, Any]:
    done = server.wait_finished(server.post(config)["id"])
    assert done["status"] == "completed", done
    return done


def test_replay_tells_the_state_after_each_step_of_an_oversell(server: Server) -> None:
    done = finished(server, LESSON_RACE)
    assert done["result"]["schedule"] == [1, 2, 1, 2, 1, 2] and done["result"]["oversold"] == 1

    start = replay(server, done["id"], 0)
    assert start["steps"] == [] and start["taken"] == [] and start["count"] == 1 and not start["finished"]
    assert [(b["next_step"], b["can_step"]) for b in start["buyers"]] == [("search", True), ("search", True)]

    both_read = replay(server, done["id"], 4)
    assert both_read["count"] == 1
    assert [(b["read"], b["next_step"]) for b in both_read["buyers"]] == [(1, "write"), (1, "write")]

    first_write = replay(server, done["id"], 5)
    assert first_write["count"] == 0
    assert [(b["outcome"], b["wrote"]) for b in first_write["buyers"]] == [("success", 0), (None, None)]

    end = replay(server, done["id"])
    assert end["schedule"] == end["steps"] == [1, 2, 1, 2, 1, 2] and end["finished"]
    assert [(t["buyer"], t["step"], t["count"]) for t in end["taken"]] == [
        (1, "search", 1),
        (2, "search", 1),
        (1, "read", 1),
        (2, "read", 1),
        (1, "write", 0),
        (2, "write", 0),
    ]
    assert [t["outcome"] for t in end["taken"]][-2:] == ["success", "success"]
    assert [b["outcome"] for b in end["buyers"]] == ["success", "success"]  # one seat, two sold


def test_replay_shows_a_stale_write_pushing_the_count_back_up(server: Server) -> None:
    # buyers 1 and 3 read 2; 1 writes 1; 2 reads 1 and writes 0; 3 writes its stale 1 over the 0
    done = finished(server, {"buyers": 3, "tickets": 2, "schedule": [1, 1, 3, 3, 1, 2, 2, 2, 3]})
    counts = [t["count"] for t in replay(server, done["id"])["taken"]]
    assert counts == [2, 2, 2, 2, 1, 1, 1, 0, 1]
    assert done["result"]["tickets_remaining"] == counts[-1] == 1
    assert (done["result"]["tickets_handed_out"], done["result"]["lost_updates"]) == (3, 2)


def test_replay_of_a_locked_run_names_the_holder_and_who_waits(server: Server) -> None:
    done = finished(server, {"buyers": 2, "tickets": 1, "lock": "process", "schedule": [1, 2, 1]})
    assert done["result"]["schedule"] == [1, 2, 1, 1, 2]
    held = replay(server, done["id"], 3)
    assert held["lock_holders"] == [1] and held["count"] == 1
    waiting = held["buyers"][1]
    assert not waiting["can_step"] and waiting["waits_for"] == "buyer 2 waits for the process lock held by buyer 1"
    end = replay(server, done["id"])
    assert end["lock_holders"] == [] and [b["outcome"] for b in end["buyers"]] == ["success", "sold_out"]


def test_replay_of_a_run_without_a_given_schedule_ends_where_its_records_do(server: Server) -> None:
    done = finished(server, {"buyers": 4, "tickets": 2, "lock": "file", "think_ms": 0, "hold_ms": 5})
    schedule = done["result"]["schedule"]
    assert schedule is not None and len(schedule) == 4 * 2 + 2  # every buyer searches and reads; two write
    end = replay(server, done["id"])
    assert end["count"] == done["result"]["tickets_remaining"] == 0
    records = server.client.get(f"/simulations/{done['id']}/buyers").json()["data"]
    told = {r["buyer"]: (r["outcome"], r["read"], r["wrote"]) for r in records}
    assert {b["buyer"]: (b["outcome"], b["read"], b["wrote"]) for b in end["buyers"]} == told


def test_replay_refuses_with_the_reason(server: Server) -> None:
    done = finished(server, LESSON_RACE)
    too_far = replay(server, done["id"], 7, expect=422)["detail"]
    assert [(d["loc"], d["msg"]) for d in too_far] == [
        (["query", "steps"], "steps: at most 6, the steps of this run's schedule (got 7)")
    ]

    seller = finished(server, {"buyers": 2, "tickets": 1, "strategy": "seller", "think_ms": 0, "hold_ms": 0})
    assert replay(server, seller["id"], expect=409)["detail"] == (
        f"simulation {seller['id']} has no schedule to replay: only the process executor's read-write or optimistic "
        "buyers, at most 20 of them, take steps a schedule can order"
    )
    gave_up = finished(
        server, {"buyers": 2, "tickets": 1, "strategy": "optimistic", "max_retries": 0, "schedule": [1, 2, 1, 2, 1, 2]}
    )
    assert gave_up["result"]["buyers_gave_up"] == 1 and gave_up["result"]["schedule"] is None
    assert replay(server, gave_up["id"], expect=409)["detail"] == (
        f"simulation {gave_up['id']} has no schedule to replay: the order of its steps cannot be told from its "
        "records (a buyer retried, gave up or failed)"
    )


def test_replay_of_a_step_mode_run_follows_the_steps_taken_so_far(server: Server) -> None:
    sim_id = server.post({"buyers": 2, "tickets": 1, "mode": "step", "schedule": [1]})["id"]
    server.wait_until(sim_id, lambda s: s["status"] == "running", 60, "running")
    assert replay(server, sim_id)["schedule"] == [1]
    answer = server.client.post(f"/simulations/{sim_id}/step", json={"buyer": 2})
    assert answer.status_code == 200, answer.text
    now = replay(server, sim_id)
    assert now["schedule"] == [1, 2] and [t["step"] for t in now["taken"]] == ["search", "search"]
    assert server.client.post(f"/simulations/{sim_id}/step", json={"to_end": True}).status_code == 200
    done = server.wait_finished(sim_id)
    assert replay(server, sim_id)["schedule"] == done["result"]["schedule"]
    assert replay(server, sim_id)["finished"]

    running = server.post({"buyers": 1, "think_ms": 60_000, "hold_ms": 0})["id"]
    try:
        assert replay(server, running, expect=409)["detail"].startswith(f"simulation {running} is ")
    finally:
        server.client.post(f"/simulations/{running}/cancel")
