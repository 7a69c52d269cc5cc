"""Wan 2.2 A14B, one expert, at 1280x720x81 on k GPUs: time and memory of each parallel layout.

Random bf16 weights at the real size (speed and memory do not depend on weight values), built
straight on each GPU in bf16. Every layout gets a freshly built model (diffusers' parallelism
can be enabled once per model), one warm-up, then timed calls; each is checked against the
one-GPU output. Rows:
  forward  one transformer call (one CFG branch), as in /work/shared/gpu-facts.md
  step     one denoising step with CFG: the conditional and unconditional calls
  groups   every GPU runs its own one-GPU forward at once: k shots in parallel (the runner's
           GPU groups of 1), to see what sharing the host costs
Run (2 GPUs):  python -m benchmarks.bench_parallel --gpus 2 --out bench_parallel.json
CPU smoke test of the script itself:  python -m benchmarks.bench_parallel --gpus 2 --tiny --out /tmp/b.json
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time

from benchmarks.harness import Results, out_option

BUDGET_S = 420  # stop starting new layouts after 7 minutes, so the whole run ends within 8


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpus", type=int, default=2)
    out_option(parser, required=True)
    parser.add_argument("--repeats", type=int, default=2, help="timed forwards per layout after one warm-up")
    parser.add_argument("--tiny", action="store_true", help="2-layer model at 64x64x9 on the CPU (gloo)")
    args = parser.parse_args(argv)
    if "LOCAL_RANK" not in os.environ:
        from render_pipeline.parallel.launch import torchrun_command, worker_env

        # Each rank runs this module the way it was started: python -m, from the repository's root.
        arguments = sys.argv[1:] if argv is None else argv
        command = torchrun_command(args.gpus, ["-m", "benchmarks.bench_parallel", *arguments])
        return subprocess.run(command, env=worker_env(list(range(args.gpus)))
                              if not args.tiny else {**os.environ, "CUDA_VISIBLE_DEVICES": ""}).returncode
    return bench(args)


def bench(args) -> int:
    import torch
    import torch.distributed as dist

    from render_pipeline.parallel.apply import apply_layout
    from render_pipeline.parallel.layout import ParallelLayout
    from render_pipeline.parallel.mesh import build_mesh

    started = time.perf_counter()
    cuda = not args.tiny
    if cuda:
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        device, dtype = torch.device("cuda"), torch.bfloat16
    else:
        device, dtype = torch.device("cpu"), torch.float32
        torch.accelerator.device_count = lambda: 1  # diffusers divides by it; one CPU "device"
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    width, height, frames = (64, 64, 9) if args.tiny else (1280, 720, 81)

    def build():
        from diffusers import WanTransformer3DModel

        torch.manual_seed(0)  # every rank and every layout builds the same weights
        config = dict(num_layers=2, ffn_dim=256, num_attention_heads=4, attention_head_dim=16) if args.tiny else {}
        previous = torch.get_default_dtype()
        torch.set_default_dtype(dtype)  # never materialise 57 GB of fp32 first
        with device:
            model = WanTransformer3DModel(**config).eval().requires_grad_(False)
        torch.set_default_dtype(previous)
        return model

    generator = torch.Generator(device).manual_seed(1)
    latents = torch.randn(1, 16, (frames - 1) // 4 + 1, height // 8, width // 8, generator=generator, device=device,
                          dtype=dtype)
    text, negative = (torch.randn(1, 512, 4096, generator=generator, device=device, dtype=dtype) for _ in range(2))
    timestep = torch.tensor([900.0], device=device)

    def forward(model, embeds):
        return model(hidden_states=latents, timestep=timestep, encoder_hidden_states=embeds, return_dict=False)[0]

    def step(model):
        return forward(model, text), forward(model, negative)

    @torch.no_grad()  # inference: no activations kept for a backward pass
    def timed(call, repeats: int) -> tuple[float, object]:
        output = call()  # warm-up: kernels, cuDNN plans, NCCL communicators
        sync(cuda)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        begin = time.perf_counter()
        for _ in range(repeats):
            output = call()
        sync(cuda)
        return (time.perf_counter() - begin) / repeats, output

    # Most telling first: if the time budget runs out, the last rows are the ones skipped.
    half = dict(ulysses=world // 2) if world > 2 else {}
    cfg_name = "cfg2" + (f" x ulysses{world // 2}" if world > 2 else "")
    layouts = [("forward", "1 GPU", None), ("forward", f"ulysses{world}", dict(ulysses=world)),
               ("step", "1 GPU", None), ("step", cfg_name, dict(cfg=2, **half)),
               ("step", f"ulysses{world}", dict(ulysses=world)), ("groups", f"{world} groups x 1 GPU", None),
               ("forward", f"ring{world}", dict(ring=world)),
               ("forward", f"ulysses{world} + fsdp", dict(ulysses=world, fsdp=True)),
               ("step", cfg_name + " + fsdp", dict(cfg=2, fsdp=True, **half))]
    if world % 2:
        layouts = [row for row in layouts if "cfg" not in (row[2] or {})]

    rows, reference = [], {}
    for kind, name, degrees in layouts:
        if time.perf_counter() - started > BUDGET_S:
            rows.append({"kind": kind, "layout": name, "skipped": "time budget"})
            continue
        if name.startswith("ring") and not cuda:
            rows.append({"kind": kind, "layout": name, "skipped": "ring needs a CUDA attention backend"})
            continue
        everyone_runs = degrees is not None or kind == "groups"
        model = build() if (everyone_runs or rank == 0) else None
        if degrees is not None:
            layout = ParallelLayout(world_size=world, **degrees)
            if layout.ring > 1 and cuda:
                model.set_attention_backend("_native_cudnn")  # ring needs the log-sum-exp it returns
            apply_layout(model, layout, build_mesh(layout, device.type))
            if layout.cfg > 1:
                from diffusers.hooks import HookRegistry

                from render_pipeline.parallel.cfg import HOOK_NAME
                HookRegistry.check_if_exists_or_initialize(model).get_hook(HOOK_NAME).negative = negative
        seconds, output = (None, None)
        if model is not None:
            if kind == "step":  # a step is already two forwards: one timed call is enough
                seconds, output = timed(lambda: step(model), 1)
            else:
                seconds, output = timed(lambda: forward(model, text), args.repeats)
        peak = torch.cuda.max_memory_allocated() / 2**30 if cuda and model is not None else 0.0
        first = output[0] if isinstance(output, tuple) else output
        key = "step" if kind == "step" else "forward"
        if degrees is None and kind != "groups" and rank == 0:
            reference[key] = first.float().cpu()
        difference = None
        if first is not None and key in reference:
            difference = (first.float().cpu() - reference[key]).abs().max().item()
        seconds_all = [None] * world
        dist.all_gather_object(seconds_all, (seconds, round(peak, 2), difference))
        if rank == 0:
            times = [s for s, _, _ in seconds_all if s is not None]
            row = {"kind": kind, "layout": name, "seconds": round(max(times), 3),
                   "peak_gib_per_gpu": [p for _, p, _ in seconds_all if p] or None,
                   "max_abs_diff_vs_1gpu": difference}
            rows.append(row)
            print(json.dumps(row), flush=True)
        model = output = first = None  # free them before the next layout (the closures above hold the names)
        gc.collect()  # hooks hold reference cycles: free this layout's 27 GB before the next build
        if cuda:
            torch.cuda.empty_cache()
        dist.barrier()

    if rank == 0:
        single = {row["kind"]: row["seconds"] for row in rows if row.get("layout") == "1 GPU"}
        for row in rows:
            if "seconds" not in row:
                continue
            base = single.get("forward" if row["kind"] == "groups" else row["kind"])
            # groups: k forwards finish in `seconds`, against k x the one-GPU time
            work = world if row["kind"] == "groups" else 1
            row["speedup"] = round(work * base / row["seconds"], 2) if base else None
        result = {"world_size": world, "size": f"{width}x{height}x{frames}", "dtype": str(dtype),
                  "device": torch.cuda.get_device_name() if cuda else "cpu",
                  "torch": torch.__version__, "diffusers": __import__("diffusers").__version__,
                  "wall_s": round(time.perf_counter() - started, 1), "rows": rows}
        Results(__file__, args.out, sys.argv[1:], device=result["device"],
                settings={name: result[name] for name in ("world_size", "size", "dtype")}).save(
            {name: result[name] for name in ("wall_s", "rows")})
        print_table(result)
    dist.destroy_process_group()
    return 0


def sync(cuda: bool) -> None:
    if cuda:
        import torch

        torch.cuda.synchronize()


def print_table(result: dict) -> None:
    print(f"\nWan A14B expert {result['size']} on {result['world_size']} x {result['device']} "
          f"(torch {result['torch']}, diffusers {result['diffusers']}, {result['wall_s']} s)")
    print(f"{'what':8} {'layout':26} {'s':>8} {'speedup':>8} {'peak GiB/GPU':>16} {'diff':>9}")
    for row in result["rows"]:
        if "seconds" not in row:
            print(f"{row['kind']:8} {row['layout']:26} skipped ({row['skipped']})")
            continue
        peaks = "/".join(f"{p:.1f}" for p in row["peak_gib_per_gpu"] or [])
        diff = "" if row["max_abs_diff_vs_1gpu"] is None else f"{row['max_abs_diff_vs_1gpu']:.1e}"
        speedup = row["speedup"] or ""
        print(f"{row['kind']:8} {row['layout']:26} {row['seconds']:8.2f} {speedup:>8} {peaks:>16} {diff:>9}")


if __name__ == "__main__":
    sys.exit(main())
