"""XTTS v2 narration: a tiny random XTTS (tests/assets/tiny_xtts.py) speaking a film through render-all, in
the XTTS environment's worker; and the messages for bad references, languages, weights and environments."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from render_pipeline.audio import render_audio
from render_pipeline.audio.tts import xtts
from render_pipeline.audio.tts.xtts_env import ENV_VARIABLE
from render_pipeline.doctor import check_xtts
from render_pipeline.errors import UserError
from render_pipeline.media.ffmpeg import run_ffmpeg
from render_pipeline.storyboard import StoryboardError, load_storyboard

TINY_SENTENCE_SECONDS = 23_296 / 24_000  # 24 codes of 1024 samples at 22.05 kHz, decoded at 24 kHz
FILM = """\
version: 1
title: Cloned Voice
delivery: {size: 320x180, fps: 24}
defaults: {backend: animatic, transition: {type: cut}}
voice: {engine: xtts, voice: narrator.wav, language: %s}
shots:
  - {id: s01, duration: 3, prompt: a harbor at dawn, narration: "The fleet comes home. The ships turn in."}
  - {id: s02, duration: 2, prompt: a dock, narration: "Sailors wave."}
  - {id: s03, duration: 2, prompt: the open sea, narration: "Gulls follow."}
"""


def write_film(folder: Path, language: str = "en") -> Path:
    (folder / "film.yaml").write_text(FILM % language, encoding="utf-8")
    return folder / "film.yaml"


def record(path: Path, source: str) -> None:
    run_ffmpeg(["-f", "lavfi", "-i", source, "-ar", "22050", "-y", str(path)], what="writing a reference recording")


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory) -> Path:
    """<models dir>/xtts_v2 holding a tiny random XTTS, built by the XTTS environment's python."""
    models = tmp_path_factory.mktemp("models")
    python = Path(os.environ[ENV_VARIABLE]) / "bin" / "python"
    built = subprocess.run([str(python), str(Path(__file__).parent / "assets" / "tiny_xtts.py"), str(models / "xtts_v2")],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-2000:]
    return models


@pytest.mark.needs("xtts")
@pytest.mark.slow
def test_tiny_xtts_narrates_a_film_through_render_all(tmp_path, tiny_weights, capfd):
    from render_pipeline.film import render_all

    record(tmp_path / "narrator.wav", "sine=f=180:d=6")
    (Path(os.environ[ENV_VARIABLE]) / xtts.LICENCE_SEEN).unlink(missing_ok=True)
    film = load_storyboard(write_film(tmp_path))
    out = tmp_path / "out"
    render_all(film, out, models_dir=tiny_weights, quiet=True)
    assert capfd.readouterr().err.count("Coqui Public Model License") == 1

    clips = out / "audio" / "narration"
    records = {shot: json.loads((clips / f"{shot}.json").read_text()) for shot in ("s01", "s02", "s03")}
    # Random weights never stop early: every sentence is the tiny model's full length, trimmed
    # of at most its near-silent ends; s01's two sentences have the 0.3 s pause between them.
    for shot, sentence_count in (("s01", 2), ("s02", 1), ("s03", 1)):
        sentences = records[shot]["sentences"]
        assert len(sentences) == sentence_count
        for _, start, end in sentences:
            assert TINY_SENTENCE_SECONDS - 0.05 <= end - start <= TINY_SENTENCE_SECONDS + 1e-9
        assert (clips / f"{shot}.wav").stat().st_size > 0
    assert records["s01"]["sentences"][1][1] == pytest.approx(records["s01"]["sentences"][0][2] + 0.3, abs=1e-3)

    # The captions are those sentences, placed at their shots' starts (cuts: 0, 3 and 5 s).
    cues = re.findall(r"(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})\n(.+)\n",
                      (out / "final.srt").read_text(encoding="utf-8"))
    expected = [(text, shot_start + start, shot_start + end)
                for shot, shot_start in (("s01", 0), ("s02", 3), ("s03", 5))
                for text, start, end in records[shot]["sentences"]]
    assert [cue[8] for cue in cues] == [text for text, _, _ in expected]
    for cue, (_, start, end) in zip(cues, expected):
        got_start = int(cue[0]) * 3600 + int(cue[1]) * 60 + int(cue[2]) + int(cue[3]) / 1000
        got_end = int(cue[4]) * 3600 + int(cue[5]) * 60 + int(cue[6]) + int(cue[7]) / 1000
        assert (got_start, got_end) == (pytest.approx(start, abs=0.0011), pytest.approx(end, abs=0.0011))

    # A rerun synthesises nothing: every clip is the file already there.
    made = {shot: (clips / f"{shot}.wav").stat().st_mtime_ns for shot in records}
    render_all(film, out, models_dir=tiny_weights, quiet=True)
    assert {shot: (clips / f"{shot}.wav").stat().st_mtime_ns for shot in records} == made

    # Another reference recording re-synthesises every shot (and the notice is not printed again).
    capfd.readouterr()
    record(tmp_path / "narrator.wav", "sine=f=240:d=7")
    render_all(load_storyboard(write_film(tmp_path)), out, models_dir=tiny_weights, quiet=True)
    assert all((clips / f"{shot}.wav").stat().st_mtime_ns != made[shot] for shot in records)
    assert all(json.loads((clips / f"{shot}.json").read_text())["key"] != records[shot]["key"] for shot in records)
    assert "Coqui Public Model License" not in capfd.readouterr().err


def fake_weights(models: Path, languages: list[str]) -> None:
    """The files of a weights folder; only config.json's language list is read before the worker starts."""
    (models / "xtts_v2").mkdir(parents=True)
    (models / "xtts_v2" / "config.json").write_text(json.dumps({"languages": languages}), encoding="utf-8")
    for name in ("model.pth", "vocab.json"):
        (models / "xtts_v2" / name).write_bytes(b"")


@pytest.mark.parametrize(("make_reference", "message"), [
    (lambda path: record(path, "sine=f=180:d=1.5"), r"narrator.wav is 1.5 s long; XTTS needs at least 3 s"),
    (lambda path: record(path, "anullsrc=d=8"), r"narrator.wav is silent"),
    # Found by validate already, with the file's line and column.
    (lambda path: path.write_text("not a recording", encoding="utf-8"),
     r"film.yaml:5:30: voice.voice: narrator.wav is not an audio file FFmpeg can read"),
])
def test_bad_reference_names_the_file_and_the_fix(tmp_path, make_reference, message):
    make_reference(tmp_path / "narrator.wav")
    fake_weights(tmp_path / "models", ["en"])
    with pytest.raises((UserError, StoryboardError), match=message):
        render_audio(load_storyboard(write_film(tmp_path)), tmp_path / "out", models_dir=tmp_path / "models")


def test_missing_weights_language_or_environment_say_what_to_do(tmp_path, monkeypatch):
    record(tmp_path / "narrator.wav", "sine=f=180:d=6")
    film = load_storyboard(write_film(tmp_path, language="fr"))
    with pytest.raises(UserError, match=r"XTTS v2 weights missing from .*xtts_v2 \(config.json, model.pth, vocab.json\)"
                                        r": download .* coqui/XTTS-v2"):
        render_audio(film, tmp_path / "out", models_dir=tmp_path / "models")
    fake_weights(tmp_path / "models", ["en", "de"])
    with pytest.raises(UserError, match=r"voice.language: XTTS v2 does not speak 'fr'; choose one of en, de"):
        render_audio(film, tmp_path / "out", models_dir=tmp_path / "models")
    monkeypatch.setenv(ENV_VARIABLE, str(tmp_path / "no-env"))
    with pytest.raises(UserError, match=r"no XTTS environment in .*no-env: run `render-pipeline setup-xtts`"):
        render_audio(load_storyboard(write_film(tmp_path)), tmp_path / "out", models_dir=tmp_path / "models")
    assert [(check.status, check.fix) for check in check_xtts(tmp_path / "models")] == \
        [("warn", f"no XTTS environment in {tmp_path / 'no-env'}: run `render-pipeline setup-xtts` (a venv of about 5.5 GB)")]


@pytest.mark.needs("xtts")
def test_doctor_reports_the_environment_the_weights_and_their_licence(tmp_path, tiny_weights):
    checks = {check.name: check for check in check_xtts(tiny_weights)}
    assert checks["xtts"].status == "ok" and re.fullmatch(
        r"coqui-tts 0\.28\.0, torch 2\.11\.0\S*, on the (GPU|CPU \(no usable GPU\))", checks["xtts"].detail)
    assert checks["weights xtts"].status == "ok" and "non-commercial use only" in checks["weights xtts"].detail
    empty = tmp_path / "models"
    assert [check.status for check in check_xtts(empty)] == ["ok", "warn"]
    assert "coqui/XTTS-v2" in check_xtts(empty)[1].fix


def test_a_language_that_is_not_a_code_is_found_by_validate(tmp_path):
    record(tmp_path / "narrator.wav", "sine=f=180:d=6")
    with pytest.raises(StoryboardError, match=r"film.yaml:5:54: voice.language: a language code such as en, de or "
                                              r"zh-cn \(got 'English'\)"):
        load_storyboard(write_film(tmp_path, language="English"))


@pytest.mark.needs("xtts")
def test_weights_the_worker_cannot_load_stop_the_run_naming_them_and_the_fix(tmp_path):
    record(tmp_path / "narrator.wav", "sine=f=180:d=6")
    fake_weights(tmp_path / "models", ["en"])  # an empty model.pth
    with pytest.raises(UserError, match=r"xtts failed loading the model \(weights .*xtts_v2\): Exception: EOF while "
                                        r"parsing a value at line 1 column 0\nDownload config.json, model.pth and vocab.json "
                                        r"of the Hugging Face repository coqui/XTTS-v2 into .*xtts_v2 again"):
        render_audio(load_storyboard(write_film(tmp_path)), tmp_path / "out", models_dir=tmp_path / "models")


@pytest.mark.needs("xtts")
def test_auto_picks_xtts_and_narration_longer_than_its_shot_is_refused(tmp_path, tiny_weights):
    record(tmp_path / "narrator.wav", "sine=f=180:d=6")
    (tmp_path / "film.yaml").write_text(
        "version: 1\ntitle: Too Long\ndefaults: {backend: animatic}\nvoice: {engine: auto, voice: narrator.wav}\n"
        "shots:\n  - {id: s01, duration: 0.8, prompt: a harbor, narration: \"Dawn.\"}\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"narration longer than its shot \(xtts v2, voice cloned from narrator.wav, "
                                        r"language en\): shot 's01': narration measures 0.9\d s but 0.8 s are allowed"):
        render_audio(load_storyboard(tmp_path / "film.yaml"), tmp_path / "out", models_dir=tiny_weights)
