"""Tiny, randomly initialised but real diffusers pipelines saved in the diffusers folder layout.

Built in code (no hub): 2 layers, 2 heads, a tokenizer from a small word vocabulary. Others may
reuse these to exercise a real backend session on the CPU in a second or two.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

WORDS = ("a ship at dawn the sea harbor grey destroyer sailors on deck bow fleet comes home light "
         "blurry distorted watermark over exposed static").split()


def tiny_tokenizer(max_length: int = 32):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{word: index + 3 for index, word in enumerate(dict.fromkeys(WORDS))}}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                                   model_max_length=max_length)


def tiny_umt5(d_model: int = 32):
    from transformers import UMT5Config, UMT5EncoderModel

    config = UMT5Config(vocab_size=64, d_model=d_model, d_kv=8, d_ff=32, num_layers=2, num_heads=2,
                        relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1)
    return UMT5EncoderModel(config).eval()


def tiny_wan_transformer(in_channels: int = 16, attention_head_dim: int = 12):
    from diffusers import WanTransformer3DModel

    return WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=attention_head_dim,
                                 in_channels=in_channels, out_channels=16, text_dim=32, freq_dim=256, ffn_dim=32,
                                 num_layers=2, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
                                 rope_max_seq_len=32).eval()


def tiny_wan_vae():
    from diffusers import AutoencoderKLWan

    return AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                            temperal_downsample=[False, True, True]).eval()


def small_wan21_vae():
    """The Wan 2.1 VAE's structure (stages, blocks per stage, channel multipliers) at 1/24 of its width,
    so that the original release's names for its layers apply to it."""
    from diffusers import AutoencoderKLWan

    return AutoencoderKLWan(base_dim=4, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2,
                            temperal_downsample=[False, True, True]).eval()


def small_wan22_vae():
    """The Wan 2.2 VAE's structure (TI2V-5B: 48 latent channels, 2x2 patches, residual stages) at 1/40 of its width."""
    from diffusers import AutoencoderKLWan

    return AutoencoderKLWan(base_dim=4, decoder_base_dim=8, z_dim=48, in_channels=12, out_channels=12, is_residual=True,
                            patch_size=2, latents_mean=[0.0] * 48, latents_std=[1.0] * 48, dim_mult=[1, 2, 4, 4],
                            num_res_blocks=2, scale_factor_spatial=16, scale_factor_temporal=4,
                            temperal_downsample=[False, True, True]).eval()


def build_wan_a14b_folder(folder: Path, image_to_video: bool = False, seed: int = 0, attention_head_dim: int = 12,
                          vae=None) -> Path:
    """A two-expert Wan 2.2 A14B-shaped pipeline (T2V, or I2V with 36 input channels) saved to ``folder``."""
    from diffusers import UniPCMultistepScheduler, WanImageToVideoPipeline, WanPipeline

    torch.manual_seed(seed)
    in_channels = 36 if image_to_video else 16  # I2V: noise + 4 mask channels + the image's latents
    components = dict(
        tokenizer=tiny_tokenizer(), text_encoder=tiny_umt5(), vae=vae or tiny_wan_vae(),
        scheduler=UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0),
        transformer=tiny_wan_transformer(in_channels, attention_head_dim),
        transformer_2=tiny_wan_transformer(in_channels, attention_head_dim),
        boundary_ratio=0.875,
    )
    if image_to_video:
        pipeline = WanImageToVideoPipeline(image_encoder=None, image_processor=None, **components)
    else:
        pipeline = WanPipeline(**components)
    pipeline.save_pretrained(folder)
    return folder


def tiny_wan22_vae():
    """The Wan 2.2 VAE shape (TI2V-5B): 48 latent channels, 2x2 patchified pixels, 16x spatial compression."""
    from diffusers import AutoencoderKLWan

    return AutoencoderKLWan(base_dim=3, z_dim=48, in_channels=12, out_channels=12, is_residual=True, patch_size=2,
                            latents_mean=[0.0] * 48, latents_std=[1.0] * 48, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                            scale_factor_spatial=16, scale_factor_temporal=4,
                            temperal_downsample=[False, True, True]).eval()


def build_wan_ti2v_5b_folder(folder: Path, seed: int = 0, attention_head_dim: int = 12, vae=None) -> Path:
    """A Wan 2.2 TI2V-5B-shaped pipeline (one transformer, 48-channel VAE, per-frame timesteps) saved to ``folder``."""
    from diffusers import UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel

    torch.manual_seed(seed)
    transformer = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=attention_head_dim,
                                        in_channels=48, out_channels=48, text_dim=32, freq_dim=256, ffn_dim=32,
                                        num_layers=2, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
                                        rope_max_seq_len=32).eval()
    WanPipeline(
        tokenizer=tiny_tokenizer(), text_encoder=tiny_umt5(), vae=vae or tiny_wan22_vae(), transformer=transformer,
        transformer_2=None, expand_timesteps=True,
        scheduler=UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=5.0),
    ).save_pretrained(folder)
    return folder


def build_hunyuanvideo_folder(folder: Path, seed: int = 0, attention_head_dim: int = 10,
                              rope_axes_dim: tuple[int, int, int] = (2, 4, 4)) -> Path:
    """A HunyuanVideo-shaped pipeline (Llama + CLIP text encoders, dual/single-stream transformer) saved to ``folder``.

    ``rope_axes_dim``: the head's split between frames, rows and columns (summing to ``attention_head_dim``)."""
    from diffusers import (
        AutoencoderKLHunyuanVideo,
        FlowMatchEulerDiscreteScheduler,
        HunyuanVideoPipeline,
        HunyuanVideoTransformer3DModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, LlamaConfig, LlamaModel

    torch.manual_seed(seed)
    llama = LlamaModel(LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=3,
                                   num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                                   pad_token_id=0, bos_token_id=1, eos_token_id=1)).eval()
    clip = CLIPTextModel(CLIPTextConfig(vocab_size=64, hidden_size=8, intermediate_size=16, num_hidden_layers=2,
                                        num_attention_heads=2, max_position_embeddings=77, pad_token_id=0,
                                        bos_token_id=1, eos_token_id=1)).eval()
    transformer = HunyuanVideoTransformer3DModel(
        in_channels=4, out_channels=4, num_attention_heads=2, attention_head_dim=attention_head_dim, num_layers=1,
        num_single_layers=1, num_refiner_layers=1, patch_size=1, patch_size_t=1, guidance_embeds=True,
        text_embed_dim=16, pooled_projection_dim=8, rope_axes_dim=rope_axes_dim).eval()
    vae = AutoencoderKLHunyuanVideo(
        in_channels=3, out_channels=3, latent_channels=4, down_block_types=("HunyuanVideoDownBlock3D",) * 4,
        up_block_types=("HunyuanVideoUpBlock3D",) * 4, block_out_channels=(8, 8, 8, 8), layers_per_block=1,
        norm_num_groups=4, spatial_compression_ratio=8, temporal_compression_ratio=4).eval()
    HunyuanVideoPipeline(
        text_encoder=llama, tokenizer=tiny_tokenizer(max_length=512), transformer=transformer, vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0), text_encoder_2=clip, tokenizer_2=tiny_tokenizer(),
    ).save_pretrained(folder)
    return folder


def build_cogvideox_folder(folder: Path, image_to_video: bool = False, seed: int = 0) -> Path:
    """A CogVideoX-shaped pipeline (1 layer, T5 encoder, 3D VAE) saved to ``folder``; I2V adds image latent channels."""
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXDDIMScheduler,
        CogVideoXImageToVideoPipeline,
        CogVideoXPipeline,
        CogVideoXTransformer3DModel,
    )
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(seed)
    # I2V: the noise and the image's latents side by side; the 5B-I2V also learns its position embeddings
    # and uses 3D RoPE, which splits each head into even parts for t, h, w (a head of 16: 4, 6, 6).
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=2, attention_head_dim=16, in_channels=8 if image_to_video else 4, out_channels=4,
        time_embed_dim=2, text_embed_dim=32, num_layers=1, sample_width=2, sample_height=2, sample_frames=9,
        patch_size=2, temporal_compression_ratio=4, max_text_seq_length=226,
        use_rotary_positional_embeddings=image_to_video, use_learned_positional_embeddings=image_to_video).eval()
    vae = AutoencoderKLCogVideoX(
        in_channels=3, out_channels=3, down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4, block_out_channels=(8, 8, 8, 8), latent_channels=4,
        layers_per_block=1, norm_num_groups=2, temporal_compression_ratio=4).eval()
    text_encoder = T5EncoderModel(T5Config(vocab_size=64, d_model=32, d_kv=8, d_ff=32, num_layers=2, num_heads=2,
                                           relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1)).eval()
    pipeline_class = CogVideoXImageToVideoPipeline if image_to_video else CogVideoXPipeline
    pipeline_class(tokenizer=tiny_tokenizer(), text_encoder=text_encoder, vae=vae, transformer=transformer,
                   scheduler=CogVideoXDDIMScheduler()).save_pretrained(folder)
    return folder


def decoded_pixels(path: Path, tmp_path: Path) -> np.ndarray:
    """Every RGB byte of a rendered video, to compare renders exactly."""
    from render_pipeline.media.ffmpeg import run_ffmpeg

    raw = tmp_path / (path.stem + ".rgb")
    run_ffmpeg(["-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", str(raw)], what="decoding test output")
    return np.frombuffer(raw.read_bytes(), dtype=np.uint8)
