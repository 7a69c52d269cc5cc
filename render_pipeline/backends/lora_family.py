"""The model family a LoRA file was trained on, guessed from its module names and sizes, in words.

Torch-free, as lora_files.py is: it names the family in the message when a file does not fit.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from render_pipeline.backends.lora_files import LoraHeader

# What a LoRA's module names (without their prefix) say about the network it was trained on.
_WAN = re.compile(r"^blocks[._]\d+[._]((self|cross)[._]attn|attn[12][._]to_|ffn[._])")
_DOUBLE_STREAM = re.compile(r"^(double_blocks|transformer_blocks)[._](\d+)[._]")
_SINGLE_STREAM = re.compile(r"^(single_blocks|single_transformer_blocks)[._](\d+)[._]")
_HUNYUAN_ONLY = re.compile(r"token_refiner|^txt_in[._]|img_attn_qkv|txt_attn_qkv|img_mlp[._]fc")
_JOINT_ATTENTION = re.compile(r"^(double_blocks|transformer_blocks)[._]\d+[._].*(add_[qkv]_proj|to_add_out|txt_attn|txt_mlp)")
_UNET = re.compile(r"^(unet[._])?(down_blocks|up_blocks|mid_block|input_blocks|output_blocks)[._]")
_COGVIDEOX = re.compile(r"^transformer_blocks[._]\d+[._](attn1|norm1[._]linear|ff[._]net)")
# In-features of a Wan attention projection -> the model it belongs to.
_WAN_WIDTHS = {5120: "Wan 2.x 14B (A14B, or 2.1 14B)", 3072: "Wan 2.2 TI2V-5B", 1536: "Wan 2.1 1.3B"}
# HunyuanVideo has 20 double-stream and 40 single-stream blocks; Flux has 19 and 38.
_HUNYUAN_DOUBLE, _HUNYUAN_SINGLE = 20, 40


def guess_family(header: LoraHeader) -> str:
    """The model family a LoRA's module names and sizes point to, in words."""
    modules = [t.module for t in header.tensors]
    if any(_UNET.search(name) for name in modules):
        return "Stable Diffusion (a UNet)"
    doubles = [int(m.group(2)) for name in modules if (m := _DOUBLE_STREAM.search(name))]
    singles = [int(m.group(2)) for name in modules if (m := _SINGLE_STREAM.search(name))]
    hunyuan_only = any(_HUNYUAN_ONLY.search(name) for name in modules)
    joint = any(_JOINT_ATTENTION.search(name) for name in modules)  # text with its own weights in each block
    if singles or hunyuan_only or joint:
        if (hunyuan_only or max(doubles, default=0) >= _HUNYUAN_DOUBLE - 1
                or max(singles, default=0) >= _HUNYUAN_SINGLE - 2):
            return "HunyuanVideo"
        return "Flux or HunyuanVideo (blocks where the text has weights of its own)"
    if any(_WAN.search(name) for name in modules):
        width = _query_width(header, r"(self[._]attn[._]q|attn1[._]to_q)$")
        if not width:
            return "Wan 2.x"
        return _WAN_WIDTHS.get(width, f"Wan 2.x (width {width})")
    if any(_COGVIDEOX.search(name) for name in modules):
        if any(re.search(r"[._]attn2[._]", name) for name in modules):
            return "a transformer with cross-attention (LTX-Video, Mochi or similar), not one of ours"
        width = _query_width(header, r"attn1[._]to_q$")
        if width is None:
            return "CogVideoX"
        return {3072: "CogVideoX-5B", 1920: "CogVideoX-2B"}.get(width, "CogVideoX")
    return "a model this program does not know"


def _query_width(header: LoraHeader, module_pattern: str) -> int | None:
    """The in-features of the first attention query projection the LoRA changes."""
    for tensor in header.tensors:
        if tensor.part == "down" and len(tensor.shape) == 2 and re.search(module_pattern, tensor.module):
            return tensor.shape[1]
    return None
