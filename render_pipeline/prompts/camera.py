"""A shot's camera fields in the words a model was trained on: "Wide shot, aerial view, slow push-in, 35mm lens"."""

from __future__ import annotations

from render_pipeline.prompts.templates import CameraVocabulary, normalise_term
from render_pipeline.storyboard.schema import Camera

# Speed and manner words around a movement ("slow push in"): kept, as adjectives, before the
# model's own word for the movement.
_MANNER = {
    "slow": "slow", "slowly": "slow", "gentle": "gentle", "gently": "gentle", "subtle": "subtle",
    "subtly": "subtle", "smooth": "smooth", "smoothly": "smooth", "steady": "steady", "steadily": "steady",
    "fast": "fast", "quick": "quick", "quickly": "quick", "rapid": "rapid", "rapidly": "rapid",
}


def describe_camera(camera: Camera, vocabulary: CameraVocabulary) -> str:
    """One sentence for the camera fields that are set; "" when none is."""
    parts = []
    if camera.size:
        parts.append(vocabulary.size.get(normalise_term(camera.size), camera.size.strip()))
    if camera.angle:
        parts.append(vocabulary.angle.get(normalise_term(camera.angle), camera.angle.strip()))
    if camera.movement:
        parts.append(_movement(camera.movement, vocabulary))
    if camera.lens_mm:
        parts.append(_lens(camera.lens_mm, vocabulary))
    if not parts:
        return ""
    sentence = ", ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."


def _movement(movement: str, vocabulary: CameraVocabulary) -> str:
    words = normalise_term(movement).split()
    manner = [_MANNER[w] for w in words if w in _MANNER]
    core = " ".join(w for w in words if w not in _MANNER)
    if core not in vocabulary.movement:
        return movement.strip()
    return " ".join(manner + [vocabulary.movement[core]])


def _lens(lens_mm: float, vocabulary: CameraVocabulary) -> str:
    focal = f"{lens_mm:g}mm"
    for longest, words in vocabulary.lens:
        if lens_mm <= longest:
            return f"{focal} {words}"
    return f"{focal} lens"
