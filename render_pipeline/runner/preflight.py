"""Checks made before any rendering starts, so a long run never dies halfway on a full disk."""

from __future__ import annotations

import shutil
from pathlib import Path

from render_pipeline.errors import UserError
from render_pipeline.output_folder.claim import SCRATCH_NAME
from render_pipeline.output_folder.files import create_empty, make_folder, refuse_links
from render_pipeline.planner.delivery import MARGIN_BYTES, delivery_cost, shot_bytes
from render_pipeline.planner.gpus import detect_host_ram_gib


def needed_bytes(shots: list[tuple[int, int, int, str]]) -> int:
    """Disk the shots need: ``shots`` holds (frames, width, height, backend) per shot to render."""
    return shot_bytes(shots) + MARGIN_BYTES


def check_film_fits(storyboard, plan, out_dir: Path, assemble: bool, warn) -> None:
    """Before anything is rendered: disk for the shots not yet on disk and the film, and memory to assemble it.

    Raises UserError when the disk is short; ``warn``s when the assembly's estimated memory
    is more than this machine has (it would fail after every shot was rendered).
    """
    delivery = storyboard.delivery
    missing = [(shot.frames, shot.width, shot.height, shot.backend) for shot in plan.shots
               if not (out_dir / "shots" / f"{shot.shot_id}.mp4").exists()]
    cost = delivery_cost(missing, delivery.width, delivery.height, round(storyboard.duration * delivery.fps),
                         len(plan.shots))
    check_free_space(out_dir, cost.shot_bytes + (cost.film_bytes if assemble else 0) + MARGIN_BYTES)
    host = (detect_host_ram_gib() or float("inf")) * 1024**3
    if assemble and cost.assembly_memory_bytes > host:
        warn(f"assembling {len(plan.shots)} shots at {delivery.width}x{delivery.height} needs about "
             f"{cost.assembly_memory_bytes / 1024**3:.1f} GiB of memory and this machine has {host / 1024**3:.1f} GiB: "
             f"the film may fail to assemble after every shot is rendered; deliver a smaller size, or render with "
             f"--no-assemble and assemble on a bigger machine")


# The folders every run writes in (audio/, cache/ and frames/ are made by the stages that use
# them, so no run leaves an empty folder behind).
RUN_FOLDERS = ("shots", "logs", SCRATCH_NAME)


def check_output_folder(out_dir: Path, needed: int) -> None:
    """Raise UserError unless ``out_dir`` and each of its folders can be written, and ``needed`` bytes are free.

    A folder that is a link, or holds one, is refused (output_folder/files.py); a read-only
    one is named with its cause, so a run never fails shot after shot on it.
    """
    refuse_links(out_dir)
    for folder in [out_dir] + [make_folder(out_dir, name) for name in RUN_FOLDERS]:
        probe = folder / ".write-test"
        create_empty(probe)
        probe.unlink()
    check_free_space(out_dir, needed)


def check_free_space(out_dir: Path, needed: int) -> None:
    """Raise UserError unless ``needed`` bytes are free where ``out_dir`` is."""
    free = shutil.disk_usage(out_dir).free
    if free < needed:
        raise UserError(f"not enough disk space in {out_dir}: {free / 1e9:.1f} GB free, about "
                        f"{needed / 1e9:.1f} GB needed; free some space or choose another folder with --out")


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


def check_loras_fit_fast_modes(fast: tuple[str, ...], plan, storyboard) -> None:
    """--fast fp8 turns the linear layers' weights into fp8 tensors that a LoRA cannot be fused into."""
    generated = {shot.shot_id for shot in plan.shots if shot.backend not in ("animatic", "footage")}
    with_loras = [shot.id for shot in storyboard.shots if shot.loras and shot.id in generated]
    if "fp8" in fast and with_loras:
        raise UserError(f"--fast fp8 stores the linear layers in fp8, into which LoRAs cannot be fused, and shot "
                        f"{with_loras[0]} uses LoRAs; render without --fast fp8")


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
