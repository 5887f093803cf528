"""The API and the CLI in the user's language: Chinese when asked for, English otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

from fastapi.testclient import TestClient


def test_the_api_says_the_verdict_and_explanation_in_the_language_asked_for(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    sim_id = client.post("/simulations", json={"buyers": 2, "tickets": 1, "schedule": [1, 2, 1, 2, 1, 2]}).json()["id"]
    deadline = time.monotonic() + 60
    while client.get(f"/simulations/{sim_id}").json()["status"] != "completed":
        assert time.monotonic() < deadline, "the run did not complete"
        time.sleep(0.05)
    chinese = client.get(f"/simulations/{sim_id}", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).json()["result"]
    assert chinese["verdict"] == "超卖:1 个座位卖出了 2 张票"
    assert chinese["explanation"].startswith("路人1和2都在路人1写回 0 之前读到了 count=1")
    english = client.get(f"/simulations/{sim_id}?lang=en", headers={"Accept-Language": "zh"}).json()["result"]
    assert english["verdict"] == "Oversold: 2 tickets handed out for 1 seat"
    listed = client.get("/simulations", headers={"Accept-Language": "zh"}).json()["data"][0]["result"]
    assert listed["verdict"] == chinese["verdict"]


def test_the_cli_tells_the_story_in_the_lessons_words_when_lang_is_chinese() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "run", "--buyers", "2", "--tickets", "1", "--schedule", "1,1,1,2,2"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "LANG": "zh_CN.UTF-8"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [line.split("ms  ", 1)[-1] for line in done.stdout.splitlines()]
    assert lines[:4] == [
        "路人1查看到剩余票数:1",
        "路人1抢票成功(读到 1,写回 0)",
        "路人2查看到剩余票数:0",
        "路人2抢票失败",
    ]
    assert "安全:没有一个座位被卖两次" in done.stdout
