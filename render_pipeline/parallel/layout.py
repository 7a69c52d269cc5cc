"""How one shot's work is spread over k GPUs: a plain record whose arithmetic is checked up front.

Torch-free, so the planner can build and check layouts instantly. The degrees nest like this
(outermost first): ``experts`` groups, each split into ``cfg`` branches, each running context
parallelism over ``ring x ulysses`` ranks. ``fsdp`` shards each model's weights over all the
ranks that run it, which saves memory but no time; the other degrees save time but every rank
holds the weights it runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from render_pipeline.errors import UserError
from render_pipeline.shot_layout import ExpertsResident, ShotLayout

VAE_MODES = ("rank0", "tiled")


class LayoutError(UserError):
    """A parallel layout whose degrees do not fit the GPUs or the model."""


@dataclass(frozen=True)
class ParallelLayout:
    world_size: int = 1
    cfg: int = 1  # 2: the conditional and unconditional branches run on different ranks
    ulysses: int = 1  # Ulysses sequence parallelism (all-to-all over attention heads)
    ring: int = 1  # ring attention (key/value blocks passed around the ranks)
    fsdp: bool = False  # FSDP2: shard weights over the ranks that run the model, bf16 shards
    experts: int = 1  # 2: Wan A14B's high-noise and low-noise experts on separate GPU groups
    vae: str = "rank0"  # "rank0": rank 0 decodes whole; "tiled": rank 0 decodes tile by tile

    def __post_init__(self) -> None:
        for name in ("world_size", "cfg", "ulysses", "ring", "experts"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise LayoutError(f"parallel layout: {name} must be a whole number >= 1, got {value!r}")
        if self.cfg > 2:
            raise LayoutError(f"parallel layout: cfg is 1 or 2 (there are only two guidance branches), got {self.cfg}")
        if self.experts > 2:
            raise LayoutError(f"parallel layout: experts is 1 or 2 (Wan A14B has two experts), got {self.experts}")
        if self.vae not in VAE_MODES:
            raise LayoutError(f"parallel layout: vae must be one of {', '.join(VAE_MODES)}, got {self.vae!r}")
        product = self.experts * self.cfg * self.ring * self.ulysses
        if product != self.world_size:
            raise LayoutError(
                f"parallel layout: experts {self.experts} x cfg {self.cfg} x ring {self.ring} x ulysses "
                f"{self.ulysses} = {product} GPUs, but the shot has {self.world_size}; "
                f"make the degrees multiply to {self.world_size}"
            )
        if self.fsdp and self.ranks_per_model == 1:
            raise LayoutError(
                "parallel layout: fsdp needs at least 2 GPUs running each model to shard over, "
                f"but each model runs on 1 of the {self.world_size}; turn fsdp off or add GPUs"
            )

    @classmethod
    def from_dict(cls, values: dict) -> ParallelLayout:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise LayoutError(
                f"parallel layout: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def of_shot(cls, layout: ShotLayout) -> ParallelLayout:
        """The degrees a plan's shot layout implies; 1 GPU when it names none."""
        parallel = layout.parallel
        return cls(
            world_size=parallel.gpus_per_shot or 1,
            cfg=2 if parallel.cfg_parallel else 1,
            ulysses=parallel.ulysses,
            ring=parallel.ring,
            fsdp=parallel.fsdp,
            experts=2 if parallel.experts_resident == ExpertsResident.ONE_PER_GPU else 1,
            vae="tiled" if layout.memory.vae_tiling else "rank0",
        )

    @property
    def context_parallel(self) -> int:
        return self.ring * self.ulysses

    @property
    def ranks_per_model(self) -> int:
        """How many ranks run each transformer (the whole world, or one expert's group)."""
        return self.world_size // self.experts

    @property
    def is_single(self) -> bool:
        return self.world_size == 1

    def describe(self) -> str:
        """A short readable name such as ``cfg2 x ulysses2 + fsdp``."""
        parts = [f"{name}{degree}" for name, degree in
                 (("experts", self.experts), ("cfg", self.cfg), ("ring", self.ring), ("ulysses", self.ulysses))
                 if degree > 1]
        text = " x ".join(parts) or "1 GPU"
        return text + (" + fsdp" if self.fsdp else "")

    def check_model(self, *, heads: int, tokens: int = 0, text_tokens: int = 0, experts: int = 1,
                    model: str = "the model") -> None:
        """Refuse degrees the model cannot use: Ulysses splits heads; ring and Ulysses split the tokens.

        ``tokens``: the shot's video tokens (0 while no shot is known); ``text_tokens``: for models
        whose text joins the video in one sequence (HunyuanVideo's 256 padded prompt tokens).
        """
        if heads % self.ulysses:
            fits = [d for d in range(1, heads + 1) if heads % d == 0 and d <= self.world_size]
            raise LayoutError(
                f"parallel layout: ulysses {self.ulysses} does not divide the {heads} attention heads of {model}; "
                f"use one of {', '.join(map(str, fits))}"
            )
        if tokens % self.context_parallel:
            raise LayoutError(
                f"parallel layout: ring {self.ring} x ulysses {self.ulysses} = {self.context_parallel} does not "
                f"divide the {tokens} video tokens of this shot ({model}); change the frame count or size, "
                "or lower the degree"
            )
        if text_tokens % self.context_parallel:
            raise LayoutError(
                f"parallel layout: ring {self.ring} x ulysses {self.ulysses} = {self.context_parallel} does not "
                f"divide the {text_tokens} prompt tokens of {model}; lower the degree"
            )
        if self.experts > experts:
            raise LayoutError(
                f"parallel layout: experts {self.experts} asks for one expert per GPU group, but {model} has "
                f"{experts} transformer(s); set experts to 1"
            )


def video_tokens(frames: int, height: int, width: int, *, temporal: int = 4, spatial: int = 8,
                 patch: tuple[int, int, int] = (1, 2, 2)) -> int:
    """Tokens the transformer sees for a clip: VAE compression (temporal, spatial) then patching."""
    latent_frames = (frames - 1) // temporal + 1
    return (latent_frames // patch[0]) * (height // spatial // patch[1]) * (width // spatial // patch[2])
