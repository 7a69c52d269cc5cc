"""HunyuanVideo through diffusers: guidance-distilled (one forward per step), 24 fps, 4n+1 frames.

It has no image-to-video variant here: the planner reports shots whose image is ignored.

Exact-path speed-up: diffusers pads every prompt to 256 text tokens and hands a padding mask to
every attention call, which rules out the fastest kernels (flash takes no mask; cuDNN runs about
a third slower with one). A shot renders one prompt, so the padding is cut off when the prompt
is encoded and the blocks attend without a mask: padded keys were masked out for every query,
and padded queries never reach the video tokens, so the result is the same.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from diffusers.models.transformers.transformer_hunyuan_video import HunyuanVideoAttnProcessor2_0

from render_pipeline.backends.base import RenderRequest
from render_pipeline.backends.diffusion import DiffusionSession


class HunyuanVideoSession(DiffusionSession):
    text_components = ("text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2")

    def pipeline_class(self):
        from diffusers import HunyuanVideoPipeline

        return HunyuanVideoPipeline

    def negative_of(self, request: RenderRequest) -> None:
        return None  # guidance-distilled: no negative prompt

    def encode_text(self, text_pipeline, text: str) -> dict[str, torch.Tensor]:
        embeds, pooled, mask = text_pipeline.encode_prompt(prompt=text, prompt_2=None, device=self.device,
                                                           max_sequence_length=self.spec.text_tokens)
        embeds, mask = drop_text_padding(embeds, mask)
        return {"prompt_embeds": embeds, "pooled_prompt_embeds": pooled, "prompt_attention_mask": mask}

    def configure(self, pipeline) -> None:
        if self.spec.shift is not None:
            self.set_shift(pipeline, self.spec.shift)
        attend_without_mask(pipeline.transformer)

    def set_shift(self, pipeline, shift: float) -> None:
        scheduler = pipeline.scheduler
        if scheduler.config.get("shift") != shift:
            pipeline.scheduler = type(scheduler).from_config(scheduler.config, shift=shift)

    def call_arguments(self, pipeline, request: RenderRequest) -> dict:
        return {"guidance_scale": request.settings.get("guidance", self.spec.guidance)}

    def decoded_chunks(self, pipeline, latents: torch.Tensor) -> Iterator[torch.Tensor]:
        vae = pipeline.vae
        yield vae.decode(latents.to(vae.dtype) / vae.config.scaling_factor, return_dict=False)[0]

    def encoded_frames(self, pipeline, video: torch.Tensor) -> torch.Tensor:
        vae = pipeline.vae
        return (vae.encode(video.to(vae.dtype)).latent_dist.mode() * vae.config.scaling_factor).to(torch.float32)


def drop_text_padding(embeds: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One prompt's embeddings without the padding positions (its mask is then all ones)."""
    if embeds.shape[0] != 1:
        raise ValueError("drop_text_padding takes one prompt; prompts of different lengths need the mask")
    length = int(mask[0].sum())
    return embeds[:, :length], mask[:, :length]


class UnmaskedAttnProcessor(HunyuanVideoAttnProcessor2_0):
    """HunyuanVideo's attention, ignoring the mask (valid only for prompts from drop_text_padding)."""

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, image_rotary_emb=None):
        return super().__call__(attn, hidden_states, encoder_hidden_states, None, image_rotary_emb)


def attend_without_mask(transformer) -> None:
    """Make the video blocks attend without the text padding mask (see the module docstring)."""
    for block in (*transformer.transformer_blocks, *transformer.single_transformer_blocks):
        block.attn.set_processor(UnmaskedAttnProcessor())
