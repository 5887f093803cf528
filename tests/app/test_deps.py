"""The shared dependencies: an unknown or malformed id is a 404; the API token guards POST and DELETE only."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

TOKEN = "s3cret-token"
UNKNOWN = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("sim_id", [UNKNOWN, "abc", UNKNOWN.upper(), "%2e%2e", UNKNOWN + "0", "runs"])
def test_deps_unknown_or_malformed_id_is_404(make_client: Callable[..., TestClient], sim_id: str) -> None:
    client = make_client()

    for method, path in [
        ("GET", ""),
        ("GET", "/buyers"),
        ("GET", "/buyers?format=csv"),
        ("GET", "/events"),
        ("POST", "/cancel"),
        ("DELETE", ""),
    ]:
        response = client.request(method, f"/simulations/{sim_id}{path}")
        assert response.status_code == 404, (method, path, response.text)
        assert "no simulation has the id" in response.json()["detail"]


def test_deps_token_guards_post_and_delete(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_token=TOKEN)
    wrong = [{}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": TOKEN}]

    for headers in wrong:
        for method, path in [("POST", "/simulations"), ("DELETE", f"/simulations/{UNKNOWN}")]:
            response = client.request(method, path, json={"buyers": 1}, headers=headers)
            assert response.status_code == 401, (method, headers)
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert "Bearer" in response.json()["detail"]
        assert client.post(f"/simulations/{UNKNOWN}/cancel", headers=headers).status_code == 401
    assert client.get("/simulations").json()["count"] == 0


def test_deps_right_token_passes_and_reads_stay_open(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_token=TOKEN)
    auth = {"Authorization": f"Bearer {TOKEN}"}

    assert client.delete(f"/simulations/{UNKNOWN}", headers=auth).status_code == 404
    assert client.post("/simulations", json={"buyers": 0}, headers=auth).status_code == 422
    created = client.post("/simulations", json={"buyers": 1, "think_ms": 60_000, "hold_ms": 0}, headers=auth)
    assert created.status_code == 202, created.text
    for path in ["/simulations", f"/simulations/{created.json()['id']}", "/metrics", "/healthz", "/"]:
        assert client.get(path).status_code == 200, path
    cancelled = client.post(f"/simulations/{created.json()['id']}/cancel", headers=auth)  # a minute from done
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
