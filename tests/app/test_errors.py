"""Every error the API answers is JSON with a `detail`, a bug (500) and an oversized body (413) included."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import MAX_BODY_BYTES, create_app
from app.settings import Settings


def test_errors_a_bug_is_a_500_in_json_without_the_traceback(
    tmp_path: Path, no_leftover_children: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(Settings(data_dir=tmp_path / "data"))
    with TestClient(app, raise_server_exceptions=False) as client:

        def broken(offset: int, limit: int) -> None:
            raise RuntimeError("secret internals")

        monkeypatch.setattr(app.state.store, "page", broken)
        response = client.get("/simulations")

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": "the server failed while answering; the cause is in its log"}


@pytest.mark.parametrize(
    ("method", "path", "body", "code"),
    [
        ("GET", "/nowhere", None, 404),
        ("PUT", "/simulations", None, 405),
        ("POST", "/simulations", b"{" + b" " * MAX_BODY_BYTES + b"}", 413),
        ("POST", f"/simulations/{'0' * 32}/cancel", b"{}", 404),
    ],
)
def test_errors_answer_json_with_a_detail(
    tmp_path: Path, no_leftover_children: None, method: str, path: str, body: bytes | None, code: int
) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path / "data"))) as client:
        response = client.request(method, path, content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == code
    assert response.headers["content-type"] == "application/json"
    assert isinstance(response.json()["detail"], str) and response.json()["detail"]
