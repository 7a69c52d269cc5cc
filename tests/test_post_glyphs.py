"""Overlay characters no installed font draws (they would be burned in as empty boxes) stop render-shot,
render-all and assemble before anything renders, naming the shot, the overlay, the characters and the
package to install; --allow-missing-glyphs draws them anyway."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from render_pipeline.cli import app
from render_pipeline.media import fonts
from render_pipeline.storyboard import load_storyboard


def glyph_problems(storyboard):
    from render_pipeline.post.glyphs import glyph_problems

    return glyph_problems(storyboard)


def board(folder: Path, *overlays: str, prompt: str = "a calm sea") -> Path:
    path = folder / "board.yaml"
    items = "".join(f"      - {{text: {json.dumps(text, ensure_ascii=False)}}}\n" for text in overlays)
    path.write_text("version: 1\ntitle: Glyphs\ndelivery: {size: 160x90, fps: 24}\ndefaults: {backend: animatic}\n"
                    f"shots:\n  - id: s01\n    duration: 1\n    prompt: {json.dumps(prompt, ensure_ascii=False)}\n    overlays:\n{items}",
                    encoding="utf-8")
    return path


@pytest.fixture
def only_dejavu(tmp_path, monkeypatch):
    """A machine whose only fonts are DejaVu (no CJK font), as fontconfig (and so libass) sees it."""
    config = tmp_path / "fonts.conf"
    config.write_text(f'<?xml version="1.0"?>\n<fontconfig><dir>{fonts.find_font().path.parent}</dir>'
                      f"<cachedir>{tmp_path / 'fc-cache'}</cachedir></fontconfig>\n", encoding="utf-8")
    monkeypatch.setenv("FONTCONFIG_FILE", str(config))
    fonts._drawable_ranges.cache_clear()
    yield
    fonts._drawable_ranges.cache_clear()


def test_characters_every_font_lacks_are_named_with_the_package(tmp_path):
    storyboard = load_storyboard(board(tmp_path, "Harbor", "Crab \U0001F980 and rocket \U0001F680", "private \ue000"))
    assert glyph_problems(storyboard) == [
        "shot s01, overlay 2 ('Crab \U0001F980 and rocket \U0001F680'): \U0001F980 (U+1F980), \U0001F680 (U+1F680): "
        "install fonts-symbola (Debian/Ubuntu: apt install fonts-symbola)",
        "shot s01, overlay 3 ('private \\ue000'): \ue000 (U+E000): no font has these (private use or unassigned); "
        "remove them"]


def test_text_the_fonts_draw_passes(tmp_path):
    text = "Harbor ☀ שלום Ελλάδα Москва e\u0301 \u200f\u2066bidi\u2069 tab\tand\nline"
    assert glyph_problems(load_storyboard(board(tmp_path, text))) == []


def test_cjk_without_a_cjk_font_is_found(tmp_path, only_dejavu):
    storyboard = load_storyboard(board(tmp_path, "港口", prompt='a banner reading "重开"'))
    assert glyph_problems(storyboard) == [
        "shot s01, overlay 1 ('港口'): 港 (U+6E2F), 口 (U+53E3): install fonts-noto-cjk (Debian/Ubuntu: apt install "
        "fonts-noto-cjk)",
        "shot s01, the caption taken from its prompt ('重开'): 重 (U+91CD), 开 (U+5F00): install fonts-noto-cjk "
        "(Debian/Ubuntu: apt install fonts-noto-cjk)"]


@pytest.mark.parametrize("command", [["render-all"], ["render-shot", "s01"], ["assemble"]])
def test_each_command_stops_before_rendering(tmp_path, command):
    path = board(tmp_path, "Crab \U0001F980")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [command[0], str(path), *command[1:], "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "shot s01, overlay 1 ('Crab \U0001F980'): \U0001F980 (U+1F980): install fonts-symbola" in result.output
    assert "--allow-missing-glyphs" in result.output and "Traceback" not in result.output
    assert not list(out.glob("**/*.mp4")) and not (out / "audio").exists()


def test_allowing_missing_glyphs_renders_the_film_with_a_warning(tmp_path):
    path = board(tmp_path, "Crab \U0001F980")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["render-all", str(path), "--out", str(out), "--quiet", "--allow-missing-glyphs"])
    assert result.exit_code == 0, result.output
    assert "drawn as boxes: shot s01, overlay 1" in result.output and (out / "final.mp4").is_file()
