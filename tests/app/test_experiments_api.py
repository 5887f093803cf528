"""/experiments against real servers: trials one after another, the spread of their figures, CSV, refusals, the
queue limit, cancel, delete, and a restart that interrupts an experiment and keeps its finished trials.
"""

from __future__ import annotations

import csv
import io
import itertools
import statistics
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from live_server import GONE_TIMEOUT_S, TERMINAL, Server, wait_for, when

# Three buyers released together, each holding the count 100 ms: without a lock all three sell the one ticket.
RACE = {"buyers": 3, "think_ms": 0, "hold_ms": 400}  # and tickets 1; a window wide enough on a loaded machine
# The first trial is quick; the second thinks for a minute, so it is still running when the test acts.
QUICK_THEN_LONG = {
    "config": {"buyers": 3, "tickets": 1, "hold_ms": 0},
    "trials": 2,
    "vary": {"field": "think_ms", "values": [0, 60_000]},
}
LONG = {"buyers": 5, "tickets": 1, "think_ms": 60_000, "hold_ms": 0}


def post(server: Server, body: dict[str, Any], expect: int = 202) -> dict[str, Any]:
    response = server.client.post("/experiments", json=body)
    assert response.status_code == expect, response.text
    created: dict[str, Any] = response.json()
    return created


def read(server: Server, experiment_id: str) -> dict[str, Any]:
    response = server.client.get(f"/experiments/{experiment_id}")
    assert response.status_code == 200, response.text
    experiment: dict[str, Any] = response.json()
    return experiment


def wait_experiment(server: Server, experiment_id: str, condition: Callable[[dict[str, Any]], bool], what: str) -> Any:
    def check() -> dict[str, Any] | None:
        experiment = read(server, experiment_id)
        return experiment if condition(experiment) else None

    return wait_for(check, 120, f"experiment {experiment_id} to be {what}", interval=0.1)


def trials_in_order(server: Server, experiment: dict[str, Any]) -> list[dict[str, Any]]:
    """Its trials' simulations in the order they run: round by round, every value once a round."""
    points = experiment["points"]
    return [server.get(point["trials"][k]) for k in range(experiment["trials"]) for point in points]


def spread(numbers: list[float]) -> dict[str, float]:
    return {"min": min(numbers), "median": statistics.median(numbers), "max": max(numbers)}


def test_experiments_run_trials_one_after_another_and_give_the_spread_of_their_figures(
    start_server: Callable[..., Server],
) -> None:
    server = start_server(TICKETRUSH_MAX_RUNNING="4")
    response = server.client.post(
        "/experiments", json={"config": RACE, "trials": 3, "vary": {"field": "lock", "values": ["none", "file"]}}
    )
    assert response.status_code == 202, response.text
    created = response.json()
    assert response.headers["Location"] == f"/experiments/{created['id']}"
    assert created["status"] == "queued"
    alongside = server.post(LONG | {"think_ms": 5000})  # a simulation of its own still takes a free slot

    experiment = wait_experiment(server, created["id"], lambda e: e["status"] in TERMINAL, "finished")

    assert experiment["status"] == "completed", experiment
    assert experiment["progress"] == {"finished": 6, "trials": 6}
    trials = trials_in_order(server, experiment)
    for before, after in itertools.pairwise(trials):
        assert when(after["started_at"]) >= when(before["finished_at"]), "two trials ran at once"
    assert [t["config"]["lock"] for t in trials] == ["none", "file"] * 3
    seed = experiment["config"]["seed"]
    assert [t["config"]["seed"] for t in trials] == [seed, seed, seed + 1, seed + 1, seed + 2, seed + 2]
    unguarded, guarded = experiment["points"]
    for point, lock in ((unguarded, "none"), (guarded, "file")):
        results = [server.get(sim_id)["result"] for sim_id in point["trials"]]
        assert (point["value"], point["label"], point["completed"]) == (lock, lock, 3)
        for figure in ("oversold", "lost_updates", "sales_per_second"):
            assert point[figure] == spread([r[figure] for r in results]), figure
    assert unguarded["oversold"] == {"min": 2, "median": 2, "max": 2}
    assert unguarded["oversold_histogram"] == [{"oversold": 2, "trials": 3}]
    assert guarded["oversold"] == {"min": 0, "median": 0, "max": 0}
    other = server.wait_finished(alongside["id"])
    assert when(other["started_at"]) < when(trials[-1]["finished_at"])
    assert when(other["finished_at"]) > when(trials[0]["started_at"])


def test_experiments_csv_has_one_row_per_trial_with_its_figures(start_server: Callable[..., Server]) -> None:
    server = start_server()
    config = {k: v for k, v in RACE.items() if k != "hold_ms"}
    created = post(server, {"config": config, "trials": 2, "vary": {"field": "hold_ms", "values": [0, [50, 100]]}})
    experiment = wait_experiment(server, created["id"], lambda e: e["status"] in TERMINAL, "finished")

    response = server.client.get(f"/experiments/{created['id']}?format=csv")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["hold_ms"], r["trial"]) for r in rows] == [("0", "1"), ("50-100", "1"), ("0", "2"), ("50-100", "2")]
    for row, trial in zip(rows, trials_in_order(server, experiment), strict=True):
        assert (row["id"], row["status"], int(row["seed"])) == (trial["id"], "completed", trial["config"]["seed"])
        assert int(row["oversold"]) == trial["result"]["oversold"]
        assert float(row["sales_per_second"]) == trial["result"]["sales_per_second"]


def test_experiments_refuse_what_cannot_be_varied_naming_the_field(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    cases = [
        (
            {"config": {}, "trials": 2, "vary": {"field": "seed", "values": [1, 2]}},
            ["body", "vary", "field"],
            "vary.field: 'seed' cannot be varied",
        ),
        (
            {"config": {}, "trials": 2, "vary": {"field": "hold_ms", "values": [10, -5]}},
            ["body", "vary", "values", 1],
            "hold_ms: a number of milliseconds from 0 to 60000, or a [min, max] range of them with min at most max "
            "(got -5)",
        ),
        (
            {"config": {"strategy": "optimistic"}, "trials": 2, "vary": {"field": "lock", "values": ["none", "file"]}},
            ["body", "vary", "values", 1],
            "lock: lock 'file' guards strategy 'read-write' only",
        ),
        (
            {"config": {"buyers": 0}, "trials": 2, "vary": {"field": "hold_ms", "values": [0, 5]}},
            ["body", "config", "buyers"],
            "buyers: a whole number of buyers from 1 to 10,000,000 (got 0)",
        ),
        (
            {"config": {}, "trials": "five", "vary": {"field": "hold_ms", "values": [0]}},
            ["body", "trials"],
            'trials: a whole number of trials for each value, from 1 to 1,000 (got "five")',
        ),
        ({"config": {}, "trials": 2}, ["body", "vary"], "vary: missing; give an object naming the field to vary"),
        ([1, 2], ["body"], "the body must be a JSON object with config, trials and vary, sent as application/json"),
    ]
    for body, loc, message in cases:
        response = client.post("/experiments", json=body)

        assert response.status_code == 422, body
        (error,) = response.json()["detail"]
        assert error["loc"] == loc, body
        assert error["msg"].startswith(message), error["msg"]
    assert client.get("/experiments").json()["count"] == 0
    assert client.get("/simulations").json()["count"] == 0  # every point was checked before anything was stored


def test_experiments_trials_values_and_runs_are_bounded_by_the_settings(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_trials=3, max_points=2, max_running=1, max_queued=4, max_process_buyers=50)
    cases = [
        (
            {"trials": 4, "vary": {"field": "hold_ms", "values": [0]}},
            ["body", "trials"],
            "trials: at most 3 trials of each value are allowed on this server (TICKETRUSH_MAX_TRIALS; got 4)",
        ),
        (
            {"trials": 1, "vary": {"field": "hold_ms", "values": [0, 1, 2]}},
            ["body", "vary", "values"],
            "vary.values: at most 2 values are allowed on this server (TICKETRUSH_MAX_POINTS; got 3)",
        ),
        (
            {"trials": 3, "vary": {"field": "hold_ms", "values": [0, 1]}},
            ["body", "trials"],
            "trials: 2 values x 3 trials is 6 runs, more than the 5 this server holds running and queued at once "
            "(TICKETRUSH_MAX_RUNNING + TICKETRUSH_MAX_QUEUED)",
        ),
        (
            {"trials": 1, "vary": {"field": "buyers", "values": [10, 60]}},
            ["body", "vary", "values", 1],
            "buyers: at most 50 buyers are allowed with executor 'process'",
        ),
    ]
    for body, loc, message in cases:
        response = client.post("/experiments", json={"config": {}, **body})

        assert response.status_code == 422, body
        (error,) = response.json()["detail"]
        assert (error["loc"], error["type"]) == (loc, "limit_exceeded"), body
        assert error["msg"].startswith(message), error["msg"]
    assert client.get("/simulations").json()["count"] == 0


def test_experiments_full_queue_is_429_and_stores_nothing(start_server: Callable[..., Server]) -> None:
    server = start_server(TICKETRUSH_MAX_RUNNING="1", TICKETRUSH_MAX_QUEUED="4")
    running, queued = server.post(LONG), server.post(LONG)

    refused = server.client.post(
        "/experiments", json={"config": RACE, "trials": 2, "vary": {"field": "tickets", "values": [1, 2]}}
    )

    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "5"
    assert refused.json()["detail"] == (
        "these 4 runs need 4 of the 5 places this server has for running and queued simulations "
        "(TICKETRUSH_MAX_RUNNING=1, TICKETRUSH_MAX_QUEUED=4), and 3 are free; try again when some have finished"
    )
    assert server.client.get("/experiments").json()["count"] == 0
    assert server.client.get("/simulations").json()["count"] == 2
    for sim in (queued, running):
        assert server.client.post(f"/simulations/{sim['id']}/cancel").json()["status"] == "cancelled"


def test_experiments_cancel_stops_the_running_trial_keeps_the_finished_and_delete_removes_all(
    start_server: Callable[..., Server],
) -> None:
    server = start_server()
    created = post(server, QUICK_THEN_LONG)
    running = wait_experiment(
        server, created["id"], lambda e: e["points"][0]["completed"] == 1 and e["status"] == "running", "running"
    )
    long_trial = running["points"][1]["trials"][0]
    server.wait_until(long_trial, lambda s: s["status"] == "running", 60, "running")

    busy = server.client.delete(f"/experiments/{created['id']}")
    assert busy.status_code == 409
    assert busy.json()["detail"] == f"experiment {created['id']} is running; cancel it before deleting it"

    response = server.client.post(f"/experiments/{created['id']}/cancel")

    assert response.status_code == 200, response.text
    cancelled = response.json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["error"] == "1 of 4 trials completed; trial 1 of think_ms 60000 was cancelled"
    in_chinese = server.client.get(f"/experiments/{created['id']}", headers={"Accept-Language": "zh"}).json()
    assert in_chinese["error"] == "4 次试验中完成了 1 次;think_ms 60000 的第 1 次试验已取消"
    wait_for(lambda: server.descendants() == [], GONE_TIMEOUT_S, "the run processes to be gone")
    finished, other = cancelled["points"]
    assert finished["completed"] == 1 and finished["oversold"] == running["points"][0]["oversold"]
    assert [server.get(i)["status"] for i in finished["trials"] + other["trials"]] == [
        "completed",
        "cancelled",
        "cancelled",
        "cancelled",
    ]
    again = server.client.post(f"/experiments/{created['id']}/cancel")
    assert again.status_code == 409
    assert again.json()["detail"] == f"experiment {created['id']} is cancelled; it cannot be cancelled"

    assert server.client.delete(f"/experiments/{created['id']}").status_code == 204
    assert server.client.get(f"/experiments/{created['id']}").status_code == 404
    for sim_id in finished["trials"] + other["trials"]:
        assert server.client.get(f"/simulations/{sim_id}").status_code == 404


def test_experiments_restart_marks_an_unfinished_one_interrupted_and_keeps_its_finished_trials(
    start_server: Callable[..., Server],
) -> None:
    first = start_server()
    created = post(first, QUICK_THEN_LONG)
    running = wait_experiment(first, created["id"], lambda e: e["points"][0]["completed"] == 1, "one trial in")
    first.wait_until(running["points"][1]["trials"][0], lambda s: s["status"] == "running", 60, "running")
    csv_before = first.client.get(f"/experiments/{created['id']}?format=csv").text.splitlines()

    first.kill()
    second = start_server(data_dir=first.data_dir)

    experiment = read(second, created["id"])
    assert experiment["status"] == "interrupted"
    assert experiment["error"] == (
        "1 of 4 trials completed; trial 1 of think_ms 60000 was interrupted: "
        "the server stopped while this simulation was running"
    )
    listed = second.client.get("/experiments?lang=zh").json()["data"]
    assert [e["error"] for e in listed if e["id"] == created["id"]] == [
        "4 次试验中完成了 1 次;think_ms 60000 的第 1 次试验被中断:服务器停止时,这次模拟的状态是「运行中」"
    ]
    assert experiment["finished_at"] is not None
    kept = experiment["points"][0]
    assert (kept["completed"], kept["oversold"]) == (1, running["points"][0]["oversold"])
    rows = list(csv.DictReader(io.StringIO(second.client.get(f"/experiments/{created['id']}?format=csv").text)))
    assert [r["status"] for r in rows] == ["completed", "interrupted", "interrupted", "interrupted"]
    assert second.client.get(f"/experiments/{created['id']}?format=csv").text.splitlines()[1] == csv_before[1]


def test_experiments_unknown_id_is_404(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    for method, path in (("GET", ""), ("POST", "/cancel"), ("DELETE", "")):
        response = client.request(method, f"/experiments/{'0' * 32}{path}")
        assert response.status_code == 404
        assert response.json()["detail"] == f"no experiment has the id '{'0' * 32}'"


def test_experiments_a_trial_cancelled_on_its_own_lets_the_next_wait_for_the_one_still_running(
    start_server: Callable[..., Server],
) -> None:
    server = start_server(TICKETRUSH_MAX_RUNNING="4")
    created = post(server, QUICK_THEN_LONG)
    running = wait_experiment(server, created["id"], lambda e: e["points"][0]["completed"] == 1, "one trial in")
    (quick_1, quick_2), (long_1, long_2) = (point["trials"] for point in running["points"])
    server.wait_until(long_1, lambda s: s["status"] == "running", 60, "running")

    assert server.client.post(f"/simulations/{quick_2}/cancel").json()["status"] == "cancelled"
    # queued after long_2, so once it has run the dispatcher has passed long_2 over with a slot free
    later = server.wait_finished(server.post({"buyers": 2, "think_ms": 0, "hold_ms": 0})["id"])

    assert later["status"] == "completed"
    assert server.get(long_1)["status"] == "running"
    assert server.get(long_2)["status"] == "queued", "the trial after the cancelled one ran beside the running one"
    assert server.client.post(f"/experiments/{created['id']}/cancel").json()["status"] == "cancelled"
    assert [server.get(i)["status"] for i in (quick_1, long_1, quick_2, long_2)] == [
        "completed",
        "cancelled",
        "cancelled",
        "cancelled",
    ]
