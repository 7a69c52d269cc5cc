"""VAE decode on rank 0 only: the other ranks stop once the latents are final and write nothing."""

from __future__ import annotations

import torch


class NotThisRanksOutput(Exception):
    """Raised on ranks other than 0 where the pipeline would decode; the worker treats it as done."""


def decode_on_rank0(vae: torch.nn.Module, rank: int, tiled: bool) -> None:
    if rank == 0:
        if tiled:
            # Tiling trades decode time for memory (1280x720x81 fp32: 20.7 GiB whole, 4.4 GiB tiled).
            vae.enable_tiling()
        return

    def decode_elsewhere(*args, **kwargs):
        raise NotThisRanksOutput("rank 0 decodes and writes this shot")

    if vae.device.type != "cpu":  # free the GPU; host weights stay (see experts.place_expert)
        vae.to("meta")
    vae.decode = decode_elsewhere
