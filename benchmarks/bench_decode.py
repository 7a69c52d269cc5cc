"""The end of a shot: VAE decode and mp4 write, the part of a warm shot after its last step (issue 10).

A full-size Wan VAE with random fp32 weights (speed does not depend on the values) decodes random
latents of one final-quality shot, and the frames go to ffmpeg as the runner writes shots.
Variants, each from the same latents, timed after one untimed decode:

  decode                    vae.decode alone as diffusers runs it, nothing leaves the GPU
  decode+channels-last      the same with the weights and latents channels-last (the session's
                            decode until 2026-12-02)
  decode+session            the session's decoder on a GPU (wan_vae_channels_last): channels-last
                            throughout, fused row norms, spatial padding inside the convolutions;
                            the floor under the write
  whole                     that decode, then the whole video to 8-bit and into ffmpeg (the runner's
                            way until 2026-12-01, and what the diffusers pipeline + an export does)
  streamed                  the session's write_video over wan.decode_in_runs: each latent
                            frame's pixels go into ffmpeg as soon as they are decoded (the default)
  streamed+lookahead-40     the same, with x264 looking 40 frames ahead (its medium preset's
                            default, the shot write until 2026-12-02; media/rgb_frames.SHOT_ENCODE)
  streamed+cudnn-benchmark  the same, with cuDNN timing its convolution algorithms first

Streamed rows also give "decoded_s": when the last frame was handed to ffmpeg; the rest of the
row's time is ffmpeg finishing the frames x264 still holds (its lookahead and frame threads).
"rel_error" compares a decode with diffusers' own ("decode").

"same as whole" compares the written files byte for byte (x264 is deterministic, so equal files
mean equal frames). Random weights make noise-like pictures, the hardest case for x264: a real
shot encodes faster, so the write figures here are upper bounds.

    python -m benchmarks.bench_decode --models ti2v-5b,wan-a14b-720p --out decode.json
    python -m benchmarks.bench_decode --tiny --out /tmp/d.json           # CPU dry run
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.harness import Results, out_option

MODELS = {  # name: (VAE, width, height, frames, fps) of a final-quality shot
    "ti2v-5b": ("wan22", 1280, 704, 121, 24.0),
    "wan-a14b-720p": ("wan21", 1280, 720, 81, 16.0),
}
TINY = {"ti2v-5b": ("wan22", 64, 64, 9, 24.0), "wan-a14b-720p": ("wan21", 32, 32, 9, 16.0)}
VARIANTS = ("decode", "decode+channels-last", "decode+session", "whole", "streamed", "streamed+lookahead-40",
            "streamed+cudnn-benchmark")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="ti2v-5b", help="comma-separated: " + ", ".join(MODELS))
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated: " + ", ".join(VARIANTS))
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per variant (the median is reported)")
    parser.add_argument("--tiny", action="store_true", help="tiny VAEs on the CPU (a dry run of this script)")
    parser.add_argument("--profile", action="store_true",
                        help="also print the GPU kernels that take a variant's time (torch.profiler, one decode)")
    out_option(parser, required=True)
    args = parser.parse_args(argv)
    args.models, args.variants = args.models.split(","), args.variants.split(",")
    for chosen, known, what in ((args.models, MODELS, "model"), (args.variants, VARIANTS, "variant")):
        unknown = set(chosen) - set(known)
        if unknown:
            parser.error(f"unknown {what}(s) {', '.join(sorted(unknown))}; choose from {', '.join(known)}")
    return args


def build_vae(kind: str, tiny: bool, device):
    from benchmarks.random_models import wan21_vae, wan22_vae
    from tests.assets.tiny_models import tiny_wan22_vae, tiny_wan_vae

    if tiny:
        vae = tiny_wan22_vae() if kind == "wan22" else tiny_wan_vae()
    else:
        vae = wan22_vae() if kind == "wan22" else wan21_vae()
    return vae.eval().to(device)


class _Pipeline:
    """What the session's decode reads of a pipeline: its VAE and video processor."""

    def __init__(self, vae):
        from diffusers.video_processor import VideoProcessor

        self.vae = vae
        self.video_processor = VideoProcessor(vae_scale_factor=vae.config.scale_factor_spatial)


def diffusers_decoder(vae) -> None:
    """Undo wan_vae_channels_last, so that the next variant starts from diffusers' decoder."""
    import torch

    for module in vae.modules():
        module.__dict__.pop("forward", None)
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Conv3d)):
            module.weight.data = module.weight.data.contiguous()


def run_variant(variant: str, pipeline: _Pipeline, latents, fps: float, out: Path) -> dict:
    """Decode (and write) once; returns what the variant measured besides its time."""
    import torch

    from render_pipeline.backends.diffusion import write_video
    from render_pipeline.backends.wan import decode_in_runs, unnormalised
    from render_pipeline.backends.wan_vae_channels_last import channels_last_decoder, channels_last_weights
    from render_pipeline.media import rgb_frames

    vae = pipeline.vae
    if variant in ("decode+channels-last", "decode+session", "whole") and latents.is_cuda:
        (channels_last_decoder if variant == "decode+session" else channels_last_weights)(vae)
        latents = latents.contiguous(memory_format=torch.channels_last_3d)
    torch.backends.cudnn.benchmark = variant == "streamed+cudnn-benchmark"
    shot_encode = rgb_frames.SHOT_ENCODE
    if variant == "streamed+lookahead-40":
        rgb_frames.SHOT_ENCODE = [arg for arg in shot_encode if arg not in ("-x264-params", "rc-lookahead=10")]
    measured = {}
    with torch.inference_mode():
        if variant.startswith("decode"):
            measured["video"] = vae.decode(unnormalised(vae, latents), return_dict=False)[0]
        elif variant == "whole":  # every frame decoded before the first is written
            video = vae.decode(unnormalised(vae, latents), return_dict=False)[0]
            write_video([video], pipeline.video_processor, fps, out, what="writing the bench shot")
        else:  # the session's decode, into the session's writer
            began = time.perf_counter()

            def timed_runs():
                yield from decode_in_runs(vae, latents)
                measured["decoded_s"] = time.perf_counter() - began

            write_video(timed_runs(), pipeline.video_processor, fps, out, what="writing the bench shot")
        if latents.is_cuda:
            torch.cuda.synchronize()
    torch.backends.cudnn.benchmark = False
    rgb_frames.SHOT_ENCODE = shot_encode
    diffusers_decoder(vae)
    return measured


def profile_variant(variant: str, pipeline: _Pipeline, latents, fps: float, out: Path, top: int = 15) -> list[dict]:
    """The GPU kernels of one run of ``variant``, by total time: what its seconds are spent on."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as trace:
        run_variant(variant, pipeline, latents, fps, out)
    kernels = [event for event in trace.key_averages() if event.device_type.name == "CUDA"]
    total = sum(event.self_device_time_total for event in kernels)
    rows = [dict(kernel=event.key[:110], calls=event.count, s=round(event.self_device_time_total / 1e6, 3),
                 share=round(event.self_device_time_total / total, 3))
            for event in sorted(kernels, key=lambda event: -event.self_device_time_total)[:top]]
    print(json.dumps(dict(variant=variant, gpu_s=round(total / 1e6, 3), kernels=rows)), flush=True)
    return rows


def bench_model(name: str, args: argparse.Namespace, work: Path) -> list[dict]:
    import torch

    cuda = torch.cuda.is_available() and not args.tiny
    device = torch.device("cuda" if cuda else "cpu")
    kind, width, height, frames, fps = (TINY if args.tiny else MODELS)[name]
    pipeline = _Pipeline(build_vae(kind, args.tiny, device))
    spatial, temporal = pipeline.vae.config.scale_factor_spatial, pipeline.vae.config.scale_factor_temporal
    shape = (1, pipeline.vae.config.z_dim, (frames - 1) // temporal + 1, height // spatial, width // spatial)
    latents = torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(device)
    reference = run_variant("decode", pipeline, latents, fps, work / "warm-up.mp4")["video"]  # also warms up

    rows, whole_digest = [], None
    for variant in args.variants:
        times, peaks, decoded, error = [], [], [], None
        out = work / f"{name}-{variant}.mp4"
        warmup = None
        if variant == "streamed+cudnn-benchmark":  # cuDNN times its algorithms on the first call of each shape
            began = time.perf_counter()
            run_variant(variant, pipeline, latents, fps, out)
            warmup = round(time.perf_counter() - began, 3)
        for _ in range(args.repeats):
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            began = time.perf_counter()
            measured = run_variant(variant, pipeline, latents, fps, out)
            times.append(time.perf_counter() - began)
            peaks.append(torch.cuda.max_memory_allocated() / 2**30 if cuda else 0.0)
            if "decoded_s" in measured:
                decoded.append(measured["decoded_s"])
            if "video" in measured:
                error = float((measured.pop("video") - reference).norm() / reference.norm())
        row = {"model": name, "variant": variant, "size": f"{width}x{height}", "frames": frames,
               "seconds": round(statistics.median(times), 3), "all_seconds": [round(t, 3) for t in times],
               "peak_GiB": round(max(peaks), 2), **({"warmup_s": warmup} if warmup is not None else {}),
               **({"decoded_s": round(statistics.median(decoded), 3)} if decoded else {}),
               **({"rel_error": error} if error is not None else {})}
        if not variant.startswith("decode") and variant != "streamed+lookahead-40":  # another encode: other bytes
            digest = hashlib.sha256(out.read_bytes()).hexdigest()
            whole_digest = digest if variant == "whole" else whole_digest
            row["same_as_whole"] = None if whole_digest is None else digest == whole_digest
        if args.profile and cuda:
            row["kernels"] = profile_variant(variant, pipeline, latents, fps, out)
        rows.append(row)
        print(json.dumps({key: value for key, value in row.items() if key != "kernels"}), flush=True)
    return rows


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    import torch

    record = Results(__file__, args.out, argv,
                     device=torch.cuda.get_device_name(0) if torch.cuda.is_available() and not args.tiny else "cpu")
    report = {"rows": []}
    with tempfile.TemporaryDirectory(prefix="bench-decode-") as work:
        for name in args.models:
            report["rows"] += bench_model(name, args, Path(work))
            record.save(report["rows"])  # kept if a later model runs out of time
    floor = {row["model"]: row["seconds"] for row in report["rows"] if row["variant"] == "decode"}
    print(f"\n{'model':<15}{'variant':<27}{'s':>8}{'x decode':>10}{'peak GiB':>10}{'decoded s':>10}"
          f"{'rel err':>10}  same as whole")
    for row in report["rows"]:
        ratio = row["seconds"] / floor[row["model"]] if row["model"] in floor else float("nan")
        print(f"{row['model']:<15}{row['variant']:<27}{row['seconds']:>8.2f}{ratio:>10.2f}{row['peak_GiB']:>10.2f}"
              f"{row.get('decoded_s', float('nan')):>10.2f}{row.get('rel_error', float('nan')):>10.1e}"
              f"  {row.get('same_as_whole', '-')}")
    return report


if __name__ == "__main__":
    main()
