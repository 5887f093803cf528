"""Step mode through the real server: nothing happens until told; each step answers the state it leads to, and
the buyer processes take the steps for real in that order."""

from __future__ import annotations

from typing import Any

from live_server import Server


def start_stepping(server: Server, **fields: Any) -> str:
    sim_id: str = server.post({"buyers": 2, "tickets": 1, "mode": "step", **fields})["id"]
    server.wait_until(sim_id, lambda s: s["status"] == "running", 60, "running")
    return sim_id


def step(server: Server, sim_id: str, body: dict[str, Any], expect: int = 200) -> dict[str, Any]:
    answer = server.client.post(f"/simulations/{sim_id}/step", json=body)
    assert answer.status_code == expect, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_step_mode_takes_one_step_at_a_time_and_the_buyers_follow(server: Server) -> None:
    sim_id = start_stepping(server)
    state = step(server, sim_id, {"buyer": 1})
    assert state["steps"] == [1] and state["count"] == 1 and not state["finished"]
    assert [(b["buyer"], b["next_step"], b["seen"]) for b in state["buyers"]] == [(1, "read", 1), (2, "search", None)]
    assert server.get(sim_id)["status"] == "running"  # the others wait for their turn
    for buyer in (2, 1, 2, 1):
        state = step(server, sim_id, {"buyer": buyer})
    assert state["count"] == 0 and [b["next_step"] for b in state["buyers"]] == [None, "write"]
    state = step(server, sim_id, {"buyer": 2})
    assert state["finished"] and state["count"] == 0
    done = server.wait_finished(sim_id)
    assert done["status"] == "completed"
    assert done["result"]["oversold"] == 1 and done["result"]["schedule"] == [1, 2, 1, 2, 1, 2]
    assert (
        step(server, sim_id, {"buyer": 1}, expect=409)["detail"]
        == f"simulation {sim_id} is completed; it takes steps while running"
    )


def test_a_step_that_would_wait_for_the_lock_is_refused_and_to_end_finishes(server: Server) -> None:
    sim_id = start_stepping(server, lock="process")
    step(server, sim_id, {"buyer": 1})
    step(server, sim_id, {"buyer": 2})
    state = step(server, sim_id, {"buyer": 1})
    assert state["lock_holders"] == [1]
    waiting = next(b for b in state["buyers"] if b["buyer"] == 2)
    assert not waiting["can_step"] and waiting["waits_for"] == "buyer 2 waits for the process lock held by buyer 1"
    refused = step(server, sim_id, {"buyer": 2}, expect=409)
    assert refused["detail"] == "buyer 2 waits for the process lock held by buyer 1"
    state = step(server, sim_id, {"to_end": True})
    assert state["finished"] and state["steps"] == [1, 2, 1, 1, 2]
    done = server.wait_finished(sim_id)
    assert done["result"]["safe"] and done["result"]["buyers_sold_out"] == 1


def test_steps_are_refused_for_a_simulation_not_in_step_mode(server: Server) -> None:
    sim_id = server.post({"buyers": 1, "tickets": 1, "think_ms": 0, "hold_ms": 0})["id"]
    assert step(server, sim_id, {"buyer": 1}, expect=409)["detail"] == f"simulation {sim_id} is not in step mode"
    bad = step(server, sim_id, {}, expect=422)
    assert "send either a buyer number" in bad["detail"][0]["msg"]


def test_a_refused_step_is_said_in_the_language_asked_for(server: Server) -> None:
    sim_id = start_stepping(server, lock="process")
    for buyer in (1, 2, 1):
        step(server, sim_id, {"buyer": buyer})
    zh = {"Accept-Language": "zh-CN,zh;q=0.9"}
    refused = server.client.post(f"/simulations/{sim_id}/step", json={"buyer": 2}, headers=zh)
    assert refused.status_code == 409
    assert refused.json()["detail"] == "路人2在等进程锁:路人1正拿着"
    state = server.client.get(f"/simulations/{sim_id}/step?lang=zh").json()
    assert next(b for b in state["buyers"] if b["buyer"] == 2)["waits_for"] == "路人2在等进程锁:路人1正拿着"
    neither = server.client.post(f"/simulations/{sim_id}/step", json={}, headers=zh)
    assert neither.status_code == 422
    assert neither.json()["detail"][0]["msg"] == "请发送一个路人编号 {'buyer': 2},或者 {'to_end': true}"
    assert step(server, sim_id, {"to_end": True})["finished"]
    server.wait_finished(sim_id)
    over = server.client.post(f"/simulations/{sim_id}/step", json={"buyer": 1}, headers=zh)
    assert over.status_code == 409 and over.json()["detail"] == f"模拟 {sim_id} 已完成;只有运行中才能走下一步"
