"""HunyuanVideo through diffusers: guidance-distilled (one forward per step), 24 fps, 4n+1 frames.

It has no image-to-video variant here: the planner reports shots whose image is ignored.
"""

from __future__ import annotations

import torch

from render_pipeline.backends.base import RenderRequest
from render_pipeline.backends.diffusion import DiffusionSession


class HunyuanVideoSession(DiffusionSession):
    text_components = ("text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2")

    def pipeline_class(self):
        from diffusers import HunyuanVideoPipeline

        return HunyuanVideoPipeline

    def configure(self, pipeline) -> None:
        scheduler = pipeline.scheduler
        pipeline.scheduler = type(scheduler).from_config(scheduler.config, shift=self.spec.shift)

    def encode_prompt(self, text_pipeline, prompt: str, negative: str) -> dict[str, torch.Tensor]:
        # Distilled guidance: the negative prompt is not used.
        embeds, pooled, mask = text_pipeline.encode_prompt(prompt=prompt, prompt_2=None, device=self.device)
        return {"prompt_embeds": embeds, "pooled_prompt_embeds": pooled, "prompt_attention_mask": mask}

    def call_arguments(self, pipeline, request: RenderRequest) -> dict:
        return {"guidance_scale": request.settings.get("guidance", self.spec.guidance)}

    def decode(self, pipeline, latents: torch.Tensor) -> torch.Tensor:
        vae = pipeline.vae
        return vae.decode(latents.to(vae.dtype) / vae.config.scaling_factor, return_dict=False)[0]
