"""Inputs a hostile storyboard folder can plant: media that names other files, links out of the folder.

Every path the storyboard can name (a shot's source and image, a music file, the voice, the
lexicon) is refused by `validate` when it is not a plain local file of an allowed kind; and
every FFmpeg call that reads a file opens it through the same whitelists, so a file swapped
after validation is refused as well.
"""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from render_pipeline.audio.lexicon import load_lexicon
from render_pipeline.audio.tts.base import voice_file
from render_pipeline.audio.wav import decode_audio
from render_pipeline.backends.animatic import AnimaticSession
from render_pipeline.backends.base import RenderRequest
from render_pipeline.cli import app
from render_pipeline.errors import UserError
from render_pipeline.media.ffmpeg import FfmpegError, count_frames, ffmpeg_exe, probe
from render_pipeline.media.retime import Interpolation
from render_pipeline.post.audio_mix import mean_volume_db
from render_pipeline.runner.footage import conform_footage
from render_pipeline.storyboard import StoryboardError, load_storyboard

REPO = Path(__file__).resolve().parents[1]


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def outside(tmp_path_factory) -> Path:
    """A folder beside the storyboard's, holding media a storyboard must never reach."""
    folder = tmp_path_factory.mktemp("outside")
    ffmpeg("-f", "lavfi", "-i", "color=c=red:s=64x36:r=24:d=2", "-c:v", "libx264", "-f", "mpegts",
           str(folder / "secret.ts"))
    ffmpeg("-f", "lavfi", "-i", "sine=f=440:d=2", str(folder / "secret.wav"))
    ffmpeg("-f", "lavfi", "-i", "color=c=red:s=64x36", "-frames:v", "1", str(folder / "secret.png"))
    (folder / "secret.txt").write_text("root:x:0:0:the secret first line\n", encoding="utf-8")
    return folder


def playlist(target: Path) -> str:
    """An HLS playlist naming one file anywhere on the machine."""
    return f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n{target}\n#EXT-X-ENDLIST\n"


def concat_list(target: Path) -> str:
    return f"ffconcat version 1.0\nfile '{target}'\n"


BOARD = """\
version: 1
title: Hostile
delivery: {{size: 160x90, fps: 24}}
defaults: {{backend: animatic}}
music:
  - {{cue: bed, file: {music}}}
shots:
  - id: s01
    duration: 1
    source: {source}
    trim: [0.5, 1.5]
  - id: s02
    duration: 1
    prompt: a field
    image: {image}
"""


@pytest.fixture
def board(tmp_path: Path):
    """A storyboard folder with good media; ``write(source=..., image=..., music=...)`` names other files."""
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=64x36:r=24:d=2", "-pix_fmt", "yuv420p", "-c:v", "libx264",
           str(tmp_path / "good.mp4"))
    ffmpeg("-f", "lavfi", "-i", "color=c=blue:s=64x36", "-frames:v", "1", str(tmp_path / "good.png"))
    ffmpeg("-f", "lavfi", "-i", "sine=f=220:d=2", str(tmp_path / "good.wav"))

    def write(source: str = "good.mp4", image: str = "good.png", music: str = "good.wav") -> Path:
        path = tmp_path / "board.yaml"
        path.write_text(BOARD.format(source=source, image=image, music=music), encoding="utf-8")
        return path

    return write


# Debian's FFmpeg 5.1 recognises a playlist or a concat list under a media file's name, and the demuxer
# whitelist refuses it by name; newer builds (the pip one, 7.1 and later) do not even recognise it there and
# find no media in it. Either way the file is refused at its place and nothing it names is read.
REFUSED_BY_NAME = "'{kind}' file to FFmpeg"
NO_MEDIA_FOUND = "FFmpeg can read"
FFMPEG_REFUSED = "Format not on whitelist|Invalid data found when processing input"


def refused_as(kind: str, message: str) -> bool:
    return REFUSED_BY_NAME.format(kind=kind) in message or NO_MEDIA_FOUND in message


def problems(path: Path) -> list[str]:
    with pytest.raises(StoryboardError) as caught:
        load_storyboard(path)
    return [str(problem) for problem in caught.value.problems]


def test_good_media_validates(board):
    assert [shot.id for shot in load_storyboard(board()).shots] == ["s01", "s02"]


@pytest.mark.parametrize("field, line, column, name", [
    ("source", 10, 13, "dock.mp4"), ("source", 10, 13, "dock.m3u8"),
    ("image", 15, 12, "bow.png"), ("music", 6, 22, "theme.mp3"),
])
def test_a_playlist_is_refused_wherever_media_is_named(board, outside, field, line, column, name):
    path = board(**{field: name})
    (path.parent / name).write_text(playlist(outside / ("secret.png" if field == "image" else "secret.ts")))
    where = {"source": "shots[0].source", "image": "shots[1].image", "music": "music[0].file"}[field]
    found = problems(path)
    assert len(found) == 1 and found[0].startswith(f"{path}:{line}:{column}: {where}: {name} "), found
    if field != "image":  # a still is read by its bytes alone: a playlist is simply not an image
        assert refused_as("hls", found[0]), found


def test_a_concat_list_is_refused_as_footage_and_as_music(board, outside):
    path = board(source="list.mp4", music="list.wav")
    (path.parent / "list.mp4").write_text(concat_list(outside / "secret.ts"))
    (path.parent / "list.wav").write_text(concat_list(outside / "secret.wav"))
    found = problems(path)
    assert [line.split(": ")[1] for line in found] == ["music[0].file", "shots[0].source"], found
    assert all(refused_as("concat", line) for line in found), found


@pytest.mark.parametrize("content", [b"", b"just some notes\n", b"\x89PNG\r\n\x1a\n truncated"])
def test_an_image_that_is_not_a_picture_fails_validate(board, content):
    path = board(image="bow.png")
    (path.parent / "bow.png").write_bytes(content)
    assert problems(path) == [f"{path}:15:12: shots[1].image: bow.png is not an image FFmpeg can read"]


def test_validate_cli_refuses_a_playlist_with_its_place(board, outside):
    path = board(source="dock.mp4")
    (path.parent / "dock.mp4").write_text(playlist(outside / "secret.ts"))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and f"{path}:10:13: shots[0].source: dock.mp4 " in result.output
    assert refused_as("hls", result.output)
    assert "Traceback" not in result.output


# The same files, swapped in after validation: every FFmpeg call that reads a file refuses them.

def test_footage_swapped_for_a_playlist_is_not_followed(board, outside, tmp_path):
    storyboard = load_storyboard(board())
    (tmp_path / "good.mp4").write_text(playlist(outside / "secret.ts"))
    out = tmp_path / "s01.mp4"
    with pytest.raises(FfmpegError, match=FFMPEG_REFUSED):
        conform_footage(storyboard.shots[0], 64, 36, 24, 24, out, Interpolation.REPEAT, tmp_path)
    assert not out.exists() or out.stat().st_size == 0


def test_image_swapped_for_a_playlist_is_not_followed(board, outside, tmp_path):
    storyboard = load_storyboard(board())
    (tmp_path / "good.png").write_text(playlist(outside / "secret.png"))
    request = RenderRequest(shot_id="s02", prompt="a field", negative_prompt="", seed=1, width=64, height=36, fps=24,
                            frames=4, steps=0, quality="draft", image=storyboard.shots[1].image)
    with pytest.raises(FfmpegError):
        AnimaticSession().render(request, tmp_path / "s02.mp4", lambda done, total: None)


def test_music_swapped_for_a_playlist_is_not_followed(board, outside, tmp_path):
    storyboard = load_storyboard(board())
    (tmp_path / "good.wav").write_text(playlist(outside / "secret.ts"))
    with pytest.raises(FfmpegError, match=FFMPEG_REFUSED):
        decode_audio(storyboard.music[0].file, channels=2, seconds=1.0)


def test_files_the_pipeline_wrote_are_read_through_the_same_whitelists(outside, tmp_path):
    """A planted shots/<id>.mp4 or narration WAV (a cloned project's outputs/) is not followed either."""
    from render_pipeline.media.ffmpeg import MediaKind

    planted = tmp_path / "s01.mp4"
    planted.write_text(playlist(outside / "secret.ts"))
    with pytest.raises(FfmpegError):
        count_frames(planted)
    with pytest.raises(FfmpegError):
        probe(planted)
    with pytest.raises(FfmpegError):
        mean_volume_db(planted, what="measuring a planted narration")
    with pytest.raises(FfmpegError):
        probe(planted, MediaKind.AUDIO)


def test_an_image_name_is_a_name_not_a_pattern(tmp_path):
    """FFmpeg's image2 reader takes `a%d.png` as a numbered sequence and reads a1.png instead."""
    ffmpeg("-f", "lavfi", "-i", "color=c=blue:s=64x36", "-frames:v", "1", str(tmp_path / "blue.png"))
    (tmp_path / "blue.png").rename(tmp_path / "a%d.png")
    ffmpeg("-f", "lavfi", "-i", "color=c=red:s=64x36", "-frames:v", "1", str(tmp_path / "a1.png"))
    request = RenderRequest(shot_id="s01", prompt="a field", negative_prompt="", seed=1, width=64, height=36, fps=24,
                            frames=2, steps=0, quality="draft", image=tmp_path / "a%d.png")
    out = tmp_path / "s01.mp4"
    AnimaticSession().render(request, out, lambda done, total: None)
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(out), "-frames:v", "1", "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], check=True, capture_output=True).stdout
    pixel = np.frombuffer(raw, np.uint8).reshape(36, 64, 3)[30, 32].astype(int)
    assert pixel[2] > pixel[0] + 50, pixel  # blue, as in the file named, not red as in a1.png


def test_render_all_never_puts_outside_media_in_the_film(board, outside, tmp_path):
    storyboard = load_storyboard(board())
    (tmp_path / "good.mp4").write_text(playlist(outside / "secret.ts"))
    from render_pipeline.film import render_all

    result = render_all(replace(storyboard, music=[]), tmp_path / "out", quiet=True)
    assert list(result.failed) == ["s01"] and result.assembly is None
    assert not (tmp_path / "out" / "final.mp4").exists() and not (tmp_path / "out" / "shots" / "s01.mp4").exists()


# Voice files and the lexicon: confined to the storyboard's folder like media.

def voice_board(folder: Path, voice: str) -> Path:
    path = folder / "voice.yaml"
    path.write_text(f"version: 1\ntitle: Voice\nvoice: {{engine: auto, voice: {voice}}}\n"
                    "shots:\n  - {id: s01, duration: 3, prompt: a field, narration: Hello.}\n", encoding="utf-8")
    return path


def test_a_voice_recording_linked_out_of_the_folder_is_refused(outside, tmp_path):
    (tmp_path / "me.wav").symlink_to(outside / "secret.wav")
    path = voice_board(tmp_path, "me.wav")
    assert problems(path) == [f"{path}:3:30: voice.voice: 'me.wav' leads outside the storyboard's folder (through a link)"]
    with pytest.raises(UserError, match="leads outside the storyboard's folder"):
        voice_file(tmp_path, "me.wav", "xtts reference recording")


def test_a_piper_voice_whose_config_links_out_is_refused(outside, tmp_path):
    (tmp_path / "v.onnx").write_bytes(b"onnx")
    (tmp_path / "v.onnx.json").symlink_to(outside / "secret.txt")
    path = voice_board(tmp_path, "v.onnx")
    assert problems(path) == [f"{path}:3:30: voice.voice: 'v.onnx.json' leads outside the storyboard's folder "
                              "(through a link)"]


def test_a_voice_recording_must_be_audio(outside, tmp_path):
    (tmp_path / "me.wav").write_text(playlist(outside / "secret.wav"))
    path = voice_board(tmp_path, "me.wav")
    (problem,) = problems(path)
    assert "voice.voice: me.wav " in problem and refused_as("hls", problem)


def test_a_lexicon_linked_out_is_refused_without_showing_it(outside, tmp_path):
    (tmp_path / "lexicon.txt").symlink_to(outside / "secret.txt")
    path = voice_board(tmp_path, "en-us")
    found = problems(path)
    assert found == [f"{path}:1:1: lexicon.txt (the narration's pronunciations) leads outside the storyboard's folder "
                     "through a link; copy the lexicon into the folder"]
    with pytest.raises(UserError) as caught:
        load_lexicon(tmp_path)
    assert "leads outside" in str(caught.value) and "secret" not in str(caught.value)


def test_a_lexicon_that_is_not_utf8_is_a_user_error(tmp_path):
    (tmp_path / "lexicon.txt").write_bytes(b"caf\xe9 -> cafe\n")
    with pytest.raises(UserError, match="not UTF-8"):
        load_lexicon(tmp_path)


def test_every_ffmpeg_input_goes_through_the_whitelists():
    """No module opens a file with a bare `-i`: only media_input does, with the whitelists in front."""
    bare = []
    for path in (REPO / "render_pipeline").rglob("*.py"):
        if path.name == "ffmpeg.py" or path.name == "piper.py":  # piper's own -i is its input text
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if '"-i",' in line and '"lavfi"' not in line and '"pipe:0"' not in line:  # stdin is no file
                bare.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not bare, bare


def test_a_lora_linked_out_of_the_folder_is_refused(outside, tmp_path):
    (tmp_path / "loras").mkdir()
    (tmp_path / "loras" / "look.safetensors").symlink_to(outside / "secret.txt")
    path = tmp_path / "lora.yaml"
    path.write_text("version: 1\ntitle: Lora\nshots:\n  - id: s01\n    duration: 1\n    prompt: a field\n"
                    "    loras: [{path: loras/look.safetensors}]\n", encoding="utf-8")
    assert problems(path) == [f"{path}:7:20: shots[0].loras[0].path: 'loras/look.safetensors' leads outside the "
                              "storyboard's folder (through a link)"]
