"""The animatic: a timing preview that needs no GPU and no weights.

Film-makers cut an animatic before spending GPU hours. Each shot becomes one procedural
still (a sky and land coloured by the time of day and mood words of the prompt) with the
shot's id, scene, camera notes and wrapped prompt written on it, and the camera movement
performed as a zoom or slide. A shot with an ``image`` gets the same move over that image
(a Ken Burns move).

Speed comes from drawing the still once with numpy and letting FFmpeg do the per-frame
work: ``zoompan`` moves the camera over the still, ``drawtext`` writes the text from files
(``expansion=none``, so user text is never interpreted) and a timecode counting from the
first rendered frame of the shot (handles included).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import textwrap
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from render_pipeline.backends.base import Progress, RenderRequest
from render_pipeline.errors import UserError
from render_pipeline.media.ffmpeg import MediaKind, media_input, run_ffmpeg
from render_pipeline.media.fonts import find_font
from render_pipeline.output_folder.claim import SCRATCH_ENV

# The still is soft (gradients and hills), so drawing it at half size and letting FFmpeg
# scale it up once costs nothing visible and keeps the numpy part well under 0.1 s at 720p.
DRAW_SCALE = 0.5
# Paths placed inside an FFmpeg filter graph must need no escaping.
_FILTER_SAFE_PATH = re.compile(r"[A-Za-z0-9_./-]+")


# Colours as (sky top, sky at the horizon, land, sun or moon), chosen by time of day.
PALETTES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "dawn": ((58, 64, 120), (246, 170, 140), (60, 62, 80), (255, 226, 180)),
    "day": ((60, 130, 210), (180, 215, 240), (88, 120, 70), (255, 250, 220)),
    "golden": ((90, 80, 140), (250, 160, 70), (80, 60, 50), (255, 200, 110)),
    "night": ((8, 12, 40), (30, 40, 90), (14, 16, 28), (230, 230, 245)),
    "overcast": ((120, 126, 135), (180, 184, 190), (80, 86, 84), (215, 215, 215)),
}
TIME_WORDS = {
    "dawn": ("dawn", "sunrise", "daybreak", "first light", "early morning"),
    "golden": ("sunset", "dusk", "golden hour", "evening", "twilight"),
    "night": ("night", "midnight", "moonlight", "moonlit", "dark sky", "starry", "stars"),
    "overcast": ("overcast", "fog", "foggy", "mist", "misty", "rain", "rainy", "storm", "grey sky", "gray sky"),
    "day": ("day", "noon", "midday", "morning", "afternoon", "sunny"),
}
# Mood words shift the whole picture: (brightness factor, warmth shift in red/blue).
MOOD_WORDS = {
    "bright": (1.15, 0), "hopeful": (1.1, 10), "cheerful": (1.15, 10), "joyful": (1.15, 10),
    "warm": (1.0, 25), "cozy": (1.0, 20), "cold": (0.95, -25), "icy": (1.0, -30), "cool": (1.0, -15),
    "dark": (0.7, 0), "gloomy": (0.7, -10), "ominous": (0.65, -15), "tense": (0.8, -5),
    "melancholy": (0.8, -15), "sad": (0.8, -15), "mysterious": (0.75, -10), "eerie": (0.7, -20),
}


def palette_for(prompt: str) -> tuple[str, list[tuple[int, int, int]]]:
    """The time of day named in the prompt (day if none) and its colours after mood words."""
    text = prompt.lower()
    time_of_day = next((name for name, words in TIME_WORDS.items()
                        if any(re.search(rf"\b{re.escape(word)}\b", text) for word in words)), "day")
    brightness, warmth = 1.0, 0
    for word, (factor, shift) in MOOD_WORDS.items():
        if re.search(rf"\b{word}\b", text):
            brightness *= factor
            warmth += shift
    colours = []
    for red, green, blue in PALETTES[time_of_day]:
        adjusted = (red * brightness + warmth, green * brightness, blue * brightness - warmth)
        colours.append(tuple(int(min(255, max(0, channel))) for channel in adjusted))
    return time_of_day, colours


def draw_still(width: int, height: int, prompt: str, seed: int):
    """A simple landscape: a sky gradient, a sun or moon, and three ranges of hills; HxWx3 uint8."""
    import numpy as np

    rng = np.random.default_rng(seed)
    _, (sky_top, horizon, land, disc) = palette_for(prompt)
    sky_top, horizon, land, disc = (np.array(c, dtype=np.float32) for c in (sky_top, horizon, land, disc))
    rows = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    columns = np.arange(width, dtype=np.float32)
    horizon_row = height * rng.uniform(0.55, 0.7)
    sky_mix = np.clip(rows * height / horizon_row, 0, 1)
    image = np.broadcast_to(sky_top * (1 - sky_mix) + horizon * sky_mix, (height, width, 3)).copy()

    centre_x, centre_y = width * rng.uniform(0.2, 0.8), horizon_row * rng.uniform(0.35, 0.75)
    radius = height * 0.07
    yy, xx = np.ogrid[:height, :width]
    distance = np.sqrt((xx - centre_x) ** 2 + (yy - centre_y) ** 2)
    glow = np.clip(1.0 - (distance - radius) / (radius * 4), 0, 1)[..., None] ** 2
    image = image * (1 - 0.35 * glow) + disc * 0.35 * glow
    image[distance <= radius] = disc

    for layer in range(3):
        depth = (layer + 1) / 3  # far hills are paler, near hills darker and lower
        ridge = horizon_row + height * 0.04 * layer
        for _ in range(3):
            period = width * rng.uniform(0.3, 1.2)
            ridge = ridge + height * 0.03 * np.sin(columns / period * 2 * np.pi + rng.uniform(0, 2 * np.pi))
        colour = land * depth + horizon * (1 - depth) * 0.6
        below = yy >= ridge[None, :]
        image[below] = colour
    return np.clip(image, 0, 255).astype(np.uint8)


def write_ppm(path: Path, pixels) -> None:
    """Binary PPM: FFmpeg reads it and it needs no imaging library."""
    height, width, _ = pixels.shape
    with open(path, "wb") as file:
        file.write(f"P6 {width} {height} 255\n".encode())
        file.write(pixels.tobytes())


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


class AnimaticSession:
    """Renders preview shots with FFmpeg; needs no models, so loading and encoding cost nothing.

    Reads from ``request.settings``: ``scene`` (int or None) and ``camera`` (a dict with
    size, angle, movement, lens_mm), both optional.
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
        move = move_for(camera.get("movement"))
        if request.image is not None:
            picture = media_input(Path(request.image).absolute(), MediaKind.IMAGE)
            # Cover the frame (crop what overhangs), then move over it; a still image with no
            # movement asked for still gets the gentle push-in of a Ken Burns move.
            fit = f"scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height},"
            if move is MOVES["static"]:
                move = MOVES["push_in"]
        else:
            still = scratch / "still.ppm"
            draw_width, draw_height = max(16, round(width * DRAW_SCALE)), max(16, round(height * DRAW_SCALE))
            write_ppm(still, draw_still(draw_width, draw_height, request.prompt, request.seed))
            picture = media_input(Path(still.name), MediaKind.IMAGE)
            fit = f"scale={width}:{height}:flags=bicubic,"

        header = [request.shot_id + (f" · scene {request.settings['scene']}" if request.settings.get("scene") is not None else ""),
                  camera_notes(camera), "camera: " + move.label]
        wrap_columns = max(20, int(width / (height / 40) / 0.62))
        body = "\n".join(textwrap.wrap(request.prompt or "(no prompt)", wrap_columns)[:6])
        (scratch / "header.txt").write_text("\n".join(header), encoding="utf-8")
        (scratch / "prompt.txt").write_text(body, encoding="utf-8")
        if not _FILTER_SAFE_PATH.fullmatch(str(self.font)):
            raise UserError(f"the animatic cannot pass the font path {self.font} to FFmpeg's text filter; "
                            "use a font whose path has only letters, digits, '_', '.', '/' and '-'")

        last = max(request.frames - 1, 1)
        zoom, x, y = (expr.format(p=f"(on/{last})") for expr in (move.zoom, move.x, move.y))
        rate = Fraction(request.fps).limit_denominator(1001)
        small, large = max(12, height // 40), max(14, height // 26)
        # The prompt sits under the header, in the top third: the bottom of the frame belongs
        # to the lower thirds and captions that post-production burns in over the animatic.
        prompt_top = 2 * small + len(header) * (large + small // 3) + small
        text_style = f"fontfile={self.font}:fontcolor=white:box=1:boxcolor=black@0.55:boxborderw={small // 2}"
        # Converting to yuv420p before zoompan means the per-frame scaling and text drawing
        # work on half the bytes and the encoder needs no per-frame conversion.
        graph = (
            f"[0:v]{fit}setsar=1,format=yuv420p,zoompan=z='{zoom}':x='{x}':y='{y}':d={request.frames}:s={width}x{height}:fps={rate},"
            f"drawtext={text_style}:textfile=header.txt:expansion=none:fontsize={large}:"
            f"line_spacing={small // 3}:x={small}:y={small},"
            f"drawtext={text_style}:textfile=prompt.txt:expansion=none:fontsize={small}:"
            f"line_spacing={small // 3}:x={small}:y={prompt_top},"
            f"drawtext={text_style}:timecode='{timecode(0, request.fps).replace(':', chr(92) + ':')}':"
            f"timecode_rate={rate}:fontsize={large}:x=w-tw-{small}:y={small}[out]"
        )
        return [*picture, "-filter_complex", graph, "-map", "[out]", "-frames:v", str(request.frames),
                "-r", str(rate), "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-an",
                "-f", "mp4", str(out_path.absolute())]

