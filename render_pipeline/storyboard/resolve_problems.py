"""Problems in the storyboard's own terms: pydantic's type errors reworded, characters no text may hold, in file order."""

from __future__ import annotations

import difflib
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from render_pipeline.storyboard.schema import (
    Camera,
    Delivery,
    Lora,
    MusicCue,
    Overlay,
    ShotFields,
    StoryboardDocument,
    Transition,
    Voice,
)
from render_pipeline.storyboard.text import text_problem
from render_pipeline.storyboard.yaml_source import LocatedDocument, Problem, ValuePath


def text_problems(document: LocatedDocument) -> list[Problem]:
    """Every text value holding a character no text may hold (storyboard/text.py), wherever it is."""
    problems = []
    pending: list[tuple[ValuePath, Any]] = [((), document.data)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, dict):
            pending += [(path + (key,), item) for key, item in value.items()]
        elif isinstance(value, list):
            pending += [(path + (index,), item) for index, item in enumerate(value)]
        elif isinstance(value, str) and (problem := text_problem(value)) is not None:
            problems.append(document.problem(path, problem))
    return in_file_order(problems)


def pydantic_problems(document: LocatedDocument, exc: ValidationError) -> list[Problem]:
    problems = []
    for error in exc.errors():
        location: ValuePath = tuple("from" if part == "from_" else part for part in error["loc"])
        kind = error["type"]
        value = error.get("input")
        if kind == "extra_forbidden":
            key = str(location[-1])
            message = f"unknown key {key!r}"
            suggestion = _closest_key(location)
            if suggestion:
                message += f" (did you mean {suggestion!r}?)"
        elif kind == "missing":
            message = "is required"
        elif kind == "value_error":
            message = str(error["ctx"]["error"])
        elif kind == "literal_error":
            message = _not_one_of(value, error["ctx"]["expected"])
        elif kind == "string_too_long":
            message = f"must be at most {error['ctx']['max_length']:,} characters (this one has {len(value):,})"
        elif kind == "tuple_type":
            message = f"must be a list of two numbers, [start, end] in seconds (got {value!r})"
        elif kind in _PLAIN_MESSAGES:
            limits = {key: int(limit) if isinstance(limit, float) and limit.is_integer() else limit
                      for key, limit in error.get("ctx", {}).items()}
            message = _PLAIN_MESSAGES[kind].format(**limits)
            if not isinstance(value, (dict, list)):
                message += f" (got {value!r})"
        else:
            message = error["msg"][0].lower() + error["msg"][1:]
            if not isinstance(value, (dict, list)):
                message += f" (got {value!r})"
        problems.append(document.problem(location, message, at_key=kind == "extra_forbidden"))
    return dedupe(problems)


# pydantic's wording, in the terms a storyboard writer uses.
_PLAIN_MESSAGES = {
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "float_type": "must be a number",
    "int_type": "must be a whole number",
    "string_type": "must be text (put it in quotes)",
    "list_type": "must be a list (one '- ' item per line, or [a, b])",
    "dict_type": "must be a mapping of keys",
    "model_type": "must be a mapping of keys",
    "model_attributes_type": "must be a mapping of keys",
    "string_too_short": "must not be empty",
    "too_short": "needs at least {min_length} item(s)",
    "too_long": "takes at most {max_length} items",
    "finite_number": "must be a finite number",
}


def _not_one_of(value: Any, expected: str) -> str:
    choices = [choice.strip(" '") for choice in re.split(r",| or ", expected)]
    message = f"{value!r} is not one of: {', '.join(choices)}"
    suggestion = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
    return f"{value!r} is unknown (did you mean {suggestion[0]!r}?)" if suggestion else message


def in_file_order(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda problem: (problem.line, problem.column))


def dedupe(problems: list[Problem]) -> list[Problem]:
    seen, unique = set(), []
    for problem in problems:
        key = (problem.line, problem.column, problem.path)
        if key not in seen:
            seen.add(key)
            unique.append(problem)
    return unique


_KNOWN_KEYS: dict[tuple[str, ...], type[BaseModel]] = {
    (): StoryboardDocument,
    ("delivery",): Delivery,
    ("defaults",): ShotFields,
    ("voice",): Voice,
    ("shots",): ShotFields,
    ("music",): MusicCue,
    ("defaults", "loras"): Lora,
    ("shots", "loras"): Lora,
}


def _closest_key(location: ValuePath) -> str | None:
    parent = tuple(part for part in location[:-1] if not isinstance(part, int))
    fields: list[str] = []
    model = _KNOWN_KEYS.get(parent)
    if model is None and parent[-1:] == ("camera",):
        model = Camera
    elif model is None and parent[-1:] in (("transition",),):
        model = Transition
    elif model is None and parent[-1:] == ("overlays",):
        model = Overlay
    if model is not None:
        fields = [info.alias or name for name, info in model.model_fields.items()]
    matches = difflib.get_close_matches(str(location[-1]), fields, n=1, cutoff=0.6)
    return matches[0] if matches else None
