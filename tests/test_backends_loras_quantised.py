"""LoRAs on weights loaded in place in a quantised file: fp8 with scales changed in what they mean, GGUF computed
beside the layer; both taken out exactly."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.optional_parts import module_needs

pytestmark = module_needs("diffusion")  # before the imports that load torch

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from render_pipeline.backends.base import LoraFile  # noqa: E402
from render_pipeline.backends.lora_fuse import FusedLoras  # noqa: E402
from render_pipeline.backends.scaled_fp8 import ScaledFp8Linear, use_scaled_fp8  # noqa: E402
from tests.assets.release_files import fp8_scaled  # noqa: E402
from tests.assets.tiny_models import tiny_wan_transformer  # noqa: E402
from tests.tiny_loras import random_lora, save_diffusers  # noqa: E402

WAN = "wan2.2-t2v-a14b"


def lora_file(path: Path, weight: float) -> LoraFile:
    return LoraFile(path=path, sha256=hashlib.sha256(path.read_bytes()).hexdigest(), weight=weight, expert="both")


def by_hand(lora: dict, module: str, alpha: float, weight: float) -> torch.Tensor:
    down, up = lora[module]
    return weight * (alpha / down.shape[0]) * (up.float() @ down.float())


def test_a_lora_changes_what_fp8_weights_mean_and_comes_out_bit_for_bit(tmp_path):
    modules = ["blocks.0.attn1.to_q", "blocks.1.ffn.net.0.proj", "proj_out"]
    model = tiny_wan_transformer()
    lora = random_lora(model, modules)
    path = save_diffusers(tmp_path / "look.safetensors", lora, alpha=2.0)
    use_scaled_fp8(model, fp8_scaled(model.state_dict()), not_fp8=[])
    layers = {name: model.get_submodule(name) for name in modules}
    assert all(isinstance(layer, ScaledFp8Linear) for layer in layers.values())
    stored = {name: layer.weight.detach().clone() for name, layer in layers.items()}
    meant = {name: layer.dequantized(torch.float32) for name, layer in layers.items()}

    loras = FusedLoras(WAN, torch.device("cpu"))
    loras.use((lora_file(path, 0.75),), {"transformer": model})
    for name, layer in layers.items():
        assert layer.weight.dtype == torch.float8_e4m3fn  # still fp8, at its file's scales
        wanted = meant[name] + by_hand(lora, name, 2.0, 0.75)
        got = layer.dequantized(torch.float32)
        # Stored back in fp8 (3 mantissa bits): within half a step of what the LoRA makes the weight mean.
        step = wanted.abs() * 2.0 ** -4 + layer.scale * 2.0 ** -9
        assert ((got - wanted).abs() <= step).all(), name
        assert (got - meant[name]).abs().max() > 0  # it did change

    loras.use((), {"transformer": model})
    for name, layer in layers.items():
        assert torch.equal(layer.weight.view(torch.uint8), stored[name].view(torch.uint8)), name


def test_a_lora_on_gguf_layers_is_computed_beside_them_and_taken_out_exactly(tmp_path):
    import gguf
    from diffusers.quantizers.gguf.utils import GGUFLinear, GGUFParameter, dequantize_gguf_tensor

    modules = ["blocks.0.ffn.net.2", "blocks.1.ffn.net.2", "condition_embedder.text_embedder.linear_1"]
    model = tiny_wan_transformer()
    lora = random_lora(model, modules)
    path = save_diffusers(tmp_path / "look.safetensors", lora, alpha=4.0)
    for name in modules:  # 32 inputs: one Q8_0 block a row
        plain = model.get_submodule(name)
        layer = GGUFLinear(plain.in_features, plain.out_features, bias=True, compute_dtype=torch.float32)
        blocks = gguf.quants.quantize(plain.weight.detach().numpy(), gguf.GGMLQuantizationType.Q8_0)
        layer.weight = GGUFParameter(torch.from_numpy(blocks), quant_type=gguf.GGMLQuantizationType.Q8_0)
        layer.bias = torch.nn.Parameter(plain.bias.detach().clone(), requires_grad=False)
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent), child, layer)
    inputs = torch.randn(3, 32, generator=torch.Generator().manual_seed(1))
    layers = {name: model.get_submodule(name) for name in modules}
    with torch.no_grad():
        before = {name: layer(inputs) for name, layer in layers.items()}
    packed = {name: layer.weight.detach().clone() for name, layer in layers.items()}

    loras = FusedLoras(WAN, torch.device("cpu"))
    loras.use((lora_file(path, 0.5),), {"transformer": model})
    with torch.no_grad():
        for name, layer in layers.items():
            merged = dequantize_gguf_tensor(layer.weight).float() + by_hand(lora, name, 4.0, 0.5)
            assert (layer(inputs) - F.linear(inputs, merged, layer.bias)).abs().max() <= 1e-5, name
            assert torch.equal(layer.weight, packed[name])  # the packed blocks are never touched

    loras.use((), {"transformer": model})
    with torch.no_grad():
        for name, layer in layers.items():
            assert torch.equal(layer(inputs), before[name]), name
