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

  python scripts/bench_backends.py --cases unconstrained,48gb --steps 4 --out bench.json
  python scripts/bench_backends.py --tiny --out /tmp/b.json     # CPU dry run with tiny components
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from tiny_models import tiny_tokenizer, tiny_umt5, tiny_wan_transformer, tiny_wan_vae  # noqa: E402

from render_pipeline.backends.base import RenderRequest  # noqa: E402
from render_pipeline.backends.memory import MemoryStrategy  # noqa: E402
from render_pipeline.backends.wan import WanSession  # noqa: E402

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
    parser.add_argument("--out", type=Path, required=True, help="JSON results")
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


class RandomWeightWanSession(WanSession):
    """WanSession whose components are built in code with random weights instead of read from a folder."""

    def __init__(self, strategy: MemoryStrategy, device: torch.device, tiny: bool):
        super().__init__("wan2.2-t2v-a14b", Path("/nonexistent"), strategy, device)
        self.tiny = tiny

    def _load(self, pipeline_class, keep: tuple[str, ...], **overrides):
        from diffusers import UniPCMultistepScheduler

        builders = {
            "tokenizer": tiny_tokenizer,
            "text_encoder": (lambda: tiny_umt5()) if self.tiny else (lambda: _random_bf16(_full_umt5, self.device)),
            "transformer": tiny_wan_transformer if self.tiny else (lambda: _random_bf16(_full_wan_expert, "cpu")),
            "vae": tiny_wan_vae if self.tiny else _full_wan_vae,
            "scheduler": lambda: UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                                         flow_shift=3.0),
        }
        builders["transformer_2"] = builders["transformer"]
        components = {name: builders[name]() if name in keep else None for name in builders}
        for name in ("transformer", "transformer_2", "text_encoder"):
            if components[name] is not None:
                components[name] = components[name].to(torch.bfloat16).eval()
        return pipeline_class(boundary_ratio=0.875, **components)


def _full_wan_expert():
    from diffusers import WanTransformer3DModel

    # transformer/config.json of Wan-AI/Wan2.2-T2V-A14B-Diffusers
    return WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=40, attention_head_dim=128, in_channels=16,
                                 out_channels=16, text_dim=4096, freq_dim=256, ffn_dim=13824, num_layers=40,
                                 cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024)


def _full_ti2v_transformer():
    from diffusers import WanTransformer3DModel

    # transformer/config.json of Wan-AI/Wan2.2-TI2V-5B-Diffusers
    return WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=24, attention_head_dim=128, in_channels=48,
                                 out_channels=48, text_dim=4096, freq_dim=256, ffn_dim=14336, num_layers=30,
                                 cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024)


def _full_umt5():
    from transformers import UMT5Config, UMT5EncoderModel

    # UMT5-XXL encoder, as in the Wan text_encoder/config.json
    config = UMT5Config(vocab_size=256384, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
                        relative_attention_num_buckets=32, feed_forward_proj="gated-gelu", dense_act_fn="gelu_new",
                        is_gated_act=True, tie_word_embeddings=False)
    return UMT5EncoderModel(config)


def _full_wan_vae():
    from diffusers import AutoencoderKLWan

    return AutoencoderKLWan()  # the defaults are the Wan 2.1 z16 VAE that A14B uses


def _full_wan22_vae():
    from diffusers import AutoencoderKLWan

    # vae/config.json of Wan-AI/Wan2.2-TI2V-5B-Diffusers (the latent statistics only rescale: left neutral)
    return AutoencoderKLWan(base_dim=160, decoder_base_dim=256, z_dim=48, dim_mult=[1, 2, 4, 4], num_res_blocks=2,
                            temperal_downsample=[False, True, True], is_residual=True, in_channels=12, out_channels=12,
                            patch_size=2, scale_factor_spatial=16, scale_factor_temporal=4,
                            latents_mean=[0.0] * 48, latents_std=[1.0] * 48)


def _random_bf16(build, device) -> torch.nn.Module:
    """Build on meta, cast there, then fill each tensor with small random bf16 values (made on the GPU: fast).

    Casting before allocating means no fp32 copy ever exists (57 GB for one A14B expert).
    """
    with torch.device("meta"):
        model = build().to(torch.bfloat16)
    model = model.to_empty(device=device)
    source = "cuda" if torch.cuda.is_available() else "cpu"
    with torch.no_grad():
        for tensor in list(model.parameters()) + list(model.buffers()):
            tensor.copy_(torch.randn(tensor.shape, device=source, dtype=torch.bfloat16) * 0.02)
    return model


def host_gib() -> dict:
    status = Path("/proc/self/status").read_text()
    values = {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines() if line.startswith("Vm")}
    return {"rss": round(values.get("VmRSS", 0) / 2**20, 2), "peak_rss": round(values.get("VmHWM", 0) / 2**20, 2)}


def run_case(name: str, args: argparse.Namespace, workdir: Path) -> dict:
    budget_gb, candidate = CASES[name]
    cuda = torch.cuda.is_available() and not args.tiny
    device = torch.device("cuda" if cuda else "cpu")
    result = {"case": name, "budget_GB": budget_gb, "strategy": candidate}
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
    session = RandomWeightWanSession(MemoryStrategy.from_candidate(candidate), device, tiny=args.tiny)
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
    session.close()
    del session
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
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
    if args.tiny:
        args.width, args.height, args.frames, args.steps = 32, 32, 9, min(args.steps, 4)
    began = time.perf_counter()
    results = []
    environment = {"torch": torch.__version__, "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                   "size": f"{args.width}x{args.height}x{args.frames}", "steps": args.steps, "tiny": args.tiny}
    with tempfile.TemporaryDirectory() as workdir:
        for name in args.cases:
            if time.perf_counter() - began > args.max_seconds:
                results.append({"case": name, "ok": False, "error": "skipped: --max-seconds reached"})
                continue
            results.append(run_case(name, args, Path(workdir)))
            args.out.write_text(json.dumps({"environment": environment, "results": results}, indent=1))
    args.out.write_text(json.dumps({"environment": environment, "results": results}, indent=1))
    print_table(results)
    return results


if __name__ == "__main__":
    main()
