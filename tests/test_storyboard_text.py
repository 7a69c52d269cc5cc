"""Text and numbers `validate` refuses before anything renders: control characters, infinite numbers,
shots shorter than a frame, rates the timeline cannot carry, text past its stated bound."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from render_pipeline.cli import app
from render_pipeline.post.edit import make_edit
from render_pipeline.storyboard import StoryboardError, load_storyboard
from render_pipeline.storyboard.resolve import resolve
from render_pipeline.storyboard.yaml_source import parse_located
from tests.conftest import MINIMAL_STORYBOARD


def edited(old: str, new: str) -> str:
    assert old in MINIMAL_STORYBOARD, old
    return MINIMAL_STORYBOARD.replace(old, new, 1)


def problems(write_storyboard, text: str) -> list[str]:
    with pytest.raises(StoryboardError) as caught:
        load_storyboard(write_storyboard(text))
    return [str(problem) for problem in caught.value.problems]


CONTROL = "text may hold line breaks and tabs but no other control characters"

TEXT_CASES = {
    "NUL in an overlay": (edited('text: "Hello"', 'text: "Hel\\0lo"'),
                          [f"sb.yaml:11:16: shots[0].overlays[0].text: control character U+0000 (NUL, null) at "
                           f"character 4: {CONTROL}"]),
    "carriage return in an overlay": (edited('text: "Hello"', 'text: "Hello\\rDialogue: 0,0:00:00.00"'),
                                      [f"sb.yaml:11:16: shots[0].overlays[0].text: control character U+000D "
                                       f"(CR, carriage return) at character 6: {CONTROL}"]),
    "escape in the narration": (edited('narration: "Good morning."', 'narration: "Good \\e[31mmorning."'),
                                [f"sb.yaml:12:16: shots[0].narration: control character U+001B (ESC, escape) at "
                                 f"character 6: {CONTROL}"]),
    "C1 control in the title": (edited("title: Test Film", 'title: "Test\\x85Film"'),
                                [f"sb.yaml:2:8: title: control character U+0085 (a C1 control) at character 5: "
                                 f"{CONTROL}"]),
    "DEL in a prompt": (edited('prompt: "A ship at sea"', 'prompt: "A ship\\x7f at sea"'),
                        [f"sb.yaml:16:13: shots[1].prompt: control character U+007F (DEL, delete) at character 7: "
                         f"{CONTROL}"]),
    "noncharacter in the title": (edited("title: Test Film", 'title: "Test \\uFFFF"'),
                                  ["sb.yaml:2:8: title: noncharacter U+FFFF at character 6: no file the film's text "
                                   "goes into can hold it"]),
}


@pytest.mark.parametrize("text, expected", TEXT_CASES.values(), ids=TEXT_CASES.keys())
def test_control_characters_are_refused_with_field_and_position(write_storyboard, text, expected):
    assert problems(write_storyboard, text) == expected


def test_the_cli_refuses_a_nul_in_an_overlay(write_storyboard):
    path = write_storyboard(edited('text: "Hello"', 'text: "Hel\\0lo"'))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "sb.yaml:11:16: shots[0].overlays[0].text: control character U+0000 (NUL, null) at character 4" in result.output


def test_newlines_tabs_and_bidi_characters_are_text(write_storyboard):
    text = 'text: "Two\\nlines\\tand \\u202eright-to-left\\u202c, \\u200fmarks\\u2066 \\u05e9\\u05dc\\u05d5\\u05dd"'
    storyboard = load_storyboard(write_storyboard(edited('text: "Hello"', text)))
    assert storyboard.shots[0].overlays[0].text == "Two\nlines\tand \u202eright-to-left\u202c, \u200fmarks\u2066 שלום"


@pytest.mark.parametrize("old, new, where", [
    ("duration: 3", "duration: .inf", "sb.yaml:8:15: shots[0].duration"),
    ("duration: 2", "duration: .nan", "sb.yaml:15:15: shots[1].duration"),
    ("start: 0.5", "start: -.inf", "sb.yaml:11:46: shots[0].overlays[0].start"),
    ("duration: 1}", "duration: .inf}", "sb.yaml:13:44: shots[0].transition.duration"),
    ("fps: 24", "fps: .nan", "sb.yaml:3:32: delivery.fps"),
    ("delivery: {", "delivery: {loudness_lufs: -.inf, ", "sb.yaml:3:27: delivery.loudness_lufs"),
    ("to: b}", "to: b, volume_db: .nan}", "sb.yaml:5:47: music[0].volume_db"),
    ('prompt: "A ship at sea"', 'prompt: "A ship at sea"\n    guidance: .inf', "sb.yaml:17:15: shots[1].guidance"),
    ('prompt: "A ship at sea"', 'prompt: "A ship at sea"\n    camera: {lens_mm: .inf}', "sb.yaml:17:23: shots[1].camera.lens_mm"),
])
def test_infinite_and_nan_numbers_are_refused(write_storyboard, old, new, where):
    found = problems(write_storyboard, edited(old, new))
    assert any(line.startswith(f"{where}: must be a finite number (got ") for line in found), found


def test_a_trim_of_infinity_is_refused(write_storyboard):
    write_storyboard(b"", name="clip.mp4")
    text = edited('prompt: "A ship at sea"', "source: clip.mp4\n    trim: [0, .inf]")
    assert "sb.yaml:17:15: shots[1].trim[1]: must be a finite number (got inf)" in problems(write_storyboard, text)


def two_shots(first: float, second: float) -> str:
    return (f"version: 1\ntitle: Frames\ndelivery: {{fps: 24}}\nshots:\n"
            f"  - {{id: a, duration: {first!r}, prompt: sea}}\n  - {{id: b, duration: {second!r}, prompt: sky}}\n")


def test_a_shot_shorter_than_a_frame_is_refused(write_storyboard):
    assert problems(write_storyboard, two_shots(1.0, 0.02)) == [
        "sb.yaml:6:23: shots[1].duration: 0.02 s gets no frame of its own at 24 fps (a frame lasts 0.04167 s); "
        "make the shot at least one frame long"]
    load_storyboard(write_storyboard(two_shots(1.0, 0.0417)))  # one frame: fine


def test_one_frame_can_round_away_next_to_a_half_frame_and_is_refused(write_storyboard):
    """The edit rounds each cut from the running time: 1.5 frames then 1 frame puts both cuts on frame 2."""
    found = problems(write_storyboard, two_shots(1.5 / 24, 1 / 24))
    assert len(found) == 1 and found[0].startswith("sb.yaml:6:23: shots[1].duration: 0.0416667 s gets no frame"), found


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(durations=st.lists(st.floats(0.001, 0.2), min_size=1, max_size=6),
       fps=st.sampled_from([23.976, 24, 25, 29.97, 30, 48, 50, 59.94, 60]))
def test_every_shot_validate_accepts_has_a_frame_in_the_edit(tmp_path, durations, fps):
    shots = "".join(f"  - {{id: s{n}, duration: {d!r}, prompt: sea}}\n" for n, d in enumerate(durations))
    text = f"version: 1\ntitle: Frames\ndelivery: {{fps: {fps}}}\nshots:\n{shots}"
    try:
        storyboard = resolve(parse_located(text, "sb.yaml"), tmp_path / "sb.yaml")
    except StoryboardError as error:
        assert all("gets no frame of its own" in problem.message for problem in error.problems)
        return
    assert all(edited_shot.frames >= 1 for edited_shot in make_edit(storyboard).shots)


def test_a_rate_the_timeline_cannot_carry_is_refused(write_storyboard):
    for fps in ("1", "12", "15", "100", "119.88", "120", "23.5"):
        found = problems(write_storyboard, edited("fps: 24", f"fps: {fps}"))
        assert len(found) == 1 and found[0].startswith(f"sb.yaml:3:32: delivery.fps: {float(fps):g} fps is not a "
                                                       "delivery rate; use one of 23.976, 24, 25, 29.97, 30, 47.952, "
                                                       "48, 50, 59.94, 60"), found


def test_ntsc_rates_written_short_are_read_exactly(write_storyboard):
    storyboard = load_storyboard(write_storyboard(edited("fps: 24", "fps: 23.98")))
    assert storyboard.delivery.fps == 23.976 and storyboard.delivery.frame_rate == Fraction(24000, 1001)


@pytest.mark.parametrize("old, new, where, limit", [
    ('prompt: "A ship at sea"', f'prompt: "{"sea " * 1001}"', "sb.yaml:16:13: shots[1].prompt", 4000),
    ('text: "Hello"', f'text: "{"x" * 501}"', "sb.yaml:11:16: shots[0].overlays[0].text", 500),
    ('narration: "Good morning."', f'narration: "{"word " * 1001}"\n    narration_overflow: allow',
     "sb.yaml:12:16: shots[0].narration", 5000),
    ("title: Test Film", f"title: {'T' * 201}", "sb.yaml:2:8: title", 200),
])
def test_text_longer_than_its_bound_is_refused(write_storyboard, old, new, where, limit):
    found = problems(write_storyboard, edited(old, new))
    assert any(line.startswith(f"{where}: must be at most {limit:,} characters (this one has ") for line in found), found
