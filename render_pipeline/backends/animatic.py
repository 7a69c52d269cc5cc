"""The animatic: a timing preview of each shot that needs no GPU and no weights.

Film-makers cut an animatic before spending GPU hours. Each shot becomes a picture of what
its prompt names (animatic_scene.py reads the time of day, setting, subjects, motion and the
camera's size and angle; animatic_paint.py paints it, anti-aliased), with the shot's id,
scene, camera notes and wrapped prompt written on it, and the camera movement performed as
a zoom or slide. Subjects that move cross the frame on a layer of their own. A shot with an
``image`` gets the camera move over that image (a Ken Burns move); a shot that continues
another starts from that shot's last frame and dissolves into its own picture.

The notes (the slate) are written only on the frames no transition covers, and never on
the last frame: a dissolve never shows two slates at once, and a shot continuing this one
starts from the picture alone.

Speed comes from painting once with numpy and letting FFmpeg do the per-frame work:
``overlay`` moves the subjects, ``zoompan`` moves the camera, ``drawtext`` writes the text from
files (``expansion=none``, so user text is never interpreted) and a timecode counting from the
first rendered frame of the shot (handles included).
"""

from __future__ import annotations

import math
import os
import re
import struct
import tempfile
import textwrap
import zlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from render_pipeline.backends.animatic_scene import read_scene
from render_pipeline.backends.base import Progress, RenderRequest
from render_pipeline.errors import UserError
from render_pipeline.media.ffmpeg import MediaKind, media_input, run_ffmpeg
from render_pipeline.media.fonts import TITLE_SAFE, find_font
from render_pipeline.output_folder.claim import SCRATCH_ENV

# The pictures are soft (gradients and silhouettes with anti-aliased edges), so painting them
# at half size and letting FFmpeg scale them up once costs nothing visible and keeps the numpy
# part near 0.05 s a shot at 1080p.
DRAW_SCALE = 0.5
# A continued shot dissolves from its first frame (the previous shot's last) into its own picture.
CONTINUE_DISSOLVE_SECONDS = 1.0
# Seconds a bobbing ship takes to rise and fall, and how far it moves, as a share of the frame's height.
BOB_PERIOD, BOB_HEIGHT = 3.0, 0.004
# Paths placed inside an FFmpeg filter graph must need no escaping.
_FILTER_SAFE_PATH = re.compile(r"[A-Za-z0-9_./-]+")
# The slate's lines are wrapped taking every character as wide as drawtext's font size: DejaVu
# Sans's widest Latin glyph (W) advances 0.99 of it, a CJK ideograph 1.0.
SLATE_ADVANCE = 1.0
SLATE_PROMPT_LINES = 6


def write_ppm(path: Path, pixels) -> None:
    """Binary PPM: FFmpeg reads it and it needs no imaging library."""
    height, width, _ = pixels.shape
    with open(path, "wb") as file:
        file.write(f"P6 {width} {height} 255\n".encode())
        file.write(pixels.tobytes())


def write_png(path: Path, pixels) -> None:
    """An RGBA PNG (for a layer with coverage, which PPM cannot hold), written with zlib alone."""
    height, width, _ = pixels.shape
    rows = b"".join(b"\x00" + pixels[row].tobytes() for row in range(height))  # filter 0: rows as they are

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    with open(path, "wb") as file:
        file.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
                   + chunk(b"IDAT", zlib.compress(rows, 1)) + chunk(b"IEND", b""))


@dataclass(frozen=True)
class Move:
    label: str  # what the animatic prints, e.g. "push in (zoom)"
    zoom: str  # zoompan expressions; {p} stands for progress, 0 at the first frame and 1 at the last
    x: str
    y: str


_CENTRE_X, _CENTRE_Y = "(iw-iw/zoom)/2", "(ih-ih/zoom)/2"
MOVES = {
    "push_in": Move("push in (zoom in)", "1+0.25*{p}", _CENTRE_X, _CENTRE_Y),
    "pull_out": Move("pull out (zoom out)", "1.25-0.25*{p}", _CENTRE_X, _CENTRE_Y),
    "pan_right": Move("pan right (slide)", "1.25", "(iw-iw/zoom)*{p}", _CENTRE_Y),
    "pan_left": Move("pan left (slide)", "1.25", "(iw-iw/zoom)*(1-{p})", _CENTRE_Y),
    "tilt_up": Move("tilt up", "1.25", _CENTRE_X, "(ih-ih/zoom)*(1-{p})"),
    "tilt_down": Move("tilt down", "1.25", _CENTRE_X, "(ih-ih/zoom)*{p}"),
    "crane_up": Move("crane up (rise, widening)", "1.3-0.1*{p}", _CENTRE_X, "(ih-ih/zoom)*(1-{p})"),
    "crane_down": Move("crane down (descend, tightening)", "1.2+0.1*{p}", _CENTRE_X, "(ih-ih/zoom)*{p}"),
    "tracking": Move("tracking (lateral slide)", "1.35", "(iw-iw/zoom)*{p}", _CENTRE_Y),
    "handheld": Move("handheld (drift)", "1.1", _CENTRE_X + "*(1+0.15*sin({p}*17))", _CENTRE_Y + "*(1+0.15*cos({p}*13))"),
    "static": Move("static", "1", "0", "0"),
}
# Checked in order: the first pattern found in the movement text wins.
MOVEMENT_WORDS = (
    (r"pull (out|back)|dolly (out|back)|zoom out", "pull_out"),
    (r"push|dolly|zoom", "push_in"),
    (r"pan left", "pan_left"),
    (r"pan", "pan_right"),
    (r"tilt down", "tilt_down"),
    (r"tilt", "tilt_up"),
    (r"(crane|boom|pedestal) down", "crane_down"),
    (r"crane|boom|pedestal|jib", "crane_up"),
    (r"track|truck|follow", "tracking"),
    (r"handheld|hand-held|shaky", "handheld"),
)


def move_for(movement: str | None) -> Move:
    """The zoom or slide that performs a camera movement written in words; static when none matches."""
    text = (movement or "").lower()
    for pattern, name in MOVEMENT_WORDS:
        if re.search(pattern, text):
            return MOVES[name]
    return MOVES["static"]


def timecode(frame: int, fps: float) -> str:
    whole_fps = max(1, round(fps))
    seconds, frames = divmod(frame, whole_fps)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}:{frames:02d}"


def camera_notes(camera: dict) -> str:
    parts = [camera.get("size"), camera.get("angle"), camera.get("movement")]
    if camera.get("lens_mm"):
        parts.append(f"{camera['lens_mm']:g} mm")
    return " · ".join(str(p) for p in parts if p) or "no camera notes"


def slate_frames(request: RenderRequest) -> range:
    """The frames the slate is written on: none under a transition, and never the last one.

    ``settings["transitions"]`` holds the seconds of the transitions into and out of the shot.
    The incoming one covers the shot's first seconds (its head handle and as much again of its
    body), the outgoing one its last. A shot shorter than its transitions gets no slate.
    """
    into, out_of = request.settings.get("transitions") or (0.0, 0.0)
    first = math.ceil(round(into * request.fps, 6))
    end = request.frames - 1 - math.ceil(round(out_of * request.fps, 6))
    return range(first, max(first, end))


class AnimaticSession:
    """Renders preview shots with numpy and FFmpeg; needs no models, so loading and encoding cost nothing.

    Reads from ``request.settings``: ``scene`` (int or None), ``camera`` (a dict with size, angle,
    movement, lens_mm), ``transitions`` (see slate_frames) and ``continues`` (the id of the shot
    whose last frame ``request.image`` is), all optional.
    """

    name = "animatic"

    def __init__(self) -> None:
        self.font = find_font().path

    def encode(self, requests: list[RenderRequest], text_cache: Path | None = None) -> None:
        """Nothing to encode: the prompt is drawn as text."""

    def render(self, request: RenderRequest, out_path: Path, progress: Progress) -> None:
        progress(0, request.frames)
        # In the output folder's tmp/ when the runner started this worker (it removes what a
        # killed worker leaves); FFmpeg runs inside it, so the filter graph names its files
        # plainly, whatever characters the folder's own path holds.
        with tempfile.TemporaryDirectory(prefix="animatic-", dir=os.environ.get(SCRATCH_ENV)) as scratch_name:
            scratch = Path(scratch_name)
            args = self._ffmpeg_args(request, scratch, out_path)
            run_ffmpeg(args, what=f"drawing the animatic of shot {request.shot_id}", cwd=scratch)
        progress(request.frames, request.frames)

    def close(self) -> None:
        """Nothing held."""

    def _ffmpeg_args(self, request: RenderRequest, scratch: Path, out_path: Path) -> list[str]:
        width, height = request.width, request.height
        camera = request.settings.get("camera") or {}
        continues = request.settings.get("continues")
        move = move_for(camera.get("movement"))
        rate = Fraction(request.fps).limit_denominator(1001)
        # Every input is one picture, repeated once per frame after it is brought to size.
        repeat = f"loop=loop=-1:size=1,setpts=N/({rate})/TB"
        inputs, parts = [], []
        if request.image is not None and not continues:
            inputs += media_input(Path(request.image).absolute(), MediaKind.IMAGE)
            # Cover the frame (crop what overhangs), then move over it; a still image with no
            # movement asked for still gets the gentle push-in of a Ken Burns move.
            parts.append(f"[0:v]scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height},"
                         f"setsar=1,format=yuv420p,{repeat}[scene]")
            if move is MOVES["static"]:
                move = MOVES["push_in"]
        else:
            inputs += self._painted(request, scratch, parts, repeat)

        last = max(request.frames - 1, 1)
        zoom, x, y = (expr.format(p=f"(on/{last})") for expr in (move.zoom, move.x, move.y))
        parts.append(f"[scene]zoompan=z='{zoom}':x='{x}':y='{y}':d=1:s={width}x{height}:fps={rate}[moved]")
        picture = "moved"
        if continues:
            # The previous shot's last frame, fading out over this shot's own picture: the first
            # frame is that frame exactly.
            if request.image is None:
                raise ValueError(f"shot {request.shot_id}: continues the last shot, but its last frame is not given")
            index = inputs.count("-i")
            inputs += media_input(Path(request.image).absolute(), MediaKind.IMAGE)
            dissolve = max(1, min(request.frames, round(CONTINUE_DISSOLVE_SECONDS * request.fps)))
            parts.append(f"[{index}:v]scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height},"
                         f"setsar=1,format=yuva420p,loop=loop={dissolve - 1}:size=1,setpts=N/({rate})/TB,"
                         f"fade=t=out:s=0:n={dissolve}:alpha=1[start]")
            parts.append("[moved][start]overlay=eof_action=pass:format=yuv420[continued]")
            picture = "continued"
        parts.append(f"[{picture}]{self._slate(request, scratch, move, rate)}[out]")
        return [*inputs, "-filter_complex", ";".join(parts), "-map", "[out]", "-frames:v", str(request.frames),
                "-r", str(rate), "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-an",
                "-f", "mp4", str(out_path.absolute())]

    def _painted(self, request: RenderRequest, scratch: Path, parts: list[str], repeat: str) -> list[str]:
        """Paint the shot's scene into ``scratch``; add its filters to ``parts`` (ending in [scene]); its inputs."""
        from render_pipeline.backends.animatic_paint import paint

        width, height = request.width, request.height
        draw_width, draw_height = max(16, round(width * DRAW_SCALE)), max(16, round(height * DRAW_SCALE))
        scene = read_scene(request.prompt or "", request.settings.get("camera") or {}, request.seed)
        painted = paint(scene, draw_width, draw_height)
        write_ppm(scratch / "backdrop.ppm", painted.backdrop)
        inputs = media_input(Path("backdrop.ppm"), MediaKind.IMAGE)
        # Converting to yuv420p before the per-frame filters means they work on half the bytes
        # and the encoder needs no per-frame conversion.
        parts.append(f"[0:v]scale={width}:{height}:flags=bicubic,setsar=1,format=yuv420p,{repeat}"
                     + ("[backdrop]" if painted.sprite is not None else "[scene]"))
        if painted.sprite is None:
            return inputs
        write_png(scratch / "subjects.png", painted.sprite)
        inputs += media_input(Path("subjects.png"), MediaKind.IMAGE)
        sx, sy = width / draw_width, height / draw_height
        sprite_height, sprite_width = painted.sprite.shape[:2]
        seconds = max(request.frames - 1, 1) / request.fps
        x0, y0 = painted.sprite_at
        # Halfway through the shot the subjects stand where they were painted; ships also bob.
        x = f"{(x0 - painted.travel / 2) * sx:.2f}+{painted.travel * sx / seconds:.4f}*t"
        bob = f"+{BOB_HEIGHT * height:.2f}*sin(2*PI*t/{BOB_PERIOD})" if scene.subjects[0].kind == "ship" else ""
        parts.append(f"[1:v]scale={round(sprite_width * sx)}:{round(sprite_height * sy)}:flags=bicubic,"
                     f"format=yuva420p,{repeat}[subjects]")
        parts.append(f"[backdrop][subjects]overlay=x='{x}':y='{y0 * sy:.2f}{bob}':format=yuv420[scene]")
        return inputs

    def _slate(self, request: RenderRequest, scratch: Path, move: Move, rate: Fraction) -> str:
        """The drawtext filters writing the shot's notes and timecode on slate_frames(request)."""
        width, height = request.width, request.height
        camera = request.settings.get("camera") or {}
        scene = request.settings.get("scene")
        header = [request.shot_id + (f" · scene {scene}" if scene is not None else ""),
                  camera_notes(camera), "camera: " + move.label]
        if request.settings.get("continues"):
            header[0] += f" · continues {request.settings['continues']}"
        small, large = max(12, height // 40), max(14, height // 26)
        # Every line inside the title-safe area, its dark box (border small // 2) included; the
        # header's first line leaves room at the right for the timecode (11 characters).
        left, top = math.ceil(TITLE_SAFE * width) + small // 2, math.ceil(TITLE_SAFE * height) + small // 2
        usable = width - 2 * left
        first = textwrap.wrap(header[0], _columns(usable - 12 * large, large))
        header = first + [line for note in header[1:] for line in textwrap.wrap(note, _columns(usable, large))]
        # The prompt sits under the header, in the top of the frame: the bottom belongs to the
        # lower thirds and captions that post-production burns in over the animatic.
        prompt_top = top + len(header) * _pitch(large, small) + small
        room = max(1, min(SLATE_PROMPT_LINES, (height - top - prompt_top) // _pitch(small, small)))
        columns = _columns(usable, small)
        prompt = textwrap.wrap(request.prompt or "(no prompt)", columns)
        if len(prompt) > room:
            prompt = prompt[:room - 1] + [prompt[room - 1][:columns - 2] + " …"]
        (scratch / "header.txt").write_text("\n".join(header), encoding="utf-8")
        (scratch / "prompt.txt").write_text("\n".join(prompt), encoding="utf-8")
        if not _FILTER_SAFE_PATH.fullmatch(str(self.font)):
            raise UserError(f"the animatic cannot pass the font path {self.font} to FFmpeg's text filter; "
                            "use a font whose path has only letters, digits, '_', '.', '/' and '-'")
        frames = slate_frames(request)
        if not frames:
            return "null"
        shown = f"enable='between(n,{frames.start},{frames.stop - 1})'"
        text_style = f"fontfile={self.font}:fontcolor=white:box=1:boxcolor=black@0.55:boxborderw={small // 2}:{shown}"
        return (
            f"drawtext={text_style}:textfile=header.txt:expansion=none:fontsize={large}:"
            f"line_spacing={small // 3}:x={left}:y={top},"
            f"drawtext={text_style}:textfile=prompt.txt:expansion=none:fontsize={small}:"
            f"line_spacing={small // 3}:x={left}:y={prompt_top},"
            f"drawtext={text_style}:timecode='{timecode(0, request.fps).replace(':', chr(92) + ':')}':"
            f"timecode_rate={rate}:fontsize={large}:x=w-tw-{left}:y={top}"
        )


def _columns(width: int, size: int) -> int:
    """How many characters of font ``size`` surely fit in ``width`` pixels (SLATE_ADVANCE)."""
    return max(1, int(width / (SLATE_ADVANCE * size)))


def _pitch(size: int, small: int) -> int:
    """The height of a slate line of font ``size``: DejaVu Sans's ascent plus descent (1.16 of the size),
    rounded up, and the line spacing."""
    return math.ceil(1.2 * size) + small // 3
