"""The API and the CLI in the user's language, their refusals included: Chinese when asked for, English otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from app.ownership import DataDirInUse
from workers.experiments import VARIABLE_FIELDS
from workers.speech import said


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


ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


def test_the_api_refuses_a_field_in_the_language_asked_for_naming_the_field(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    refused = client.post("/simulations", json={"buyers": 0}, headers=ZH)
    assert refused.status_code == 422
    (error,) = refused.json()["detail"]
    assert error["loc"] == ["body", "buyers"]
    assert error["msg"] == "buyers:应为从 1 到 10,000,000 的整数(路人数);收到的是 0"
    english = client.post("/simulations?lang=en", json={"buyers": 0}, headers=ZH).json()["detail"][0]
    assert english["msg"] == "buyers: a whole number of buyers from 1 to 10,000,000 (got 0)"
    (pair,) = client.post("/simulations?lang=zh", json={"store": "memory", "lock": "advisory"}).json()["detail"]
    assert pair["loc"] == ["body", "lock"]
    assert pair["msg"] == (
        "lock:锁 'advisory' 只守护存储 'postgres'(锁由它的服务器保管);存储 'memory' 能用的锁是 "
        "'none'、'process'、'file' 或 'semaphore'"
    )
    assert client.get("/simulations", headers=ZH).json()["count"] == 0


def test_the_api_refuses_a_schedule_in_chinese(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    body = {"buyers": 2, "tickets": 1, "lock": "process", "schedule": [1, 2, 1, 2]}
    refused = client.post("/simulations", json=body, headers=ZH)
    assert refused.status_code == 422
    (error,) = refused.json()["detail"]
    assert error["loc"] == ["body", "schedule"]
    assert error["msg"] == "schedule:调度的第 4 步:路人2在等进程锁:路人1正拿着"
    counted = client.post("/interleavings", json={"buyers": 5}, headers=ZH).json()["detail"]
    assert [e["msg"] for e in counted] == ["buyers:最多 4 个路人:交错的数目按阶乘增长"]


def test_the_apis_other_refusals_are_said_in_chinese(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_running=1, max_queued=0)
    assert client.get("/simulations/nope", headers=ZH).json()["detail"] == "没有 id 为 'nope' 的模拟"
    assert client.get("/no-such-page", headers=ZH).json()["detail"] == "找不到"
    too_big = client.post("/simulations", content=b"{" + b" " * 20_000 + b"}", headers=ZH)
    assert too_big.status_code == 413
    assert too_big.json()["detail"] == "请求体超过了 16,384 字节,比任何模拟配置需要的都大"
    running = client.post("/simulations", json={"buyers": 1, "think_ms": 60_000, "hold_ms": 0}).json()["id"]
    full = client.post("/simulations", json={"buyers": 1}, headers=ZH)
    assert full.status_code == 429
    assert full.json()["detail"] == (
        "已经有 1 个模拟在运行或排队,这是这台服务器的上限(TICKETRUSH_MAX_RUNNING=1,TICKETRUSH_MAX_QUEUED=0);"
        "等有一个结束后再试"
    )
    deadline = time.monotonic() + 60
    while client.get(f"/simulations/{running}").json()["status"] != "running":
        assert time.monotonic() < deadline, "the run did not start"
        time.sleep(0.05)
    busy = client.delete(f"/simulations/{running}", headers=ZH)
    assert busy.status_code == 409 and busy.json()["detail"] == f"模拟 {running} 运行中;请先取消它再删除"
    assert client.post(f"/simulations/{running}/cancel").json()["status"] == "cancelled"
    again = client.post(f"/simulations/{running}/cancel", headers=ZH)
    assert again.status_code == 409 and again.json()["detail"] == f"模拟 {running} 已取消,不能变为已取消"
    english = client.post(f"/simulations/{running}/cancel").json()["detail"]
    assert english == f"simulation {running} is cancelled; it cannot become cancelled"


def test_the_cli_refuses_in_chinese_with_lang_zh() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "run", "--buyers", "0", "--store", "memory", "--strategy", "optimistic",
         "--lang", "zh"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "LANG": "en_US.UTF-8"},
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "ticketrush: --buyers:应为从 1 到 10,000,000 的整数(路人数);收到的是 0",
        "ticketrush: --strategy:策略 'optimistic' 不能在存储 'memory' 上运行,这个存储能用的策略是 'read-write' 或 "
        "'seller';策略 'optimistic' 能在存储 'file'、'sqlite'、'postgres' 或 'redis' 上运行",
    ]
    env = {k: v for k, v in os.environ.items() if k != "TICKETRUSH_POSTGRES_URL"}
    unset = subprocess.run(
        [sys.executable, "-m", "app.cli", "run", "--store", "postgres"],
        capture_output=True, text=True, timeout=60, env={**env, "LANG": "zh_CN.UTF-8"},
    )  # fmt: skip
    assert unset.returncode == 2
    assert unset.stderr.strip() == (
        "ticketrush: --store:存储 postgres 需要 TICKETRUSH_POSTGRES_URL,也就是它的服务器的 URL;它没有设置"
    )


def test_the_cli_step_refuses_a_step_in_chinese() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "step", "--buyers", "2", "--tickets", "1", "--lock", "file", "--lang", "zh"],
        input="1\n1\n2\n2\nend\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = [line.removeprefix("> ") for line in done.stdout.splitlines()]
    assert shown[3:6] == [
        "count=1;路人1拿着锁;路人1:下一步写回;路人2:下一步读取",
        "路人2在等文件锁:路人1正拿着",
        "count=0;路人1:抢票成功;路人2:抢票失败",
    ]


def test_an_experiment_is_refused_in_chinese(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    spec = {
        "config": {"store": "memory"},
        "trials": 2,
        "vary": {"field": "strategy", "values": ["read-write", "atomic"]},
    }
    refused = client.post("/experiments", json=spec, headers=ZH)
    assert refused.status_code == 422
    (error,) = refused.json()["detail"]
    assert error["loc"] == ["body", "vary", "values", 1]
    assert error["msg"].startswith("strategy:策略 'atomic' 不能在存储 'memory' 上运行")
    fixed = client.post("/experiments", json={**spec, "vary": {"field": "seed", "values": [1, 2]}}, headers=ZH)
    assert fixed.json()["detail"][0]["msg"] == (
        "vary.field:'seed' 不能变化(各次试验用种子 seed、seed + 1……重复同一个点);可以变化的有 "
        + "、".join(VARIABLE_FIELDS[:-1])
        + f" 或 {VARIABLE_FIELDS[-1]}"
    )


def test_the_cli_sweep_refuses_in_chinese() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "sweep", "--vary", "hold_ms=0,10", "--hold-ms", "5", "--lang", "zh"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == "ticketrush: --hold-ms:--vary 已经设定了 hold_ms;请去掉 --hold-ms"


def _cli(*argv: str, lang: str = "en_US.UTF-8", **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *argv],
        capture_output=True, text=True, timeout=60, env={**os.environ, "LANG": lang, **env},
    )  # fmt: skip


def test_the_cli_says_its_usage_errors_in_chinese_with_lang_zh_or_lang() -> None:
    choice = _cli("run", "--lock", "x", "--lang", "zh")
    assert choice.returncode == 2
    assert choice.stderr.splitlines()[0].startswith("用法: ticketrush run [-h]")
    assert choice.stderr.splitlines()[-1] == (
        "ticketrush run:错误:参数 --lock:无效的选择:'x'(可选:'none', 'process', 'file', 'semaphore', "
        "'advisory', 'redis')"
    )
    read = _cli("run", "--schedule", "1,a", lang="zh_CN.UTF-8")  # by LANG, through an option's own reader
    assert read.stderr.splitlines()[-1] == (
        "ticketrush run:错误:参数 --schedule:用逗号分隔的路人编号,例如 1,2,1,2(收到的是 '1,a')"
    )
    assert _cli("sweep", "--lang=zh").stderr.splitlines()[-1] == "ticketrush sweep:错误:缺少以下必需的参数:--vary"
    assert (
        _cli("run", "--bogus", lang="zh_CN.UTF-8").stderr.splitlines()[-1] == "ticketrush:错误:无法识别的参数:--bogus"
    )
    assert _cli("run", "--lock", "x", "--lang", "en", lang="zh_CN.UTF-8").stderr.splitlines()[-1] == (
        "ticketrush run: error: argument --lock: invalid choice: 'x' (choose from 'none', 'process', 'file', "
        "'semaphore', 'advisory', 'redis')"
    )


def _joined(help_text: str) -> str:
    """Help as one line: argparse wraps it, Chinese at any character."""
    return "".join(help_text.split())


def test_the_cli_help_is_in_chinese_with_lang_zh_or_lang() -> None:
    for shown in (_cli("run", "--help", "--lang", "zh").stdout, _cli("run", "--help", lang="zh_CN.UTF-8").stdout):
        assert shown.startswith("用法: ticketrush run [-h] [--buyers BUYERS]"), shown
        assert "\n选项:\n  -h, --help            显示这条帮助信息并退出\n" in shown
        one_line = _joined(shown)
        assert "--buyersBUYERS抢票的路人数,每人一个进程(默认:10)" in one_line
        assert "查票用的毫秒数,或者50-150这样的范围(默认:100)" in one_line
        assert "读到票数和写回之间的毫秒数,或者一个范围(默认:100-300)" in one_line
        assert "路人等锁多少秒后失败(默认:30)" in one_line
        assert "usage:" not in shown and "options:" not in shown and "default" not in shown
        assert max(len(line.encode("gbk")) for line in shown.splitlines() if "路人" in line) <= 80  # 2 columns each
    top = _cli("--help", lang="zh_CN.UTF-8").stdout
    assert "\n位置参数:\n  {run,step,compare,sweep,serve}\n    run                 跑一场抢票并解释它\n" in top
    assert "提供HTTPAPI和仪表盘" in _joined(top)
    serve = _joined(_cli("serve", "--help", "--lang", "zh").stdout)
    assert "--portPORT监听的端口(默认:8000)" in serve and "启动错误所用的语言(默认:取自LANG,这里是en)" in serve


def test_the_cli_help_stays_in_english_otherwise() -> None:
    shown = _cli("run", "--help", COLUMNS="100").stdout
    assert shown.startswith("usage: ticketrush run [-h] [--buyers BUYERS]")
    assert "\noptions:\n  -h, --help            show this help message and exit\n" in shown
    assert "  --buyers BUYERS       buyers racing, one process each (default: 10)\n" in shown
    assert "  --think-ms THINK_MS   search time in ms, or a range such as 50-150 (default: 100)\n" in shown
    assert "(default: from LANG, here en)" in " ".join(shown.split())
    assert not any("\u4e00" <= c <= "\u9fff" for c in shown)
    assert "\npositional arguments:\n" in _cli("--help", "--lang", "en", lang="zh_CN.UTF-8").stdout


def test_serve_says_a_bad_setting_in_chinese_with_lang_zh(tmp_path: Path) -> None:
    refused = _cli("serve", "--lang", "zh", TICKETRUSH_MAX_RUNNING="0", TICKETRUSH_DATA_DIR=str(tmp_path))
    assert refused.returncode == 2
    assert refused.stderr == "ticketrush: TICKETRUSH_MAX_RUNNING 应为整数,不小于 1和不大于 64(收到的是 '0')\n"
    by_lang = _cli("serve", lang="zh_CN.UTF-8", TICKETRUSH_RUN_TIMEOUT_S="x", TICKETRUSH_DATA_DIR=str(tmp_path))
    assert by_lang.stderr == "ticketrush: TICKETRUSH_RUN_TIMEOUT_S 应为数字,大于 0(收到的是 'x')\n"


def test_a_data_dir_in_use_is_said_in_either_language(tmp_path: Path) -> None:
    in_use = DataDirInUse(tmp_path, 42)
    assert str(in_use) == (
        f"the data dir {tmp_path} is in use by the ticketrush server with pid 42; stop it, or give this server "
        "another TICKETRUSH_DATA_DIR"
    )
    assert said(in_use.fact, "zh") == (
        f"数据目录 {tmp_path} 正被进程号为 42 的 ticketrush 服务器使用;"
        "请停止它,或给这个服务器另一个 TICKETRUSH_DATA_DIR"
    )
