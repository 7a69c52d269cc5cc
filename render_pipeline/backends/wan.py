"""Wan 2.2 through diffusers: T2V-A14B and I2V-A14B (two experts) and TI2V-5B (one model, text or image).

A14B is two 14 B transformers: `transformer` denoises while t >= boundary_ratio * 1000 (high
noise, layout), then `transformer_2` takes over (low noise, detail). WanPipeline switches between
them itself; with the `expert_swap` strategy only the one it is calling sits on the GPU.
"""

from __future__ import annotations

import torch

from render_pipeline.backends.base import RenderRequest
from render_pipeline.backends.diffusion import DiffusionSession, fast_modes_of


class WanSession(DiffusionSession):
    text_components = ("text_encoder", "tokenizer")
    transformer_components = ("transformer", "transformer_2")

    def pipeline_class(self):
        import diffusers

        return getattr(diffusers, self.spec.pipeline)

    def pipeline_for(self, request: RenderRequest):
        pipeline = self._denoising_pipeline(fast_modes_of(request))
        if request.image is not None and self.spec.pipeline == "WanPipeline":
            # TI2V-5B renders image-to-video with the same weights, through diffusers' I2V pipeline.
            from diffusers import WanImageToVideoPipeline

            return WanImageToVideoPipeline.from_pipe(pipeline)
        return pipeline

    def configure(self, pipeline) -> None:
        scheduler = pipeline.scheduler
        pipeline.scheduler = type(scheduler).from_config(scheduler.config, flow_shift=self.spec.shift)
        if self.spec.boundary_ratio is not None:
            pipeline.register_to_config(boundary_ratio=self.spec.boundary_ratio)

    def encode_prompt(self, text_pipeline, prompt: str, negative: str) -> dict[str, torch.Tensor]:
        positive_embeds, negative_embeds = text_pipeline.encode_prompt(
            prompt=prompt, negative_prompt=negative or self.spec.negative_prompt,
            do_classifier_free_guidance=True, device=self.device,
        )
        return {"prompt_embeds": positive_embeds, "negative_prompt_embeds": negative_embeds}

    def call_arguments(self, pipeline, request: RenderRequest) -> dict:
        settings = request.settings
        arguments = {"guidance_scale": settings.get("guidance", self.spec.guidance)}
        if self.spec.guidance_2 is not None:
            arguments["guidance_scale_2"] = settings.get("guidance_2", self.spec.guidance_2)
        if request.image is not None:
            from PIL import Image

            with Image.open(request.image) as image:
                arguments["image"] = image.convert("RGB").resize((request.width, request.height))
        return arguments

    def decode(self, pipeline, latents: torch.Tensor) -> torch.Tensor:
        vae = pipeline.vae
        latents = latents.to(vae.dtype)
        mean = torch.tensor(vae.config.latents_mean).view(1, vae.config.z_dim, 1, 1, 1).to(latents)
        std = torch.tensor(vae.config.latents_std).view(1, vae.config.z_dim, 1, 1, 1).to(latents)
        return vae.decode(latents * std + mean, return_dict=False)[0]
