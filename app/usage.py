"""The command line's usage errors in the user's language: argparse's own words, and those of the options' readers.

argparse formats its messages in English before it hands them to `ArgumentParser.error` ("argument --lock:
invalid choice: 'x' (choose from 'none', 'process')"). Each one it can say has an entry "argparse.*" in the
catalogues, whose English is argparse's template; `UsageParser.error` finds the entry a message was made from,
takes back its values (the option, the value given, the choices: said as given, in every language) and says it
again in the parser's language. A message no entry matches is shown as it is.

The language is known before the options are read: `--lang` on the command line, else LANG (`wanted_language`).
"""

from __future__ import annotations

import argparse
import os
import re
import string
import sys
from collections.abc import Sequence
from functools import cache
from typing import NoReturn

from workers.speech import DEFAULT, LANGUAGES, Fact, catalogue, fact, language, render

PREFIX = "argparse."
# The message argparse wraps around another: "argument --buyers: <message>" (its `message` is said first).
WRAPPER = "argparse.argument"


def wanted_language(argv: Sequence[str]) -> str:
    """The language asked for by `--lang zh` or `--lang=zh` in `argv`, else by LANG."""
    for n, arg in enumerate(argv):
        value = arg.removeprefix("--lang=") if arg.startswith("--lang=") else None
        if arg == "--lang" and n + 1 < len(argv):
            value = argv[n + 1]
        if value in LANGUAGES:
            return value
    return language(os.environ.get("LANG"))


@cache
def _patterns() -> list[tuple[str, re.Pattern[str]]]:
    """Every argparse entry's English as a pattern whose groups are its values, the wrapper last."""
    patterns = []
    for key, template in catalogue(DEFAULT).items():
        if not key.startswith(PREFIX) or not isinstance(template, str):
            continue
        parts = []
        for literal, name, _, _ in string.Formatter().parse(template):
            parts.append(re.escape(literal))
            if name:
                parts.append(f"(?P<{name}>.+?)" if name != "message" else f"(?P<{name}>.+)")
        patterns.append((key, re.compile("".join(parts), re.S)))
    return sorted(patterns, key=lambda item: item[0] == WRAPPER)


def usage_fact(message: str) -> Fact | None:
    """The fact an argparse message says, its wrapped message a fact too where it is one; None if unknown."""
    for key, pattern in _patterns():
        found = pattern.fullmatch(message)
        if found is None:
            continue
        values: dict[str, object] = dict(found.groupdict())
        if key == WRAPPER:
            values["message"] = usage_fact(found["message"]) or found["message"]
        return fact(key, **values)
    return None


def said_in(message: str, lang: str) -> str:
    """An argparse message in `lang`: from its catalogue entry where it has one, else as it is."""
    item = usage_fact(message)
    return render(item, lang) if item is not None else message


class UsageParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are said in `lang`; its subcommands' parsers are of this class too."""

    def __init__(self, *args: object, lang: str = DEFAULT, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lang = lang

    def error(self, message: str) -> NoReturn:
        usage = self.format_usage()
        word = render(fact("argparse.usage"), self.lang)
        self._print_message(word + usage.removeprefix("usage:"), sys.stderr)
        self.exit(
            2, render(fact("argparse.error", prog=self.prog, message=said_in(message, self.lang)), self.lang) + "\n"
        )
