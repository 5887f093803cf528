"""What the program tells a user, in their language: facts as data, sentences from a catalogue per language.

The analysis states what happened as facts, each a message key and its values:

    {"key": "explain.sold_out", "params": {"n": 9}}

and `say` renders them from `workers/locales/<lang>.json`. A catalogue entry is a str.format template, or
{"one": ..., "other": ...} chosen by the value `n`; a value may itself be a fact (rendered first, in the same
language), or a list of buyers {"names": [...], "size": N}. A new language is a new file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any, TypeGuard

LANGUAGES = ("en", "zh")
DEFAULT = "en"
_HERE = Path(__file__).parent / "locales"

Fact = dict[str, Any]


def fact(key: str, **params: Any) -> Fact:
    return {"key": key, "params": params}


def one_of(names: Iterable[object], *, quoted: bool = False) -> dict[str, Any]:
    """A choice among `names`, said "a, b or c" ('a', 'b' or 'c' when quoted) in the language of its sentence."""
    return {"one_of": [str(n) for n in names], "quoted": quoted}


def all_of(items: Iterable[Fact]) -> dict[str, Any]:
    """Every one of `items`, said "a, b and c" in the language of its sentence."""
    return {"all_of": list(items)}


def is_fact(value: object) -> TypeGuard[Fact]:
    return isinstance(value, dict) and "key" in value and "params" in value


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


def said(message: str | Fact, lang: str = DEFAULT) -> str:
    """A message that is a fact, rendered in `lang`; one that is already words, as it is."""
    return render(message, lang) if isinstance(message, dict) else str(message)


def told(error: BaseException, lang: str = DEFAULT) -> str:
    """What an error says: its fact in `lang` when it carries one (its `fact` attribute), else its own words."""
    item = getattr(error, "fact", None)
    return render(item, lang) if is_fact(item) else str(error)


def say(facts: list[Fact], lang: str = DEFAULT) -> str:
    """The facts as one paragraph."""
    return catalogue(lang)["paragraph.join"].join(render(f, lang) for f in facts)


def _value(value: Any, lang: str) -> Any:
    if isinstance(value, dict) and "key" in value:
        return render(value, lang)
    if isinstance(value, dict) and "names" in value:
        return _names(value["names"], value["size"], lang)
    if isinstance(value, dict) and "one_of" in value:
        return _joined([f"'{n}'" if value.get("quoted") else n for n in value["one_of"]], "list.or", lang)
    if isinstance(value, dict) and "all_of" in value:
        return _joined([render(item, lang) for item in value["all_of"]], "list.last", lang)
    return value


def _joined(shown: list[str], last: str, lang: str) -> str:
    if len(shown) == 1:
        return shown[0]
    words = catalogue(lang)
    return str(words[last]).format(head=words["list.sep"].join(shown[:-1]), last=shown[-1])


def _names(names: list[int], size: int, lang: str) -> str:
    words = catalogue(lang)
    shown = [f"{n}" for n in names[:5]]
    sep = words["list.sep"]
    if size > len(shown):
        return render(fact("list.more", head=sep.join(shown), n=size - len(shown), size=size), lang)
    return _joined(shown, "list.last", lang)
