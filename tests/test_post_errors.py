"""assemble refuses missing or broken shots or narration with a message naming the shot, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from render_pipeline.cli import app
from render_pipeline.errors import UserError
from render_pipeline.media.ffmpeg import FfmpegError
from render_pipeline.post import assemble
from render_pipeline.storyboard import load_storyboard
from tests.post_film import make_film_inputs

STORYBOARD = """\
version: 1
title: Broken Film
delivery: {size: 320x180, fps: 24}
shots:
  - {id: a, duration: 1, prompt: sea}
  - {id: b, duration: 1, prompt: sky}
"""


def test_unrendered_shots_are_listed(write_storyboard, tmp_path):
    storyboard = load_storyboard(write_storyboard(STORYBOARD))
    (tmp_path / "out" / "shots").mkdir(parents=True)
    (tmp_path / "out" / "shots" / "a.mp4").write_bytes(b"")
    with pytest.raises(UserError, match=r"shot a: .*a\.mp4 is not readable video"):
        assemble(storyboard, tmp_path / "out")
    (tmp_path / "out" / "shots" / "a.mp4").unlink()
    with pytest.raises(UserError, match=r"2 shot\(s\) not rendered yet .*: a, b; run `render-pipeline render-all sb.yaml`"):
        assemble(storyboard, tmp_path / "out")


def test_cli_reports_missing_shots_without_traceback(write_storyboard, tmp_path):
    write_storyboard(STORYBOARD)
    result = CliRunner().invoke(app, ["assemble", "sb.yaml", "--out", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "error: 2 shot(s) not rendered yet" in result.output
    assert "Traceback" not in result.output
    assert not Path(tmp_path / "nowhere" / "final.mp4").exists()


def test_broken_narration_is_named_while_the_picture_encodes(tmp_path):
    storyboard, audio = make_film_inputs(tmp_path)
    audio.narration["s02"].path.write_bytes(b"not a wav file")
    with pytest.raises(FfmpegError, match="measuring the narration of shot s02"):
        assemble(storyboard, tmp_path, audio=audio)
    assert not (tmp_path / "final.mp4").exists()
