"""What every benchmark shares: its clocks, the machine it ran on, and its results file in one schema.

A results file (a benchmark's ``--out``) is one JSON object:

    {"schema": 1,
     "benchmark": "bench_speed",
     "command": ["python", "-m", "benchmarks.bench_speed", "--models", "ti2v-5b"],
     "device": "NVIDIA H200",
     "environment": {"date": ..., "commit": ..., "gpus": [...], "packages": {"torch": ...}, ...},
     "settings": {...},
     "results": ...}

``device`` is what the figures were measured on ("cpu", or the GPU's name); ``environment`` the
machine and the software (``Environment`` below); ``settings`` the run's parameters worth keeping
beside its figures; ``results`` the figures themselves, rows or an object, each benchmark's own.
``ResultsFile`` is the schema; every file is checked against it before it is written. The files
in docs/measurements/ written before it have layouts of their own (docs/benchmarks-archive.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA = 1
REPO = Path(__file__).resolve().parents[1]
# The installed packages whose versions a figure can depend on; those not installed are left out.
PACKAGES = ("torch", "diffusers", "transformers", "accelerate", "torchao", "flash-attn-4", "nvidia-cutlass-dsl",
            "gguf", "safetensors", "numpy", "onnxruntime", "rapidocr-onnxruntime", "piper-tts", "imageio-ffmpeg")


class Gpu(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    driver: str
    memory_mib: int | None


class Environment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: str = Field(description="ISO 8601, UTC: when the run first saved its results")
    commit: str | None = Field(description="the checkout's HEAD; None outside a git checkout")
    uncommitted_changes: bool | None = Field(description="tracked files differ from the commit")
    python: str
    platform: str
    cpu: str
    cpu_count: int | None
    load_average: float = Field(description="over the last minute, when the run first saved")
    gpus: list[Gpu] = Field(description="every GPU nvidia-smi lists, whichever the run used")
    cuda: str | None = Field(description="the CUDA torch was built for, where the benchmark imported torch")
    cudnn: int | None
    ffmpeg: str | None = Field(description="the first line of `ffmpeg -version`, for the ffmpeg the project runs")
    packages: dict[str, str]


class ResultsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_version: Literal[1] = Field(alias="schema")
    benchmark: str
    command: list[str] = Field(description="the command that reruns it, from the repository's root")
    device: str
    environment: Environment
    settings: dict[str, Any]
    results: Any


def environment() -> dict:
    """The machine and software this process runs on; torch is asked only when the benchmark imported it."""
    commit, changed = git_state()
    cuda = cudnn = None
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        cuda, cudnn = torch.version.cuda, torch.backends.cudnn.version()
    return Environment(date=datetime.now(UTC).isoformat(timespec="seconds"), commit=commit,
                       uncommitted_changes=changed, python=platform.python_version(), platform=platform.platform(),
                       cpu=cpu_name(), cpu_count=os.cpu_count(), load_average=round(os.getloadavg()[0], 2),
                       gpus=gpus(), cuda=cuda, cudnn=cudnn, ffmpeg=ffmpeg_version(),
                       packages=package_versions()).model_dump()


def git_state() -> tuple[str | None, bool | None]:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True).stdout

    try:
        return git("rev-parse", "HEAD").strip(), bool(git("status", "--porcelain", "--untracked-files=no").strip())
    except (OSError, subprocess.CalledProcessError):  # no git, or a copy of the tree without .git (a lent machine)
        return None, None


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpus() -> list[Gpu]:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    listed = subprocess.run([smi, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader,nounits"],
                            capture_output=True, text=True)
    if listed.returncode != 0:
        return []
    found = []
    for line in listed.stdout.strip().splitlines():
        name, driver, memory = (field.strip() for field in line.split(","))
        found.append(Gpu(name=name, driver=driver, memory_mib=int(memory) if memory.isdigit() else None))
    return found


def ffmpeg_version() -> str | None:
    from render_pipeline.errors import UserError
    from render_pipeline.media.ffmpeg import FfmpegError, ffmpeg_output

    try:
        return ffmpeg_output(["-version"], what="reading ffmpeg's version").decode().splitlines()[0]
    except (UserError, FfmpegError):  # none the project can run: a benchmark that needs one says so itself
        return None


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


class Results:
    """One run's results file: each ``save`` writes it whole, so a run cut short keeps what it measured.

    ``script`` is the benchmark's ``__file__`` (its name), ``argv`` its arguments (None: the command
    line's); ``out`` None keeps the file in memory only (``save`` still returns it).
    """

    def __init__(self, script: str, out: Path | None, argv: Sequence[str] | None = None, device: str = "cpu",
                 settings: dict[str, Any] | None = None):
        self.benchmark = Path(script).stem
        self.out = out
        self.command = ["python", "-m", f"benchmarks.{self.benchmark}", *(sys.argv[1:] if argv is None else argv)]
        self.device = device
        self.settings = dict(settings or {})
        self.environment: dict | None = None

    def save(self, results: Any) -> dict:
        if self.environment is None:
            self.environment = environment()
        document = {"schema": SCHEMA, "benchmark": self.benchmark, "command": self.command, "device": self.device,
                    "environment": self.environment, "settings": self.settings, "results": results}
        ResultsFile.model_validate(document)
        if self.out is not None:
            self.out.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        return document


def out_option(parser: argparse.ArgumentParser, *aliases: str, required: bool = False) -> None:
    """The ``--out FILE`` every benchmark takes (``aliases``: older names for it that its commands used)."""
    parser.add_argument("--out", *aliases, type=Path, required=required, metavar="FILE", dest="out",
                        help="write the results here, as JSON in the benchmarks' schema (benchmarks/harness.py)")


def cpu_seconds() -> float:
    """CPU seconds of this process and of its children waited for (FFmpeg, piper, workers), user and system."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@dataclass
class Timing:
    wall_s: float = 0.0
    cpu_s: float = 0.0


@contextmanager
def timed() -> Iterator[Timing]:
    """Wall and CPU seconds of the block, in the ``Timing`` it yields once the block ends. On a shared
    machine the wall time includes waiting for a core; the CPU time does not."""
    timing = Timing()
    wall, cpu = time.perf_counter(), cpu_seconds()
    try:
        yield timing
    finally:
        timing.wall_s, timing.cpu_s = time.perf_counter() - wall, cpu_seconds() - cpu
