"""The render commands say where every file they write went, render-shot --force, and --help in plain words."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from render_pipeline.cli import app
from tests.test_runner_faults import write_storyboard

COMMANDS = ["validate", "assemble", "prompts", "plan", "render-shot", "render-all", "doctor"]


def wrote(output: str) -> list[str]:
    return re.findall(r"^wrote (.+)$", output, re.MULTILINE)


def test_render_shot_prints_the_shot_it_wrote_and_force_renders_it_again(tmp_path):
    board, out = write_storyboard(tmp_path, shots=2), tmp_path / "out"
    runner = CliRunner()
    first = runner.invoke(app, ["render-shot", str(board), "s02", "--out", str(out), "--quiet"])
    assert first.exit_code == 0, first.output
    assert wrote(first.output) == [str(out / "shots" / "s02.mp4")]
    again = runner.invoke(app, ["render-shot", str(board), "s02", "--out", str(out), "--quiet"])
    assert "0 rendered, 1 already done" in again.output and wrote(again.output) == []
    stamp = (out / "shots" / "s02.mp4").stat().st_mtime_ns
    forced = runner.invoke(app, ["render-shot", str(board), "s02", "--out", str(out), "--quiet", "--force"])
    assert forced.exit_code == 0, forced.output
    assert "1 rendered, 0 already done" in forced.output and wrote(forced.output) == [str(out / "shots" / "s02.mp4")]
    assert (out / "shots" / "s02.mp4").stat().st_mtime_ns != stamp


def test_render_all_prints_each_shot_and_each_file_of_the_film(tmp_path):
    board, out = write_storyboard(tmp_path, shots=2), tmp_path / "out"
    result = CliRunner().invoke(app, ["render-all", str(board), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    names = ["shots/s01.mp4", "shots/s02.mp4", "final.mp4", "final.srt", "final.vtt", "timeline.otio", "timeline.xml",
             "review.html"]
    assert wrote(result.output) == [str(out / name) for name in names]
    assert all((out / name).is_file() for name in names)
    again = CliRunner().invoke(app, ["render-all", str(board), "--out", str(out), "--quiet"])
    assert again.exit_code == 0, again.output
    assert "0 rendered, 2 already done" in again.output
    assert f"assembly: nothing it reads changed; kept {out / 'final.mp4'}" in again.output


@pytest.mark.parametrize("command", COMMANDS)
def test_help_names_values_in_plain_words(command):
    result = CliRunner().invoke(app, [command, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    # Typer names a value by its Python type unless told otherwise: <path>, <str>, <list[Path]>, <int>.
    assert not re.search(r"<(path|str|int|float|bool|list\[\w+\]|file|directory)>", result.output), result.output
    assert "STORYBOARD" in result.output
