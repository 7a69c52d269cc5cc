"""The storyboard format, version 1, as typed models (shared/storyboard-format.md is the contract).

These models check the shape and types of each value. Rules that relate several values
(overlays inside their shot, transitions that fit, ids that exist) live in ``resolve_shots.py``.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from render_pipeline.backends.specs import STORYBOARD_BACKENDS

# "auto" and the registry's names; a Literal, so that pydantic lists them for an unknown one.
BACKENDS = ("auto", *STORYBOARD_BACKENDS)
Backend = Literal[BACKENDS]  # type: ignore[valid-type]

# "cut" plus FFmpeg's xfade transition names. "dissolve" means what an editor means:
# a cross-dissolve (xfade's "fade"); xfade's own noisy pixel dissolve is "pixel_dissolve".
TRANSITION_TYPES = (
    "cut", "fade", "dissolve", "pixel_dissolve", "fadeblack", "fadewhite", "fadegrays",
    "wipeleft", "wiperight", "wipeup", "wipedown", "slideleft", "slideright", "slideup", "slidedown",
    "smoothleft", "smoothright", "smoothup", "smoothdown", "circlecrop", "rectcrop", "circleopen",
    "circleclose", "vertopen", "vertclose", "horzopen", "horzclose", "radial", "pixelize", "distance",
    "diagtl", "diagtr", "diagbl", "diagbr", "hlslice", "hrslice", "vuslice", "vdslice", "hblur",
    "squeezeh", "squeezev", "zoomin",
)
OVERLAY_POSITIONS = (
    "center", "top", "bottom", "left", "right",
    "upper_left", "upper_right", "lower_left", "lower_right",
)
SHOT_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")

# The delivery rates a film may have: those of SMPTE timecode, which the FCP XML timeline (and
# every editor it is opened in) counts frames by. 23.976, 29.97, 47.952 and 59.94 are the NTSC
# rates N*1000/1001; 23.98 and the like are read as them.
DELIVERY_RATES = (23.976, 24, 25, 29.97, 30, 47.952, 48, 50, 59.94, 60)
NTSC_TOLERANCE = 0.005

# Bounds on text, far above any real use; a longer value is a mistake (a pasted file), and
# each text stage is linear in it. Text models read 226-512 tokens (about 2,000 characters).
PROMPT_MAX_CHARS = 4000  # prompt, negative_prompt, style, a music cue's prompt
NARRATION_MAX_CHARS = 5000  # a few minutes of speech
OVERLAY_MAX_CHARS = 500  # what fits the title-safe area of a frame, at a readable size
TITLE_MAX_CHARS = 200
NAME_MAX_CHARS = 200  # camera notes, cue names, voice names

PromptText = Annotated[str, Field(min_length=1, max_length=PROMPT_MAX_CHARS)]
ShortText = Annotated[str, Field(max_length=NAME_MAX_CHARS)]
PositiveSeconds = Annotated[float, Field(gt=0, strict=True)]
NonNegativeSeconds = Annotated[float, Field(ge=0, strict=True)]


class Strict(BaseModel):
    # strict: "five seconds" is not a duration and "5" is not a seed; unknown keys are errors;
    # .inf and .nan are not numbers a film can use.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class Delivery(Strict):
    size: str = "1280x720"
    fps: Annotated[float, Field(gt=0, le=120)] = 24
    loudness_lufs: Annotated[float, Field(ge=-70, le=-5)] = -16
    # How a shot rendered at another frame rate (a 16 fps model, footage) reaches `fps`.
    frame_interpolation: Literal["auto", "rife", "minterpolate", "repeat"] = "auto"

    @field_validator("size")
    @classmethod
    def _size(cls, value: str) -> str:
        match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", value)
        if not match:
            raise ValueError(f"must be WIDTHxHEIGHT such as 1280x720 (got {value!r})")
        width, height = int(match[1]), int(match[2])
        if not (16 <= width <= 7680 and 16 <= height <= 4320):
            raise ValueError(f"{width}x{height} is outside 16x16 .. 7680x4320")
        if width % 2 or height % 2:
            raise ValueError(f"width and height must be even for H.264 (got {width}x{height})")
        return f"{width}x{height}"

    @field_validator("fps")
    @classmethod
    def _fps(cls, value: float) -> float:
        rate = next((rate for rate in DELIVERY_RATES if abs(value - rate) < NTSC_TOLERANCE), None)
        if rate is None:
            raise ValueError(f"{value:g} fps is not a delivery rate; use one of {', '.join(map(str, DELIVERY_RATES))} "
                             "(the rates of SMPTE timecode, which the editable timeline counts frames by)")
        return float(rate)

    @property
    def frame_rate(self) -> Fraction:
        """The rate as an exact fraction: 24 -> 24/1; 23.976 and 29.97 -> the NTSC rates 24000/1001 and 30000/1001."""
        if float(self.fps).is_integer():
            return Fraction(int(self.fps))
        return Fraction(round(self.fps * 1.001) * 1000, 1001)

    @property
    def width(self) -> int:
        return int(self.size.split("x")[0])

    @property
    def height(self) -> int:
        return int(self.size.split("x")[1])


class Camera(Strict):
    size: ShortText | None = None
    angle: ShortText | None = None
    movement: ShortText | None = None
    lens_mm: Annotated[float, Field(gt=0, le=2000)] | None = None


class Transition(Strict):
    type: Literal[TRANSITION_TYPES] = "cut"  # type: ignore[valid-type]
    duration: NonNegativeSeconds = 0.0


class Overlay(Strict):
    text: Annotated[str, Field(min_length=1, max_length=OVERLAY_MAX_CHARS)]
    style: str = "caption"
    start: NonNegativeSeconds | None = None  # default: the start of the shot
    end: NonNegativeSeconds | None = None  # default: the end of the shot
    position: Literal[OVERLAY_POSITIONS] | None = None  # type: ignore[valid-type]  # default: the style's


class Lora(Strict):
    """A LoRA applied to a generated shot: a file in the storyboard's folder, its strength, and
    (Wan 2.2 A14B) the expert it is for."""

    path: Annotated[str, Field(min_length=1)]
    weight: Annotated[float, Field(ge=-4, le=4)] = 1.0
    expert: Literal["both", "high", "low"] = "both"


class QaPolicy(Strict):
    """What a shot that fails QA (render_pipeline/qa/) does: `warn`, or `rerender` with a new seed."""

    on_fail: Literal["warn", "rerender"] = "warn"
    max_attempts: Annotated[int, Field(ge=1, le=10)] = 3  # renders in all, the first included


class ShotFields(Strict):
    """Every field a shot may carry; ``defaults`` takes the same fields, all optional."""

    id: str | None = None
    scene: int | None = None
    duration: PositiveSeconds | None = None
    prompt: PromptText | None = None
    source: str | None = None
    # YAML has no tuples: accept a two-item list, still strict about the numbers inside.
    trim: Annotated[tuple[NonNegativeSeconds, NonNegativeSeconds], Field(strict=False)] | None = None
    camera: Camera | None = None
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] | None = None
    overlays: list[Overlay] | None = None
    narration: Annotated[str, Field(max_length=NARRATION_MAX_CHARS)] | None = None
    narration_overflow: Literal["error", "allow"] | None = None
    transition: Transition | None = None
    image: str | None = None
    continue_from: str | None = None
    backend: Backend | None = None
    quality: Literal["draft", "final"] | None = None
    style: Annotated[str, Field(max_length=PROMPT_MAX_CHARS)] | None = None
    negative_prompt: Annotated[str, Field(max_length=PROMPT_MAX_CHARS)] | None = None
    text_in_prompt: Literal["overlay", "strip", "keep"] | None = None
    # Longer than the model's trained clip: rendered as windows (auto), or as one pass (single).
    window: Literal["auto", "single"] | None = None
    loras: list[Lora] | None = None
    # Sampling overrides; None: the backend's own (official) settings for the shot's quality.
    steps: Annotated[int, Field(ge=1, le=200)] | None = None
    guidance: Annotated[float, Field(ge=1, le=30)] | None = None  # 1: classifier-free guidance off
    guidance_2: Annotated[float, Field(ge=1, le=30)] | None = None  # Wan 2.2 A14B's low-noise expert
    shift: Annotated[float, Field(gt=0, le=100)] | None = None
    qa: QaPolicy | None = None

    @field_validator("id", "continue_from")
    @classmethod
    def _shot_id(cls, value: str | None) -> str | None:
        if value is not None and not SHOT_ID_PATTERN.fullmatch(value):
            raise ValueError(f"shot ids are 1-64 letters, digits, '_' or '-' (got {value!r})")
        return value


class Voice(Strict):
    engine: Literal["auto", "piper", "espeak", "xtts"] = "auto"
    voice: ShortText | None = None
    # What xtts speaks (default en), a code as XTTS names them ("zh-cn"); checked against the
    # weights' own list when the engine opens. piper and espeak speak their voice's language.
    language: str | None = None

    @field_validator("language")
    @classmethod
    def _language_code(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z]{2}(-[a-z]{2})?", value):
            raise ValueError(f"a language code such as en, de or zh-cn (got {value!r})")
        return value


class MusicCue(Strict):
    cue: Annotated[str, Field(min_length=1, max_length=NAME_MAX_CHARS)]
    prompt: Annotated[str, Field(max_length=PROMPT_MAX_CHARS)] | None = None
    from_: str | None = Field(default=None, alias="from")  # default: the first shot
    to: str | None = None  # default: the last shot
    volume_db: Annotated[float, Field(ge=-60, le=0)] = -18
    file: str | None = None


class StoryboardDocument(Strict):
    """The file as written, before defaults are resolved."""

    version: int
    title: Annotated[str, Field(min_length=1, max_length=TITLE_MAX_CHARS)]
    delivery: Delivery = Delivery()
    defaults: ShotFields = ShotFields()
    voice: Voice = Voice()
    music: list[MusicCue] = []
    shots: Annotated[list[ShotFields], Field(min_length=1)]
