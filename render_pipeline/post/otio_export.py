"""The cut as an editable timeline: OpenTimelineIO JSON and FCP XML (Resolve, Premiere).

Clips point at the rendered shots with their handles as available media, so the
transitions eat into handles exactly as they do in final.mp4.
"""

from __future__ import annotations

from pathlib import Path

from render_pipeline.post.audio_mix import PlacedNarration
from render_pipeline.post.edit import Edit


def build_timeline(title: str, edit: Edit, shot_files: dict[str, Path], shot_frames: dict[str, int],
                   narration: list[PlacedNarration], narration_seconds: dict[str, float], music_bed: Path | None):
    import opentimelineio as otio

    rate = float(edit.fps)

    def frames(count: int) -> otio.opentime.RationalTime:
        return otio.opentime.RationalTime(count, rate)

    def span(start: int, duration: int) -> otio.opentime.TimeRange:
        return otio.opentime.TimeRange(frames(start), frames(duration))

    def media(path: Path, available: otio.opentime.TimeRange) -> otio.schema.ExternalReference:
        return otio.schema.ExternalReference(target_url=path.resolve().as_uri(), available_range=available)

    video = otio.schema.Track(name="Picture", kind=otio.schema.TrackKind.Video)
    for index, edited in enumerate(edit.shots):
        shot_id = edited.shot.id
        if index and edit.shots[index - 1].transition_out_frames:
            previous = edit.shots[index - 1]
            video.append(otio.schema.Transition(name=previous.shot.transition_out.type,
                                                transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                                                in_offset=frames(edited.head), out_offset=frames(previous.tail)))
        available = span(0, max(shot_frames[shot_id], edited.source_start + edited.used_frames))
        video.append(otio.schema.Clip(name=shot_id, media_reference=media(shot_files[shot_id], available),
                                      source_range=span(edited.source_start + edited.head, edited.frames)))

    voice = otio.schema.Track(name="Narration", kind=otio.schema.TrackKind.Audio)
    position = 0
    for clip in narration:
        start = round(clip.start * rate)
        length = round(narration_seconds[clip.shot_id] * rate)
        if start > position:
            voice.append(otio.schema.Gap(source_range=span(0, start - position)))
        voice.append(otio.schema.Clip(name=f"narration {clip.shot_id}",
                                      media_reference=media(clip.path, span(0, length)), source_range=span(0, length)))
        position = start + length

    timeline = otio.schema.Timeline(name=title)
    timeline.tracks.append(video)
    timeline.tracks.append(voice)
    if music_bed is not None:
        music = otio.schema.Track(name="Music", kind=otio.schema.TrackKind.Audio)
        whole = span(0, edit.total_frames)
        music.append(otio.schema.Clip(name="music bed", media_reference=media(music_bed, whole), source_range=whole))
        timeline.tracks.append(music)
    return timeline


def write_timeline(timeline, path: Path, adapter: str) -> None:
    """Write with an OTIO adapter: "otio_json", or "fcp_xml" (from the otio-fcp-adapter package)."""
    import opentimelineio as otio

    otio.adapters.write_to_file(timeline, str(path), adapter_name=adapter)
