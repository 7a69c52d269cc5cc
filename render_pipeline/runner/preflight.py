"""Checks made before any rendering starts, so a long run never dies halfway on a full disk."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from render_pipeline.errors import UserError

# Generous for H.264 at the qualities used (final renders run near 0.02 bytes per pixel).
BYTES_PER_PIXEL = 0.1
# Room for the assembled film, the audio and the logs beside the shots.
MARGIN_BYTES = 500 * 1024**2


def needed_bytes(frame_sizes: list[tuple[int, int, int]]) -> int:
    """Disk the shots need: ``frame_sizes`` holds (frames, width, height) per shot to render."""
    return int(sum(frames * width * height * BYTES_PER_PIXEL for frames, width, height in frame_sizes)) + MARGIN_BYTES


def check_output_folder(out_dir: Path, needed: int) -> None:
    """Raise UserError unless ``out_dir`` can be created, written, and has ``needed`` bytes free."""
    try:
        for folder in (out_dir, out_dir / "shots", out_dir / "logs", out_dir / "frames"):
            folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".write-test-"):
            pass
    except OSError as error:
        raise UserError(f"cannot write to the output folder {out_dir}: {error.strerror or error}; "
                        "choose another with --out or fix its permissions") from None
    free = shutil.disk_usage(out_dir).free
    if free < needed:
        raise UserError(f"not enough disk space in {out_dir}: {free / 1024**3:.1f} GB free, about "
                        f"{needed / 1024**3:.1f} GB needed; free some space or choose another folder with --out")


# Cards of the planner's catalogue without fp8 matrix units (older than Ada and Hopper).
NO_FP8_GPUS = {"RTX 3090", "A10", "A6000", "A100 40GB", "A100 80GB"}


def check_fast_modes_fit(fast: tuple[str, ...], plan) -> None:
    """Raise UserError for an unknown fast mode, or fp8 compute where it cannot run."""
    import importlib.util

    from render_pipeline.backends.speed import check_fast_modes

    check_fast_modes(fast)
    generated = {shot.backend for shot in plan.shots} - {"animatic", "footage"}
    if "fp8" not in fast or not generated:
        return
    if not plan.gpus:
        raise UserError("--fast fp8 needs a GPU with fp8 matrix units (Ada, Hopper or newer); this plan has none")
    slow = sorted({gpu.name for gpu in plan.gpus} & NO_FP8_GPUS)
    if slow:
        raise UserError(f"--fast fp8 needs fp8 matrix units, which the {slow[0]} lacks (Ada, Hopper or newer "
                        f"have them); render without --fast fp8")
    if importlib.util.find_spec("torchao") is None:
        raise UserError("--fast fp8 needs torchao: pip install 'render-pipeline[fast]'")


def check_frame_interpolation(storyboard, plan, models_dir: Path) -> None:
    """Raise UserError, before any shot renders, when `frame_interpolation: rife` cannot run here
    (no weights, no torch) and some shot's rate differs from the delivery's."""
    if storyboard.delivery.frame_interpolation != "rife":
        return  # auto falls back to minterpolate; minterpolate and repeat need nothing
    from render_pipeline.media.ffmpeg import probe
    from render_pipeline.media.retime import Interpolation, clip_rate, require_interpolation

    delivery = clip_rate(storyboard.delivery.fps)
    for planned in plan.shots:
        source = storyboard.shot(planned.shot_id).source
        rate = probe(source).fps if source is not None else planned.fps
        if rate and clip_rate(rate) != delivery:
            require_interpolation(Interpolation.RIFE, models_dir)
            return
