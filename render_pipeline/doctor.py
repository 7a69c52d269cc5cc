"""`doctor`: check up front every external tool or model a render can need, with the fix for each."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from render_pipeline.errors import UserError

# Filters the assembly step relies on; a minimal FFmpeg build can lack any of them.
REQUIRED_FILTERS = ("drawtext", "ass", "xfade", "loudnorm", "sidechaincompress", "zoompan", "amix")


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "ok" | "warn" (optional part missing) | "fail" (a render will fail)
    detail: str
    fix: str = ""


def check_ffmpeg() -> list[Check]:
    from render_pipeline.media.ffmpeg import ffmpeg_exe

    try:
        exe = ffmpeg_exe()
    except UserError as exc:
        return [Check("ffmpeg", "fail", "not found", str(exc))]
    version = subprocess.run([exe, "-hide_banner", "-version"], capture_output=True, text=True).stdout.split("\n")[0]
    filters = subprocess.run([exe, "-hide_banner", "-filters"], capture_output=True, text=True).stdout
    names = set(re.findall(r"^\s*[.A-Z|]{2,3}\s+(\w+)\s", filters, flags=re.MULTILINE))
    missing = [name for name in REQUIRED_FILTERS if name not in names]
    encoders = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    if "libx264" not in encoders:
        missing.append("libx264 encoder")
    checks = [Check("ffmpeg", "ok", f"{exe} ({version.removeprefix('ffmpeg version ').split(' Copyright')[0]})")]
    if missing:
        checks.append(Check("ffmpeg features", "fail", "missing: " + ", ".join(missing),
                            "install a full FFmpeg build (Debian/Ubuntu: apt install ffmpeg) or `pip install imageio-ffmpeg`"))
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


def run_checks(out_dir: Path) -> list[Check]:
    return [*check_ffmpeg(), *check_python_extras(), check_disk(out_dir)]
