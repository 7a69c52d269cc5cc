"""The backends' registry: one entry per model, saying everything the rest of the program needs of it.

An entry gives where the model's weights come from and the settings it was trained for, the
session class that renders with it, its prompt template, its network's figures (which the
planner weighs) and its place in auto's preference. The storyboard's backend names, auto's order
and open_session all come from here. Torch-free, so the planner and `validate` read it instantly.

Sources of the figures (checked 2026-11): the official Wan 2.2 / HunyuanVideo / CogVideoX
generation configs and model cards for steps, guidance, shift, fps, frame counts and sizes;
the Hugging Face file listings of the diffusers-format repositories for the download sizes
(summed shard sizes, rounded up); /work/shared/gpu-facts.md (measured) for the bf16 weight
sizes. diffusers' own pipeline defaults (e.g. WanPipeline's 50 steps, guidance 5.0) are not
the official ones, so every backend passes these explicitly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING

from render_pipeline.backends.architecture import Architecture, Transformer, Vae

if TYPE_CHECKING:
    from render_pipeline.backends.base import BackendSession

# The official Wan negative prompt (Wan 2.2 shared config, `sample_neg_prompt`): the models were
# tuned with it, in Chinese. It lists over-saturation, static frames, blur, subtitles, bad hands,
# deformed limbs, cluttered backgrounds and similar defects.
WAN_NEGATIVE_PROMPT = (
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，"
    "JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，"
    "形态畸形的肢体，手指融合，静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走"
)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str  # "animatic" | "wan" | "hunyuanvideo" | "cogvideox": which backend file runs it
    # The class that renders with it, as "module:Class": imported only when a session opens, since
    # the diffusion sessions bring torch and whatever reads this registry must not.
    session: str
    template: str  # its prompt template, presets/<template>.yaml; an image-to-video variant shares its twin's
    architecture: Architecture | None  # its network, which the planner weighs; None: no model (the animatic)
    # Where "auto" tries it, 1 first (AUTO_ORDER); None: never (the animatic, which auto falls back to,
    # and the image-to-video variants, which spec_for puts in their twin's place).
    auto_rank: int | None
    pipeline: str  # the diffusers pipeline class named in the folder's model_index.json
    repo: str  # the diffusers-format Hugging Face repository ("" for the animatic)
    download_gb: float
    components: tuple[str, ...]  # sub-folders the diffusers layout must have
    steps: int
    guidance: float  # for Wan A14B: the high-noise expert's
    guidance_2: float | None  # Wan A14B low-noise expert's guidance
    boundary_ratio: float | None  # Wan A14B: the high-noise expert runs while t >= ratio * 1000
    shift: float | None  # flow-matching sigma shift
    fps: float | None  # native frame rate; None: the delivery fps (animatic)
    frame_step: int  # frame counts are frame_step * n + 1 (1: any count)
    default_frames: int
    max_frames: int  # longest clip the model was trained on; longer shots lose coherence
    sizes: tuple[tuple[int, int], ...]  # native (width, height), landscape; portrait is the swap
    draft_steps: int
    draft_size: tuple[int, int]
    negative_prompt: str
    image_to_video: str | None  # the spec that renders shots with `image`/`continue_from`
    experts: int  # transformers resident in turn (2 for Wan A14B)
    transformer_gib: float  # bf16 weights of one transformer (expert)
    text_encoder_gib: float  # bf16 text encoder(s), freed before denoising
    # The official release, when it is not the diffusers layout: its files load in place
    # (backends/checkpoint_search.py) instead of asking for the diffusers repository.
    original_repo: str = ""

    @property
    def needs_gpu(self) -> bool:
        return self.family != "animatic"

    @property
    def text_tokens(self) -> int:
        """Tokens the text encoder reads (the network's, architecture.py); 0 without a model."""
        return self.architecture.transformer.text_tokens if self.architecture is not None else 0

    def session_class(self) -> Callable[..., BackendSession]:
        """The class that renders with this model, imported now (``session`` says why not before)."""
        module, _, name = self.session.partition(":")
        return getattr(import_module(module), name)

    @property
    def native_fps(self) -> float:
        """The frame rate the model renders at; ValueError for the animatic, which has none of its own."""
        if self.fps is None:
            raise ValueError(f"{self.name} renders at the delivery fps")
        return self.fps

    def frames_for(self, seconds: float, fps: float | None = None) -> int:
        """The fewest frames obeying the frame rule that cover ``seconds`` at the native fps."""
        rate = fps if fps is not None else self.fps
        if rate is None:
            raise ValueError(f"{self.name} renders at the delivery fps: pass fps")
        needed = max(1, math.ceil(round(seconds * rate, 6)))
        if self.frame_step == 1:
            return needed
        return self.frame_step * math.ceil((needed - 1) / self.frame_step) + 1

    def settings(self, quality: str) -> dict:
        """Steps and size for ``quality`` ("draft" or "final"), plus the guidance knobs."""
        draft = quality == "draft"
        width, height = self.draft_size if draft else self.sizes[0]
        return {
            "steps": self.draft_steps if draft else self.steps,
            "width": width,
            "height": height,
            "guidance": self.guidance,
            "guidance_2": self.guidance_2,
            "shift": self.shift,
            "boundary_ratio": self.boundary_ratio,
            # Part of every shot's cache key: shots encoded at another length are rendered again.
            **({"text_tokens": self.text_tokens} if self.text_tokens else {}),
        }


# The networks, as figures (architecture.py says what each one means and how it was found).

# The efficiency of the session's channels-last decode (backends/wan_vae_channels_last.py), measured
# on an H200: 5.22 s for 1280x720x81 and 7.75 s for 1280x704x121, against diffusers' own decode's
# 6.54 s (0.099) and 9.10 s (0.219) in the same runs.
# Their peak does not grow with the clip: a whole TI2V-5B shot of 241 frames in one pass peaked at
# the same 28.6 GiB as one of 121 (docs/benchmarks.md, long shots in windows).
WAN21_VAE = Vae("Wan 2.1 VAE (z16)", 8, 4, 0.47, 290.5, 81, 8.53e6, 0.124)
WAN22_VAE = Vae("Wan 2.2 VAE (z48)", 16, 4, 2.62, 207.2, 121, 1.845e7, 0.257)
# Not measured here: taken as the Wan 2.1 VAE's figures per pixel under diffusers' own decode, which
# these VAEs run (same 8x8x4 causal 3D design).
HUNYUAN_VAE = Vae("HunyuanVideo VAE", 8, 4, 0.92, 290.5, None, 8.53e6, 0.099)
COGVIDEOX_VAE = Vae("CogVideoX VAE", 8, 4, 0.80, 290.5, None, 8.53e6, 0.099)

WAN_A14B_EXPERT = Transformer(
    layers=40, width=5120, heads=40, ffn=13824, in_channels=16, patch=(1, 2, 2), text_width=4096,
    text_tokens=512, joint_attention=False, dual_stream_layers=0, time_width=5120,
    fp32_params=29_184_000, live_widths=11.2, efficiency=0.655, compiled_speedup=1.12,
    flash_attention_4_speedup=1.11, cfg="separate",
)
WAN_5B = Transformer(
    layers=30, width=3072, heads=24, ffn=14336, in_channels=48, patch=(1, 2, 2), text_width=4096,
    text_tokens=512, joint_attention=False, dual_stream_layers=0, time_width=3072,
    # TI2V-5B embeds the timestep per token (fp32 modulation for every token): hence the high figure.
    fp32_params=10_973_184, live_widths=32.8, efficiency=0.54, compiled_speedup=1.22,
    flash_attention_4_speedup=1.07, cfg="separate",
)
HUNYUANVIDEO = Transformer(
    layers=60, width=3072, heads=24, ffn=12288, in_channels=16, patch=(1, 2, 2), text_width=4096,
    text_tokens=256, joint_attention=True, dual_stream_layers=20, time_width=3072,
    fp32_params=0, live_widths=18.25, efficiency=0.492, compiled_speedup=1.46,
    flash_attention_4_speedup=1.11, cfg="distilled",
)
COGVIDEOX_5B = Transformer(
    layers=42, width=3072, heads=48, ffn=12288, in_channels=16, patch=(1, 2, 2), text_width=4096,
    text_tokens=226, joint_attention=True, dual_stream_layers=0, time_width=512,
    fp32_params=0, live_widths=13.3, efficiency=0.477, compiled_speedup=1.30,
    flash_attention_4_speedup=1.149, cfg="batched",
)

WAN_A14B = Architecture(WAN_A14B_EXPERT, WAN21_VAE, context_parallel=True)
COGVIDEOX = Architecture(COGVIDEOX_5B, COGVIDEOX_VAE, context_parallel=False)

_WAN_A14B_COMPONENTS = ("transformer", "transformer_2", "text_encoder", "tokenizer", "vae", "scheduler")

SPECS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="animatic", family="animatic", template="animatic", auto_rank=None,
            session="render_pipeline.backends.animatic:AnimaticSession", architecture=None,
            pipeline="", repo="", download_gb=0.0, components=(),
            steps=0, guidance=0.0, guidance_2=None, boundary_ratio=None, shift=None, fps=None,
            frame_step=1, default_frames=0, max_frames=10**9, sizes=(), draft_steps=0, draft_size=(0, 0),
            negative_prompt="", image_to_video=None, experts=0, transformer_gib=0.0, text_encoder_gib=0.0,
        ),
        # Wan 2.2 T2V-A14B: two 14.29 B experts (26.67 GiB bf16 each, measured); the diffusers repo
        # stores them in fp32 (2 x 57.2 GB) beside the 11.4 GB UMT5-XXL encoder and the 0.5 GB VAE.
        ModelSpec(
            name="wan2.2-t2v-a14b", family="wan", template="wan2.2-t2v-a14b", auto_rank=1,
            session="render_pipeline.backends.wan:WanSession", architecture=WAN_A14B, pipeline="WanPipeline",
            repo="Wan-AI/Wan2.2-T2V-A14B-Diffusers", download_gb=126.0, components=_WAN_A14B_COMPONENTS,
            steps=40, guidance=4.0, guidance_2=3.0, boundary_ratio=0.875, shift=12.0, fps=16.0,
            frame_step=4, default_frames=81, max_frames=81, sizes=((1280, 720), (832, 480)),
            draft_steps=20, draft_size=(832, 480), negative_prompt=WAN_NEGATIVE_PROMPT,
            image_to_video="wan2.2-i2v-a14b", experts=2, transformer_gib=26.67, text_encoder_gib=10.6,
            original_repo="Wan-AI/Wan2.2-T2V-A14B",
        ),
        # Wan 2.2 I2V-A14B: same layout; official boundary 0.900, shift 5.0, guidance 3.5 / 3.5. Its
        # experts take 36 input channels instead of 16: 0.01 % more parameters, weighed as T2V's.
        ModelSpec(
            name="wan2.2-i2v-a14b", family="wan", template="wan2.2-t2v-a14b", auto_rank=None,
            session="render_pipeline.backends.wan:WanSession", architecture=WAN_A14B,
            pipeline="WanImageToVideoPipeline",
            repo="Wan-AI/Wan2.2-I2V-A14B-Diffusers", download_gb=126.0, components=_WAN_A14B_COMPONENTS,
            steps=40, guidance=3.5, guidance_2=3.5, boundary_ratio=0.9, shift=5.0, fps=16.0,
            frame_step=4, default_frames=81, max_frames=81, sizes=((1280, 720), (832, 480)),
            draft_steps=20, draft_size=(832, 480), negative_prompt=WAN_NEGATIVE_PROMPT,
            image_to_video="wan2.2-i2v-a14b", experts=2, transformer_gib=26.67, text_encoder_gib=10.6,
            original_repo="Wan-AI/Wan2.2-I2V-A14B",
        ),
        # Wan 2.2 TI2V-5B: one 5.0 B transformer (9.33 GiB bf16, measured), 16x-compressing z48 VAE;
        # text and image to video in one model. Trained at 1280x704, 121 frames, 24 fps.
        ModelSpec(
            name="wan2.2-ti2v-5b", family="wan", template="wan2.2-ti2v-5b", auto_rank=3,
            session="render_pipeline.backends.wan:WanSession",
            architecture=Architecture(WAN_5B, WAN22_VAE, context_parallel=True), pipeline="WanPipeline",
            repo="Wan-AI/Wan2.2-TI2V-5B-Diffusers", download_gb=34.0,
            components=("transformer", "text_encoder", "tokenizer", "vae", "scheduler"),
            steps=50, guidance=5.0, guidance_2=None, boundary_ratio=None, shift=5.0, fps=24.0,
            frame_step=4, default_frames=121, max_frames=121, sizes=((1280, 704),),
            draft_steps=25, draft_size=(1280, 704), negative_prompt=WAN_NEGATIVE_PROMPT,
            image_to_video="wan2.2-ti2v-5b", experts=1, transformer_gib=9.33, text_encoder_gib=10.6,
            original_repo="Wan-AI/Wan2.2-TI2V-5B",
        ),
        # HunyuanVideo (community diffusers conversion of tencent/HunyuanVideo): 12.82 B transformer,
        # guidance-distilled (embedded guidance 6.0, one forward per step), flow shift 7.0.
        # Download: transformer 25.6 + Llava-Llama-3 text encoder 16.1 + CLIP 0.25 + VAE 1.0 GB.
        ModelSpec(
            name="hunyuanvideo", family="hunyuanvideo", template="hunyuanvideo", auto_rank=2,
            session="render_pipeline.backends.hunyuanvideo:HunyuanVideoSession",
            architecture=Architecture(HUNYUANVIDEO, HUNYUAN_VAE, context_parallel=False),
            pipeline="HunyuanVideoPipeline", repo="hunyuanvideo-community/HunyuanVideo", download_gb=43.0,
            components=("transformer", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "vae",
                        "scheduler"),
            steps=50, guidance=6.0, guidance_2=None, boundary_ratio=None, shift=7.0, fps=24.0,
            frame_step=4, default_frames=129, max_frames=129, sizes=((1280, 720), (960, 544)),
            draft_steps=30, draft_size=(960, 544), negative_prompt="",
            image_to_video=None, experts=1, transformer_gib=23.88, text_encoder_gib=15.2,
            original_repo="tencent/HunyuanVideo",
        ),
        # CogVideoX-5B: 49 frames at 8 fps, 720x480, 50 steps, guidance 6.0 (batched CFG).
        # Download: transformer 11.1 + T5-XXL 9.5 + VAE 0.9 GB.
        ModelSpec(
            name="cogvideox-5b", family="cogvideox", template="cogvideox-5b", auto_rank=4,
            session="render_pipeline.backends.cogvideox:CogVideoXSession", architecture=COGVIDEOX,
            pipeline="CogVideoXPipeline", repo="THUDM/CogVideoX-5b", download_gb=22.0,
            components=("transformer", "text_encoder", "tokenizer", "vae", "scheduler"),
            steps=50, guidance=6.0, guidance_2=None, boundary_ratio=None, shift=None, fps=8.0,
            frame_step=4, default_frames=49, max_frames=49, sizes=((720, 480),),
            draft_steps=25, draft_size=(720, 480), negative_prompt="",
            image_to_video="cogvideox-5b-i2v", experts=1, transformer_gib=10.38, text_encoder_gib=8.9,
        ),
        ModelSpec(
            name="cogvideox-5b-i2v", family="cogvideox", template="cogvideox-5b", auto_rank=None,
            session="render_pipeline.backends.cogvideox:CogVideoXSession", architecture=COGVIDEOX,
            pipeline="CogVideoXImageToVideoPipeline", repo="THUDM/CogVideoX-5b-I2V", download_gb=22.0,
            components=("transformer", "text_encoder", "tokenizer", "vae", "scheduler"),
            steps=50, guidance=6.0, guidance_2=None, boundary_ratio=None, shift=None, fps=8.0,
            frame_step=4, default_frames=49, max_frames=49, sizes=((720, 480),),
            draft_steps=25, draft_size=(720, 480), negative_prompt="",
            image_to_video="cogvideox-5b-i2v", experts=1, transformer_gib=10.38, text_encoder_gib=8.9,
        ),
    )
}


def spec_for(backend: str, image_conditioned: bool = False) -> ModelSpec:
    """The spec that renders a shot: the image-to-video variant when the shot has an image."""
    spec = SPECS[backend]
    if image_conditioned and spec.image_to_video:
        return SPECS[spec.image_to_video]
    return spec


# The names a storyboard may give, in the registry's order: every entry but the image-to-video
# variants, which the planner picks itself for a shot with an image (spec_for).
_VARIANTS = {spec.image_to_video for spec in SPECS.values() if spec.image_to_video not in (None, spec.name)}
STORYBOARD_BACKENDS = tuple(name for name in SPECS if name not in _VARIANTS)

# Best-looking first: the order "auto" tries the text-to-video backends in. A rank in each entry
# rather than the registry's order, which is the order names are listed in (validate's and
# --backend's messages), model by model, while auto's preference cuts across them (HunyuanVideo
# between the two Wans).
AUTO_ORDER = tuple(name for _, name in sorted((spec.auto_rank, name) for name, spec in SPECS.items()
                                              if spec.auto_rank is not None))
