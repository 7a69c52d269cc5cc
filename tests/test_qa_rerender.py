"""The QA stage in the runner: `qa: {on_fail: rerender}` renders a failing shot again with a new seed
and keeps the attempt that passes (or the best one); every attempt's scores go in the manifest.

The backend is a fake (tests/qa_fake_worker.py) that draws synthetic clips: a bad one on the
attempts a test asks for, a clean one after.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from render_pipeline.cli import app
from render_pipeline.planner.plan import make_plan
from render_pipeline.qa.attempts import NO_LETTERING, qa_seed
from render_pipeline.qa.check import check_shot
from render_pipeline.runner import RunOptions, run_jobs
from render_pipeline.runner.jobs import build_jobs
from render_pipeline.storyboard import load_storyboard

FAKE_WORKER = (sys.executable, str(Path(__file__).with_name("qa_fake_worker.py")))


def render(tmp_path: Path, monkeypatch, attempts: dict, qa: str, shots: int = 1, check: bool = True):
    lines = ["version: 1", "title: QA Test", "delivery: {size: 320x180, fps: 24}",
             f"defaults: {{backend: animatic, qa: {qa}}}", "shots:"]
    lines += [f'  - {{id: s0{n}, duration: 1.5, prompt: "a harbor at dawn {n}"}}' for n in range(1, shots + 1)]
    board = tmp_path / "board.yaml"
    board.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("QA_FAKE_ATTEMPTS", json.dumps(attempts))
    monkeypatch.setenv("QA_FAKE_DIR", str(tmp_path))
    storyboard = load_storyboard(board)
    models = tmp_path / "models"
    jobs = build_jobs(storyboard, make_plan(storyboard, models_dir=models), tmp_path / "out", models)
    for job in jobs:
        job.backend = "wan2.2-ti2v-5b"  # a generated shot (the animatic is only reported on); the fake draws it
    result = run_jobs(jobs, tmp_path / "out", models, RunOptions(worker_command=FAKE_WORKER, qa=check))
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())["shots"]
    renders = [json.loads(line) for line in (tmp_path / "renders.jsonl").read_text().splitlines()]
    return result, manifest, renders, jobs[0].shot.seed


def test_qa_command_checks_rendered_shots_and_exits_1_on_a_failure(tmp_path, monkeypatch):
    render(tmp_path, monkeypatch, {"s02": ["looping"]}, "{on_fail: warn}", shots=3, check=False)
    (tmp_path / "out" / "shots" / "s03.mp4").unlink()
    result = CliRunner().invoke(app, ["qa", str(tmp_path / "board.yaml"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("s01: passed (") and lines[1].startswith("s02: FAILED: loop ")
    assert "s03: not rendered" in result.stderr


def test_rerender_uses_a_new_seed_and_keeps_the_passing_attempt(tmp_path, monkeypatch):
    result, manifest, renders, seed = render(tmp_path, monkeypatch, {"s01": ["frozen"]},
                                             "{on_fail: rerender, max_attempts: 3}")
    assert result.rendered == ["s01"] and not result.failed
    assert [r["seed"] for r in renders] == [seed, qa_seed(seed, 2)] and qa_seed(seed, 2) != seed
    entry = manifest["s01"]
    assert entry["seed"] == qa_seed(seed, 2) and entry["qa"]["kept"] == 2
    first, second = entry["qa"]["attempts"]
    assert (first["seed"], first["passed"], second["passed"]) == (seed, False, True)
    assert [s["check"] for s in first["scores"] if s["flagged"]] == ["frozen"]
    shot = tmp_path / "out" / "shots" / "s01.mp4"
    assert check_shot(shot, lettering=False).passed  # the clean attempt is the file kept
    assert not list(shot.parent.glob(".s01.*"))  # no attempt left behind


def test_when_every_attempt_fails_the_best_is_kept(tmp_path, monkeypatch):
    # Flicker is far over its threshold, the freeze less so: attempt 2 is the better one.
    result, manifest, renders, seed = render(tmp_path, monkeypatch, {"s01": ["flicker", "frozen"]},
                                             "{on_fail: rerender, max_attempts: 2}")
    assert len(renders) == 2 and result.rendered == ["s01"]
    entry = manifest["s01"]
    assert entry["qa"]["kept"] == 2 and entry["seed"] == qa_seed(seed, 2)
    assert [a["passed"] for a in entry["qa"]["attempts"]] == [False, False]
    frozen = check_shot(tmp_path / "out" / "shots" / "s01.mp4", lettering=False)
    assert [s.check for s in frozen.flagged] == ["frozen"]


def test_warn_policy_keeps_the_one_attempt_and_records_its_scores(tmp_path, monkeypatch):
    result, manifest, renders, seed = render(tmp_path, monkeypatch, {"s01": ["looping"]}, "{on_fail: warn}")
    assert len(renders) == 1 and result.rendered == ["s01"]
    (attempt,) = manifest["s01"]["qa"]["attempts"]
    assert attempt["passed"] is False and [s["check"] for s in attempt["scores"] if s["flagged"]] == ["loop"]
    assert f"QA attempt 1 (seed {seed}) failed: loop" in (tmp_path / "out" / "logs" / "s01.log").read_text()


@pytest.mark.needs("qa")
def test_lettering_is_rendered_again_with_a_stronger_negative_prompt(tmp_path, monkeypatch):
    result, manifest, renders, seed = render(tmp_path, monkeypatch, {"s01": ["lettered"]},
                                             "{on_fail: rerender, max_attempts: 3}")
    assert [r["kind"] for r in renders] == ["lettered", "clean"]
    assert NO_LETTERING not in renders[0]["negative_prompt"] and NO_LETTERING in renders[1]["negative_prompt"]
    encoded = [json.loads(line)["negative_prompt"] for line in (tmp_path / "encoded.jsonl").read_text().splitlines()]
    assert renders[1]["negative_prompt"] in encoded  # encoded with the others, before the denoiser loaded
    first, second = manifest["s01"]["qa"]["attempts"]
    lettering = next(s for s in first["scores"] if s["check"] == "lettering")
    assert lettering["flagged"] and lettering["text"] and set(lettering["box"]) == {"x0", "y0", "x1", "y1"}
    assert second["passed"] and manifest["s01"]["settings"]["negative_prompt"] == renders[1]["negative_prompt"]
