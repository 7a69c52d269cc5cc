"""What a good storyboard resolves to: defaults, ids, handles, trims, cues, seeds, the examples."""

from __future__ import annotations

import shutil

import pytest

from render_pipeline.storyboard import StoryboardError, load_storyboard
from tests.conftest import EXAMPLES, MINIMAL_STORYBOARD


def test_ids_stay_strings_as_written(write_storyboard):
    text = MINIMAL_STORYBOARD.replace('id: "010"', "id: 010").replace('from: "010"', "from: 010")
    storyboard = load_storyboard(write_storyboard(text))
    assert [shot.id for shot in storyboard.shots] == ["010", "b"]
    assert storyboard.music[0].first_shot == "010"


def test_transition_handles_and_film_length(minimal_storyboard):
    storyboard = load_storyboard(minimal_storyboard)
    first, second = storyboard.shots
    assert (first.handle_in, first.handle_out, first.render_duration) == (0.0, 0.5, 3.5)
    assert (second.handle_in, second.handle_out, second.render_duration) == (0.5, 0.0, 2.5)
    assert second.transition_in.type == "dissolve"
    assert storyboard.duration == 5.0
    assert storyboard.shot_start("b") == 3.0
    assert (storyboard.music[0].start, storyboard.music[0].end) == (0.0, 5.0)


def test_defaults_fill_shots_and_merge_camera_and_transition_key_by_key(write_storyboard):
    text = MINIMAL_STORYBOARD.replace("music:", """defaults:
  duration: 4
  style: "documentary"
  camera: {lens_mm: 35, movement: static}
  transition: {type: fade, duration: 0.5}
  overlays: [{text: "Draft", style: caption}]
music:""").replace("    duration: 2\n", "    camera: {movement: pan left}\n").replace(
        "{type: dissolve, duration: 1}", "{type: wipeleft}")
    storyboard = load_storyboard(write_storyboard(text))
    first, second = storyboard.shots
    assert second.duration == 4.0 and second.style == "documentary"
    assert (second.camera.lens_mm, second.camera.movement) == (35, "pan left")
    assert (first.transition_out.type, first.transition_out.duration) == ("wipeleft", 0.5)
    # The default transition has no next shot to lead into from the last shot: a cut, silently.
    assert second.transition_out.type == "cut" and storyboard.warnings == []
    # A shot's own overlays replace the default list; a shot without any gets the default's.
    assert [o.text for o in first.overlays] == ["Hello"]
    assert [(o.text, o.start, o.end) for o in second.overlays] == [("Draft", 0.0, 4.0)]


def test_a_transition_written_on_the_last_shot_is_ignored_with_a_warning(write_storyboard):
    text = MINIMAL_STORYBOARD + "    transition: {type: fade, duration: 0.5}\n"
    storyboard = load_storyboard(write_storyboard(text))
    assert storyboard.shots[-1].transition_out.type == "cut"
    assert [str(w) for w in storyboard.warnings] == [
        "sb.yaml:17:17: shots[1].transition: the last shot's transition has no next shot; it is ignored"]


def test_default_seed_is_stable_and_differs_per_shot(minimal_storyboard):
    first = load_storyboard(minimal_storyboard)
    again = load_storyboard(minimal_storyboard)
    assert [s.seed for s in first.shots] == [s.seed for s in again.shots]
    assert first.shots[0].seed != first.shots[1].seed


def test_footage_without_trim_starts_so_the_incoming_handle_fits(write_storyboard, tmp_path):
    shutil.copy(EXAMPLES / "footage" / "dock.mp4", tmp_path / "dock.mp4")
    path = write_storyboard(MINIMAL_STORYBOARD.replace('prompt: "A ship at sea"', "source: dock.mp4"))
    footage = load_storyboard(path).shots[1]
    assert footage.trim == (0.5, 2.5)


def test_footage_too_short_for_trim_and_handles(write_storyboard, tmp_path):
    shutil.copy(EXAMPLES / "footage" / "dock.mp4", tmp_path / "dock.mp4")  # 6.0 s long
    text = MINIMAL_STORYBOARD.replace('prompt: "A ship at sea"', "source: dock.mp4\n    trim: [4.5, 6.5]")
    with pytest.raises(StoryboardError) as caught:
        load_storyboard(write_storyboard(text))
    assert [str(p) for p in caught.value.problems] == [
        "sb.yaml:17:11: shots[1].trim: needs the clip up to 6.5 s (trim end 6.5 s plus 0 s for the outgoing "
        "transition) but dock.mp4 lasts 6 s"]


def test_harbor_teaser_example(monkeypatch):
    monkeypatch.chdir(EXAMPLES)
    storyboard = load_storyboard("harbor-teaser.yaml")
    assert 5 <= len(storyboard.shots) <= 8 and 20 <= storyboard.duration <= 40
    assert storyboard.warnings == []
    assert len(storyboard.music) == 2
    styles = {o.style for shot in storyboard.shots for o in shot.overlays}
    assert {"title", "lower_third"} <= styles
    assert any(shot.source for shot in storyboard.shots)
    assert any(shot.image for shot in storyboard.shots)
    assert any(shot.continue_from for shot in storyboard.shots)
    assert any('reading "' in (shot.prompt or "") for shot in storyboard.shots)
    narrated = [shot for shot in storyboard.shots if shot.narration]
    # A natural pace (150 words a minute) must fit, not just the validator's 180.
    for shot in narrated:
        assert len(shot.narration.split()) / 2.5 <= shot.duration, shot.id


def test_exhibition_film_example(monkeypatch):
    monkeypatch.chdir(EXAMPLES)
    storyboard = load_storyboard("exhibition-film.yaml")
    assert 45 <= len(storyboard.shots) <= 55 and 240 <= storyboard.duration <= 360
    assert storyboard.warnings == []
    assert len({shot.transition_out.type for shot in storyboard.shots} - {"cut"}) >= 3
    assert sum(1 for shot in storyboard.shots if shot.narration) > 0.8 * len(storyboard.shots)
    assert len(storyboard.music) >= 3
    for shot in storyboard.shots:
        if shot.narration:
            assert len(shot.narration.split()) / 2.5 <= shot.duration, shot.id
