"""Multi-GPU layouts the workers run are chosen when they are the faster fitting way."""

import json

import pytest
from typer.testing import CliRunner

from render_pipeline.cli import app
from tests.test_planner_plan import _storyboard


def _plan_json(board, *args) -> dict:
    result = CliRunner().invoke(app, ["plan", str(board), *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize("shots, per_shot, groups", [(1, 2, 1), (8, 1, 2)])
def test_two_h200_run_wan_a14b_720p_the_faster_fitting_way(tmp_path, shots, per_shot, groups):
    plan = _plan_json(_storyboard(tmp_path, shots=shots), "--gpus", "2xH200", "--host-ram", "512GB")
    backend = next(b for b in plan["backends"] if b["name"] == "wan2.2-t2v-a14b")
    chosen = backend["candidates"][backend["chosen"]]
    runnable = [c for c in backend["candidates"] if c["fits"] and c["implemented"] and c["exact"]]
    assert chosen["film_seconds"] == min(c["film_seconds"] for c in runnable)
    # One shot: both GPUs on it (CFG parallel); a film of many: a shot per GPU, two at once.
    assert (chosen["gpus_per_shot"], chosen["concurrent_groups"]) == (per_shot, groups)
    if per_shot == 2:
        assert chosen["cfg_parallel"]
    assert plan["concurrent_groups"] == groups
    assert all(shot["gpus_per_shot"] == per_shot for shot in plan["shots"])


def test_only_layouts_the_workers_run_are_marked_implemented(tmp_path):
    plan = _plan_json(_storyboard(tmp_path), "--gpus", "2xH200", "--host-ram", "512GB")
    candidates = next(b for b in plan["backends"] if b["name"] == "wan2.2-t2v-a14b")["candidates"]
    multi = [c for c in candidates if c["gpus_per_shot"] == 2]
    assert {c["implemented"] for c in multi if c["ring"] > 1 or c["weights_dtype"] == "fp8"
            or c["offload"] != "none"} == {False}
    implemented = {(c["cfg_parallel"], c["ulysses"], c["fsdp"], c["experts_resident"]) for c in multi
                   if c["implemented"]}
    assert implemented == {(True, 1, False, "both"), (True, 1, True, "both"), (False, 2, False, "both"),
                           (False, 2, True, "both"), (False, 1, False, "one_per_gpu")}
