"""The cut as FCP 7 XML (xmeml version 4), for Premiere, Resolve and Final Cut Pro 7.

Written from the edit itself, as timeline.otio is (post/otio_export.py), so both say what
final.mp4 shows: the sequence declares its format (size, rate, audio rate); each clip has one
<rate>; each transition is centred on its cut with the matching FCP 7 effect
(post/transitions.py); the sound is the mix's stems, each on its own track. Media are named
relative to the timeline's folder, or by absolute file URLs when asked.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

from render_pipeline.post.audio_mix import SAMPLE_RATE
from render_pipeline.post.edit import Edit
from render_pipeline.post.otio_export import STEM_TRACKS, media_url
from render_pipeline.post.transitions import fcp_effect

XMEML_VERSION = "4"


def fcp_xml(title: str, edit: Edit, shot_files: dict[str, Path], shot_frames: dict[str, int],
            stems: dict[str, Path], timeline_dir: Path, absolute_paths: bool = False) -> bytes:
    """The document, UTF-8."""
    root = ET.Element("xmeml", version=XMEML_VERSION)
    sequence = ET.SubElement(root, "sequence", id="sequence-1")
    _text(sequence, "name", title)
    _text(sequence, "duration", edit.total_frames)
    sequence.append(_rate(edit.fps))
    timecode = ET.SubElement(sequence, "timecode")
    timecode.append(_rate(edit.fps))
    _text(timecode, "string", "00:00:00:00")
    _text(timecode, "frame", 0)
    _text(timecode, "displayformat", "NDF")
    media = ET.SubElement(sequence, "media")

    video = ET.SubElement(media, "video")
    video_format = ET.SubElement(ET.SubElement(video, "format"), "samplecharacteristics")
    video_format.append(_rate(edit.fps))
    for tag, value in (("width", edit.width), ("height", edit.height), ("anamorphic", "FALSE"),
                       ("pixelaspectratio", "square"), ("fielddominance", "none"), ("colordepth", 24)):
        _text(video_format, tag, value)
    track = ET.SubElement(video, "track")
    for index, edited in enumerate(edit.shots):
        if index and edit.shots[index - 1].transition_out_frames:
            previous = edit.shots[index - 1]
            track.append(_transition(previous.shot.transition_out.type, edited.record_start - edited.head,
                                     edited.record_start + previous.tail))
        shot_id = edited.shot.id
        # FCP's convention: a clip's edge under a transition is -1, and its in/out reach through the transition.
        head = edited.head if index and edit.shots[index - 1].transition_out_frames else None
        tail = edited.tail if edited.transition_out_frames and index < len(edit.shots) - 1 else None
        clip = _clip(f"clipitem-{index + 1}", shot_id, edit.fps, edited.record_start, edited.record_end,
                     edited.source_start + edited.head, edited.frames, head, tail)
        clip.append(_file(f"file-{index + 1}", shot_files[shot_id], timeline_dir, absolute_paths, edit.fps,
                          max(shot_frames[shot_id], edited.source_start + edited.used_frames),
                          video=(edit.width, edit.height)))
        track.append(clip)

    audio = ET.SubElement(media, "audio")
    audio_format = ET.SubElement(ET.SubElement(audio, "format"), "samplecharacteristics")
    _text(audio_format, "depth", 24)
    _text(audio_format, "samplerate", SAMPLE_RATE)
    for stem in (stem for stem in STEM_TRACKS if stem in stems):
        track = ET.SubElement(audio, "track")
        clip = _clip(f"clipitem-{stem}", f"{stem} stem", edit.fps, 0, edit.total_frames, 0, edit.total_frames)
        clip.append(_file(f"file-{stem}", stems[stem], timeline_dir, absolute_paths, edit.fps, edit.total_frames,
                          video=None))
        source = ET.SubElement(clip, "sourcetrack")
        _text(source, "mediatype", "audio")
        _text(source, "trackindex", 1)
        track.append(clip)

    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE xmeml>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


def _text(parent: ET.Element, tag: str, value) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = str(value)
    return element


def _rate(fps: Fraction) -> ET.Element:
    """FCP's rate: the whole-number timebase, and NTSC for the 1000/1001 rates (23.976, 29.97)."""
    rate = ET.Element("rate")
    _text(rate, "timebase", math.ceil(fps))
    _text(rate, "ntsc", "FALSE" if fps.denominator == 1 else "TRUE")
    return rate


def _clip(clip_id: str, name: str, fps: Fraction, start: int, end: int, source_in: int, frames: int,
          head: int | None = None, tail: int | None = None) -> ET.Element:
    """A clip on screen from ``start`` to ``end`` showing ``frames`` frames from ``source_in``; ``head``/``tail``:
    the frames it shows under a transition before/after that (None: a cut)."""
    clip = ET.Element("clipitem", id=clip_id)
    _text(clip, "name", name)
    _text(clip, "duration", frames)
    clip.append(_rate(fps))
    _text(clip, "start", -1 if head is not None else start)
    _text(clip, "end", -1 if tail is not None else end)
    _text(clip, "in", source_in - (head or 0))
    _text(clip, "out", source_in + frames + (tail or 0))
    return clip


def _transition(kind: str, start: int, end: int) -> ET.Element:
    item = ET.Element("transitionitem")
    _text(item, "start", start)
    _text(item, "end", end)
    _text(item, "alignment", "center")
    effect = fcp_effect(kind)
    element = ET.SubElement(item, "effect")
    _text(element, "name", effect.name)
    _text(element, "effectid", effect.effect_id)
    _text(element, "effectcategory", effect.category)
    _text(element, "effecttype", "transition")
    _text(element, "mediatype", "video")
    for parameter_id, name, value in effect.parameters:
        parameter = ET.SubElement(element, "parameter")
        _text(parameter, "parameterid", parameter_id)
        _text(parameter, "name", name)
        holder = ET.SubElement(parameter, "value")
        if isinstance(value, tuple):
            for channel, level in zip(("alpha", "red", "green", "blue"), (255, *value)):
                _text(holder, channel, level)
        else:
            holder.text = str(value)
    return item


def _file(file_id: str, path: Path, timeline_dir: Path, absolute: bool, fps: Fraction, frames: int,
          video: tuple[int, int] | None) -> ET.Element:
    element = ET.Element("file", id=file_id)
    _text(element, "name", path.name)
    _text(element, "pathurl", media_url(path, timeline_dir, absolute))
    element.append(_rate(fps))
    _text(element, "duration", frames)
    media = ET.SubElement(element, "media")
    if video is not None:
        characteristics = ET.SubElement(ET.SubElement(media, "video"), "samplecharacteristics")
        _text(characteristics, "width", video[0])
        _text(characteristics, "height", video[1])
    else:
        audio = ET.SubElement(media, "audio")
        characteristics = ET.SubElement(audio, "samplecharacteristics")
        _text(characteristics, "depth", 24)
        _text(characteristics, "samplerate", SAMPLE_RATE)
        _text(audio, "channelcount", 2)
    return element
