"""The timelines say what the film is: each transition's own type (OTIO) and FCP 7 effect (XML), the
sequence format, one <rate> per clip, relative media paths, and the XML read back by a second reader
(OTIO's FCP 7 adapter) as the same cut timeline.otio holds."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import unquote, urlparse

import opentimelineio as otio
import pytest

from render_pipeline.post.edit import make_edit
from render_pipeline.post.fcp_xml import fcp_xml
from render_pipeline.post.otio_export import build_timeline, write_otio
from render_pipeline.storyboard import load_storyboard

# Storyboard type -> (OTIO transition_type, FCP 7 effectid, the effect's parameter value, if any)
EXPECTED = {
    "dissolve": ("SMPTE_Dissolve", "Cross Dissolve", None),
    "fadeblack": ("fadeblack", "Dip to Color Dissolve", {"alpha": "255", "red": "0", "green": "0", "blue": "0"}),
    "fadewhite": ("fadewhite", "Dip to Color Dissolve", {"alpha": "255", "red": "255", "green": "255", "blue": "255"}),
    "wipeleft": ("wipeleft", "Edge Wipe", "180"),
    "wiperight": ("wiperight", "Edge Wipe", "0"),
    "wipeup": ("wipeup", "Edge Wipe", "270"),
    "wipedown": ("wipedown", "Edge Wipe", "90"),
    "circleopen": ("circleopen", "Cross Dissolve", None),  # no FCP 7 counterpart: named after ours
}
KINDS = list(EXPECTED)


def write_timelines(tmp_path, absolute: bool = False, fps: str = "24"):
    shots = "\n".join(f"  - {{id: s{index}, duration: 1, prompt: sea, transition: {{type: {kind}, duration: 0.5}}}}"
                      for index, kind in enumerate(KINDS))
    board = tmp_path / "board.yaml"
    board.write_text(f"version: 1\ntitle: Cuts & <Dips>\ndelivery: {{size: 320x180, fps: {fps}}}\nshots:\n{shots}\n"
                     f"  - {{id: last, duration: 1, prompt: sky}}\n", encoding="utf-8")
    storyboard = load_storyboard(board)
    edit = make_edit(storyboard)
    out = tmp_path / "out"
    (out / "shots").mkdir(parents=True)
    (out / "stems").mkdir()
    files = {shot.id: out / "shots" / f"{shot.id}.mp4" for shot in storyboard.shots}
    stems = {"narration": out / "stems" / "narration.wav", "music": out / "stems" / "music.wav"}
    for path in [*files.values(), *stems.values()]:
        path.write_bytes(b"")
    frames = {edited.shot.id: edited.source_start + edited.used_frames for edited in edit.shots}
    write_otio(build_timeline(storyboard.title, edit, files, frames, stems, out, absolute), out / "timeline.otio")
    (out / "timeline.xml").write_bytes(fcp_xml(storyboard.title, edit, files, frames, stems, out, absolute))
    return out, edit, files, stems


def cut_of(track):
    """(clip name, record start, record end, source in) for each clip; (name, type, in, out) for each transition."""
    clips, transitions = [], []
    for item in track:
        if isinstance(item, otio.schema.Transition):
            transitions.append((item.name, item.transition_type, item.in_offset.to_frames(), item.out_offset.to_frames()))
        else:
            span = track.range_of_child(item)
            clips.append((item.name, span.start_time.to_frames(), span.end_time_exclusive().to_frames(),
                          item.source_range.start_time.to_frames()))
    return clips, transitions


def test_each_transition_type_reads_back_from_otio_and_xml(tmp_path):
    out, edit, _, _ = write_timelines(tmp_path)
    otio_video = otio.adapters.read_from_file(str(out / "timeline.otio")).video_tracks()[0]
    _, transitions = cut_of(otio_video)
    assert [kind for _, kind, _, _ in transitions] == [EXPECTED[kind][0] for kind in KINDS]

    root = ET.parse(out / "timeline.xml").getroot()
    items = root.findall("./sequence/media/video/track/transitionitem")
    assert [item.findtext("effect/effectid") for item in items] == [EXPECTED[kind][1] for kind in KINDS]
    for item, kind in zip(items, KINDS):
        assert item.findtext("alignment") == "center"
        assert item.findtext("effect/effecttype") == "transition"
        value = item.find("effect/parameter/value")
        expected = EXPECTED[kind][2]
        if isinstance(expected, dict):
            assert {channel.tag: channel.text for channel in value} == expected
        else:
            assert (value.text if value is not None else None) == expected
    # Centred on the cut: half before, half after, as final.mp4 draws it.
    for item, edited in zip(items, edit.shots[1:]):
        assert (int(item.findtext("start")), int(item.findtext("end"))) == (edited.record_start - 6,
                                                                            edited.record_start + 6)


def test_xml_read_by_a_second_reader_is_the_same_cut_as_the_otio(tmp_path):
    out, edit, _, _ = write_timelines(tmp_path)
    from_otio = otio.adapters.read_from_file(str(out / "timeline.otio"))
    from_xml = otio.adapters.read_from_file(str(out / "timeline.xml"), adapter_name="fcp_xml")
    otio_clips, otio_transitions = cut_of(from_otio.video_tracks()[0])
    xml_clips, xml_transitions = cut_of(from_xml.video_tracks()[0])
    assert xml_clips == otio_clips
    assert [(start, end) for _, _, start, end in xml_transitions] == [(6, 6)] * len(KINDS)
    assert [name for name, _, _, _ in xml_transitions] == [
        "Dip to Color Dissolve" if kind.startswith("fade") else "Edge Wipe" if kind.startswith("wipe")
        else "Cross Dissolve" if kind == "dissolve" else f"Cross Dissolve ({kind} in the film)" for kind in KINDS]
    assert otio_clips[-1][2] == edit.total_frames == from_xml.duration().to_frames()
    assert [[clip.name for clip in track] for track in from_xml.audio_tracks()] == [["narration stem"], ["music stem"]]
    assert all(track.range_of_child_at_index(0).duration.to_frames() == edit.total_frames
               for track in from_xml.audio_tracks())


def test_xml_declares_its_format_and_one_rate_per_clip(tmp_path):
    out, _, _, _ = write_timelines(tmp_path, fps="23.976")
    text = (out / "timeline.xml").read_text(encoding="utf-8")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE xmeml>\n<xmeml version="4">')
    root = ET.fromstring(text.split("\n", 2)[2])
    sequence = root.find("sequence")
    assert [child.tag for child in sequence][:4] == ["name", "duration", "rate", "timecode"]
    assert sequence.findtext("name") == "Cuts & <Dips>"
    video_format = sequence.find("media/video/format/samplecharacteristics")
    assert (video_format.findtext("width"), video_format.findtext("height")) == ("320", "180")
    assert (video_format.findtext("rate/timebase"), video_format.findtext("rate/ntsc")) == ("24", "TRUE")
    assert sequence.findtext("media/audio/format/samplecharacteristics/samplerate") == "48000"
    clips = sequence.findall("media/*/track/clipitem")
    assert len(clips) == len(KINDS) + 1 + 2
    for clip in clips:
        assert len(clip.findall("rate")) == 1, clip.get("id")
        assert [child.tag for child in clip][:8] == ["name", "duration", "rate", "start", "end", "in", "out", "file"]
        assert clip.find("file/pathurl") is not None


@pytest.mark.parametrize("absolute", [False, True])
def test_media_paths_are_relative_to_the_timeline_unless_asked(tmp_path, absolute):
    out, _, files, stems = write_timelines(tmp_path, absolute=absolute)
    expected = sorted(str(path) for path in [*files.values(), *stems.values()])
    urls = [element.text for element in ET.parse(out / "timeline.xml").getroot().iter("pathurl")]
    refs = [clip.media_reference.target_url
            for clip in otio.adapters.read_from_file(str(out / "timeline.otio")).find_clips()]
    for found in (urls, refs):
        if absolute:
            assert all(url.startswith("file:///") for url in found)
            assert sorted(unquote(urlparse(url).path) for url in found) == expected
        else:
            assert all("://" not in url and not url.startswith("/") for url in found)
            assert sorted(str(out / unquote(url)) for url in found) == expected
    if not absolute:  # the folder moved: every link still holds
        moved = tmp_path / "moved"
        out.rename(moved)
        assert all((moved / unquote(url)).is_file() for url in urls)
