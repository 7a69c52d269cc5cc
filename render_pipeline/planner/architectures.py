"""Each backend's network as numbers: parameters, FLOPs and activation memory from its config.

Parameter counts come from the layer shapes (they match the measured models to 1.5 %), FLOPs
from the matmuls and attention the config implies (they match torch's flop counter), and the
activation peak from the tokens alive at once times a per-architecture "live widths" figure,
which is the one number fitted to measurements (docs/planner.md shows the fit).
"""

from __future__ import annotations

from dataclasses import dataclass

from render_pipeline.backends.specs import SPECS
from render_pipeline.planner.gpus import GIB


@dataclass(frozen=True)
class Transformer:
    layers: int  # blocks; for dual-stream models, all of them
    width: int
    heads: int
    ffn: int
    in_channels: int
    patch: tuple[int, int, int]  # (frames, height, width) of latent per token
    text_width: int
    text_tokens: int  # the spec's (backends/specs.py): what the session pads every prompt to
    joint_attention: bool  # text tokens join the video tokens in self-attention (MMDiT) vs cross-attention
    dual_stream_layers: int  # of `layers`, blocks where text has its own weights
    time_width: int  # width of the timestep embedding that drives the per-block modulation
    fp32_params: int  # small modules diffusers keeps in fp32 even when loading bf16 (measured)
    # Bytes alive per token at the block's peak, in units of bf16 vectors of `width`. Fitted to
    # the one-GPU measurements in gpu-facts.md; the same figure then predicts the other sizes,
    # batch 2, and the context-parallel runs.
    live_widths: float
    # Achieved fraction of the matmul ceiling in one forward (gpu-facts.md, cuDNN attention, no compile).
    efficiency: float
    # How much faster a forward runs on the backends' default exact path (regional compile; for
    # HunyuanVideo also attention without the text padding) than diffusers as shipped, measured
    # on one GPU in one run each (docs/benchmarks.md, "Exact-path speed per forward").
    compiled_speedup: float
    # How much faster again with attention through FlashAttention-4 (Hopper and Blackwell, where
    # installed), measured on an H200 against the default path in one run each. Wan A14B's is two
    # such ratios multiplied: FA4 against compile alone (1.082), then the session's tile against
    # FA4's own (1.027); HunyuanVideo's was measured with FA4's own tile, before the tile table.
    flash_attention_4_speedup: float
    cfg: str  # "separate": two batch-1 forwards per step | "batched": one batch-2 | "distilled": one

    def block_params(self) -> int:
        d, f = self.width, self.ffn
        if self.joint_attention and self.dual_stream_layers:
            # HunyuanVideo: dual-stream blocks (video and text each: qkv, out, MLP, 6-way modulation),
            # then single-stream blocks (fused qkv+MLP in, fused out, 3-way modulation).
            stream = 3 * d * d + 3 * d + d * d + d + 2 * f * d + f + d + 6 * d * d + 6 * d
            single = d * (3 * d + f) + 3 * d + f + (d + f) * d + d + 3 * d * d + 3 * d
            return self.dual_stream_layers * 2 * stream + (self.layers - self.dual_stream_layers) * single
        attention = 4 * (d * d + d)
        mlp = 2 * f * d + f + d
        if self.joint_attention:  # CogVideoX: one attention, two adaptive norms fed by the time embedding
            per_block = attention + 4 * (d // self.heads) + mlp + 2 * (self.time_width * 6 * d + 6 * d) + 4 * d
        else:  # Wan: self-attention, cross-attention to text, q/k norms, a learnt 6-way modulation table
            per_block = 2 * attention + 4 * d + mlp + 6 * d + 2 * d
        return self.layers * per_block

    def params(self) -> int:
        d, t, c = self.width, self.time_width, self.in_channels
        patch_volume = self.patch[0] * self.patch[1] * self.patch[2]
        patch_in_out = 2 * c * patch_volume * d + d + c * patch_volume
        if self.dual_stream_layers:  # text, CLIP and guidance projections, time MLP, 2 text-refiner blocks
            embeddings = 2 * self.text_width * d + 2 * 768 * d + 2 * 256 * d + 16 * d * d + 2 * d * d + 28 * d * d
        elif self.joint_attention:
            embeddings = self.text_width * d + d + 256 * t + t + t * t + t + 2 * t * d
        else:  # text MLP, timestep MLP, timestep projection to the 6-way modulation, output norm
            embeddings = self.text_width * d + d + d * d + d + 256 * d + d + d * d + d + 6 * d * d + 6 * d + 2 * d
        return self.block_params() + patch_in_out + embeddings

    def weights_gib(self, bytes_per_param: float) -> float:
        return (self.params() * bytes_per_param + self.fp32_params * (4 - bytes_per_param)) / GIB

    def block_gib(self, bytes_per_param: float) -> float:
        """One block's weights: what offloading and FSDP keep gathered at a time."""
        return self.block_params() / self.layers * bytes_per_param / GIB

    def flops_per_forward(self, video_tokens: int, batch: int = 1) -> float:
        """Multiply-adds x 2 of one forward: the linear layers on every token, plus attention."""
        d, f = self.width, self.ffn
        text = self.text_tokens
        if self.joint_attention:
            # Dual-stream blocks give text its own weights, but every token still meets the same count.
            tokens = video_tokens + text
            linear = 2 * tokens * self.layers * (4 * d * d + 2 * f * d)
            attention = 4 * tokens * tokens * d * self.layers
        else:
            video_linear = self.layers * (6 * d * d + 2 * f * d)  # self q,k,v,o; cross q,o; MLP
            text_linear = self.layers * 2 * d * d  # cross-attention k,v on the text tokens
            linear = 2 * (video_tokens * video_linear + text * text_linear)
            attention = 4 * video_tokens * (video_tokens + text) * d * self.layers
        return float(batch * (linear + attention))

    def activation_gib(self, video_tokens: int, batch: int = 1) -> float:
        tokens = video_tokens + (self.text_tokens if self.joint_attention else 0)
        return batch * tokens * self.live_widths * self.width * 2 / GIB


@dataclass(frozen=True)
class Vae:
    name: str
    spatial: int  # pixels per latent pixel, each way
    temporal: int  # frames per latent frame (after the first)
    weights_gib: float  # fp32
    bytes_per_pixel: float  # untiled fp32 decode peak per output pixel (frames x height x width), measured
    # A causal decoder that runs a latent frame at a time holds no more than this many frames'
    # activations however long the clip (the frames it was measured at); None: the whole clip's.
    frames_held: int | None
    flops_per_pixel: float  # decode FLOPs per output pixel, from torch's flop counter
    efficiency: float  # achieved fraction of the card's bf16 datasheet rate (fp32/TF32 convolutions)


# Measured on an H200 (gpu-facts.md): tiling keeps about a fifth of the peak and takes 1.83x as long;
# bf16 halves the peak and takes 0.63x as long.
VAE_TILED_MEMORY = 0.2
VAE_TILED_TIME = 1.83
VAE_BF16_TIME = 0.63

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
    text_tokens=SPECS["wan2.2-t2v-a14b"].text_tokens, joint_attention=False, dual_stream_layers=0, time_width=5120,
    fp32_params=29_184_000, live_widths=11.2, efficiency=0.655, compiled_speedup=1.12,
    flash_attention_4_speedup=1.11, cfg="separate",
)
WAN_5B = Transformer(
    layers=30, width=3072, heads=24, ffn=14336, in_channels=48, patch=(1, 2, 2), text_width=4096,
    text_tokens=SPECS["wan2.2-ti2v-5b"].text_tokens, joint_attention=False, dual_stream_layers=0, time_width=3072,
    # TI2V-5B embeds the timestep per token (fp32 modulation for every token): hence the high figure.
    fp32_params=10_973_184, live_widths=32.8, efficiency=0.54, compiled_speedup=1.22,
    flash_attention_4_speedup=1.07, cfg="separate",
)
HUNYUANVIDEO = Transformer(
    layers=60, width=3072, heads=24, ffn=12288, in_channels=16, patch=(1, 2, 2), text_width=4096,
    text_tokens=SPECS["hunyuanvideo"].text_tokens, joint_attention=True, dual_stream_layers=20, time_width=3072,
    fp32_params=0, live_widths=18.25, efficiency=0.492, compiled_speedup=1.46,
    flash_attention_4_speedup=1.11, cfg="distilled",
)
COGVIDEOX_5B = Transformer(
    layers=42, width=3072, heads=48, ffn=12288, in_channels=16, patch=(1, 2, 2), text_width=4096,
    text_tokens=SPECS["cogvideox-5b"].text_tokens, joint_attention=True, dual_stream_layers=0, time_width=512,
    fp32_params=0, live_widths=13.3, efficiency=0.477, compiled_speedup=1.30,
    flash_attention_4_speedup=1.149, cfg="batched",
)


@dataclass(frozen=True)
class Architecture:
    transformer: Transformer
    vae: Vae
    # diffusers has a context-parallel plan (Ulysses / ring) only for Wan; the others need one written.
    context_parallel: bool

    def video_tokens(self, width: int, height: int, frames: int) -> int:
        latent_frames = (frames - 1) // self.vae.temporal + 1
        pt, ph, pw = self.transformer.patch
        return (latent_frames // pt) * (height // self.vae.spatial // ph) * (width // self.vae.spatial // pw)


ARCHITECTURES: dict[str, Architecture] = {
    "wan2.2-t2v-a14b": Architecture(WAN_A14B_EXPERT, WAN21_VAE, True),
    # The image-to-video experts take 36 input channels instead of 16: 0.01 % more parameters.
    "wan2.2-i2v-a14b": Architecture(WAN_A14B_EXPERT, WAN21_VAE, True),
    "wan2.2-ti2v-5b": Architecture(WAN_5B, WAN22_VAE, True),
    "hunyuanvideo": Architecture(HUNYUANVIDEO, HUNYUAN_VAE, False),
    "cogvideox-5b": Architecture(COGVIDEOX_5B, COGVIDEOX_VAE, False),
    "cogvideox-5b-i2v": Architecture(COGVIDEOX_5B, COGVIDEOX_VAE, False),
}
