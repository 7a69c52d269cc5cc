"""Rendering a shot window by window (see windows.py for why and how the windows are laid out).

Every finished window is kept in the shot's windows folder beside its output: the request it
belongs to, each window's latents (``N.latents.pt``) and its decoded frames (``N.frames.npy``, 8-bit
RGB). A render that stops (a crash, an out-of-memory retry, Ctrl-C) starts again after the last
finished window; a folder made for another request (other settings, other windows) is thrown away.
Once the shot's video is written the folder is removed.

In a worker group every rank denoises every window, and rank 0 alone decodes and writes: what
the next window needs from the last one (its last frames) and which windows are finished come
from rank 0 (DiffusionSession.first_rank).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from render_pipeline.backends.base import Progress, RenderRequest
from render_pipeline.backends.latents import HeldLatents, eight_bit, request_fingerprint
from render_pipeline.backends.windows import Continuation, Windows, window_seed, windows_folder
from render_pipeline.media.rgb_frames import write_rgb_frames
from render_pipeline.output_folder.files import writing

if TYPE_CHECKING:  # diffusion.py imports this module to render a windowed request: the session is only a type here
    from render_pipeline.backends.diffusion import DiffusionSession


def render_windows(session: DiffusionSession, request: RenderRequest, out_path: Path, progress: Progress) -> None:
    windows = request.windows
    if windows is None:
        raise ValueError(f"shot {request.shot_id}: a request without windows renders in one pass")
    folder = windows_folder(out_path)
    start = session.first_rank(lambda: finished_windows(folder, request, windows))
    _keep_request(folder, request)  # every rank: the others keep their latents in a folder of their own
    tail = session.first_rank(lambda: _frames(folder, start - 1)[-windows.overlap:].copy()) if start else None
    for index in range(start, windows.count):
        window_request = replace(request, seed=window_seed(request.seed, index), frames=windows.frames, windows=None)
        held = None
        if tail is not None and windows.continuation is Continuation.IMAGE:
            image = folder / f"{index}.image.png"
            _save_png(tail[-1], image)
            window_request = replace(window_request, image=image)
        elif tail is not None:
            pipeline = session.pipeline_for(window_request)
            with torch.inference_mode():
                video = torch.from_numpy(np.ascontiguousarray(tail)).to(session.device)
                video = video.permute(3, 0, 1, 2).unsqueeze(0).to(torch.float32) / 127.5 - 1.0  # B, C, F, H, W
                known = session.encoded_frames(pipeline, video)
            held = HeldLatents(known, session.latent_frame_axis, window_request.seed)

        def window_progress(done: int, total: int, index: int = index) -> None:
            progress(index * request.steps + done, windows.count * request.steps)

        latents = session.denoised(window_request, folder / f"{index}.latents.pt", window_progress, held)
        tail = session.first_rank(lambda: _decode_window(session, window_request, latents, folder, index)
                                  [-windows.overlap:].copy())
    session.first_rank(lambda: _write_shot(folder, request, windows, out_path))


def finished_windows(folder: Path, request: RenderRequest, windows: Windows) -> int:
    """How many of the ``windows`` of ``request`` are already rendered in ``folder`` (0 when it holds another request's)."""
    if _kept_request(folder) != request_fingerprint(request):
        shutil.rmtree(folder, ignore_errors=True)
        return 0
    done = 0
    while done < windows.count and (folder / f"{done}.frames.npy").is_file():
        done += 1
    return done


def _kept_request(folder: Path) -> str | None:
    try:
        return (folder / "request.json").read_text(encoding="utf-8")
    except OSError:
        return None


def _keep_request(folder: Path, request: RenderRequest) -> None:
    if _kept_request(folder) == request_fingerprint(request):
        return
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    _write_atomically(folder / "request.json", lambda partial: partial.write_text(request_fingerprint(request),
                                                                                 encoding="utf-8"))


def _decode_window(session: DiffusionSession, request: RenderRequest, latents: torch.Tensor, folder: Path,
                   index: int) -> np.ndarray:
    """Decode one window's latents to 8-bit RGB frames (F, H, W, 3) and keep them in the folder."""
    pipeline = session.pipeline_for(request)
    with torch.inference_mode():
        runs = [eight_bit(chunk, pipeline.video_processor).cpu().numpy()
                for chunk in session.decoded_chunks(pipeline, latents.to(session.device))]
    frames = np.concatenate(runs)

    def save(partial: Path) -> None:
        with open(partial, "wb") as file:  # np.save would add ".npy" to a name that does not end in it
            np.save(file, frames, allow_pickle=False)

    _write_atomically(folder / f"{index}.frames.npy", save)
    return frames


def _frames(folder: Path, index: int) -> np.ndarray:
    return np.load(folder / f"{index}.frames.npy", mmap_mode="r", allow_pickle=False)


def blended_frames(folder: Path, windows: Windows, frames: int) -> Iterator[np.ndarray]:
    """The shot's first ``frames`` frames: each window in turn, where two overlap a cross-blend from
    the earlier to the later (the later one's share rising frame by frame)."""

    def shot() -> Iterator[np.ndarray]:
        share = (np.arange(1, windows.overlap + 1, dtype=np.float32) / (windows.overlap + 1))[:, None, None, None]
        previous_tail = None
        for index in range(windows.count):
            window = _frames(folder, index)
            if previous_tail is not None:
                mixed = previous_tail * (1 - share) + window[:windows.overlap].astype(np.float32) * share
                yield from np.round(mixed).astype(np.uint8)
                window = window[windows.overlap:]
            if index == windows.count - 1:
                yield from window
            else:
                yield from window[:len(window) - windows.overlap]
                previous_tail = window[len(window) - windows.overlap:].astype(np.float32)

    return islice(shot(), frames)


def _write_shot(folder: Path, request: RenderRequest, windows: Windows, out_path: Path) -> None:
    first = _frames(folder, 0)
    height, width = first.shape[1:3]
    write_rgb_frames((frame.tobytes() for frame in blended_frames(folder, windows, request.frames)),
                     width, height, request.fps, out_path, what=f"writing shot {request.shot_id}")
    shutil.rmtree(folder, ignore_errors=True)


def _save_png(frame: np.ndarray, path: Path) -> None:
    from PIL import Image

    _write_atomically(path, lambda partial: Image.fromarray(np.asarray(frame)).save(partial, format="PNG"))


def _write_atomically(path: Path, write) -> None:
    with writing(path) as partial:  # output_folder/files.py: never through a link planted in the folder
        write(partial)
