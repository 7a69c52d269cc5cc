"""Music: the procedural score, user files, a tiny random MusicGen, and the bed that places cues."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from render_pipeline.audio import render_audio
from render_pipeline.audio.music import musicgen
from render_pipeline.audio.music.procedural import render_score, score_settings
from render_pipeline.audio.wav import SAMPLE_RATE, read_wav, rms_db
from render_pipeline.media.ffmpeg import MediaKind, probe, run_ffmpeg
from render_pipeline.storyboard import StoryboardError, load_storyboard

SHOTS = """\
shots:
  - {id: s01, duration: 2, prompt: harbor}
  - {id: s02, duration: 4, prompt: dock}
  - {id: s03, duration: 3.5, prompt: sea}
  - {id: s04, duration: 2.5, prompt: sky}
"""


def storyboard(folder: Path, music: str):
    path = folder / "film.yaml"
    path.write_text("version: 1\ntitle: Music Test\ndefaults: {backend: animatic}\nmusic:\n"
                    + textwrap.indent(textwrap.dedent(music), "  ") + SHOTS, encoding="utf-8")
    return load_storyboard(path)


def window(samples: np.ndarray, start: float, end: float) -> np.ndarray:
    return samples[int(start * SAMPLE_RATE): int(end * SAMPLE_RATE)]


def test_score_settings_come_from_the_prompt():
    calm = score_settings("opening", "slow hopeful strings, 70 bpm")
    assert (calm.bpm, calm.minor, calm.busy) == (70, False, False)
    dark = score_settings("night", "dark tense pulse in D minor")
    assert (dark.minor, dark.key) == (True, 2) and dark.describe() == "90 bpm, D minor"
    assert score_settings("chase", "fast energetic action").bpm == 120
    assert score_settings("same", None) == score_settings("same", "")  # stable key per cue name


def test_procedural_score_is_music_not_noise():
    settings = score_settings("opening", "hopeful, 120 bpm in C major")
    music = render_score(settings, 8.0)
    assert music.shape == (8 * SAMPLE_RATE, 2)
    assert 0.5 < np.abs(music).max() <= 0.9 + 1e-6
    # Energy sits on the notes of C major: the strongest spectral peaks are in-key pitches.
    spectrum = np.abs(np.fft.rfft(music[:, 0]))
    frequencies = np.fft.rfftfreq(music.shape[0], 1 / SAMPLE_RATE)
    strongest = frequencies[np.argsort(spectrum)[-20:]]
    pitch_classes = {round(12 * np.log2(f / 440.0) + 69) % 12 for f in strongest if f > 30}
    assert pitch_classes <= {0, 2, 4, 5, 7, 9, 11}


def test_bed_spans_the_film_with_cues_levelled_placed_and_crossfaded(tmp_path):
    board = storyboard(tmp_path, """\
        - {cue: opening, prompt: "slow hopeful strings, 70 bpm", from: s02, to: s03, volume_db: -18}
        - {cue: finale, prompt: "dark tense", from: s04, to: s04, volume_db: -30}
        """)
    result = render_audio(board, tmp_path / "out")
    assert result.narration == {}
    assert [(cue.cue, start, end) for cue, start, end in result.cues] == [("opening", 2.0, 9.5), ("finale", 9.5, 12.0)]
    assert result.synthesized == ["music opening", "music finale"]
    assert "procedural score, 70 bpm" in result.messages[0]

    assert probe(result.music_bed, MediaKind.AUDIO).sample_rate == SAMPLE_RATE
    bed, rate = read_wav(result.music_bed)
    assert bed.shape == (12 * SAMPLE_RATE, 2)  # the film's length to the sample
    assert np.abs(window(bed, 0.0, 2.0)).max() == 0  # no cue over s01
    assert rms_db(window(bed, 2.0, 2.05)) < rms_db(window(bed, 4.0, 8.0)) - 20  # fades in from its start
    assert rms_db(window(bed, 4.0, 8.0)) == pytest.approx(-18, abs=2.5)
    assert rms_db(window(bed, 10.5, 11.0)) == pytest.approx(-30, abs=4)
    # The boundary at 9.5 s crossfades (1.25 s, half of the 2.5 s finale): sound throughout, no gap.
    for start in np.arange(8.9, 10.1, 0.1):
        assert rms_db(window(bed, start, start + 0.1)) > -40
    assert rms_db(window(bed, 11.95, 12.0)) < -45  # fades out at the film's end

    again = render_audio(board, tmp_path / "out")
    assert again.synthesized == []


def test_user_file_is_looped_and_cut_to_its_span(tmp_path):
    tone = tmp_path / "tone.wav"
    run_ffmpeg(["-f", "lavfi", "-i", "sine=frequency=440:duration=1.5:sample_rate=44100", str(tone)], what="test tone")
    board = storyboard(tmp_path, "- {cue: theme, file: tone.wav, from: s01, to: s02, volume_db: -20}\n")
    result = render_audio(board, tmp_path / "out")
    assert "file tone.wav" in result.messages[0]
    bed, _ = read_wav(result.music_bed)
    looped = window(bed, 3.0, 5.0)[:, 0]  # past the end of the 1.5 s file: it loops
    assert rms_db(looped) == pytest.approx(-20, abs=1)
    peak = np.fft.rfftfreq(looped.size, 1 / SAMPLE_RATE)[np.argmax(np.abs(np.fft.rfft(looped)))]
    assert peak == pytest.approx(440, abs=1)
    assert np.abs(window(bed, 6.0, 12.0)).max() == 0  # cut at the end of s02

    (tmp_path / "notes.mp3").write_text("not audio", encoding="utf-8")
    with pytest.raises(StoryboardError, match=r"music\[0\]\.file: notes.mp3 is not an audio file FFmpeg can read"):
        storyboard(tmp_path, "- {cue: theme, file: notes.mp3}\n")


def build_tiny_musicgen(folder: Path) -> None:
    """A randomly initialised MusicGen a few hundred kB in size, with the real model's layout."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        EncodecConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        PreTrainedTokenizerFast,
        T5Config,
    )

    words = ["<pad>", "</s>", "<unk>", "slow", "hopeful", "strings"]
    tokenizer = Tokenizer(models.WordLevel({word: i for i, word in enumerate(words)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>",
                            unk_token="<unk>").save_pretrained(folder)
    # 32 kHz and 50 codec frames a second, as musicgen-small; 4 codebooks of 64 entries.
    config = MusicgenConfig(
        text_encoder=T5Config(vocab_size=len(words), d_model=8, d_kv=4, d_ff=16, num_layers=1, num_heads=2),
        audio_encoder=EncodecConfig(sampling_rate=32000, hidden_size=8, num_filters=2, num_lstm_layers=1,
                                    upsampling_ratios=[8, 5, 4, 4], codebook_size=64, target_bandwidths=[1.2]),
        decoder=MusicgenDecoderConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                      ffn_dim=32, num_codebooks=4, pad_token_id=64, bos_token_id=64),
    )
    torch.manual_seed(0)
    model = MusicgenForConditionalGeneration(config)
    model.generation_config.pad_token_id = 64
    model.generation_config.decoder_start_token_id = 64
    model.save_pretrained(folder)


@pytest.mark.slow
@pytest.mark.needs("music")
def test_tiny_musicgen_continues_window_by_window(tmp_path, monkeypatch):
    build_tiny_musicgen(tmp_path / "models" / "musicgen")
    # Short windows so a 2 s cue takes three windows, as a long cue does with 30 s ones.
    monkeypatch.setattr(musicgen, "WINDOW_SECONDS", 1.0)
    monkeypatch.setattr(musicgen, "CONTEXT_SECONDS", 0.5)
    board = storyboard(tmp_path, "- {cue: opening, prompt: slow hopeful strings, from: s01, to: s01}\n")
    result = render_audio(board, tmp_path / "out", models_dir=tmp_path / "models")
    assert result.messages[0].startswith("music cue 'opening' (0-2 s): MusicGen from")
    cue_audio, rate = read_wav(tmp_path / "out" / "audio" / "music" / "01-opening.wav")
    assert rate == SAMPLE_RATE and cue_audio.shape == (2 * SAMPLE_RATE, 2)
    for start in (0.0, 0.5, 1.0, 1.5):  # every window produced sound
        assert rms_db(window(cue_audio, start, start + 0.5)) > -60
    bed, _ = read_wav(result.music_bed)
    assert bed.shape == (12 * SAMPLE_RATE, 2)
    assert np.abs(window(bed, 2.0, 12.0)).max() == 0

    assert render_audio(board, tmp_path / "out", models_dir=tmp_path / "models").synthesized == []
