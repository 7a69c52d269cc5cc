"""Weights files as users have them, written from a tiny diffusers-layout folder's weights.

The renaming here is the inverse of the loading code's, written independently from the layer
names of the original releases: a mistake on either side shows up as a wrong or failed load.
Formats: the official Wan 2.2 release (sharded safetensors, a T5 .pth, a VAE .pth, the tokenizer
folder), Tencent's HunyuanVideo release (the transformer's .pt, bf16 or fp8 with its scales file,
the VAE's .pt, the two text encoders' transformers folders), ComfyUI's single files (fp16 and fp8
with scales), musubi-tuner's block-scaled fp8, and GGUF written with gguf's own writer and quantiser.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

WEIGHT_FILES = {"transformer": "diffusion_pytorch_model.safetensors",
                "transformer_2": "diffusion_pytorch_model.safetensors",
                "vae": "diffusion_pytorch_model.safetensors", "text_encoder": "model.safetensors",
                "text_encoder_2": "model.safetensors"}


def weights_of(folder: Path, component: str) -> dict[str, torch.Tensor]:
    return load_file(folder / component / WEIGHT_FILES[component])


def derived_folder(source: Path, target: Path, change: dict[str, Callable[[dict], dict]]) -> Path:
    """A copy of a diffusers folder with some components' weights changed (a reference to render against)."""
    shutil.copytree(source, target)
    for component, function in change.items():
        save_file(function(weights_of(source, component)), target / component / WEIGHT_FILES[component])
    return target


def half_precision(state: dict) -> dict:
    """Every float weight rounded to a value bf16 and fp16 both hold exactly, so any file format keeps it."""
    return {name: tensor.to(torch.float16).to(torch.bfloat16).to(torch.float32) if tensor.is_floating_point()
            else tensor for name, tensor in state.items()}


# -- names of the original releases -------------------------------------------------------------------

def original_wan_transformer(state: dict) -> dict:
    """diffusers' WanTransformer3DModel names -> the names Wan's own WanModel gives its layers."""
    renamed = {}
    for name, tensor in state.items():
        new = name
        for ours, theirs in (("condition_embedder.time_embedder.linear_1", "time_embedding.0"),
                             ("condition_embedder.time_embedder.linear_2", "time_embedding.2"),
                             ("condition_embedder.text_embedder.linear_1", "text_embedding.0"),
                             ("condition_embedder.text_embedder.linear_2", "text_embedding.2"),
                             ("condition_embedder.time_proj", "time_projection.1"),
                             ("attn1.", "self_attn."), ("attn2.", "cross_attn."), (".to_q.", ".q."), (".to_k.", ".k."),
                             (".to_v.", ".v."), (".to_out.0.", ".o."), ("ffn.net.0.proj", "ffn.0"),
                             ("ffn.net.2", "ffn.2"), ("proj_out", "head.head")):
            new = new.replace(ours, theirs)
        new = re.sub(r"\.norm2\.", ".NORM3.", new).replace(".norm3.", ".norm2.").replace(".NORM3.", ".norm3.")
        new = "head.modulation" if new == "scale_shift_table" else new.replace(".scale_shift_table", ".modulation")
        renamed[new] = tensor
    return renamed


def original_umt5(state: dict) -> dict:
    """transformers' UMT5EncoderModel names -> Wan's T5Encoder names (models_t5_umt5-xxl-enc-bf16.pth)."""
    per_block = {"layer.0.layer_norm.weight": "norm1.weight", "layer.0.SelfAttention.q.weight": "attn.q.weight",
                 "layer.0.SelfAttention.k.weight": "attn.k.weight", "layer.0.SelfAttention.v.weight": "attn.v.weight",
                 "layer.0.SelfAttention.o.weight": "attn.o.weight",
                 "layer.0.SelfAttention.relative_attention_bias.weight": "pos_embedding.embedding.weight",
                 "layer.1.layer_norm.weight": "norm2.weight", "layer.1.DenseReluDense.wi_0.weight": "ffn.gate.0.weight",
                 "layer.1.DenseReluDense.wi_1.weight": "ffn.fc1.weight", "layer.1.DenseReluDense.wo.weight": "ffn.fc2.weight"}
    renamed = {"token_embedding.weight": state["shared.weight"], "norm.weight": state["encoder.final_layer_norm.weight"]}
    for name, tensor in state.items():
        block = re.match(r"encoder\.block\.(\d+)\.(.+)", name)
        if block is not None:
            renamed[f"blocks.{block.group(1)}.{per_block[block.group(2)]}"] = tensor
    return renamed


_RESIDUAL = {"norm1.gamma": "residual.0.gamma", "conv1.": "residual.2.", "norm2.gamma": "residual.3.gamma",
             "conv2.": "residual.6.", "conv_shortcut.": "shortcut."}


def _residual(rest: str) -> str:
    for ours, theirs in _RESIDUAL.items():
        if rest.startswith(ours):
            return theirs + rest[len(ours):]
    raise KeyError(rest)


def _vae_common(name: str) -> str | None:
    """The names the Wan 2.1 and 2.2 VAEs share (stem, middle, head, quant convolutions), or None."""
    for side in ("encoder", "decoder"):
        for ours, theirs in ((f"{side}.conv_in.", f"{side}.conv1."), (f"{side}.norm_out.", f"{side}.head.0."),
                             (f"{side}.conv_out.", f"{side}.head.2."),
                             (f"{side}.mid_block.attentions.0.", f"{side}.middle.1.")):
            if name.startswith(ours):
                return theirs + name[len(ours):]
        middle = re.match(rf"{side}\.mid_block\.resnets\.(\d)\.(.+)", name)
        if middle:
            return f"{side}.middle.{2 * int(middle.group(1))}.{_residual(middle.group(2))}"
    for ours, theirs in (("quant_conv.", "conv1."), ("post_quant_conv.", "conv2.")):
        if name.startswith(ours):
            return theirs + name[len(ours):]
    return None


def original_wan21_vae(state: dict) -> dict:
    """diffusers' AutoencoderKLWan names (Wan 2.1 structure) -> Wan2.1_VAE.pth names."""
    renamed = {}
    for name, tensor in state.items():
        new = _vae_common(name)
        down = re.match(r"encoder\.down_blocks\.(\d+)\.(.+)", name)
        up = re.match(r"decoder\.up_blocks\.(\d+)\.(resnets\.(\d+)|upsamplers\.0)\.(.+)", name)
        if new is None and down:
            rest = down.group(2)
            rest = rest if rest.startswith(("resample", "time_conv")) else _residual(rest)
            new = f"encoder.downsamples.{down.group(1)}.{rest}"
        elif new is None and up:
            stage, resnet, rest = int(up.group(1)), up.group(3), up.group(4)
            new = (f"decoder.upsamples.{4 * stage + int(resnet)}.{_residual(rest)}" if resnet is not None
                   else f"decoder.upsamples.{4 * stage + 3}.{rest}")
        renamed[new] = tensor
    return renamed


def original_wan22_vae(state: dict) -> dict:
    """diffusers' AutoencoderKLWan names (Wan 2.2 structure) -> Wan2.2_VAE.pth names."""
    resnets = {}
    for name in state:
        block = re.match(r"(encoder\.down_blocks|decoder\.up_blocks)\.(\d+)\.resnets\.(\d+)\.", name)
        if block:
            key = (block.group(1), block.group(2))
            resnets[key] = max(resnets.get(key, 0), int(block.group(3)) + 1)
    renamed = {}
    for name, tensor in state.items():
        new = _vae_common(name)
        stage = re.match(r"(encoder\.down_blocks|decoder\.up_blocks)\.(\d+)\.(resnets\.(\d+)|downsampler|upsampler)\.(.+)",
                         name)
        if new is None and stage:
            side = "encoder.downsamples" if stage.group(1).startswith("encoder") else "decoder.upsamples"
            inner = side.split(".")[1]
            if stage.group(4) is not None:
                new = f"{side}.{stage.group(2)}.{inner}.{stage.group(4)}.{_residual(stage.group(5))}"
            else:
                new = f"{side}.{stage.group(2)}.{inner}.{resnets[(stage.group(1), stage.group(2))]}.{stage.group(5)}"
        renamed[new] = tensor
    return renamed


# HunyuanVideo's transformer: within each block diffusers' layer -> Tencent's (HYVideoDiffusionTransformer's)
# layer and the place of its rows in it (the fused projections hold q, k, v, and in the single-stream
# blocks then the MLP's input, one after another).
_HUNYUAN_DOUBLE = {
    "attn.to_q": ("img_attn_qkv", 0), "attn.to_k": ("img_attn_qkv", 1), "attn.to_v": ("img_attn_qkv", 2),
    "attn.add_q_proj": ("txt_attn_qkv", 0), "attn.add_k_proj": ("txt_attn_qkv", 1),
    "attn.add_v_proj": ("txt_attn_qkv", 2), "attn.norm_q": ("img_attn_q_norm", 0),
    "attn.norm_k": ("img_attn_k_norm", 0), "attn.norm_added_q": ("txt_attn_q_norm", 0),
    "attn.norm_added_k": ("txt_attn_k_norm", 0), "attn.to_out.0": ("img_attn_proj", 0),
    "attn.to_add_out": ("txt_attn_proj", 0), "norm1.linear": ("img_mod.linear", 0),
    "norm1_context.linear": ("txt_mod.linear", 0), "ff.net.0.proj": ("img_mlp.fc1", 0),
    "ff.net.2": ("img_mlp.fc2", 0), "ff_context.net.0.proj": ("txt_mlp.fc1", 0), "ff_context.net.2": ("txt_mlp.fc2", 0),
}
_HUNYUAN_SINGLE = {
    "attn.to_q": ("linear1", 0), "attn.to_k": ("linear1", 1), "attn.to_v": ("linear1", 2), "proj_mlp": ("linear1", 3),
    "attn.norm_q": ("q_norm", 0), "attn.norm_k": ("k_norm", 0), "norm.linear": ("modulation.linear", 0),
    "proj_out": ("linear2", 0),
}
_HUNYUAN_REFINER = {
    "attn.to_q": ("self_attn_qkv", 0), "attn.to_k": ("self_attn_qkv", 1), "attn.to_v": ("self_attn_qkv", 2),
    "attn.to_out.0": ("self_attn_proj", 0), "ff.net.0.proj": ("mlp.fc1", 0), "ff.net.2": ("mlp.fc2", 0),
    "norm_out.linear": ("adaLN_modulation.1", 0), "norm1": ("norm1", 0), "norm2": ("norm2", 0),
}
_HUNYUAN_OUTSIDE = {
    "x_embedder.proj": "img_in.proj", "context_embedder.proj_in": "txt_in.input_embedder",
    "context_embedder.time_text_embed.timestep_embedder.linear_1": "txt_in.t_embedder.mlp.0",
    "context_embedder.time_text_embed.timestep_embedder.linear_2": "txt_in.t_embedder.mlp.2",
    "context_embedder.time_text_embed.text_embedder.linear_1": "txt_in.c_embedder.linear_1",
    "context_embedder.time_text_embed.text_embedder.linear_2": "txt_in.c_embedder.linear_2",
    "time_text_embed.timestep_embedder.linear_1": "time_in.mlp.0",
    "time_text_embed.timestep_embedder.linear_2": "time_in.mlp.2",
    "time_text_embed.guidance_embedder.linear_1": "guidance_in.mlp.0",
    "time_text_embed.guidance_embedder.linear_2": "guidance_in.mlp.2",
    "time_text_embed.text_embedder.linear_1": "vector_in.in_layer",
    "time_text_embed.text_embedder.linear_2": "vector_in.out_layer",
    # The final modulation's halves: diffusers' holds (scale, shift), Tencent's (shift, scale).
    "norm_out.linear": "final_layer.adaLN_modulation.1", "proj_out": "final_layer.linear",
}
_HUNYUAN_SWAPPED = "final_layer.adaLN_modulation.1."


def _hunyuan_original(name: str) -> tuple[str, int]:
    layer, kind = name.rsplit(".", 1)
    for scope, theirs, table in ((r"transformer_blocks\.(\d+)", "double_blocks", _HUNYUAN_DOUBLE),
                                 (r"single_transformer_blocks\.(\d+)", "single_blocks", _HUNYUAN_SINGLE),
                                 (r"context_embedder\.token_refiner\.refiner_blocks\.(\d+)",
                                  "txt_in.individual_token_refiner.blocks", _HUNYUAN_REFINER)):
        match = re.fullmatch(scope + r"\.(.+)", layer)
        if match:
            inner, place = table[match.group(2)]
            return f"{theirs}.{match.group(1)}.{inner}.{kind}", place
    return f"{_HUNYUAN_OUTSIDE[layer]}.{kind}", 0


def _hunyuan_layout(names) -> dict[str, tuple[str, ...]]:
    """Each original tensor -> the diffusers tensors it holds, in the order of its rows."""
    parts: dict[str, list] = {}
    for name in names:
        original, place = _hunyuan_original(name)
        parts.setdefault(original, []).append((place, name))
    return {original: tuple(name for _, name in sorted(held)) for original, held in parts.items()}


def _swapped_halves(tensor: torch.Tensor) -> torch.Tensor:
    first, second = tensor.chunk(2)
    return torch.cat([second, first])


def original_hunyuan_transformer(state: dict) -> dict:
    """diffusers' HunyuanVideoTransformer3DModel tensors -> Tencent's names (also ComfyUI's and city96's GGUF's)."""
    original = {}
    for name, held in _hunyuan_layout(state).items():
        tensor = torch.cat([state[part] for part in held]) if len(held) > 1 else state[held[0]]
        original[name] = _swapped_halves(tensor) if name.startswith(_HUNYUAN_SWAPPED) else tensor
    return original


def diffusers_hunyuan_transformer(original: dict, like: dict) -> dict:
    """The inverse of original_hunyuan_transformer, cut to the shapes of ``like`` (diffusers' tensors)."""
    state = {}
    for name, held in _hunyuan_layout(like).items():
        tensor = _swapped_halves(original[name]) if name.startswith(_HUNYUAN_SWAPPED) else original[name]
        state.update(zip(held, tensor.split([like[part].shape[0] for part in held])))
    return state


def tencent_fp8(original: dict) -> tuple[dict, dict]:
    """Tencent's fp8 transformer (mp_rank_00_model_states_fp8.pt) and its scales (..._fp8_map.pt): every linear
    weight of the blocks in float8_e4m3fn over one scale (max |w| / 448), the scales by module name; the rest bf16."""
    weights, scales = {}, {}
    for name, tensor in original.items():
        if name.startswith(("double_blocks.", "single_blocks.")) and tensor.ndim == 2:
            scale = tensor.abs().max().clamp(min=1e-8) / 448.0
            weights[name] = (tensor / scale).to(torch.float8_e4m3fn)
            scales[name.removesuffix(".weight")] = scale
        else:
            weights[name] = tensor.to(torch.bfloat16)
    return weights, scales


def tencent_fp8_meaning(weights: dict, scales: dict) -> dict:
    """What Tencent's inference makes of its fp8 weights: each cast to bf16 and multiplied in bf16 by its scale."""
    return {name: (tensor.to(torch.bfloat16) * scales[name.removesuffix(".weight")].to(torch.bfloat16)).float()
            if tensor.dtype == torch.float8_e4m3fn else tensor.float() for name, tensor in weights.items()}


# -- the files ------------------------------------------------------------------------------------

def write_official_release(diffusers_folder: Path, target: Path, experts: tuple[str, ...]) -> Path:
    """The official release's layout: each expert's shards (fp32, two shards plus their index), the T5
    encoder as a bf16 .pth, the VAE as an fp32 .pth, the tokenizer under google/umt5-xxl/."""
    target.mkdir(parents=True)
    wan22 = json.loads((diffusers_folder / "vae" / "config.json").read_text()).get("is_residual", False)
    for component in experts:
        folder = {"transformer": "high_noise_model", "transformer_2": "low_noise_model"}[component] \
            if len(experts) == 2 else "."
        (target / folder).mkdir(exist_ok=True)
        state = original_wan_transformer(weights_of(diffusers_folder, component))
        names = sorted(state)
        shards = {f"diffusion_pytorch_model-0000{i + 1}-of-00002.safetensors": names[i::2] for i in range(2)}
        for shard, shard_names in shards.items():
            save_file({name: state[name].contiguous() for name in shard_names}, target / folder / shard)
        index = {"weight_map": {name: shard for shard, shard_names in shards.items() for name in shard_names}}
        (target / folder / "diffusion_pytorch_model.safetensors.index.json").write_text(json.dumps(index))
        (target / folder / "config.json").write_text(json.dumps({"_class_name": "WanModel"}))
    text = original_umt5(weights_of(diffusers_folder, "text_encoder"))
    torch.save({name: tensor.to(torch.bfloat16) for name, tensor in text.items()},
               target / "models_t5_umt5-xxl-enc-bf16.pth")
    vae = (original_wan22_vae if wan22 else original_wan21_vae)(weights_of(diffusers_folder, "vae"))
    torch.save(vae, target / ("Wan2.2_VAE.pth" if wan22 else "Wan2.1_VAE.pth"))
    shutil.copytree(diffusers_folder / "tokenizer", target / "google" / "umt5-xxl")
    return target


def write_tencent_release(diffusers_folder: Path, target: Path, fp8: bool = False) -> Path:
    """Tencent's HunyuanVideo release as its ckpts/README.md lays it out: hunyuan-video-t2v-720p/transformers/
    mp_rank_00_model_states.pt (the weights under "module", bf16), with ``fp8`` also ..._fp8.pt and its scales,
    ..._fp8_map.pt; hunyuan-video-t2v-720p/vae/pytorch_model.pt (fp32) beside Tencent's own config.json;
    text_encoder/ (LLaVA-Llama-3's language model as LlamaForCausalLM saves it, in fp16, with its tokenizer)
    and text_encoder_2/ (the whole CLIP model, as openai publishes it, with its tokenizer)."""
    from transformers import CLIPConfig, CLIPModel, CLIPTextConfig, LlamaConfig, LlamaForCausalLM

    release = target / "hunyuan-video-t2v-720p"
    (release / "transformers").mkdir(parents=True)
    (release / "vae").mkdir()
    original = original_hunyuan_transformer(weights_of(diffusers_folder, "transformer"))
    torch.save({"module": {name: tensor.to(torch.bfloat16) for name, tensor in original.items()}},
               release / "transformers" / "mp_rank_00_model_states.pt")
    if fp8:
        weights, scales = tencent_fp8(original)
        torch.save({"module": weights}, release / "transformers" / "mp_rank_00_model_states_fp8.pt")
        torch.save(scales, release / "transformers" / "mp_rank_00_model_states_fp8_map.pt")
    torch.save(weights_of(diffusers_folder, "vae"), release / "vae" / "pytorch_model.pt")
    (release / "vae" / "config.json").write_text(json.dumps({"_class_name": "AutoencoderKLCausal3D"}))

    llama = LlamaForCausalLM(LlamaConfig.from_pretrained(diffusers_folder / "text_encoder"))
    llama.model.load_state_dict(weights_of(diffusers_folder, "text_encoder"))
    llama.half().save_pretrained(target / "text_encoder")
    clip = CLIPModel(CLIPConfig(text_config=CLIPTextConfig.from_pretrained(diffusers_folder / "text_encoder_2").to_dict(),
                                vision_config=dict(hidden_size=8, intermediate_size=16, num_hidden_layers=1,
                                                   num_attention_heads=2, image_size=8, patch_size=4),
                                projection_dim=8))
    clip.text_model.load_state_dict({name.removeprefix("text_model."): tensor for name, tensor in
                                     weights_of(diffusers_folder, "text_encoder_2").items()})
    clip.save_pretrained(target / "text_encoder_2")
    for tokenizer, folder in (("tokenizer", "text_encoder"), ("tokenizer_2", "text_encoder_2")):
        for path in (diffusers_folder / tokenizer).iterdir():
            shutil.copy(path, target / folder / path.name)
    return target


def comfyui_llama(state: dict) -> dict:
    """transformers' LlamaModel names -> ComfyUI's llava_llama3 files' (LlamaForCausalLM's, without lm_head)."""
    return {f"model.{name}": tensor for name, tensor in state.items()}


def comfyui_clip_l(state: dict) -> dict:
    """transformers' CLIPTextModel names (5 drops their text_model. level) -> ComfyUI's clip_l file's, with the
    projection the file carries and the text model does not use."""
    renamed = {name if name.startswith("text_model.") else f"text_model.{name}": tensor for name, tensor in state.items()}
    width = renamed["text_model.final_layer_norm.weight"].shape[0]
    renamed["text_projection.weight"] = torch.ones(width, width)
    return renamed


def fp8_scaled(state: dict, per_block: int | None = None) -> dict:
    """Linear weights (2-D, beside their bias or in a block) in float8_e4m3fn with ComfyUI's one scale per
    weight, or musubi-tuner's scale per block of ``per_block`` inputs ([out, blocks, 1])."""
    quantised = {}
    for name, tensor in state.items():
        if tensor.ndim != 2 or not name.endswith(".weight") or any(word in name for word in ("embed", "shared",
                                                                                             "relative_attention")):
            quantised[name] = tensor
            continue
        if per_block:
            rows, columns = tensor.shape
            blocks = tensor.view(rows, columns // per_block, per_block)
            scale = blocks.abs().amax(dim=2, keepdim=True).clamp(min=1e-8) / 448.0
            quantised[name] = (blocks / scale).to(torch.float8_e4m3fn).view(rows, columns)
        else:
            scale = tensor.abs().max().clamp(min=1e-8).reshape(1) / 448.0
            quantised[name] = (tensor / scale).to(torch.float8_e4m3fn)
        quantised[name.removesuffix(".weight") + ".scale_weight"] = scale.to(torch.float32)
    return quantised


def fp8_meaning(quantised: dict) -> dict:
    """What an fp8 file's weights are: each fp8 weight times its scale, in fp32 (scale tensors dropped)."""
    result = {}
    for name, tensor in quantised.items():
        if name.endswith(".scale_weight"):
            continue
        if tensor.dtype == torch.float8_e4m3fn:
            scale = quantised[name.removesuffix(".weight") + ".scale_weight"]
            values = tensor.to(torch.float32)
            if scale.ndim == 3:
                values = (values.view(scale.shape[0], scale.shape[1], -1) * scale).view(tensor.shape)
            tensor = values * scale if scale.ndim != 3 else values
        result[name] = tensor
    return result


def gguf_meaning(state: dict, written: dict, names: Callable[[dict], dict]) -> dict:
    """What a GGUF file's weights are, under diffusers' names: each quantised weight dequantized as
    diffusers' GGUF layers do before they compute (then in bf16, their compute dtype)."""
    original_of = {theirs: ours for theirs, ours in names({name: name for name in state}).items()}
    result = dict(state)
    for original, tensor in gguf_dequantized(written).items():
        result[original_of[original]] = tensor
    return result


def gguf_dequantized(written: dict) -> dict:
    """The quantised tensors of a GGUF file (write_gguf's result) as diffusers' GGUF layers compute with them:
    dequantized, then in bf16; under the file's names."""
    import gguf
    from diffusers.quantizers.gguf.utils import GGUFParameter, dequantize_gguf_tensor

    return {name: dequantize_gguf_tensor(GGUFParameter(torch.from_numpy(data.copy()), quant_type=kind))
            .to(torch.bfloat16).to(torch.float32)
            for name, (data, kind) in written.items() if kind != gguf.GGMLQuantizationType.F32}


def write_gguf(state: dict, path: Path, quantisation, arch: str = "wan") -> dict:
    """A GGUF file of ``state`` (original names) written with gguf's writer: 2-D weights whose rows fill
    whole blocks in ``quantisation``, the rest in F32, as city96's conversions keep them. Returns the
    tensors' raw bytes and types, as the reference needs them."""
    import gguf
    import numpy as np

    block = gguf.GGML_QUANT_SIZES[quantisation][0]

    def encoded(item):
        name, tensor = item
        values = tensor.to(torch.float32).numpy()
        kind = quantisation if tensor.ndim == 2 and tensor.shape[1] % block == 0 and "embedding" not in name \
            else gguf.GGMLQuantizationType.F32
        return name, (gguf.quants.quantize(values, kind) if kind != gguf.GGMLQuantizationType.F32 else values), kind

    from concurrent.futures import ThreadPoolExecutor

    writer = gguf.GGUFWriter(str(path), arch=arch)
    written = {}
    with ThreadPoolExecutor() as pool:  # numpy works on large arrays outside the GIL: tensors quantise in parallel
        for name, data, kind in pool.map(encoded, state.items()):
            writer.add_tensor(name, np.ascontiguousarray(data), raw_dtype=kind)
            written[name] = (data, kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return written
