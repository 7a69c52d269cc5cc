"""Any model built from a config and a found part's files: its tensors read, renamed and cast as
from_pretrained casts them, fp8 kept fp8, GGUF through diffusers' quantiser; a file that is not the
model's named in the error. checkpoint_loading.py says, per component, which config and renaming.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from render_pipeline.backends.checkpoint_search import Part
from render_pipeline.backends.scaled_fp8 import FP8_TYPES, SCALE_SUFFIXES, use_scaled_fp8
from render_pipeline.errors import UserError


def diffusers_model(model_class, part: Part, config: Path, names: Callable[[dict], dict], dtype: torch.dtype):
    keep = list(model_class._keep_in_fp32_modules or [])
    return build(model_class, model_class.load_config(config), part, names, dtype, keep, not_fp8=keep)


def build(model_class, config, part: Part, names: Callable[[dict], dict], dtype: torch.dtype, keep_in_fp32: list[str],
          not_fp8: list[str]):
    """``model_class`` from ``config``, filled with ``part``'s tensors renamed by ``names``, cast as
    from_pretrained casts: to ``dtype``, modules named in ``keep_in_fp32`` to fp32. fp8 weights stay
    fp8, except in the modules named in ``not_fp8``, which get them dequantized."""
    from accelerate import init_empty_weights
    from diffusers.models.model_loading_utils import load_model_dict_into_meta

    with init_empty_weights():
        model = model_class.from_config(config) if hasattr(model_class, "from_config") else model_class(config)
    state = use_scaled_fp8(model, _read(part.files, names, dtype, keep_in_fp32), not_fp8)
    expected = model.state_dict()
    unexpected = sorted(set(state) - set(expected))
    if unexpected:
        raise _unexpected(part, unexpected)
    # diffusers annotates the state as an OrderedDict; it only reads it as a mapping.
    load_model_dict_into_meta(model, {name: _cast(name, tensor, dtype, keep_in_fp32)  # type: ignore[arg-type]
                                      for name, tensor in state.items()},
                              dtype=dtype, keep_in_fp32_modules=keep_in_fp32, device_map={"": torch.device("cpu")})
    missing = [name for name, tensor in model.state_dict().items() if tensor.device.type == "meta"]
    if missing:
        raise _missing(part, missing)
    return model.eval()


def _cast(name: str, tensor: torch.Tensor, dtype: torch.dtype, keep_in_fp32: list[str]) -> torch.Tensor:
    """What from_pretrained makes of a tensor: fp8 weights and fp8 scales aside, floats in ``dtype`` or fp32."""
    if not tensor.is_floating_point() or tensor.dtype in FP8_TYPES or name.endswith(SCALE_SUFFIXES):
        return tensor
    return tensor.to(torch.float32 if any(module in name.split(".") for module in keep_in_fp32) else dtype)


def _read(files: tuple[Path, ...], names: Callable[[dict], dict], dtype: torch.dtype,
          keep_in_fp32: list[str]) -> dict[str, torch.Tensor]:
    """Every tensor of the files (a model's shards, or one file) under its diffusers name, each cast as
    it is read, so an fp32 release never sits in memory in fp32 beside its bf16 copy."""
    tensors: dict[str, torch.Tensor] = {}
    pickles = {path: _pickle(path) for path in files if path.suffix in (".pth", ".pt")}
    renamed = {}
    if keep_in_fp32:  # which tensors become the modules kept in fp32: the renaming, run on the names alone
        keys = [key for state in pickles.values() for key in state] + [key for path in files if path not in pickles
                                                                        for key in _safetensors_keys(path)]
        renamed = {original: new for new, original in names({key: key for key in keys}).items()}
    for path in files:
        if path in pickles:
            for key, tensor in pickles[path].items():
                tensors[key] = _cast(renamed.get(key, key), tensor, dtype, keep_in_fp32)
            continue
        from safetensors import safe_open

        with safe_open(path, framework="pt") as file:
            for key in file.keys():
                tensors[key] = _cast(renamed.get(key, key), file.get_tensor(key), dtype, keep_in_fp32)
    return names(tensors)


def _pickle(path: Path) -> dict[str, torch.Tensor]:
    """A .pth state dict, memory-mapped; loading it runs no code (weights_only)."""
    saved = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    for key in ("state_dict", "module"):
        saved = saved.get(key, saved)
    return saved


def _safetensors_keys(path: Path) -> list[str]:
    from safetensors import safe_open

    with safe_open(path, framework="pt") as file:
        return list(file.keys())


def gguf_model(model_class, path: Path, config: Path, names: Callable[[dict], dict] | None = None):
    """A GGUF file through diffusers' GGUF quantiser: the quantised weights stay so, in memory too.

    ``names``: the renaming, where diffusers' own (from_single_file's) does not fit the model: the file's
    tensors, still quantised, are renamed first and handed to from_single_file under diffusers' names."""
    from diffusers import GGUFQuantizationConfig

    try:
        checkpoint: str | dict[str, torch.Tensor] = str(path)
        if names is not None:
            from diffusers.models.model_loading_utils import load_gguf_checkpoint

            checkpoint = names(load_gguf_checkpoint(str(path)))
            _check_names(Part("transformer", (path,), None), model_class, config, set(checkpoint))
        return model_class.from_single_file(checkpoint, config=str(config), local_files_only=True,
                                            quantization_config=GGUFQuantizationConfig(compute_dtype=torch.bfloat16),
                                            torch_dtype=torch.bfloat16).eval()
    except ImportError as error:
        raise UserError(f"{path}: reading GGUF files needs the gguf package ({error}): "
                        f"pip install -e '.[diffusion]'") from None


def _check_names(part: Part, model_class, config: Path, names: set[str]) -> None:
    """A UserError unless ``names`` are exactly the model's tensors (from_single_file would load a partial model)."""
    from accelerate import init_empty_weights

    with init_empty_weights():
        expected = set(model_class.from_config(model_class.load_config(config)).state_dict())
    if names - expected:
        raise _unexpected(part, sorted(names - expected))
    if expected - names:
        raise _missing(part, sorted(expected - names))


def _unexpected(part: Part, unexpected: list[str]) -> UserError:
    return UserError(f"{_where(part)}: {len(unexpected)} tensors are not {part.component}'s "
                     f"(first: {unexpected[0]}): is it the right file for this backend?")


def _missing(part: Part, missing: list[str]) -> UserError:
    return UserError(f"{_where(part)} lacks {len(missing)} of {part.component}'s tensors (first: {missing[0]}): "
                     f"an incomplete download, or a file for another model?")


def _where(part: Part) -> str:
    return str(part.files[0]) if len(part.files) == 1 else f"{part.files[0].parent} ({len(part.files)} files)"
