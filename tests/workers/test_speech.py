"""Every sentence in every language: the catalogues say the same facts, and the analysis speaks Chinese too."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path
from typing import get_args

import pytest

from workers import SimulationConfig, run_simulation
from workers.locks import LockKind
from workers.speech import LANGUAGES, catalogue, language
from workers.stores import StoreKind, make_store

LOCALES = Path(__file__).resolve().parents[2] / "workers" / "locales"


SOURCES = Path(__file__).resolve().parents[2]
# Values a language may leave unsaid: Chinese needs no word for "all", "both" or "each time", and says a count
# either by how many are left (n) or by how many in all (size).
UNSAID = {"all", "when", "n", "size"}
# Refusals name every fact they were given in every language: the field, the value got, what would work.
ERRORS = ("field.", "allowed.", "config.", "support.", "schedule.", "settings.", "dispatcher.", "lifecycle.", "api.",
          "body.", "interleavings.", "steps.", "replay.", "cli.", "experiment.",
          "run.", "exit.", "store.", "lock.gave_up", "lock.waited.", "db.", "cluster.", "connections.", "serve.",
          "argparse.", "help.", "buyer.", "gate.", "dask.buyer")  # fmt: skip


def _fields(entry: object) -> set[str]:
    texts = entry.values() if isinstance(entry, dict) else [entry]
    return {name for text in texts for _, name, _, _ in string.Formatter().parse(str(text)) if name}


def test_every_language_has_every_message_with_the_same_values() -> None:
    english = catalogue("en")
    for lang in LANGUAGES:
        messages = catalogue(lang)
        assert set(messages) == set(english), lang
        for key, entry in messages.items():
            if key.startswith(ERRORS):
                assert _fields(entry) == _fields(english[key]), (lang, key)
            else:
                assert _fields(entry) ^ _fields(english[key]) <= UNSAID, (lang, key)
    assert {p.stem for p in LOCALES.glob("*.json")} == set(LANGUAGES)  # a new language is a new file


def test_every_message_the_code_names_is_in_the_catalogue() -> None:
    named = {
        key
        for folder in ("workers", "app")
        for path in (SOURCES / folder).rglob("*.py")
        for key in re.findall(r'\bfact\(\s*"([\w.]+)"', path.read_text(encoding="utf-8"))
    }
    assert len(named) > 100  # the search finds them
    assert named - set(catalogue("en")) == set()


@pytest.mark.parametrize(
    ("asked", "said"), [("zh-CN,zh;q=0.9,en;q=0.8", "zh"), ("zh_CN.UTF-8", "zh"), ("fr-FR", "en"), (None, "en")]
)
def test_the_language_is_taken_from_accept_language_or_lang(asked: str | None, said: str) -> None:
    assert language(asked) == said


def test_a_run_is_told_in_chinese_with_the_lessons_words(run_dir: Path) -> None:
    report = run_simulation(SimulationConfig(buyers=2, tickets=1, schedule=[1, 2, 1, 2, 1, 2]), run_dir)
    chinese = report.result.spoken("zh")
    assert chinese.verdict == "超卖:1 个座位卖出了 2 张票"
    assert chinese.explanation.startswith("路人1和2都在路人1写回 0 之前读到了 count=1;")
    assert "超卖 1 张,1 次丢失更新。" in chinese.explanation
    assert report.result.spoken("en").explanation == report.result.explanation  # English is what is stored
    stored = json.loads(report.result.model_dump_json())
    assert stored["verdict_facts"]["key"] == "verdict.oversold"


def test_every_store_and_lock_has_the_name_a_failure_calls_it_by() -> None:
    english = catalogue("en")
    for store in get_args(StoreKind):
        assert english[f"store.label.{store}"] == make_store(store, Path("."), {"postgres": "x", "redis": "x"}).label
    for lock in get_args(LockKind):
        assert f"lock.waited.{lock}" in english
