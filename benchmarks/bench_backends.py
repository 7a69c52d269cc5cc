"""Benchmark: a full-size Wan 2.2 A14B, random bf16 weights, one shot through our WanSession.

Speed and memory do not depend on weight values, so no download is needed: the two 14.3 B
experts and the UMT5-XXL encoder are built on the meta device and filled in bf16 (never an
fp32 copy). Each case renders one shot with reduced steps under a memory budget emulated with
torch.cuda.set_per_process_memory_fraction, and reports per-step time, per-stage peak GPU
memory and host memory. Cases (run one or several; each takes about 2 minutes at 720p, 4 steps):

  unconstrained  both experts resident, fp32 VAE
  48gb           48 GB budget: one expert resident (other pinned on the host), tiled VAE
  24gb-fp8       24 GB budget: fp8 weight storage + expert swap, tiled VAE
  24gb-group     24 GB budget: group offloading with streams, tiled VAE

  python -m benchmarks.bench_backends --cases unconstrained,48gb --steps 4 --out bench.json
  python -m benchmarks.bench_backends --tiny --out /tmp/b.json     # CPU dry run with tiny components
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.harness import Results, out_option

CASES = {
    "unconstrained": (None, {"vae_tiling": False}),
    "48gb": (48, {"expert_swap": True, "vae_tiling": True}),
    "24gb-fp8": (24, {"fp8_storage": True, "expert_swap": True, "vae_tiling": True}),
    "24gb-group": (24, {"group_offload": True, "vae_tiling": True}),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="unconstrained,48gb", help="comma-separated: " + ", ".join(CASES))
    parser.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT (default 1280x720)")
    parser.add_argument("--frames", type=int, default=81)
    parser.add_argument("--steps", type=int, default=4, help="4 steps run 3 high-noise + 1 low-noise (shift 12)")
    parser.add_argument("--max-seconds", type=float, default=450, help="start no case after this much time")
    parser.add_argument("--tiny", action="store_true", help="tiny components on the CPU (a dry run of this script)")
    out_option(parser, required=True)
    args = parser.parse_args(argv)
    args.cases = args.cases.split(",")
    unknown = set(args.cases) - CASES.keys()
    if unknown:
        parser.error(f"unknown case(s) {', '.join(sorted(unknown))}; choose from {', '.join(CASES)}")
    try:
        args.width, args.height = (int(part) for part in args.size.split("x"))
    except ValueError:
        parser.error(f"--size must be WIDTHxHEIGHT, got {args.size}")
    if (args.frames - 1) % 4:
        parser.error(f"--frames must be 4n+1, got {args.frames}")
    return args


def host_gib() -> dict:
    status = Path("/proc/self/status").read_text()
    values = {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines() if line.startswith("Vm")}
    return {"rss": round(values.get("VmRSS", 0) / 2**20, 2), "peak_rss": round(values.get("VmHWM", 0) / 2**20, 2)}


def run_case(name: str, args: argparse.Namespace, workdir: Path) -> dict:
    import torch

    from benchmarks.random_models import RandomWeightWanSession
    from render_pipeline.backends.base import RenderRequest
    from render_pipeline.shot_layout import ShotLayout

    budget_gb, strategy = CASES[name]
    cuda = torch.cuda.is_available() and not args.tiny
    device = torch.device("cuda" if cuda else "cpu")
    result = {"case": name, "budget_GB": budget_gb, "strategy": strategy}
    if cuda:
        total = torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, budget_gb * 1e9 / total) if budget_gb else 1.0)
        torch.cuda.reset_peak_memory_stats()

    def peak_gib() -> float:
        if not cuda:
            return 0.0
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**30
        torch.cuda.reset_peak_memory_stats()
        return round(peak, 2)

    request = RenderRequest(shot_id="bench", prompt="a grey destroyer at dawn", negative_prompt="", seed=1,
                            width=args.width, height=args.height, fps=16.0, frames=args.frames, steps=args.steps,
                            quality="final")
    start = time.perf_counter()
    session = RandomWeightWanSession(ShotLayout.from_json(strategy).memory, device, tiny=args.tiny)
    session.encode([request])
    result["encode_s"] = round(time.perf_counter() - start, 1)
    result["encode_peak_GiB"] = peak_gib()

    start = time.perf_counter()
    session._denoising_pipeline()
    result["load_s"] = round(time.perf_counter() - start, 1)
    result["load_peak_GiB"] = peak_gib()
    result["host_after_load_GiB"] = host_gib()

    step_times: list[float] = []
    marks = [time.perf_counter()]

    def progress(done: int, total: int) -> None:
        if cuda:
            torch.cuda.synchronize()
        marks.append(time.perf_counter())
        step_times.append(round(marks[-1] - marks[-2], 2))
        if done == total:
            result["denoise_peak_GiB"] = peak_gib()

    try:
        session.render(request, workdir / f"{name}.mp4", progress)
        result["decode_s"] = round(time.perf_counter() - marks[-1], 1)
        result["decode_peak_GiB"] = peak_gib()
        result["ok"] = True
    except torch.OutOfMemoryError as error:
        result["ok"] = False
        result["error"] = f"out of memory: {str(error).splitlines()[0]}"
    result["step_s"] = step_times
    result["expert_swaps"] = session.expert_swap.swaps if session.expert_swap else None
    result["host_GiB"] = host_gib()
    session.close()  # frees the pipeline and empties the CUDA cache before the next case loads
    return result


def print_table(results: list[dict]) -> None:
    print(f"\n{'case':<14}{'ok':<5}{'s/step':>8}{'encode GiB':>12}{'denoise GiB':>13}{'decode GiB':>12}{'decode s':>10}{'host GiB':>10}")
    for r in results:
        steps = r.get("step_s") or []
        per_step = sum(steps[1:]) / len(steps[1:]) if len(steps) > 1 else (steps[0] if steps else float("nan"))
        print(f"{r['case']:<14}{'yes' if r.get('ok') else 'NO':<5}{per_step:>8.2f}{r.get('encode_peak_GiB', 0):>12.2f}"
              f"{r.get('denoise_peak_GiB', float('nan')):>13.2f}{r.get('decode_peak_GiB', float('nan')):>12.2f}"
              f"{r.get('decode_s', float('nan')):>10.1f}{r.get('host_GiB', {}).get('peak_rss', 0):>10.1f}")


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    import torch

    if args.tiny:
        args.width, args.height, args.frames, args.steps = 32, 32, 9, min(args.steps, 4)
    began = time.perf_counter()
    results: list[dict] = []
    cuda = torch.cuda.is_available() and not args.tiny
    record = Results(__file__, args.out, argv, device=torch.cuda.get_device_name(0) if cuda else "cpu",
                     settings={"size": f"{args.width}x{args.height}x{args.frames}", "steps": args.steps,
                               "tiny": args.tiny})
    with tempfile.TemporaryDirectory() as workdir:
        for name in args.cases:
            if time.perf_counter() - began > args.max_seconds:
                results.append({"case": name, "ok": False, "error": "skipped: --max-seconds reached"})
                continue
            results.append(run_case(name, args, Path(workdir)))
            record.save(results)
    record.save(results)
    print_table(results)
    return results


if __name__ == "__main__":
    main()
