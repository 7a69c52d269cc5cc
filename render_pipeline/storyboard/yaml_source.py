"""Safe YAML loading that remembers where every value came from.

PyYAML's composer gives a node graph with line and column marks. We build plain
Python values from it ourselves so that we can:

- reject duplicate keys (PyYAML silently keeps the last one),
- reject any tag outside the YAML core schema (``!!python/object`` and friends),
- bound alias expansion, so a "billion laughs" document fails fast,
- keep shot ids exactly as written (``010`` stays "010", not the octal 8),
- record a (line, column) for every value path, for error messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

try:  # libyaml's composer is several times faster on large storyboards
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader

# A value path: keys and list indexes from the document root, e.g. ("shots", 2, "duration").
ValuePath = tuple[str | int, ...]

CORE_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}

# Keys whose values name shots: kept as the literal text written, never converted.
ID_KEYS = {"id", "from", "to", "continue_from"}

# Far more values than any real storyboard has (a 500-shot film has about 20,000).
MAX_NODES = 200_000


@dataclass
class Problem:
    """One thing wrong with the input, pinned to a place in a file."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class StoryboardError(Exception):
    """The storyboard cannot be used; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass
class LocatedDocument:
    """Plain Python data plus the (line, column) of every value path, 1-based."""

    data: Any
    file: str
    marks: dict[ValuePath, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[ValuePath, tuple[int, int]] = field(default_factory=dict)  # where each mapping key is written

    def where(self, path: ValuePath) -> tuple[int, int]:
        """The mark of ``path``, or of its nearest ancestor that has one."""
        while path and path not in self.marks:
            path = path[:-1]
        return self.marks.get(path, (1, 1))

    def problem(self, path: ValuePath, message: str, at_key: bool = False) -> Problem:
        """A problem pinned to the value at ``path``, or to its key when the key itself is wrong."""
        line, column = self.key_marks[path] if at_key and path in self.key_marks else self.where(path)
        return Problem(self.file, line, column, format_path(path), message)


def format_path(path: ValuePath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def load_located(path: Path, display_name: str | None = None) -> LocatedDocument:
    """Read ``path`` as one YAML document; raise StoryboardError on anything unsafe or malformed."""
    name = display_name or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise StoryboardError([Problem(name, 1, 1, "", f"cannot read file: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise StoryboardError(
            [Problem(name, line, column, "", "file is not UTF-8 text (save it as UTF-8)")]
        ) from None
    return parse_located(text, name)


def parse_located(text: str, name: str) -> LocatedDocument:
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        raise StoryboardError([_syntax_problem(text, name, exc)]) from None
    except yaml.YAMLError as exc:
        raise StoryboardError([Problem(name, 1, 1, "", f"YAML error: {exc}")]) from None
    except RecursionError:
        raise StoryboardError([Problem(name, 1, 1, "", "the YAML is nested too deeply to be a storyboard")]) from None
    if root is None:
        raise StoryboardError([Problem(name, 1, 1, "", "the file is empty; a storyboard needs version, title and shots")])
    _check_expanded_size(root, name)
    document = LocatedDocument(data=None, file=name)
    builder = _Builder(document)
    try:
        document.data = builder.build(root, ())
    except RecursionError:
        raise StoryboardError([Problem(name, 1, 1, "", "the YAML is nested too deeply to be a storyboard")]) from None
    if builder.problems:
        raise StoryboardError(builder.problems)
    return document


def _syntax_problem(text: str, name: str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    # libyaml's message for a tab does not name it; look at the line itself.
    lines = text.splitlines()
    line_text = lines[line - 1] if 0 < line <= len(lines) else ""
    if "\t" in line_text:
        return Problem(name, line, line_text.index("\t") + 1, "", "tab character: YAML indents with spaces only")
    return Problem(name, line, column, "", f"YAML syntax error: {exc.problem or 'invalid YAML'}")


class _Recursive(Exception):
    pass


def _check_expanded_size(root: yaml.Node, name: str) -> None:
    """Reject a document whose aliases would expand it past MAX_NODES, without expanding it."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise _Recursive
        open_nodes.add(key)
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            children = []
        total = 1 + sum(size(child) for child in children)
        open_nodes.discard(key)
        sizes[key] = total
        return total

    try:
        total = size(root)
    except _Recursive:
        raise StoryboardError([Problem(name, 1, 1, "", "an alias refers to itself (recursive YAML); write the values out")]) from None
    except RecursionError:
        raise StoryboardError([Problem(name, 1, 1, "", "the YAML is nested too deeply to be a storyboard")]) from None
    if total > MAX_NODES:
        raise StoryboardError([Problem(name, 1, 1, "", f"the document expands to {total:,} values, more than the "
                                                      f"{MAX_NODES:,} allowed (aliases nested into a 'YAML bomb'?)")])


class _Builder:
    def __init__(self, document: LocatedDocument):
        self.document = document
        self.problems: list[Problem] = []
        self.scalars = _Loader("")  # only its resolver and scalar constructors are used

    def _fail(self, node: yaml.Node, path: ValuePath, message: str) -> None:
        mark = node.start_mark
        self.problems.append(Problem(self.document.file, mark.line + 1, mark.column + 1, format_path(path), message))

    def build(self, node: yaml.Node, path: ValuePath) -> Any:
        if path not in self.document.marks:
            self.document.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if node.tag not in CORE_TAGS:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            self._fail(node, path, f"YAML tag {tag!r} is not allowed; storyboards use plain values only")
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, path + (index,)) for index, child in enumerate(node.value)]
        if path and path[-1] in ID_KEYS:
            return node.value
        try:
            return self.scalars.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError) as exc:
            self._fail(node, path, f"cannot read value {node.value!r}: {exc}")
            return None

    def _mapping(self, node: yaml.MappingNode, path: ValuePath) -> dict:
        result: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self._fail(key_node, path, "YAML merge keys ('<<') are not supported; write the fields out")
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self._fail(key_node, path, "mapping keys must be plain names")
                continue
            key = key_node.value
            if key in result:
                self._fail(key_node, path + (key,), f"duplicate key {key!r} (each key may appear once)")
                continue
            self.document.key_marks[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = self.build(value_node, path + (key,))
        return result
