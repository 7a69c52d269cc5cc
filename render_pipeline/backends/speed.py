"""Speed levers for the diffusion transformers (issue 10): the exact path, and opt-in fast modes.

"Exact" means the same arithmetic as diffusers as it ships, up to bf16 rounding: no step
skipping, no lower precision. Each lever here was measured on a full-size model
(docs/benchmarks.md, benchmarks/bench_speed.py) and is kept only where it paid.

Attention runs through FlashAttention-4 where it is installed and the GPU is a Hopper or
Blackwell: the same exact attention as SDPA's default (cuDNN), by a faster kernel.

The fast modes CHANGE THE PICTURE and are off unless asked for (`--fast`): fp8 compute in
the linear layers, and the step caches diffusers ships (First Block Cache, TaylorSeer), which
reuse earlier steps' work instead of computing every block of every step.
"""

from __future__ import annotations

import contextlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

# --fast NAME: what each mode does, as `render-pipeline render-all --help` and errors show it.
FAST_MODES = {
    "fp8": "linear layers of the transformer blocks compute in fp8 (torchao); needs an Ada or Hopper GPU",
    "first-block-cache": "skip the other blocks when the first block's output barely changed since the last step",
    "taylorseer": "run the blocks every 5th step only (after 3 full ones) and extrapolate the output in between",
}
STEP_CACHES = ("first-block-cache", "taylorseer")


@dataclass(frozen=True)
class SpeedOptions:
    # Regional compilation: compile one transformer block and reuse it for all of them
    # (diffusers' compile_repeated_blocks). Fuses the fp32 norm/modulation/RoPE
    # element-wise work around the matmuls; compiles in about a minute, once per process.
    # Fusing q/k/v into one matmul was measured too: no gain over compile alone on an H100
    # and 7-10 GB more memory (diffusers keeps the unfused weights), so it is not offered.
    compile_blocks: bool = True
    # Fast mode: the linear layers of the transformer blocks compute in fp8 (torchao, dynamic
    # per-row scales for activations and weights).
    fp8_compute: bool = False
    # Fast mode: one of STEP_CACHES, or None.
    step_cache: str | None = None


def speed_options(fast_modes, compile_blocks: bool) -> SpeedOptions:
    """The options for the fast modes a render asked for (names from FAST_MODES, already checked)."""
    caches = [mode for mode in fast_modes if mode in STEP_CACHES]
    return SpeedOptions(compile_blocks=compile_blocks, fp8_compute="fp8" in fast_modes,
                        step_cache=caches[0] if caches else None)


def check_fast_modes(fast_modes) -> tuple[str, ...]:
    """The modes in a stable order; UserError for an unknown name or two step caches at once."""
    from render_pipeline.errors import UserError

    unknown = [mode for mode in fast_modes if mode not in FAST_MODES]
    if unknown:
        raise UserError(f"--fast {unknown[0]}: unknown fast mode; choose from {', '.join(FAST_MODES)}")
    caches = sorted(set(fast_modes) & set(STEP_CACHES))
    if len(caches) > 1:
        raise UserError(f"--fast: {' and '.join(caches)} are both step caches; choose one")
    return tuple(sorted(set(fast_modes)))


def apply_speedups(transformer, options: SpeedOptions) -> None:
    """Apply the chosen levers to a diffusers transformer, in place."""
    if options.fp8_compute:
        quantize_blocks_to_fp8(transformer)
    if options.step_cache:
        transformer.enable_cache(step_cache_config(options.step_cache))
    if options.compile_blocks:
        # A step cache decides in Python, inside its hooks, whether a block runs this step: that
        # cannot be one graph, so the blocks compile with a break there.
        whole_graph = options.step_cache is None
        if getattr(transformer, "_repeated_blocks", None):
            transformer.compile_repeated_blocks(fullgraph=whole_graph)
        else:  # CogVideoX declares no repeated blocks; its blocks sit in transformer_blocks
            for block in transformer.transformer_blocks:
                block.compile(fullgraph=whole_graph)


FLASH_ATTENTION_4_FIX = "pip install -e '.[flash-attention]'"
# Data-centre Hopper and Blackwell cards, as nvidia-smi and the planner name them: what it runs on.
FLASH_ATTENTION_4_GPUS = ("H100", "H200", "H800", "GH200", "B100", "B200", "B300", "GB200")


# FlashAttention-4's forward tile on a Hopper GPU, by head size, where one measured faster at our
# models' attention shapes than FA4's own choice (benchmarks/bench_attention_tiles.py, docs/benchmarks.md,
# sixth run): head_dim -> (tile_m, tile_n, P kept in registers, the two matmuls overlapped). 128x192
# ran the attention of Wan A14B, TI2V-5B and HunyuanVideo 1.03-1.04x faster than FA4's 128x128 on an
# H200; for CogVideoX's head size 64, FA4's own 192x128 was the fastest.
HOPPER_FLASH_ATTENTION_4_TILES: dict[int, tuple[int, int, bool, bool]] = {128: (128, 192, True, True)}
# The name the sessions register their FA4 under with torch's SDPA (flash_attention_4_tiles.py).
FLASH_ATTENTION_4_TILED = "FA4, tiled for our shapes"


def gpu_runs_flash_attention_4(gpu_name: str) -> bool:
    return any(model in gpu_name.upper().split() for model in FLASH_ATTENTION_4_GPUS)


def flash_attention_4_installed() -> bool:
    """Whether flash-attn-4 is installed, found without importing anything: a `flash_attn` of
    FlashAttention 2 imports torch and its CUDA library, and `plan` must start at once."""
    spec = importlib.util.find_spec("flash_attn")
    return spec is not None and any((Path(folder) / "cute" / "interface.py").is_file()
                                    for folder in spec.submodule_search_locations or ())


def flash_attention_4_problem(device) -> str | None:
    """Why FlashAttention-4 cannot serve attention on ``device`` (a torch.device); None when it can."""
    import torch

    if device.type != "cuda" or not torch.cuda.is_available():
        return "needs a CUDA GPU"
    major, minor = torch.cuda.get_device_capability(device)
    if major not in (9, 10):
        return f"needs a Hopper or Blackwell GPU (compute capability 9.0 or 10.x); this one is {major}.{minor}"
    from torch.nn import attention

    if "FA4" not in getattr(attention, "list_flash_attention_impls", lambda: [])():
        return f"torch {torch.__version__} cannot serve SDPA with it (2.11 or newer can)"
    if not flash_attention_4_installed():
        return f"not installed ({FLASH_ATTENTION_4_FIX})"
    # An install can be broken in ways only a call shows (a CuTe DSL release its kernels do not
    # compile with, a missing CUDA library): one small attention, so that a render falls back to
    # SDPA's default instead of failing every shot.
    try:
        with flash_attention_4():
            probe = torch.randn((1, 1, 256, 128), device=device, dtype=torch.bfloat16)
            torch.nn.functional.scaled_dot_product_attention(probe, probe, probe)
            torch.cuda.synchronize(device)
    except Exception as exc:  # noqa: BLE001 - any failure means: do not use it
        return f"is installed but failed a first call ({type(exc).__name__}: {str(exc)[:200]})"
    return None


@contextlib.contextmanager
def flash_attention_4():
    """Attention through FlashAttention-4 (CuTe DSL kernels for Hopper and Blackwell) inside this block.

    torch 2.11+ can serve SDPA's flash backend with it, and diffusers' default attention calls
    SDPA, so the models are untouched. SDPA picks flash first and falls back to its other
    kernels for a call flash cannot take (an attention mask, fp32). Measured on an H200
    (docs/benchmarks.md): Wan 2.2 A14B's attention 1.12x faster than cuDNN with FA4's own tile,
    and a forward 1.027x faster again with the tile above; 1.21x over diffusers with regional
    compile. Check flash_attention_4_problem first.
    """
    from torch.nn import attention
    from torch.nn.attention import _fa4

    # torch's FA4 registration takes the module that holds the kernels: ours picks the tiles.
    tiled_module = "render_pipeline.backends.flash_attention_4_tiles"
    attention.register_flash_attention_impl(
        FLASH_ATTENTION_4_TILED, register_fn=lambda: _fa4.register_flash_attention_fa4(tiled_module))
    attention.activate_flash_attention_impl(FLASH_ATTENTION_4_TILED)
    # Inductor's graph cache does not key on the attention kernel: a block compiled earlier (in
    # this process or an earlier one) with cuDNN attention would be reused, and FA4 never run.
    import torch._inductor.config as inductor

    caches = inductor.force_disable_caches
    inductor.force_disable_caches = True
    backends = attention.SDPBackend
    try:
        with attention.sdpa_kernel([backends.FLASH_ATTENTION, backends.CUDNN_ATTENTION, backends.EFFICIENT_ATTENTION,
                                    backends.MATH], set_priority=True):
            yield
    finally:
        inductor.force_disable_caches = caches
        attention.restore_flash_attention_impl()


def step_cache_config(name: str):
    from diffusers import FirstBlockCacheConfig, TaylorSeerCacheConfig

    if name == "first-block-cache":
        return FirstBlockCacheConfig(threshold=0.05)  # diffusers' default
    # Lite: the blocks are skipped outright on predicted steps and only the output projection's
    # Taylor factors are kept (a few latent-sized tensors); the full variant would keep every
    # attention output of every block, hundreds of GB for Wan A14B at 720p.
    return TaylorSeerCacheConfig(cache_interval=5, disable_cache_before_step=3, max_order=1, use_lite_mode=True)


def reset_step_cache(transformer) -> None:
    """Forget the previous shot's cached activations and step count before a new shot."""
    if getattr(transformer, "is_cache_enabled", False):
        from diffusers.hooks import HookRegistry

        HookRegistry.check_if_exists_or_initialize(transformer).reset_stateful_hooks(recurse=True)


def quantize_blocks_to_fp8(transformer) -> None:
    """Swap the weights of every linear layer inside the repeated blocks for fp8 ones."""
    import torch
    from torchao.quantization import Float8DynamicActivationFloat8WeightConfig, PerRow, quantize_

    # Wan keeps its blocks in `blocks`, CogVideoX in `transformer_blocks`, HunyuanVideo in
    # `transformer_blocks` and `single_transformer_blocks`.
    block_lists = [getattr(transformer, name) for name in ("blocks", "transformer_blocks", "single_transformer_blocks")
                   if hasattr(transformer, name)]
    for block in (block for blocks in block_lists for block in blocks):
        quantize_(block, Float8DynamicActivationFloat8WeightConfig(granularity=PerRow()),
                  filter_fn=lambda module, _name: isinstance(module, torch.nn.Linear))
