"""The opt-in fast modes against the exact path, over a whole denoising loop (issue 10).

Fast modes change the picture, so they are measured on what they change: the time of all the
steps of one shot, and how far the final latents move from the exact path's. The model is a
full-size transformer with random bf16 weights (speed does not depend on weight values, but the
step caches' decisions and the size of their error do: random weights say little about what a
trained model would show, so the error column is a measure, not a verdict on quality).

    python -m benchmarks.bench_fast_modes --model ti2v-5b --steps 20 --out fast.json
    python -m benchmarks.bench_fast_modes --tiny --out /tmp/f.json          # CPU dry run

Each variant runs WanPipeline's own loop (CFG as two forwards, UniPC) from the same noise and
prompt embeddings, to latents (no decode). Variants: exact (regional compile, the default path),
first-block-cache, taylorseer, fp8 (all on top of regional compile), and draft (the exact path at
the backend's draft step count).
"""

from __future__ import annotations

import argparse
import gc
import json
import time

from benchmarks.harness import Results, out_option

MODELS = {  # name: (builder, backend spec, width, height, frames)
    "ti2v-5b": ("wan_ti2v_5b", "wan2.2-ti2v-5b", 1280, 704, 121),
    "wan-a14b-480p": ("wan_a14b", "wan2.2-t2v-a14b", 832, 480, 81),
}
VARIANTS = ("exact", "first-block-cache", "taylorseer", "fp8", "draft")


def pipeline_for(kind: str, device: str, tiny: bool, fast: tuple[str, ...]):
    import torch
    from diffusers import UniPCMultistepScheduler, WanPipeline

    from benchmarks.random_models import seeded_transformer
    from render_pipeline.backends.speed import apply_speedups, speed_options
    from tests.assets.tiny_models import tiny_wan22_vae, tiny_wan_vae

    transformer = seeded_transformer(kind, device, tiny)
    apply_speedups(transformer, speed_options(fast, compile_blocks=device == "cuda"))
    # The VAE only tells the pipeline its compression factors here (no decode): a tiny one will do.
    vae = (tiny_wan22_vae() if kind == "wan_ti2v_5b" else tiny_wan_vae()).to(device)
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                        flow_shift=5.0 if kind == "wan_ti2v_5b" else 12.0)
    pipeline = WanPipeline(tokenizer=None, text_encoder=None, vae=vae, scheduler=scheduler, transformer=transformer,
                           transformer_2=None, expand_timesteps=kind == "wan_ti2v_5b")
    pipeline.set_progress_bar_config(disable=True)
    return pipeline, torch


def run_variant(name: str, variant: str, steps: int, tiny: bool, device: str) -> tuple[dict, object]:
    from render_pipeline.backends.specs import SPECS
    from render_pipeline.backends.speed import reset_step_cache

    kind, backend, width, height, frames = MODELS[name]
    if tiny:
        width, height, frames = 64, 64, 9
    fast = (variant,) if variant in ("first-block-cache", "taylorseer", "fp8") else ()
    run_steps = SPECS[backend].draft_steps * steps // SPECS[backend].steps if variant == "draft" else steps
    pipeline, torch = pipeline_for(kind, device, tiny, fast)
    generator = torch.Generator(device).manual_seed(0)
    embeds = torch.randn((1, 512, 4096), generator=generator, device=device, dtype=torch.bfloat16)
    negative = torch.randn((1, 512, 4096), generator=generator, device=device, dtype=torch.bfloat16)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def denoise(step_count: int):
        reset_step_cache(pipeline.transformer)
        with torch.inference_mode():
            return pipeline(prompt_embeds=embeds, negative_prompt_embeds=negative, height=height, width=width,
                            num_frames=frames, num_inference_steps=step_count, guidance_scale=5.0,
                            generator=torch.Generator("cpu").manual_seed(1), output_type="latent",
                            return_dict=False)[0]

    began = time.perf_counter()
    denoise(2)  # compile and warm up (not counted)
    sync()
    warmup = time.perf_counter() - began
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    began = time.perf_counter()
    latents = denoise(run_steps)
    sync()
    seconds = time.perf_counter() - began
    row = dict(model=name, variant=variant, steps=run_steps, seconds=seconds, s_per_step=seconds / run_steps,
               warmup_s=warmup, peak_GiB=torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else 0.0)
    pipeline = None  # the closures above hold the name: free the model for the next variant
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
    torch._dynamo.reset()
    return row, latents.float().cpu()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="ti2v-5b", choices=list(MODELS))
    parser.add_argument("--steps", type=int, default=20, help="steps of the exact path (draft scales them down)")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--tiny", action="store_true", help="two-layer model at a small size, on the CPU")
    out_option(parser, required=True)
    args = parser.parse_args(argv)
    device = "cpu" if args.tiny else "cuda"
    variants = args.variants.split(",")
    unknown = set(variants) - set(VARIANTS)
    if unknown or variants[0] != "exact":
        parser.error(f"--variants: start with exact, then any of {', '.join(VARIANTS[1:])}")

    import torch

    record = Results(__file__, args.out, argv, device=torch.cuda.get_device_name() if device == "cuda" else "cpu",
                     settings={"model": args.model, "steps": args.steps})
    rows, reference = [], None
    for variant in variants:
        try:
            row, latents = run_variant(args.model, variant, args.steps, args.tiny, device)
        except Exception as error:  # one variant failing (say, fp8 on a GPU without it) must not end the run
            rows.append(dict(model=args.model, variant=variant, error=f"{type(error).__name__}: {error}"[:400]))
            print(json.dumps(rows[-1]), flush=True)
            continue
        if reference is None:
            reference = latents
        row["rel_err_vs_exact"] = float((latents - reference).norm() / reference.norm())
        rows.append(row)
        row["speedup"] = next(r["seconds"] for r in rows if r["variant"] == "exact") / row["seconds"]
        print(json.dumps(row), flush=True)
        record.save(rows)
    print(f"\n{'variant':<20}{'steps':>6}{'s total':>9}{'speed-up':>9}{'peak GiB':>9}{'rel err':>9}")
    for row in rows:
        if "error" in row:
            print(f"{row['variant']:<20}  {row['error'][:70]}")
            continue
        print(f"{row['variant']:<20}{row['steps']:>6}{row['seconds']:>9.2f}{row['speedup']:>9.2f}"
              f"{row['peak_GiB']:>9.2f}{row['rel_err_vs_exact']:>9.1e}")


if __name__ == "__main__":
    main()
