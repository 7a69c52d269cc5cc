"""The ffmpeg in use: exact frame counts whichever build it is, and a build lacking features refused up front.

ffmpeg 7.0 prints no "frame=" statistics for a stream copy, and a shot rendered correctly
was then rejected as unreadable (seen on a lent GPU machine with imageio-ffmpeg 0.6.0, whose
ffmpeg also lacks drawtext: every animatic shot then failed three times).
"""

from __future__ import annotations

import shutil
import subprocess

import imageio_ffmpeg
import pytest
from typer.testing import CliRunner

from render_pipeline.cli import app
from render_pipeline.media import ffmpeg as media


@pytest.fixture
def use_ffmpeg(monkeypatch):
    """Point the project at another ffmpeg (ffmpeg_exe caches its answer)."""
    def use(path) -> None:
        monkeypatch.setenv(media.FFMPEG_ENV, str(path))
        media.ffmpeg_exe.cache_clear()

    yield use
    media.ffmpeg_exe.cache_clear()


@pytest.mark.parametrize("which", ["imageio-ffmpeg", pytest.param("system", marks=pytest.mark.needs("ffmpeg"))])
@pytest.mark.parametrize("frames", [1, 121])
def test_count_frames_is_exact_with_every_ffmpeg_build(which, frames, tmp_path, use_ffmpeg):
    build = imageio_ffmpeg.get_ffmpeg_exe() if which == "imageio-ffmpeg" else shutil.which("ffmpeg")
    use_ffmpeg(build)
    assert media.ffmpeg_exe() == build
    clip = tmp_path / ".s01.mp4.part"  # the runner's temporary name: the container is not in the name
    subprocess.run([build, "-v", "error", "-f", "lavfi", "-i", "testsrc=s=64x48:r=24", "-frames:v", str(frames),
                    "-pix_fmt", "yuv420p", "-c:v", "libx264", "-f", "mp4", str(clip)], check=True)
    assert media.count_frames(clip) == frames


def test_count_frames_refuses_what_is_not_video(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    with pytest.raises(media.FfmpegError, match="counting frames"):
        media.count_frames(broken)


def test_an_ffmpeg_without_drawtext_is_refused_before_any_shot_renders(tmp_path, use_ffmpeg):
    real = media.ffmpeg_exe()
    fake = tmp_path / "ffmpeg"  # the real one, less drawtext in its filter list
    fake.write_text(f'#!/bin/sh\nif [ "$2" = -filters ]; then "{real}" "$@" | grep -v " drawtext "; '
                    f'else exec "{real}" "$@"; fi\n')
    fake.chmod(0o755)
    use_ffmpeg(fake)
    (tmp_path / "board.yaml").write_text("version: 1\ntitle: Text\ndelivery: {size: 320x180, fps: 24, "
                                         "loudness_lufs: -16}\ndefaults: {backend: animatic}\n"
                                         "shots:\n  - {id: s01, duration: 1, prompt: a harbor}\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["render-all", str(tmp_path / "board.yaml"), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert f"the ffmpeg at {fake} lacks drawtext, which rendering needs" in result.output
    assert "imageio-ffmpeg>=0.8" in result.output and "Traceback" not in result.output
    assert not list((out / "shots").glob("*")) and not (out / "logs" / "s01.log").exists()
