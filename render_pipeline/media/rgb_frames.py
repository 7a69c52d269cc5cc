"""Raw RGB24 frames piped through FFmpeg: encoded into a shot's mp4, decoded out of a clip.

FFmpeg is the one media/ffmpeg.py finds, and every file it reads is opened there (`media_input`).
"""

from __future__ import annotations

import queue
import subprocess
import tempfile
import threading
from collections.abc import Generator
from fractions import Fraction
from pathlib import Path

from render_pipeline.media.ffmpeg import FfmpegError, MediaKind, die_with_parent, ffmpeg_exe, media_input, raise_failure
from render_pipeline.output_folder.files import append_text

# Frames handed over but not yet taken by ffmpeg (a 1280x720 frame is 2.8 MB).
FRAMES_IN_FLIGHT = 64

# A shot's mp4, an intermediate that `assemble` encodes again. x264's medium preset looks 40
# frames ahead, and after the VAE's last frame the shot waits for x264 to work through them:
# 2.1 s of a TI2V-5B shot on an H200, 1.2 s looking 10 ahead (docs/benchmarks.md). That cost SSIM
# 0.99586 -> 0.99574, and a 2 % smaller file, on a detailed 1280x704 clip at this CRF.
SHOT_ENCODE = ["-c:v", "libx264", "-preset", "medium", "-crf", "16", "-x264-params", "rc-lookahead=10",
               "-pix_fmt", "yuv420p"]


def write_rgb_frames(frames, width: int, height: int, fps: float | Fraction, out_path: Path, what: str,
                     log_path: Path | None = None, encode: list[str] = SHOT_ENCODE) -> None:
    """Encode an iterable of packed RGB24 frames (bytes, ``width*height*3`` each) to an MP4 file (``encode``).

    The frames go through ffmpeg's stdin, so no image files are written; stderr goes to a
    temporary file so a chatty ffmpeg can never block on a full pipe. A thread of its own feeds
    the pipe, so the code making the frames (a VAE decoding on the GPU) goes on while ffmpeg
    is busy. The container is named, not guessed from ``out_path``: the runner writes to
    ``.<id>.mp4.part`` first.
    """
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{width}x{height}", "-r", rate_argument(fps), "-i", "pipe:0", "-an", *encode,
               "-f", "mp4", str(out_path)]
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=errors, preexec_fn=die_with_parent())
        assert process.stdin is not None  # stdin=PIPE
        pending: queue.Queue = queue.Queue(maxsize=FRAMES_IN_FLIGHT)
        ffmpeg_gone = threading.Event()
        feeder = threading.Thread(target=_feed, args=(pending, process.stdin, ffmpeg_gone), daemon=True)
        feeder.start()
        try:
            for frame in frames:
                if ffmpeg_gone.is_set():
                    break  # its exit status and message are reported below
                pending.put(frame)
        finally:
            pending.put(None)
            feeder.join()
            try:
                process.stdin.close()
            except BrokenPipeError:
                pass  # the last buffered bytes had nowhere to go: ffmpeg is gone, as reported below
            returncode = process.wait()
        errors.seek(0)
        stderr = errors.read().decode(errors="replace")
    if log_path is not None:
        append_text(log_path, "$ " + " ".join(command) + "\n" + stderr + "\n")
    if returncode != 0:
        raise_failure(what, returncode, stderr, command, output=out_path)


def _feed(pending: queue.Queue, pipe, ffmpeg_gone: threading.Event) -> None:
    """Write queued frames into ``pipe`` until None; once ffmpeg has gone, only empty the queue."""
    while (frame := pending.get()) is not None:
        if ffmpeg_gone.is_set():
            continue
        try:
            pipe.write(frame)
        except BrokenPipeError:
            ffmpeg_gone.set()


def rate_argument(fps: float | Fraction) -> str:
    """A frame rate as FFmpeg reads it: a Fraction exactly (24000/1001), a float as written (16)."""
    return f"{fps.numerator}/{fps.denominator}" if isinstance(fps, Fraction) else f"{fps:g}"


def read_rgb_frames(path: Path, width: int, height: int, what: str,
                    filters: str | None = None) -> Generator[bytes, None, None]:
    """Decode the first video stream of ``path`` as packed RGB24 frames (bytes, ``width*height*3`` each).

    ``width`` and ``height`` must be the stream's own (probe() gives them), or those ``filters``
    (a constant filter graph, never user text) turns it into; a graph that drops frames (select)
    has them left out rather than repeated. Stopping early ends ffmpeg.
    """
    size = width * height * 3
    graph = ["-vf", filters, "-fps_mode", "passthrough"] if filters else []
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", *media_input(path, MediaKind.VIDEO), "-map", "0:v:0",
               *graph, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors,
                                   preexec_fn=die_with_parent())
        assert process.stdout is not None  # stdout=PIPE
        read_to_the_end = False
        try:
            while len(frame := process.stdout.read(size)) == size:
                yield frame
            read_to_the_end = True
        finally:
            process.stdout.close()
            if not read_to_the_end:
                process.kill()  # the consumer stopped early (or failed): nothing more is wanted
            returncode = process.wait()
        if returncode != 0 or frame:
            errors.seek(0)
            tail = "\n".join(errors.read().decode(errors="replace").strip().splitlines()[-15:])
            raise FfmpegError(what, returncode, tail or f"a partial frame of {len(frame)} bytes at the end")
