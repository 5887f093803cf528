"""The engine's refusals: a fact each, said in English by str() and in Chinese when asked, and they pickle."""

from __future__ import annotations

import json
import pickle

import pytest
from pydantic import ValidationError

from workers import SimulationConfig, StoreRefused
from workers.config_errors import field_errors
from workers.errors import DbError, LockTimeout, Refusal, RunFailed, StoreFailed, exit_cause, gave_up_waiting
from workers.schedules import ScheduleError
from workers.speech import fact, said, told
from workers.stores.base import loss_heard

CLOSED = fact(
    "store.lost", server="Redis", where="h:1", what=fact("store.lost.closed"), words="Connection closed by server."
)


def test_a_refused_schedule_is_told_in_either_language_and_survives_a_process_boundary() -> None:
    with pytest.raises(ValidationError) as caught:
        SimulationConfig(buyers=2, lock="process", schedule=[1, 2, 1, 2])
    (error,) = caught.value.errors()
    refusal = error["ctx"]["error"]
    assert isinstance(refusal, Refusal)
    assert str(refusal) == "step 4 of the schedule: buyer 2 waits for the process lock held by buyer 1"
    copy = pickle.loads(pickle.dumps(refusal))
    assert type(copy) is Refusal and copy.fact == refusal.fact
    assert told(copy, "zh") == "调度的第 4 步:路人2在等进程锁:路人1正拿着"


@pytest.mark.parametrize(
    ("error", "english", "chinese"),
    [
        (ScheduleError(fact("schedule.no_step_left", buyer=1)), "buyer 1 has no step left", "路人1已经没有下一步了"),
        (StoreRefused(fact("settings.store_url", store="redis", variable="TICKETRUSH_REDIS_URL"), "store", "redis"),
         "store redis needs TICKETRUSH_REDIS_URL, the URL of its server; it is not set",
         "存储 redis 需要 TICKETRUSH_REDIS_URL,也就是它的服务器的 URL;它没有设置"),
        (StoreRefused("the server allows 3 connections"), "the server allows 3 connections",
         "the server allows 3 connections"),  # words without a fact stay as they are
        (RunFailed(fact("run.launcher_ended", how=exit_cause(-9))),
         "the buyers' launcher was killed by signal 9 mid-run", "路人的启动进程在运行中途被信号 9 杀死了"),
        (StoreFailed(fact("run.store_failed", lost=CLOSED, finished=1, buyers=3, failed=2)),
         "the Redis server at h:1 closed the connection: Connection closed by server.; 1 of 3 buyers finished, "
         "2 failed", "h:1 上的 Redis 服务器关闭了连接:Connection closed by server.;3 个路人中 1 个完成,2 个失败"),
        (LockTimeout(gave_up_waiting(2, fact("lock.waited.process"))),
         "gave up after waiting 2 s for the process lock", "等进程锁等了 2 秒后放弃了"),
        (DbError("ticket db gone"), "ticket db gone", "ticket db gone"),
    ],
)  # fmt: skip
def test_an_error_that_crosses_a_process_boundary_keeps_its_fact(error: Exception, english: str, chinese: str) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == english and told(copy, "zh") == chinese
    if isinstance(error, StoreRefused):
        assert isinstance(copy, StoreRefused) and (copy.field, copy.value) == (error.field, error.value)


def test_several_holders_of_a_semaphore_are_named_in_either_language() -> None:
    with pytest.raises(ValidationError) as caught:
        SimulationConfig(buyers=3, lock="semaphore", permits=2, schedule=[1, 2, 1, 2, 3, 3])
    (english,) = field_errors(caught.value)
    (chinese,) = field_errors(caught.value, lang="zh")
    assert english.message == (
        "schedule: step 6 of the schedule: buyer 3 waits for the semaphore of 2 permits held by buyer 1 and buyer 2"
    )
    assert chinese.message == "schedule:调度的第 6 步:路人3在等2 个许可的信号量:路人1和路人2正拿着"


@pytest.mark.parametrize(
    ("fields", "english", "chinese"),
    [
        ({"buyers": 0}, "buyers: a whole number of buyers from 1 to 10,000,000 (got 0)",
         "buyers:应为从 1 到 10,000,000 的整数(路人数);收到的是 0"),
        ({"store": "disk"}, 'store: file, memory, sqlite, postgres or redis (got "disk")',
         'store:应为 file、memory、sqlite、postgres 或 redis 之一;收到的是 "disk"'),
        ({"store": "memory", "strategy": "optimistic"},
         "strategy: strategy 'optimistic' does not run on store 'memory', which takes strategy 'read-write' or "
         "'seller'; strategy 'optimistic' runs on store 'file', 'sqlite', 'postgres' or 'redis'",
         "strategy:策略 'optimistic' 不能在存储 'memory' 上运行,这个存储能用的策略是 'read-write' 或 'seller';"
         "策略 'optimistic' 能在存储 'file'、'sqlite'、'postgres' 或 'redis' 上运行"),
        ({"hold_ms": [300, 100]}, "hold_ms: a number of milliseconds from 0 to 60000, or a [min, max] range of them "
         "with min at most max (got [300, 100])",
         "hold_ms:应为从 0 到 60000 的毫秒数,或者这样的 [min, max] 范围(min 不大于 max);收到的是 [300, 100]"),
        ({"colour": "red"}, "colour: not a setting of a simulation (the settings are buyers, tickets, store, "
         "strategy, lock, permits, lock_ttl_ms, max_retries, executor, workers, think_ms, hold_ms, seed, together, "
         "lock_timeout_s, schedule, mode)", "colour:不是模拟的设置项(设置项有 buyers、tickets、store、strategy、lock、"
         "permits、lock_ttl_ms、max_retries、executor、workers、think_ms、hold_ms、seed、together、lock_timeout_s、"
         "schedule、mode)"),
    ],
)  # fmt: skip
def test_a_refused_field_is_named_in_either_language(fields: dict[str, object], english: str, chinese: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SimulationConfig.model_validate(fields)
    assert [e.message for e in field_errors(caught.value)] == [english]
    assert [e.message for e in field_errors(caught.value, lang="zh")] == [chinese]


def test_a_loss_crosses_the_notice_pipe_as_a_fact_or_as_the_words_it_was_cut_to() -> None:
    heard = fact("store.lost", server="PostgreSQL", where="h:5432", what=fact("store.lost.unreachable"), words="down")
    assert loss_heard(json.dumps(heard)) == heard
    assert loss_heard(json.dumps(heard)[:40]) == json.dumps(heard)[:40]  # a notice cut short is shown as it came
    assert said(heard, "zh") == "h:5432 上的 PostgreSQL 服务器无法连接:down"
