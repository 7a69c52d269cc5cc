"""What each storyboard transition is called in the timelines: its OTIO type and its FCP 7 XML effect.

Editors' own transitions stand for ours where one matches: a cross dissolve, a dip to a colour
(centred on the cut, as final.mp4 draws it, post/video.py), an edge wipe with its direction.
The others (slides, circles, pixelize, ...) have no FCP 7 counterpart: the XML carries a cross
dissolve named after our type, and timeline.otio keeps the type itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from render_pipeline.post.edit import DIP_COLOURS

# OTIO's own name for a cross dissolve; every other type keeps the storyboard's name.
OTIO_DISSOLVE = "SMPTE_Dissolve"
CROSS_DISSOLVE_TYPES = ("dissolve", "fade")
# The direction an edge wipe's edge travels, as FCP 7's Edge Wipe angle in degrees (0: left to right).
WIPE_ANGLES = {"wiperight": 0, "wipedown": 90, "wipeleft": 180, "wipeup": 270}
COLOUR_RGB = {"black": (0, 0, 0), "white": (255, 255, 255)}


@dataclass(frozen=True)
class FcpEffect:
    name: str
    effect_id: str
    category: str
    parameters: tuple[tuple[str, str, object], ...] = ()  # (parameterid, name, value: int or an RGB triple)


def otio_transition_type(kind: str) -> str:
    return OTIO_DISSOLVE if kind in CROSS_DISSOLVE_TYPES else kind


def fcp_effect(kind: str) -> FcpEffect:
    if kind in DIP_COLOURS:
        return FcpEffect("Dip to Color Dissolve", "Dip to Color Dissolve", "Dissolve",
                         (("color", "Color", COLOUR_RGB[DIP_COLOURS[kind]]),))
    if kind in WIPE_ANGLES:
        return FcpEffect("Edge Wipe", "Edge Wipe", "Wipe", (("angle", "Angle", WIPE_ANGLES[kind]),))
    name = "Cross Dissolve" if kind in CROSS_DISSOLVE_TYPES else f"Cross Dissolve ({kind} in the film)"
    return FcpEffect(name, "Cross Dissolve", "Dissolve")
