"""count_frames gives the exact frame count whichever ffmpeg build is in use.

ffmpeg 7.0 prints no "frame=" statistics for a stream copy, and a shot rendered correctly
was then rejected as unreadable (seen on a lent GPU machine with imageio-ffmpeg 0.6.0).
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from render_pipeline.media import ffmpeg as media


def ffmpeg_builds() -> list[str]:
    import imageio_ffmpeg

    builds = [imageio_ffmpeg.get_ffmpeg_exe()]
    if shutil.which("ffmpeg"):
        builds.append(shutil.which("ffmpeg"))
    return builds


@pytest.mark.parametrize("build", ffmpeg_builds())
@pytest.mark.parametrize("frames", [1, 121])
def test_count_frames_is_exact_with_every_ffmpeg_build(build, frames, tmp_path, monkeypatch):
    monkeypatch.setenv(media.FFMPEG_ENV, build)
    clip = tmp_path / ".s01.mp4.part"  # the runner's temporary name: the container is not in the name
    subprocess.run([build, "-v", "error", "-f", "lavfi", "-i", "testsrc=s=64x48:r=24", "-frames:v", str(frames),
                    "-pix_fmt", "yuv420p", "-c:v", "libx264", "-f", "mp4", str(clip)], check=True)
    assert media.count_frames(clip) == frames


def test_count_frames_refuses_what_is_not_video(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    with pytest.raises(media.FfmpegError, match="counting frames"):
        media.count_frames(broken)
