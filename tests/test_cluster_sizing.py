"""GPUs per shot sized from what a cluster reports (sinfo's gres, Ray's node resources), without a cluster."""

from pathlib import Path

import pytest

from render_pipeline.errors import UserError
from render_pipeline.film import render_all
from render_pipeline.planner.gpus import CATALOGUE, generic_gpu
from render_pipeline.planner.plan import make_plan
from render_pipeline.runner import RunResult
from render_pipeline.runner.executors.cluster import ClusterExecutor
from render_pipeline.runner.executors.node_gpus import NodeGpus, gpus_to_plan_for, ray_node_gpus, sinfo_node_gpus
from render_pipeline.storyboard import load_storyboard
from tests.test_runner_faults import write_storyboard

WAN_14B = "wan2.2-t2v-a14b"


def nobody_here() -> list:
    return []


def test_sinfo_gres_lines_give_each_kind_of_node_its_gpus_and_model():
    printed = "(null)\ngpu:8\ngpu:h100:8(S:0-1)\ngpu:a100:4(S:0-1),shard:8\ngpu:a100:2,gpu:v100:2\ngpu:l40s\n"
    assert sinfo_node_gpus(printed) == [NodeGpus(0, None), NodeGpus(8, None), NodeGpus(8, "h100"),
                                        NodeGpus(4, "a100"), NodeGpus(4, None), NodeGpus(1, "l40s")]
    assert sinfo_node_gpus("") == []


def test_ray_nodes_give_alive_nodes_gpus_and_accelerator_type():
    nodes = [
        {"Alive": True, "Resources": {"CPU": 8.0, "memory": 3e10, "node:10.0.0.1": 1.0}},
        {"Alive": True, "Resources": {"CPU": 96.0, "GPU": 8.0, "accelerator_type:H100": 1.0}},
        {"Alive": False, "Resources": {"CPU": 96.0, "GPU": 16.0, "accelerator_type:B200": 1.0}},
        {"Alive": True, "Resources": {"CPU": 32.0, "GPU": 4.0}},
    ]
    assert ray_node_gpus(nodes) == [NodeGpus(0, None), NodeGpus(8, "H100"), NodeGpus(4, None)]


def test_the_plan_is_made_for_the_largest_node_with_the_model_the_cluster_reports():
    gpus, said = gpus_to_plan_for([NodeGpus(4, "A100-80G"), NodeGpus(8, "H100"), NodeGpus(0, None)], "ray",
                                  nobody_here)
    assert gpus == [CATALOGUE["H100"]] * 8
    assert said == "planning for the ray cluster's largest node: 8x H100"
    # Nodes of that size with different cards: the smallest card, so a shot fits wherever it lands.
    gpus, _ = gpus_to_plan_for([NodeGpus(8, "h100"), NodeGpus(8, "a100-40g")], "slurm", nobody_here)
    assert gpus == [CATALOGUE["A100 40GB"]] * 8


def test_an_unreported_model_is_taken_from_this_machine_or_must_be_named():
    here = [generic_gpu(24.0)]
    gpus, said = gpus_to_plan_for([NodeGpus(8, None)], "slurm", lambda: here)
    assert gpus == here * 8
    assert "does not report their model" in said and "like this machine's 24 GB GPU" in said
    _, said = gpus_to_plan_for([NodeGpus(4, "v100")], "slurm", lambda: here)
    assert "reports the model as v100, which the planner does not know" in said
    with pytest.raises(UserError, match=r"has 8 GPUs but does not report their model.*--gpus 8xH100"):
        gpus_to_plan_for([NodeGpus(8, None)], "slurm", nobody_here)
    assert gpus_to_plan_for([NodeGpus(0, None)], "ray", nobody_here)[0] == []


class FakeCluster(ClusterExecutor):
    """An executor that reports nodes and keeps the jobs it is given instead of running them."""

    name = "fake"

    def __init__(self, nodes: list[NodeGpus]):
        self.reported = nodes
        self.jobs = []

    def nodes(self) -> list[NodeGpus]:
        return self.reported

    def run_waves(self, waves, out_dir: Path, models_dir: Path, options) -> RunResult:
        self.jobs = [job for wave in waves for job in wave]
        return RunResult(out_dir=out_dir, rendered=[job.id for job in self.jobs])


def gpus_per_shot(cluster: FakeCluster, board: Path, out: Path, **options) -> set[int]:
    render_all(load_storyboard(board), out, backend=WAN_14B, assemble=False, executor=cluster, **options)
    return {job.gpus_per_shot for job in cluster.jobs}


def planned_gpus_per_shot(board: Path, gpus: str) -> set[int]:
    """What `render-pipeline plan --gpus GPUS` chooses."""
    return {shot.gpus_per_shot for shot in make_plan(load_storyboard(board), gpus=gpus, backend=WAN_14B).shots}


def test_render_all_sizes_gpus_per_shot_from_the_cluster_unless_gpus_are_given(tmp_path, capsys):
    board = write_storyboard(tmp_path, shots=2)
    expected = {gpus: planned_gpus_per_shot(board, gpus) for gpus in ("8xH100", "4xA6000", "1xH100")}
    assert len({min(k) for k in expected.values()}) == 3  # the three plans differ, so the test can tell them apart
    big = FakeCluster([NodeGpus(8, "H100"), NodeGpus(4, "A6000")])
    assert gpus_per_shot(big, board, tmp_path / "a") == expected["8xH100"]
    assert "planning for the fake cluster's largest node: 8x H100" in capsys.readouterr().out
    assert gpus_per_shot(FakeCluster([NodeGpus(4, "A6000")]), board, tmp_path / "b") == expected["4xA6000"]
    assert "largest node: 4x A6000" in capsys.readouterr().out
    assert gpus_per_shot(big, board, tmp_path / "c", gpus="1xH100") == expected["1xH100"]
    assert "planning for" not in capsys.readouterr().out


@pytest.mark.needs("cluster")
def test_an_address_no_ray_cluster_answers_at_is_refused_at_once():
    import time

    from render_pipeline.runner.executors.ray_cluster import RayExecutor

    began = time.monotonic()
    for address in ("127.0.0.1:1", "ray://127.0.0.1:1"):
        with pytest.raises(UserError, match=r"cannot reach the Ray cluster at .*127\.0\.0\.1:1: nothing answers at "
                                            r"127\.0\.0\.1:1 .*ray start --head"):
            RayExecutor(address).nodes()
    assert time.monotonic() - began < 10  # ray.init alone would retry such an address for minutes
