"""Overlay, narration and title text drawn from all of Unicode (controls, bidi marks, markup of every
format) through validate, the ASS/SRT/VTT/HTML/XML writers and a one-shot film: each run either
refuses cleanly, or writes and draws the text as written with the other overlays intact."""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ElementTree
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from render_pipeline.audio.narration import split_sentences
from render_pipeline.errors import UserError
from render_pipeline.media.ffmpeg import ffmpeg_exe
from render_pipeline.media.fonts import find_font, needs_glyph
from render_pipeline.post.captions import Caption, write_srt, write_vtt
from render_pipeline.post.edit import make_edit
from render_pipeline.post.fcp_xml import fcp_xml
from render_pipeline.post.overlays_ass import WORD_JOINER, place_overlays, write_ass
from render_pipeline.post.review import SCRIPT as REVIEW_SCRIPT
from render_pipeline.post.review import ShotNotes, write_review
from render_pipeline.post.styles import load_overlay_styles
from render_pipeline.storyboard import StoryboardError
from render_pipeline.storyboard.resolve import resolve
from render_pipeline.storyboard.text import forbidden_character
from render_pipeline.storyboard.yaml_source import parse_located

# Characters each format gives a meaning to, and invisible ones that change how text is laid out.
SPECIAL = ("\x00\r\x1b\x7f\x85\t\n\u202e\u202c\u2066\u2069\u200f\u200e\u200d\u2060\u2028\u2029\ufeff\uffff\ufffe"
           "{}\\<>&\"'-%:;,N")
TEXT = st.text(alphabet=st.one_of(st.characters(), st.sampled_from(SPECIAL)), min_size=1, max_size=30)
SENTINEL = "KEEP ME"


def yaml_quoted(text: str) -> str:
    """``text`` as a YAML double-quoted scalar, every character outside printable ASCII escaped."""
    out = []
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= code < 0x7F:
            out.append(char)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def storyboard_text(title: str, overlay: str, narration: str, size: str = "640x360", extra: str = "") -> str:
    return (f"version: 1\ntitle: {yaml_quoted(title)}\ndelivery: {{size: {size}, fps: 24}}\n"
            f"defaults: {{backend: animatic}}\n{extra}shots:\n  - id: s01\n    duration: 2\n    prompt: a calm sea\n"
            f"    narration: {yaml_quoted(narration)}\n    narration_overflow: allow\n    overlays:\n"
            f"      - {{text: {yaml_quoted(overlay)}, style: caption, start: 0, end: 1}}\n"
            f"      - {{text: {SENTINEL!r}, style: caption, start: 1, end: 2}}\n")


def validated(tmp_path: Path, title: str, overlay: str, narration: str, size: str = "640x360"):
    """The storyboard, or None when validate refused it; a refusal must be for a character text may not hold."""
    text = storyboard_text(title, overlay, narration, size)
    try:
        storyboard = resolve(parse_located(text, "sb.yaml"), tmp_path / "sb.yaml")
    except StoryboardError as refused:
        assert refused.problems
        for problem in refused.problems:
            assert problem.line >= 1 and problem.column >= 1 and problem.message
            # A lone surrogate cannot even be written as YAML: the parser refuses its escape.
            assert "at character" in problem.message or "invalid Unicode character escape" in problem.message, problem
        assert any(forbidden_character(value) for value in (title, overlay, narration)), refused.problems
        return None
    assert not any(forbidden_character(value) for value in (title, overlay, narration))
    return storyboard


def only_line_breaks_added(original: str, written: str) -> bool:
    """Whether ``written`` is ``original`` with line breaks added (where a word is too long for a line)."""
    position = 0
    for char in written:
        if position < len(original) and char == original[position]:
            position += 1
        elif char != "\n":
            return False
    return position == len(original)


def visible(text: str) -> str:
    return text.replace(WORD_JOINER, "")


def ass_events(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").split("\n") if line.startswith("Dialogue:")]


def ass_text(event: str) -> str:
    """An event's text as libass reads it: our override block dropped, escapes undone."""
    text = re.sub(r"^\{[^}]*\}", "", event.split(",", 9)[9])
    assert not re.search(r"(?<!\\)\{", text), text  # no override block the user wrote
    assert not re.search(r"\\(?![{}\u2060N])", text), text  # every backslash escapes something
    return text.replace("\\N", "\n").replace("\\{", "{").replace("\\}", "}").replace("\\" + WORD_JOINER, "\\")


def srt_cues(path: Path) -> list[str]:
    blocks = path.read_text(encoding="utf-8").split("\n\n")
    cues = []
    for number, block in enumerate((b for b in blocks if b.strip()), start=1):
        lines = block.strip("\n").split("\n")
        assert lines[0] == str(number) and " --> " in lines[1] and len(lines) == 3, lines
        assert "-->" not in lines[2] and not re.search(r"[<{\\&](?!\u2060)", lines[2]), lines[2]
        cues.append(lines[2])
    return cues


def vtt_cues(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("WEBVTT\n\n")
    cues = []
    for block in (b for b in text[8:].split("\n\n") if b.strip()):
        lines = block.strip("\n").split("\n")
        assert " --> " in lines[0] and len(lines) == 2, lines
        assert "<" not in lines[1] and ">" not in lines[1], lines[1]
        cues.append(unescape(lines[1]))
    return cues


class _Page(HTMLParser):
    """The text inside each element of the review page, by tag."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.text: dict[str, list[str]] = {}
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)
        if tag not in ("img", "meta"):
            self.open.append(tag)

    def handle_endtag(self, tag) -> None:
        assert self.open and self.open[-1] == tag, (self.open, tag)
        self.open.pop()

    def handle_data(self, data) -> None:
        self.text.setdefault(self.open[-1] if self.open else "", []).append(data)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=TEXT, overlay=TEXT, narration=TEXT)
@example(title="<b>&amp;</b>", overlay="{\\b1}X\\N\r\nDialogue: 0,0:00:00.00,9:00:00.00,caption,,0,0,0,,EVIL",
         narration="Hi <b>there</b>. --> & {\\an8}!")
@example(title="T", overlay="a\x00b", narration="ok.")
@example(title="\u202eevil\u202c", overlay="\u05e9\u05dc\u05d5\u05dd \u202e{}\u2066x\u2069\n\t\\", narration="\u05e9\u05dc\u05d5\u05dd.")
def test_every_writer_keeps_the_text_or_validate_refuses_it(tmp_path, title, overlay, narration):
    storyboard = validated(tmp_path, title, overlay, narration)
    if storyboard is None:
        return
    shot = storyboard.shots[0]
    edit = make_edit(storyboard)
    styles = load_overlay_styles()

    ass = tmp_path / "overlays.ass"
    write_ass(ass, edit, place_overlays(edit, {"s01": shot.overlays}), styles, find_font())
    events = ass_events(ass)
    assert len(events) == 2 and ass_text(events[1]) == SENTINEL
    assert only_line_breaks_added(shot.overlays[0].text, ass_text(events[0]))

    sentences = split_sentences(shot.narration or "")
    captions = [Caption(sentence, n, n + 1) for n, sentence in enumerate(sentences)]
    write_srt(tmp_path / "final.srt", captions)
    write_vtt(tmp_path / "final.vtt", captions)
    assert [visible(cue) for cue in srt_cues(tmp_path / "final.srt")] == [visible(s) for s in sentences]
    assert vtt_cues(tmp_path / "final.vtt") == sentences

    notes = {"s01": ShotNotes(overlays=shot.overlays, narration=shot.narration)}
    write_review(tmp_path / "review.html", storyboard.title, edit, {"s01": b"jpeg"}, notes, "final.mp4")
    page = _Page()
    page.feed((tmp_path / "review.html").read_text(encoding="utf-8"))
    assert page.tags.count("script") == 1 and "".join(page.text["script"]) == REVIEW_SCRIPT  # the page's own
    assert page.tags.count("img") == 1
    assert "".join(page.text.get("h1", [])) == storyboard.title
    assert shot.narration in "".join(page.text["dd"]) and shot.overlays[0].text in "".join(page.text["dd"])

    (tmp_path / "timeline.xml").write_bytes(fcp_xml(storyboard.title, edit, {"s01": tmp_path / "s01.mp4"}, {"s01": 48},
                                                    {}, tmp_path))
    root = ElementTree.parse(tmp_path / "timeline.xml").getroot()
    assert (root.find("./sequence/name").text or "") == storyboard.title


def frame_at(film: Path, seconds: float, width: int, height: int) -> np.ndarray:
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-ss", f"{seconds}", "-i", str(film), "-frames:v", "1",
                          "-f", "rawvideo", "-pix_fmt", "gray", "-"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(height, width).astype(int)


def render_film(folder: Path, text: str):
    from render_pipeline.film import render_all
    from render_pipeline.storyboard import load_storyboard

    (folder / "sb.yaml").write_text(text, encoding="utf-8")
    return render_all(load_storyboard(folder / "sb.yaml"), folder / "out", quiet=True)


def changed_pixels(first: np.ndarray, second: np.ndarray) -> int:
    """Pixels that differ by more than two encodes of the same picture do."""
    return int((np.abs(first - second) > 48).sum())


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[np.ndarray, np.ndarray]:
    """A frame of each half of the film with nothing in the first overlay and the sentinel in the second."""
    folder = tmp_path_factory.mktemp("reference")
    result = render_film(folder, storyboard_text("Fuzz", " ", "Fine.", size="320x180"))
    assert not result.failed
    return frame_at(result.assembly.film, 0.5, 320, 180), frame_at(result.assembly.film, 1.5, 320, 180)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(overlay=TEXT, narration=TEXT)
@example(overlay="{\\b1}X\\N\u202eY\nZ <i>&amp;", narration="Hi <b>there</b>. Then --> {\\an8}!")
@example(overlay="Hel\x00lo", narration="ok.")
@example(overlay="one\rDialogue: 0,0:00:00.00,9:00:00.00,caption,,0,0,0,,EVIL", narration="ok.")
def test_a_one_shot_film_draws_the_text_and_keeps_the_other_overlay(tmp_path_factory, reference, overlay, narration):
    folder = tmp_path_factory.mktemp("fuzz")
    text = storyboard_text("Fuzz", overlay, narration, size="320x180")
    try:
        result = render_film(folder, text)
    except StoryboardError as refused:  # validate: a control character
        assert any(forbidden_character(value) for value in (overlay, narration)), refused.problems
        return
    except UserError as refused:  # characters no font draws, or narration with no words
        assert "no installed font draws" in str(refused) or "no words to speak" in str(refused), refused
        return
    assert not result.failed and result.assembly is not None
    film = result.assembly.film
    # The other overlay is intact: the second half shows what it shows with the sentinel alone.
    assert changed_pixels(frame_at(film, 1.5, 320, 180), reference[1]) < 10
    sentences = split_sentences(narration)
    assert vtt_cues(film.with_name("final.vtt")) == sentences
    assert [visible(cue) for cue in srt_cues(film.with_name("final.srt"))] == [visible(s) for s in sentences]
    if any(needs_glyph(char) for char in overlay):  # the fuzzed overlay drew something
        assert changed_pixels(frame_at(film, 0.5, 320, 180), reference[0]) >= 10
