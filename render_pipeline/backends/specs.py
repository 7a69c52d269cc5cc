"""What each backend's model is: where its weights come from and the settings it was trained for.

Torch-free, so the planner and `validate` can read it instantly.

Sources of the figures (checked 2026-11): the official Wan 2.2 / HunyuanVideo / CogVideoX
generation configs and model cards for steps, guidance, shift, fps, frame counts and sizes;
the Hugging Face file listings of the diffusers-format repositories for the download sizes
(summed shard sizes, rounded up); /work/shared/gpu-facts.md (measured) for the bf16 weight
sizes. diffusers' own pipeline defaults (e.g. WanPipeline's 50 steps, guidance 5.0) are not
the official ones, so every backend passes these explicitly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
    # Tokens the text encoder reads: the prompt is cut off, and padded, to this many. The length
    # the models were trained with and diffusers' pipelines use by default (their encode_prompt
    # methods default to less for Wan: 226).
    text_tokens: int
    # The official release, when it is not the diffusers layout: its files load in place
    # (backends/checkpoint_search.py) instead of asking for the diffusers repository.
    original_repo: str = ""

    @property
    def needs_gpu(self) -> bool:
        return self.family != "animatic"

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


_WAN_A14B_COMPONENTS = ("transformer", "transformer_2", "text_encoder", "tokenizer", "vae", "scheduler")

SPECS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="animatic", family="animatic", pipeline="", repo="", download_gb=0.0, components=(),
            steps=0, guidance=0.0, guidance_2=None, boundary_ratio=None, shift=None, fps=None,
            frame_step=1, default_frames=0, max_frames=10**9, sizes=(), draft_steps=0, draft_size=(0, 0),
            negative_prompt="", image_to_video=None, experts=0, transformer_gib=0.0, text_encoder_gib=0.0,
            text_tokens=0,
        ),
        # Wan 2.2 T2V-A14B: two 14.29 B experts (26.67 GiB bf16 each, measured); the diffusers repo
        # stores them in fp32 (2 x 57.2 GB) beside the 11.4 GB UMT5-XXL encoder and the 0.5 GB VAE.
        ModelSpec(
            name="wan2.2-t2v-a14b", family="wan", pipeline="WanPipeline",
            repo="Wan-AI/Wan2.2-T2V-A14B-Diffusers", download_gb=126.0, components=_WAN_A14B_COMPONENTS,
            steps=40, guidance=4.0, guidance_2=3.0, boundary_ratio=0.875, shift=12.0, fps=16.0,
            frame_step=4, default_frames=81, max_frames=81, sizes=((1280, 720), (832, 480)),
            draft_steps=20, draft_size=(832, 480), negative_prompt=WAN_NEGATIVE_PROMPT,
            image_to_video="wan2.2-i2v-a14b", experts=2, transformer_gib=26.67, text_encoder_gib=10.6, text_tokens=512,
            original_repo="Wan-AI/Wan2.2-T2V-A14B",
        ),
        # Wan 2.2 I2V-A14B: same layout; official boundary 0.900, shift 5.0, guidance 3.5 / 3.5.
        ModelSpec(
            name="wan2.2-i2v-a14b", family="wan", pipeline="WanImageToVideoPipeline",
            repo="Wan-AI/Wan2.2-I2V-A14B-Diffusers", download_gb=126.0, components=_WAN_A14B_COMPONENTS,
            steps=40, guidance=3.5, guidance_2=3.5, boundary_ratio=0.9, shift=5.0, fps=16.0,
            frame_step=4, default_frames=81, max_frames=81, sizes=((1280, 720), (832, 480)),
            draft_steps=20, draft_size=(832, 480), negative_prompt=WAN_NEGATIVE_PROMPT,
            image_to_video="wan2.2-i2v-a14b", experts=2, transformer_gib=26.67, text_encoder_gib=10.6, text_tokens=512,
            original_repo="Wan-AI/Wan2.2-I2V-A14B",
        ),
        # Wan 2.2 TI2V-5B: one 5.0 B transformer (9.33 GiB bf16, measured), 16x-compressing z48 VAE;
        # text and image to video in one model. Trained at 1280x704, 121 frames, 24 fps.
        ModelSpec(
            name="wan2.2-ti2v-5b", family="wan", pipeline="WanPipeline",
            repo="Wan-AI/Wan2.2-TI2V-5B-Diffusers", download_gb=34.0,
            components=("transformer", "text_encoder", "tokenizer", "vae", "scheduler"),
            steps=50, guidance=5.0, guidance_2=None, boundary_ratio=None, shift=5.0, fps=24.0,
            frame_step=4, default_frames=121, max_frames=121, sizes=((1280, 704),),
            draft_steps=25, draft_size=(1280, 704), negative_prompt=WAN_NEGATIVE_PROMPT,
            image_to_video="wan2.2-ti2v-5b", experts=1, transformer_gib=9.33, text_encoder_gib=10.6, text_tokens=512,
            original_repo="Wan-AI/Wan2.2-TI2V-5B",
        ),
        # HunyuanVideo (community diffusers conversion of tencent/HunyuanVideo): 12.82 B transformer,
        # guidance-distilled (embedded guidance 6.0, one forward per step), flow shift 7.0.
        # Download: transformer 25.6 + Llava-Llama-3 text encoder 16.1 + CLIP 0.25 + VAE 1.0 GB.
        ModelSpec(
            name="hunyuanvideo", family="hunyuanvideo", pipeline="HunyuanVideoPipeline",
            repo="hunyuanvideo-community/HunyuanVideo", download_gb=43.0,
            components=("transformer", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "vae",
                        "scheduler"),
            steps=50, guidance=6.0, guidance_2=None, boundary_ratio=None, shift=7.0, fps=24.0,
            frame_step=4, default_frames=129, max_frames=129, sizes=((1280, 720), (960, 544)),
            draft_steps=30, draft_size=(960, 544), negative_prompt="",
            image_to_video=None, experts=1, transformer_gib=23.88, text_encoder_gib=15.2, text_tokens=256,
            original_repo="tencent/HunyuanVideo",
        ),
        # CogVideoX-5B: 49 frames at 8 fps, 720x480, 50 steps, guidance 6.0 (batched CFG).
        # Download: transformer 11.1 + T5-XXL 9.5 + VAE 0.9 GB.
        ModelSpec(
            name="cogvideox-5b", family="cogvideox", pipeline="CogVideoXPipeline",
            repo="THUDM/CogVideoX-5b", download_gb=22.0,
            components=("transformer", "text_encoder", "tokenizer", "vae", "scheduler"),
            steps=50, guidance=6.0, guidance_2=None, boundary_ratio=None, shift=None, fps=8.0,
            frame_step=4, default_frames=49, max_frames=49, sizes=((720, 480),),
            draft_steps=25, draft_size=(720, 480), negative_prompt="",
            image_to_video="cogvideox-5b-i2v", experts=1, transformer_gib=10.38, text_encoder_gib=8.9, text_tokens=226,
        ),
        ModelSpec(
            name="cogvideox-5b-i2v", family="cogvideox", pipeline="CogVideoXImageToVideoPipeline",
            repo="THUDM/CogVideoX-5b-I2V", download_gb=22.0,
            components=("transformer", "text_encoder", "tokenizer", "vae", "scheduler"),
            steps=50, guidance=6.0, guidance_2=None, boundary_ratio=None, shift=None, fps=8.0,
            frame_step=4, default_frames=49, max_frames=49, sizes=((720, 480),),
            draft_steps=25, draft_size=(720, 480), negative_prompt="",
            image_to_video="cogvideox-5b-i2v", experts=1, transformer_gib=10.38, text_encoder_gib=8.9, text_tokens=226,
        ),
    )
}


def spec_for(backend: str, image_conditioned: bool = False) -> ModelSpec:
    """The spec that renders a shot: the image-to-video variant when the shot has an image."""
    spec = SPECS[backend]
    if image_conditioned and spec.image_to_video:
        return SPECS[spec.image_to_video]
    return spec
