"""The layout a shot renders with: the contract from the planner to the runner, its workers and the manifest.

Two parts: ``ParallelPlan``, how the shot is spread over its GPUs, and ``MemoryStrategy``, how
the weights and the decode are held. The planner weighs shot layouts with its judgements added
(planner/layouts.py) and hands the one it chose on as a plain ``ShotLayout``; the runner gives
it to the worker as JSON, steps it down the memory ladder after running out of memory
(runner/memory_ladder.py), and records it in the manifest; the worker reads it back, opens the
backend with its memory strategy and, on k GPUs, the parallel layout it implies
(parallel/layout.py).

The JSON is flat, in the planner's words: the fields of both parts, and the switches the
backends read (``expert_swap``, ``group_offload``, ``fp8_storage``, ``vae_bf16``; ``vae_tiling``
is a field of its own). It names only what differs from the plain layout (no GPU, nothing
offloaded, bf16 weights, a whole fp32 decode), so a missing key is its default; a switch is
written when it is on. Read back, a switch must agree with the field it comes from, or sets
that field when the field is not given (``{"expert_swap": true}`` is the expert swap alone). An
unknown key, a value of the wrong type or outside its enumeration raises ShotLayoutError.

Torch-free: the planner builds it, and `plan` must start in well under a second.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any


class ShotLayoutError(ValueError):
    """A shot layout (or its JSON) with an unknown key or a value its field does not allow."""


class Offload(StrEnum):
    """Where the transformers' weights wait while they do not run."""

    NONE = "none"  # all on the GPU
    INACTIVE_EXPERT = "inactive_expert"  # two-expert models: the expert not running in pinned host memory
    MODEL = "model"  # whole models moved on and off the GPU (weighed by the planner, not run by the backends)
    GROUP = "group"  # blocks streamed to the GPU just before they run
    SEQUENTIAL = "sequential"  # layer by layer, unpinned (weighed, not run)


class ExpertsResident(StrEnum):
    """Two-expert models (Wan A14B): which experts the GPUs hold while denoising."""

    BOTH = "both"
    ONE = "one"
    ONE_PER_GPU = "one_per_gpu"
    STREAMED = "streamed"


class WeightsDtype(StrEnum):
    """The transformers' weights from bf16 files: kept bf16, or stored in fp8 by the backend.

    Weights from quantised files keep the name of their format ("GGUF Q4_K_M", "fp8 scaled", ...),
    with their bytes per parameter in ``stored_bytes_per_param``."""

    BF16 = "bf16"
    FP8 = "fp8"


class VaeDtype(StrEnum):
    FP32 = "fp32"
    BF16 = "bf16"


@dataclass(frozen=True)
class ParallelPlan:
    """How one shot's work is spread over its GPUs, as the planner weighed it."""

    gpus_per_shot: int = 0  # 0: the shot needs no GPU (the animatic, footage)
    fsdp: bool = False
    ulysses: int = 1
    ring: int = 1
    cfg_parallel: bool = False
    experts_resident: ExpertsResident | None = None  # None: a model with one transformer

    def __post_init__(self) -> None:
        _whole("gpus_per_shot", self.gpus_per_shot, 0)
        _whole("ulysses", self.ulysses, 1)
        _whole("ring", self.ring, 1)
        _boolean("fsdp", self.fsdp)
        _boolean("cfg_parallel", self.cfg_parallel)
        if self.experts_resident is not None:
            _enumerated(self, "experts_resident", ExpertsResident)


@dataclass(frozen=True)
class MemoryStrategy:
    """How the weights and the decode are held, so large models fit smaller cards (backends/memory.py)."""

    offload: Offload = Offload.NONE
    weights_dtype: str = WeightsDtype.BF16
    stored_bytes_per_param: float | None = None  # quantised files: their weights' bytes per parameter once loaded
    vae_tiling: bool = False  # decode in tiles: about 1/4 of the peak, about 1.7x slower
    vae_dtype: VaeDtype = VaeDtype.FP32  # bf16: half the decoder's peak, faster, tiny colour differences

    def __post_init__(self) -> None:
        _enumerated(self, "offload", Offload)
        _enumerated(self, "vae_dtype", VaeDtype)
        _boolean("vae_tiling", self.vae_tiling)
        stored = self.stored_bytes_per_param
        if stored is None:
            _enumerated(self, "weights_dtype", WeightsDtype, " (quantised files need stored_bytes_per_param)")
        elif isinstance(stored, bool) or not isinstance(stored, int | float) or stored <= 0:
            raise ShotLayoutError(f"shot layout: stored_bytes_per_param must be a positive number, got {stored!r}")
        elif not isinstance(self.weights_dtype, str) or not self.weights_dtype:
            raise ShotLayoutError(f"shot layout: weights_dtype must name the quantised files' format, "
                                  f"got {self.weights_dtype!r}")

    # The switches the backends read (backends/diffusion.py).

    @property
    def expert_swap(self) -> bool:
        """Wan A14B: one expert on the GPU, the other in pinned host memory, swapped at the boundary."""
        return self.offload == Offload.INACTIVE_EXPERT

    @property
    def group_offload(self) -> bool:
        return self.offload == Offload.GROUP

    @property
    def fp8_storage(self) -> bool:
        """diffusers layerwise casting: weights stored in float8_e4m3fn, computed in bf16."""
        return self.weights_dtype == WeightsDtype.FP8

    @property
    def vae_bf16(self) -> bool:
        return self.vae_dtype == VaeDtype.BF16


# Each switch, the field it comes from and the value that turns it on.
SWITCHES: dict[str, tuple[str, StrEnum]] = {
    "expert_swap": ("offload", Offload.INACTIVE_EXPERT),
    "group_offload": ("offload", Offload.GROUP),
    "fp8_storage": ("weights_dtype", WeightsDtype.FP8),
    "vae_bf16": ("vae_dtype", VaeDtype.BF16),
}
PARALLEL_KEYS = tuple(f.name for f in fields(ParallelPlan))
MEMORY_KEYS = tuple(f.name for f in fields(MemoryStrategy))
KEYS = PARALLEL_KEYS + MEMORY_KEYS + tuple(SWITCHES)


@dataclass(frozen=True)
class ShotLayout:
    """A shot's parallel layout and memory strategy."""

    parallel: ParallelPlan = field(default_factory=ParallelPlan)
    memory: MemoryStrategy = field(default_factory=MemoryStrategy)

    def to_json(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for part in (self.parallel, self.memory):
            for item in fields(part):
                value = getattr(part, item.name)
                if value != item.default:
                    values[item.name] = str(value) if isinstance(value, StrEnum) else value
        return values | {switch: True for switch in SWITCHES if getattr(self.memory, switch)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ShotLayout:
        if not isinstance(data, Mapping):
            raise ShotLayoutError(f"shot layout: expected a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - set(KEYS))
        if unknown:
            raise ShotLayoutError(f"shot layout: unknown key(s) {', '.join(unknown)}; known: {', '.join(KEYS)}")
        parallel = ParallelPlan(**{name: data[name] for name in PARALLEL_KEYS if name in data})
        given = {name: data[name] for name in MEMORY_KEYS if name in data}
        for switch, (name, on) in SWITCHES.items():
            if data.get(switch) is True:
                given.setdefault(name, on)
        memory = MemoryStrategy(**given)
        for switch, (name, _) in SWITCHES.items():
            if switch in data:
                _boolean(switch, data[switch])
                if data[switch] != getattr(memory, switch):
                    raise ShotLayoutError(f"shot layout: {switch} {str(data[switch]).lower()} disagrees with "
                                          f"{name} {getattr(memory, name)!s}")
        return cls(parallel, memory)


def _enumerated(record: ParallelPlan | MemoryStrategy, name: str, kind: type[StrEnum], hint: str = "") -> None:
    """The field ``name`` of ``record`` as a member of ``kind``: its JSON's strings are read into one here."""
    value = getattr(record, name)
    try:
        member = kind(value)
    except ValueError:
        raise ShotLayoutError(f"shot layout: {name} {value!r} is not one of {', '.join(kind)}{hint}") from None
    object.__setattr__(record, name, member)  # frozen: set once, while the record is being made


def _whole(name: str, value: Any, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ShotLayoutError(f"shot layout: {name} must be a whole number >= {least}, got {value!r}")


def _boolean(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ShotLayoutError(f"shot layout: {name} must be true or false, got {value!r}")
