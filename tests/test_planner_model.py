"""The planner's memory and time model against the measurements in ../shared/gpu-facts.md."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from render_pipeline.backends.specs import SPECS
from render_pipeline.errors import UserError
from render_pipeline.planner.architectures import ARCHITECTURES
from render_pipeline.planner.gpus import CATALOGUE, parse_gpus, parse_size_gib
from render_pipeline.planner.layouts import Layout, Shape, evaluate, high_noise_steps
from render_pipeline.shot_layout import MemoryStrategy, ParallelPlan

# The owner's measurements (a copy of shared/gpu-measurements-2026-11.json), kept in the repo so CI
# checks the calibration without the folder beside the checkout.
FACTS = Path(__file__).resolve().parents[1] / "docs" / "measurements" / "owner-2026-11-gpu-measurements.json"
H200 = CATALOGUE["H200"]
# (backend, width, height, frames, batch) for each one-GPU forward measured
FORWARDS = {
    ("wan22_a14b_expert", "480x832x81"): ("wan2.2-t2v-a14b", 832, 480, 81),
    ("wan22_a14b_expert", "720x1280x81"): ("wan2.2-t2v-a14b", 1280, 720, 81),
    ("wan22_a14b_expert", "480x832x81_cfgbatch2"): ("wan2.2-t2v-a14b", 832, 480, 81),
    ("wan22_ti2v_5b", "704x1280x121"): ("wan2.2-ti2v-5b", 1280, 704, 121),
    ("cogvideox5b", "480x720x49_cfgbatch2"): ("cogvideox-5b", 720, 480, 49),
    ("cogvideox5b", "480x720x49"): ("cogvideox-5b", 720, 480, 49),
    ("hunyuanvideo", "544x960x129"): ("hunyuanvideo", 960, 544, 129),
}


def _measurements():
    return json.loads(FACTS.read_text())


def _rows(section: str, case: str):
    return [row for row in _measurements()[section] if row["case"] == case]


def _one_gpu(offload="none", ulysses=1, ring=1, vae_tiling=False, vae_dtype="fp32"):
    return Layout(ParallelPlan(max(ulysses, ring), ulysses=ulysses, ring=ring),
                  MemoryStrategy(offload, vae_tiling=vae_tiling, vae_dtype=vae_dtype))


@pytest.mark.parametrize("key", sorted(FORWARDS))
def test_one_forward_matches_measured_peak_time_and_flops(key):
    row = next(r for r in _rows("single_gpu", key[0]) if r["label"] == key[1])
    backend, width, height, frames = FORWARDS[key]
    t = ARCHITECTURES[backend].transformer
    tokens = ARCHITECTURES[backend].video_tokens(width, height, frames)
    assert tokens == row["tokens"]
    batch = row["batch"]
    assert t.flops_per_forward(tokens, batch) == pytest.approx(row["flops"]["total"], rel=0.01)
    peak = t.weights_gib(2) + t.activation_gib(tokens, batch)
    assert peak == pytest.approx(row["peak_alloc_GiB"], rel=0.10)
    rate = H200.bf16_tflops * 1e12 * (788 / 989) * t.efficiency
    assert t.flops_per_forward(tokens, batch) / rate == pytest.approx(row["s_per_forward"], rel=0.20)


@pytest.mark.parametrize("backend, case", [("wan2.2-t2v-a14b", "wan22_a14b_expert_build"),
                                           ("wan2.2-ti2v-5b", "wan22_ti2v_5b_build"),
                                           ("cogvideox-5b", "cogvideox5b_build"),
                                           ("hunyuanvideo", "hunyuanvideo_build")])
def test_parameters_from_the_config_match_the_built_models(backend, case):
    row = _rows("single_gpu", case)[0]
    assert ARCHITECTURES[backend].transformer.params() == pytest.approx(row["params"], rel=0.015)


@pytest.mark.parametrize("mode, degree", [("ulysses", 2), ("ring", 2)])
def test_context_parallel_peak_and_time_per_gpu(mode, degree):
    # These runs were eager: the one-GPU baseline below is taken without the compile speed-up.
    arch = ARCHITECTURES["wan2.2-t2v-a14b"]
    arch = replace(arch, transformer=replace(arch.transformer, compiled_speedup=1.0))
    t = arch.transformer
    for row in _rows("context_parallel", "context_parallel"):
        if row["mode"] != mode or row["rank"] != 0:
            continue
        width, height = (1280, 720) if row["shape"] == "720" else (832, 480)
        # One expert resident, as measured; the other one's swaps cancel out in the difference below.
        layout = _one_gpu("inactive_expert", ulysses=degree if mode == "ulysses" else 1,
                          ring=degree if mode == "ring" else 1)
        cost = evaluate(arch, SPECS["wan2.2-t2v-a14b"], layout, Shape(width, height, 81, 1), H200)
        assert cost.peak_gpu_gib["denoise"] == pytest.approx(row["peak_alloc_GiB"], rel=0.10)
        # One step with CFG is two forwards; subtract the text encode and decode the cost includes.
        one = evaluate(arch, SPECS["wan2.2-t2v-a14b"], _one_gpu("inactive_expert"), Shape(width, height, 81, 1), H200)
        single_forward = t.flops_per_forward(arch.video_tokens(width, height, 81)) / (
            H200.bf16_tflops * 1e12 * (788 / 989) * t.efficiency)
        parallel_forward = single_forward + (cost.seconds_per_shot - one.seconds_per_shot) / 2
        assert parallel_forward == pytest.approx(row["times_s"][-1], rel=0.20)


@pytest.mark.parametrize("case, label, backend, size", [
    ("wan21_vae_decode", "480x832x81", "wan2.2-t2v-a14b", (832, 480, 81)),
    ("wan21_vae_decode", "480x832x81_tiled", "wan2.2-t2v-a14b", (832, 480, 81)),
    ("wan21_vae_decode", "720x1280x81", "wan2.2-t2v-a14b", (1280, 720, 81)),
    ("wan21_vae_decode", "720x1280x81_tiled", "wan2.2-t2v-a14b", (1280, 720, 81)),
    ("wan21_vae_decode_bf16", "720x1280x81", "wan2.2-t2v-a14b", (1280, 720, 81)),
    ("wan22_vae_decode", "704x1280x121", "wan2.2-ti2v-5b", (1280, 704, 121)),
])
def test_vae_decode_peak_and_time(case, label, backend, size):
    """gpu-facts.md timed diffusers' own decode; the session decodes channels-last throughout, measured
    faster in one run each on an H200 (docs/benchmarks.md): the planner plans the session's decode,
    and takes tiling's and bf16's ratios to carry over."""
    row = next(r for r in _rows("single_gpu", case) if r["label"] == label)
    session_speedup = {"wan2.2-t2v-a14b": 6.538 / 5.218, "wan2.2-ti2v-5b": 9.099 / 7.747}[backend]
    arch, spec = ARCHITECTURES[backend], SPECS[backend]
    layout = _one_gpu(offload="group", vae_tiling=row["tiling"], vae_dtype="bf16" if "bf16" in case else "fp32")
    with_decode = evaluate(arch, spec, layout, Shape(*size, 1), H200)
    without = evaluate(arch, spec, _one_gpu(offload="group"), Shape(*size, 1), H200)
    # Group offload leaves no transformer weights on the GPU at decode: the stage is the VAE alone.
    assert with_decode.peak_gpu_gib["decode"] == pytest.approx(row["peak_alloc_GiB"], rel=0.10)
    decode_seconds = with_decode.seconds_per_shot - without.seconds_per_shot
    untiled_fp32 = evaluate(arch, spec, _one_gpu(offload="group"), Shape(*size, 0), H200).seconds_per_shot
    measured_extra = row["s_decode"]
    if row["tiling"] or "bf16" in case:
        measured_extra -= next(r for r in _rows("single_gpu", case.replace("_bf16", "")) if r["label"] == label.replace("_tiled", ""))["s_decode"]
        assert decode_seconds == pytest.approx(measured_extra / session_speedup, rel=0.20, abs=0.5)
    else:
        assert untiled_fp32 == pytest.approx(row["s_decode"] / session_speedup, rel=0.20, abs=0.3)


def test_wan_a14b_high_noise_expert_runs_the_first_two_thirds_of_the_steps():
    # shift 12 and boundary 0.875: sigma >= 0.875 while the unshifted time is above 0.368
    assert high_noise_steps(SPECS["wan2.2-t2v-a14b"], 40) == 26


def test_gpu_specs_parse_names_memory_and_counts():
    assert [g.name for g in parse_gpus("2xA6000")] == ["A6000", "A6000"]
    assert parse_gpus("4x h100")[0].memory_gib == pytest.approx(79.65)
    assert parse_gpus("1x24GB")[0].memory_gib == 24
    assert parse_gpus("none") == []
    assert parse_size_gib("64GB", "--host-ram") == 64
    with pytest.raises(UserError, match="COUNTxNAME"):
        parse_gpus("2xBanana")
    with pytest.raises(UserError, match="COUNTxNAME"):  # nothing to match: was an AttributeError
        parse_gpus(" ")
    with pytest.raises(UserError, match="size in GB"):
        parse_size_gib("lots", "--host-ram")


def test_a_whole_shot_through_the_runner_matches_the_plan():
    """TI2V-5B 1280x704x121, 50 steps, on an H200 (docs/benchmarks.md, "Whole shots through the
    runner"): the second shot, with its models loaded, took 102.8 s, 50 steps of 1.80 s, and the
    worker's GPU peak was 33.14 GiB (at the fp32 decode)."""
    arch, spec = ARCHITECTURES["wan2.2-ti2v-5b"], SPECS["wan2.2-ti2v-5b"]
    cost = evaluate(arch, spec, _one_gpu(), Shape(1280, 704, 121, 50), H200)
    assert cost.seconds_per_shot == pytest.approx(102.8, rel=0.15)
    assert max(cost.peak_gpu_gib.values()) == pytest.approx(33.14, rel=0.10)
    steps_only = evaluate(arch, spec, _one_gpu(offload="group"), Shape(1280, 704, 121, 50), H200)
    assert steps_only.seconds_per_shot > cost.seconds_per_shot  # group offloading is eager: not compiled


def test_with_flash_attention_4_installed_one_gpu_steps_are_faster_as_measured(monkeypatch):
    """The same shot with FlashAttention-4 and the channels-last decoder (docs/benchmarks.md, whole
    shots, fifth run): 92.7-92.9 s, 50 steps of 1.68 s. A worker group keeps SDPA's default
    attention, so its time does not move."""
    import render_pipeline.planner.layouts as layouts

    arch, spec = ARCHITECTURES["wan2.2-ti2v-5b"], SPECS["wan2.2-ti2v-5b"]
    shape = Shape(1280, 704, 121, 50)
    without = evaluate(arch, spec, _one_gpu(), shape, H200)
    two_gpus = Layout(ParallelPlan(2, ulysses=2))
    group_without = evaluate(arch, spec, two_gpus, shape, H200).seconds_per_shot
    a100 = CATALOGUE["A100 80GB"]  # an Ampere card: FlashAttention-4 does not run there
    a100_without = evaluate(arch, spec, _one_gpu(), shape, a100).seconds_per_shot
    monkeypatch.setattr(layouts, "flash_attention_4_installed", lambda: True)
    with_fa4 = evaluate(arch, spec, _one_gpu(), shape, H200)
    assert with_fa4.seconds_per_shot == pytest.approx(92.8, rel=0.15)
    assert with_fa4.seconds_per_shot < without.seconds_per_shot
    assert evaluate(arch, spec, two_gpus, shape, H200).seconds_per_shot == group_without
    assert evaluate(arch, spec, _one_gpu(), shape, a100).seconds_per_shot == a100_without


def test_wan_decode_peak_does_not_grow_with_the_clip():
    """The Wan VAEs decode a latent frame at a time: a whole TI2V-5B shot of 241 frames in one pass
    peaked at the same GPU memory as a shot of 121 frames (28.6 and 28.5 GiB, docs/benchmarks.md),
    so a longer pass plans the same decode peak; only its time grows."""
    arch, spec = ARCHITECTURES["wan2.2-ti2v-5b"], SPECS["wan2.2-ti2v-5b"]
    trained = evaluate(arch, spec, _one_gpu(), Shape(1280, 704, 121, 50), H200)
    one_pass = evaluate(arch, spec, _one_gpu(), Shape(1280, 704, 241, 50), H200)
    short = evaluate(arch, spec, _one_gpu(), Shape(1280, 704, 33, 50), H200)
    assert one_pass.peak_gpu_gib["decode"] == pytest.approx(trained.peak_gpu_gib["decode"])
    assert short.peak_gpu_gib["decode"] < trained.peak_gpu_gib["decode"]
    assert one_pass.seconds_per_shot > trained.seconds_per_shot
