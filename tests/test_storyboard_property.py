"""Random mutations of a valid storyboard give a storyboard or a list of located problems, never a traceback."""

from __future__ import annotations

import copy

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from render_pipeline.storyboard import Storyboard, StoryboardError
from render_pipeline.storyboard.resolve import resolve
from render_pipeline.storyboard.yaml_source import parse_located
from tests.conftest import MINIMAL_STORYBOARD

VALID = yaml.safe_load(MINIMAL_STORYBOARD)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10, 10**12), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.sampled_from(["010", "b", "../x", "/etc/passwd", "cut", "fade", "1280x720", "auto", ""]),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                      max_leaves=6)


def paths(data, prefix=()):
    """Every value path in ``data``."""
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from paths(value, prefix + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from paths(value, prefix + (index,))


ALL_PATHS = [path for path in paths(VALID) if path]


def check(text: str, tmp_path) -> None:
    try:
        storyboard = resolve(parse_located(text, "sb.yaml"), tmp_path / "sb.yaml")
    except StoryboardError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.file == "sb.yaml" and problem.line >= 1 and problem.column >= 1 and problem.message
    else:
        assert isinstance(storyboard, Storyboard) and storyboard.duration > 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(ALL_PATHS), new_value=values, delete=st.booleans())
def test_replacing_or_deleting_a_value_never_crashes(tmp_path, path, new_value, delete):
    data = copy.deepcopy(VALID)
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new_value
    check(yaml.safe_dump(data, allow_unicode=True), tmp_path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(0, len(MINIMAL_STORYBOARD)), cut=st.integers(0, 6),
       insert=st.text(alphabet=st.sampled_from(list(" \t\n:-[]{}&*!#'\"|>%@`,?0a.")), max_size=4))
def test_editing_the_text_never_crashes(tmp_path, position, cut, insert):
    check(MINIMAL_STORYBOARD[:position] + insert + MINIMAL_STORYBOARD[position + cut:], tmp_path)
