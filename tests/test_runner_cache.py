"""Cache and resume: a second run renders nothing; one changed prompt re-renders one shot; the CLI."""

import json
import time

from typer.testing import CliRunner

from render_pipeline.cli import app
from render_pipeline.media.ffmpeg import count_frames, probe
from render_pipeline.runner import run_jobs
from tests.test_runner_faults import FPS, jobs_for, manifest, write_storyboard


def with_out(board, out):
    jobs, models = jobs_for(board, out)
    return jobs, out, models


def test_second_run_renders_nothing_and_is_much_faster(tmp_path):
    board, out = write_storyboard(tmp_path, shots=4, duration=2.0), tmp_path / "out"
    began = time.monotonic()
    jobs, models = jobs_for(board, out)
    first = run_jobs(jobs, out, models)
    first_seconds = time.monotonic() - began
    began = time.monotonic()
    jobs, models = jobs_for(board, out)
    second = run_jobs(jobs, out, models)
    second_seconds = time.monotonic() - began
    assert first.rendered == ["s01", "s02", "s03", "s04"] and second.rendered == [] and len(second.cached) == 4
    assert second_seconds < 0.1 * first_seconds, (first_seconds, second_seconds)


def test_changing_one_prompt_renders_that_shot_only(tmp_path):
    board, out = write_storyboard(tmp_path), tmp_path / "out"
    run_jobs(*with_out(board, out))
    keys = {s: e["key"] for s, e in manifest(out).items()}
    board.write_text(board.read_text().replace("a harbor at dawn 2", "a lighthouse at night"))
    again = run_jobs(*with_out(board, out))
    assert again.rendered == ["s02"] and again.cached == ["s01", "s03"]
    assert manifest(out)["s02"]["key"] != keys["s02"] and manifest(out)["s01"]["key"] == keys["s01"]


def test_cli_render_shot_and_render_all_write_the_agreed_layout(tmp_path):
    board, out = write_storyboard(tmp_path, shots=2, duration=1.5), tmp_path / "out"
    runner = CliRunner()
    one = runner.invoke(app, ["render-shot", str(board), "s02", "--out", str(out), "--quiet"])
    assert one.exit_code == 0, one.output
    assert json.loads((out / "manifest.json").read_text())["shots"].keys() == {"s02"}
    every = runner.invoke(app, ["render-all", str(board), "--out", str(out), "--no-assemble", "--quiet"])
    assert every.exit_code == 0, every.output
    assert "1 rendered, 1 already done, 0 failed" in every.output
    info = probe(out / "shots" / "s01.mp4")
    assert (info.width, info.height, info.has_audio) == (192, 108, False)
    assert count_frames(out / "shots" / "s01.mp4") == round(1.5 * FPS)
    assert (out / "logs" / "s01.log").is_file()
    missing = runner.invoke(app, ["render-shot", str(board), "s09", "--out", str(out)])
    assert missing.exit_code == 2 and "no shot 's09'" in missing.output
