"""Tiny, randomly initialised but real diffusers pipelines saved in the diffusers folder layout.

Built in code (no hub): 2 layers, 2 heads, a tokenizer from a small word vocabulary. Others may
reuse these to exercise a real backend session on the CPU in a second or two.
"""

from __future__ import annotations

from pathlib import Path

import torch

WORDS = ("a ship at dawn the sea harbor grey destroyer sailors on deck bow fleet comes home light "
         "blurry distorted watermark over exposed static").split()


def tiny_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{word: index + 3 for index, word in enumerate(dict.fromkeys(WORDS))}}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                                   model_max_length=32)


def tiny_umt5(d_model: int = 32):
    from transformers import UMT5Config, UMT5EncoderModel

    config = UMT5Config(vocab_size=64, d_model=d_model, d_kv=8, d_ff=32, num_layers=2, num_heads=2,
                        relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1)
    return UMT5EncoderModel(config).eval()


def tiny_wan_transformer(in_channels: int = 16):
    from diffusers import WanTransformer3DModel

    return WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12,
                                 in_channels=in_channels, out_channels=16, text_dim=32, freq_dim=256, ffn_dim=32,
                                 num_layers=2, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
                                 rope_max_seq_len=32).eval()


def tiny_wan_vae():
    from diffusers import AutoencoderKLWan

    return AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                            temperal_downsample=[False, True, True]).eval()


def build_wan_a14b_folder(folder: Path, image_to_video: bool = False, seed: int = 0) -> Path:
    """A two-expert Wan 2.2 A14B-shaped pipeline (T2V, or I2V with 36 input channels) saved to ``folder``."""
    from diffusers import UniPCMultistepScheduler, WanImageToVideoPipeline, WanPipeline

    torch.manual_seed(seed)
    in_channels = 36 if image_to_video else 16  # I2V: noise + 4 mask channels + the image's latents
    components = dict(
        tokenizer=tiny_tokenizer(), text_encoder=tiny_umt5(), vae=tiny_wan_vae(),
        scheduler=UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0),
        transformer=tiny_wan_transformer(in_channels), transformer_2=tiny_wan_transformer(in_channels),
        boundary_ratio=0.875,
    )
    if image_to_video:
        pipeline = WanImageToVideoPipeline(image_encoder=None, image_processor=None, **components)
    else:
        pipeline = WanPipeline(**components)
    pipeline.save_pretrained(folder)
    return folder


def build_cogvideox_folder(folder: Path, seed: int = 0) -> Path:
    """A CogVideoX-shaped pipeline (1 layer, T5 encoder, 3D VAE) saved to ``folder``."""
    from diffusers import AutoencoderKLCogVideoX, CogVideoXDDIMScheduler, CogVideoXPipeline, CogVideoXTransformer3DModel
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(seed)
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=4, attention_head_dim=8, in_channels=4, out_channels=4, time_embed_dim=2, text_embed_dim=32,
        num_layers=1, sample_width=2, sample_height=2, sample_frames=9, patch_size=2, temporal_compression_ratio=4,
        max_text_seq_length=226).eval()
    vae = AutoencoderKLCogVideoX(
        in_channels=3, out_channels=3, down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4, block_out_channels=(8, 8, 8, 8), latent_channels=4,
        layers_per_block=1, norm_num_groups=2, temporal_compression_ratio=4).eval()
    text_encoder = T5EncoderModel(T5Config(vocab_size=64, d_model=32, d_kv=8, d_ff=32, num_layers=2, num_heads=2,
                                           relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1)).eval()
    CogVideoXPipeline(tokenizer=tiny_tokenizer(), text_encoder=text_encoder, vae=vae, transformer=transformer,
                      scheduler=CogVideoXDDIMScheduler()).save_pretrained(folder)
    return folder
