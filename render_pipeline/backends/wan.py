"""Wan 2.2 through diffusers: T2V-A14B and I2V-A14B (two experts) and TI2V-5B (one model, text or image).

A14B is two 14 B transformers: `transformer` denoises while t >= boundary_ratio * 1000 (high
noise, layout), then `transformer_2` takes over (low noise, detail). WanPipeline switches between
them itself; with the `expert_swap` strategy only the one it is calling sits on the GPU.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from render_pipeline.backends.base import RenderRequest, conditioning_image
from render_pipeline.backends.diffusion import DiffusionSession, fast_modes_of
from render_pipeline.backends.wan_vae_channels_last import channels_last_decoder


class WanSession(DiffusionSession):
    text_components = ("text_encoder", "tokenizer")
    transformer_components = ("transformer", "transformer_2")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._image_pipeline = None  # TI2V-5B's image-to-video twin of the loaded pipeline

    def pipeline_class(self):
        import diffusers

        return getattr(diffusers, self.spec.pipeline)

    def pipeline_for(self, request: RenderRequest):
        pipeline = self._denoising_pipeline(fast_modes_of(request))
        if request.image is None or self.spec.pipeline != "WanPipeline":
            return pipeline
        # TI2V-5B animates an image with the same weights, through diffusers' I2V pipeline. It is
        # built here around the loaded modules, not with WanImageToVideoPipeline.from_pipe: that
        # casts every module it shares to its default dtype, fp32, in place, which left the
        # transformer in fp32 (twice the memory, far slower) for every later shot.
        if self._image_pipeline is None or self._image_pipeline.transformer is not pipeline.transformer:
            from diffusers import WanImageToVideoPipeline

            self._image_pipeline = WanImageToVideoPipeline(
                **pipeline.components, boundary_ratio=pipeline.config.boundary_ratio,
                expand_timesteps=pipeline.config.expand_timesteps)
            self._image_pipeline.set_progress_bar_config(disable=True)
        return self._image_pipeline

    def close(self) -> None:
        self._image_pipeline = None
        super().close()

    def configure(self, pipeline) -> None:
        if self.spec.shift is not None:
            self.set_shift(pipeline, self.spec.shift)
        if self.spec.boundary_ratio is not None:
            pipeline.register_to_config(boundary_ratio=self.spec.boundary_ratio)

    def set_shift(self, pipeline, shift: float) -> None:
        scheduler = pipeline.scheduler
        if scheduler.config.get("flow_shift") != shift:
            pipeline.scheduler = type(scheduler).from_config(scheduler.config, flow_shift=shift)

    def negative_of(self, request: RenderRequest) -> str:
        return request.negative_prompt or self.spec.negative_prompt

    def encode_text(self, text_pipeline, text: str) -> dict[str, torch.Tensor]:
        embeds, _ = text_pipeline.encode_prompt(prompt=text, do_classifier_free_guidance=False,
                                                max_sequence_length=self.spec.text_tokens, device=self.device)
        return {"prompt_embeds": embeds}

    def call_arguments(self, pipeline, request: RenderRequest) -> dict:
        settings = request.settings
        arguments = {"guidance_scale": settings.get("guidance", self.spec.guidance)}
        if self.spec.guidance_2 is not None:
            arguments["guidance_scale_2"] = settings.get("guidance_2", self.spec.guidance_2)
        if request.image is not None:
            arguments["image"] = conditioning_image(request.image, request.width, request.height)
        return arguments

    def decoded_chunks(self, pipeline, latents: torch.Tensor) -> Iterator[torch.Tensor]:
        return decode_in_runs(pipeline.vae, latents)

    def encoded_frames(self, pipeline, video: torch.Tensor) -> torch.Tensor:
        # Normalised as WanImageToVideoPipeline normalises its conditioning latents (the inverse of unnormalised).
        vae = pipeline.vae
        latents = vae.encode(video.to(vae.dtype)).latent_dist.mode()
        mean = torch.tensor(vae.config.latents_mean).view(1, vae.config.z_dim, 1, 1, 1).to(latents)
        inverse_std = 1.0 / torch.tensor(vae.config.latents_std).view(1, vae.config.z_dim, 1, 1, 1).to(latents)
        return ((latents - mean) * inverse_std).to(torch.float32)


def decode_in_runs(vae, latents: torch.Tensor) -> Iterator[torch.Tensor]:
    """The video of WanPipeline's latents, frame run by frame run as the VAE makes them."""
    latents = unnormalised(vae, latents)
    if latents.is_cuda:
        # cuDNN's convolutions are faster given channels-last tensors, and the decoder is kept in that
        # layout throughout: the TI2V-5B decode of a 1280x704x121 shot took 7.75 s instead of 9.10
        # on an H200 (docs/benchmarks.md).
        channels_last_decoder(vae)
        latents = latents.contiguous(memory_format=torch.channels_last_3d)
    if vae.use_tiling:  # the VAE's own tiled call, whole
        yield vae.decode(latents, return_dict=False)[0]
    else:
        yield from decode_frame_by_frame(vae, latents)


def unnormalised(vae, latents: torch.Tensor) -> torch.Tensor:
    """The pipeline's latents as the VAE takes them, computed as WanPipeline does (dividing by the
    reciprocal of the std rather than multiplying by it), so that the pixels are its pixels to the bit."""
    latents = latents.to(vae.dtype)
    mean = torch.tensor(vae.config.latents_mean).view(1, vae.config.z_dim, 1, 1, 1).to(latents)
    inverse_std = 1.0 / torch.tensor(vae.config.latents_std).view(1, vae.config.z_dim, 1, 1, 1).to(latents)
    return latents / inverse_std + mean


def decode_frame_by_frame(vae, latents: torch.Tensor) -> Iterator[torch.Tensor]:
    """What AutoencoderKLWan.decode returns (untiled), one latent frame's pixels at a time.

    The Wan VAE is causal in time and decodes one latent frame per call, carrying its convolution
    caches forward (1 frame, then 4 per latent frame); diffusers concatenates them all before
    returning. This makes the same calls on the same caches and yields each run instead, so the
    shot's first frames are encoded while the rest decode. It reads diffusers internals (the same
    from 0.35, the oldest release we accept, to 0.42); tests/test_backends_exact.py checks it
    against vae.decode bit for bit on whichever release is installed.
    """
    from diffusers.models.autoencoders.autoencoder_kl_wan import unpatchify

    vae.clear_cache()
    try:
        x = vae.post_quant_conv(latents)
        for index in range(x.shape[2]):
            vae._conv_idx = [0]
            out = vae.decoder(x[:, :, index:index + 1], feat_cache=vae._feat_map, feat_idx=vae._conv_idx,
                              first_chunk=index == 0)
            if vae.config.patch_size is not None:
                out = unpatchify(out, patch_size=vae.config.patch_size)
            yield torch.clamp(out, min=-1.0, max=1.0)
    finally:
        vae.clear_cache()
