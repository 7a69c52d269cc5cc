"""A backend's network as numbers: parameters, FLOPs and activation memory from its config.

Torch-free: every entry of the registry (specs.py) carries its network's figures, and the
planner weighs them. Parameter counts come from the layer shapes (they match the measured models
to 1.5 %), FLOPs from the matmuls and attention the config implies (they match torch's flop
counter), and the activation peak from the tokens alive at once times a per-architecture "live
widths" figure, which is the one number fitted to measurements (docs/planner.md shows the fit).
"""

from __future__ import annotations

from dataclasses import dataclass

GIB = 1024**3

@dataclass(frozen=True)
class Transformer:
    layers: int  # blocks; for dual-stream models, all of them
    width: int
    heads: int
    ffn: int
    in_channels: int
    patch: tuple[int, int, int]  # (frames, height, width) of latent per token
    text_width: int
    # Tokens the text encoder reads: the session cuts every prompt off, and pads it, to this many.
    # The length the models were trained with and diffusers' pipelines use by default (their
    # encode_prompt methods default to less for Wan: 226).
    text_tokens: int
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
