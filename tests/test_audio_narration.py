"""Narration: real piper and espeak-ng voices, offline; lengths, rates, timings, cache hits, overflow."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from render_pipeline.audio import render_audio
from render_pipeline.audio.lexicon import Lexicon, load_lexicon
from render_pipeline.audio.narration import split_sentences
from render_pipeline.audio.wav import SAMPLE_RATE, read_wav, rms_db
from render_pipeline.errors import UserError
from render_pipeline.media.ffmpeg import MediaKind, probe, run_ffmpeg
from render_pipeline.storyboard import StoryboardError, load_storyboard


def storyboard(folder: Path, shots: str, voice: str = "{engine: auto}"):
    path = folder / "film.yaml"
    path.write_text(f"version: 1\ntitle: Narration Test\nvoice: {voice}\ndefaults: {{backend: animatic}}\nshots:\n"
                    + textwrap.indent(textwrap.dedent(shots), "  "), encoding="utf-8")
    return load_storyboard(path)


TWO_SHOTS = """\
- {id: s01, duration: 5, prompt: harbor, narration: "At first light, the fleet comes home. The ships turn in."}
- {id: s02, duration: 3, prompt: dock, narration: "Sailors wave."}
- {id: s03, duration: 2, prompt: sea}
"""


def test_piper_speaks_each_shot_at_48k_with_sentence_timings_and_caches(tmp_path):
    board = storyboard(tmp_path, TWO_SHOTS, voice="{engine: piper}")
    result = render_audio(board, tmp_path / "out")

    assert set(result.narration) == {"s01", "s02"}
    assert result.synthesized == ["narration s01", "narration s02"]
    clip = result.narration["s01"]
    assert clip.path == tmp_path / "out" / "audio" / "narration" / "s01.wav"
    info = probe(clip.path, MediaKind.AUDIO)
    assert info.sample_rate == SAMPLE_RATE
    samples, rate = read_wav(clip.path)
    assert samples.ndim == 1 and rate == SAMPLE_RATE
    assert clip.duration == pytest.approx(samples.size / SAMPLE_RATE)
    assert 1.5 < clip.duration < 5.0
    assert rms_db(samples) > -35  # speech, not silence

    (first, start1, end1), (second, start2, end2) = clip.sentences
    assert first == "At first light, the fleet comes home." and second == "The ships turn in."
    assert start1 == 0.0 and start1 < end1 < start2 < end2 == pytest.approx(clip.duration, abs=1e-3)
    # The pause between sentences is silent; each sentence is not.
    gap = samples[int(end1 * SAMPLE_RATE) + 1200: int(start2 * SAMPLE_RATE) - 1200]
    assert rms_db(gap) < -60
    assert rms_db(samples[int(start2 * SAMPLE_RATE): int(end2 * SAMPLE_RATE)]) > -35

    before = clip.path.stat().st_mtime_ns
    again = render_audio(board, tmp_path / "out")
    assert again.synthesized == []
    assert again.narration == result.narration
    assert clip.path.stat().st_mtime_ns == before


@pytest.mark.needs("espeak-ng")
def test_espeak_changed_text_or_lexicon_resynthesises_only_that_shot(tmp_path):
    board = storyboard(tmp_path, TWO_SHOTS, voice="{engine: espeak}")
    first = render_audio(board, tmp_path / "out")
    assert probe(first.narration["s02"].path, MediaKind.AUDIO).sample_rate == SAMPLE_RATE
    assert first.messages[0] == "narration: espeak-ng, voice en-us"

    board = storyboard(tmp_path, TWO_SHOTS.replace("Sailors wave.", "Sailors wave again."), voice="{engine: espeak}")
    assert render_audio(board, tmp_path / "out").synthesized == ["narration s02"]

    (tmp_path / "lexicon.txt").write_text("# spell the class out\nships -> S H I P S\n", encoding="utf-8")
    relexed = render_audio(board, tmp_path / "out")
    assert relexed.synthesized == ["narration s01"]
    # Spelling a word out letter by letter takes longer to say; captions keep the written word.
    assert relexed.narration["s01"].duration > first.narration["s01"].duration + 0.3
    assert relexed.narration["s01"].sentences[1][0] == "The ships turn in."


def test_auto_engine_says_which_it_chose(tmp_path):
    board = storyboard(tmp_path, '- {id: a, duration: 3, prompt: sea, narration: "Hello there."}\n')
    result = render_audio(board, tmp_path / "out")
    assert result.messages[0].startswith("narration: engine auto chose piper, voice en_US-joe-medium")


@pytest.mark.needs("espeak-ng")
def test_narration_longer_than_its_shot_names_shot_and_lengths(tmp_path):
    # Three long words pass validation's words-per-minute estimate but take far longer to say.
    shots = '- {id: tight, duration: 1.0, prompt: sea, narration: "Incomprehensibilities notwithstanding, unquestionably."}\n'
    board = storyboard(tmp_path, shots, voice="{engine: espeak}")
    with pytest.raises(UserError) as raised:
        render_audio(board, tmp_path / "out")
    message = str(raised.value)
    assert "shot 'tight'" in message and "1 s are allowed" in message
    measured = float(message.split("narration measures ")[1].split(" s")[0])
    assert measured > 2.0

    allowed = storyboard(tmp_path, shots.replace("prompt: sea,", "prompt: sea, narration_overflow: allow,"),
                         voice="{engine: espeak}")
    result = render_audio(allowed, tmp_path / "out")
    assert result.synthesized == []  # measured once already; the clip was kept
    assert result.narration["tight"].duration == pytest.approx(measured, abs=0.01)


@pytest.mark.needs("espeak-ng")
def test_removed_narration_removes_its_clip(tmp_path):
    board = storyboard(tmp_path, TWO_SHOTS, voice="{engine: espeak}")
    render_audio(board, tmp_path / "out")
    board = storyboard(tmp_path, TWO_SHOTS.replace(', narration: "Sailors wave."', ""), voice="{engine: espeak}")
    result = render_audio(board, tmp_path / "out")
    assert set(result.narration) == {"s01"}
    assert not (tmp_path / "out" / "audio" / "narration" / "s02.wav").exists()


def test_missing_engine_or_bad_voice_is_a_user_error(tmp_path):
    run_ffmpeg(["-f", "lavfi", "-i", "sine=d=1", str(tmp_path / "me.wav")], what="writing a voice recording")
    board = storyboard(tmp_path, TWO_SHOTS, voice="{engine: xtts, voice: me.wav}")
    with pytest.raises(UserError, match="me.wav is 1.0 s long"):
        render_audio(board, tmp_path / "out")
    with pytest.raises(StoryboardError, match="inside the storyboard's folder"):
        storyboard(tmp_path, TWO_SHOTS, voice="{engine: piper, voice: ../elsewhere.onnx}")


@pytest.mark.needs("espeak-ng")
def test_unknown_espeak_voice_is_a_user_error(tmp_path):
    board = storyboard(tmp_path, TWO_SHOTS, voice="{engine: espeak, voice: no-such-voice}")
    with pytest.raises(UserError, match="no-such-voice"):
        render_audio(board, tmp_path / "out")


def test_sentence_split_and_lexicon_rules(tmp_path):
    assert split_sentences('He said "Go." Then\nthey went!  Why?') == ['He said "Go."', "Then they went!", "Why?"]
    assert split_sentences("no stop at the end") == ["no stop at the end"]
    lexicon = Lexicon((("INS", "I N S"), ("INS Vikrant", "I N S Vik-rant")))
    assert lexicon.apply("INS Vikrant and INS Delhi, not ins or INSIDE") == \
        "I N S Vik-rant and I N S Delhi, not ins or INSIDE"
    (tmp_path / "lexicon.txt").write_text("good -> fine\nbroken line\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"lexicon.txt:2: expected 'WRITTEN -> SPOKEN'"):
        load_lexicon(tmp_path)


def test_render_all_narrates_before_rendering_any_shot(tmp_path, monkeypatch):
    """A narration that cannot be made is found in seconds, not after every shot has rendered."""
    import imageio_ffmpeg

    from render_pipeline.film import render_all
    from render_pipeline.media import ffmpeg as media
    from render_pipeline.storyboard import load_storyboard

    (tmp_path / "board.yaml").write_text(
        "version: 1\ntitle: Voice Missing\ndelivery: {size: 320x180, fps: 24, loudness_lufs: -16}\n"
        "defaults: {backend: animatic}\nvoice: {engine: espeak}\n"
        "shots:\n  - {id: s01, duration: 3, prompt: a harbor, narration: \"The fleet comes home.\"}\n")
    board = load_storyboard(tmp_path / "board.yaml")
    monkeypatch.setenv(media.FFMPEG_ENV, imageio_ffmpeg.get_ffmpeg_exe())
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))  # no espeak-ng
    media.ffmpeg_exe.cache_clear()
    try:
        with pytest.raises(UserError, match="voice engine espeak needs espeak-ng"):
            render_all(board, tmp_path / "out", quiet=True)
    finally:
        media.ffmpeg_exe.cache_clear()
    assert not (tmp_path / "out" / "shots").exists() and not (tmp_path / "out" / "manifest.json").exists()
