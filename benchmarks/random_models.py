"""Full-size models with random weights, built in code, for the GPU benchmarks.

Speed and memory do not depend on weight values, so no download is needed: the configs are those
of the released models (each named below), the weights random. This module imports torch: a
benchmark imports it once its arguments are parsed, so that its ``--help`` runs without torch.
"""

from __future__ import annotations

from pathlib import Path

import torch

from render_pipeline.backends.wan import WanSession
from render_pipeline.shot_layout import MemoryStrategy

# transformer/config.json of Wan-AI/Wan2.2-T2V-A14B-Diffusers (either expert) and of
# Wan-AI/Wan2.2-TI2V-5B-Diffusers, without num_layers (40 and 30).
WAN_A14B_EXPERT = dict(patch_size=(1, 2, 2), num_attention_heads=40, attention_head_dim=128, in_channels=16,
                       out_channels=16, text_dim=4096, freq_dim=256, ffn_dim=13824, cross_attn_norm=True,
                       qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024)
WAN_TI2V_5B = dict(patch_size=(1, 2, 2), num_attention_heads=24, attention_head_dim=128, in_channels=48,
                   out_channels=48, text_dim=4096, freq_dim=256, ffn_dim=14336, cross_attn_norm=True,
                   qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024)


def wan_a14b_expert(num_layers: int = 40):
    from diffusers import WanTransformer3DModel

    return WanTransformer3DModel(**WAN_A14B_EXPERT, num_layers=num_layers)


def wan_ti2v_5b_transformer(num_layers: int = 30):
    from diffusers import WanTransformer3DModel

    return WanTransformer3DModel(**WAN_TI2V_5B, num_layers=num_layers)


def umt5_xxl_encoder():
    from transformers import UMT5Config, UMT5EncoderModel

    # UMT5-XXL encoder, as in the Wan text_encoder/config.json
    config = UMT5Config(vocab_size=256384, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
                        relative_attention_num_buckets=32, feed_forward_proj="gated-gelu", dense_act_fn="gelu_new",
                        is_gated_act=True, tie_word_embeddings=False)
    return UMT5EncoderModel(config)


def wan21_vae():
    from diffusers import AutoencoderKLWan

    return AutoencoderKLWan()  # the defaults are the Wan 2.1 z16 VAE that A14B uses


def wan22_vae():
    from diffusers import AutoencoderKLWan

    # vae/config.json of Wan-AI/Wan2.2-TI2V-5B-Diffusers (the latent statistics only rescale: left neutral)
    return AutoencoderKLWan(base_dim=160, decoder_base_dim=256, z_dim=48, dim_mult=[1, 2, 4, 4], num_res_blocks=2,
                            temperal_downsample=[False, True, True], is_residual=True, in_channels=12, out_channels=12,
                            patch_size=2, scale_factor_spatial=16, scale_factor_temporal=4,
                            latents_mean=[0.0] * 48, latents_std=[1.0] * 48)


def random_bf16(build, device) -> torch.nn.Module:
    """Build on meta, cast there, then fill each tensor with small random bf16 values (made on the GPU: fast).

    Casting before allocating means no fp32 copy ever exists (57 GB for one A14B expert).
    """
    with torch.device("meta"):
        model = build().to(torch.bfloat16)
    model = model.to_empty(device=device)
    source = "cuda" if torch.cuda.is_available() else "cpu"
    with torch.no_grad():
        for tensor in list(model.parameters()) + list(model.buffers()):
            tensor.copy_(torch.randn(tensor.shape, device=source, dtype=torch.bfloat16) * 0.02)
    return model


def seeded_transformer(kind: str, device: str, tiny: bool):
    """A transformer of ``kind`` (wan_a14b, wan_ti2v_5b, hunyuanvideo, cogvideox_5b) built in bf16 on ``device``
    from seed 0, so that every variant a benchmark compares gets the same weights; ``tiny``: two layers."""
    from diffusers import CogVideoXTransformer3DModel, HunyuanVideoTransformer3DModel

    layers = 2 if tiny else None
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(device):
            if kind == "wan_a14b":
                model = wan_a14b_expert(layers or 40)
            elif kind == "wan_ti2v_5b":
                model = wan_ti2v_5b_transformer(layers or 30)
            elif kind == "hunyuanvideo":
                model = HunyuanVideoTransformer3DModel(num_layers=1 if tiny else 20, num_single_layers=1 if tiny else 40)
            else:
                model = CogVideoXTransformer3DModel(
                    num_attention_heads=48, attention_head_dim=64, in_channels=16, out_channels=16, num_layers=layers or 42,
                    sample_width=8 if tiny else 90, sample_height=8 if tiny else 60, sample_frames=9 if tiny else 49, patch_size=2, text_embed_dim=4096,
                    time_embed_dim=512, use_rotary_positional_embeddings=True,
                    use_learned_positional_embeddings=False)
    finally:
        torch.set_default_dtype(torch.float32)
    # from_pretrained(torch_dtype=bf16) keeps these small modules in fp32; do the same.
    for name, module in model.named_modules():
        if any(part in (model._keep_in_fp32_modules or []) for part in name.split(".")):
            module.float()
    return model.eval().requires_grad_(False)


class RandomWeightWanSession(WanSession):
    """The Wan 2.2 A14B session, its components built in code with random weights instead of read from a folder
    (``tiny``: the tests' tiny components, for a dry run on the CPU)."""

    def __init__(self, strategy: MemoryStrategy, device: torch.device, tiny: bool):
        super().__init__("wan2.2-t2v-a14b", Path("/nonexistent"), strategy, device)
        self.tiny = tiny

    def _load(self, pipeline_class, keep: tuple[str, ...], **overrides):
        from diffusers import UniPCMultistepScheduler

        from tests.assets.tiny_models import tiny_tokenizer, tiny_umt5, tiny_wan_transformer, tiny_wan_vae

        builders = {
            "tokenizer": tiny_tokenizer,
            "text_encoder": (lambda: tiny_umt5()) if self.tiny else (lambda: random_bf16(umt5_xxl_encoder, self.device)),
            "transformer": tiny_wan_transformer if self.tiny else (lambda: random_bf16(wan_a14b_expert, "cpu")),
            "vae": tiny_wan_vae if self.tiny else wan21_vae,
            "scheduler": lambda: UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                                         flow_shift=3.0),
        }
        builders["transformer_2"] = builders["transformer"]
        components = {name: builders[name]() if name in keep else None for name in builders}
        for name in ("transformer", "transformer_2", "text_encoder"):
            if components[name] is not None:
                components[name] = components[name].to(torch.bfloat16).eval()
        return pipeline_class(boundary_ratio=0.875, **components)
