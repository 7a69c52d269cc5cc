"""Load a storyboard file, check every rule, and resolve defaults into one spec per shot."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from render_pipeline.storyboard.resolve_problems import dedupe, in_file_order, pydantic_problems, text_problems
from render_pipeline.storyboard.resolve_shots import Resolver
from render_pipeline.storyboard.resolved import Storyboard
from render_pipeline.storyboard.schema import StoryboardDocument
from render_pipeline.storyboard.yaml_source import (
    LocatedDocument,
    Problem,
    StoryboardError,
    format_path,
    load_located,
)

SUPPORTED_VERSIONS = (1,)


def load_storyboard(path: str | Path, overlay_styles: tuple[str, ...] | None = None) -> Storyboard:
    """Read and check a storyboard; raise StoryboardError listing every problem found."""
    path = Path(path)
    document = load_located(path, display_name=str(path))
    return resolve(document, path.resolve(), overlay_styles)


def resolve(document: LocatedDocument, path: Path, overlay_styles: tuple[str, ...] | None = None) -> Storyboard:
    data = document.data
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a single value ({type(data).__name__})"
        raise StoryboardError([document.problem((), f"a storyboard is a mapping of keys (version, title, shots, ...), not {kind}")])
    version = data.get("version")
    if "version" not in data:
        raise StoryboardError([document.problem((), "missing 'version' (this program reads version: 1)")])
    if version not in SUPPORTED_VERSIONS or isinstance(version, bool):
        raise StoryboardError(
            [document.problem(("version",), f"unsupported storyboard version {version!r}; this program reads version 1")]
        )
    # A section left empty (`music:` with every cue commented out) means "none".
    data = {key: value for key, value in data.items() if not (key in OPTIONAL_SECTIONS and value is None)}
    text = text_problems(document)
    try:
        parsed = StoryboardDocument.model_validate(data)
    except ValidationError as exc:
        type_problems = pydantic_problems(document, exc)
        more = _problems_beyond_types(document, data, exc, path, overlay_styles)
        raise StoryboardError(dedupe(in_file_order(type_problems + more + text))) from None
    try:
        storyboard = Resolver(document, parsed, path, overlay_styles).run()
    except StoryboardError as error:
        raise StoryboardError(dedupe(in_file_order(error.problems + text))) from None
    if text:
        raise StoryboardError(text)
    return storyboard


OPTIONAL_SECTIONS = ("delivery", "defaults", "voice", "music")


def _problems_beyond_types(document: LocatedDocument, data: dict, exc: ValidationError, path: Path,
                           overlay_styles: tuple[str, ...] | None) -> list[Problem]:
    """The cross-field problems of a file that also has type errors, so one run lists (nearly) all.

    Each badly typed value is dropped and the rest checked again. Shots with a type error are
    left out of the report (a dropped value would only cause a misleading follow-up message),
    and so is everything when a default is badly typed, since every shot depends on it.
    """
    repaired = copy.deepcopy(data)
    broken_shots = set()
    for error in exc.errors():
        location = tuple("from" if part == "from_" else part for part in error["loc"])
        if location[0] == "defaults" or not _drop_value(repaired, location):
            return []
        if location[0] == "shots" and len(location) > 1:
            broken_shots.add(format_path(location[:2]))
    try:
        parsed = StoryboardDocument.model_validate(repaired)
        Resolver(document, parsed, path, overlay_styles).run()
    except ValidationError:
        return []
    except StoryboardError as second:
        return [problem for problem in second.problems
                if not any(problem.path == shot or problem.path.startswith((shot + ".", shot + "["))
                           for shot in broken_shots)]
    return []


def _drop_value(data: Any, location: tuple) -> bool:
    """Remove the mapping key at ``location``; False when it names no key (a whole list item, a missing key)."""
    *parents, last = location
    for part in parents:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return False
    if not isinstance(data, dict) or last not in data:
        return False
    del data[last]
    return True
