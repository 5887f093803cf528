"""The command line's help and usage errors in the user's language: argparse's own words, and those of the options'
readers.

argparse's help is its headings ("usage: ", "positional arguments", "options", "show this help message and exit")
around the texts the command gives it; `UsageParser` says the headings from the catalogues' "help.*" entries, and
the command takes its descriptions and options' help texts from there too.

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
import unicodedata
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any, NoReturn

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


def _wide(c: str) -> bool:
    return unicodedata.east_asian_width(c) in "WF"


def display_width(text: str) -> int:
    """Columns `text` takes on a terminal: Chinese characters take two."""
    return sum(2 if _wide(c) else 1 for c in text)


_OPENING = "([{(「"
_CLOSING = ")]},.;:!?、,。;:!?)」"


def wrapped(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` columns (a word longer than that has a line of its own): broken at spaces
    and next to Chinese characters, which need none, but never just inside a bracket or before a comma."""
    pieces: list[tuple[str, bool]] = []  # each piece, and whether a space comes before it
    for word in text.split():
        start = 0
        for i in range(1, len(word)):
            before, after = word[i - 1], word[i]
            if (_wide(before) or _wide(after)) and after not in _CLOSING and before not in _OPENING:
                pieces.append((word[start:i], start == 0))
                start = i
        pieces.append((word[start:], start == 0))
    lines: list[str] = []
    line = ""
    for piece, spaced in pieces:
        joined = f"{line} {piece}" if spaced and line else line + piece
        if line and display_width(joined) > width:
            lines.append(line)
            joined = piece
        line = joined
    return [*lines, line] if line else lines


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, with the word before the usage line in the parser's language, and Chinese wrapped
    by the columns it takes (argparse counts characters)."""

    def __init__(self, prog: str, usage_word: str) -> None:
        super().__init__(prog)
        self.usage_word = usage_word

    def add_usage(
        self, usage: str | None, actions: Iterable[argparse.Action], groups: Any, prefix: str | None = None
    ) -> None:
        super().add_usage(usage, actions, groups, self.usage_word if prefix is None else prefix)

    def _split_lines(self, text: str, width: int) -> list[str]:
        if not any(_wide(c) for c in text):
            return super()._split_lines(text, width)
        return wrapped(text, width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if not any(_wide(c) for c in text):
            return super()._fill_text(text, width, indent)
        return "\n".join(indent + line for line in wrapped(text, width - len(indent)))


class UsageParser(argparse.ArgumentParser):
    """An ArgumentParser whose help and usage errors are said in `lang`; its subcommands' parsers are of this class
    too."""

    def __init__(self, *args: object, lang: str = DEFAULT, **kwargs: object) -> None:
        self.lang = lang  # before argparse's own set-up, which formats its help option
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._positionals.title = render(fact("help.positionals"), lang)
        self._optionals.title = render(fact("help.options"), lang)
        for action in self._actions:
            if isinstance(action, argparse._HelpAction):
                action.help = render(fact("help.help"), lang)

    def _get_formatter(self) -> argparse.HelpFormatter:
        return _HelpFormatter(self.prog, render(fact("help.usage"), self.lang))

    def error(self, message: str) -> NoReturn:
        self._print_message(self.format_usage(), sys.stderr)
        self.exit(
            2, render(fact("argparse.error", prog=self.prog, message=said_in(message, self.lang)), self.lang) + "\n"
        )
