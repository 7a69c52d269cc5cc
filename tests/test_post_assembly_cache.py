"""The assembly's cache: nothing changed keeps the film; a change to anything it reads assembles again."""

from __future__ import annotations

import hashlib

from render_pipeline.post import assemble
from render_pipeline.storyboard import load_storyboard
from tests.post_film import ffmpeg, make_film_inputs


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_unchanged_rerun_keeps_the_film_and_a_changed_input_assembles_again(tmp_path):
    storyboard, audio = make_film_inputs(tmp_path)
    first = assemble(storyboard, tmp_path, audio=audio)
    assert not first.reused
    film_bytes, film_stamp = digest(first.film), first.film.stat().st_mtime_ns

    again = assemble(storyboard, tmp_path, audio=audio)
    assert again.reused and again.seconds_taken < 0.5
    assert again.film.stat().st_mtime_ns == film_stamp
    assert (again.loudness_lufs, again.true_peak_db, again.frames) == (first.loudness_lufs, first.true_peak_db,
                                                                      first.frames)

    # One overlay's text changed: the film is encoded again, and differs.
    yaml_path = tmp_path / "storyboard.yaml"
    yaml_path.write_text(yaml_path.read_text(encoding="utf-8").replace('text: "TITLE"', 'text: "TITLES"'),
                         encoding="utf-8")
    changed = assemble(load_storyboard(yaml_path), tmp_path, audio=audio)
    assert not changed.reused and digest(changed.film) != film_bytes


def test_a_changed_narration_file_or_a_deleted_output_assembles_again(tmp_path):
    storyboard, audio = make_film_inputs(tmp_path)
    assemble(storyboard, tmp_path, audio=audio)
    voice = audio.narration["s02"].path
    ffmpeg("-f", "lavfi", "-i", "sine=f=500:r=48000:d=1.0", "-af", "volume=-14dB", str(voice))
    assert not assemble(storyboard, tmp_path, audio=audio).reused

    assert assemble(storyboard, tmp_path, audio=audio).reused
    (tmp_path / "timeline.xml").unlink()
    rebuilt = assemble(storyboard, tmp_path, audio=audio)
    assert not rebuilt.reused and rebuilt.fcp_xml.is_file()
