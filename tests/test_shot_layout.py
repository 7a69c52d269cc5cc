"""The shot layout contract: its JSON round trip, what it refuses, the memory ladder on it, and its way
from the plan through the worker into the manifest (a previous run's manifest still counting)."""

import json
import sys
from dataclasses import FrozenInstanceError, fields
from pathlib import Path

import pytest

from render_pipeline.parallel.layout import ParallelLayout
from render_pipeline.planner.layouts import Layout
from render_pipeline.planner.plan import make_plan
from render_pipeline.runner import RunOptions, run_jobs
from render_pipeline.runner.jobs import build_jobs
from render_pipeline.runner.memory_ladder import next_memory_rung
from render_pipeline.shot_layout import (
    KEYS,
    PARALLEL_KEYS,
    ExpertsResident,
    MemoryStrategy,
    Offload,
    ParallelPlan,
    ShotLayout,
    ShotLayoutError,
    VaeDtype,
    WeightsDtype,
)
from render_pipeline.storyboard import load_storyboard
from tests.test_runner_faults import jobs_for, manifest, write_storyboard

ECHO_WORKER = (sys.executable, str(Path(__file__).with_name("layout_echo_worker.py")))
A14B = "wan2.2-t2v-a14b"
# Every value each field can hold: all members of each enumeration, a value off the default for the rest.
VALUES = ([("gpus_per_shot", gpus) for gpus in (0, 1, 8)] + [("fsdp", True), ("ulysses", 4), ("ring", 2),
                                                             ("cfg_parallel", True), ("vae_tiling", True)]
          + [("experts_resident", experts) for experts in (*ExpertsResident, None)]
          + [("offload", offload) for offload in Offload] + [("weights_dtype", dtype) for dtype in WeightsDtype]
          + [("vae_dtype", dtype) for dtype in VaeDtype])
QUANTISED = {"weights_dtype": "GGUF Q4_K_M", "stored_bytes_per_param": 0.6}
# manifest.json's "memory" as the previous version wrote it: the planner's whole layout, with the switches.
PREVIOUS_FORMAT = {"gpus_per_shot": 1, "fsdp": False, "ulysses": 1, "ring": 1, "cfg_parallel": False,
                   "experts_resident": "one", "offload": "inactive_expert", "weights_dtype": "bf16",
                   "vae_tiling": False, "vae_dtype": "fp32", "stored_bytes_per_param": None,
                   "expert_swap": True, "group_offload": False, "fp8_storage": False, "vae_bf16": False}


def through_json(layout: ShotLayout) -> ShotLayout:
    return ShotLayout.from_json(json.loads(json.dumps(layout.to_json())))


def every_key(layout: ShotLayout) -> dict:
    """Each key of the JSON with the layout's value, defaults and switches included, as PREVIOUS_FORMAT writes it."""
    return {key: getattr(layout.parallel if key in PARALLEL_KEYS else layout.memory, key) for key in KEYS}


@pytest.mark.parametrize("data", [{key: value} for key, value in VALUES] + [QUANTISED], ids=str)
def test_every_field_and_enum_value_round_trips(data):
    layout = ShotLayout.from_json(data)
    assert through_json(layout) == layout and ShotLayout.from_json(every_key(layout)) == layout
    for key, value in data.items():
        assert every_key(layout)[key] == value and type(every_key(layout)[key]) is type(value)


def test_a_layout_off_every_default_round_trips_and_its_json_names_only_that():
    layout = ShotLayout(ParallelPlan(4, True, 2, 1, True, ExpertsResident.BOTH),
                        MemoryStrategy(Offload.GROUP, WeightsDtype.FP8, None, True, VaeDtype.BF16))
    assert through_json(layout) == layout
    assert layout.to_json() == {"gpus_per_shot": 4, "fsdp": True, "ulysses": 2, "cfg_parallel": True,
                                "experts_resident": "both", "offload": "group", "weights_dtype": "fp8",
                                "vae_tiling": True, "vae_dtype": "bf16",
                                "group_offload": True, "fp8_storage": True, "vae_bf16": True}
    assert ShotLayout().to_json() == {} and ShotLayout.from_json({}) == ShotLayout()
    with pytest.raises(TypeError):  # typed reads only: no dict-style access to go stale
        layout["offload"]
    with pytest.raises(FrozenInstanceError):
        layout.memory.offload = Offload.NONE


def test_the_planners_records_are_shot_layouts_and_hand_on_the_plain_one():
    layout = Layout(ParallelPlan(2, cfg_parallel=True), MemoryStrategy(Offload.GROUP, vae_tiling=True))
    assert isinstance(layout, ShotLayout) and {field.name for field in fields(Layout)} == {"parallel", "memory"}
    handed_on = layout.shot_layout
    assert type(handed_on) is ShotLayout and (handed_on.parallel, handed_on.memory) == (layout.parallel, layout.memory)
    assert ShotLayout.from_json(handed_on.to_json()) == handed_on


def test_an_unknown_key_is_refused_naming_it():
    with pytest.raises(ShotLayoutError, match="unknown key.*tensor_parallel; known: gpus_per_shot"):
        ShotLayout.from_json({"gpus_per_shot": 2, "tensor_parallel": 2})
    with pytest.raises(ShotLayoutError, match="expected a JSON object"):
        ShotLayout.from_json(["offload", "group"])


@pytest.mark.parametrize("data, message", [
    ({"offload": "grouped"}, "offload 'grouped' is not one of none, inactive_expert, model, group, sequential"),
    ({"experts_resident": "two"}, "experts_resident 'two' is not one of both, one, one_per_gpu, streamed"),
    ({"vae_dtype": "fp16"}, "vae_dtype 'fp16' is not one of fp32, bf16"),
    ({"weights_dtype": "fp16"}, "weights_dtype 'fp16' is not one of bf16, fp8 .quantised files need stored_bytes"),
    ({"weights_dtype": "GGUF Q4_K_M", "stored_bytes_per_param": 0}, "stored_bytes_per_param must be a positive"),
    ({"gpus_per_shot": -1}, "gpus_per_shot must be a whole number >= 0, got -1"),
    ({"gpus_per_shot": True}, "gpus_per_shot must be a whole number >= 0, got True"),
    ({"ulysses": 0}, "ulysses must be a whole number >= 1"),
    ({"ring": 1.5}, "ring must be a whole number >= 1"),
    ({"fsdp": "yes"}, "fsdp must be true or false"),
    ({"cfg_parallel": 1}, "cfg_parallel must be true or false"),
    ({"vae_tiling": None}, "vae_tiling must be true or false"),
    ({"expert_swap": "on"}, "expert_swap must be true or false"),
], ids=lambda value: str(value)[:40])
def test_a_value_its_field_does_not_allow_is_refused(data, message):
    with pytest.raises(ShotLayoutError, match=message):
        ShotLayout.from_json(data)


def test_switches_alone_set_their_fields_and_must_agree_with_them():
    assert ShotLayout.from_json({"expert_swap": True}).memory.offload == Offload.INACTIVE_EXPERT
    both = ShotLayout.from_json({"fp8_storage": True, "group_offload": True, "vae_bf16": True, "vae_tiling": True})
    assert both.memory == MemoryStrategy(Offload.GROUP, WeightsDtype.FP8, None, True, VaeDtype.BF16)
    with pytest.raises(ShotLayoutError, match="group_offload false disagrees with offload group"):
        ShotLayout.from_json({"offload": "group", "group_offload": False})
    with pytest.raises(ShotLayoutError, match="group_offload true disagrees with offload inactive_expert"):
        ShotLayout.from_json({"expert_swap": True, "group_offload": True})


def test_a_previous_manifests_layout_reads_back_as_the_plan_now_gives_it(tmp_path):
    planned = make_plan(load_storyboard(write_storyboard(tmp_path)), gpus="1x48GB", backend=A14B).shots[0].layout
    assert ShotLayout.from_json(PREVIOUS_FORMAT) == planned
    assert every_key(planned) == PREVIOUS_FORMAT


def test_each_rung_of_the_ladder_replaces_fields_of_the_layout():
    rungs, layout = [], ShotLayout(ParallelPlan(1), MemoryStrategy())
    while (layout := next_memory_rung(A14B, layout)) is not None:
        rungs.append(layout.to_json())
    assert rungs == [{"gpus_per_shot": 1, "vae_tiling": True},
                     {"gpus_per_shot": 1, "vae_tiling": True, "offload": "group", "group_offload": True},
                     {"gpus_per_shot": 1, "offload": "group", "vae_tiling": True, "vae_dtype": "bf16",
                      "group_offload": True, "vae_bf16": True},
                     {"gpus_per_shot": 1, "offload": "group", "weights_dtype": "fp8", "vae_tiling": True,
                      "vae_dtype": "bf16", "group_offload": True, "fp8_storage": True, "vae_bf16": True}]
    assert next_memory_rung("animatic", ShotLayout()) is None


def test_quantised_weights_keep_their_format_down_the_ladder():
    layout = ShotLayout.from_json({"gpus_per_shot": 1, **QUANTISED})
    while (lighter := next_memory_rung(A14B, layout)) is not None:
        layout = lighter
    assert layout.memory.weights_dtype == "GGUF Q4_K_M" and not layout.memory.fp8_storage
    assert layout.memory.group_offload and layout.memory.vae_bf16 and layout.memory.vae_tiling


def test_the_parallel_layout_is_the_one_the_plan_implies():
    planned = ShotLayout.from_json({"gpus_per_shot": 8, "cfg_parallel": True, "ulysses": 2, "fsdp": True,
                                    "experts_resident": "one_per_gpu", "vae_tiling": True})
    assert ParallelLayout.of_shot(planned) == ParallelLayout(world_size=8, cfg=2, ulysses=2, fsdp=True,
                                                             experts=2, vae="tiled")


def test_the_manifest_records_the_layout_the_worker_read_back(tmp_path, monkeypatch):
    """After running out of memory, each fresh worker opened the next rung's layout; the one that rendered
    the shot opened the layout the manifest records."""
    board, out = write_storyboard(tmp_path, shots=2), tmp_path / "out"
    echo = tmp_path / "opened.jsonl"
    monkeypatch.setenv("LAYOUT_ECHO", str(echo))
    monkeypatch.setenv("LAYOUT_OOM", "s02")
    jobs, models = jobs_for(board, out)
    planned = make_plan(load_storyboard(board), gpus="1x48GB", backend=A14B).shots[1].layout
    jobs[1].backend, jobs[1].layout = A14B, planned
    result = run_jobs(jobs, out, models, RunOptions(worker_command=ECHO_WORKER))
    assert result.rendered == ["s01", "s02"], result.failed
    opened = [json.loads(line) for line in echo.read_text().splitlines()]
    ladder = [planned]
    while not ladder[-1].memory.group_offload:
        ladder.append(next_memory_rung(A14B, ladder[-1]))
    assert opened == [["ShotLayout", {}]] + [["ShotLayout", layout.to_json()] for layout in ladder]
    shots = manifest(out)
    assert shots["s02"]["settings"]["memory"] == ladder[-1].to_json() and shots["s01"]["settings"]["memory"] == {}
    assert planned.memory.expert_swap and not ladder[-1].memory.expert_swap


def test_the_cache_key_leaves_the_layout_out(tmp_path):
    """A shot rendered on one machine is not rendered again on another that lays it out differently."""
    storyboard = load_storyboard(write_storyboard(tmp_path))
    plans = [make_plan(storyboard, gpus=gpus, backend=A14B, models_dir=tmp_path / "models")
             for gpus in ("1x24GB", "8xH100")]
    jobs = [build_jobs(storyboard, plan, tmp_path / "out", tmp_path / "models") for plan in plans]
    assert jobs[0][0].layout != jobs[1][0].layout
    assert [job.key for job in jobs[0]] == [job.key for job in jobs[1]]


def test_a_previous_runs_shots_still_count_as_rendered(tmp_path):
    board, out = write_storyboard(tmp_path), tmp_path / "out"
    jobs, models = jobs_for(board, out)
    assert run_jobs(jobs, out, models).rendered == ["s01", "s02", "s03"]
    data = json.loads((out / "manifest.json").read_text())
    for entry in data["shots"].values():
        entry["settings"]["memory"] = PREVIOUS_FORMAT
    (out / "manifest.json").write_text(json.dumps(data))
    jobs, models = jobs_for(board, out)
    again = run_jobs(jobs, out, models)
    assert again.rendered == [] and again.cached == ["s01", "s02", "s03"]
