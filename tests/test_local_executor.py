"""Local execution is an executor like Ray and Slurm: render_all's default, and make_executor("local")."""

from __future__ import annotations

from render_pipeline.film import render_all
from render_pipeline.runner.executors import make_executor
from render_pipeline.runner.executors.local import LocalExecutor
from render_pipeline.storyboard import load_storyboard
from tests.test_runner_faults import write_storyboard


def test_make_executor_local_gives_the_local_executor_planning_for_this_machine():
    local = make_executor("local")
    assert isinstance(local, LocalExecutor) and local.name == "local"
    assert local.plan_gpus() == ("auto", None)  # make_plan detects the GPUs and RAM itself, as before


def test_render_all_runs_its_shots_through_the_local_executor_by_default(tmp_path, monkeypatch):
    given = []
    real_run = LocalExecutor.run

    def spy(self, jobs, *args):
        given.append([job.id for job in jobs])
        return real_run(self, jobs, *args)

    monkeypatch.setattr(LocalExecutor, "run", spy)
    board = write_storyboard(tmp_path, shots=2)
    result = render_all(load_storyboard(board), tmp_path / "out", assemble=False, quiet=True)
    assert given == [["s01", "s02"]]  # one call, with every job
    assert result.rendered == ["s01", "s02"] and not result.failed
