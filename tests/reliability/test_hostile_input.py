"""Hostile input by hand: odd ids and paths, huge bodies and numbers, NaN and Infinity, broken bodies.

Every answer is a 4xx whose message says what is wrong (naming the field where there is one), the server keeps
serving, and nothing is written (or deleted) outside the data directory. Paths are sent byte for byte over a
raw connection to a real server, because HTTP clients tidy `../` and percent-escapes away.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from live_server import Server

from app.main import MAX_BODY_BYTES

REAL_ID_LENGTH = 32
HOSTILE_IDS = [
    "..",
    "%2e%2e",
    "%2E%2E%2F%2E%2E%2Foutside",
    "..%2F..%2Foutside",
    "../../outside",
    "....//....//outside",
    "%252e%252e%252foutside",
    "%00",
    "0" * (REAL_ID_LENGTH - 1) + "%00",
    "%C3%A9" * 16,
    "%ff%fe",
    "a" * 10_000,
    "runs",
    "ticketrush.sqlite3",
]
# Request lines past the HTTP parser's 16 KiB limit: whether the server sees the id (404) or refuses the line (400
# and a closed connection, which the client may see as a reset) depends on how the bytes arrive, not on the id.
OVERSIZED_IDS = ["0" * 100_000, "0" * 1_000_000]
ENDPOINTS = [
    ("GET", "/simulations/{}"),
    ("GET", "/simulations/{}/buyers"),
    ("GET", "/simulations/{}/buyers?format=csv"),
    ("GET", "/simulations/{}/events"),
    ("POST", "/simulations/{}/cancel"),
    ("DELETE", "/simulations/{}"),
]


def tree(folder: Path) -> dict[str, int]:
    """Every file under `folder` with its size."""
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()}


def raw_request(
    server: Server,
    method: str,
    path: str,
    body: bytes | Iterable[bytes] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """Send `path` exactly as given (http.client neither resolves `../` nor re-escapes)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        headers = headers or {}
        connection.request(method, path, body=body, headers=headers, encode_chunked="Transfer-Encoding" in headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture
def guarded(tmp_path: Path, start_server: Callable[..., Server]) -> Iterator[Server]:
    """A server whose data directory sits beside a file it must never touch; afterwards nothing outside the
    data directory has changed."""
    precious = tmp_path / "outside"
    precious.write_text("not the server's")
    server = start_server(data_dir=tmp_path / "data")
    log = server.log_path.relative_to(tmp_path)
    before = {k: v for k, v in tree(tmp_path).items() if not k.startswith("data/") and k != str(log)}
    yield server
    after = {k: v for k, v in tree(tmp_path).items() if not k.startswith("data/") and k != str(log)}
    assert after == before
    assert precious.read_text() == "not the server's"


def test_hostile_ids_and_paths_are_404_and_touch_nothing(guarded: Server) -> None:
    done = guarded.wait_finished(guarded.post({"buyers": 2, "think_ms": 0, "hold_ms": 0})["id"])
    run_files = tree(guarded.data_dir / "runs" / done["id"])

    for sim_id in HOSTILE_IDS:
        for method, template in ENDPOINTS:
            status, body = raw_request(guarded, method, template.format(sim_id))
            assert status == 404, (method, sim_id[:100], status)
            detail = json.loads(body)["detail"]
            assert detail.startswith("no simulation has the id") or detail == "Not Found", detail
            assert len(body) < 300  # a long id is not echoed back whole
    for path in ["/static/../app/settings.py", "/static/%2e%2e/settings.py", "/static/..%2F..%2Fpyproject.toml"]:
        status, body = raw_request(guarded, "GET", path)
        assert status == 404, (path, status)
        assert b"pydantic" not in body and b"[project]" not in body

    for sim_id in OVERSIZED_IDS:
        for method, template in ENDPOINTS:
            try:
                status, _ = raw_request(guarded, method, template.format(sim_id))
            except ConnectionError:
                continue
            assert status in (400, 404), (method, len(sim_id), status)

    assert guarded.client.get("/simulations").json()["count"] == 1
    assert guarded.get(done["id"]) == done
    assert tree(guarded.data_dir / "runs" / done["id"]) == run_files


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_hostile_10mb_body_is_413_and_the_server_keeps_serving(guarded: Server, chunked: bool) -> None:
    body = json.dumps({"buyers": 2, "think_ms": [1.0] * 2_000_000}).encode()
    assert len(body) > 10_000_000
    headers = {"Content-Type": "application/json"}

    started = time.monotonic()
    if chunked:
        pieces = (body[i : i + 65536] for i in range(0, len(body), 65536))
        status, answer = raw_request(
            guarded, "POST", "/simulations", pieces, {**headers, "Transfer-Encoding": "chunked"}
        )
    else:
        status, answer = raw_request(guarded, "POST", "/simulations", body, headers)
    elapsed = time.monotonic() - started

    assert status == 413, answer[:300]
    assert json.loads(answer) == {
        "detail": f"the body is larger than {MAX_BODY_BYTES:,} bytes, more than any simulation config needs"
    }
    assert elapsed < 5, elapsed
    assert guarded.client.get("/healthz").status_code == 200
    assert guarded.client.get("/simulations").json()["count"] == 0
    just_under = {"buyers": 2, "think_ms": 0, "hold_ms": 0, "seed": 1}
    padding = MAX_BODY_BYTES - len(json.dumps(just_under)) - 1
    accepted = guarded.client.post("/simulations", content=json.dumps(just_under) + " " * padding, headers=headers)
    assert accepted.status_code == 202, accepted.text
    assert guarded.wait_finished(accepted.json()["id"])["status"] == "completed"


# Bodies written as text, so that they can hold what Python's json writes for NaN and Infinity; each is refused
# with one message for its field, which shows the value as it was written.
HOSTILE_NUMBERS = [
    ('{"think_ms": NaN}', "think_ms", "(got NaN)"),
    ('{"hold_ms": [0, Infinity]}', "hold_ms", "(got [0, Infinity])"),
    ('{"think_ms": [NaN, NaN]}', "think_ms", "(got [NaN, NaN])"),
    ('{"lock_timeout_s": -Infinity}', "lock_timeout_s", "(got -Infinity)"),
    ('{"lock_timeout_s": NaN}', "lock_timeout_s", "(got NaN)"),
    ('{"buyers": NaN}', "buyers", "(got NaN)"),
    ('{"seed": Infinity}', "seed", "(got Infinity)"),
    ('{"buyers": 1e400}', "buyers", "(got Infinity)"),
    ('{"hold_ms": 1e400}', "hold_ms", "(got Infinity)"),
    ('{"tickets": -1e400}', "tickets", "(got -Infinity)"),
    ('{"buyers": 1e3}', "buyers", "(got 1000.0)"),
    ('{"buyers": 100000000000000000000000000000000000000}', "buyers", "(got 100000000000000000000000000000000000000)"),
    ('{"tickets": 99999999999999999999999999}', "tickets", "(got 99999999999999999999999999)"),
    ('{"seed": 9223372036854775808}', "seed", "(got 9223372036854775808)"),
    ('{"seed": -1}', "seed", "(got -1)"),
    ('{"workers": 0, "executor": "pool"}', "workers", "(got 0)"),
    ('{"workers": 100000, "executor": "pool"}', "workers", "(got 100000)"),
    ('{"think_ms": 1e308}', "think_ms", "(got 1e+308)"),
    ('{"think_ms": [-5, 10]}', "think_ms", "(got [-5, 10])"),
    ('{"hold_ms": [-10, -5]}', "hold_ms", "(got [-10, -5])"),
    ('{"hold_ms": [5, -10]}', "hold_ms", "(got [5, -10])"),
    ('{"hold_ms": [-0.001, 0]}', "hold_ms", "(got [-0.001, 0])"),
    ('{"think_ms": []}', "think_ms", "(got [])"),
    ('{"lock_timeout_s": 0}', "lock_timeout_s", "(got 0)"),
    ('{"lock_timeout_s": 1e9}', "lock_timeout_s", "(got 1000000000.0)"),
]


def strict_json(text: str) -> Any:
    """Parse as JSON.parse in a browser would: NaN, Infinity and -Infinity are not JSON."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"the answer is not valid JSON: it holds a bare {constant}: {text}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


@pytest.mark.parametrize(("body", "field", "words"), HOSTILE_NUMBERS, ids=[b for b, _, _ in HOSTILE_NUMBERS])
def test_hostile_numbers_are_422_naming_the_field(client: TestClient, body: str, field: str, words: str) -> None:
    response = client.post("/simulations", content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 422, response.text
    errors = strict_json(response.text)["detail"]  # no bare NaN or Infinity, even when echoing one back
    (message,) = [e["msg"] for e in errors if e["loc"][:2] == ["body", field]]
    assert message.startswith(f"{field}: ") and message.endswith(f" {words}"), errors
    assert client.get("/simulations").json()["count"] == 0


def test_hostile_seed_bound_is_exact(client: TestClient) -> None:
    largest = client.post("/simulations", json={"buyers": 1, "seed": 2**63 - 1, "think_ms": 0, "hold_ms": 0})
    assert largest.status_code == 202, largest.text
    assert largest.json()["config"]["seed"] == 2**63 - 1
    refused = client.post("/simulations", json={"buyers": 1, "seed": 2**63})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "seed"]
    client.post(f"/simulations/{largest.json()['id']}/cancel")


BROKEN_BODIES: list[tuple[bytes, str, int, str]] = [
    (b"", "application/json", 422, "body is missing"),
    (b"   ", "application/json", 422, "not valid JSON"),
    (b'{"buyers": 2}', "text/plain", 422, "JSON object"),
    (b'{"buyers": 2}', "application/xml", 422, "JSON object"),
    (b'{"buyers": 2}', "multipart/form-data; boundary=x", 422, "JSON object"),
    (b"null", "application/json", 422, "JSON object"),
    (b'"buyers"', "application/json", 422, "JSON object"),
    (b'{"buyers": 2,}', "application/json", 422, "not valid JSON"),
    (b"{'buyers': 2}", "application/json", 422, "not valid JSON"),
    (b'{"lock": "\xe9"}', "application/json", 400, "error parsing the body"),  # latin-1, not UTF-8
    (b'{"think_ms": ' + b"[" * 5000 + b"]" * 5000 + b"}", "application/json", 400, "error parsing the body"),
    (b'{"buyers": 1' + b"0" * 5000 + b"}", "application/json", 400, "error parsing the body"),
]


@pytest.mark.parametrize(
    ("content", "content_type", "code", "words"),
    BROKEN_BODIES,
    ids=[f"{c[:20]!r}-{t}" for c, t, _, _ in BROKEN_BODIES],
)
def test_hostile_broken_bodies_are_4xx_saying_why(
    client: TestClient, content: bytes, content_type: str, code: int, words: str
) -> None:
    response = client.post("/simulations", content=content, headers={"Content-Type": content_type})

    assert response.status_code == code, response.text
    detail: Any = response.json()["detail"]
    text = detail if isinstance(detail, str) else " ".join(e["msg"] for e in detail)
    assert words in text, detail
    assert client.get("/simulations").json()["count"] == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=NaN", "limit"),
        ("limit=Infinity", "limit"),
        ("offset=1e3", "offset"),
        ("offset=-1", "offset"),
        ("offset=99999999999999999999999", "offset"),
        ("limit=%00", "limit"),
        ("limit=1&limit=100000", "limit"),
    ],
)
def test_hostile_query_parameters_are_422_naming_them(client: TestClient, query: str, field: str) -> None:
    response = client.get(f"/simulations?{query}")

    assert response.status_code == 422, response.text
    assert [e["loc"] for e in response.json()["detail"]] == [["query", field]]
