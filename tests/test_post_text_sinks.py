"""Every file the film's text is written into shows it as written: ASS (burned-in overlays, kept in the
title-safe area), SRT and WebVTT (read back by FFmpeg's own parsers), the review page (HTML), the
FCP XML timeline; and every delivery rate the format allows exports its timelines."""

from __future__ import annotations

import json
import math
import subprocess
import xml.etree.ElementTree as ElementTree
from fractions import Fraction
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from render_pipeline.media.ffmpeg import ffmpeg_exe
from render_pipeline.media.fonts import find_font
from render_pipeline.post.captions import Caption, write_srt, write_vtt
from render_pipeline.post.edit import Edit, make_edit
from render_pipeline.post.otio_export import build_timeline, write_timeline
from render_pipeline.post.overlays_ass import PlacedOverlay, write_ass
from render_pipeline.post.review import SCRIPT as REVIEW_SCRIPT
from render_pipeline.post.review import ShotNotes, write_review
from render_pipeline.post.styles import load_overlay_styles
from render_pipeline.storyboard import load_storyboard
from render_pipeline.storyboard.schema import Overlay

WIDTH, HEIGHT = 640, 360
TITLE_SAFE = 0.05  # EBU R 95: graphics stay 5 % in from each edge
# The rates docs/storyboard-format.md lists (those of SMPTE timecode).
RATES = (23.976, 24, 25, 29.97, 30, 47.952, 48, 50, 59.94, 60)


def burn(tmp_path: Path, overlays: list[Overlay], width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """One frame of grey with the overlays burned in; a mask of every pixel they changed."""
    font = find_font()
    fonts = tmp_path / "fonts"
    fonts.mkdir(exist_ok=True)
    (fonts / font.path.name).write_bytes(font.path.read_bytes())
    ass = tmp_path / "text.ass"
    write_ass(ass, Edit(Fraction(24), width, height, []), [PlacedOverlay(o, "s", 0.0, 2.0) for o in overlays],
              load_overlay_styles(), font)
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", f"color=0x808080:s={width}x{height}:r=24",
                          "-vf", f"ass={ass}:fontsdir={fonts}", "-ss", "1", "-frames:v", "1", "-f", "rawvideo",
                          "-pix_fmt", "gray", "-"], check=True, capture_output=True).stdout
    return np.abs(np.frombuffer(raw, np.uint8).reshape(height, width).astype(int) - 0x80) > 16


LONG_TEXTS = {
    "words": ("lorem ipsum dolor sit amet, consectetur adipiscing elit " * 9)[:500],
    "one long word": "W" * 500,
    "chinese": "港口重开船只回家" * 62 + "港口重开",
    # Glyphs wider than the size the wrapping estimates with (DejaVu Sans: 1.2-1.4 times it).
    "wide glyphs": "ШЩЮ😭Ⅷ" * 100,
}


@pytest.mark.parametrize("style", ["title", "lower_third", "caption"])
@pytest.mark.parametrize("kind", LONG_TEXTS)
def test_the_longest_overlay_stays_inside_the_title_safe_area(tmp_path, style, kind):
    for position in ("center", "upper_left", "lower_right"):
        drawn = burn(tmp_path, [Overlay(text=LONG_TEXTS[kind], style=style, position=position)])
        rows, columns = np.nonzero(drawn.any(axis=1))[0], np.nonzero(drawn.any(axis=0))[0]
        assert drawn.sum() > 2000, (position, drawn.sum())
        left, top = math.ceil(TITLE_SAFE * WIDTH), math.ceil(TITLE_SAFE * HEIGHT)
        assert columns.min() >= left and columns.max() < WIDTH - left, (position, columns.min(), columns.max())
        assert rows.min() >= top and rows.max() < HEIGHT - top, (position, rows.min(), rows.max())


def test_a_short_title_keeps_its_size(tmp_path):
    rows = np.nonzero(burn(tmp_path, [Overlay(text="H", style="title", position="center")]).any(axis=1))[0]
    cap_height = rows.max() - rows.min()
    assert abs(cap_height - load_overlay_styles()["title"].size * HEIGHT * 0.73) < 0.25 * cap_height


@pytest.mark.parametrize("text", ["Hel\x00lo", "one\rDialogue: 0,0:00:00.00,9:00:00.00,title,,0,0,0,,EVIL", "\x1b[31m"])
def test_the_ass_writer_refuses_what_validate_refuses(tmp_path, text):
    """A NUL ended libass's reading (this overlay and every later one vanished); a CR began a new event."""
    with pytest.raises(ValueError, match="control character"):
        write_ass(tmp_path / "x.ass", Edit(Fraction(24), WIDTH, HEIGHT, []),
                  [PlacedOverlay(Overlay(text=text), "s", 0.0, 1.0)], load_overlay_styles(), find_font())


CAPTION = 'He said <b>stop</b> & <script>alert("x")</script> {\\an8} --> a \\N b.'


def ffmpeg_reads(path: Path, tmp_path: Path) -> str:
    """The caption text as FFmpeg's own subtitle parser reads it: converted to ASS, its event's text."""
    out = tmp_path / f"{path.suffix[1:]}.ass"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(path), str(out)], check=True)
    dialogue = [line for line in out.read_text(encoding="utf-8").splitlines() if line.startswith("Dialogue:")]
    assert len(dialogue) == 1, dialogue
    return dialogue[0].split(",", 9)[9]


def test_vtt_escapes_markup_and_ffmpeg_reads_the_text_back(tmp_path):
    path = tmp_path / "final.vtt"
    write_vtt(path, [Caption(CAPTION, 1.0, 2.5)])
    written = path.read_text(encoding="utf-8")
    assert "<b>" not in written and "<script>" not in written and "-->" not in written.split("\n", 3)[3]
    assert "&lt;b&gt;stop&lt;/b&gt; &amp; &lt;script&gt;" in written
    read = ffmpeg_reads(path, tmp_path)
    assert "{\\b1}" not in read and "stop" in read and "script" in read


def test_srt_cue_text_is_not_read_as_markup(tmp_path):
    path = tmp_path / "final.srt"
    write_srt(path, [Caption(CAPTION, 1.0, 2.5)])
    written = path.read_text(encoding="utf-8")
    assert written.count("-->") == 1 and "<b>" not in written and "{\\an8}" not in written
    read = ffmpeg_reads(path, tmp_path)
    assert "{\\b1}" not in read and "{\\an8}" not in read and "stop" in read and "alert" in read
    assert written.split("\n")[2].replace("\u2060", "") == CAPTION


def test_caption_writers_refuse_control_characters(tmp_path):
    for write in (write_srt, write_vtt):
        with pytest.raises(ValueError, match="control character"):
            write(tmp_path / "x", [Caption("one\x00two", 0.0, 1.0)])


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text, self.tags = [], []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)

    def handle_data(self, data) -> None:
        self.text.append(data)


HOSTILE_TITLE = 'Tom & Jerry\'s <script>alert("x")</script> ]]> <!-- “quotes”'


def tiny_storyboard(tmp_path: Path, fps: float = 24, title: str = "Rates"):
    path = tmp_path / "board.yaml"
    path.write_text(f"version: 1\ntitle: {json.dumps(title, ensure_ascii=False)}\ndelivery: {{size: 160x90, fps: {fps}}}\n"
                    "shots:\n  - {id: a, duration: 1, prompt: sea, transition: {type: dissolve, duration: 0.5}}\n"
                    "  - {id: b, duration: 1.5, prompt: sky}\n", encoding="utf-8")
    return load_storyboard(path)


def test_review_page_shows_hostile_text_as_text(tmp_path):
    storyboard = tiny_storyboard(tmp_path, title=HOSTILE_TITLE.replace("'", "’"))
    edit = make_edit(storyboard)
    notes = {"a": ShotNotes(original_prompt="<img src=x onerror=alert(1)>", narration="a & b",
                            overlays=(Overlay(text="<b>bold</b>"),)), "b": ShotNotes()}
    page = tmp_path / "review.html"
    write_review(page, storyboard.title, edit, {"a": b"jpeg", "b": b"jpeg"}, notes, "final.mp4")
    parser = _Text()
    parser.feed(page.read_text(encoding="utf-8"))
    text = "".join(parser.text)
    assert parser.tags.count("img") == 2  # the two thumbnails, nothing else
    assert parser.tags.count("script") == 1 and REVIEW_SCRIPT in text  # the page's own: a constant
    assert storyboard.title in text and "<img src=x onerror=alert(1)>" in text and "caption: <b>bold</b>" in text


def test_the_rates_are_the_formats():
    from render_pipeline.storyboard.schema import DELIVERY_RATES

    assert DELIVERY_RATES == RATES


@pytest.mark.parametrize("fps", RATES)
def test_every_delivery_rate_exports_both_timelines(tmp_path, fps):
    storyboard = tiny_storyboard(tmp_path, fps=fps, title=HOSTILE_TITLE)
    edit = make_edit(storyboard)
    files = {shot.id: tmp_path / f"{shot.id}.mp4" for shot in storyboard.shots}
    frames = {edited.shot.id: edited.used_frames + edited.source_start for edited in edit.shots}
    timeline = build_timeline(storyboard.title, edit, files, frames, [], {}, None)
    write_timeline(timeline, tmp_path / "timeline.otio", "otio_json")
    write_timeline(timeline, tmp_path / "timeline.xml", "fcp_xml")
    root = ElementTree.parse(tmp_path / "timeline.xml").getroot()
    sequence = root.find("./project/children/sequence")
    assert sequence.find("name").text == HOSTILE_TITLE
    rate = sequence.find("rate")
    assert int(rate.find("timebase").text) == round(fps) and (rate.find("ntsc").text == "TRUE") == (fps != round(fps))


def test_the_animatic_draws_its_notes_literally(tmp_path):
    """drawtext reads the notes from a file with expansion=none: `%{n}` is text, not the frame number."""
    from render_pipeline.backends.animatic import AnimaticSession
    from render_pipeline.backends.base import RenderRequest

    request = RenderRequest(shot_id="s01", prompt="frame %{n} at %{pts} here, {x} \\N", negative_prompt="", seed=1,
                            width=320, height=180, fps=24, frames=12, steps=0, quality="draft")
    out = tmp_path / "s01.mp4"
    AnimaticSession().render(request, out, lambda done, total: None)
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(out), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                         check=True, capture_output=True).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, 180, 320).astype(int)
    notes = (slice(88, 180), slice(0, 320))  # the prompt, under the header (the timecode is at the top right)
    assert np.abs(frames[0][notes] - frames[-2][notes]).max() < 40  # the last frame has no notes at all
