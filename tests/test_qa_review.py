"""The review page's QA rows: each attempt's scores, and the text found boxed on the kept attempt's frame."""

from __future__ import annotations

import base64
import re

import numpy as np

from render_pipeline.media.ffmpeg import MediaKind, ffmpeg_output, media_input
from render_pipeline.post.review import _qa_rows
from render_pipeline.qa.review_card import THUMBNAIL_WIDTH, attempt_lines, boxed_frame
from tests.assets.qa_clips import Scene, make_clip

BOX = {"x0": 80, "y0": 40, "x1": 200, "y1": 90}  # on a 320x180 shot: a 120x50 box
QA = {"on_fail": "rerender", "max_attempts": 3, "lettering_checked": True, "kept": 2, "attempts": [
    {"attempt": 1, "seed": 11, "passed": False, "scores": [
        {"check": "lettering", "value": 0.93, "threshold": 0.75, "frame": 12, "box": BOX, "text": "K2ZWeq",
         "flagged": True}]},
    {"attempt": 2, "seed": 22, "passed": False, "scores": [
        {"check": "lettering", "value": 0.81, "threshold": 0.75, "frame": 24, "box": BOX, "text": "ab",
         "flagged": True},
        {"check": "flicker", "value": 0.2, "threshold": 1.5, "frame": 3, "flagged": False}]},
]}


def test_each_attempt_is_a_line_with_its_seed_and_what_it_failed():
    assert attempt_lines(QA) == ["attempt 1, seed 11: failed: lettering 'K2ZWeq' 0.93 > 0.75",
                                 "attempt 2 (kept), seed 22: failed: lettering 'ab' 0.81 > 0.75"]


def test_a_passing_attempt_names_what_was_only_reported():
    qa = {"kept": 1, "attempts": [{"attempt": 1, "seed": 5, "passed": True, "scores": [
        {"check": "frozen", "value": 0.9, "threshold": 0.25, "frame": 0, "flagged": True}]}]}
    assert attempt_lines(qa) == ["attempt 1, seed 5: passed (reported: frozen 0.9 > 0.25)"]


def test_the_box_is_drawn_in_red_where_the_text_was(tmp_path):
    shot = make_clip(Scene(seed=3), tmp_path / "s01.mp4")
    picture = boxed_frame(shot, QA)
    jpeg = tmp_path / "box.jpg"
    jpeg.write_bytes(picture)
    height = THUMBNAIL_WIDTH * 180 // 320
    pixels = np.frombuffer(ffmpeg_output([*media_input(jpeg, MediaKind.IMAGE), "-f", "rawvideo", "-pix_fmt", "rgb24",
                                          "-"], "decoding"), np.uint8).reshape(height, THUMBNAIL_WIDTH, 3).astype(int)
    red = (pixels[..., 0] > 180) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    ys, xs = np.nonzero(red)
    assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (80, 40, 200, 90)  # 320 wide: the shot's own pixels
    assert not red[50:80, 90:190].any()  # an outline, not a filled box


def test_review_rows_hold_the_lines_and_the_boxed_picture(tmp_path):
    shot = make_clip(Scene(seed=3), tmp_path / "s01.mp4")
    html = _qa_rows({"qa": QA}, shot)
    assert "attempt 2 (kept), seed 22: failed: lettering &#x27;ab&#x27; 0.81 &gt; 0.75" in html
    image = re.search(r'<img class="qa" alt="text found" src="data:image/jpeg;base64,([^"]+)">', html)
    assert base64.b64decode(image[1])[:2] == b"\xff\xd8"
    assert _qa_rows({}, shot) == "" and "<img" not in _qa_rows({"qa": {**QA, "kept": 3}}, shot)
