"""LoRA files written in code, in each key naming the backends read, for tests.

A LoRA here is {diffusers module name: (A, B)}; each writer saves it with ``alpha`` in one naming.
The values are small multiples of 1/64, so that alpha / rank, the weight and B @ A are exact in
fp32: a fused LoRA and one merged by hand then agree to the bit, whatever order the sums run in.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

# Wan's diffusers module names -> the original release's (what ComfyUI and kohya name them by).
WAN_TOP_LEVEL = {
    "condition_embedder.time_embedder.linear_1": "time_embedding.0",
    "condition_embedder.time_embedder.linear_2": "time_embedding.2",
    "condition_embedder.time_proj": "time_projection.1",
    "condition_embedder.text_embedder.linear_1": "text_embedding.0",
    "condition_embedder.text_embedder.linear_2": "text_embedding.2",
    "proj_out": "head.head",
}
WAN_IN_BLOCK = {
    "attn1.to_q": "self_attn.q", "attn1.to_k": "self_attn.k", "attn1.to_v": "self_attn.v", "attn1.to_out.0": "self_attn.o",
    "attn2.to_q": "cross_attn.q", "attn2.to_k": "cross_attn.k", "attn2.to_v": "cross_attn.v",
    "attn2.to_out.0": "cross_attn.o", "ffn.net.0.proj": "ffn.0", "ffn.net.2": "ffn.2",
}


def wan_original_name(module: str) -> str:
    if module in WAN_TOP_LEVEL:
        return WAN_TOP_LEVEL[module]
    _, index, rest = module.split(".", 2)
    return f"blocks.{index}.{WAN_IN_BLOCK[rest]}"


def random_lora(transformer: torch.nn.Module, modules: list[str], rank: int = 4, seed: int = 0) -> dict:
    """A LoRA of ``rank`` on these linear modules of ``transformer``, with exact dyadic values."""
    generator = torch.Generator().manual_seed(seed)
    lora = {}
    for name in modules:
        out_features, in_features = transformer.get_submodule(name).weight.shape
        down = torch.randint(-8, 9, (rank, in_features), generator=generator) / 64
        up = torch.randint(-8, 9, (out_features, rank), generator=generator) / 64
        lora[name] = (down, up)
    return lora


def save_diffusers(path: Path, lora: dict, alpha: float) -> Path:
    """diffusers / PEFT keys; alpha in the adapter config diffusers saves in the file's metadata."""
    rank = next(iter(lora.values()))[0].shape[0]
    tensors = {}
    for module, (down, up) in lora.items():
        tensors[f"transformer.{module}.lora_A.weight"] = down.to(torch.bfloat16)
        tensors[f"transformer.{module}.lora_B.weight"] = up.to(torch.bfloat16)
    config = {"transformer.r": rank, "transformer.lora_alpha": alpha}
    save_file(tensors, str(path), metadata={"format": "pt", "lora_adapter_metadata": json.dumps(config)})
    return path


def save_wan_original(path: Path, lora: dict, alpha: float) -> Path:
    """ComfyUI's and the original release's keys: diffusion_model.<original name>.lora_down/lora_up, .alpha."""
    tensors = {}
    for module, (down, up) in lora.items():
        name = f"diffusion_model.{wan_original_name(module)}"
        tensors |= {f"{name}.lora_down.weight": down.to(torch.bfloat16), f"{name}.lora_up.weight": up.to(torch.bfloat16),
                    f"{name}.alpha": torch.tensor(float(alpha))}
    save_file(tensors, str(path))
    return path


def save_wan_kohya(path: Path, lora: dict, alpha: float) -> Path:
    """kohya / musubi-tuner keys: lora_unet_<original name, dots as underscores>."""
    tensors = {}
    for module, (down, up) in lora.items():
        name = "lora_unet_" + wan_original_name(module).replace(".", "_")
        tensors |= {f"{name}.lora_down.weight": down.to(torch.float16), f"{name}.lora_up.weight": up.to(torch.float16),
                    f"{name}.alpha": torch.tensor(float(alpha), dtype=torch.float16)}
    save_file(tensors, str(path))
    return path


def merged_by_hand(weights: dict[str, torch.Tensor], loras: list[tuple[dict, float, float]]) -> dict[str, torch.Tensor]:
    """W + sum of weight * (alpha / rank) * B @ A in fp32, cast once to W's dtype: {param name: tensor}."""
    changed = {}
    for lora, alpha, weight in loras:
        for module, (down, up) in lora.items():
            name = f"{module}.weight"
            base = changed.get(name, weights[name].float())
            changed[name] = base + weight * (alpha / down.shape[0]) * (up.float() @ down.float())
    return {name: value.to(weights[name].dtype) for name, value in changed.items()}
