"""The exact path's HunyuanVideo change, and the opt-in fast modes (issue 10)."""

import numpy as np
import pytest

from tests.optional_parts import module_needs

pytestmark = module_needs("diffusion")  # before the imports that load torch

import diffusers  # noqa: E402
import torch  # noqa: E402

from render_pipeline.backends.hunyuanvideo import attend_without_mask, drop_text_padding  # noqa: E402
from render_pipeline.backends.speed import (  # noqa: E402
    SpeedOptions,
    apply_speedups,
    check_fast_modes,
    reset_step_cache,
    speed_options,
)
from render_pipeline.errors import UserError  # noqa: E402
from tests.test_speed_exact_path import tiny_wan  # noqa: E402


def tiny_hunyuan():
    torch.manual_seed(0)
    return diffusers.HunyuanVideoTransformer3DModel(
        in_channels=4, out_channels=4, num_attention_heads=2, attention_head_dim=10, num_layers=2,
        num_single_layers=2, num_refiner_layers=1, patch_size=1, patch_size_t=1, guidance_embeds=True,
        text_embed_dim=16, pooled_projection_dim=8, rope_axes_dim=(2, 4, 4)).eval()


def test_hunyuanvideo_without_padding_or_mask_computes_what_diffusers_computes():
    generator = torch.Generator().manual_seed(1)
    padded_text = torch.randn((1, 24, 16), generator=generator)
    mask = torch.zeros((1, 24), dtype=torch.long)
    mask[:, :7] = 1  # a 7-token prompt padded to 24, as the pipeline pads to 256
    padded_text[:, 7:] = torch.randn((1, 17, 16), generator=generator) * 5  # padding must not matter
    common = dict(hidden_states=torch.randn((1, 4, 3, 4, 4), generator=generator), timestep=torch.tensor([500]),
                  pooled_projections=torch.randn((1, 8), generator=generator), guidance=torch.tensor([6000.0]),
                  return_dict=False)
    with torch.inference_mode():
        shipped = tiny_hunyuan()(encoder_hidden_states=padded_text, encoder_attention_mask=mask, **common)[0]
        ours = tiny_hunyuan()
        attend_without_mask(ours)
        text, trimmed_mask = drop_text_padding(padded_text, mask)
        exact = ours(encoder_hidden_states=text, encoder_attention_mask=trimmed_mask, **common)[0]
        # The same unmasked model fed the padding shows that the mask did matter.
        polluted = ours(encoder_hidden_states=padded_text, encoder_attention_mask=mask, **common)[0]
    assert text.shape == (1, 7, 16) and bool(trimmed_mask.all())
    assert (exact - shipped).abs().max().item() < 1e-5
    assert (polluted - shipped).abs().max().item() > 1e-2


def test_fast_mode_names_are_checked():
    assert check_fast_modes(["taylorseer", "fp8", "fp8"]) == ("fp8", "taylorseer")
    with pytest.raises(UserError, match="--fast turbo: unknown fast mode; choose from fp8, first-block-cache"):
        check_fast_modes(["turbo"])
    with pytest.raises(UserError, match="both step caches"):
        check_fast_modes(["taylorseer", "first-block-cache"])
    assert speed_options((), compile_blocks=True) == SpeedOptions()
    assert speed_options(("fp8", "taylorseer"), False) == SpeedOptions(False, True, "taylorseer")


def denoise(model, steps: int = 8) -> list:
    """Forwards the way WanPipeline makes them: inside a cache context, one timestep per step."""
    generator = torch.Generator().manual_seed(1)
    latents = torch.randn((1, 4, 3, 8, 8), generator=generator)
    text = torch.randn((1, 8, 16), generator=generator)
    outputs = []
    with torch.inference_mode():
        for step in range(steps):
            with model.cache_context("cond"):
                outputs.append(model(hidden_states=latents, encoder_hidden_states=text,
                                     timestep=torch.tensor([999 - 10 * step]), return_dict=False)[0])
    return outputs


def count_block_calls(model) -> list[int]:
    calls = [0]
    model.blocks[-1].ffn.register_forward_pre_hook(lambda module, args: calls.__setitem__(0, calls[0] + 1))
    return calls


# TaylorSeer: 3 full steps, then a full one every 5th (step 3 is a refresh). First Block Cache
# decides from the data: some of the 8 steps, the first always, run every block.
@pytest.mark.parametrize("cache, full_steps", [("taylorseer", {4}), ("first-block-cache", set(range(1, 8)))])
def test_step_caches_skip_blocks_change_the_output_and_reset_per_shot(cache, full_steps):
    exact = denoise(tiny_wan(num_layers=4))
    model = tiny_wan(num_layers=4)
    apply_speedups(model, SpeedOptions(compile_blocks=False, step_cache=cache))
    calls = count_block_calls(model)
    cached = denoise(model)
    assert calls[0] in full_steps
    computed = calls[0]
    assert torch.equal(cached[0], exact[0])
    assert not torch.allclose(cached[-1], exact[-1], atol=1e-4)  # a fast mode changes the output
    calls[0] = 0
    reset_step_cache(model)
    again = denoise(model)  # the next shot starts fresh: same work, same output
    assert calls[0] == computed
    assert all(torch.equal(a, b) for a, b in zip(again, cached))


def planned_wan(tmp_path, gpus: str):
    from render_pipeline.planner import make_plan
    from render_pipeline.storyboard import load_storyboard

    path = tmp_path / "board.yaml"
    path.write_text("version: 1\ntitle: Fast Modes\ndelivery: {size: 1280x720, fps: 24, loudness_lufs: -16}\n"
                    "defaults: {backend: wan2.2-t2v-a14b}\nshots:\n  - {id: s01, duration: 5, prompt: a harbor}\n")
    storyboard = load_storyboard(path)
    return storyboard, make_plan(storyboard, gpus=gpus, host_ram="256GB")


def test_fp8_is_refused_before_rendering_where_it_cannot_run(tmp_path, monkeypatch):
    import importlib.util

    from render_pipeline.runner.preflight import check_fast_modes_fit

    _, a100 = planned_wan(tmp_path, "1xA100")
    with pytest.raises(UserError, match="--fast fp8 needs fp8 matrix units, which the A100 80GB lacks"):
        check_fast_modes_fit(("fp8",), a100)
    check_fast_modes_fit(("taylorseer",), a100)
    _, h100 = planned_wan(tmp_path, "1xH100")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "torchao" else object())
    with pytest.raises(UserError, match=r"needs torchao: pip install 'render-pipeline\[fast\]'"):
        check_fast_modes_fit(("fp8",), h100)


def test_fast_modes_are_part_of_a_generated_shots_cache_key(tmp_path):
    from render_pipeline.runner.jobs import build_jobs

    storyboard, plan = planned_wan(tmp_path, "1xH100")
    exact = build_jobs(storyboard, plan, tmp_path / "out", tmp_path / "models")[0]
    cached = build_jobs(storyboard, plan, tmp_path / "out", tmp_path / "models", fast=("taylorseer",))[0]
    assert cached.request.settings["fast"] == ["taylorseer"] and "fast" not in exact.request.settings
    assert cached.key != exact.key


def test_session_renders_with_a_step_cache_and_reloads_when_the_modes_change(tmp_path):
    from render_pipeline.backends import open_session
    from render_pipeline.backends.base import RenderRequest
    from tests.assets.tiny_models import build_wan_a14b_folder, decoded_pixels

    build_wan_a14b_folder(tmp_path / "models" / "Wan2.2-T2V-A14B-Diffusers")
    session = open_session("wan2.2-t2v-a14b", None, tmp_path / "models")

    def render(name: str, fast: list[str]):
        request = RenderRequest(shot_id="s01", prompt="a grey destroyer at dawn", negative_prompt="", seed=7,
                                width=32, height=32, fps=16.0, frames=9, steps=10, quality="draft",
                                settings={"fast": fast} if fast else {})
        session.render(request, tmp_path / f"{name}.mp4", lambda done, total: None)
        return session.pipeline, decoded_pixels(tmp_path / f"{name}.mp4", tmp_path)

    exact_pipeline, exact = render("exact", [])
    cached_pipeline, cached = render("cached", ["taylorseer"])
    again_pipeline, again = render("again", ["taylorseer"])
    assert cached_pipeline is not exact_pipeline and again_pipeline is cached_pipeline
    assert cached_pipeline.transformer.is_cache_enabled and not exact_pipeline.transformer.is_cache_enabled
    assert np.array_equal(cached, again)  # the cache is reset between shots
    assert not np.array_equal(cached, exact)


def test_cli_refuses_an_unknown_fast_mode_before_rendering(tmp_path):
    from typer.testing import CliRunner

    from render_pipeline.cli import app

    storyboard, _ = planned_wan(tmp_path, "1xH100")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["render-shot", str(storyboard.path), "s01", "--fast", "fp8,turbo",
                                      "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "--fast turbo: unknown fast mode; choose from fp8, first-block-cache, taylorseer" in result.output
    assert "Traceback" not in result.output and not out.exists()
