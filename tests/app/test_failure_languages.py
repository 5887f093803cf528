"""Why a run failed after it started, in the language asked for: through a real server (Accept-Language, ?lang=)
and the command line (--lang), for each way a run ends badly. The servers' own words stay as they said them."""

from __future__ import annotations

import csv
import io
import re
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from live_server import Server, buyers_of, wait_for

from app.cli import main
from tests.servers import Postgres, Redis, drop_runs_under, servers_of

LONG = {"buyers": 4, "tickets": 2, "think_ms": 0, "hold_ms": 60_000}
# one buyer holds the process lock for a second; the other gives up waiting for it after 50 ms
GAVE_UP = {"buyers": 2, "tickets": 1, "lock": "process", "lock_timeout_s": 0.05, "think_ms": 0, "hold_ms": 1000}
# buyer 1 writes first; buyer 2's write is refused, and with no retry allowed it gives up
NO_RETRY = {"buyers": 2, "tickets": 1, "strategy": "optimistic", "max_retries": 0, "schedule": [1, 2, 1, 2, 1, 2]}


@pytest.fixture(autouse=True)
def nothing_left_on_the_servers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[None]:
    servers = servers_of(request)
    yield
    drop_runs_under(tmp_path, servers)


def errors_of(server: Server, sim_id: str) -> dict[str, Any]:
    """The simulation's error as the API says it: by default, in English, in Chinese, and by ?lang=zh."""
    said = {
        "default": server.client.get(f"/simulations/{sim_id}").json()["error"],
        "en": server.client.get(f"/simulations/{sim_id}", headers={"Accept-Language": "en-GB"}).json()["error"],
        "zh": server.client.get(f"/simulations/{sim_id}", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).json()[
            "error"
        ],
        "?lang=zh": server.client.get(f"/simulations/{sim_id}?lang=zh").json()["error"],
    }
    listed = server.client.get("/simulations", headers={"Accept-Language": "zh"}).json()["data"]
    assert [s["error"] for s in listed if s["id"] == sim_id] == [said["zh"]]  # the list says it the same way
    return said


def assert_said(said: dict[str, Any], english: str, chinese: str) -> None:
    assert said == {"default": english, "en": english, "zh": chinese, "?lang=zh": chinese}


def test_a_run_past_its_time_limit_says_so_in_the_language_asked_for(start_server: Callable[..., Server]) -> None:
    server = start_server(TICKETRUSH_RUN_TIMEOUT_S="1.5")
    sim = server.post(LONG)

    assert server.wait_finished(sim["id"])["status"] == "failed"
    assert_said(
        errors_of(server, sim["id"]), "the run went past its time limit of 1.5 s", "这次运行超过了 1.5 秒的时限"
    )


def test_a_killed_run_process_is_said_in_the_language_asked_for(start_server: Callable[..., Server]) -> None:
    server = start_server()
    sim = server.post(LONG)
    server.wait_until(sim["id"], lambda s: s["status"] == "running", 60, "running")
    (runner,) = wait_for(server.run_processes, 30, "the run process")

    runner.send_signal(signal.SIGKILL)

    assert server.wait_finished(sim["id"])["status"] == "failed"
    assert_said(
        errors_of(server, sim["id"]),
        "the run process was killed by signal 9 before finishing",
        "运行进程在完成之前被信号 9 杀死了",
    )


def test_a_killed_seller_fails_the_run_in_the_language_asked_for(start_server: Callable[..., Server]) -> None:
    server = start_server()
    sim = server.post({"buyers": 2, "tickets": 1, "strategy": "seller", "lock": "none", "think_ms": 60_000})
    server.wait_until(sim["id"], lambda s: s["status"] == "running", 60, "running")
    (runner,) = wait_for(server.run_processes, 30, "the run process")
    # the launcher starts the seller first, then the two buyers, who think for a minute before asking it
    started = wait_for(lambda: len(buyers_of(runner)) == 3 and buyers_of(runner), 30, "the seller and its buyers")
    seller = min(started, key=lambda p: p.create_time())

    seller.send_signal(signal.SIGKILL)

    assert server.wait_finished(sim["id"])["status"] == "failed"
    assert_said(
        errors_of(server, sim["id"]),
        "the ticketrush-seller was killed by signal 9 mid-run",
        "ticketrush-seller 在运行中途被信号 9 杀死了",
    )


def test_runs_stopped_by_a_shutdown_or_a_dead_server_say_so_in_the_language_asked_for(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    first = start_server(data_dir=tmp_path / "data", TICKETRUSH_MAX_RUNNING="1")
    running = first.post(LONG)
    queued = first.post(LONG)
    first.wait_until(running["id"], lambda s: s["status"] == "running", 60, "running")
    first.stop()  # SIGTERM: the running run is cancelled, the queued one never starts
    second = start_server(data_dir=tmp_path / "data")
    interrupted = second.post(LONG)
    second.wait_until(interrupted["id"], lambda s: s["status"] == "running", 60, "running")
    second.kill()  # SIGKILL: the next server finds the run still marked running
    third = start_server(data_dir=tmp_path / "data")

    assert [third.get(s["id"])["status"] for s in (running, queued, interrupted)] == [
        "cancelled",
        "cancelled",
        "interrupted",
    ]
    assert_said(
        errors_of(third, running["id"]),
        "the server was shut down while this simulation was running",
        "这次模拟运行时服务器被关闭了",
    )
    assert_said(
        errors_of(third, queued["id"]),
        "the server was shut down before this simulation could start",
        "这次模拟还没开始,服务器就关闭了",
    )
    assert_said(
        errors_of(third, interrupted["id"]),
        "the server stopped while this simulation was running",
        "服务器停止时,这次模拟的状态是「运行中」",
    )


@pytest.mark.parametrize(
    "store", [pytest.param("postgres", marks=pytest.mark.postgres), pytest.param("redis", marks=pytest.mark.redis)]
)
def test_a_store_server_closing_the_runs_connections_is_said_in_the_language_asked_for_in_its_own_words(
    start_server: Callable[..., Server], request: pytest.FixtureRequest, store: str
) -> None:
    admin: Postgres | Redis = request.getfixturevalue("postgres" if store == "postgres" else "redis_server")
    server = start_server(**{f"TICKETRUSH_{store.upper()}_URL": admin.url})
    sim = server.post({"buyers": 5, "tickets": 5, "think_ms": 0, "hold_ms": 2000, "store": store})
    run_dir = server.data_dir / "runs" / sim["id"]
    wait_for(lambda: admin.connections(run_dir) == 5, 30, "the run's five buyers to connect")
    assert admin.close_connections(run_dir) == 5

    assert server.wait_finished(sim["id"])["status"] == "failed"
    said = errors_of(server, sim["id"])
    assert said["default"] == said["en"] and said["zh"] == said["?lang=zh"]
    words = admin.closed_on(said["en"]).removesuffix("; 0 of 5 buyers finished, 5 failed")
    server_name = "PostgreSQL" if store == "postgres" else "Redis"
    assert said["zh"] == f"{admin.where} 上的 {server_name} 服务器关闭了连接:{words};5 个路人中 0 个完成,5 个失败"
    assert words.startswith(admin.TERMINATED)  # the server's words, the same in both languages


def _cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def test_cli_says_why_a_run_failed_in_chinese_with_lang_zh(capsys: pytest.CaptureFixture[str]) -> None:
    config = ("run", "--buyers", "2", "--think-ms", "0", "--hold-ms", "60000", "--time-limit-s", "0.5")

    assert _cli(*config, "--lang", "zh")[0] == 1
    assert capsys.readouterr().err == "ticketrush: 这次运行超过了 0.5 秒的时限\n"
    assert _cli(*config, "--lang", "en")[0] == 1
    assert capsys.readouterr().err == "ticketrush: the run went past its time limit of 0.5 s\n"


def test_cli_says_an_unreachable_store_server_in_chinese_keeping_the_clients_words(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TICKETRUSH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:1/test")

    assert _cli("run", "--store", "postgres", "--buyers", "2", "--lang", "en")[0] == 1
    english = capsys.readouterr().err
    assert _cli("run", "--store", "postgres", "--buyers", "2", "--lang", "zh")[0] == 1
    chinese = capsys.readouterr().err

    head = "ticketrush: the PostgreSQL server at 127.0.0.1:1 could not be reached: "
    assert english.startswith(head), english
    words = english.removeprefix(head)
    assert "refused" in words  # the client's own words, as it said them
    assert chinese == f"ticketrush: 127.0.0.1:1 上的 PostgreSQL 服务器无法连接:{words}"


def gave_up_errors(server: Server, sim_id: str, **asked: Any) -> dict[str, list[str]]:
    """What the buyers who gave up said, in /buyers and in its CSV, for a request with `asked` (headers, params)."""
    url = f"/simulations/{sim_id}/buyers"
    page = server.client.get(url, headers=asked.get("headers"), params=asked.get("params")).json()["data"]
    exported = server.client.get(url, headers=asked.get("headers"), params={**asked.get("params", {}), "format": "csv"})
    rows = csv.DictReader(io.StringIO(exported.text))
    return {
        "buyers": [b["error"] for b in page if b["outcome"] == "gave_up"],
        "csv": [r["error"] for r in rows if r["outcome"] == "gave_up"],
    }


def test_a_buyers_own_error_is_said_in_the_language_asked_for_in_buyers_and_the_csv(
    start_server: Callable[..., Server],
) -> None:
    server = start_server()
    sim = server.post(GAVE_UP)
    assert server.wait_finished(sim["id"])["status"] == "completed"

    english = ["gave up after waiting 0.05 s for the process lock"]
    chinese = ["等进程锁等了 0.05 秒后放弃了"]
    assert gave_up_errors(server, sim["id"]) == {"buyers": english, "csv": english}
    assert gave_up_errors(server, sim["id"], headers={"Accept-Language": "en-GB"}) == {
        "buyers": english,
        "csv": english,
    }
    assert gave_up_errors(server, sim["id"], headers={"Accept-Language": "zh-CN,zh;q=0.9"}) == {
        "buyers": chinese,
        "csv": chinese,
    }
    assert gave_up_errors(server, sim["id"], params={"lang": "zh"}) == {"buyers": chinese, "csv": chinese}


def test_the_reason_an_explanation_quotes_from_a_buyers_record_is_said_in_the_language_asked_for(
    start_server: Callable[..., Server],
) -> None:
    server = start_server()
    sim = server.post(NO_RETRY)
    assert server.wait_finished(sim["id"])["status"] == "completed"

    english = server.client.get(f"/simulations/{sim['id']}").json()["result"]["explanation"]
    chinese = server.client.get(f"/simulations/{sim['id']}", headers={"Accept-Language": "zh"}).json()["result"]
    assert "1 of 2 buyers gave up after 0 retries: another buyer wrote first every time." in english
    assert "2 个路人中有 1 个:重试了 0 次后放弃了:每次都有别的路人先写了。" in chinese["explanation"]
    said = gave_up_errors(server, sim["id"], params={"lang": "zh"})
    assert said == {"buyers": ["重试了 0 次后放弃了:每次都有别的路人先写了"]} | {"csv": said["buyers"]}


def test_cli_tells_a_buyers_own_error_in_chinese_with_lang_zh() -> None:
    config = ["run", "--buyers", "2", "--lock", "process", "--lock-timeout-s", "0.05", "--think-ms", "0"]
    config += ["--hold-ms", "1000"]

    code, chinese = _cli(*config, "--lang", "zh")
    assert code == 0
    assert len(re.findall(r"ms  路人\d放弃了\(等进程锁等了 0.05 秒后放弃了\)\n", chinese)) == 1, chinese
    code, english = _cli(*config, "--lang", "en")
    assert len(re.findall(r"ms  buyer \d gave up after waiting 0.05 s for the process lock\n", english)) == 1, english
