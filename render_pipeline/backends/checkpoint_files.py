"""What a weights file holds, read from its header alone: tensor names, shapes and storage types.

Torch-free and numpy-free, so `doctor` and `plan` can name the format of every file found and
count the memory its weights take once loaded, in a few milliseconds per file: a safetensors
file starts with a JSON table of its tensors, a GGUF file with a binary one. A `.pth` file is a
pickle with no such table; it is described from its size and the dtype its name states.
"""

from __future__ import annotations

import json
import re
import struct
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

# GGML storage types: name, elements per block, bytes per block (ggml's GGML_QUANT_SIZES).
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 40), 10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98), 19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110), 22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136),
    29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2),
}
# The storage types diffusers' GGUF loader dequantizes (diffusers.quantizers.gguf.utils, 0.35 to 0.42).
DIFFUSERS_GGUF_TYPES = frozenset({"F32", "F16", "BF16", "Q8_0", "Q5_1", "Q5_0", "Q4_1", "Q4_0", "Q6_K", "Q5_K",
                                  "Q4_K", "Q3_K", "Q2_K", "IQ4_NL", "IQ4_XS"})
_UNQUANTISED = frozenset({"F32", "F16", "BF16"})
_SAFETENSORS_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
                      "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
# How a file names its GGUF quantisation (e.g. wan2.2_t2v_high_noise_14B_Q4_K_M.gguf).
_GGUF_NAME_TAG = re.compile(r"(?<![A-Za-z0-9])(IQ\d_[A-Z]+|Q\d_K_[SML]|Q\d_K|Q\d_\d|BF16|F16|F32)(?![A-Za-z0-9])",
                            re.IGNORECASE)


class HeaderError(ValueError):
    """The file is not a readable safetensors or GGUF file (truncated download, wrong file)."""


@dataclass(frozen=True)
class Tensor:
    dtype: str  # safetensors dtype ("BF16", "F8_E4M3", ...) or GGML type name ("Q4_K", "F32", ...)
    shape: tuple[int, ...]  # logical shape, outermost first (as torch has it)

    @property
    def elements(self) -> int:
        count = 1
        for size in self.shape:
            count *= size
        return count


def safetensors_tensors(path: Path) -> dict[str, Tensor]:
    """Every tensor of a safetensors file, from its JSON header."""
    with open(path, "rb") as file:
        start = file.read(8)
        if len(start) < 8:
            raise HeaderError(f"{path} is too short to be a safetensors file")
        (length,) = struct.unpack("<Q", start)
        if length > 100_000_000:
            raise HeaderError(f"{path} is not a safetensors file (header of {length} bytes)")
        try:
            header = json.loads(file.read(length))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise HeaderError(f"{path} is not a safetensors file ({error})") from None
    return {name: Tensor(entry["dtype"], tuple(entry["shape"])) for name, entry in header.items()
            if name != "__metadata__"}


def gguf_tensors(path: Path) -> dict[str, Tensor]:
    """Every tensor of a GGUF file (version 2 or 3), from its header: names, GGML types, logical shapes."""
    with open(path, "rb") as file:
        reader = _GgufReader(file, path)
        if file.read(4) != b"GGUF":
            raise HeaderError(f"{path} is not a GGUF file")
        version = reader.u32()
        if version not in (2, 3):
            raise HeaderError(f"{path}: GGUF version {version} is not supported (2 and 3 are)")
        tensor_count, kv_count = reader.u64(), reader.u64()
        for _ in range(kv_count):
            reader.string()
            reader.value(reader.u32())
        tensors = {}
        for _ in range(tensor_count):
            name = reader.string()
            dims = [reader.u64() for _ in range(reader.u32())]
            kind = reader.u32()
            reader.u64()  # offset of the data
            type_name = GGML_TYPES.get(kind, (f"type {kind}", 1, 0))[0]
            tensors[name] = Tensor(type_name, tuple(reversed(dims)))
    return tensors


class _GgufReader:
    _SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}

    def __init__(self, file, path: Path):
        self.file, self.path = file, path

    def _read(self, size: int) -> bytes:
        data = self.file.read(size)
        if len(data) != size:
            raise HeaderError(f"{self.path}: the GGUF header is cut short (incomplete download?)")
        return data

    def u32(self) -> int:
        return struct.unpack("<I", self._read(4))[0]

    def u64(self) -> int:
        return struct.unpack("<Q", self._read(8))[0]

    def string(self) -> str:
        return self._read(self.u64()).decode("utf-8", errors="replace")

    def value(self, kind: int):
        if kind in self._SCALARS:
            form = self._SCALARS[kind]
            return struct.unpack(form, self._read(struct.calcsize(form)))[0]
        if kind == 8:
            return self.string()
        if kind == 9:
            item_kind, count = self.u32(), self.u64()
            return [self.value(item_kind) for _ in range(count)]
        raise HeaderError(f"{self.path}: unknown GGUF value type {kind}")


def tensors_of(path: Path) -> dict[str, Tensor]:
    """The tensors of a safetensors or GGUF file."""
    return gguf_tensors(path) if path.suffix == ".gguf" else safetensors_tensors(path)


@dataclass(frozen=True)
class Format:
    """How a set of files stores a component's weights, and what they take once loaded."""

    label: str  # what doctor and plan print: "bf16", "fp8 scaled", "GGUF Q4_K_M", ...
    quantised: bool  # the weights stay in fewer than 16 bits once loaded (fp8, GGUF)
    loaded_bytes: int  # the component's weights in memory as the backends load it
    parameters: int


def describe(paths: list[Path]) -> Format:
    """The format of one component's files (a single file, or the shards of one model)."""
    if paths[0].suffix in (".pth", ".pt"):
        return _describe_pickle(paths)
    tensors: dict[str, Tensor] = {}
    for path in paths:
        tensors.update(tensors_of(path))
    if paths[0].suffix == ".gguf":
        return _describe_gguf(paths[0], tensors)
    return _describe_safetensors(tensors)


def _describe_safetensors(tensors: dict[str, Tensor]) -> Format:
    scales = {name for name in tensors if name.endswith((".scale_weight", ".scale_input", ".scale_weight_tensor"))}
    weights = {name: tensor for name, tensor in tensors.items() if name not in scales and name != "scaled_fp8"}
    parameters = sum(tensor.elements for tensor in weights.values())
    fp8 = sum(tensor.elements for tensor in weights.values() if tensor.dtype.startswith("F8"))
    # Loaded: fp8 weights stay fp8 (1 byte); every other float becomes bf16 (2 bytes). The few
    # modules diffusers keeps in fp32 are left out (under 0.3 % of the parameters).
    loaded = fp8 + 2 * (parameters - fp8) + sum(4 * tensors[name].elements for name in scales)
    if fp8:
        label = "fp8 scaled" if scales else "fp8"
    else:
        counts: Counter[str] = Counter()
        for tensor in weights.values():
            counts[tensor.dtype] += tensor.elements
        label = {"BF16": "bf16", "F16": "fp16", "F32": "fp32"}.get(counts.most_common(1)[0][0] if counts else "", "bf16")
    return Format(label, fp8 > 0, loaded, parameters)


def _describe_gguf(path: Path, tensors: dict[str, Tensor]) -> Format:
    parameters = loaded = 0
    counts: Counter = Counter()
    for tensor in tensors.values():
        parameters += tensor.elements
        if tensor.dtype in _UNQUANTISED:
            loaded += 2 * tensor.elements  # dequantized to bf16 on loading
            continue
        _, block, size = next((entry for entry in GGML_TYPES.values() if entry[0] == tensor.dtype), ("", 1, 1))
        loaded += tensor.elements // block * size  # stays quantised: dequantized layer by layer as it runs
        counts[tensor.dtype] += tensor.elements
    named = _GGUF_NAME_TAG.search(path.stem)
    tag = named.group(1).upper() if named else (counts.most_common(1)[0][0] if counts else "F16")
    return Format(f"GGUF {tag}", bool(counts), loaded, parameters)


def _describe_pickle(paths: list[Path]) -> Format:
    """A .pth/.pt from its size and the dtype its name states (Wan's T5 file says bf16; its VAE file says none;
    Tencent's HunyuanVideo transformer says fp8 for its fp8 weights, whose scales lie in a second, small file)."""
    size = sum(path.stat().st_size for path in paths)
    name = paths[0].name.lower()
    tag = next((tag for tag in ("bf16", "fp16", "fp32", "fp8") if tag in name), None)
    kind = paths[0].suffix
    if tag == "fp8":
        return Format(f"fp8 scaled {kind}", True, size, size)
    parameters = size // (4 if tag == "fp32" else 2)
    return Format(f"{tag} {kind}" if tag else kind, False, parameters * 2, parameters)


def unsupported_gguf_types(path: Path) -> list[str]:
    """The storage types in a GGUF file that diffusers cannot dequantize (empty: loadable)."""
    return sorted({tensor.dtype for tensor in gguf_tensors(path).values()} - DIFFUSERS_GGUF_TYPES)
