"""What a storyboard resolves to: one spec per shot with every default filled in, its music cues, the film's frames."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from render_pipeline.storyboard.schema import Camera, Delivery, Overlay, QaPolicy, Transition, Voice
from render_pipeline.storyboard.yaml_source import Problem


@dataclass(frozen=True)
class LoraUse:
    """A LoRA a shot renders with: its file (inside the storyboard's folder), strength and expert."""

    path: Path
    weight: float
    expert: str  # "both" | "high" | "low" (the Wan 2.2 A14B expert it applies to)


@dataclass(frozen=True)
class Shot:
    """One shot with every default resolved; times in seconds."""

    index: int
    id: str
    scene: int | None
    duration: float
    prompt: str | None
    source: Path | None
    trim: tuple[float, float] | None
    camera: Camera
    seed: int
    overlays: tuple[Overlay, ...]
    narration: str | None
    narration_overflow: str
    transition_out: Transition  # into the next shot; a cut on the last shot
    transition_in: Transition  # from the previous shot; a cut on the first shot
    image: Path | None
    continue_from: str | None
    backend: str
    quality: str
    style: str | None
    negative_prompt: str | None
    text_in_prompt: str
    window: str = "auto"  # "auto": windows past the model's trained clip; "single": one pass
    loras: tuple[LoraUse, ...] = ()
    steps: int | None = None  # sampling overrides; None: the backend's own for the quality
    guidance: float | None = None
    guidance_2: float | None = None
    shift: float | None = None
    qa: QaPolicy = field(default_factory=QaPolicy)  # what failing shot QA does

    @property
    def handle_in(self) -> float:
        """Extra seconds rendered before the shot's first on-screen frame (half the incoming transition)."""
        return self.transition_in.duration / 2

    @property
    def handle_out(self) -> float:
        return self.transition_out.duration / 2

    @property
    def render_duration(self) -> float:
        """Seconds of picture the shot needs, handles included."""
        return self.handle_in + self.duration + self.handle_out


@dataclass(frozen=True)
class Cue:
    """A music cue resolved to its span of shots."""

    cue: str
    prompt: str | None
    first_shot: str
    last_shot: str
    start: float  # seconds into the film
    end: float
    volume_db: float
    file: Path | None


@dataclass
class Storyboard:
    path: Path
    title: str
    slug: str
    delivery: Delivery
    voice: Voice
    music: list[Cue]
    shots: list[Shot]
    warnings: list[Problem] = field(default_factory=list)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def duration(self) -> float:
        """The film's length: transitions eat into handles, so it is the sum of the shots."""
        return sum(shot.duration for shot in self.shots)

    def shot(self, shot_id: str) -> Shot:
        for shot in self.shots:
            if shot.id == shot_id:
                return shot
        known = ", ".join(s.id for s in self.shots[:12])
        raise KeyError(f"no shot {shot_id!r} in {self.path.name} (shots: {known}{', ...' if len(self.shots) > 12 else ''})")

    def shot_start(self, shot_id: str) -> float:
        """Seconds from the start of the film to the shot's first on-screen frame."""
        start = 0.0
        for shot in self.shots:
            if shot.id == shot_id:
                return start
            start += shot.duration
        raise KeyError(shot_id)


def slugify(text: str) -> str:
    """A file-system-safe name: ASCII letters, digits and '-' only; never empty."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_text).strip("-").lower()
    return slug[:80] or "film-" + hashlib.sha256(text.encode()).hexdigest()[:8]


def frame_bounds(durations: list[float], rate: Fraction) -> list[int]:
    """The film frame each shot starts on, then the film's end. Each bound is rounded from the
    running time, so rounding never drifts and the film is round(sum of durations * rate) frames."""
    bounds, elapsed = [0], 0.0
    for duration in durations:
        elapsed += duration
        bounds.append(round(elapsed * rate))
    return bounds
