"""A shot's sampling: the backend's official settings for its quality, with the shot's own over them."""

from __future__ import annotations

from dataclasses import dataclass

from render_pipeline.backends.specs import ModelSpec


@dataclass(frozen=True)
class Sampling:
    steps: int
    guidance: float
    guidance_2: float | None  # Wan 2.2 A14B's low-noise expert; None for the others
    shift: float | None  # flow-matching shift; None for CogVideoX (no flow matching)

    @property
    def guided(self) -> bool:
        """Whether classifier-free guidance runs: diffusers turns it off at guidance 1, which halves the
        forwards of Wan and CogVideoX. Wan A14B's `guidance` (the high-noise expert's) decides it for
        both experts, as in diffusers. HunyuanVideo's guidance is embedded: one forward either way."""
        return self.guidance > 1


def shot_sampling(spec: ModelSpec, shot) -> Sampling:
    """What the shot samples with on ``spec``'s model; a setting the model has none of is left out."""
    official = spec.settings(shot.quality)
    return Sampling(
        steps=shot.steps if shot.steps is not None else official["steps"],
        guidance=shot.guidance if shot.guidance is not None else official["guidance"],
        guidance_2=shot.guidance_2 if shot.guidance_2 is not None and spec.guidance_2 is not None else spec.guidance_2,
        shift=shot.shift if shot.shift is not None and spec.shift is not None else spec.shift,
    )
