"""The exact-path speed-ups must compute what diffusers computes (issue 10)."""

import pytest

from tests.optional_parts import module_needs

pytestmark = module_needs("diffusion")  # before the imports that load torch

import diffusers  # noqa: E402
import torch  # noqa: E402

from render_pipeline.backends.speed import SpeedOptions, apply_speedups  # noqa: E402


def tiny_wan(num_layers: int = 2):
    torch.manual_seed(0)
    return diffusers.WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=8, in_channels=4, out_channels=4,
        text_dim=16, freq_dim=16, ffn_dim=32, num_layers=num_layers, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=32,
    ).eval()


def tiny_cogvideox():
    torch.manual_seed(0)
    return diffusers.CogVideoXTransformer3DModel(
        num_attention_heads=2, attention_head_dim=8, in_channels=4, out_channels=4, time_embed_dim=2,
        text_embed_dim=16, num_layers=2, sample_width=8, sample_height=8, sample_frames=9, patch_size=2,
        temporal_compression_ratio=4, max_text_seq_length=8,
    ).eval()


@pytest.mark.slow
@pytest.mark.parametrize("build, shape", [(tiny_wan, (1, 4, 3, 8, 8)), (tiny_cogvideox, (1, 3, 4, 8, 8))])
def test_compiled_blocks_match_eager(build, shape):
    generator = torch.Generator().manual_seed(1)
    kwargs = dict(
        hidden_states=torch.randn(shape, generator=generator),
        encoder_hidden_states=torch.randn((1, 8, 16), generator=generator),
        timestep=torch.tensor([500]),
        return_dict=False,
    )
    with torch.inference_mode():
        eager = build()(**kwargs)[0]
        model = build()
        apply_speedups(model, SpeedOptions(compile_blocks=True))
        compiled = model(**kwargs)[0]
    assert torch.isfinite(eager).all()
    assert eager.abs().max() > 0
    # float32 on the CPU: only the order of rounding may differ.
    assert (compiled - eager).abs().max().item() < 1e-4
