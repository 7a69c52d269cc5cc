"""`doctor`: check up front every external tool or model a render can need, with the fix for each."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from render_pipeline.errors import UserError


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "ok" | "warn" (optional part missing) | "fail" (a render will fail)
    detail: str
    fix: str = ""


def check_ffmpeg() -> list[Check]:
    from render_pipeline.media.ffmpeg import FFMPEG_FIX, ffmpeg_exe, missing_features

    try:
        exe = ffmpeg_exe()
    except UserError as exc:
        return [Check("ffmpeg", "fail", "not found", str(exc))]
    version = subprocess.run([exe, "-hide_banner", "-version"], capture_output=True, text=True).stdout.split("\n")[0]
    checks = [Check("ffmpeg", "ok", f"{exe} ({version.removeprefix('ffmpeg version ').split(' Copyright')[0]})")]
    missing = missing_features(exe)
    if missing:
        checks.append(Check("ffmpeg features", "fail", "missing: " + ", ".join(missing), FFMPEG_FIX))
    return checks


def check_python_extras() -> list[Check]:
    checks = []
    for module, extra, use in (("torch", "diffusion", "text-to-video backends"),
                               ("diffusers", "diffusion", "text-to-video backends")):
        if importlib.util.find_spec(module) is None:
            checks.append(Check(module, "warn", f"not installed: {use} unavailable, the animatic still works",
                                f"pip install -e '.[{extra}]' (install the torch build for your CUDA first)"))
        else:
            checks.append(Check(module, "ok", "installed"))
    return checks


def check_disk(out_dir: Path, need_gib: float = 2.0) -> Check:
    probe_dir = out_dir
    while not probe_dir.exists():
        probe_dir = probe_dir.parent
    free_gib = shutil.disk_usage(probe_dir).free / 2**30
    if free_gib < need_gib:
        return Check("disk", "fail", f"{free_gib:.1f} GiB free under {probe_dir}",
                     f"free at least {need_gib:g} GiB or render with --out on another disk")
    return Check("disk", "ok", f"{free_gib:.0f} GiB free under {probe_dir}")


def check_font() -> Check:
    from render_pipeline.media.fonts import CJK_FONT_FILE, find_font, find_installed

    try:
        font = find_font()
    except UserError as exc:
        return Check("font", "fail", "no wide-coverage font for titles and the animatic", str(exc))
    if find_installed(CJK_FONT_FILE) is None:
        return Check("font", "warn", f"{font.family} ({font.path}): Chinese, Japanese and Korean titles will show boxes",
                     "apt install fonts-noto-cjk")
    return Check("font", "ok", f"{font.family} ({font.path})")


def check_narration(storyboard_dir: Path, models_dir: Path) -> Check:
    from render_pipeline.audio.tts.choose import open_engine

    try:
        _, line = open_engine("auto", None, storyboard_dir, models_dir)
    except UserError as exc:
        return Check("narration", "fail", "no TTS engine", str(exc))
    return Check("narration", "ok", line.removeprefix("narration: engine auto chose "))


def check_xtts(models_dir: Path) -> list[Check]:
    """XTTS v2: its environment (does it start, on which device) and its weights, and their licence."""
    from render_pipeline.audio.tts.xtts import LICENCE_NOTICE, WEIGHTS_FOLDER, weights_problem
    from render_pipeline.audio.tts.xtts_env import check_env, env_problem, env_python

    unused = "voice engine xtts (voice cloning) unavailable"
    problem = env_problem(models_dir)
    if problem:
        return [Check("xtts", "warn", unused, problem)]
    try:
        versions = check_env(env_python(models_dir))
    except UserError as error:
        return [Check("xtts", "warn", unused, str(error))]
    device = "GPU" if versions["cuda"] else "CPU (no usable GPU)"
    checks = [Check("xtts", "ok", f"coqui-tts {versions['coqui-tts']}, torch {versions['torch']}, on the {device}")]
    problem = weights_problem(models_dir)
    if problem:
        checks.append(Check("weights xtts", "warn", unused, problem))
    else:
        checks.append(Check("weights xtts", "ok",
                            f"{models_dir / WEIGHTS_FOLDER}; {LICENCE_NOTICE.removeprefix('xtts: ')}"))
    return checks


def check_gpus() -> Check:
    from render_pipeline.planner.gpus import detect_gpus, no_gpus

    gpus = detect_gpus()
    if not gpus:
        reason, fix = no_gpus()
        return Check("GPU", "warn", f"{reason}: backend auto renders the animatic", fix)
    names = ", ".join(f"{gpu.name} ({gpu.memory_gib:.0f} GiB)" for gpu in gpus)
    return Check("GPU", "ok", f"{len(gpus)}: {names}")


def check_flash_attention() -> list[Check]:
    """FlashAttention-4: optional, and only worth a line where the GPUs can run it."""
    from render_pipeline.backends.speed import (
        FLASH_ATTENTION_4_FIX,
        flash_attention_4_installed,
        gpu_runs_flash_attention_4,
    )
    from render_pipeline.planner.gpus import detect_gpus

    if not any(gpu_runs_flash_attention_4(gpu.name) for gpu in detect_gpus()):
        return []
    if not flash_attention_4_installed():
        return [Check("FlashAttention-4", "warn",
                      "not installed: attention uses SDPA's default kernel (exact; with FlashAttention-4 a "
                      "step is 1.07-1.15x faster on an H200, by model)", FLASH_ATTENTION_4_FIX)]
    return [Check("FlashAttention-4", "ok", "installed: attention uses it on Hopper and Blackwell GPUs")]


def check_weights(models_dir: Path, storyboard_dir: Path | None) -> list[Check]:
    """Per backend: where its weights are and in which format (per component for files in place), or
    exactly what to download or add. ``storyboard_dir``: the storyboard's folder, whose weights.yaml
    may not lead out of it (None: no storyboard)."""
    from render_pipeline.backends.specs import SPECS
    from render_pipeline.backends.weights import describe_weights, locate_weights, storyboard_confinement

    checks = []
    for name in SPECS:
        if name == "animatic":
            continue
        try:
            confine = storyboard_confinement(models_dir, storyboard_dir) if storyboard_dir is not None else None
            weights, problem = locate_weights(name, models_dir, confine)
        except UserError as error:
            weights, problem = None, str(error)
        if problem is None:
            assert weights is not None  # locate_weights gives the weights or the problem
            checks.append(Check(f"weights {name}", "ok", describe_weights(weights)))
        else:
            checks.append(Check(f"weights {name}", "warn", "not usable; this backend is skipped by auto", problem))
    return checks


def check_frame_interpolation(models_dir: Path) -> Check:
    """What `frame_interpolation: auto` uses to bring a shot of another rate to the delivery's."""
    from render_pipeline.media.rife_weights import rife_problem, rife_weights

    problem = rife_problem(models_dir)
    if problem is None:
        return Check("frame interpolation", "ok", f"auto uses RIFE ({rife_weights(models_dir)})")
    return Check("frame interpolation", "warn",
                 "auto uses FFmpeg's minterpolate (motion-compensated, on the CPU); it would use RIFE (a learned "
                 "interpolator, on the GPU where there is one) if its weights were present", problem)


def run_checks(out_dir: Path, storyboard_dir: Path | None, models_dir: Path) -> list[Check]:
    """Every check; ``storyboard_dir`` None: no storyboard given (voice files are looked for here)."""
    return [*check_ffmpeg(), check_font(), check_narration(storyboard_dir or Path.cwd(), models_dir),
            *check_xtts(models_dir), *check_python_extras(), check_gpus(), *check_flash_attention(),
            *check_weights(models_dir, storyboard_dir),
            check_frame_interpolation(models_dir), check_disk(out_dir)]
