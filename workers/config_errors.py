"""What a refused SimulationConfig tells its user: one message per field, in the user's words.

    field_errors(ValidationError or its errors())  ->  [FieldError(field, message, input, type), ...]

pydantic reports a refused field as several errors in its own terms (one per branch of a union, one per list
item); the faces (the API, the CLI, the dashboard through the API) show one message per field instead, saying
what the field takes, from the table ALLOWED. A new field adds one entry there (`{range}` stands for how the
user writes a range, `{other_field}` for another field's name as they write it); a field without an entry is
described by pydantic's first message for it. A rule of the config's own validators (a strategy on a store it
does not run on, say) is told in the validator's sentence, which names the pair and what would work, unless the
field's entry states that rule itself (STATES_ITS_RULES).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple, get_args

from annotated_types import Ge, Gt, Le, Lt
from pydantic import ValidationError

from workers.config import MAX_DELAY_MS, ExecutorKind, SimulationConfig
from workers.locks import LockKind
from workers.stores import StoreKind
from workers.strategies import StrategyKind

RANGE = "[min, max]"  # how a range is written in JSON; the CLI writes it as min-max


def _bound(field: str, kind: type) -> Any:
    return next(
        getattr(m, kind.__name__.lower()) for m in SimulationConfig.model_fields[field].metadata if isinstance(m, kind)
    )


def _choices(literal: Any) -> str:
    names = get_args(literal)
    return ", ".join(names[:-1]) + f" or {names[-1]}"


def _delay() -> str:
    return f"a number of milliseconds from 0 to {MAX_DELAY_MS:g}, or a {{range}} range of them with min at most max"


ALLOWED: dict[str, str] = {
    "buyers": f"a whole number of buyers from {_bound('buyers', Ge):,} to {_bound('buyers', Le):,}",
    "tickets": f"a whole number of tickets from {_bound('tickets', Ge):,} to {_bound('tickets', Le):,}",
    "store": _choices(StoreKind),
    "strategy": _choices(StrategyKind),
    "lock": _choices(LockKind),
    "permits": (
        f"the number of buyers the semaphore lets in at once, a whole number from {_bound('permits', Ge)} to "
        f"{_bound('permits', Le)}, with {{lock}} semaphore only"
    ),
    "max_retries": (
        f"a whole number of retries from {_bound('max_retries', Ge):,} to {_bound('max_retries', Le):,}, "
        "for {strategy} optimistic or serializable only"
    ),
    "lock_ttl_ms": (
        f"how long the Redis lock lives, a whole number of milliseconds from {_bound('lock_ttl_ms', Ge)} to "
        f"{_bound('lock_ttl_ms', Le):,}, with {{lock}} redis only"
    ),
    "executor": _choices(ExecutorKind),
    "workers": (
        f"the pool size or the number of tasks, a whole number from {_bound('workers', Ge)} to "
        f"{_bound('workers', Le)}, given only with {{executor}} pool or dask"
    ),
    "think_ms": _delay(),
    "hold_ms": _delay(),
    "seed": f"a whole number from {_bound('seed', Ge)} to {_bound('seed', Lt) - 1}; without one, a random one is used",
    "together": "true or false",
    "lock_timeout_s": (
        f"a number of seconds above {_bound('lock_timeout_s', Gt)}, at most {_bound('lock_timeout_s', Le)}"
    ),
    "mode": "'run', or 'step' to take the race one step at a time",
    "schedule": "a list of buyer numbers, each letting that buyer take its next step (search, read, write)",
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


def _fallback(error: Mapping[str, Any]) -> str:
    """pydantic's own words for a field the table does not know yet, without its 'Value error, ' prefix."""
    msg = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    return msg[:1].lower() + msg[1:]


def field_errors(
    errors: ValidationError | Iterable[Mapping[str, Any]],
    *,
    spell: Callable[[str], str] = str,
    range_form: str = RANGE,
) -> list[FieldError]:
    """One FieldError per refused field, in the order pydantic found them.

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
            known = ", ".join(spell(name) for name in SimulationConfig.model_fields)
            message = f"{spell(field)}: not a setting of a simulation (the settings are {known})"
        elif first.get("type") == "value_error" and field not in STATES_ITS_RULES:
            message = f"{spell(field)}: {_fallback(first)}"
        else:
            names = {name: spell(name) for name in SimulationConfig.model_fields}
            allowed = ALLOWED[field].format(range=range_form, **names) if field in ALLOWED else _fallback(first)
            message = f"{spell(field) if field else 'config'}: {allowed} (got {_shown(first.get('input'))})"
        found.append(FieldError(field, message, first.get("input"), str(first.get("type", "value_error"))))
    return found
