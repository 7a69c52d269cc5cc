"""The GPU benchmarks' commands (docs/benchmarks.md), at tiny size on the CPU."""

import json

import pytest

from benchmarks import (
    bench_attention_tiles,
    bench_backends,
    bench_decode,
    bench_speed,
    bench_weights_in_place,
    bench_whole_shot,
    make_random_model_folder,
)
from benchmarks.harness import ResultsFile

pytestmark = pytest.mark.needs("diffusion")  # the benchmarks import torch once their arguments are parsed


def test_arguments_are_checked(tmp_path, capsys):
    args = bench_backends.parse_args(["--cases", "48gb,24gb-fp8", "--size", "832x480", "--steps", "2", "--out", str(tmp_path / "b.json")])
    assert (args.cases, args.width, args.height, args.steps) == (["48gb", "24gb-fp8"], 832, 480, 2)
    for bad in (["--cases", "16gb"], ["--size", "720p"], ["--frames", "80"]):
        with pytest.raises(SystemExit):
            bench_backends.parse_args([*bad, "--out", str(tmp_path / "b.json")])
    assert "unknown case(s) 16gb" in capsys.readouterr().err


def test_tiny_dry_run_renders_through_the_session_and_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    bench_backends.main(["--tiny", "--cases", "48gb", "--steps", "4", "--out", str(out)])
    written = ResultsFile.model_validate_json(out.read_text())
    assert (written.benchmark, written.device, written.settings["steps"]) == ("bench_backends", "cpu", 4)
    assert written.command == ["python", "-m", "benchmarks.bench_backends", "--tiny", "--cases", "48gb", "--steps",
                               "4", "--out", str(out)]
    result = written.results[0]
    assert result["ok"] and result["case"] == "48gb"
    assert len(result["step_s"]) == 4
    assert result["expert_swaps"] == [0, 1]  # both experts ran, high-noise first
    assert "48gb" in capsys.readouterr().out.splitlines()[-1]


@pytest.mark.slow
def test_whole_shot_bench_renders_a_random_folder_through_the_runner(tmp_path, capsys):
    """The GPU whole-shot commands of docs/benchmarks.md, at tiny size on the CPU."""
    make_random_model_folder.main(["wan2.2-ti2v-5b", str(tmp_path / "models"), "--tiny"])
    report = bench_whole_shot.main(["--models-dir", str(tmp_path / "models"), "--tiny", "--shots", "2",
                                                   "--runs", "2", "--out", str(tmp_path / "shot.json")])
    first, second, again, _ = report["rows"]
    assert (first["run"], again["run"], again["shot"]) == (1, 2, "s01")  # the second run rendered them again
    assert (first["frames"], first["steps"]) == (9, 3)
    assert first["encode_s"] > 0 and "encode_s" not in second  # prompts encoded once, for both shots
    assert 0 < first["outside_steps_s"] < first["shot_s"] and 0 < second["outside_share"] < 1
    assert json.loads((tmp_path / "shot.json").read_text())["results"]["rows"] == report["rows"]

    # render-shot --watch: the second run takes the loaded worker (no start, no prompt encoding).
    kept = bench_whole_shot.main(["--models-dir", str(tmp_path / "models"), "--tiny", "--shots", "1",
                                                 "--runs", "2", "--keep-worker", "--out", str(tmp_path / "w.json")])
    first_run, second_run = kept["rows"]
    assert first_run["worker_start_s"] > 0 and second_run["worker_start_s"] < first_run["worker_start_s"]

    # A 10 s shot (241 frames at 24 fps) in windows against one pass: the command docs/benchmarks.md leaves for a GPU.
    for window, windows in (("auto", 2), ("single", 1)):
        (row,) = bench_whole_shot.main(["--models-dir", str(tmp_path / "models"), "--tiny",
                                                       "--shots", "1", "--seconds", "10", "--window", window,
                                                       "--out", str(tmp_path / f"{window}.json")])["rows"]
        assert (row["windows"], row["steps"]) == (windows, 3 * windows)


@pytest.mark.slow
def test_whole_shot_bench_gives_shots_their_own_sampling(tmp_path, capsys):
    """Two samplings timed in one run (docs/benchmarks.md, "to measure": Wan A14B at 4 steps without CFG)."""
    make_random_model_folder.main(["wan2.2-ti2v-5b", str(tmp_path / "models"), "--tiny"])
    report = bench_whole_shot.main(["--models-dir", str(tmp_path / "models"), "--tiny", "--shots", "2",
                                                   "--sampling", "steps: 3", "--sampling", "steps: 2, guidance: 1",
                                                   "--out", str(tmp_path / "shot.json")])
    official, fast = report["rows"]
    assert (official["steps"], official["guidance"], fast["steps"], fast["guidance"]) == (3, 5.0, 2, 1.0)
    assert 0 < fast["planned_s"] < official["planned_s"]


def test_decode_bench_writes_the_same_file_whole_and_streamed(tmp_path, capsys):
    """The GPU decode-and-write commands of docs/benchmarks.md, at tiny size on the CPU."""
    report = bench_decode.main(["--tiny", "--models", "ti2v-5b", "--repeats", "1",
                                               "--out", str(tmp_path / "decode.json")])
    rows = {row["variant"]: row for row in report["rows"]}
    assert set(rows) == {"decode", "decode+channels-last", "decode+session", "whole", "streamed",
                         "streamed+lookahead-40", "streamed+cudnn-benchmark"}
    assert rows["streamed"]["same_as_whole"] is True
    assert 0 < rows["streamed"]["decoded_s"] <= rows["streamed"]["seconds"]
    # the CPU decodes in diffusers' layout, so these change nothing there
    assert rows["decode+channels-last"]["rel_error"] == rows["decode+session"]["rel_error"] == 0
    assert all(row["seconds"] > 0 for row in rows.values())
    assert "streamed" in capsys.readouterr().out


def test_speed_bench_names_a_missing_flash_attention_4_and_times_the_rest(capsys):
    rows = bench_speed.main(["--tiny", "--device", "cpu", "--models", "wan-a14b-720p",
                                            "--variants", "diffusers,compile+fa4", "--repeats", "1"])
    by_variant = {row["variant"]: row for row in rows}
    assert by_variant["diffusers"]["s_per_forward"] > 0
    assert by_variant["compile+fa4"]["error"] == "FlashAttention-4 needs a CUDA GPU"
    assert "compile+fa4" in capsys.readouterr().out


def test_speed_bench_runs_the_tiles_asked_for_and_gives_them_back_after_an_own_tile_variant(monkeypatch):
    from render_pipeline.backends import speed

    monkeypatch.setattr(speed, "HOPPER_FLASH_ATTENTION_4_TILES", dict(speed.HOPPER_FLASH_ATTENTION_4_TILES))
    rows = bench_speed.main(["--tiny", "--device", "cpu", "--models", "wan-a14b-720p",
                                            "--variants", "compile+fa4+own-tile", "--repeats", "1",
                                            "--fa4-tiles", '{"128": [128, 176, true, true]}'])
    assert rows[0]["error"] == "FlashAttention-4 needs a CUDA GPU"
    assert speed.HOPPER_FLASH_ATTENTION_4_TILES == {128: (128, 176, True, True)}


def test_attention_tile_bench_stops_with_the_reason_on_a_machine_without_flash_attention_4():
    with pytest.raises(SystemExit, match="FlashAttention-4 needs a CUDA GPU"):
        bench_attention_tiles.main(["--models", "ti2v-5b"])
    rows = [dict(variant="FA4's own tile", tile=None, s_per_call=0.43),
            dict(variant="128x192", tile=[128, 192, True, True], s_per_call=0.41),
            dict(variant="128x176 P in smem", error="RuntimeError: CUDA Error"),
            dict(variant="SDPA default", tile=None, s_per_call=0.30)]
    assert bench_attention_tiles.fastest_tile(rows) == [128, 192, True, True]  # SDPA's row is not a tile
    assert bench_attention_tiles.fastest_tile(rows[2:3]) is None


def test_weights_in_place_bench_renders_hunyuanvideo_files_at_tiny_size(tmp_path, monkeypatch):
    """The GPU command for HunyuanVideo's GGUF step time (docs/benchmarks.md), at tiny size on the CPU."""
    from render_pipeline.backends import checkpoint_search

    monkeypatch.setattr(checkpoint_search, "MODEL_CONFIGS", checkpoint_search.MODEL_CONFIGS)  # --tiny repoints it
    out = tmp_path / "ip.json"
    results = bench_weights_in_place.main(
        ["--backend", "hunyuanvideo", "--tiny", "--work", str(tmp_path / "ip"), "--formats", "bf16,Q8_0",
         "--steps", "2", "--out", str(out)])
    assert [result["case"] for result in results] == ["bf16", "Q8_0"]
    assert "transformer bf16" in results[0]["weights"] and "transformer GGUF Q8_0" in results[1]["weights"]
    assert results[0]["step_vs_bf16"] == 1.0 and results[1]["step_s"] > 0
    assert ResultsFile.model_validate_json(out.read_text()).settings["backend"] == "hunyuanvideo"
