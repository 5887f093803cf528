"""What a refused SimulationConfig tells its user: one message per field, in the user's words.

    field_errors(ValidationError or its errors())  ->  [FieldError(field, message, input, type), ...]

pydantic reports a refused field as several errors in its own terms (one per branch of a union, one per list
item); the faces (the API, the CLI, the dashboard through the API) show one message per field instead, saying
what the field takes, from the table ALLOWED: a fact per field whose words are in the catalogues
(workers/locales, `allowed.<field>`), so that the message is in the user's language. A new field adds one entry
there and its words (`{range}` stands for how the user writes a range, `{other_field}` for another field's name
as they write it); a field without an entry is described by pydantic's first message for it. A rule of the
config's own validators (a strategy on a store it does not run on, say) is told in the validator's sentence (the
fact its Refusal carries), which names the pair and what would work, unless the field's entry states that rule
itself (STATES_ITS_RULES).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple, get_args

from annotated_types import Ge, Gt, Le, Lt
from pydantic import ValidationError

from workers.config import MAX_DELAY_MS, ExecutorKind, SimulationConfig
from workers.errors import Told
from workers.locks import LockKind
from workers.speech import DEFAULT, Fact, catalogue, fact, one_of, render
from workers.stores import StoreKind
from workers.strategies import StrategyKind

RANGE = "[min, max]"  # how a range is written in JSON; the CLI writes it as min-max


def _bound(field: str, kind: type) -> Any:
    return next(
        getattr(m, kind.__name__.lower()) for m in SimulationConfig.model_fields[field].metadata if isinstance(m, kind)
    )


def _range(field: str) -> Fact:
    return fact(f"allowed.{field}", min=_bound(field, Ge), max=_bound(field, Le))


def _choices(literal: Any) -> Fact:
    return fact("allowed.one_of", names=one_of(get_args(literal)))


ALLOWED: dict[str, Fact] = {
    "buyers": _range("buyers"),
    "tickets": _range("tickets"),
    "store": _choices(StoreKind),
    "strategy": _choices(StrategyKind),
    "lock": _choices(LockKind),
    "permits": _range("permits"),
    "max_retries": _range("max_retries"),
    "lock_ttl_ms": _range("lock_ttl_ms"),
    "executor": _choices(ExecutorKind),
    "workers": _range("workers"),
    "think_ms": fact("allowed.delay", max=MAX_DELAY_MS),
    "hold_ms": fact("allowed.delay", max=MAX_DELAY_MS),
    "seed": fact("allowed.seed", min=_bound("seed", Ge), max=_bound("seed", Lt) - 1),
    "together": fact("allowed.together"),
    "lock_timeout_s": fact(
        "allowed.lock_timeout_s", above=_bound("lock_timeout_s", Gt), max=_bound("lock_timeout_s", Le)
    ),
    "mode": fact("allowed.mode"),
    "schedule": fact("allowed.schedule"),
}


STATES_ITS_RULES = {"think_ms", "hold_ms", "workers"}  # their entries say what their validators check


class FieldError(NamedTuple):
    """One refused field: its name, the message for its user, the value given, pydantic's first error type."""

    field: str
    message: str
    input: Any
    type: str


def _shown(value: Any) -> str:
    """The value as JSON writes it (NaN and Infinity as Python's json does); repr for what JSON cannot hold."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _fallback(error: Mapping[str, Any], lang: str) -> str:
    """A validator's refusal in `lang` (the fact its Refusal carries); else pydantic's own words for a field the
    table does not know yet, without their 'Value error, ' prefix."""
    refusal = (error.get("ctx") or {}).get("error")
    if isinstance(refusal, Told):
        return render(refusal.fact, lang)
    msg = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    return msg[:1].lower() + msg[1:]


def field_errors(
    errors: ValidationError | Iterable[Mapping[str, Any]],
    *,
    spell: Callable[[str], str] = str,
    range_form: str = RANGE,
    lang: str = DEFAULT,
) -> list[FieldError]:
    """One FieldError per refused field, in the order pydantic found them, each message in `lang`.

    `spell` names a field as its user writes it (the CLI: '--think-ms'); `range_form` is how they write a range.
    An unknown field (extra="forbid") gets a message listing the fields there are.
    """
    if isinstance(errors, ValidationError):
        errors = errors.errors()
    by_field: dict[str, list[Mapping[str, Any]]] = {}
    for error in errors:
        loc = tuple(error.get("loc", ()))
        by_field.setdefault(str(loc[0]) if loc else "", []).append(error)
    found = []
    for field, group in by_field.items():
        first = min(group, key=lambda e: len(tuple(e.get("loc", ()))))  # the whole field's value, not one item's
        if first.get("type") == "extra_forbidden":
            known = catalogue(lang)["list.sep"].join(spell(name) for name in SimulationConfig.model_fields)
            message = render(fact("field.unknown", field=spell(field), known=known), lang)
        elif first.get("type") == "value_error" and field not in STATES_ITS_RULES:
            message = render(fact("field.refused", field=spell(field), message=_fallback(first, lang)), lang)
        else:
            names = {name: spell(name) for name in SimulationConfig.model_fields}
            entry = ALLOWED.get(field)
            allowed = (
                render(fact(entry["key"], **names, **entry["params"], range=range_form), lang)
                if entry is not None
                else _fallback(first, lang)
            )
            where = spell(field) if field else "config"
            message = render(fact("field.allowed", field=where, allowed=allowed, got=_shown(first.get("input"))), lang)
        found.append(FieldError(field, message, first.get("input"), str(first.get("type", "value_error"))))
    return found
