"""The edit in frames: where each shot sits in the film and which of its frames are used.

Everything downstream (the FFmpeg graph, overlay and caption times, the OTIO/FCP XML
timeline) reads this one object, so the film and its timeline agree frame for frame.
Shot boundaries are rounded from the cumulative running time, so rounding never drifts
and the film is exactly round(sum of shot durations * fps) frames long.

A transition of T frames is centred on its cut: the incoming shot appears T//2 frames
before the cut (its head handle) and the outgoing shot stays T - T//2 frames after it
(its tail handle), so transitions eat into handles and never shorten the film.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from render_pipeline.storyboard import Shot, Storyboard
from render_pipeline.storyboard.resolved import frame_bounds

# The storyboard's "dissolve" is an editor's cross-dissolve; "pixel_dissolve" is xfade's dissolve.
XFADE_NAMES = {"dissolve": "fade", "pixel_dissolve": "dissolve"}
# Dips to a colour, drawn as an editor's dip (post/video.py), not as xfade's fadeblack/fadewhite,
# which reach the colour off the cut (a short fade-out, a long fade-in).
DIP_COLOURS = {"fadeblack": "black", "fadewhite": "white"}


@dataclass(frozen=True)
class EditedShot:
    shot: Shot
    record_start: int  # film frame of the shot's first on-screen frame
    frames: int  # on-screen frames, cut to cut
    head: int  # frames shown before record_start, under the incoming transition
    tail: int  # frames shown after the outgoing cut, under the outgoing transition
    source_start: int  # first frame used from shots/<id>.mp4, counted at the delivery fps
    transition_out_frames: int  # length of the transition into the next shot (0: a cut)

    @property
    def record_end(self) -> int:
        return self.record_start + self.frames

    @property
    def used_frames(self) -> int:
        return self.head + self.frames + self.tail


@dataclass(frozen=True)
class Edit:
    fps: Fraction
    width: int
    height: int
    shots: list[EditedShot]

    @property
    def total_frames(self) -> int:
        return self.shots[-1].record_end

    def seconds(self, frames: int) -> float:
        return float(frames / self.fps)


def make_edit(storyboard: Storyboard) -> Edit:
    fps = storyboard.delivery.frame_rate
    transitions = [round(shot.transition_out.duration * fps) for shot in storyboard.shots]
    bounds = frame_bounds([shot.duration for shot in storyboard.shots], fps)
    edited = []
    for index, shot in enumerate(storyboard.shots):
        start = bounds[index]
        incoming = transitions[index - 1] if index else 0
        head = incoming // 2
        tail = transitions[index] - transitions[index] // 2
        source_start = max(0, round(shot.handle_in * fps) - head)
        edited.append(EditedShot(shot=shot, record_start=start, frames=bounds[index + 1] - start, head=head,
                                 tail=tail, source_start=source_start, transition_out_frames=transitions[index]))
    return Edit(fps=fps, width=storyboard.delivery.width, height=storyboard.delivery.height, shots=edited)
