"""The planner counts windows: none past a model's trained clip, a shot's time linear in its length."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from render_pipeline.backends.specs import SPECS
from render_pipeline.cli import app
from render_pipeline.planner import make_plan
from render_pipeline.planner.plan import AUTO_ORDER
from render_pipeline.runner.jobs import build_jobs
from render_pipeline.storyboard import load_storyboard

EXAMPLES = Path(__file__).resolve().parents[1] / "storyboards"


@pytest.fixture(scope="module")
def exhibition():
    return load_storyboard(EXAMPLES / "exhibition-film.yaml")


@pytest.mark.parametrize("backend", AUTO_ORDER)
def test_no_window_of_the_exhibition_film_is_past_its_models_trained_clip(exhibition, backend):
    plan = make_plan(exhibition, gpus="1xH200", backend=backend)
    generated = [shot for shot in plan.shots if shot.backend not in ("footage", "animatic")]
    assert generated
    windowed = 0
    for shot in generated:
        spec = SPECS[shot.backend]
        frames_per_pass = shot.windows.frames if shot.windows else shot.frames
        assert frames_per_pass <= spec.max_frames, (shot.shot_id, frames_per_pass)
        if shot.windows:
            windowed += 1
            assert shot.windows.total_frames >= shot.frames
    assert windowed > 0  # the film's 4-10 s shots are longer than every model's ~5 s clip
    # The JSON says it per shot, and per backend which shots are windowed.
    data = plan.to_json()
    assert sum(1 for shot in data["shots"] if shot["windows"]) == windowed
    assert len(next(b for b in data["backends"] if b["name"] == generated[0].backend)["windows"]) >= 1


def _board(tmp_path: Path, shots: str) -> Path:
    path = tmp_path / "board.yaml"
    path.write_text(f"version: 1\ntitle: Windows\nshots:\n{shots}")
    return path


@pytest.mark.parametrize("backend", AUTO_ORDER)
def test_a_twenty_second_shot_costs_four_five_second_ones(tmp_path, backend):
    board = load_storyboard(_board(tmp_path, "  - {id: five, duration: 5, prompt: a ship}\n"
                                             "  - {id: twenty, duration: 20, prompt: a ship}\n"))
    for gpus in ("1xH200", "1x48GB", "2xH200"):
        shots = {shot.shot_id: shot for shot in make_plan(board, gpus=gpus, backend=backend).shots}
        ratio = shots["twenty"].estimated_seconds / shots["five"].estimated_seconds
        assert 4 * 0.85 <= ratio <= 4 * 1.15, (backend, gpus, ratio)


def test_window_single_is_one_pass_with_a_warning_in_validate_and_plan(tmp_path, monkeypatch):
    path = _board(tmp_path, "  - {id: long, duration: 12, prompt: a ship, window: single, backend: wan2.2-ti2v-5b}\n"
                            "  - {id: short, duration: 4, prompt: a ship, window: single, backend: wan2.2-ti2v-5b}\n")
    board = load_storyboard(path)
    assert [str(w.path) for w in board.warnings] == ["shots[0].window"]
    assert "longer than its model was trained on (wan2.2-ti2v-5b 5.04 s)" in board.warnings[0].message
    plan = make_plan(board, gpus="1xH200")
    assert all(shot.windows is None for shot in plan.shots)
    assert len(plan.warnings) == 1 and "shot long" in plan.warnings[0] and "289 frames" in plan.warnings[0]

    monkeypatch.chdir(tmp_path)
    validated = CliRunner().invoke(app, ["validate", "board.yaml"])
    assert validated.exit_code == 0 and "shots[0].window: window: single renders" in validated.output
    planned = CliRunner().invoke(app, ["plan", "board.yaml", "--gpus", "1xH200"])
    assert planned.exit_code == 0 and "Warning: shot long: window: single" in planned.output


def test_the_window_settings_are_in_the_shots_cache_key(tmp_path):
    """A change of windows (here `window: single`) is a new key: the shot renders again."""
    shot = "  - {{id: s01, duration: 12, prompt: a ship, backend: wan2.2-ti2v-5b{extra}}}\n"
    keys = {}
    for name, extra in (("auto", ""), ("single", ", window: single")):
        board = load_storyboard(_board(tmp_path, shot.format(extra=extra)))
        plan = make_plan(board, gpus="1xH200")
        (job,) = build_jobs(board, plan, tmp_path / "out", tmp_path / "models")
        keys[name] = (job.key, job.request.windows)
    assert keys["auto"][1].count == 3 and keys["single"][1] is None
    assert keys["auto"][0] != keys["single"][0]


def test_the_plan_report_says_which_shots_are_windowed(tmp_path, monkeypatch):
    _board(tmp_path, "  - {id: a, duration: 12, prompt: a ship}\n  - {id: b, duration: 3, prompt: a ship}\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["plan", "board.yaml", "--gpus", "1xH200", "--backend", "wan2.2-t2v-a14b"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Windows (a shot longer than its model was trained on" in text
    assert "wan2.2-t2v-a14b 1 of 2 shots past 81 frames, in 3 windows" in text
    every = CliRunner().invoke(app, ["plan", "board.yaml", "--gpus", "1xH200", "--backend", "wan2.2-t2v-a14b", "--all"])
    text = " ".join(every.output.split())
    assert "1 of its 2 shots are longer than the 81 frames it was trained on: each is rendered as 3 windows" in text
    data = json.loads(CliRunner().invoke(app, ["plan", "board.yaml", "--gpus", "1xH200", "--backend", "wan2.2-t2v-a14b",
                                            "--json"]).output)
    assert data["shots"][0]["windows"]["count"] >= 2 and data["shots"][1]["windows"] is None
