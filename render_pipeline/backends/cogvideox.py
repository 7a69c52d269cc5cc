"""CogVideoX-5B and CogVideoX-5B-I2V through diffusers (49 frames at 8 fps, 720x480, batched CFG)."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from render_pipeline.backends.base import RenderRequest, conditioning_image
from render_pipeline.backends.diffusion import DiffusionSession


class CogVideoXSession(DiffusionSession):
    text_components = ("text_encoder", "tokenizer")
    latent_frame_axis = 1  # CogVideoX's pipelines denoise latents as (B, F, C, H, W)

    def pipeline_class(self):
        import diffusers

        return getattr(diffusers, self.spec.pipeline)

    def configure(self, pipeline) -> None:
        if self.spec.pipeline == "CogVideoXImageToVideoPipeline":
            # The I2V pipeline hands the image to the VAE encoder in the text embeddings' dtype (bf16);
            # the decoder keeps the dtype the plan chose.
            pipeline.vae.encoder.to(torch.bfloat16)

    def encode_text(self, text_pipeline, text: str) -> dict[str, torch.Tensor]:
        embeds, _ = text_pipeline.encode_prompt(prompt=text, do_classifier_free_guidance=False,
                                                max_sequence_length=self.spec.text_tokens, device=self.device)
        return {"prompt_embeds": embeds}

    def call_arguments(self, pipeline, request: RenderRequest) -> dict:
        # The official 5B sampling raises guidance over the steps (dynamic CFG).
        arguments = {"guidance_scale": request.settings.get("guidance", self.spec.guidance), "use_dynamic_cfg": True}
        if self.spec.pipeline == "CogVideoXImageToVideoPipeline":
            if request.image is None:
                raise ValueError(f"shot {request.shot_id}: {self.name} needs an image (image or continue_from)")
            arguments["image"] = conditioning_image(request.image, request.width, request.height)
        return arguments

    def decoded_chunks(self, pipeline, latents: torch.Tensor) -> Iterator[torch.Tensor]:
        decoder_dtype = pipeline.vae.decoder.conv_in.conv.weight.dtype  # vae.dtype reads the encoder's
        yield pipeline.decode_latents(latents.to(decoder_dtype))

    def encoded_frames(self, pipeline, video: torch.Tensor) -> torch.Tensor:
        # Scaled and laid out as the pipelines' decode_latents expects them back.
        vae = pipeline.vae
        encoder_dtype = vae.encoder.conv_in.conv.weight.dtype
        latents = vae.encode(video.to(encoder_dtype)).latent_dist.mode() * vae.config.scaling_factor
        return latents.permute(0, 2, 1, 3, 4).to(torch.float32)
