"""The order shots render in: the storyboard's, with the shots of one LoRA set brought together."""

from __future__ import annotations

from render_pipeline.runner.jobs import Job


def grouped_by_lora_set(jobs: list[Job]) -> list[Job]:
    """``jobs`` with the shots that use the same LoRA set one after another, sets in order of first use.

    A worker fuses a set into its weights once for a run of shots that share it and takes it out
    again for the next set (backends/lora_fuse.py), so grouping saves those switches. A shot still
    never comes before the shot it continues from: it then waits for a later group of its set.
    """
    pending = list(jobs)
    ordered: list[Job] = []
    while pending:
        lora_set = pending[0].request.loras  # the first pending shot's upstream, if any, is already placed
        waiting = {id(job) for job in pending}
        later = []
        for job in pending:
            if job.request.loras == lora_set and (job.continues is None or id(job.continues) not in waiting):
                ordered.append(job)
                waiting.discard(id(job))
            else:
                later.append(job)
        pending = later
    return ordered
