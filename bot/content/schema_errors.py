"""Pydantic validation errors turned into plain file:line messages with a fix hint."""

from __future__ import annotations

import difflib

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from bot.content.problems import Problem
from bot.content.yaml_source import YamlDocument
from bot.staff_words import say

# What word processors and phones type for quotes; YAML only knows " and '.
CURLY_QUOTES = ("\u201c", "\u201d", "\u201e", "\u2018", "\u2019", "\u201a")


def schema_problems(
    doc: YamlDocument, error: ValidationError, model: type[BaseModel], prefix: tuple[str | int, ...] = ()
) -> list[Problem]:
    """One Problem per validation error, located at the offending key."""
    return [_one(doc, detail, model, prefix) for detail in error.errors()]


def _one(
    doc: YamlDocument, detail: ErrorDetails, model: type[BaseModel], prefix: tuple[str | int, ...]
) -> Problem:
    loc = (*prefix, *detail["loc"])
    where = _describe(loc)
    kind = detail["type"]
    line = doc.line_of(loc)
    given = detail.get("input")
    if isinstance(given, str) and given[:1] in CURLY_QUOTES:
        straight = given.strip("".join(CURLY_QUOTES))
        return Problem(
            doc.path,
            line,
            say(
                "{where} is in curly quotes ({given}), which YAML does not read as quotes",
                where=where,
                given=given,
            ),
            say('write it with straight quotes: "{straight}".', straight=straight),
            excerpt=doc.excerpt(line, given[0]),
        )
    if kind == "missing":
        return Problem(
            doc.path, line, say("{where} is missing", where=where), say("add `{key}:` here.", key=loc[-1])
        )
    if kind == "extra_forbidden":
        key = str(loc[-1])
        known = sorted(_fields_at(model, detail["loc"]))
        close = difflib.get_close_matches(key, known, n=1)
        hint = (
            say("did you mean `{suggestion}`?", suggestion=close[0])
            if close
            else say("known keys here: {keys}.", keys=", ".join(known))
        )
        return Problem(doc.path, line, say("unknown key `{key}`", key=key), hint)
    if kind == "string_pattern_mismatch" and loc[-1] == "auto_delete":
        return Problem(
            doc.path,
            line,
            say("`auto_delete: {input}` is not a time the bot understands", input=detail["input"]),
            say(
                "write a whole number and h, m or s (`24h`, `30m`), or `off` to turn automatic deletion off."
            ),
        )
    if kind == "string_pattern_mismatch":
        return Problem(
            doc.path,
            line,
            say("{where} {input!r} is not a valid name", where=where, input=detail["input"]),
            say(
                "use lowercase letters a–z, digits and _ only, starting with a letter (æ, ø, å and "
                "spaces are not allowed in ids)."
            ),
        )
    if kind == "string_too_long":
        limit = (detail.get("ctx") or {}).get("max_length")
        return Problem(
            doc.path,
            line,
            say("{where} is too long", where=where),
            say("shorten it to at most {limit} characters.", limit=limit),
        )
    if kind in ("string_too_short", "too_short"):
        return Problem(
            doc.path,
            line,
            say("{where} is empty", where=where),
            say("write something here, or remove the key."),
        )
    if kind in ("string_type", "list_type", "dict_type", "model_type", "model_attributes_type"):
        expected = {
            "string_type": say("a text"),
            "list_type": say("a list (lines starting with `- `)"),
        }.get(kind) or say("a set of `key: value` lines")
        return Problem(
            doc.path,
            line,
            say("{where} should be {expected}", where=where, expected=expected),
            say("check the indentation; put texts containing `:` or `#` in quotes."),
        )
    message = detail["msg"].removeprefix("Value error, ")
    return Problem(
        doc.path,
        line,
        say("{where}: {message}", where=where, message=message),
        say("see dialogues/README.md for the format."),
    )


def _describe(loc: tuple[str | int, ...]) -> str:
    parts: list[str] = []
    for part in loc:
        parts.append(f"[{part + 1}]" if isinstance(part, int) else f".{part}")
    return "`" + "".join(parts).lstrip(".") + "`"


def _fields_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> set[str]:
    """The field names allowed at the parent of `loc` (walks nested models and lists)."""
    current: type[BaseModel] = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part)
        if field is None:
            break
        nested = _model_in(field.annotation)
        if nested is None:
            break
        current = nested
    return set(current.model_fields)


def _model_in(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
