"""FlashAttention-4's kernels as torch's SDPA calls them, with the forward tiles measured fastest here.

torch serves SDPA's flash backend from a module that has FA4's `_flash_attn_fwd` and
`_flash_attn_bwd` (by default flash_attn.cute.interface itself). This module is that one,
except that on a Hopper GPU its forward asks for the tile in speed.HOPPER_FLASH_ATTENTION_4_TILES
for the head size, where one measured faster at our models' shapes than FA4's own choice
(benchmarks/bench_attention_tiles.py). A tile changes only the order of the sums. Imported only
inside speed.flash_attention_4(), on a GPU with FA4 installed.
"""

import torch
from flash_attn.cute.interface import _flash_attn_bwd  # noqa: F401 - torch's SDPA looks it up here
from flash_attn.cute.interface import _flash_attn_fwd as flash_attention_4_forward

from render_pipeline.backends import speed


def _flash_attn_fwd(q, k, v, **options):
    tile = speed.HOPPER_FLASH_ATTENTION_4_TILES.get(q.shape[-1])
    if tile is not None and "tile_mn" not in options and torch.cuda.get_device_capability(q.device)[0] == 9:
        tile_m, tile_n, p_in_registers, overlap = tile
        options.update(tile_mn=(tile_m, tile_n), mma_pv_is_rs=p_in_registers, intra_wg_overlap=overlap)
    return flash_attention_4_forward(q, k, v, **options)
