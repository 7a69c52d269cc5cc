"""Find FFmpeg, run it with argument lists, and read facts about media files.

The pip-installed `imageio-ffmpeg` binary has no ffprobe, so probing parses what
`ffmpeg -i` prints, and exact frame counts come from a stream copy to the null muxer.

Every file FFmpeg reads is opened through `media_input`: plain local files only, read by a
demuxer from a short allow-list, so no file can make FFmpeg read another one (an HLS playlist,
a concat list, an image-name pattern) or open a network address.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from render_pipeline.errors import WRITE_FAULTS, DiskFault, UserError
from render_pipeline.output_folder.files import append_text

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
    """The ffmpeg to use: $RENDER_PIPELINE_FFMPEG, then ffmpeg on PATH, then imageio-ffmpeg's; checked to run."""
    configured = os.environ.get(FFMPEG_ENV)
    if configured:
        if not Path(configured).is_file():
            raise UserError(f"{FFMPEG_ENV}={configured} does not exist; point it at an ffmpeg binary or unset it")
        return _check_runs(configured, f"{FFMPEG_ENV}={configured}")
    on_path = shutil.which("ffmpeg")
    if on_path:
        return _check_runs(on_path, f"the ffmpeg on PATH ({on_path})")
    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        raise UserError(
            "ffmpeg not found: install it (apt install ffmpeg, brew install ffmpeg) "
            "or `pip install imageio-ffmpeg`, or set " + FFMPEG_ENV
        ) from None
    return _check_runs(exe, f"imageio-ffmpeg's ffmpeg ({exe})")


def _check_runs(exe: str, named: str) -> str:
    """``exe`` if it runs and says it is FFmpeg; else UserError blaming it, before any media is blamed instead."""
    try:
        result = subprocess.run([exe, "-hide_banner", "-version"], stdin=subprocess.DEVNULL, capture_output=True,
                                text=True, errors="replace", timeout=30)
        said = (result.stdout + result.stderr).strip()
        if result.returncode == 0 and said.startswith("ffmpeg version"):
            return exe
        problem = f"exit {result.returncode}" + (f": {said.splitlines()[0]}" if said else ", printing nothing")
    except (OSError, subprocess.TimeoutExpired) as error:
        problem = getattr(error, "strerror", None) or str(error)
    raise UserError(f"{named} does not run as FFmpeg (`-version` gave {problem}); {FFMPEG_FIX}")


def run_ffmpeg(args: list[str], what: str, log_path: Path | None = None, cwd: Path | None = None,
               on_progress: Callable[[float], None] | None = None) -> str:
    """Run ffmpeg with ``args`` (no shell); return its stderr.

    Raises DiskFault when an output could not be written (full disk, size limit, read-only),
    FfmpegError for any other failure. ``cwd``: the folder relative names in ``args`` (and in
    a filter graph, where they need no escaping) are read from. ``on_progress``: called as the
    work goes on with the seconds of output written so far (see _run_reporting).
    """
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", *args]
    if on_progress is None:
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
                                cwd=cwd, preexec_fn=die_with_parent())
        returncode, stderr = result.returncode, result.stderr
    else:
        command = [*command[:4], "-progress", "pipe:1", *command[4:]]
        returncode, stderr = _run_reporting(command, cwd, on_progress)
    if log_path is not None:
        append_text(log_path, "$ " + " ".join(command) + "\n" + stderr + "\n")
    if returncode != 0:
        raise_failure(what, returncode, stderr, args, cwd=cwd)
    return stderr


def _run_reporting(command: list[str], cwd: Path | None, on_progress: Callable[[float], None]) -> tuple[int, str]:
    """Run ``command``, which has ``-progress pipe:1``, passing each ``out_time_us`` it reports to ``on_progress``
    in seconds; return its exit status and stderr.

    FFmpeg writes key=value blocks to stdout about twice a second. ``out_time_us`` is how far the
    furthest output has got; ``frame=`` is not used, as it counts the first video output only
    (the assembly's first is its thumbnails). stderr goes to a temporary file, so a chatty FFmpeg
    never blocks on a full pipe. If ``on_progress`` raises (Ctrl-C), FFmpeg is stopped.
    ``on_progress`` hears 0 s at once: FFmpeg's first report comes only once every input is open
    (seconds, for a film of many shots), and whether it reports before its first frame depends on its build.
    """
    on_progress(0.0)
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors, cwd=cwd,
                                   text=True, errors="replace", preexec_fn=die_with_parent())
        assert process.stdout is not None  # stdout=PIPE
        try:
            for line in process.stdout:
                key, _, value = line.strip().partition("=")
                if key == "out_time_us" and value.isdigit():  # N/A, or negative, before the first frame
                    on_progress(int(value) / 1e6)
        except BaseException:
            process.kill()
            raise
        finally:
            process.stdout.close()
            returncode = process.wait()
        errors.seek(0)
        return returncode, errors.read().decode(errors="replace")


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that has the kernel kill the child when the thread that started it dies (Linux; else None).

    So FFmpeg stops writing when the runner is killed with kill -9. The thread that starts
    FFmpeg here always waits for it, so that thread never ends first.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl, parent = _prctl(), os.getpid()

    def set_signal() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(1)

    return set_signal


@lru_cache(maxsize=1)
def _prctl():
    import ctypes

    return ctypes.CDLL(None, use_errno=True).prctl


# How FFmpeg reports a failed write: the strerror text at the end of a line.
_WRITE_ERRORS = {os.strerror(number): number for number in WRITE_FAULTS}


def raise_failure(what: str, returncode: int, stderr: str, args: list[str], output: Path | None = None,
                   cwd: Path | None = None) -> None:
    """DiskFault when FFmpeg could not write an output, else FfmpegError with the end of what it said.

    The output named is the one FFmpeg names, else ``output``, else the last argument.
    """
    output_name = str(output if output is not None else args[-1])
    if returncode == -signal.SIGXFSZ:  # killed on passing the file size limit, before it could say anything
        raise DiskFault(Path(cwd or "") / output_name, *WRITE_FAULTS[errno.EFBIG])
    inputs = {args[index + 1] for index, arg in enumerate(args[:-1]) if arg == "-i"}
    for line in reversed(stderr.strip().splitlines()[-15:]):
        for text, number in _WRITE_ERRORS.items():
            if not line.endswith(f": {text}"):
                continue
            named = line[: -len(text) - 2]
            if named in inputs:
                break  # an input FFmpeg could not read: not the disk's fault
            if named in args or number not in (errno.EACCES, errno.EPERM):
                raise DiskFault(Path(cwd or "") / (named if named in args else output_name), *WRITE_FAULTS[number])
    raise FfmpegError(what, returncode, "\n".join(stderr.strip().splitlines()[-15:]))


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


class MediaKind(StrEnum):
    VIDEO = "video"  # footage, rendered shots, the film
    IMAGE = "image"  # a still: image conditioning, the last frame of a shot
    AUDIO = "audio"  # music files, voice recordings, narration and the mix


# The demuxers FFmpeg may use on a file, by what the file is for. None of them opens another
# file: playlists (hls, dash), lists (concat), image-name patterns (image2), scripts
# (avisynth, vapoursynth) and network formats are left out, and mov reads no external data
# references unless asked to (its enable_drefs option, off by default). A still is read with
# image2pipe, which takes one file's bytes and finds the codec in them, never in the name.
DEMUXERS: dict[MediaKind, tuple[str, ...]] = {
    MediaKind.VIDEO: ("mov", "matroska", "avi", "mpegts", "mxf", "mpeg"),
    MediaKind.IMAGE: ("image2pipe",),
    MediaKind.AUDIO: ("wav", "mp3", "flac", "ogg", "aac", "aiff", "mov", "matroska"),
}
# What the user can call those containers, for messages.
CONTAINERS = {
    MediaKind.VIDEO: "MP4, MOV, MKV, WebM, AVI, MPEG-TS, MXF or MPEG",
    MediaKind.IMAGE: "PNG, JPEG, WebP, BMP or TIFF",
    MediaKind.AUDIO: "WAV, MP3, FLAC, Ogg, AAC, AIFF, M4A or MKA",
}
IMAGE_CODECS = ("png", "mjpeg", "webp", "bmp", "tiff")


def media_input(path: Path, kind: MediaKind) -> list[str]:
    """The arguments that open ``path`` as one plain local file of ``kind`` (they end with ``-i``)."""
    options = ["-protocol_whitelist", "file", "-format_whitelist", ",".join(DEMUXERS[kind])]
    if kind is MediaKind.IMAGE:
        options += ["-f", "image2pipe"]
    return [*options, "-i", f"file:{path}"]


class UnusableMedia(UserError):
    """A file the storyboard names that the pipeline will not or cannot read; the message says why."""


@dataclass(frozen=True)
class MediaInfo:
    duration: float | None  # seconds, from the container
    width: int | None
    height: int | None
    fps: float | None
    has_video: bool
    has_audio: bool
    sample_rate: int | None

    def video_size(self) -> tuple[int, int]:
        """(width, height) of the video stream; ValueError for a file whose video size FFmpeg did not print."""
        if self.width is None or self.height is None:
            raise ValueError("the file has no video stream of a known size")
        return self.width, self.height


_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_REFUSED_FORMAT = re.compile(r"\[(\w+) @ [^\]]*\] Format not on whitelist")
_CODEC = re.compile(r"Stream #\S+.*?: Video: (\w+)")
_VIDEO = re.compile(r"Stream #\S+.*?: Video: .*?(\d{2,5})x(\d{2,5})")
_FPS = re.compile(r"(\d+(?:\.\d+)?) fps")
_AUDIO = re.compile(r"Stream #\S+.*?: Audio: .*?(\d+) Hz")


def probe(path: Path, kind: MediaKind = MediaKind.VIDEO) -> MediaInfo:
    """Facts about a media file, read from `ffmpeg -i`; raise FfmpegError if it is not media of ``kind``."""
    return _parse_probe(_probe_output(path, kind, decode=False))


def _probe_output(path: Path, kind: MediaKind, decode: bool) -> str:
    """What FFmpeg prints opening ``path`` (and decoding its first frame, if ``decode``); FfmpegError if it cannot."""
    decode_args = ["-map", "0:v:0", "-frames:v", "1", "-f", "null", "-"] if decode else []
    result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", *media_input(path, kind), *decode_args],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
                            preexec_fn=die_with_parent())
    text = result.stderr
    if ("Duration:" not in text and "Stream #" not in text) or (decode and result.returncode != 0):
        raise FfmpegError(f"reading {path}", result.returncode, "\n".join(text.strip().splitlines()[-5:]))
    return text


def check_media(path: Path, kind: MediaKind) -> MediaInfo:
    """Open a file the storyboard names as FFmpeg will when rendering; UnusableMedia saying why it cannot be used.

    A still is decoded as well as opened: a text file or an empty file named .png opens as
    an image stream with no picture in it.
    """
    what = {MediaKind.VIDEO: "a video file", MediaKind.IMAGE: "an image", MediaKind.AUDIO: "an audio file"}[kind]
    try:
        text = _probe_output(path, kind, decode=kind is MediaKind.IMAGE)
    except FfmpegError as error:
        refused = _REFUSED_FORMAT.search(error.tail)
        if refused:
            raise UnusableMedia(f"{path.name} is a {refused[1]!r} file to FFmpeg, not {what} in one of the containers "
                                f"read here ({CONTAINERS[kind]}); playlists and lists of other files are never read") from None
        raise UnusableMedia(f"{path.name} is not {what} FFmpeg can read") from None
    info = _parse_probe(text)
    if kind is MediaKind.AUDIO and not info.has_audio:
        raise UnusableMedia(f"{path.name} has no audio stream")
    if kind is not MediaKind.AUDIO and (not info.has_video or info.width is None):
        raise UnusableMedia(f"{path.name} has no {'picture' if kind is MediaKind.IMAGE else 'video stream'}")
    if kind is MediaKind.IMAGE:
        codec = _CODEC.search(text)
        if codec is None or codec[1] not in IMAGE_CODECS:
            raise UnusableMedia(f"{path.name} is a {codec[1] if codec else 'unknown'} image; "
                                f"use a {CONTAINERS[kind]} file")
    return info


def _parse_probe(text: str) -> MediaInfo:
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
    listing = ffmpeg_output([*media_input(path, MediaKind.VIDEO), "-map", "0:v:0", "-c", "copy", "-f", "framecrc", "-"],
                            what=f"counting frames of {path}").decode(errors="replace")
    return sum(1 for line in listing.splitlines() if line and not line.startswith("#"))


def ffmpeg_output(args: list[str], what: str) -> bytes:
    """Run ffmpeg with ``args``, whose output is "-", and return what it wrote there: no scratch file."""
    result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", *args], stdin=subprocess.DEVNULL,
                            capture_output=True, preexec_fn=die_with_parent())
    if result.returncode != 0:
        raise_failure(what, result.returncode, result.stderr.decode(errors="replace"), args)
    return result.stdout
