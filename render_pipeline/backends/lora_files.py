"""LoRA files read without torch: which modules a file changes, and whether they are a backend's.

`validate` and `plan` call this, so it must stay instant: only the safetensors header (the JSON
table of tensor names, dtypes and shapes at the start of the file) is read, never the tensors.

Three key namings are read, each as its trainers write it:
- diffusers / PEFT: ``transformer.blocks.0.attn1.to_q.lora_A.weight`` and ``...lora_B.weight``
  (the prefix may also be ``base_model.model.`` or absent);
- the original release's module names, as ComfyUI and the official repositories save them:
  ``diffusion_model.blocks.0.self_attn.q.lora_down.weight`` (or ``lora_A``), ``.lora_up.weight``
  (or ``lora_B``), ``.alpha``, and ``.diff`` / ``.diff_b`` (a whole weight's or bias's difference);
- kohya / musubi-tuner: ``lora_unet_blocks_0_self_attn_q.lora_down.weight`` and ``.alpha``,
  which is the original name with its dots written as underscores.

A file fits a backend when every one of its tensors names a module of the backend's transformer
in the file's naming, with that module's size. The sizes come from the planner's description of
each network (its entry in specs.py); tests/test_lora_files.py checks the tables against
diffusers' own modules at full size.
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections import Counter
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

from render_pipeline.backends.lora_family import guess_family
from render_pipeline.backends.specs import SPECS

# Far above any LoRA's header: one on every linear layer of Wan A14B's 40 blocks writes about 150 KB.
MAX_HEADER_BYTES = 100 * 1024**2

# Part of a LoRA tensor's key after its module's name -> what the tensor is.
PARTS = {
    ".lora_down.weight": "down", ".lora_A.weight": "down",
    ".lora_up.weight": "up", ".lora_B.weight": "up",
    ".lora_B.bias": "bias", ".diff_b": "bias",
    ".alpha": "alpha",
    ".diff": "diff",
    ".diff_m": "diff",  # lightx2v's difference of a Wan block's modulation table, keyed by the block
}
# Key prefix -> naming. A key with none of these is read as diffusers' naming without a prefix.
PREFIXES = {
    "lora_unet_": "kohya",
    "diffusion_model.": "original",
    "transformer.": "diffusers",
    "base_model.model.": "diffusers",
}
KOHYA_PREFIX = "lora_unet_"
ORIGINAL_PREFIX = "diffusion_model."
TIMESTEP_FREQUENCIES = 256  # width of the sinusoidal timestep embedding (Wan, HunyuanVideo)
CLIP_POOLED_WIDTH = 768  # HunyuanVideo's pooled CLIP text vector
HUNYUAN_REFINER_BLOCKS = 2  # the token refiner in front of HunyuanVideo's blocks


class LoraFileError(ValueError):
    """The file is not a LoRA this program can read."""


@dataclass(frozen=True)
class Tensor:
    key: str
    module: str  # the module it changes, in the file's own naming, without the prefix
    part: str  # "down" (A), "up" (B), "bias", "alpha", "diff", or "" when the key is no LoRA tensor
    shape: tuple[int, ...]


@dataclass(frozen=True)
class LoraHeader:
    naming: str  # "diffusers" | "original" | "kohya"
    tensors: tuple[Tensor, ...]
    metadata: dict = field(default_factory=dict, hash=False, compare=False)  # the header's __metadata__

    def ranks(self) -> dict[str, int]:
        """Each changed module's rank: the rows of its down (A) matrix."""
        return {t.module: t.shape[0] for t in self.tensors if t.part == "down" and len(t.shape) == 2}


@dataclass(frozen=True)
class Modules:
    """A transformer's modules in one naming: the linear layers a LoRA may change, with their sizes."""

    linear: dict[str, tuple[int, int]]  # name -> (out_features, in_features)
    other: frozenset[str] = frozenset()  # norms, modulation tables, patch embedding: only a `.diff` names them
    parts: frozenset[str] = frozenset(("down", "up", "alpha", "bias"))  # the tensor parts read in this naming


@dataclass(frozen=True)
class Fit:
    """How one LoRA file meets one backend's transformer."""

    header: LoraHeader
    unmatched: tuple[str, ...]  # keys naming no module of the transformer, or one of another size
    changed: dict[str, int]  # the linear modules it changes (file's naming) -> parameters changed (weight, bias)


# -- reading ---------------------------------------------------------------------------------------

def read_header(path: Path) -> LoraHeader:
    """The LoRA tensors a .safetensors file holds (names and shapes), read from its header alone."""
    path = Path(path)
    stat = path.stat()
    return _read_header(path, stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=256)
def _read_header(path: Path, size: int, mtime_ns: int) -> LoraHeader:
    if path.suffix != ".safetensors":
        raise LoraFileError("LoRAs are read from .safetensors files only (other formats can run code when loaded)")
    try:
        with open(path, "rb") as file:
            start = file.read(8)
            length = struct.unpack("<Q", start)[0] if len(start) == 8 else -1
            if not 2 <= length <= min(MAX_HEADER_BYTES, size - 8):
                raise LoraFileError("not a safetensors file (no header)")
            table = json.loads(file.read(length))
    except OSError as error:
        raise LoraFileError(f"cannot read it: {error.strerror or error}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise LoraFileError("not a safetensors file (its header is not JSON)") from None
    if not isinstance(table, dict):
        raise LoraFileError("not a safetensors file (its header is not a table of tensors)")
    metadata = table.pop("__metadata__", None)
    entries = {key: value for key, value in table.items() if isinstance(value, dict)}
    if not entries:
        raise LoraFileError("it holds no tensors")
    naming = Counter(_naming(key) for key in entries).most_common(1)[0][0]  # keys in another naming match nothing
    tensors = tuple(_tensor(key, tuple(value.get("shape") or ()), naming) for key, value in sorted(entries.items()))
    return LoraHeader(naming, tensors, metadata if isinstance(metadata, dict) else {})


def _naming(key: str) -> str:
    return next((naming for prefix, naming in PREFIXES.items() if key.startswith(prefix)), "diffusers")


def _tensor(key: str, shape: tuple[int, ...], naming: str) -> Tensor:
    name = next((key[len(prefix):] for prefix in PREFIXES if key.startswith(prefix)), key)
    if _naming(key) != naming:
        return Tensor(key, name, "", shape)
    for suffix, part in PARTS.items():
        if name.endswith(suffix):
            module = name[:-len(suffix)] + (".modulation" if suffix == ".diff_m" else "")
            return Tensor(key, module, part, shape)
    return Tensor(key, name, "", shape)


def peft_scale(header: LoraHeader, module: str, rank: int) -> float | None:
    """The scale PEFT gives ``module``'s change, from the adapter config diffusers saves in the
    file's metadata (lora_alpha / r, alpha_pattern, use_rslora); None when the file has none."""
    raw = header.metadata.get("lora_adapter_metadata")
    if not raw:
        return None
    try:
        config = json.loads(raw)
    except json.JSONDecodeError:
        return None
    alpha = config.get("transformer.lora_alpha")
    for pattern, value in (config.get("transformer.alpha_pattern") or {}).items():
        if re.fullmatch(rf"(.*\.)?({pattern})", module):
            alpha = value
    if alpha is None:
        return None
    return float(alpha) / (math.sqrt(rank) if config.get("transformer.use_rslora") else rank)


# -- the backends' modules -------------------------------------------------------------------------

@cache
def module_tables(backend: str) -> dict[str, Modules]:
    """The transformer's modules in each naming this program reads for ``backend``'s family."""
    spec = SPECS[backend]
    if spec.architecture is None:  # no network (the animatic): no LoRA fits it
        return {}
    arch = spec.architecture.transformer
    if spec.family == "wan":
        tables = _wan_modules(arch)
    elif spec.family == "hunyuanvideo":
        tables = _hunyuan_modules(arch)
    elif spec.family == "cogvideox":
        tables = {"diffusers": _cogvideox_modules(arch)}
    else:
        return {}
    original = tables.get("original")
    if original is not None:  # kohya: the original names with their dots as underscores
        tables["kohya"] = Modules({name.replace(".", "_"): size for name, size in original.linear.items()},
                                  frozenset(name.replace(".", "_") for name in original.other), original.parts)
    return tables


def kohya_to_original(backend: str) -> dict[str, str]:
    """kohya module name -> original module name (the underscores that were dots are not guessable)."""
    original = module_tables(backend)["original"]
    return {name.replace(".", "_"): name for name in (*original.linear, *original.other)}


def _wan_modules(t) -> dict[str, Modules]:
    # Wan's output projection gives each token's patch of latent channels; out = in for these models.
    d, f, out = t.width, t.ffn, t.in_channels * math.prod(t.patch)
    diffusers = {
        "condition_embedder.time_embedder.linear_1": (d, TIMESTEP_FREQUENCIES),
        "condition_embedder.time_embedder.linear_2": (d, d),
        "condition_embedder.time_proj": (6 * d, d),
        "condition_embedder.text_embedder.linear_1": (d, t.text_width),
        "condition_embedder.text_embedder.linear_2": (d, d),
        "proj_out": (out, d),
    }
    original = {
        "time_embedding.0": (d, TIMESTEP_FREQUENCIES), "time_embedding.2": (d, d), "time_projection.1": (6 * d, d),
        "text_embedding.0": (d, t.text_width), "text_embedding.2": (d, d), "head.head": (out, d),
    }
    other = {"patch_embedding", "head.modulation"}
    for i in range(t.layers):
        for attention, theirs in (("attn1", "self_attn"), ("attn2", "cross_attn")):
            for ours, short in (("to_q", "q"), ("to_k", "k"), ("to_v", "v"), ("to_out.0", "o")):
                diffusers[f"blocks.{i}.{attention}.{ours}"] = (d, d)
                original[f"blocks.{i}.{theirs}.{short}"] = (d, d)
            other |= {f"blocks.{i}.{theirs}.norm_q", f"blocks.{i}.{theirs}.norm_k"}
        diffusers |= {f"blocks.{i}.ffn.net.0.proj": (f, d), f"blocks.{i}.ffn.net.2": (d, f)}
        original |= {f"blocks.{i}.ffn.0": (f, d), f"blocks.{i}.ffn.2": (d, f)}
        other |= {f"blocks.{i}.norm3", f"blocks.{i}.modulation"}
    everything = frozenset(PARTS.values())
    return {"diffusers": Modules(diffusers), "original": Modules(original, frozenset(other), everything)}


def _hunyuan_modules(t) -> dict[str, Modules]:
    d, f, out = t.width, t.ffn, t.in_channels * math.prod(t.patch)
    embedders = {
        "timestep_embedder.linear_1": (d, TIMESTEP_FREQUENCIES), "timestep_embedder.linear_2": (d, d),
    }
    diffusers = {
        **{f"time_text_embed.{name}": size for name, size in embedders.items()},
        "time_text_embed.guidance_embedder.linear_1": (d, TIMESTEP_FREQUENCIES),
        "time_text_embed.guidance_embedder.linear_2": (d, d),
        "time_text_embed.text_embedder.linear_1": (d, CLIP_POOLED_WIDTH),
        "time_text_embed.text_embedder.linear_2": (d, d),
        **{f"context_embedder.time_text_embed.{name}": size for name, size in embedders.items()},
        "context_embedder.time_text_embed.text_embedder.linear_1": (d, t.text_width),
        "context_embedder.time_text_embed.text_embedder.linear_2": (d, d),
        "context_embedder.proj_in": (d, t.text_width),
        "norm_out.linear": (2 * d, d), "proj_out": (out, d),
    }
    original = {
        "time_in.mlp.0": (d, TIMESTEP_FREQUENCIES), "time_in.mlp.2": (d, d),
        "guidance_in.mlp.0": (d, TIMESTEP_FREQUENCIES), "guidance_in.mlp.2": (d, d),
        "vector_in.in_layer": (d, CLIP_POOLED_WIDTH), "vector_in.out_layer": (d, d),
        "txt_in.t_embedder.mlp.0": (d, TIMESTEP_FREQUENCIES), "txt_in.t_embedder.mlp.2": (d, d),
        "txt_in.c_embedder.linear_1": (d, t.text_width), "txt_in.c_embedder.linear_2": (d, d),
        "txt_in.input_embedder": (d, t.text_width), "final_layer.linear": (out, d),
    }
    # Left out of the original naming: final_layer.adaLN_modulation.1 and the token refiner's
    # self_attn_qkv, which diffusers' conversion splits as whole weights (a LoRA's A matrix cannot be).
    for i in range(HUNYUAN_REFINER_BLOCKS):
        block = f"context_embedder.token_refiner.refiner_blocks.{i}"
        diffusers |= {f"{block}.attn.{name}": (d, d) for name in ("to_q", "to_k", "to_v", "to_out.0")}
        diffusers |= {f"{block}.ff.net.0.proj": (f, d), f"{block}.ff.net.2": (d, f), f"{block}.norm_out.linear": (2 * d, d)}
        theirs = f"txt_in.individual_token_refiner.blocks.{i}"
        original |= {f"{theirs}.self_attn_proj": (d, d),
                     f"{theirs}.mlp.fc1": (f, d), f"{theirs}.mlp.fc2": (d, f), f"{theirs}.adaLN_modulation.1": (2 * d, d)}
    for i in range(t.dual_stream_layers):
        block = f"transformer_blocks.{i}"
        diffusers |= {f"{block}.attn.{name}": (d, d) for name in
                      ("to_q", "to_k", "to_v", "add_q_proj", "add_k_proj", "add_v_proj", "to_out.0", "to_add_out")}
        for stream in ("ff", "ff_context"):
            diffusers |= {f"{block}.{stream}.net.0.proj": (f, d), f"{block}.{stream}.net.2": (d, f)}
        diffusers |= {f"{block}.norm1.linear": (6 * d, d), f"{block}.norm1_context.linear": (6 * d, d)}
        for stream in ("img", "txt"):
            theirs = f"double_blocks.{i}.{stream}"
            original |= {f"{theirs}_attn_qkv": (3 * d, d), f"{theirs}_attn_proj": (d, d), f"{theirs}_mlp.fc1": (f, d),
                         f"{theirs}_mlp.fc2": (d, f), f"{theirs}_mod.linear": (6 * d, d)}
    for i in range(t.layers - t.dual_stream_layers):
        block = f"single_transformer_blocks.{i}"
        diffusers |= {f"{block}.attn.{name}": (d, d) for name in ("to_q", "to_k", "to_v")}
        diffusers |= {f"{block}.proj_mlp": (f, d), f"{block}.proj_out": (d, d + f), f"{block}.norm.linear": (3 * d, d)}
        theirs = f"single_blocks.{i}"
        original |= {f"{theirs}.linear1": (3 * d + f, d), f"{theirs}.linear2": (d, d + f),
                     f"{theirs}.modulation.linear": (3 * d, d)}
    # diffusers' conversion of the original naming reads lora_A/lora_B only (lora_down/lora_up and alpha
    # are turned into those first: backends/lora_fuse.py); no bias or whole-weight differences.
    return {"diffusers": Modules(diffusers), "original": Modules(original, parts=frozenset(("down", "up", "alpha")))}


def _cogvideox_modules(t) -> Modules:
    d, f, time, out = t.width, t.ffn, t.time_width, t.in_channels * math.prod(t.patch)
    linear = {
        "patch_embed.text_proj": (d, t.text_width), "time_embedding.linear_1": (time, d),
        "time_embedding.linear_2": (time, time), "norm_out.linear": (2 * d, time), "proj_out": (out, d),
    }
    for i in range(t.layers):
        block = f"transformer_blocks.{i}"
        linear |= {f"{block}.attn1.{name}": (d, d) for name in ("to_q", "to_k", "to_v", "to_out.0")}
        linear |= {f"{block}.ff.net.0.proj": (f, d), f"{block}.ff.net.2": (d, f),
                   f"{block}.norm1.linear": (6 * d, time), f"{block}.norm2.linear": (6 * d, time)}
    return Modules(linear)


# -- fitting a file to a backend -------------------------------------------------------------------

def fit(path: Path, backend: str) -> Fit:
    """How the LoRA at ``path`` meets ``backend``'s transformer; LoraFileError if it cannot be read."""
    header = read_header(path)
    modules = module_tables(backend).get(header.naming)
    if modules is None:
        return Fit(header, tuple(t.key for t in header.tensors), {})
    unmatched: list[str] = []
    changed: dict[str, int] = {}
    ranks = header.ranks()
    for tensor in header.tensors:
        size = modules.linear.get(tensor.module)
        if tensor.part in modules.parts and _fits(tensor, size, ranks.get(tensor.module), tensor.module in modules.other):
            if size is not None and tensor.part in ("down", "bias"):  # a `.diff` is not applied (lora_fuse.py)
                changed[tensor.module] = changed.get(tensor.module, 0) + (size[0] if tensor.part == "bias" else math.prod(size))
        else:
            unmatched.append(tensor.key)
    return Fit(header, tuple(unmatched), changed)


def _fits(tensor: Tensor, size: tuple[int, int] | None, rank: int | None, other: bool) -> bool:
    if tensor.part in ("diff", "bias") and other:
        return True
    if size is None or not tensor.part:
        return False
    rows, columns = size
    shape = tensor.shape
    if tensor.part == "alpha":
        return math.prod(shape) == 1
    if tensor.part == "bias":
        return shape == (rows,)
    if tensor.part == "diff":
        return shape == (rows, columns)
    if tensor.part == "down":
        return len(shape) == 2 and shape[1] == columns
    return len(shape) == 2 and shape[0] == rows and rank is not None and shape[1] == rank


def fit_problem(path: Path, backend: str) -> str | None:
    """None when the LoRA fits ``backend``; else what is wrong, the family it seems made for, and the fix."""
    try:
        result = fit(path, backend)
    except LoraFileError as error:
        return f"{Path(path).name}: {error}"
    except OSError as error:
        return f"{Path(path).name}: cannot read it: {error.strerror or error}"
    if not result.unmatched:
        if not result.changed:
            return f"{Path(path).name} holds no LoRA weights (no lora_A/lora_B or lora_down/lora_up tensors)"
        return None
    header = result.header
    namings = module_tables(backend)
    if header.naming not in namings:
        detail = (f"its keys use the {header.naming} naming, and {backend}'s LoRAs are read in the "
                  f"{' or '.join(namings)} naming only")
    else:
        detail = (f"{len(result.unmatched)} of its {len(header.tensors)} tensors match no module of {backend}'s "
                  f"transformer, or one of another size (first: {result.unmatched[0]})")
    return f"{Path(path).name} does not fit {backend}: {detail}; it looks like a LoRA for {guess_family(header)}"


def changed_parameters(backend: str, loras) -> int:
    """The weight parameters a set of LoRAs (each with .path and .expert) changes, over the transformers:
    their original tensors are kept on the host while the set is fused. Unreadable files count 0."""
    experts = ("transformer", "transformer_2")[:max(SPECS[backend].experts, 1)]
    changed: dict[tuple[str, str, str], int] = {}
    for lora in loras:
        try:
            result = fit(lora.path, backend)
        except (LoraFileError, OSError):
            continue
        for transformer in {"both": experts, "high": experts[:1], "low": experts[1:]}[lora.expert]:
            for module, parameters in result.changed.items():
                key = (transformer, result.header.naming, module)
                changed[key] = max(changed.get(key, 0), parameters)
    return sum(changed.values())


def expert_problem(expert: str, backend: str) -> str | None:
    spec = SPECS[backend]
    if expert == "both" or spec.experts > 1:
        return None
    return (f"expert: {expert} picks one of Wan 2.2 A14B's two experts, but {backend} has one transformer; "
            "use expert: both (or leave it out)")
