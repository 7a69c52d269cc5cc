"""The session shared by the diffusion backends: load once, encode every prompt, then denoise and decode.

Each family file (wan.py, hunyuanvideo.py, cogvideox.py) subclasses DiffusionSession and fills in
what differs: how a prompt is encoded, the pipeline's call arguments, and how latents become
pixels. Everything else follows the same order for every model, chosen for memory:

1. encode(): the text encoder(s) alone are loaded, every prompt is encoded, the embeddings are
   kept on the host (and on disk, for the next run), and the encoders are freed before any
   transformer is loaded. Texts found on disk are not encoded again; when all are, the
   encoders are not loaded at all.
2. render(): the denoising pipeline (without text encoders) is loaded once, in bf16, with the
   plan's memory strategy; the pipeline denoises to latents, which are saved to disk before the
   VAE decodes them, so a decode that fails (out of memory) is retried without denoising again.
3. The frames go straight into ffmpeg (no image files), run by run as the VAE decodes them.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar

import torch

from render_pipeline.backends.base import Progress, RenderRequest
from render_pipeline.backends.checkpoint_loading import load_in_place
from render_pipeline.backends.checkpoint_search import CheckpointSet
from render_pipeline.backends.latents import HeldLatents, eight_bit, request_fingerprint
from render_pipeline.backends.lora_fuse import FusedLoras
from render_pipeline.backends.memory import ExpertSwap, offload_in_groups, store_in_fp8
from render_pipeline.backends.specs import SPECS
from render_pipeline.backends.speed import (
    apply_speedups,
    flash_attention_4,
    flash_attention_4_problem,
    reset_step_cache,
    speed_options,
)
from render_pipeline.backends.text_cache import TextEmbeddingCache, encoder_identity
from render_pipeline.media.rgb_frames import write_rgb_frames
from render_pipeline.output_folder.files import writing
from render_pipeline.shot_layout import MemoryStrategy

T = TypeVar("T")


class ShareFromFirstRank(Protocol):
    """``make()`` computed on rank 0 of a worker group and handed to every rank (parallel/group.py)."""

    def __call__(self, make: Callable[[], T]) -> T: ...


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class DiffusionSession:
    # Set by each family: the sub-folders that hold text encoders/tokenizers, and the transformers.
    text_components: tuple[str, ...] = ()
    transformer_components: tuple[str, ...] = ("transformer",)

    def __init__(self, backend: str, weights: Path | CheckpointSet, strategy: MemoryStrategy,
                 device: torch.device | None = None):
        """``weights``: a diffusers-layout folder, or the files found in place (weights.require_model_folder)."""
        self.name = backend
        self.spec = SPECS[backend]
        self.weights = weights
        # The diffusers layout the pipeline is built from; for weights in place, the project's copy of its configs.
        self.folder = weights if isinstance(weights, Path) else weights.configs
        self.strategy = strategy
        self.device = device or default_device()
        self.pipeline = None  # the denoising pipeline, loaded on the first render
        self.fast_modes: tuple[str, ...] = ()  # the opt-in fast modes that pipeline was loaded with
        # A parallel.group.WorkerGroup turns this off: its layouts were measured eager, and compiling
        # under FSDP2 and context parallelism has not been run on GPUs yet.
        self.compile_allowed = True
        self.flash_attention_4 = False  # decided when the denoising pipeline loads
        self.expert_swap: ExpertSwap | None = None
        # Set by a worker group: runs a function on rank 0 and hands its result to every rank (first_rank).
        self.share_from_first_rank: ShareFromFirstRank | None = None
        self.loras = FusedLoras(backend, self.device)  # the LoRA set fused into the loaded pipeline
        self._embeddings: dict[str, dict[str, torch.Tensor]] = {}  # per text (prompt or negative), on the host

    # -- 1. text ---------------------------------------------------------------------------------

    def encode(self, requests: list[RenderRequest], text_cache: Path | None = None) -> None:
        """Encode every text the requests need; ``text_cache``: a folder that keeps them across runs."""
        cache = self._text_cache(text_cache) if text_cache is not None else None
        todo = sorted({text for request in requests for text in self.texts_of(request)} - self._embeddings.keys())
        if cache is not None:
            for text in todo:
                if (found := cache.get(text)) is not None:
                    self._embeddings[text] = found
            todo = [text for text in todo if text not in self._embeddings]
        if not todo:
            return
        text_pipeline = self._load(self.pipeline_class(), keep=self.text_components)
        text_pipeline.to(self.device)
        with torch.inference_mode():
            for text in todo:
                self._embeddings[text] = {key: value.to("cpu") for key, value in
                                          self.encode_text(text_pipeline, text).items()}
                if cache is not None:
                    cache.put(text, self._embeddings[text])
        del text_pipeline
        _free_memory()

    def _text_cache(self, folder: Path) -> TextEmbeddingCache:
        import diffusers

        return TextEmbeddingCache(folder, {
            "backend": self.name, "encoder": encoder_identity(self.weights, self.text_components),
            "text_tokens": self.spec.text_tokens, "device": self.device.type,
            "torch": torch.__version__, "diffusers": diffusers.__version__})

    def texts_of(self, request: RenderRequest) -> tuple[str, ...]:
        negative = self.negative_of(request)
        return (request.prompt,) if negative is None else (request.prompt, negative)

    def conditioning(self, request: RenderRequest) -> dict[str, torch.Tensor]:
        """The pipeline's embedding arguments for ``request``: the prompt's, then the negative prompt's."""
        tensors = dict(self._embeddings[request.prompt])
        negative = self.negative_of(request)
        if negative is not None:
            tensors |= {f"negative_{name}": value for name, value in self._embeddings[negative].items()}
        return tensors

    # -- 2. denoise --------------------------------------------------------------------------------

    def render(self, request: RenderRequest, out_path: Path, progress: Progress) -> None:
        if request.windows is not None:
            from render_pipeline.backends.windowed import render_windows

            render_windows(self, request, out_path, progress)
            return
        latents_path = out_path.with_name(out_path.name + ".latents.pt")
        latents = self.denoised(request, latents_path, progress)
        self.first_rank(lambda: self._write(request, latents, out_path))  # in a worker group rank 0 writes the shot
        latents_path.unlink(missing_ok=True)

    def _write(self, request: RenderRequest, latents: torch.Tensor, out_path: Path) -> None:
        pipeline = self._denoising_pipeline(fast_modes_of(request))
        with torch.inference_mode():
            write_video(self.decoded_chunks(pipeline, latents.to(self.device)), pipeline.video_processor,
                        request.fps, out_path, what=f"writing shot {request.shot_id}")

    def denoised(self, request: RenderRequest, latents_path: Path, progress: Progress,
                 held: HeldLatents | None = None) -> torch.Tensor:
        """The request's final latents, kept at ``latents_path`` so that a decode that fails (out of
        memory) is retried without denoising again; ``held``: latent frames kept as known throughout."""
        # Rank 0's saved latents serve the whole group: every rank must denoise, or none (collectives).
        latents = self.first_rank(lambda: _saved_latents(latents_path, request))
        if latents is not None:
            return latents
        self.encode([request])
        pipeline = self.pipeline_for(request)
        shift = request.settings.get("shift", self.spec.shift)
        if shift is not None:
            self.set_shift(pipeline, shift)
        self.loras.use(request.loras, {name: getattr(pipeline, name) for name in self.transformer_components
                                       if getattr(pipeline, name, None) is not None})
        for name in self.transformer_components:
            reset_step_cache(getattr(pipeline, name, None))
        call = self.call_arguments(pipeline, request)
        call.update({key: value.to(self.device) for key, value in self.conditioning(request).items()})

        def report(pipe, step: int, timestep, tensors: dict) -> dict:
            progress(step + 1, request.steps)
            if held is None:
                return {}
            return {"latents": held.put_back(pipe.scheduler, step + 1, tensors["latents"])}

        attention = flash_attention_4() if self.flash_attention_4 else contextlib.nullcontext()
        with torch.inference_mode(), attention:
            latents = pipeline(
                height=request.height, width=request.width, num_frames=request.frames,
                num_inference_steps=request.steps, generator=torch.Generator("cpu").manual_seed(request.seed),
                output_type="latent", return_dict=False, callback_on_step_end=report, **call,
            )[0]
        _save_latents(latents_path, request, latents)
        return latents

    def first_rank(self, make: Callable[[], T]) -> T:
        """``make()``, computed once for the whole group of processes rendering this shot.

        A worker group (parallel/group.py) sets ``share_from_first_rank`` so that rank 0 computes
        and the other ranks receive the result; a lone process just computes it.
        """
        if self.share_from_first_rank is None:
            return make()
        return self.share_from_first_rank(make)

    def close(self) -> None:
        self.pipeline = None
        self.expert_swap = None
        self.loras.forget()
        self._embeddings.clear()
        _free_memory()

    # -- what each family provides ------------------------------------------------------------------

    def pipeline_class(self):
        raise NotImplementedError

    def pipeline_for(self, request: RenderRequest):
        """The loaded pipeline that renders ``request`` (a family may switch to its image-to-video twin)."""
        return self._denoising_pipeline(fast_modes_of(request))

    def negative_of(self, request: RenderRequest) -> str | None:
        """The negative prompt the model is guided away from; None for a model without one."""
        return request.negative_prompt

    def encode_text(self, text_pipeline, text: str) -> dict[str, torch.Tensor]:
        """One text's embeddings, named as the pipeline's prompt arguments (prompt_embeds, ...)."""
        raise NotImplementedError

    def call_arguments(self, pipeline, request: RenderRequest) -> dict:
        raise NotImplementedError

    def decoded_chunks(self, pipeline, latents: torch.Tensor) -> Iterator[torch.Tensor]:
        """The shot's video (B, C, F, H, W in [-1, 1]) as consecutive runs of frames, in order.

        A family whose VAE decodes a few frames at a time hands each run out as it is made, so
        that ffmpeg encodes them while the next ones decode (see write_video).
        """
        raise NotImplementedError

    def encoded_frames(self, pipeline, video: torch.Tensor) -> torch.Tensor:
        """The latents of ``video`` (B, C, F, H, W in [-1, 1]), as the pipeline's denoising holds them:
        what decoded_chunks turns back into those frames. Frames lie along ``latent_frame_axis``."""
        raise NotImplementedError

    # The axis of the pipeline's latents that counts latent frames.
    latent_frame_axis = 2

    def configure(self, pipeline) -> None:
        """Family-specific settings on a freshly loaded denoising pipeline (scheduler shift, ...)."""

    def set_shift(self, pipeline, shift: float) -> None:
        """Make the pipeline's scheduler sample with this flow shift (a shot's own; the spec's at load)."""
        raise ValueError(f"{self.name} has no flow shift to set")

    # -- loading -------------------------------------------------------------------------------------

    def _load(self, pipeline_class, keep: tuple[str, ...], **overrides):
        """The pipeline from the local folder with only the ``keep`` components (others set to None).

        Weights found in place are loaded from their files first and handed to from_pretrained,
        which then reads only the scheduler and the pipeline's settings from the configs folder.
        """
        index = json.loads((self.folder / "model_index.json").read_text())
        skipped = {name: None for name, value in index.items()
                   if not name.startswith("_") and isinstance(value, list) and name not in keep}
        vae_dtype = torch.bfloat16 if self.strategy.vae_bf16 else torch.float32
        in_place = {} if isinstance(self.weights, Path) else load_in_place(self.weights, keep, vae_dtype)
        return pipeline_class.from_pretrained(
            self.folder, local_files_only=True, dtype={"default": torch.bfloat16, "vae": vae_dtype},
            **{**skipped, **in_place, **overrides},
        )

    def _denoising_pipeline(self, fast_modes: tuple[str, ...] | None = None):
        """The loaded pipeline; ``fast_modes`` None means whichever it was loaded with."""
        if self.pipeline is not None and fast_modes in (None, self.fast_modes):
            return self.pipeline
        self.pipeline = self.expert_swap = None  # loaded with other fast modes: those change the weights
        self.loras.forget()
        _free_memory()
        text = set(self.text_components)
        keep = tuple(name for name in self.spec.components if name not in text)
        pipeline = self._load(self.pipeline_class(), keep=keep)
        self.configure(pipeline)
        transformers = [getattr(pipeline, name) for name in self.transformer_components
                        if getattr(pipeline, name, None) is not None]
        for transformer in transformers:
            transformer.eval()
            if self.strategy.fp8_storage:
                store_in_fp8(transformer)
        if self.strategy.group_offload:
            for transformer in transformers:
                offload_in_groups(transformer, self.device)
        elif self.strategy.expert_swap and len(transformers) > 1:
            self.expert_swap = ExpertSwap(transformers, self.device)
        else:
            for transformer in transformers:
                transformer.to(self.device)
        # Regional compile: measured 1.12-1.30x on an H100 with the weights resident in bf16, the only
        # path it was measured on; on the CPU compiling costs more than it saves.
        compile_blocks = (self.compile_allowed and self.device.type == "cuda" and not quantised_weights(self.weights)
                          and not (self.strategy.fp8_storage or self.strategy.group_offload))
        for transformer in transformers:
            apply_speedups(transformer, speed_options(fast_modes or (), compile_blocks))
        # FlashAttention-4 where it can run; a worker group keeps SDPA's default, as its layouts were measured.
        problem = flash_attention_4_problem(self.device) if self.compile_allowed else "not used by a worker group"
        self.flash_attention_4 = problem is None
        print(f"{self.name}: regional compile {'on' if compile_blocks else 'off'}; attention "
              f"{'FlashAttention-4' if problem is None else 'SDPA default (FlashAttention-4 ' + problem + ')'}",
              flush=True)
        self.fast_modes = fast_modes or ()
        pipeline.vae.eval().to(self.device)
        if self.strategy.vae_tiling:
            pipeline.vae.enable_tiling()
        pipeline.set_progress_bar_config(disable=True)
        self.pipeline = pipeline
        return pipeline


def write_video(chunks: Iterable[torch.Tensor], video_processor, fps: float, out_path: Path, what: str) -> None:
    """Encode decoded runs of frames to an mp4, each as soon as the VAE has made it.

    ffmpeg is a process of its own: while it encodes one run, this process decodes the next, so
    the write costs little beyond the decode. Each run is turned into 8-bit RGB on the device
    (the same rounding the whole video would get) and only those bytes cross to the host.

    A run's frames go to ffmpeg once the next run's decode is queued. On a GPU, the run's copy
    to the host is queued too (into pinned memory) before this process waits for it, so the GPU
    decodes while the frames are handed to ffmpeg instead of standing idle at every run's copy.
    """

    def on_the_host(pixels: torch.Tensor):
        """The frames' host copy, queued, and the event that marks its arrival (None: already there)."""
        if not pixels.is_cuda:
            return pixels, None
        host = torch.empty(pixels.shape, dtype=torch.uint8, pin_memory=True)
        host.copy_(pixels, non_blocking=True)
        arrival = torch.cuda.Event()
        arrival.record()
        return host, arrival

    def arrived(host: torch.Tensor, arrival) -> Iterator:
        if arrival is not None:
            arrival.synchronize()
        return iter(host.numpy())

    def frames() -> Iterator:
        previous = None  # the last run's host copy and its arrival, handed over after the next run is queued
        for chunk in chunks:
            current = on_the_host(eight_bit(chunk, video_processor))
            if previous is not None:
                yield from arrived(*previous)
            previous = current
        if previous is not None:
            yield from arrived(*previous)

    pending = frames()
    first = next(pending)
    write_rgb_frames((frame.tobytes() for frame in itertools.chain([first], pending)), first.shape[1],
                     first.shape[0], fps, out_path, what=what)


def quantised_weights(weights: Path | CheckpointSet) -> bool:
    """fp8 or GGUF transformer weights from the files: never compiled, as that was measured only on bf16."""
    return isinstance(weights, CheckpointSet) and weights.quantised


def fast_modes_of(request: RenderRequest) -> tuple[str, ...]:
    return tuple(request.settings.get("fast", ()))


def _saved_latents(path: Path, request: RenderRequest) -> torch.Tensor | None:
    """Latents an earlier attempt at this exact request denoised before its decode failed."""
    if not path.is_file():
        return None
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if saved.get("request") != request_fingerprint(request):
        return None
    return saved["latents"]


def _save_latents(path: Path, request: RenderRequest, latents: torch.Tensor) -> None:
    with writing(path) as partial:
        torch.save({"request": request_fingerprint(request), "latents": latents.cpu()}, partial)


def _free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
