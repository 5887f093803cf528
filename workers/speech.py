"""What the program tells a user, in their language: facts as data, sentences from a catalogue per language.

The analysis states what happened as facts, each a message key and its values:

    {"key": "explain.sold_out", "params": {"n": 9}}

and `say` renders them from `workers/locales/<lang>.json`. A catalogue entry is a str.format template, or
{"one": ..., "other": ...} chosen by the value `n`; a value may itself be a fact (rendered first, in the same
language), or a list of buyers {"names": [...], "size": N}. A new language is a new file.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES = ("en", "zh")
DEFAULT = "en"
_HERE = Path(__file__).parent / "locales"

Fact = dict[str, Any]


def fact(key: str, **params: Any) -> Fact:
    return {"key": key, "params": params}


@cache
def catalogue(lang: str) -> dict[str, Any]:
    messages: dict[str, Any] = json.loads((_HERE / f"{lang}.json").read_text(encoding="utf-8"))
    return messages


def language(wanted: str | None) -> str:
    """The best of LANGUAGES for an Accept-Language header or a LANG value ('zh-CN,zh;q=0.9', 'zh_CN.UTF-8')."""
    for part in (wanted or "").replace("_", "-").split(","):
        code = part.split(";")[0].strip().split("-")[0].lower()
        if code in LANGUAGES:
            return code
    return DEFAULT


def render(item: Fact, lang: str = DEFAULT) -> str:
    entry = catalogue(lang).get(item["key"])
    if entry is None:
        entry = catalogue(DEFAULT)[item["key"]]
    params = {name: _value(value, lang) for name, value in item["params"].items()}
    if isinstance(entry, dict):
        entry = entry["one"] if item["params"].get("n") == 1 else entry["other"]
    return str(entry).format(**params)


def say(facts: list[Fact], lang: str = DEFAULT) -> str:
    """The facts as one paragraph."""
    return catalogue(lang)["paragraph.join"].join(render(f, lang) for f in facts)


def _value(value: Any, lang: str) -> Any:
    if isinstance(value, dict) and "key" in value:
        return render(value, lang)
    if isinstance(value, dict) and "names" in value:
        return _names(value["names"], value["size"], lang)
    return value


def _names(names: list[int], size: int, lang: str) -> str:
    words = catalogue(lang)
    shown = [f"{n}" for n in names[:5]]
    sep = words["list.sep"]
    if size > len(shown):
        return render(fact("list.more", head=sep.join(shown), n=size - len(shown), size=size), lang)
    if len(shown) == 1:
        return shown[0]
    return words["list.last"].format(head=sep.join(shown[:-1]), last=shown[-1])
