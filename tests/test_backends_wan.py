"""The Wan session on tiny real diffusers components, loaded from a diffusers-layout folder on disk."""

from pathlib import Path

import numpy as np
import pytest

from render_pipeline.backends import open_session
from render_pipeline.backends.base import RenderRequest
from render_pipeline.media.ffmpeg import count_frames, probe
from render_pipeline.shot_layout import ShotLayout
from tests.optional_parts import module_needs

pytestmark = module_needs("diffusion")  # before the imports that load torch

import torch  # noqa: E402

from tests.assets.tiny_models import build_wan_a14b_folder, decoded_pixels  # noqa: E402


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    build_wan_a14b_folder(root / "Wan2.2-T2V-A14B-Diffusers")
    return root


def request(seed: int = 7, steps: int = 4, **changes) -> RenderRequest:
    fields = dict(shot_id="s01", prompt="a grey destroyer at dawn", negative_prompt="blurry", seed=seed,
                  width=32, height=32, fps=16.0, frames=9, steps=steps, quality="draft")
    return RenderRequest(**{**fields, **changes})


def test_renders_a_shot_from_the_folder_deterministically_by_seed(models_dir, tmp_path):
    session = open_session("wan2.2-t2v-a14b", None, models_dir)
    steps_seen = []
    session.encode([request(), request(seed=8)])
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        session.render(request(seed=seed), tmp_path / f"{name}.mp4", lambda done, total: steps_seen.append((done, total)))
    session.close()

    info = probe(tmp_path / "a.mp4")
    assert (info.width, info.height, info.fps, info.has_audio) == (32, 32, 16.0, False)
    assert count_frames(tmp_path / "a.mp4") == 9
    assert steps_seen[:4] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    first, again, other = (decoded_pixels(tmp_path / f"{name}.mp4", tmp_path) for name in "abc")
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert not list(tmp_path.glob("*.latents.pt*"))  # cleaned up after a good write


def test_text_encoder_is_freed_before_denoising(models_dir, tmp_path):
    session = open_session("wan2.2-t2v-a14b", None, models_dir)
    session.encode([request()])
    session.render(request(steps=2), tmp_path / "s.mp4", lambda done, total: None)
    assert session.pipeline.text_encoder is None and session.pipeline.tokenizer is None
    assert session.pipeline.transformer.dtype == torch.bfloat16


def test_expert_swap_switches_once_at_the_boundary(models_dir, tmp_path):
    session = open_session("wan2.2-t2v-a14b", ShotLayout.from_json({"expert_swap": True}), models_dir)
    session.encode([request()])
    calls = []
    pipeline = session._denoising_pipeline()
    pipeline.transformer.register_forward_hook(lambda *args: calls.append("high"))
    pipeline.transformer_2.register_forward_hook(lambda *args: calls.append("low"))
    session.render(request(steps=8), tmp_path / "s.mp4", lambda done, total: None)

    pipeline.scheduler.set_timesteps(8)
    high_steps = int((pipeline.scheduler.timesteps >= 0.875 * 1000).sum())
    assert 0 < high_steps < 8
    # Two forwards (cond, uncond) per step: the high-noise expert for the first steps, then the low-noise one.
    assert calls == ["high"] * 2 * high_steps + ["low"] * 2 * (8 - high_steps)
    assert session.expert_swap.swaps == [0, 1]  # loaded with the high-noise expert resident, one swap
    assert session.expert_swap.resident is pipeline.transformer_2  # kept through the decode

    # The next shot starts with the high-noise expert: one swap back, then one at the boundary.
    session.render(request(seed=8, steps=8), tmp_path / "t.mp4", lambda done, total: None)
    assert session.expert_swap.swaps == [0, 1, 0, 1]


def _storage(tensor: torch.Tensor) -> int:
    return tensor.untyped_storage().data_ptr()


def _check_one_expert_resident(session, device: torch.device, tmp_path) -> None:
    """During denoising the called expert is on ``device`` and the other one lives in the one set of host buffers."""
    pipeline = session._denoising_pipeline()
    experts = {"high": pipeline.transformer, "low": pipeline.transformer_2}
    buffers = {_storage(tensor) for tensor in pipeline.transformer_2.parameters()}  # waiting after loading
    seen = []

    def check(called: str):
        def hook(expert, args, kwargs):
            waiting = experts["low" if called == "high" else "high"]
            active = list(expert.parameters())
            assert all(tensor.device.type == device.type for tensor in active)
            assert not {_storage(tensor) for tensor in active} & buffers
            assert {_storage(tensor) for tensor in waiting.parameters()} == buffers  # no second host copy
            assert all(tensor.device.type == "cpu" for tensor in waiting.parameters())
            if device.type == "cuda":
                assert all(tensor.is_pinned() for tensor in waiting.parameters())
            seen.append(called)
        return hook

    for name, expert in experts.items():
        expert.register_forward_pre_hook(check(name), with_kwargs=True)  # runs after the swap's own hook
    session.render(request(steps=8), tmp_path / "s.mp4", lambda done, total: None)
    assert set(seen) == {"high", "low"}


def test_expert_swap_keeps_only_the_waiting_expert_in_host_buffers(models_dir, tmp_path):
    session = open_session("wan2.2-t2v-a14b", ShotLayout.from_json({"expert_swap": True}), models_dir)
    session.encode([request()])
    _check_one_expert_resident(session, torch.device("cpu"), tmp_path)


@pytest.mark.cuda  # pinned memory and a second device
def test_expert_swap_on_cuda_keeps_the_waiting_expert_pinned(models_dir, tmp_path):
    session = open_session("wan2.2-t2v-a14b", ShotLayout.from_json({"expert_swap": True}), models_dir)
    assert session.device.type == "cuda"
    session.encode([request()])
    _check_one_expert_resident(session, session.device, tmp_path)


def test_fp8_storage_and_group_offload_are_applied(models_dir, tmp_path):
    session = open_session("wan2.2-t2v-a14b",
                           ShotLayout.from_json({"fp8_storage": True, "group_offload": True, "vae_tiling": True}),
                           models_dir)
    session.encode([request()])
    session.render(request(steps=2), tmp_path / "s.mp4", lambda done, total: None)
    from diffusers.hooks.group_offloading import _is_group_offload_enabled

    for transformer in (session.pipeline.transformer, session.pipeline.transformer_2):
        assert transformer.blocks[0].ffn.net[2].weight.dtype == torch.float8_e4m3fn
        assert _is_group_offload_enabled(transformer)
    assert session.pipeline.vae.use_tiling
    assert count_frames(tmp_path / "s.mp4") == 9


def test_failed_decode_retries_from_saved_latents_without_denoising(models_dir, tmp_path, monkeypatch):
    session = open_session("wan2.2-t2v-a14b", None, models_dir)
    session.encode([request()])
    out = tmp_path / "s.mp4"

    real_decode = session.decoded_chunks

    def out_of_memory_after_one_frame(pipeline, latents):  # the first frames are already in ffmpeg
        yield next(real_decode(pipeline, latents))
        raise torch.OutOfMemoryError("decode")

    monkeypatch.setattr(session, "decoded_chunks", out_of_memory_after_one_frame)
    with pytest.raises(torch.OutOfMemoryError):
        session.render(request(), out, lambda done, total: None)
    assert (tmp_path / "s.mp4.latents.pt").is_file()

    steps = []
    monkeypatch.setattr(session, "decoded_chunks", real_decode)
    session.render(request(), out, lambda done, total: steps.append(done))
    assert steps == []  # no denoising step ran on the retry
    assert count_frames(out) == 9
    fresh = open_session("wan2.2-t2v-a14b", None, models_dir)
    fresh.render(request(), tmp_path / "fresh.mp4", lambda done, total: None)
    assert np.array_equal(decoded_pixels(out, tmp_path), decoded_pixels(tmp_path / "fresh.mp4", tmp_path))


def test_in_a_worker_group_only_the_first_rank_decodes_and_writes(models_dir, tmp_path, monkeypatch):
    """Every rank denoises (the layouts' collectives need them all); the decode and the write are rank 0's."""
    session = open_session("wan2.2-t2v-a14b", None, models_dir)
    session.share_from_first_rank = lambda make: None  # what WorkerGroup.share does on a rank other than 0
    decoded = []
    monkeypatch.setattr(session, "decoded_chunks", lambda pipeline, latents: decoded.append(latents) or iter(()))
    steps = []
    session.render(request(), tmp_path / "s.mp4", lambda done, total: steps.append(done))
    assert steps == [1, 2, 3, 4] and decoded == [] and not (tmp_path / "s.mp4").exists()


def test_wrong_folder_fails_before_loading(tmp_path):
    from render_pipeline.errors import UserError

    with pytest.raises(UserError, match="Wan-AI/Wan2.2-T2V-A14B-Diffusers"):
        open_session("wan2.2-t2v-a14b", None, tmp_path)


@pytest.mark.parametrize("device, strategy, allowed, compiled", [
    ("cuda", {}, True, True),
    ("cuda", {"fp8_storage": True}, True, False),  # measured only with resident bf16 weights
    ("cpu", {}, True, False),  # compiling on the CPU costs more than it saves
    ("cuda", {}, False, False),  # one rank of a worker group (parallel/group.py)
])
def test_regional_compile_is_applied_to_both_experts_only_on_cuda(models_dir, monkeypatch, device, strategy, allowed,
                                                                  compiled):
    from render_pipeline.backends import diffusion

    applied = []
    monkeypatch.setattr(diffusion, "apply_speedups", lambda transformer, options: applied.append((transformer, options)))
    # This machine has no GPU: moving modules and tensors to "cuda" is made a no-op, so only the choice is tested.
    monkeypatch.setattr(torch.nn.Module, "to", lambda module, *args, **kwargs: module)
    session = open_session("wan2.2-t2v-a14b", ShotLayout.from_json(strategy), models_dir)
    session.device = torch.device(device)
    session.compile_allowed = allowed
    pipeline = session._denoising_pipeline()
    assert [transformer for transformer, _ in applied] == [pipeline.transformer, pipeline.transformer_2]
    assert [options.compile_blocks for _, options in applied] == [compiled, compiled]
    assert not any(options.fp8_compute or options.step_cache for _, options in applied)  # no fast mode asked for
