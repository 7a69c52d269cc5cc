"""Frame-rate conversion: a clip at its own rate becomes a clip at the delivery rate.

Wan 2.2 A14B renders at 16 fps and CogVideoX at 8; footage comes at the rate it was shot; the
film plays at the delivery rate. Output frame n shows the clip n / target seconds after its
first frame, at source position n x source / target counted in source frames. Where that
position is whole the frame is the clip's own; between two frames it is made by the method:

- rife: Practical-RIFE's network (media/rife.py), weights in ``<models dir>/rife/flownet.pkl``;
- minterpolate: FFmpeg's motion-compensated interpolation (block motion search and
  overlapped-block compensation), which needs no weights;
- repeat: FFmpeg's fps filter shows a frame again until the next one is due, as assembly did
  before: cheap, but 16 -> 24 fps shows the clip's frames for 2, 1, 2, 1 ... output frames, so
  every camera move judders.

``auto`` is rife where its weights (and torch) are present, else minterpolate.

A clip of N frames gives floor((N - 1) x target / source) + 1 frames: each lies between two of
the clip's own, none past its last (that would mean inventing motion; the edit holds a short
clip's last frame instead, post/video.py). The caller may ask for fewer.

Both callers cache what this makes: assembly keeps each generated shot's conversion in
``<out>/cache/retime`` (retimed()), and the runner writes converted footage as the shot itself,
under the shot's cache key (runner/footage.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator
from enum import StrEnum
from fractions import Fraction
from pathlib import Path

from render_pipeline.errors import UserError
from render_pipeline.media.ffmpeg import FfmpegError, MediaKind, count_frames, media_input, probe, run_ffmpeg
from render_pipeline.media.rgb_frames import rate_argument, read_rgb_frames, write_rgb_frames
from render_pipeline.media.rife_weights import rife_problem, rife_weights
from render_pipeline.output_folder.files import writing


class Interpolation(StrEnum):
    RIFE = "rife"
    MINTERPOLATE = "minterpolate"
    REPEAT = "repeat"


# FFmpeg's defaults but two, chosen by measurement on 720p clips made at 48 fps, 16 -> 24 fps
# against the true frames (benchmarks/bench_retime.py, docs/benchmarks.md). A search range of 64 px
# instead of 32: bilateral search looks both ways from the frame being made, so it then follows
# motion of up to 128 px per source frame (a tenth of a 720p frame's width), where 32 loses a fast
# pan; 128 measured no better. No scene-change detection: a generated shot is one take, and a
# false detection (a flash, a fast move) would show a repeated frame just where the motion is
# fastest. Bidirectional search, adaptive or variable-size blocks gained nothing for their cost.
MINTERPOLATE = "mi_mode=mci:mc_mode=obmc:me_mode=bilat:me=epzs:mb_size=16:search_param=64:vsbmc=0:scd=none"
# minterpolate holds back its last input frames; two clones after the end let every real one out.
MINTERPOLATE_FLUSH = "tpad=stop=2:stop_mode=clone"
# Lossless: assembly encodes the picture once more, so a conversion adds no loss of its own; and a
# repeated frame decodes to the very same pixels, which is how the tests count repeats.
LOSSLESS = ["-c:v", "libx264", "-preset", "veryfast", "-qp", "0", "-pix_fmt", "yuv420p"]


def choose_interpolation(setting: str, models_dir: Path) -> Interpolation:
    """The method for ``delivery.frame_interpolation``: auto is rife where it can run, else minterpolate."""
    if setting == "auto":
        return Interpolation.RIFE if rife_problem(models_dir) is None else Interpolation.MINTERPOLATE
    return Interpolation(setting)


def require_interpolation(method: Interpolation, models_dir: Path) -> None:
    """UserError, before any work, when the method cannot run here."""
    if method is Interpolation.RIFE and (problem := rife_problem(models_dir)):
        raise UserError(f"delivery.frame_interpolation is rife, but {problem} "
                        "(or set frame_interpolation: auto to use FFmpeg's minterpolate instead)")


def clip_rate(fps: float) -> Fraction:
    """The exact rate behind a rate as FFmpeg prints it (16, 23.98, 29.97) or a user writes it (23.976)."""
    whole = round(fps)
    if abs(fps - whole) < 0.005:
        return Fraction(whole)
    ntsc = Fraction(round(fps * 1.001) * 1000, 1001)
    if abs(fps - ntsc) < 0.006:  # printed to two decimals
        return ntsc
    return Fraction(fps).limit_denominator(1001)


def retimed_count(frames: int, source: Fraction, target: Fraction) -> int:
    """How many ``target`` frames a clip of ``frames`` frames at ``source`` gives (none past its last frame)."""
    return (frames - 1) * target // source + 1


def retime(clip: Path, source: Fraction, target: Fraction, frames: int, method: Interpolation, out_path: Path,
           models_dir: Path, log_path: Path | None = None, encode: list[str] = LOSSLESS,
           on_frames: Callable[[int, int], None] | None = None) -> None:
    """Write the first ``frames`` frames of ``clip`` (at ``source`` fps) converted to ``target`` fps to ``out_path``.

    ``frames`` must not exceed retimed_count() of the clip. The file is an MP4 whatever its name,
    encoded with the FFmpeg arguments ``encode``. ``on_frames``: told (frames made, ``frames``) as it goes.
    """
    what = f"retiming {clip.name} from {source} to {target} fps ({method})"
    if method is Interpolation.RIFE:
        from render_pipeline.media import rife

        if on_frames is not None:  # a line now, as run_ffmpeg gives the other methods: the network loads first
            on_frames(0, frames)

        width, height = probe(clip).video_size()
        positions = [number * source / target for number in range(frames)]
        with contextlib.closing(read_rgb_frames(clip, width, height, what)) as decoded:
            made = rife.interpolate(decoded, width, height, positions, rife_weights(models_dir))
            if on_frames is not None:
                made = _counted(made, frames, on_frames)
            write_rgb_frames(made, width, height, target, out_path, what, log_path, encode)
    else:
        rate = rate_argument(target)
        convert = (f"fps={rate}" if method is Interpolation.REPEAT
                   else f"{MINTERPOLATE_FLUSH},minterpolate=fps={rate}:{MINTERPOLATE}")

        on_progress: Callable[[float], None] | None = None
        if on_frames is not None:
            def on_progress(seconds: float) -> None:  # -progress: how far the output has got
                on_frames(min(round(seconds * target), frames), frames)

        run_ffmpeg([*media_input(clip, MediaKind.VIDEO), "-map", "0:v:0", "-vf", f"setpts=PTS-STARTPTS,{convert}",
                    "-frames:v", str(frames), "-an", *encode, "-f", "mp4", str(out_path)], what=what, log_path=log_path,
                   on_progress=on_progress)
    written = count_frames(out_path)
    if written != frames:
        raise FfmpegError(what, 0, f"wrote {written} frames where {frames} were wanted")


def retimed(clip: Path, source: Fraction, target: Fraction, method: Interpolation, cache_dir: Path,
            models_dir: Path, log_path: Path | None = None, on_made: Callable[[], None] | None = None,
            on_frames: Callable[[int, int], None] | None = None) -> Path:
    """``clip`` at ``target`` fps: the clip itself when it is at that rate already, else its
    conversion, kept in ``cache_dir`` under a key of the clip's size and modification time,
    both rates, the method and its settings (made now unless kept from an earlier run).
    For progress: ``on_made`` is called once a conversion was made now (not for one kept), and
    ``on_frames`` as retime() calls it."""
    if source == target:
        return clip
    require_interpolation(method, models_dir)
    stat = clip.stat()
    recipe = {"clip": [stat.st_size, stat.st_mtime_ns], "rates": [str(source), str(target)], "method": str(method),
              "settings": _settings(method, models_dir)}
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]
    kept = Path(cache_dir) / f"{clip.stem}.{key}.mp4"
    if kept.is_file():
        return kept
    kept.parent.mkdir(parents=True, exist_ok=True)
    with writing(kept) as partial:  # output_folder/files.py: never through a link planted in the folder
        retime(clip, source, target, retimed_count(count_frames(clip), source, target), method, partial, models_dir,
               log_path, on_frames=on_frames)
    for older in kept.parent.glob(f"{clip.stem}.*.mp4"):  # earlier conversions of this clip are of no more use
        if older != kept:
            older.unlink(missing_ok=True)
    if on_made is not None:
        on_made()
    return kept


def _counted(frames: Iterator[bytes], total: int, on_frames: Callable[[int, int], None]) -> Iterator[bytes]:
    for number, frame in enumerate(frames, start=1):
        yield frame
        on_frames(number, total)


def _settings(method: Interpolation, models_dir: Path) -> object:
    if method is Interpolation.MINTERPOLATE:
        return MINTERPOLATE
    if method is Interpolation.RIFE:
        weights = rife_weights(models_dir).stat()
        return [weights.st_size, weights.st_mtime_ns]
    return None
