"""Per-forward speed of our exact path against diffusers as it ships (issue 10).

Builds full-size transformers with random bf16 weights directly on the GPU (speed does not
depend on weight values), runs one forward (one CFG branch) per variant at the real shot
size, and prints ours beside the diffusers baseline, measured in the same process.

    python -m benchmarks.bench_speed --models wan-a14b-720p,ti2v-5b,cogvideox-5b --out speed.json

Variants: diffusers (eager, default attention), compile (regional torch.compile of the
repeated blocks), compile+nomask (HunyuanVideo only: the text padding cut off and attention
without a mask, as our session runs it), compile+fa4 (attention through FlashAttention-4, as
the session runs it where it is installed: `pip install -e '.[flash-attention]'`; --fa4-tiles
tries other forward tiles, compile+fa4+own-tile leaves FA4 its own),
compile+fa4+autotune (the same with Inductor's max-autotune choosing the matmul kernels; an
experiment), and the opt-in compile+fp8 (linear layers in fp8 through torchao; changes the
output). Any variant + "+lora" (e.g. compile+fa4+lora) is that variant with a random LoRA of
--lora-rank on every linear layer of the blocks fused into its weights by the session's code
(backends/lora_fuse.py) after one warm forward, as a shot's LoRAs are: its time against the
variant's own is the per-step cost of a fused LoRA (its error column compares other weights). --attention times the self-attention calls alone and the blocks' matmuls alone (Wan
models), the floors under any exact-path speed-up. Each reports the median of --repeats timed forwards
after a warm-up, the peak memory, and the relative error against the diffusers output.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import statistics
import time
from pathlib import Path

from benchmarks.harness import Results, out_option

MODELS = {
    # name: (builder, latent shape C,F,H,W, text tokens, batch)
    "wan-a14b-720p": ("wan_a14b", (16, 21, 90, 160), 512, 1),
    "wan-a14b-480p": ("wan_a14b", (16, 21, 60, 104), 512, 1),
    "ti2v-5b": ("wan_ti2v_5b", (48, 31, 44, 80), 512, 1),
    "cogvideox-5b": ("cogvideox_5b", (13, 16, 60, 90), 226, 2),
    "hunyuanvideo": ("hunyuanvideo", (16, 33, 68, 120), 256, 1),
}


# --tiny: two-layer models at a small size, so the script itself can be tested on a CPU.
TINY_LATENTS = {"wan_a14b": (16, 3, 8, 8), "wan_ti2v_5b": (48, 3, 8, 8), "cogvideox_5b": (3, 16, 8, 8),
                "hunyuanvideo": (16, 3, 8, 8)}
# A typical prompt fills 64 of HunyuanVideo's 256 text positions; the rest is padding.
HUNYUAN_PROMPT_TOKENS = 64


def inputs(kind: str, latent, text_tokens: int, batch: int, device: str, drop_padding: bool = False):
    import torch

    generator = torch.Generator(device).manual_seed(0)
    hidden = torch.randn((batch, *latent), generator=generator, device=device, dtype=torch.bfloat16)
    text = torch.randn((batch, text_tokens, 4096), generator=generator, device=device, dtype=torch.bfloat16)
    timestep = torch.full((batch,), 900, device=device, dtype=torch.long)
    if kind == "hunyuanvideo":
        mask = torch.zeros((batch, text_tokens), device=device, dtype=torch.long)
        mask[:, :min(HUNYUAN_PROMPT_TOKENS, text_tokens)] = 1
        if drop_padding:
            from render_pipeline.backends.hunyuanvideo import drop_text_padding

            text, mask = drop_text_padding(text, mask)
        return dict(hidden_states=hidden, encoder_hidden_states=text, timestep=timestep, encoder_attention_mask=mask,
                    pooled_projections=torch.randn((batch, 768), generator=generator, device=device, dtype=torch.bfloat16),
                    guidance=torch.full((batch,), 6000.0, device=device), return_dict=False)
    if kind == "cogvideox_5b":
        # CogVideoX takes latents as B, F, C, H, W and needs its rotary tables.
        from diffusers.models.embeddings import get_3d_rotary_pos_embed

        frames, height, width = latent[0], latent[2], latent[3]
        cos, sin = get_3d_rotary_pos_embed(64, None, grid_size=(height // 2, width // 2), temporal_size=frames,
                                           grid_type="slice", max_size=(height // 2, width // 2), device=device)
        hidden = hidden.view(batch, latent[0], latent[1], latent[2], latent[3])
        return dict(hidden_states=hidden, encoder_hidden_states=text, timestep=timestep,
                    image_rotary_emb=(cos, sin), return_dict=False)
    return dict(hidden_states=hidden, encoder_hidden_states=text, timestep=timestep, return_dict=False)


def time_forward(model, kwargs, repeats: int, device: str) -> tuple[list[float], object, float]:
    import torch

    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    with torch.inference_mode():
        first = time.perf_counter()
        out = model(**kwargs)[0]
        sync()
        warmup = time.perf_counter() - first
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            out = model(**kwargs)[0]
            sync()
            times.append(time.perf_counter() - start)
    return times, out.float(), warmup


def run_model(name: str, repeats: int, variants: list[str], device: str, tiny: bool, lora_rank: int = 64) -> list[dict]:
    import torch

    from benchmarks.random_models import seeded_transformer
    from render_pipeline.backends import speed
    from render_pipeline.backends.speed import SpeedOptions, apply_speedups

    kind, latent, text_tokens, batch = MODELS[name]
    if tiny:
        latent, text_tokens = TINY_LATENTS[kind], 8
    rows = []
    reference = None
    for variant in variants:
        fused_lora = variant.endswith("+lora")
        variant = variant.removesuffix("+lora")
        model = seeded_transformer(kind, device, tiny)
        kwargs = inputs(kind, latent, text_tokens, batch, device, drop_padding=variant.startswith("compile+nomask"))
        if variant.startswith("compile+nomask"):
            from render_pipeline.backends.hunyuanvideo import attend_without_mask

            attend_without_mask(model)
        if variant.endswith("+autotune"):  # Inductor times its own matmul kernels against cuBLAS's
            model.compile_repeated_blocks(fullgraph=True, mode="max-autotune-no-cudagraphs")
        elif variant != "diffusers":
            apply_speedups(model, SpeedOptions(compile_blocks=True, fp8_compute=variant == "compile+fp8"))
        session_tiles = dict(speed.HOPPER_FLASH_ATTENTION_4_TILES)
        if variant.endswith("+own-tile"):  # FA4 with the tile it picks itself
            speed.HOPPER_FLASH_ATTENTION_4_TILES.clear()
        try:
            with flash_attention_4() if "+fa4" in variant else contextlib.nullcontext():
                fuse_seconds = fuse_random_lora(model, kind, lora_rank, device, kwargs) if fused_lora else None
                times, out, warmup = time_forward(model, kwargs, repeats, device)
        except torch.OutOfMemoryError as exc:
            rows.append(dict(model=name, variant=variant, error=f"OOM: {exc}"[:300]))
            continue
        except FlashAttention4Missing as exc:
            rows.append(dict(model=name, variant=variant, error=str(exc)))
            print(json.dumps(rows[-1]), flush=True)
            continue
        finally:
            speed.HOPPER_FLASH_ATTENTION_4_TILES.update(session_tiles)
        if reference is None:
            reference = out
        rel_err = float((out - reference).norm() / reference.norm())
        if fused_lora:
            variant += "+lora"
        rows.append(dict(model=name, variant=variant, times_s=times, s_per_forward=statistics.median(times),
                         **({"lora_rank": lora_rank, "lora_fuse_s": fuse_seconds} if fused_lora else {}),
                         warmup_s=warmup,
                         peak_GiB=torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else 0.0,
                         rel_err_vs_diffusers=rel_err, finite=bool(torch.isfinite(out).all())))
        print(json.dumps(rows[-1]), flush=True)
        del model, kwargs, out
        gc.collect()
        if device == "cuda":
            torch.cuda.empty_cache()
        torch._dynamo.reset()
    base = next((r["s_per_forward"] for r in rows if r["variant"] == "diffusers" and "s_per_forward" in r), None)
    for row in rows:
        if base and "s_per_forward" in row:
            row["speedup"] = base / row["s_per_forward"]
    return rows


# The backend whose LoRA naming and conversion a model kind's LoRA goes through.
LORA_BACKENDS = {"wan_a14b": "wan2.2-t2v-a14b", "wan_ti2v_5b": "wan2.2-ti2v-5b", "hunyuanvideo": "hunyuanvideo",
                 "cogvideox_5b": "cogvideox-5b"}


def fuse_random_lora(model, kind: str, rank: int, device: str, kwargs: dict) -> float:
    """One warm forward, then a random rank-``rank`` LoRA on every linear layer of the blocks fused by the
    session's FusedLoras, as before a shot; returns the seconds the fuse took."""
    import tempfile

    import torch
    from safetensors.torch import save_file

    from render_pipeline.backends.base import LoraFile
    from render_pipeline.backends.lora_fuse import FusedLoras

    with torch.inference_mode():
        model(**kwargs)
    generator = torch.Generator().manual_seed(5)
    tensors = {}
    for module_name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and "blocks." in module_name:
            out_features, in_features = module.weight.shape
            tensors[f"transformer.{module_name}.lora_A.weight"] = (
                torch.randn(rank, in_features, generator=generator) / in_features ** 0.5).bfloat16()
            tensors[f"transformer.{module_name}.lora_B.weight"] = (
                torch.randn(out_features, rank, generator=generator) * 1e-3).bfloat16()
    path = Path(tempfile.mkdtemp(prefix="bench-lora-")) / "random.safetensors"
    save_file(tensors, str(path))
    began = time.perf_counter()
    FusedLoras(LORA_BACKENDS[kind], torch.device(device)).use((LoraFile(path, "", 1.0),), {"transformer": model})
    return time.perf_counter() - began


class FlashAttention4Missing(RuntimeError):
    pass


def flash_attention_4(device: str = "cuda"):
    """The session's FlashAttention-4 block (backends/speed.py); FlashAttention4Missing where it cannot run."""
    import torch

    from render_pipeline.backends import speed

    problem = speed.flash_attention_4_problem(torch.device(device))
    if problem is not None:
        raise FlashAttention4Missing(f"FlashAttention-4 {problem}")
    return speed.flash_attention_4()


def linear_floor(name: str, repeats: int, branches: int = 1) -> dict:
    """The matmuls of one forward's blocks alone (cuBLAS, bf16): q, k, v, out, cross-attention q
    and out, the feed-forward pair; what the rest of a forward costs beside its attention.
    ``branches`` 2: both CFG branches as one batch, the time given per branch."""
    import torch

    kind, latent, _, batch = MODELS[name]
    dim, ffn, layers = {"wan_a14b": (5120, 13824, 40), "wan_ti2v_5b": (3072, 14336, 30)}[kind]
    tokens = branches * batch * latent[1] * (latent[2] // 2) * (latent[3] // 2)
    x = torch.randn((tokens, dim), device="cuda", dtype=torch.bfloat16)
    square, up, down = (torch.randn(shape, device="cuda", dtype=torch.bfloat16) for shape in
                        ((dim, dim), (dim, ffn), (ffn, dim)))
    hidden = x @ up

    def one_block():
        for _ in range(6):
            x @ square
        x @ up
        hidden @ down

    one_block()
    times = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(layers):
            one_block()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - start) / branches)
    seconds = statistics.median(times)
    flops = 2 * tokens // branches * dim * (6 * dim + 2 * ffn) * layers
    label = "linear layers only" + (", CFG as batch 2" if branches == 2 else "")
    return dict(model=name, variant=label, s_per_forward=seconds, tflops=flops / seconds / 1e12)


def attention_floor(name: str, repeats: int) -> list[dict]:
    """The self-attention calls of one forward alone, at the model's real shape: SDPA's default
    backend (cuDNN on Hopper), then FlashAttention-4 where it is installed."""
    import torch
    import torch.nn.functional as F

    kind, latent, _, batch = MODELS[name]
    heads, head_dim, layers = {"wan_a14b": (40, 128, 40), "wan_ti2v_5b": (24, 128, 30)}[kind]
    tokens = latent[1] * (latent[2] // 2) * (latent[3] // 2)
    q, k, v = (torch.randn((batch, heads, tokens, head_dim), device="cuda", dtype=torch.bfloat16) for _ in range(3))
    flops = 4 * batch * heads * tokens * tokens * head_dim * layers
    rows, reference = [linear_floor(name, repeats), linear_floor(name, repeats, branches=2)], None
    for label, kernel in (("self-attention only", contextlib.nullcontext), ("self-attention only, FA4", flash_attention_4)):
        try:
            with kernel():
                out = F.scaled_dot_product_attention(q, k, v)
                times = []
                for _ in range(repeats):
                    torch.cuda.synchronize()
                    start = time.perf_counter()
                    for _ in range(layers):
                        F.scaled_dot_product_attention(q, k, v)
                    torch.cuda.synchronize()
                    times.append(time.perf_counter() - start)
        except FlashAttention4Missing as exc:
            rows.append(dict(model=name, variant=label, error=str(exc)))
            continue
        reference = out.float() if reference is None else reference
        seconds = statistics.median(times)
        rows.append(dict(model=name, variant=label, s_per_forward=seconds, tflops=flops / seconds / 1e12,
                         rel_err_vs_default=float((out.float() - reference).norm() / reference.norm())))
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="wan-a14b-720p,ti2v-5b,cogvideox-5b")
    parser.add_argument("--variants", default="diffusers,compile")
    parser.add_argument("--repeats", type=int, default=2)
    out_option(parser)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="two-layer models at a small size (CPU check)")
    parser.add_argument("--attention", action="store_true", help="also time the self-attention calls alone")
    parser.add_argument("--lora-rank", type=int, default=64, help="rank of the random LoRA of the +lora variants")
    parser.add_argument("--fa4-tiles", type=json.loads, default=None, metavar="JSON",
                        help='FA4 forward tiles on Hopper for the +fa4 variants instead of the session\'s, '
                             'e.g. \'{"128": [128, 176, true, true]}\' (benchmarks/bench_attention_tiles.py)')
    args = parser.parse_args(argv)
    if args.fa4_tiles is not None:
        from render_pipeline.backends import speed

        speed.HOPPER_FLASH_ATTENTION_4_TILES.clear()
        speed.HOPPER_FLASH_ATTENTION_4_TILES.update({int(dim): tuple(tile) for dim, tile in args.fa4_tiles.items()})

    import torch

    gpu = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    env = dict(gpu=gpu, torch=torch.__version__, cudnn=torch.backends.cudnn.version(), fa4_tiles=args.fa4_tiles)
    import diffusers

    env["diffusers"] = diffusers.__version__
    print(json.dumps(env), flush=True)
    record = Results(__file__, args.out, argv, device=gpu, settings={"fa4_tiles": args.fa4_tiles})
    rows = []
    for name in args.models.split(","):
        if args.attention and name.startswith(("wan", "ti2v")):
            for row in attention_floor(name, args.repeats):
                rows.append(row)
                print(json.dumps(row), flush=True)
        rows += run_model(name, args.repeats, [v for v in args.variants.split(",") if v], args.device, args.tiny,
                          args.lora_rank)
        record.save(rows)
    print(f"\n{'model':<16}{'variant':<20}{'s/forward':>10}{'speedup':>9}{'peak GiB':>10}{'rel err':>10}")
    for row in rows:
        if "tflops" in row:
            print(f"{row['model']:<16}{row['variant']:<20}{row['s_per_forward']:>10.3f}  ({row['tflops']:.0f} TFLOP/s)")
            continue
        if "error" in row:
            print(f"{row['model']:<16}{row['variant']:<20}  {row['error'][:60]}")
            continue
        print(f"{row['model']:<16}{row['variant']:<20}{row['s_per_forward']:>10.3f}{row.get('speedup', 0):>9.2f}"
              f"{row['peak_GiB']:>10.2f}{row['rel_err_vs_diffusers']:>10.1e}")
    return rows


if __name__ == "__main__":
    main()
