"""Writing decoded frames to an mp4: every frame arrives, a failing ffmpeg stops the producer, a
failing producer leaves no ffmpeg behind (media/rgb_frames.py write_rgb_frames)."""

from __future__ import annotations

import numpy as np
import pytest

from render_pipeline.media import ffmpeg as media
from render_pipeline.media import rgb_frames

WIDTH, HEIGHT = 64, 48


def frames(count: int, taken: list[int] | None = None):
    for index in range(count):
        if taken is not None:
            taken.append(index)
        pixels = np.full((HEIGHT, WIDTH, 3), index * 7 % 256, dtype=np.uint8)
        pixels[:, : WIDTH // 2, 0] = 200
        yield pixels.tobytes()


def test_every_frame_reaches_the_file(tmp_path):
    out = tmp_path / "shot.mp4"
    rgb_frames.write_rgb_frames(frames(121), WIDTH, HEIGHT, 24.0, out, what="writing s01")
    assert media.count_frames(out) == 121
    assert b"rc_lookahead=10" in out.read_bytes()  # x264 records its settings in the stream


def test_more_frames_than_the_queue_holds_all_arrive(tmp_path, monkeypatch):
    monkeypatch.setattr(rgb_frames, "FRAMES_IN_FLIGHT", 2)
    out = tmp_path / "shot.mp4"
    rgb_frames.write_rgb_frames(frames(30), WIDTH, HEIGHT, 24.0, out, what="writing s01")
    assert media.count_frames(out) == 30


def test_a_failing_ffmpeg_is_reported_and_stops_the_frames(tmp_path):
    taken: list[int] = []
    with pytest.raises(media.FfmpegError) as failure:
        rgb_frames.write_rgb_frames(frames(100_000, taken), WIDTH, HEIGHT, 24.0, tmp_path / "no-such-dir" / "shot.mp4",
                                    what="writing s01")
    assert "writing s01" in str(failure.value)
    assert len(taken) < 100_000  # the decode stopped soon after ffmpeg died, not at the end


def test_a_failing_producer_raises_its_own_error_and_ffmpeg_ends(tmp_path):
    def decode_then_fail():
        yield from frames(5)
        raise RuntimeError("CUDA out of memory in the decode")

    with pytest.raises(RuntimeError, match="out of memory"):
        rgb_frames.write_rgb_frames(decode_then_fail(), WIDTH, HEIGHT, 24.0, tmp_path / "shot.mp4", what="writing s01")
    assert media.count_frames(tmp_path / "shot.mp4") == 5  # a .part file the runner discards; ffmpeg has exited
