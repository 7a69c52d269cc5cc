"""The layout's arithmetic and the launch helpers (no torch, no processes)."""

from __future__ import annotations

import sys

import pytest

from render_pipeline.parallel.launch import NCCL_ENV, gpu_groups, torchrun_command, worker_env
from render_pipeline.parallel.layout import LayoutError, ParallelLayout, video_tokens
from render_pipeline.shot_layout import MemoryStrategy, ParallelPlan, ShotLayout


def test_degrees_must_multiply_to_the_world_size() -> None:
    with pytest.raises(LayoutError, match=r"experts 1 x cfg 2 x ring 1 x ulysses 2 = 4 GPUs, but the shot has 2"):
        ParallelLayout(world_size=2, cfg=2, ulysses=2)
    assert ParallelLayout(world_size=4, cfg=2, ulysses=2).describe() == "cfg2 x ulysses2"


@pytest.mark.parametrize("values, message", [
    (dict(world_size=3, cfg=3), "cfg is 1 or 2"),
    (dict(world_size=4, experts=4), "experts is 1 or 2"),
    (dict(world_size=0), "world_size must be a whole number >= 1, got 0"),
    (dict(world_size=2, ulysses=2, vae="split"), "vae must be one of rank0, tiled"),
    (dict(world_size=2, experts=2, fsdp=True), "fsdp needs at least 2 GPUs running each model"),
])
def test_impossible_layouts_say_what_is_wrong(values: dict, message: str) -> None:
    with pytest.raises(LayoutError, match=message):
        ParallelLayout(**values)


def test_ulysses_must_divide_heads_and_lists_the_degrees_that_do() -> None:
    layout = ParallelLayout(world_size=3, ulysses=3)
    with pytest.raises(LayoutError, match=r"ulysses 3 does not divide the 40 attention heads of wan; use one of 1, 2"):
        layout.check_model(heads=40, tokens=75_600, model="wan")


def test_context_parallel_must_divide_video_and_text_tokens() -> None:
    layout = ParallelLayout(world_size=8, ulysses=8)
    with pytest.raises(LayoutError, match="does not divide the 75601 video tokens"):
        layout.check_model(heads=40, tokens=75_601)
    with pytest.raises(LayoutError, match="does not divide the 226 prompt tokens"):
        ParallelLayout(world_size=4, ulysses=4).check_model(heads=48, tokens=17_552, text_tokens=226)
    ParallelLayout(world_size=2, ulysses=2).check_model(heads=24, tokens=67_320, text_tokens=256)


def test_experts_only_for_a_model_with_two() -> None:
    with pytest.raises(LayoutError, match="has 1 transformer"):
        ParallelLayout(world_size=2, experts=2).check_model(heads=24, tokens=27_280, experts=1)
    ParallelLayout(world_size=4, experts=2, ulysses=2, fsdp=True).check_model(heads=40, tokens=75_600, experts=2)


def test_video_tokens_match_the_measured_wan_counts() -> None:
    assert video_tokens(81, 720, 1280) == 75_600
    assert video_tokens(81, 480, 832) == 32_760


def test_layout_round_trips_and_rejects_unknown_fields() -> None:
    layout = ParallelLayout(world_size=4, cfg=2, ulysses=2, fsdp=True, vae="tiled")
    assert ParallelLayout.from_dict(layout.to_dict()) == layout
    with pytest.raises(LayoutError, match="unknown field.*tp"):
        ParallelLayout.from_dict({"world_size": 2, "tp": 2})


def test_gpu_groups_split_the_machine_and_refuse_too_few() -> None:
    assert gpu_groups([0, 1, 2, 3, 4, 5, 6, 7], 2) == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert gpu_groups([0, 1, 2], 2) == [[0, 1]]
    with pytest.raises(Exception, match="needs 4 GPUs per shot but only 2 are visible"):
        gpu_groups([0, 1], 4)


def test_worker_command_and_env() -> None:
    assert torchrun_command(2, ["-m", "render_pipeline.runner.worker", "wan2.2-t2v-a14b"]) == [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
        "-m", "render_pipeline.runner.worker", "wan2.2-t2v-a14b",
    ]
    env = worker_env([2, 3], base={"NCCL_NVLS_ENABLE": "1"})
    assert env["CUDA_VISIBLE_DEVICES"] == "2,3"
    assert env["NCCL_NVLS_ENABLE"] == "1"  # the user's own setting wins
    assert env["TORCH_SYMM_MEM_DISABLE_MULTICAST"] == NCCL_ENV["TORCH_SYMM_MEM_DISABLE_MULTICAST"] == "1"


def test_layout_from_the_plans_shot_layout() -> None:
    from render_pipeline.planner.layouts import Layout

    def layout_of(vae_tiling: bool = False, **values) -> ParallelLayout:
        parallel = ParallelPlan(**{"gpus_per_shot": 2, "experts_resident": "both", **values})
        return ParallelLayout.of_shot(Layout(parallel, MemoryStrategy(vae_tiling=vae_tiling)).shot_layout)

    assert layout_of(cfg_parallel=True, fsdp=True) == ParallelLayout(world_size=2, cfg=2, fsdp=True)
    assert layout_of(ulysses=2, vae_tiling=True) == ParallelLayout(world_size=2, ulysses=2, vae="tiled")
    assert layout_of(experts_resident="one_per_gpu") == ParallelLayout(world_size=2, experts=2)
    assert layout_of(gpus_per_shot=4, cfg_parallel=True, ulysses=2) == ParallelLayout(world_size=4, cfg=2, ulysses=2)
    assert ParallelLayout.of_shot(ShotLayout()) == ParallelLayout()  # the animatic's plain layout


@pytest.mark.needs("diffusion")
def test_a_worker_group_loads_its_pipeline_uncompiled(monkeypatch):
    """Its layouts were measured eager; compiling under FSDP2 and context parallelism was never run on GPUs."""
    from render_pipeline.parallel import apply, group

    class Session:
        compile_allowed = True

        def pipeline_for(self, request):
            loaded.append(self.compile_allowed)
            return "pipeline"

    loaded, applied = [], []
    monkeypatch.setattr(apply, "apply_layout", lambda pipeline, layout, mesh: applied.append(pipeline))
    worker_group = object.__new__(group.WorkerGroup)  # no process group: only prepare() is under test
    worker_group.layout, worker_group.mesh, worker_group.applied = ParallelLayout(world_size=2, cfg=2), None, False
    worker_group.prepare(Session(), ["s01 request"])
    assert loaded == [False] and applied == ["pipeline"]
