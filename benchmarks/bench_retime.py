"""Frame-rate conversion at 1280x720, 16 -> 24 fps: what minterpolate's options buy and cost, and RIFE's cost.

Quality: two clips are made at 48 fps from a detailed still (a Mandelbrot render): a pan of 40 px
a 16 fps frame with an object crossing it the other way, and a fast pan of 120 px a 16 fps frame.
Every third frame is the 16 fps input, every second the true 24 fps picture; the PSNR of the
frames that must be made up (two of every three) is averaged against the true ones.
Speed: output frames per second of wall time, for the filter alone (to the null muxer) and for
the whole conversion as the pipeline runs it (media/retime.py retime(), lossless encode included).
RIFE: random weights (speed does not depend on their values), through the same retime() call, on
the GPU when there is one, else the CPU; and the network alone, per frame, after a warm-up.

Run: python -m benchmarks.bench_retime [--frames 33] [--rife-frames 5] [--out out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from benchmarks.harness import Results, out_option
from render_pipeline.media.ffmpeg import count_frames, ffmpeg_exe
from render_pipeline.media.retime import MINTERPOLATE, MINTERPOLATE_FLUSH, Interpolation, retime, retimed_count

WIDTH, HEIGHT = 1280, 720
VARIANTS = {  # name: the filter after the flush, or None for repeat
    "ours": MINTERPOLATE,
    "search_param=32 (FFmpeg's)": MINTERPOLATE.replace("search_param=64", "search_param=32"),
    "search_param=128": MINTERPOLATE.replace("search_param=64", "search_param=128"),
    "mc_mode=aobmc": MINTERPOLATE.replace("mc_mode=obmc", "mc_mode=aobmc"),
    "vsbmc=1": MINTERPOLATE.replace("vsbmc=0", "vsbmc=1"),
    "me_mode=bidir": MINTERPOLATE.replace("me_mode=bilat", "me_mode=bidir"),
    "FFmpeg's defaults (mi_mode=mci)": "mi_mode=mci",
    "repeat (fps filter)": None,
}
CLIPS = {  # name: crop position of the background at 48 fps frame n, and an overlaid object or not
    "pan 40 px/frame + crossing object": ("x='40*n/3':y='10*n/3'", True),
    "fast pan 120 px/frame": ("x='40*n':y='8*n'", False),
}


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def make_clips(folder: Path, frames: int) -> dict[str, tuple[Path, Path]]:
    still = folder / "still.png"
    width = 120 * (frames - 1) + WIDTH  # room for the fast pan
    ffmpeg("-f", "lavfi", "-i", f"mandelbrot=s={width}x2304:end_pts=1:end_scale=0.3", "-frames:v", "1", str(still))
    made = {}
    for number, (name, (position, with_object)) in enumerate(CLIPS.items()):
        # The still decoded once and held (the loop filter), cropped in RGB so every position is exact.
        graph = (f"[0:v]format=rgb24,loop=loop=-1:size=1,setpts=N/48/TB,split=2[whole][part];"
                 f"[whole]crop={WIDTH}:{HEIGHT}:{position}[bg];")
        graph += ("[part]crop=400:300:x=3000:y=1500,hflip[fg];[bg][fg]overlay=x='800-60*n/3':y='100+20*n/3'"
                  if with_object else "[part]nullsink;[bg]null")
        truth48 = folder / f"{number}-48.mkv"
        ffmpeg("-i", str(still), "-filter_complex", graph + ",format=yuv420p", "-frames:v", str(3 * (frames - 1) + 1),
               "-r", "48", "-c:v", "libx264", "-preset", "veryfast", "-qp", "0", str(truth48))
        source, truth = folder / f"{number}-16.mp4", folder / f"{number}-24.mkv"
        for keep, rate, out in ((3, 16, source), (2, 24, truth)):
            ffmpeg("-i", str(truth48), "-vf", f"select='not(mod(n\\,{keep}))',setpts=N/{rate}/TB", "-r", str(rate),
                   "-c:v", "libx264", "-preset", "veryfast", "-qp", "0", str(out))
        made[name] = (source, truth)
    return made


def filter_graph(variant: str | None) -> str:
    return "fps=24" if variant is None else f"{MINTERPOLATE_FLUSH},minterpolate=fps=24:{variant}"


def made_up_psnr(source: Path, truth: Path, variant: str | None, frames: int, scratch: Path) -> float:
    """PSNR (dB) of the output frames that fall between two input frames, against the true ones
    (from their mean squared error: a made-up frame that is exact counts as error 0, not as infinity)."""
    stats = scratch / "psnr.log"
    ffmpeg("-i", str(source), "-i", str(truth), "-filter_complex",
           # Both counted in frames, so frame n meets frame n (the mkv's millisecond times would not).
           f"[0:v]setpts=PTS-STARTPTS,{filter_graph(variant)},setpts=N/24/TB[made];[1:v]setpts=N/24/TB[truth];"
           f"[made][truth]psnr=stats_file={stats}",
           "-frames:v", str(frames), "-f", "null", "-")
    errors = []
    for line in stats.read_text().splitlines():
        fields = dict(field.split(":") for field in line.split())
        number = int(fields["n"])  # from 1; frame n is made up unless n - 1 is a multiple of 3
        if number <= frames and (number - 1) % 3:
            errors.append(float(fields["mse_avg"]))
    return 10 * math.log10(255**2 / max(sum(errors) / len(errors), 1e-10))


def filter_fps(source: Path, variant: str | None, frames: int) -> float:
    began = time.perf_counter()
    ffmpeg("-i", str(source), "-vf", f"setpts=PTS-STARTPTS,{filter_graph(variant)}", "-frames:v", str(frames),
           "-f", "null", "-")
    return frames / (time.perf_counter() - began)


def conversion_fps(source: Path, method: Interpolation, models: Path, scratch: Path) -> tuple[float, int]:
    frames = retimed_count(count_frames(source), Fraction(16), Fraction(24))
    out = scratch / f"converted-{method}.mp4"
    began = time.perf_counter()
    retime(source, Fraction(16), Fraction(24), frames, method, out, models)
    return frames / (time.perf_counter() - began), frames


def random_rife(models: Path) -> None:
    import torch

    from render_pipeline.media.rife import IFNet

    (models / "rife").mkdir(parents=True)
    torch.save({f"module.{key}": value for key, value in IFNet().eval().state_dict().items()},
               models / "rife" / "flownet.pkl")


def rife_network_seconds(models: Path, repeats: int) -> dict:
    """Seconds per made-up frame of the network alone at 1280x720 (padded to 1280x768), after one warm-up."""
    import torch

    from render_pipeline.media.rife import BATCH, PAD_MULTIPLE, load_ifnet

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    network = load_ifnet(models / "rife" / "flownet.pkl", device)
    batch = BATCH[device.type]
    height = -(-HEIGHT // PAD_MULTIPLE) * PAD_MULTIPLE
    images = torch.rand(2, batch, 3, height, WIDTH, device=device)
    moment = torch.full((batch, 1, height, WIDTH), 0.5, device=device)
    timings = []
    with torch.inference_mode():
        for _ in range(repeats + 1):
            if device.type == "cuda":
                torch.cuda.synchronize()
            began = time.perf_counter()
            network(images[0], images[1], moment)
            if device.type == "cuda":
                torch.cuda.synchronize()
            timings.append(time.perf_counter() - began)
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    result = {"device": name, "batch": batch, "seconds_per_frame": min(timings[1:]) / batch}
    if device.type == "cuda":
        result["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=33, help="16 fps input frames per clip (33: 2 s)")
    parser.add_argument("--rife-frames", type=int, default=5, help="16 fps frames RIFE converts (0: skip RIFE)")
    parser.add_argument("--skip-minterpolate", action="store_true", help="time RIFE only (on a GPU machine)")
    parser.add_argument("--repeats", type=int, default=3, help="timing rounds per minterpolate variant")
    out_option(parser, "--json")
    args = parser.parse_args(argv)
    figures: dict = {"load_average_at_start": os.getloadavg()}
    out_frames = retimed_count(args.frames, Fraction(16), Fraction(24))
    with tempfile.TemporaryDirectory(prefix="bench-retime-") as scratch_name:
        scratch = Path(scratch_name)
        clips = make_clips(scratch, max(args.frames, args.rife_frames))
        if not args.skip_minterpolate:
            figures["variants"] = {}
            for name, variant in VARIANTS.items():
                row = {clip: round(made_up_psnr(source, truth, variant, out_frames, scratch), 2)
                       for clip, (source, truth) in clips.items()}
                figures["variants"][name] = row
                print(f"{name:32} PSNR " + "  ".join(f"{clip}: {value}" for clip, value in row.items()), flush=True)
            # Speed on a shared machine wanders: every variant in turn, the fastest of --repeats rounds.
            speeds: dict[str, list[float]] = {name: [] for name in VARIANTS}
            for _ in range(args.repeats):
                for name, variant in VARIANTS.items():
                    speeds[name].append(filter_fps(clips[next(iter(CLIPS))][0], variant, out_frames))
            for name, values in speeds.items():
                figures["variants"][name]["filter_fps"] = round(max(values), 2)
                print(f"{name:32} {max(values):.2f} frames/s (fastest of {args.repeats})", flush=True)
            speed, frames = conversion_fps(clips[next(iter(CLIPS))][0], Interpolation.MINTERPOLATE, scratch, scratch)
            figures["minterpolate_conversion_fps"] = round(speed, 2)
            print(f"minterpolate, whole conversion: {speed:.2f} frames/s ({frames} frames out)", flush=True)
        if args.rife_frames:
            models = scratch / "models"
            random_rife(models)
            short = scratch / "rife-16.mp4"
            ffmpeg("-i", str(clips[next(iter(CLIPS))][0]), "-frames:v", str(args.rife_frames), "-c", "copy", str(short))
            speed, frames = conversion_fps(short, Interpolation.RIFE, models, scratch)
            made_up = frames - (frames + 2) // 3  # every third output frame is the clip's own
            figures["rife_conversion"] = {"frames_out": frames, "made_up": made_up,
                                          "frames_per_second": round(speed, 3)}
            print(f"RIFE, whole conversion: {speed:.3f} frames/s ({frames} out, {made_up} made up)", flush=True)
            figures["rife_network"] = rife_network_seconds(models, repeats=2)
            print(f"RIFE network alone: {figures['rife_network']}", flush=True)
    figures["load_average_at_end"] = os.getloadavg()
    print(json.dumps(figures, indent=2))
    Results(__file__, args.out, argv, device=figures.get("rife_network", {}).get("device", "cpu"),
            settings={"frames": args.frames, "rife_frames": args.rife_frames, "repeats": args.repeats}).save(figures)


if __name__ == "__main__":
    main()
