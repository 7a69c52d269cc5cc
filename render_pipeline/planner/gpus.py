"""The GPUs a plan is made for: a catalogue of common cards, what-if specs, and the machine itself.

Figures are the vendors' datasheets: memory as nvidia-smi reports it, dense bf16 tensor
TFLOP/s (no sparsity), memory bandwidth, and the GPU-to-GPU link per direction. Cards without
NVLink talk over PCIe, which is also their link to host memory.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from render_pipeline.errors import UserError

GIB = 1024**3


@dataclass(frozen=True)
class Gpu:
    name: str
    memory_gib: float
    bf16_tflops: float
    memory_gbps: float
    link: str  # how the cards of one machine talk to each other
    link_gbps: float  # GPU-to-GPU, one direction
    host_gbps: float  # pinned host-to-GPU copies, one direction (PCIe, measured-typical)


_PCIE4 = 22.0
_PCIE5 = 45.0

CATALOGUE: dict[str, Gpu] = {
    gpu.name: gpu
    for gpu in (
        Gpu("RTX 3090", 24.0, 71.0, 936, "PCIe 4.0", _PCIE4, _PCIE4),
        Gpu("RTX 4090", 23.99, 165.2, 1008, "PCIe 4.0", _PCIE4, _PCIE4),
        Gpu("RTX 5090", 31.84, 209.5, 1792, "PCIe 5.0", _PCIE5, _PCIE5),
        Gpu("A10", 22.49, 125.0, 600, "PCIe 4.0", _PCIE4, _PCIE4),
        Gpu("L4", 22.49, 121.0, 300, "PCIe 4.0", _PCIE4, _PCIE4),
        Gpu("A6000", 47.99, 154.8, 768, "PCIe 4.0", _PCIE4, _PCIE4),
        Gpu("RTX 6000 Ada", 47.99, 364.2, 960, "PCIe 4.0", _PCIE4, _PCIE4),
        Gpu("L40S", 44.99, 362.1, 864, "PCIe 4.0", _PCIE4, _PCIE4),
        Gpu("A100 40GB", 40.0, 312.0, 1555, "NVLink 3", 300.0, _PCIE4),
        Gpu("A100 80GB", 80.0, 312.0, 2039, "NVLink 3", 300.0, _PCIE4),
        Gpu("H100", 79.65, 989.0, 3350, "NVLink 4", 450.0, _PCIE5),
        Gpu("H100 PCIe", 79.65, 756.0, 2000, "PCIe 5.0", _PCIE5, _PCIE5),
        Gpu("H200", 139.8, 989.0, 4800, "NVLink 4", 450.0, _PCIE5),
        Gpu("B200", 179.1, 2250.0, 8000, "NVLink 5", 900.0, _PCIE5),
    )
}

# Spellings people type: lower case, without spaces, dashes, "nvidia" or "rtx".
_ALIASES = {
    "3090": "RTX 3090", "4090": "RTX 4090", "5090": "RTX 5090", "a10": "A10", "l4": "L4",
    "a6000": "A6000", "6000ada": "RTX 6000 Ada", "l40s": "L40S", "a10040gb": "A100 40GB",
    "a10040": "A100 40GB", "a100": "A100 80GB", "a10080gb": "A100 80GB", "a10080": "A100 80GB",
    "h100": "H100", "h100sxm": "H100", "h100pcie": "H100 PCIe", "h200": "H200", "b200": "B200",
}


def _key(name: str) -> str:
    return re.sub(r"nvidia|geforce|rtx|[\s_\-]", "", name.lower())


def generic_gpu(memory_gib: float) -> Gpu:
    """A card known only by its memory: assumed as fast as an RTX A6000 (a mid-range workstation card)."""
    a6000 = CATALOGUE["A6000"]
    return Gpu(f"{memory_gib:g} GB GPU", memory_gib, a6000.bf16_tflops, a6000.memory_gbps,
               a6000.link, a6000.link_gbps, a6000.host_gbps)


def gpu_named(name: str) -> Gpu | None:
    key = _key(name)
    if key in _ALIASES:
        return CATALOGUE[_ALIASES[key]]
    memory = re.fullmatch(r"(\d+(?:\.\d+)?)(?:gb|gib|g)", key)
    return generic_gpu(float(memory.group(1))) if memory else None


def gpu_reported_as(name: str) -> Gpu | None:
    """The catalogue card a cluster names ("H100", "A100-40G", "nvidia_h100_80gb_hbm3"), or None.

    Clusters report no memory, so a bare "A100" reads as the 80 GB card, as it does in --gpus.
    """
    known = gpu_named(name)
    if known is not None:
        return known
    key = _key(name)
    # The longest alias found in the name wins ("a10040g" is the 40 GB A100, not an A10).
    alias = next((alias for alias in sorted(_ALIASES, key=len, reverse=True) if alias in key), None)
    return CATALOGUE[_ALIASES[alias]] if alias else None


def parse_gpus(spec: str) -> list[Gpu]:
    """``2xA6000``, ``4xH100``, ``1x24GB``, ``H200``, or ``none``: the GPUs of a what-if plan."""
    text = spec.strip()
    if _key(text) in ("none", "0", "cpu"):
        return []
    match = re.fullmatch(r"(?:(\d+)\s*[xX*]\s*)?(.+)", text)  # None when empty, or over several lines
    count = int(match.group(1) or 1) if match else 0
    gpu = gpu_named(match.group(2)) if match else None
    if gpu is None or not 1 <= count <= 64:
        known = ", ".join(CATALOGUE)
        raise UserError(f"--gpus {spec!r}: not understood; write COUNTxNAME (e.g. 2xA6000, 4xH100) "
                        f"or COUNTxMEMORY (e.g. 1x24GB), or 'none'. Known names: {known}")
    return [gpu] * count


def parse_size_gib(text: str, what: str) -> float:
    """``64GB``, ``64G``, ``64GiB`` or ``64``: GiB (RAM is sold in binary gigabytes)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:gb|gib|g)?\s*", text.lower())
    if not match or float(match.group(1)) <= 0:
        raise UserError(f"{what} {text!r}: write a size in GB, e.g. 64GB")
    return float(match.group(1))


def detect_gpus() -> list[Gpu]:
    """The GPUs this process may use: through torch only if something already imported it, else nvidia-smi.

    nvidia-smi lists every card in the machine, so its list is narrowed to CUDA_VISIBLE_DEVICES
    as CUDA itself reads it (torch's list already is).
    """
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        if torch.cuda.is_available():
            return [_known_or_generic(props.name, props.total_memory / GIB)
                    for props in map(torch.cuda.get_device_properties, range(torch.cuda.device_count()))]
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        output = subprocess.run([smi, "--query-gpu=index,uuid,name,memory.total", "--format=csv,noheader,nounits"],
                                capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    cards = []
    for line in output.strip().splitlines():
        index, uuid, name_and_memory = (part.strip() for part in line.split(",", 2))
        name, _, memory_mib = name_and_memory.rpartition(",")
        cards.append((index, uuid, _known_or_generic(name.strip(), float(memory_mib) / 1024)))
    return _visible(cards, gpu_selection())


def gpu_selection() -> list[str] | None:
    """The entries of CUDA_VISIBLE_DEVICES that CUDA reads (None: unset, every card).

    CUDA stops at the first entry it cannot use, so an empty one ends the list, and an empty
    selection leaves no GPU. An entry is an index or the start of a UUID.
    """
    selection = os.environ.get("CUDA_VISIBLE_DEVICES")
    if selection is None:
        return None
    entries = [entry.strip() for entry in selection.split(",")]
    return entries[:entries.index("")] if "" in entries else entries


def no_gpus() -> tuple[str, str]:
    """Why detect_gpus found none, and the fix, for the plan and doctor: no card, or a selection that names none."""
    if gpu_selection() is None:
        return "no GPU found (nvidia-smi reports none)", "on a GPU machine, install the NVIDIA driver so nvidia-smi works"
    return (f"no GPU selected (CUDA_VISIBLE_DEVICES={os.environ['CUDA_VISIBLE_DEVICES']!r} names none of this "
            f"machine's cards)", "unset CUDA_VISIBLE_DEVICES, or set it to the cards to use (nvidia-smi -L lists them)")


def _visible(cards: list[tuple[str, str, Gpu]], selection: list[str] | None) -> list[Gpu]:
    """The cards (index, UUID, card) a selection (gpu_selection) leaves, in its order: as in CUDA, the
    first entry that names no card ends the list."""
    if selection is None:
        return [gpu for _, _, gpu in cards]
    chosen = []
    for entry in selection:
        card = next((gpu for index, uuid, gpu in cards if entry in (index, uuid[:len(entry)])), None)
        if card is None:
            break
        chosen.append(card)
    return chosen


def _known_or_generic(name: str, memory_gib: float) -> Gpu:
    """A catalogue card (with the memory the driver reports) or a generic one of that memory."""
    key = _key(name)
    # The longest alias found in the reported name wins ("A100-SXM4-40GB" is the 40 GB A100).
    for alias in sorted(_ALIASES, key=len, reverse=True):
        if alias in key:
            known = CATALOGUE[_ALIASES[alias]]
            if abs(known.memory_gib - memory_gib) < 4:
                return Gpu(name, round(memory_gib, 2), known.bf16_tflops, known.memory_gbps, known.link,
                           known.link_gbps, known.host_gbps)
    generic = generic_gpu(round(memory_gib, 2))
    return Gpu(name, generic.memory_gib, generic.bf16_tflops, generic.memory_gbps, generic.link,
               generic.link_gbps, generic.host_gbps)


def detect_host_ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return None
