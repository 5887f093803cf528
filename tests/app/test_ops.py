"""/healthz and /metrics against a real server."""

from __future__ import annotations

from live_server import Server, parse_metrics

QUICK = {"think_ms": 0, "hold_ms": 100}


def test_ops_healthz(server: Server) -> None:
    response = server.client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ops_metrics_match_the_stored_simulations(server: Server) -> None:
    server.wait_finished(server.post({"buyers": 10, "tickets": 1, "lock": "none", **QUICK})["id"])
    simulations = server.client.get("/simulations", params={"limit": 1000}).json()["data"]
    results = [s["result"] for s in simulations if s["result"] is not None]

    response = server.client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    metrics = parse_metrics(response.text)
    for status in ("queued", "running", "completed", "failed", "cancelled", "interrupted"):
        expected = sum(s["status"] == status for s in simulations)
        assert metrics[f'ticketrush_simulations{{status="{status}"}}'] == expected, status
    assert metrics["ticketrush_buyers_total"] == sum(r["buyers_total"] for r in results)
    assert metrics["ticketrush_tickets_sold_total"] == sum(r["tickets_sold"] for r in results)
    assert metrics["ticketrush_tickets_oversold_total"] == sum(r["oversold"] for r in results) >= 1
