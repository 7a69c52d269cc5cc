"""Find FFmpeg, run it with argument lists, and read facts about media files.

The pip-installed `imageio-ffmpeg` binary has no ffprobe, so probing parses what
`ffmpeg -i` prints, and exact frame counts come from a stream copy to the null muxer.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from render_pipeline.errors import UserError

FFMPEG_ENV = "RENDER_PIPELINE_FFMPEG"


class FfmpegError(RuntimeError):
    """FFmpeg failed; ``what`` names the job (a shot, the mix) and ``tail`` holds its last lines."""

    def __init__(self, what: str, returncode: int, tail: str):
        super().__init__(f"ffmpeg failed while {what} (exit {returncode}):\n{tail}")
        self.what = what
        self.returncode = returncode
        self.tail = tail


# What the animatic, the shot writer and assembly use; some builds lack a few (imageio-ffmpeg's
# wheels before 0.8 have no drawtext).
REQUIRED_FILTERS = ("drawtext", "ass", "xfade", "loudnorm", "sidechaincompress", "zoompan", "amix")
FFMPEG_FIX = ("install a full FFmpeg build (Debian/Ubuntu: apt install ffmpeg) or pip install -U 'imageio-ffmpeg>=0.8' "
              f"(or point ${FFMPEG_ENV} at one)")


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """The ffmpeg to use: $RENDER_PIPELINE_FFMPEG, then ffmpeg on PATH, then imageio-ffmpeg's."""
    configured = os.environ.get(FFMPEG_ENV)
    if configured:
        if not Path(configured).is_file():
            raise UserError(f"{FFMPEG_ENV}={configured} does not exist; point it at an ffmpeg binary or unset it")
        return configured
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        raise UserError(
            "ffmpeg not found: install it (apt install ffmpeg, brew install ffmpeg) "
            "or `pip install imageio-ffmpeg`, or set " + FFMPEG_ENV
        ) from None


def run_ffmpeg(args: list[str], what: str, log_path: Path | None = None) -> str:
    """Run ffmpeg with ``args`` (no shell); return its stderr; raise FfmpegError on failure."""
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", *args]
    result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace")
    if log_path is not None:
        with open(log_path, "a", encoding="utf-8") as log:
            log.write("$ " + " ".join(command) + "\n" + result.stderr + "\n")
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-15:])
        raise FfmpegError(what, result.returncode, tail)
    return result.stderr


@lru_cache(maxsize=4)
def missing_features(exe: str) -> tuple[str, ...]:
    """The REQUIRED_FILTERS and the libx264 encoder that the ffmpeg ``exe`` lacks."""
    filters = subprocess.run([exe, "-hide_banner", "-filters"], capture_output=True, text=True).stdout
    names = set(re.findall(r"^\s*[.A-Z|]{2,3}\s+(\w+)\s", filters, flags=re.MULTILINE))
    missing = [name for name in REQUIRED_FILTERS if name not in names]
    if "libx264" not in subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True).stdout:
        missing.append("libx264 encoder")
    return tuple(missing)


def check_features() -> None:
    """Raise UserError, before anything is rendered, if the ffmpeg in use lacks what rendering needs."""
    exe = ffmpeg_exe()
    missing = missing_features(exe)
    if missing:
        raise UserError(f"the ffmpeg at {exe} lacks {', '.join(missing)}, which rendering needs: {FFMPEG_FIX}")


@dataclass(frozen=True)
class MediaInfo:
    duration: float | None  # seconds, from the container
    width: int | None
    height: int | None
    fps: float | None
    has_video: bool
    has_audio: bool
    sample_rate: int | None


_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #\S+.*?: Video: .*?(\d{2,5})x(\d{2,5})")
_FPS = re.compile(r"(\d+(?:\.\d+)?) fps")
_AUDIO = re.compile(r"Stream #\S+.*?: Audio: .*?(\d+) Hz")


def probe(path: Path) -> MediaInfo:
    """Facts about a media file, read from `ffmpeg -i`; raise FfmpegError if it is not media."""
    result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace")
    text = result.stderr
    if "Duration:" not in text and "Stream #" not in text:
        raise FfmpegError(f"reading {path}", result.returncode, "\n".join(text.strip().splitlines()[-5:]))
    duration = None
    if match := _DURATION.search(text):
        duration = int(match[1]) * 3600 + int(match[2]) * 60 + float(match[3])
    width = height = None
    fps = None
    video_line = next((line for line in text.splitlines() if ": Video: " in line), None)
    if video_line and (match := _VIDEO.search(video_line)):
        width, height = int(match[1]), int(match[2])
        if fps_match := _FPS.search(video_line):
            fps = float(fps_match[1])
    audio = _AUDIO.search(text)
    return MediaInfo(duration=duration, width=width, height=height, fps=fps, has_video=video_line is not None,
                     has_audio=audio is not None, sample_rate=int(audio[1]) if audio else None)


def count_frames(path: Path) -> int:
    """The exact number of video frames: one framecrc line per packet of the stream copied, no decode.

    Not read from the "frame=" of ffmpeg's statistics line: ffmpeg 7.0 leaves it out for a
    stream copy, so a shot written correctly would look unreadable.
    """
    with tempfile.TemporaryDirectory(prefix="frames-") as scratch:
        listing = Path(scratch) / "frames.crc"
        run_ffmpeg(["-i", str(path), "-map", "0:v:0", "-c", "copy", "-f", "framecrc", str(listing)],
                   what=f"counting frames of {path}")
        lines = listing.read_text(encoding="utf-8", errors="replace").splitlines()
    return sum(1 for line in lines if line and not line.startswith("#"))


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
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=errors)
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
        with open(log_path, "a", encoding="utf-8") as log:
            log.write("$ " + " ".join(command) + "\n" + stderr + "\n")
    if returncode != 0:
        raise FfmpegError(what, returncode, "\n".join(stderr.strip().splitlines()[-15:]))


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


def read_rgb_frames(path: Path, width: int, height: int, what: str) -> Iterator[bytes]:
    """Decode the first video stream of ``path`` as packed RGB24 frames (bytes, ``width*height*3`` each).

    ``width`` and ``height`` must be the stream's own (probe() gives them). Stopping early ends ffmpeg.
    """
    size = width * height * 3
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path), "-map", "0:v:0", "-f", "rawvideo",
               "-pix_fmt", "rgb24", "pipe:1"]
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors)
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
