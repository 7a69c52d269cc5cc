"""Pipeline components built from weights found in place (checkpoint_search.CheckpointSet), no copy on disk.

Each component is made from the project's copy of its diffusers config (model_configs/) and the
file's tensors under diffusers' names. The renaming is diffusers' own where it covers the format
(the Wan transformer and the Wan 2.1 VAE, the HunyuanVideo transformer: their original key names,
which the official releases, ComfyUI's single files and GGUF quantisations share), and in-project
where it does not (the Wan 2.2 VAE; Wan's original T5 encoder, whose names are not transformers'
UMT5's; the cut of HunyuanVideo's fused single-stream projections, which diffusers makes at the
full-size model's width only; ComfyUI's names for the Llama and CLIP text encoders). A text
encoder's transformers folder (HunyuanVideo's official instructions make two) is loaded by
transformers' from_pretrained, with its own config.

The dtypes are from_pretrained's: bf16, the modules a model keeps in fp32 kept so, the VAE in
the plan's dtype. So the same weights give the diffusers folder's pictures, bit for bit. Weights
a file stores in fp8 stay fp8 (scaled_fp8.py); GGUF weights stay quantised, through diffusers'
GGUF quantiser, and are dequantized layer by layer as they run. Files are read tensor by tensor
(a .pth through a memory map), each cast as it is read, so host memory holds the loaded model
and not a second, full-precision copy of it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from render_pipeline.backends.checkpoint_build import build, diffusers_model, gguf_model
from render_pipeline.backends.checkpoint_search import CheckpointSet, Part
from render_pipeline.backends.scaled_fp8 import SCALE_SUFFIXES
from render_pipeline.backends.specs import SPECS
from render_pipeline.errors import UserError


def load_in_place(weights: CheckpointSet, components: tuple[str, ...], vae_dtype: torch.dtype) -> dict:
    """The components among ``components`` that ``weights`` holds, loaded (the scheduler is not among them)."""
    wan = SPECS[weights.backend].family == "wan"
    loaded = {}
    for name in components:
        part = weights.part(name)
        if part is None:
            continue
        config = weights.configs / name
        if name.startswith("tokenizer"):
            from transformers import AutoTokenizer

            # HunyuanVideo's prompts are padded on the right, as Tencent's and diffusers' loaders ask of the
            # tokenizer (the LLaVA folder's own setting may differ).
            loaded[name] = AutoTokenizer.from_pretrained(part.files[0], local_files_only=True,
                                                         **({} if wan else {"padding_side": "right"}))
        elif name.startswith("transformer"):
            loaded[name] = _wan_transformer(part, config) if wan else _hunyuan_transformer(part, config)
        elif name == "text_encoder":
            loaded[name] = _umt5(part, config) if wan else _llama(part, config)
        elif name == "text_encoder_2":
            loaded[name] = _clip_text(part, config)
        elif name == "vae":
            loaded[name] = _wan_vae(part, config, vae_dtype) if wan else _hunyuan_vae(part, config, vae_dtype)
    return loaded


# -- Wan -------------------------------------------------------------------------------------------

def _wan_transformer(part: Part, config: Path):
    from diffusers import WanTransformer3DModel
    from diffusers.loaders.single_file_utils import convert_wan_transformer_to_diffusers

    if part.files[0].suffix == ".gguf":
        return gguf_model(WanTransformer3DModel, part.files[0], config)
    return diffusers_model(WanTransformer3DModel, part, config, convert_wan_transformer_to_diffusers, torch.bfloat16)


def _wan_vae(part: Part, config: Path, dtype: torch.dtype):
    from diffusers import AutoencoderKLWan
    from diffusers.loaders.single_file_utils import convert_wan_vae_to_diffusers

    wan22 = json.loads((config / "config.json").read_text()).get("is_residual", False)
    return diffusers_model(AutoencoderKLWan, part, config, wan22_vae_names if wan22 else convert_wan_vae_to_diffusers,
                           dtype)


def wan22_vae_names(state: dict) -> dict:
    """The Wan 2.2 VAE's original names as diffusers' AutoencoderKLWan has them (diffusers converts these
    only in a script, not in from_single_file). Its middle, head and quant convolutions are named as the
    Wan 2.1 VAE's; its down and up stages hold their residual blocks and resampler in a list of their own."""
    from diffusers.loaders.single_file_utils import convert_wan_vae_to_diffusers

    stages = ("encoder.downsamples.", "decoder.upsamples.")
    renamed = convert_wan_vae_to_diffusers({key: value for key, value in state.items() if not key.startswith(stages)})
    residual = {"residual.0.gamma": "norm1.gamma", "residual.2": "conv1", "residual.3.gamma": "norm2.gamma",
                "residual.6": "conv2", "shortcut": "conv_shortcut"}
    for key, value in state.items():
        match = re.match(r"(encoder|decoder)\.(downsamples|upsamples)\.(\d+)\.(downsamples|upsamples)\.(\d+)\.(.+)", key)
        if match is None:
            continue
        side, _, stage, _, index, rest = match.groups()
        blocks = "down_blocks" if side == "encoder" else "up_blocks"
        if rest.startswith(("resample", "time_conv")):
            renamed[f"{side}.{blocks}.{stage}.{'downsampler' if side == 'encoder' else 'upsampler'}.{rest}"] = value
            continue
        for old, new in residual.items():
            if rest == old or rest.startswith(old + "."):
                renamed[f"{side}.{blocks}.{stage}.resnets.{index}.{new}{rest[len(old):]}"] = value
                break
        else:
            renamed[key] = value  # unknown: reported as unexpected by the loader
    return renamed


def _umt5(part: Part, config: Path):
    from transformers import UMT5Config, UMT5EncoderModel

    def names(state: dict) -> dict:
        renamed = wan_t5_names(state) if "token_embedding.weight" in state else dict(state)
        # One embedding table, as from_pretrained ties it: the encoder reads the shared one.
        renamed.setdefault("encoder.embed_tokens.weight", renamed.get("shared.weight"))
        return renamed

    # transformers computes T5's `wo` in its weight's dtype: an fp8 `wo` is dequantized to bf16 on loading.
    model = build(UMT5EncoderModel, UMT5Config.from_json_file(config / "config.json"), part, names, torch.bfloat16,
                  keep_in_fp32=[], not_fp8=["wo"])
    model.encoder.embed_tokens = model.shared
    return model


def wan_t5_names(state: dict) -> dict:
    """Wan's own T5 encoder (models_t5_umt5-xxl-enc-bf16.pth) under transformers' UMT5EncoderModel names.

    The same network: per block an RMS-normed self-attention without scaling, with its own relative
    position buckets, then an RMS-normed gated-GELU feed-forward (``fc1(x) * gelu(gate(x))``).
    """
    renamed = {}
    per_block = {"norm1.weight": "layer.0.layer_norm.weight", "attn.q.weight": "layer.0.SelfAttention.q.weight",
                 "attn.k.weight": "layer.0.SelfAttention.k.weight", "attn.v.weight": "layer.0.SelfAttention.v.weight",
                 "attn.o.weight": "layer.0.SelfAttention.o.weight",
                 "pos_embedding.embedding.weight": "layer.0.SelfAttention.relative_attention_bias.weight",
                 "norm2.weight": "layer.1.layer_norm.weight", "ffn.gate.0.weight": "layer.1.DenseReluDense.wi_0.weight",
                 "ffn.fc1.weight": "layer.1.DenseReluDense.wi_1.weight", "ffn.fc2.weight": "layer.1.DenseReluDense.wo.weight"}
    for key, value in state.items():
        block = re.match(r"blocks\.(\d+)\.(.+)", key)
        if key == "token_embedding.weight":
            renamed["shared.weight"] = value
        elif key == "norm.weight":
            renamed["encoder.final_layer_norm.weight"] = value
        elif block is not None and block.group(2) in per_block:
            renamed[f"encoder.block.{block.group(1)}.{per_block[block.group(2)]}"] = value
        else:
            renamed[key] = value  # unknown: reported as unexpected by the loader
    return renamed


# -- HunyuanVideo ----------------------------------------------------------------------------------

def _hunyuan_transformer(part: Part, config: Path):
    from diffusers import HunyuanVideoTransformer3DModel

    settings = HunyuanVideoTransformer3DModel.load_config(config)
    width = settings["num_attention_heads"] * settings["attention_head_dim"]
    scales = tencent_fp8_scales(part.files[1]) if len(part.files) == 2 else {}

    def names(state: dict) -> dict:
        return hunyuan_transformer_names({**state, **scales}, width)

    if part.files[0].suffix == ".gguf":
        return gguf_model(HunyuanVideoTransformer3DModel, part.files[0], config, names)
    weights = Part(part.component, part.files[:1], part.format)  # the fp8 scales are read above
    return diffusers_model(HunyuanVideoTransformer3DModel, weights, config, names, torch.bfloat16)


def hunyuan_transformer_names(state: dict, width: int) -> dict:
    """HunyuanVideo's original names (Tencent's release, ComfyUI's files, city96's GGUF) as diffusers'
    HunyuanVideoTransformer3DModel has them.

    diffusers' conversion renames every tensor but one kind: each single-stream block's ``linear1``,
    which holds q, k, v and the MLP's input one after another, it cuts at a width of 3072, the
    full-size model's. Those are cut here at the model's own ``width``. A weight's scale (fp8 files)
    goes where its weight goes: one scale for a whole fused weight is spread over its rows, so each
    part gets the same one.
    """
    from diffusers.loaders.single_file_utils import convert_hunyuan_video_transformer_to_diffusers

    fused: dict[tuple[str, str], torch.Tensor] = {}  # (block, kind) -> tensor
    rest: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.endswith(".scale_input"):
            continue  # fp8 inputs' scales: the layers here compute in bf16 (scaled_fp8.py)
        weight = state.get(key.rsplit(".", 1)[0] + ".weight")
        if key.endswith(SCALE_SUFFIXES) and value.numel() == 1 and weight is not None:
            value = value.reshape(1, 1).expand(weight.shape[0], 1)
        if single := re.match(r"single_blocks\.(\d+)\.linear1\.(.+)", key):
            fused[single[1], single[2]] = value
        else:
            rest[key] = value
    renamed = convert_hunyuan_video_transformer_to_diffusers(rest)
    for (block, kind), value in fused.items():
        parts = torch.split(value, [width, width, width, value.shape[0] - 3 * width])
        for layer, part in zip(("attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp"), parts):
            renamed[f"single_transformer_blocks.{block}.{layer}.{kind}"] = part
    return renamed


def tencent_fp8_scales(path: Path) -> dict[str, torch.Tensor]:
    """The scales of Tencent's fp8 transformer (``..._fp8_map.pt``: one per linear layer of the blocks, by
    module name) under the names scaled_fp8.py reads. Tencent's loader multiplies each fp8 weight by its
    scale in bf16; the scale is rounded to bf16 here too, so the fp32 product, rounded to bf16 as the
    layers compute, is the same number."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    scales = {}
    for module, scale in saved.items():
        if not isinstance(scale, torch.Tensor) or scale.numel() != 1:
            raise UserError(f"{path}: {module} is not one scale, as Tencent's fp8 scales files hold: is it the "
                            f"scales file of the fp8 transformer beside it?")
        scales[f"{module}.scale_weight"] = scale.to(torch.bfloat16).to(torch.float32).reshape(1)
    return scales


def _hunyuan_vae(part: Part, config: Path, dtype: torch.dtype):
    from diffusers import AutoencoderKLHunyuanVideo

    def names(state: dict) -> dict:
        # diffusers' layers have the original names (its conversion script renames nothing); Tencent's
        # loader strips a "vae." prefix some checkpoints have.
        if any(key.startswith("vae.") for key in state):
            return {key.removeprefix("vae."): value for key, value in state.items() if key.startswith("vae.")}
        return state

    return diffusers_model(AutoencoderKLHunyuanVideo, part, config, names, dtype)


def _llama(part: Part, config: Path):
    """The LLaVA-Llama-3 language model: its transformers folder, or ComfyUI's llava_llama3 file, whose names
    are LlamaForCausalLM's (the LlamaModel's under ``model.``)."""
    from transformers import LlamaConfig, LlamaModel

    if _transformers_folder(part):
        return _pretrained(LlamaModel, part)

    def names(state: dict) -> dict:
        return {key.removeprefix("model."): value for key, value in state.items() if key != "lm_head.weight"}

    return build(LlamaModel, LlamaConfig.from_json_file(config / "config.json"), part, names, torch.bfloat16,
                 keep_in_fp32=[], not_fp8=[])


def _clip_text(part: Part, config: Path):
    """CLIP ViT-L/14's text model: its transformers folder (the whole CLIP model, as openai publishes it), or
    ComfyUI's clip_l file (the text model's tensors under ``text_model.``, maybe with its projection)."""
    from accelerate import init_empty_weights
    from transformers import CLIPTextConfig, CLIPTextModel

    if _transformers_folder(part):
        return _pretrained(CLIPTextModel, part)
    settings = CLIPTextConfig.from_json_file(config / "config.json")
    with init_empty_weights():
        # transformers 5 dropped the text_model level of CLIPTextModel's names; 4 has it.
        prefix = "text_model." if hasattr(CLIPTextModel(settings), "text_model") else ""

    def names(state: dict) -> dict:
        return {prefix + key.removeprefix("text_model."): value for key, value in state.items()
                if key.startswith("text_model.") and not key.endswith("position_ids")}

    return build(CLIPTextModel, settings, part, names, torch.bfloat16, keep_in_fp32=[], not_fp8=[])


def _transformers_folder(part: Part) -> bool:
    """Whether the part is a transformers model folder (weights beside a config.json naming a model_type)."""
    config = part.files[0].parent / "config.json"
    try:
        return "model_type" in json.loads(config.read_text())
    except (OSError, json.JSONDecodeError):
        return False


def _pretrained(model_class, part: Part):
    """A transformers folder loaded as diffusers' from_pretrained loads a pipeline's text encoder: in bf16."""
    import transformers
    from packaging.version import Version

    # transformers 4.56 renamed torch_dtype to dtype (diffusers passes whichever the release takes).
    dtype = "dtype" if Version(transformers.__version__) >= Version("4.56") else "torch_dtype"
    return model_class.from_pretrained(part.files[0].parent, local_files_only=True, **{dtype: torch.bfloat16}).eval()
