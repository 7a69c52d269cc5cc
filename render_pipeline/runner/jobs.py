"""Jobs: one per shot, built from the plan, each with the cache key that decides whether it must run."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from render_pipeline import __version__
from render_pipeline.backends.base import LoraFile, RenderRequest
from render_pipeline.backends.windows import Continuation, Windows
from render_pipeline.media.retime import choose_interpolation
from render_pipeline.shot_layout import ShotLayout
from render_pipeline.storyboard import Shot, Storyboard
from render_pipeline.storyboard.summary import plain_data

FOOTAGE = "footage"  # the plan's backend for shots with `source`: the footage is conformed, nothing generated
# Shot fields that only later stages read: changing them must not re-render the picture.
NOT_PICTURE = ("index", "narration", "narration_overflow", "overlays", "qa")


@dataclass
class Job:
    shot: Shot
    backend: str  # a backend name, or FOOTAGE
    request: RenderRequest
    layout: ShotLayout  # the plan's layout; an out-of-memory retry moves it down the memory ladder
    key: str
    estimated_seconds: float
    output: Path
    continues: Job | None = None  # the job whose last frame conditions this one
    groups: int = 1  # GPU groups the plan runs this backend's shots on at once
    attempts: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.shot.id

    @property
    def gpus_per_shot(self) -> int:
        """0 for work that needs no GPU (the animatic, footage)."""
        return self.layout.parallel.gpus_per_shot


def request_to_json(request: RenderRequest) -> dict:
    data = asdict(request)
    data["image"] = str(request.image) if request.image is not None else None
    data["loras"] = [{**lora, "path": str(lora["path"])} for lora in data["loras"]]
    return data


def request_from_json(data: dict) -> RenderRequest:
    image = data.pop("image")
    windows = data.pop("windows", None)
    loras = tuple(LoraFile(**{**lora, "path": Path(lora["path"])}) for lora in data.pop("loras", ()))
    return RenderRequest(**data, image=Path(image) if image else None, loras=loras,
                         windows=Windows(**{**windows, "continuation": Continuation(windows["continuation"])})
                         if windows else None)


def lora_files(shot: Shot) -> tuple[LoraFile, ...]:
    """The shot's LoRAs as the worker takes them, each with its file's hash (for the cache key)."""
    return tuple(LoraFile(path=lora.path, sha256=file_sha256(lora.path), weight=lora.weight, expert=lora.expert)
                 for lora in shot.loras)


def file_sha256(path: Path) -> str:
    stat = path.stat()
    return _sha256(path, stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=64)
def _sha256(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(16 * 1024**2):
            digest.update(chunk)
    return digest.hexdigest()


def shot_key(shot: Shot, backend: str, request: RenderRequest, upstream_key: str | None) -> str:
    """A hash of everything that decides the shot's picture.

    The plan's memory layout is left out on purpose: moving to a machine with other GPUs must
    not throw away hours of finished shots. Input files count by size and modification time
    (hashing gigabytes of footage on every run would cost more than it saves).
    """
    # The shot's LoRAs are in the request, with their files' hashes.
    spec = {name: value for name, value in plain_data(shot).items() if name not in NOT_PICTURE + ("loras",)}
    request_fields = plain_data(request)
    request_fields.pop("image")  # the conditioning file is named below by what it holds
    inputs = {}
    for name in ("source", "image"):
        path = getattr(shot, name)
        if path is not None:
            stat = path.stat()
            inputs[name] = [stat.st_size, stat.st_mtime_ns]
    payload = {"shot": spec, "backend": backend, "request": request_fields, "inputs": inputs,
               "continues": upstream_key, "version": __version__}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:32]


FRAMES_FOLDER = "frames"  # the last frames that continued shots start from


def shot_path(out_dir: Path, shot_id: str) -> Path:
    """Where a rendered shot is kept (handles included)."""
    return out_dir / "shots" / f"{shot_id}.mp4"



def last_frame_path(out_dir: Path, shot_id: str) -> Path:
    return out_dir / FRAMES_FOLDER / f"{shot_id}.last.png"


def build_jobs(storyboard: Storyboard, plan, out_dir: Path, models_dir: Path, seed: int | None = None,
               steps: int | None = None, fast: tuple[str, ...] = ()) -> list[Job]:
    """One job per planned shot, in storyboard order; ``seed`` and ``steps`` override the plan's.

    ``fast``: opt-in fast modes for the generated shots; they change the picture, so they are
    part of the request and of the cache key.
    """
    from render_pipeline.prompts.enhance import enhance_shot

    jobs: dict[str, Job] = {}
    delivery = storyboard.delivery
    for planned in plan.shots:
        shot = storyboard.shot(planned.shot_id)
        settings = {**planned.settings, "scene": shot.scene, "camera": shot.camera.model_dump()}
        if planned.backend == FOOTAGE:
            frames = round(shot.render_duration * delivery.fps)
            # Footage at another rate is converted as it is conformed: the method is part of its picture.
            settings["frame_interpolation"] = str(choose_interpolation(delivery.frame_interpolation, models_dir))
            request = RenderRequest(shot_id=shot.id, prompt="", negative_prompt="", seed=0, width=delivery.width,
                                    height=delivery.height, fps=delivery.fps, frames=frames, steps=0,
                                    quality=shot.quality, settings=settings)
            upstream = None
        else:
            prompt = enhance_shot(storyboard, shot, planned.backend, models_dir)
            upstream = jobs[shot.continue_from] if shot.continue_from else None
            image = last_frame_path(out_dir, upstream.id) if upstream is not None else shot.image
            if planned.backend == "animatic":
                # It writes its notes only where no transition covers the shot, and starts a
                # continued shot from the last frame before its own picture.
                settings["transitions"] = [shot.transition_in.duration, shot.transition_out.duration]
                if upstream is not None:
                    settings["continues"] = upstream.id
            elif fast:
                settings["fast"] = list(fast)
            request = RenderRequest(
                shot_id=shot.id, prompt=prompt.enhanced, negative_prompt=prompt.negative,
                seed=shot.seed if seed is None else seed, width=planned.width, height=planned.height,
                fps=planned.fps, frames=planned.frames, steps=planned.steps if steps is None else steps,
                quality=shot.quality, image=image, settings=settings, windows=planned.windows,
                loras=lora_files(shot) if planned.backend != "animatic" else (),
            )
        key = shot_key(shot, planned.backend, request, upstream.key if upstream is not None else None)
        jobs[shot.id] = Job(shot=shot, backend=planned.backend, request=request, layout=planned.layout,
                            key=key, estimated_seconds=float(planned.estimated_seconds or 0.0),
                            output=shot_path(out_dir, shot.id), continues=upstream,
                            groups=_concurrent_groups(plan, planned))
    return list(jobs.values())


def _concurrent_groups(plan, planned) -> int:
    """The chosen layout's shot groups for the backend plan that holds this shot (host RAM may limit them)."""
    for backend_plan in plan.backends:
        if backend_plan.name == planned.backend and planned.shot_id in backend_plan.shot_ids and backend_plan.choice:
            return backend_plan.choice.concurrent_groups
    return 1
