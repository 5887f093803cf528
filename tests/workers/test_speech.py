"""Every sentence in every language: the catalogues say the same facts, and the analysis speaks Chinese too."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest

from workers import SimulationConfig, run_simulation
from workers.speech import LANGUAGES, catalogue, language

LOCALES = Path(__file__).resolve().parents[2] / "workers" / "locales"


def _fields(entry: object) -> set[str]:
    texts = entry.values() if isinstance(entry, dict) else [entry]
    return {name for text in texts for _, name, _, _ in string.Formatter().parse(str(text)) if name}


def test_every_language_has_every_message_with_values_it_knows() -> None:
    english = catalogue("en")
    for lang in LANGUAGES:
        messages = catalogue(lang)
        assert set(messages) == set(english), lang
        for key, entry in messages.items():
            known = _fields(english[key]) | {"n", "size"}
            assert _fields(entry) <= known, (lang, key)
    assert {p.stem for p in LOCALES.glob("*.json")} == set(LANGUAGES)  # a new language is a new file


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
