"""The device mesh for a layout: one named dimension per degree, experts outermost."""

from __future__ import annotations

from dataclasses import dataclass

from torch.distributed.device_mesh import DeviceMesh, init_device_mesh

from render_pipeline.parallel.layout import ParallelLayout

DIMS = ("experts", "cfg", "ring", "ulysses")


@dataclass(frozen=True)
class LayoutMesh:
    """The whole mesh plus the sub-meshes each transform needs, built once per process."""

    full: DeviceMesh
    context: DeviceMesh  # ("ring", "ulysses") inside this rank's cfg branch: diffusers' context parallelism
    cfg: DeviceMesh  # the ranks holding the other guidance branch
    model: DeviceMesh  # every rank running this rank's transformer: FSDP shards over it
    everyone: DeviceMesh  # all ranks: the text encoder is sharded over it (they all encode the same prompts)
    expert_index: int  # which of the experts this rank runs


def build_mesh(layout: ParallelLayout, device_type: str) -> LayoutMesh:
    """Needs ``torch.distributed`` initialised with ``layout.world_size`` processes."""
    shape = (layout.experts, layout.cfg, layout.ring, layout.ulysses)
    full = init_device_mesh(device_type, shape, mesh_dim_names=DIMS)
    return LayoutMesh(
        full=full,
        context=full["ring", "ulysses"],
        cfg=full["cfg"],
        model=full["cfg", "ring", "ulysses"]._flatten("model"),
        everyone=full._flatten("everyone"),
        expert_index=full["experts"].get_local_rank(),
    )
