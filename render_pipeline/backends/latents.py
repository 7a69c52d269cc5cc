"""What a diffusion session (diffusion.py) and its window-by-window renders (windowed.py) both use:
latent frames held as known while a window denoises, the fingerprint that ties kept latents and
windows to their request, and decoded frames as 8-bit RGB."""

from __future__ import annotations

import json
from dataclasses import asdict

import torch

from render_pipeline.backends.base import RenderRequest


class HeldLatents:
    """Latent frames at the start of a window that stay what they are known to be while it denoises.

    After every step the first frames of the latents are put back: the known latents noised to the
    level the others have reached (flow matching: (1 - sigma) * known + sigma * noise; other
    schedulers: their own add_noise), and after the last step, the known latents themselves. The
    new frames are denoised beside them, so they grow out of them (the way inpainting holds the
    known part of a picture).
    """

    def __init__(self, known: torch.Tensor, axis: int, seed: int):
        self.known = known
        self.axis = axis
        self.noise = torch.randn(known.shape, generator=torch.Generator("cpu").manual_seed(seed),
                                 dtype=torch.float32).to(known.device)

    def put_back(self, scheduler, steps_done: int, latents: torch.Tensor) -> torch.Tensor:
        known = self.known.to(torch.float32)
        if steps_done >= len(scheduler.timesteps):
            held = known
        elif getattr(scheduler.config, "use_flow_sigmas", False) or "FlowMatch" in type(scheduler).__name__:
            sigma = float(scheduler.sigmas[steps_done])
            held = (1 - sigma) * known + sigma * self.noise
        else:
            held = scheduler.add_noise(known, self.noise, scheduler.timesteps[steps_done:steps_done + 1])
        latents = latents.clone()
        index = [slice(None)] * latents.dim()
        index[self.axis] = slice(0, known.shape[self.axis])
        latents[tuple(index)] = held.to(latents.dtype)
        return latents


def eight_bit(chunk: torch.Tensor, video_processor) -> torch.Tensor:
    """A run of decoded frames (B, C, F, H, W in [-1, 1]) as 8-bit RGB frames (F, H, W, 3), on its device."""
    pixels = video_processor.postprocess_video(chunk, output_type="pt")[0]  # F, C, H, W in [0, 1]
    return (pixels * 255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def request_fingerprint(request: RenderRequest) -> str:
    """The request as kept beside its saved latents or windows, to tell whether they were made for it."""
    fields = asdict(request)
    fields.pop("shot_id")
    return json.dumps(fields, sort_keys=True, default=str)
