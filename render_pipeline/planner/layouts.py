"""Ways to run one backend on k GPUs, and what each costs: memory per GPU per stage, host RAM, time.

A layout is evaluated for one shot shape (size and frames). The numbers follow the stages a
backend runs: text encoding (the encoder alone on the GPU, freed afterwards), denoising (the
transformer(s) and the activations of one forward), and VAE decoding.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from render_pipeline.backends.architecture import Architecture
from render_pipeline.backends.specs import ModelSpec
from render_pipeline.backends.speed import flash_attention_4_installed, gpu_runs_flash_attention_4
from render_pipeline.planner.architectures import VAE_BF16_TIME, VAE_TILED_MEMORY, VAE_TILED_TIME
from render_pipeline.planner.gpus import GIB, Gpu
from render_pipeline.shot_layout import ExpertsResident, MemoryStrategy, Offload, ParallelPlan, ShotLayout, VaeDtype

# Measured bf16 matmul on an H200 (788 TFLOP/s) over its datasheet figure (989): the ceiling
# that the per-architecture efficiencies are fractions of.
MATMUL_CEILING = 788 / 989
# Two GPUs on one shot ran 1.80-1.90x as fast as one (gpu-facts.md); the rest is the link time below.
PARALLEL_EFFICIENCY = 0.95
# Per-GPU activations relative to one GPU's share, measured with degree 2 at 480p and 720p.
ULYSSES_ACTIVATION_OVERHEAD = 1.11
RING_ACTIVATION_OVERHEAD = 1.74
# Not seen by torch.cuda.max_memory_allocated: the CUDA context, cuBLAS/cuDNN workspaces.
CUDA_CONTEXT_GIB = 0.6
# The allocator reserves 5-25 % over the allocated peak; the runner sets expandable_segments,
# which keeps it near the low end. A plan that needs more than this margin is refused.
SAFETY_MARGIN = 1.05
PROCESS_HOST_GIB = 3.0  # Python, torch and CUDA libraries, per process
TEXT_ENCODE_ACTIVATION_GIB = 0.3
FP8_SLOWDOWN = 1.03  # upcasting each layer's weights before it runs
# What-if sizes of the quantised files people use, for the plan's advice when none is on disk.
# Estimates, not measured: Q8_0 stores 32 weights in 34 bytes (8.5 bits); a Q4_K_M file mixes
# Q4_K (4.5 bits) with Q6_K for some tensors, about 4.8 bits a weight overall; an fp8 scaled file
# is one byte a weight plus one fp32 scale per weight matrix. Files found on disk are counted
# exactly instead, from their headers (backends/checkpoint_files.py).
QUANTISED_BYTES_PER_PARAM = {"GGUF Q8_0": 8.5 / 8, "GGUF Q4_K_M": 4.8 / 8, "fp8 scaled": 1.0}
GROUP_OFFLOAD_SLOWDOWN = 1.05  # hooks and stream syncs per block (an estimate, not measured here)

OFFLOADS = tuple(Offload)
# What this version's backends can run (backends/memory.py); the rest are shown for comparison.
IMPLEMENTED_OFFLOADS = (Offload.NONE, Offload.INACTIVE_EXPERT, Offload.GROUP)


@dataclass(frozen=True)
class Layout(ShotLayout):
    """One way to run a backend, as the planner weighs it: a shot layout with the planner's judgements of it.
    The chosen one is handed on as the plain ShotLayout (``shot_layout``)."""

    @property
    def bytes_per_param(self) -> float:
        stored = {"bf16": 2.0, "fp8": 1.0}.get(self.memory.weights_dtype) or self.memory.stored_bytes_per_param
        if stored is None:
            raise ValueError(f"{self.memory.weights_dtype!r} weights need stored_bytes_per_param")
        return stored

    @property
    def compiles(self) -> bool:
        """Whether the backend compiles the blocks for it (backends/diffusion.py: bf16 weights resident
        or swapped whole, never with fp8 storage or group offloading)."""
        return self.memory.weights_dtype == "bf16" and self.memory.offload != "group"

    @property
    def implemented(self) -> bool:
        """What the workers run: one GPU with the backends' offloads, or k GPUs with CFG parallel,
        Ulysses, FSDP, their combinations, or one expert per GPU, on bf16 weights held on the GPUs
        (parallel/apply.py). Ring attention needs a GPU attention backend not yet wired in."""
        if self.parallel.gpus_per_shot == 1:
            return self.memory.offload in IMPLEMENTED_OFFLOADS
        return self.parallel.ring == 1 and self.memory.offload == "none" and self.memory.weights_dtype == "bf16"

    @property
    def exact(self) -> bool:
        """Same pictures as the reference pipeline with the weights on disk (the backend storing them in
        fp8, or a bf16 VAE, changes them slightly)."""
        return self.memory.weights_dtype != "fp8" and self.memory.vae_dtype == "fp32"

    @property
    def shot_layout(self) -> ShotLayout:
        return ShotLayout(self.parallel, self.memory)


@dataclass(frozen=True)
class Shape:
    width: int
    height: int
    frames: int  # per denoising pass: the whole shot, or one of its windows
    steps: int
    windows: int = 1  # passes a shot takes (backends/windows.py); memory is one pass's, time all of them
    guided: bool = True  # classifier-free guidance runs (planner/sampling.py): two forwards per step, or batch 2
    shift: float | None = None  # the shot's flow shift; None: the spec's


@dataclass
class Cost:
    peak_gpu_gib: dict[str, float]  # per GPU: text_encode, denoise, decode
    host_ram_gib: float  # per shot group (all its processes)
    seconds_per_shot: float  # one shot, start to finish
    seconds_between_shots: float  # at steady state (less than the above when experts are pipelined)
    weights_gib: float  # transformer weights per GPU during denoising
    activations_gib: float

    @property
    def peak(self) -> float:
        return max(self.peak_gpu_gib.values())


def needed_gib(peak: float) -> float:
    """What a GPU must have free for a predicted allocated peak."""
    return peak * SAFETY_MARGIN + CUDA_CONTEXT_GIB


def high_noise_steps(spec: ModelSpec, steps: int, shift: float | None = None) -> int:
    """Steps the high-noise expert runs: the shifted flow-matching sigmas at or above the boundary."""
    if not spec.boundary_ratio:
        return steps
    shift = shift or spec.shift or 1.0
    count = 0
    for step in range(steps):
        s = 1 - step / steps
        if shift * s / (1 + (shift - 1) * s) >= spec.boundary_ratio:
            count += 1
    return count


def evaluate(arch: Architecture, spec: ModelSpec, layout: Layout, shape: Shape, gpu: Gpu) -> Cost:
    t = arch.transformer
    bytes_per_param = layout.bytes_per_param
    expert = t.weights_gib(bytes_per_param)
    block = t.block_gib(bytes_per_param)
    experts = max(spec.experts, 1)
    g = layout.parallel.gpus_per_shot

    resident = {"none": experts, "inactive_expert": 1, "model": 1, "group": 0, "sequential": 0}[layout.memory.offload]
    if layout.parallel.experts_resident == "one_per_gpu":
        resident = 1
    weights = resident * expert / (g if layout.parallel.fsdp else 1)
    if layout.parallel.fsdp:
        weights += 2 * block  # the block running and the next one, gathered
    if layout.memory.offload == "group":
        weights += 2 * block + (expert - t.layers * block)  # two blocks in flight plus the small modules
    if layout.memory.offload == "sequential":
        weights += block
    if layout.memory.weights_dtype != "bf16":
        weights += t.block_gib(2)  # one block upcast to bf16 while it runs (quantised files: one layer, less)

    tokens = arch.video_tokens(shape.width, shape.height, shape.frames)
    batch = 2 if t.cfg == "batched" and shape.guided and not layout.parallel.cfg_parallel else 1
    activations = t.activation_gib(tokens, batch)
    if layout.parallel.ulysses > 1:
        activations = activations / layout.parallel.ulysses * ULYSSES_ACTIVATION_OVERHEAD
    if layout.parallel.ring > 1:
        activations = activations / layout.parallel.ring * RING_ACTIVATION_OVERHEAD

    pixels = shape.frames * shape.width * shape.height
    vae_bytes = 4 if layout.memory.vae_dtype == "fp32" else 2
    frames_held = min(shape.frames, arch.vae.frames_held or shape.frames)
    vae_activations = frames_held * shape.width * shape.height * arch.vae.bytes_per_pixel * vae_bytes / 4 / GIB
    if layout.memory.vae_tiling:
        vae_activations *= VAE_TILED_MEMORY
    weights_at_decode = weights if layout.memory.offload in ("none", "inactive_expert") else 0.0
    peaks = {
        "text_encode": spec.text_encoder_gib + TEXT_ENCODE_ACTIVATION_GIB,
        "denoise": weights + activations,
        "decode": weights_at_decode + arch.vae.weights_gib * vae_bytes / 4 + vae_activations,
    }

    host_pinned = {
        "none": 0.0,
        "inactive_expert": (experts - 1) * expert,  # only the waiting expert is pinned; swaps reuse its buffers
        "model": experts * expert + spec.text_encoder_gib,
        "group": experts * expert,
        "sequential": experts * expert,
    }[layout.memory.offload]
    host_ram = g * PROCESS_HOST_GIB + host_pinned

    seconds, between = _seconds(arch, spec, layout, shape, gpu, tokens, batch, expert, pixels)
    return Cost(peaks, host_ram, seconds, between, weights, activations)


def _seconds(arch: Architecture, spec: ModelSpec, layout: Layout, shape: Shape, gpu: Gpu, tokens: int,
             batch: int, expert_gib: float, pixels: int) -> tuple[float, float]:
    t = arch.transformer
    rate = gpu.bf16_tflops * 1e12 * MATMUL_CEILING * t.efficiency
    forward = t.flops_per_forward(tokens, batch) / rate
    if layout.parallel.gpus_per_shot == 1:
        # A worker group runs eager with SDPA's default attention (DiffusionSession.compile_allowed),
        # as its figures were measured; one GPU compiles where it can and takes FlashAttention-4.
        if layout.compiles:
            forward /= t.compiled_speedup
        if gpu_runs_flash_attention_4(gpu.name) and flash_attention_4_installed():
            forward /= t.flash_attention_4_speedup
    if layout.memory.weights_dtype != "bf16":
        # Each weight read in storage, written and read again in bf16 before its matmul. For quantised
        # files (dequantized by kernels with more arithmetic than a cast) this is an estimate, not measured.
        forward = forward * FP8_SLOWDOWN + (layout.bytes_per_param + 2) * t.params() / (gpu.memory_gbps * 1e9)
    forwards = shape.steps * (2 if t.cfg == "separate" and shape.guided else 1)

    # Without guidance there is no second branch to run elsewhere: every GPU of a CFG-parallel layout
    # computes the one forward (parallel/cfg.py), so the layout is no faster than its other split.
    cfg_split = layout.parallel.cfg_parallel and shape.guided
    degree = layout.parallel.ulysses * layout.parallel.ring * (2 if cfg_split else 1)
    if degree > 1:
        forwards_per_gpu = forwards / 2 if cfg_split else forwards
        forward = forward * (2 if cfg_split else 1) / (degree * PARALLEL_EFFICIENCY)
        forward += _context_parallel_bytes(arch, layout, tokens) / (gpu.link_gbps * 1e9)
    else:
        forwards_per_gpu = forwards
    expert_bytes = expert_gib * GIB
    if layout.parallel.fsdp:
        gather = expert_bytes * (layout.parallel.gpus_per_shot - 1) / layout.parallel.gpus_per_shot / (gpu.link_gbps * 1e9)
        forward = max(forward, gather)  # prefetching hides the gathers behind compute
    if layout.memory.offload == "group":
        # Streams overlap each block's copy with the previous block's compute.
        forward = max(forward * GROUP_OFFLOAD_SLOWDOWN, expert_bytes / (gpu.host_gbps * 1e9))
    if layout.memory.offload == "sequential":
        forward += expert_bytes / (gpu.host_gbps * 1e9 * 0.5)  # unpinned copies, nothing overlapped

    denoise = forwards_per_gpu * forward
    swaps = 0.0
    if layout.memory.offload == "inactive_expert" and spec.experts > 1:
        swaps = 2 * expert_bytes / (gpu.host_gbps * 1e9)  # bring in the low-noise, then the high-noise expert
    if layout.memory.offload == "model":
        swaps = max(spec.experts, 1) * expert_bytes / (gpu.host_gbps * 1e9)

    decode = arch.vae.flops_per_pixel * pixels / (gpu.bf16_tflops * 1e12 * arch.vae.efficiency)
    if layout.memory.vae_tiling:
        decode *= VAE_TILED_TIME
    if layout.memory.vae_dtype == "bf16":
        decode *= VAE_BF16_TIME
    text_params = spec.text_encoder_gib * GIB / 2
    encode = 2 * text_params * t.text_tokens / rate

    # The prompt is encoded once a shot; every window is denoised and decoded in turn.
    seconds = encode + shape.windows * (denoise + swaps + decode)
    if layout.parallel.experts_resident == "one_per_gpu":
        # GPU 0 runs the high-noise steps of one window while GPU 1 finishes the previous one.
        high = high_noise_steps(spec, shape.steps, shape.shift) / shape.steps
        return seconds, encode + shape.windows * (denoise * max(high, 1 - high) + decode)
    return seconds, seconds


def _context_parallel_bytes(arch: Architecture, layout: Layout, tokens: int) -> float:
    """Bytes each GPU sends per forward: Ulysses' all-to-alls of q, k, v and the output; ring's k, v passes."""
    t = arch.transformer
    vector = tokens * t.width * 2
    sent = 0.0
    if layout.parallel.ulysses > 1:
        u = layout.parallel.ulysses
        sent += 4 * t.layers * vector * (u - 1) / u / u
    if layout.parallel.ring > 1:
        r = layout.parallel.ring
        sent += 2 * t.layers * vector / r * (r - 1)
    return sent


def candidate_layouts(arch: Architecture, spec: ModelSpec, gpu_count: int,
                      stored: tuple[str, float] | None = None) -> list[Layout]:
    """Every layout worth weighing on ``gpu_count`` GPUs (the VAE mode is chosen later, per layout).

    ``stored``: the format and bytes per parameter of quantised weights found on disk, the only
    weights the backend then has (no bf16 to keep resident or to store in fp8)."""
    two_experts = spec.experts > 1
    layouts = []
    dtypes = ("bf16", "fp8") if stored is None else (stored[0],)
    stored_bytes = None if stored is None else stored[1]
    for dtype in dtypes:
        for offload in OFFLOADS:
            if offload == Offload.INACTIVE_EXPERT and not two_experts:
                continue
            experts = _experts_resident(offload) if two_experts else None
            layouts.append(Layout(ParallelPlan(1, experts_resident=experts),
                                  MemoryStrategy(offload, dtype, stored_bytes)))
        for g in (2, 4, 8):
            if g > gpu_count:
                break
            for ulysses, ring, cfg_parallel in _parallel_options(arch, g):
                for fsdp in (False, True):
                    for offload in ((Offload.NONE, Offload.INACTIVE_EXPERT) if two_experts else (Offload.NONE,)):
                        experts = _experts_resident(offload) if two_experts else None
                        layouts.append(Layout(ParallelPlan(g, fsdp, ulysses, ring, cfg_parallel, experts),
                                              MemoryStrategy(offload, dtype, stored_bytes)))
            if g == 2 and two_experts:
                layouts.append(Layout(ParallelPlan(2, experts_resident=ExpertsResident.ONE_PER_GPU),
                                      MemoryStrategy(Offload.NONE, dtype, stored_bytes)))
    return layouts


def _experts_resident(offload: Offload) -> ExpertsResident:
    """Two-expert models: what the GPUs hold while denoising, with the waiting weights offloaded so."""
    held = {Offload.NONE: ExpertsResident.BOTH, Offload.INACTIVE_EXPERT: ExpertsResident.ONE,
            Offload.MODEL: ExpertsResident.ONE}
    return held.get(offload, ExpertsResident.STREAMED)


def _parallel_options(arch: Architecture, g: int) -> list[tuple[int, int, bool]]:
    """(ulysses, ring, cfg_parallel) splitting one shot over g GPUs."""
    heads = arch.transformer.heads
    options = []
    if arch.context_parallel:
        if heads % g == 0:
            options.append((g, 1, False))
        options.append((1, g, False))
    if arch.transformer.cfg != "distilled":
        half = g // 2
        if half == 1 or (arch.context_parallel and heads % half == 0):
            options.append((half, 1, True))
    return options


def with_vae(layout: Layout, tiling: bool, dtype: VaeDtype) -> Layout:
    return replace(layout, memory=replace(layout.memory, vae_tiling=tiling, vae_dtype=dtype))


# Tried in this order for each layout: exact and fast first.
VAE_MODES = ((False, VaeDtype.FP32), (True, VaeDtype.FP32), (False, VaeDtype.BF16), (True, VaeDtype.BF16))
