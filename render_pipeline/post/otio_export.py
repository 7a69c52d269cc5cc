"""The cut as an editable timeline: OpenTimelineIO JSON (FCP 7 XML: post/fcp_xml.py).

Clips point at the rendered shots with their handles as available media, so the
transitions eat into handles exactly as they do in final.mp4; each transition keeps its
type (post/transitions.py). The sound is the mix's stems (post/audio_mix.py): the levelled
narration and the ducked music, each a whole-film clip, so the timeline played as it is
sounds like final.mp4. Media are named relative to the timeline's folder (the output
folder can move), or as absolute file URLs when asked.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from render_pipeline.post.edit import Edit
from render_pipeline.post.transitions import otio_transition_type

STEM_TRACKS = {"narration": "Narration", "music": "Music"}  # stem -> track name, in track order


def media_url(path: Path, timeline_dir: Path, absolute: bool) -> str:
    """``path`` as the timelines name it: relative to ``timeline_dir``, or an absolute file URL."""
    if absolute:
        return path.resolve().as_uri()
    return quote(path.resolve().relative_to(timeline_dir.resolve()).as_posix())


def build_timeline(title: str, edit: Edit, shot_files: dict[str, Path], shot_frames: dict[str, int],
                   stems: dict[str, Path], timeline_dir: Path, absolute_paths: bool = False):
    import opentimelineio as otio

    rate = float(edit.fps)

    def frames(count: int) -> otio.opentime.RationalTime:
        return otio.opentime.RationalTime(count, rate)

    def span(start: int, duration: int) -> otio.opentime.TimeRange:
        return otio.opentime.TimeRange(frames(start), frames(duration))

    def media(path: Path, available: otio.opentime.TimeRange) -> otio.schema.ExternalReference:
        return otio.schema.ExternalReference(target_url=media_url(path, timeline_dir, absolute_paths),
                                             available_range=available)

    video = otio.schema.Track(name="Picture", kind=otio.schema.TrackKind.Video)
    for index, edited in enumerate(edit.shots):
        shot_id = edited.shot.id
        if index and edit.shots[index - 1].transition_out_frames:
            previous = edit.shots[index - 1]
            kind = previous.shot.transition_out.type
            video.append(otio.schema.Transition(name=kind, transition_type=otio_transition_type(kind),
                                                in_offset=frames(edited.head), out_offset=frames(previous.tail)))
        available = span(0, max(shot_frames[shot_id], edited.source_start + edited.used_frames))
        video.append(otio.schema.Clip(name=shot_id, media_reference=media(shot_files[shot_id], available),
                                      source_range=span(edited.source_start + edited.head, edited.frames)))

    timeline = otio.schema.Timeline(name=title)
    timeline.tracks.append(video)
    whole = span(0, edit.total_frames)
    for stem, track_name in STEM_TRACKS.items():
        if stem in stems:
            track = otio.schema.Track(name=track_name, kind=otio.schema.TrackKind.Audio)
            track.append(otio.schema.Clip(name=f"{stem} stem", media_reference=media(stems[stem], whole),
                                          source_range=whole))
            timeline.tracks.append(track)
    return timeline


def write_otio(timeline, path: Path) -> None:
    import opentimelineio as otio

    otio.adapters.write_to_file(timeline, str(path), adapter_name="otio_json")
