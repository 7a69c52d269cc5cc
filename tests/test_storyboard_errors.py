"""Every kind of bad input named in issue 2: exit 2, exact FILE:LINE:COLUMN: path: message, no traceback.

Each case edits the minimal storyboard (see conftest.py for its line numbers) and is checked
twice: through load_storyboard and through `render-pipeline validate`.
"""

from __future__ import annotations

import time

import pytest
from typer.testing import CliRunner

from render_pipeline.cli import app
from render_pipeline.storyboard import StoryboardError, load_storyboard
from tests.conftest import MINIMAL_STORYBOARD

BACKENDS = "auto, animatic, wan2.2-t2v-a14b, wan2.2-ti2v-5b, hunyuanvideo, cogvideox-5b"


def edited(old: str, new: str) -> str:
    assert old in MINIMAL_STORYBOARD, old
    return MINIMAL_STORYBOARD.replace(old, new, 1)


def yaml_bomb() -> str:
    lines = ["version: 1", "title: Bomb", 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    lines.append("shots: *a9")
    return "\n".join(lines) + "\n"


CASES = {
    "yaml syntax error": (edited("title: Test Film", "title: [Test Film"),
                          ["sb.yaml:3:9: YAML syntax error: did not find expected ',' or ']'"]),
    "tab indentation": (edited("    duration: 3", "\tduration: 3"),
                        ["sb.yaml:8:1: tab character: YAML indents with spaces only"]),
    "duplicate key": (edited("    duration: 3\n", "    duration: 3\n    duration: 4\n"),
                      ["sb.yaml:9:5: shots[0].duration: duplicate key 'duration' (each key may appear once)"]),
    "duplicate shot id": (edited("  - id: b\n", '  - id: "010"\n'),
                          ["sb.yaml:5:33: music[0].to: no shot with id 'b'",
                           "sb.yaml:14:9: shots[1].id: duplicate shot id '010' (first used on line 7)"]),
    "unknown key": (edited("    duration: 3\n", "    duraton: 3\n"),
                    ["sb.yaml:8:5: shots[0].duraton: unknown key 'duraton' (did you mean 'duration'?)"]),
    "unknown top-level key": (edited("title: Test Film", "title: Test Film\ncolour: blue"),
                              ["sb.yaml:3:1: colour: unknown key 'colour'"]),
    "duration in words": (edited("duration: 3", 'duration: "five seconds"'),
                          ["sb.yaml:8:15: shots[0].duration: must be a number (got 'five seconds')"]),
    "duration as quoted number": (edited("duration: 3", 'duration: "3"'),
                                  ["sb.yaml:8:15: shots[0].duration: must be a number (got '3')"]),
    "zero duration": (edited("duration: 3", "duration: 0"),
                      ["sb.yaml:8:15: shots[0].duration: must be > 0 (got 0)"]),
    "negative duration": (edited("duration: 2", "duration: -3"),
                          ["sb.yaml:15:15: shots[1].duration: must be > 0 (got -3)"]),
    "overlay after the shot ends": (edited("end: 2.5", "end: 3.5"),
                                    ["sb.yaml:11:56: shots[0].overlays[0].end: overlay ends at 3.5 s, after the shot's 3 s"]),
    "overlay ending before it starts": (edited("start: 0.5, end: 2.5", "start: 2.5, end: 0.5"),
                                        ["sb.yaml:11:56: shots[0].overlays[0].end: overlay must end after it starts "
                                         "(start 2.5, end 0.5)"]),
    "transition longer than the next shot": (
        edited("duration: 1}", "duration: 2.5}"),
        ["sb.yaml:13:17: shots[0].transition: transition of 2.5 s is longer than the next shot 'b' (2 s)"]),
    "source with ..": (edited('prompt: "A ship at sea"', "source: ../dock.mp4"),
                       ["sb.yaml:16:13: shots[1].source: paths must stay inside the storyboard's folder: "
                        "no absolute paths or '..' (got '../dock.mp4')"]),
    "absolute source": (edited('prompt: "A ship at sea"', "source: /etc/passwd"),
                        ["sb.yaml:16:13: shots[1].source: paths must stay inside the storyboard's folder: "
                         "no absolute paths or '..' (got '/etc/passwd')"]),
    "image outside the folder": (edited('prompt: "A ship at sea"', 'prompt: "A ship at sea"\n    image: refs/../../x.png'),
                                 ["sb.yaml:17:12: shots[1].image: paths must stay inside the storyboard's folder: "
                                  "no absolute paths or '..' (got 'refs/../../x.png')"]),
    "id with a path in it": (edited("id: b\n", "id: ../x\n"),
                             ["sb.yaml:5:33: music[0].to: no shot with id 'b'",
                              "sb.yaml:14:9: shots[1].id: shot ids are 1-64 letters, digits, '_' or '-' (got '../x')"]),
    "unknown backend": (edited('prompt: "A ship at sea"', 'prompt: "A ship at sea"\n    backend: wan3'),
                        [f"sb.yaml:17:14: shots[1].backend: 'wan3' is not one of: {BACKENDS}"]),
    "misspelt transition": (edited("type: dissolve", "type: disolve"),
                            ["sb.yaml:13:24: shots[0].transition.type: 'disolve' is unknown (did you mean 'dissolve'?)"]),
    "size without height": (edited("640x360", "640x"),
                            ["sb.yaml:3:18: delivery.size: must be WIDTHxHEIGHT such as 1280x720 (got '640x')"]),
    "odd size": (edited("640x360", "641x360"),
                 ["sb.yaml:3:18: delivery.size: width and height must be even for H.264 (got 641x360)"]),
    "zero fps": (edited("fps: 24", "fps: 0"), ["sb.yaml:3:32: delivery.fps: must be > 0 (got 0)"]),
    "fps too high": (edited("fps: 24", "fps: 1000"), ["sb.yaml:3:32: delivery.fps: must be <= 120 (got 1000)"]),
    "music cue naming an unknown shot": (edited("to: b}", "to: zz}"), ["sb.yaml:5:33: music[0].to: no shot with id 'zz'"]),
    "continue_from a later shot": (
        edited('prompt: "A harbor at dawn"', 'prompt: "A harbor at dawn"\n    continue_from: b'),
        ["sb.yaml:10:20: shots[0].continue_from: continue_from must name an earlier shot ('b' is not before '010')"]),
    "narration too long for its shot": (
        edited("Good morning.", "One two three four five six seven eight nine ten eleven twelve."),
        ["sb.yaml:12:16: shots[0].narration: narration needs about 4.0 s at 180 words/min but the shot lasts 3 s; "
         "shorten it, lengthen the shot, or set narration_overflow: allow"]),
    "empty file": ("", ["sb.yaml:1:1: the file is empty; a storyboard needs version, title and shots"]),
    "only comments": ("# to do\n", ["sb.yaml:1:1: the file is empty; a storyboard needs version, title and shots"]),
    "top-level list": ("- version: 1\n- title: x\n",
                       ["sb.yaml:1:1: a storyboard is a mapping of keys (version, title, shots, ...), not a list"]),
    "unsupported version": (edited("version: 1", "version: 2"),
                            ["sb.yaml:1:10: version: unsupported storyboard version 2; this program reads version 1"]),
    "missing version": (edited("version: 1\n", ""), ["sb.yaml:1:1: missing 'version' (this program reads version: 1)"]),
    "python tag": (edited("title: Test Film", "title: !!python/object/apply:os.system ['echo owned']"),
                   ["sb.yaml:2:8: title: YAML tag '!!python/object/apply:os.system' is not allowed; "
                    "storyboards use plain values only"]),
    "non-UTF-8 bytes": (MINIMAL_STORYBOARD.replace("Test Film", "Caf\xe9").encode("latin-1"),
                        ["sb.yaml:2:11: file is not UTF-8 text (save it as UTF-8)"]),
    "YAML bomb": (yaml_bomb(), ["sb.yaml:1:1: the document expands to 8,335,593,972 values, more than the 200,000 "
                                "allowed (aliases nested into a 'YAML bomb'?)"]),
    "alias that contains itself": ("version: 1\ntitle: x\nshots: &loop [*loop]\n",
                                   ["sb.yaml:1:1: an alias refers to itself (recursive YAML); write the values out"]),
    "type error and a cross-field error together": (
        edited("duration: 3", 'duration: "five seconds"').replace("to: b}", "to: zz}"),
        ["sb.yaml:5:33: music[0].to: no shot with id 'zz'",
         "sb.yaml:8:15: shots[0].duration: must be a number (got 'five seconds')"]),
}


@pytest.mark.parametrize("text, expected", CASES.values(), ids=CASES.keys())
def test_load_storyboard_lists_every_problem_with_its_place(write_storyboard, text, expected):
    path = write_storyboard(text)
    with pytest.raises(StoryboardError) as caught:
        load_storyboard(path)
    assert [str(problem) for problem in caught.value.problems] == expected


@pytest.mark.parametrize("text, expected", CASES.values(), ids=CASES.keys())
def test_validate_prints_problems_and_exits_2(write_storyboard, text, expected):
    write_storyboard(text)
    result = CliRunner().invoke(app, ["validate", "sb.yaml"])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[:-1] == expected
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_missing_footage_names_the_file(write_storyboard, tmp_path):
    path = write_storyboard(edited('prompt: "A ship at sea"', "source: footage/dock.mp4"))
    with pytest.raises(StoryboardError) as caught:
        load_storyboard(path)
    assert [str(p) for p in caught.value.problems] == [
        f"sb.yaml:16:13: shots[1].source: file not found: 'footage/dock.mp4' (looked in {tmp_path.resolve()})"]


def test_footage_that_is_not_video_is_rejected(write_storyboard):
    write_storyboard("not a video", name="notes.mp4")
    path = write_storyboard(edited('prompt: "A ship at sea"', "source: notes.mp4"))
    with pytest.raises(StoryboardError) as caught:
        load_storyboard(path)
    assert [str(p) for p in caught.value.problems] == [
        "sb.yaml:16:13: shots[1].source: notes.mp4 is not a video file FFmpeg can read"]


def test_yaml_bomb_is_rejected_fast(write_storyboard):
    path = write_storyboard(yaml_bomb())
    started = time.perf_counter()
    with pytest.raises(StoryboardError):
        load_storyboard(path)
    assert time.perf_counter() - started < 2.0


def test_a_missing_file_is_a_user_error(write_storyboard):
    result = CliRunner().invoke(app, ["validate", "nowhere.yaml"])
    assert result.exit_code == 2
    assert result.stderr.startswith("nowhere.yaml:1:1: cannot read file: No such file or directory")


def test_a_link_leading_out_of_the_folder_is_rejected(write_storyboard, tmp_path):
    outside = tmp_path.parent / f"{tmp_path.name}-outside.mp4"
    outside.write_bytes(b"x")
    (tmp_path / "clip.mp4").symlink_to(outside)
    path = write_storyboard(edited('prompt: "A ship at sea"', "source: clip.mp4"))
    with pytest.raises(StoryboardError) as caught:
        load_storyboard(path)
    assert [str(p) for p in caught.value.problems] == [
        "sb.yaml:16:13: shots[1].source: 'clip.mp4' leads outside the storyboard's folder (through a link)"]
