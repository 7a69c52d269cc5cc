"""What GPUs a cluster's nodes have, as its engine reports them, and the GPUs a plan is then made for.

Every shot task runs on one node, so the plan is made for one node: the largest, since a task
holding k GPUs can only go to a node with at least k. Plain functions of what Ray or sinfo
printed, so they are tested without a cluster.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from render_pipeline.errors import UserError
from render_pipeline.planner.gpus import Gpu, gpu_reported_as


@dataclass(frozen=True)
class NodeGpus:
    count: int
    model: str | None  # as the engine names it ("H100", "a100"); None when it does not say


def ray_node_gpus(nodes: list[dict]) -> list[NodeGpus]:
    """From ``ray.nodes()``: each alive node's "GPU" resource, and the "accelerator_type:NAME" Ray adds."""
    found = []
    for node in nodes:
        if not node.get("Alive"):
            continue
        resources = node.get("Resources", {})
        models = [name.partition(":")[2] for name in resources if name.startswith("accelerator_type:")]
        found.append(NodeGpus(int(resources.get("GPU", 0)), models[0] if models else None))
    return found


def sinfo_node_gpus(text: str) -> list[NodeGpus]:
    """From ``sinfo -h -o %G``: one line of generic resources per kind of node.

    A line is "(null)", "gpu:8", "gpu:h100:8", "gpu:a100:4(S:0-1)" or a comma-separated mix
    such as "gpu:a100:2,shard:8"; a node with GPUs of two types has no one model.
    """
    nodes = []
    for gres in text.split():
        count, models = 0, set()
        for item in re.sub(r"\([^)]*\)", "", gres).split(","):  # "(S:0-1)": the sockets, not wanted
            parts = item.split(":")
            if parts[0] != "gpu":
                continue
            if len(parts) == 1:
                count += 1
            elif parts[-1].isdigit():
                count += int(parts[-1])
                models.update(parts[1:-1])
            else:
                count += 1
                models.add(parts[1])
        nodes.append(NodeGpus(count, models.pop() if len(models) == 1 else None))
    return nodes


def most_gpus(nodes: list[NodeGpus]) -> int:
    return max((node.count for node in nodes), default=0)


def gpus_to_plan_for(nodes: list[NodeGpus], cluster: str,
                     this_machine: Callable[[], list[Gpu]]) -> tuple[list[Gpu], str]:
    """The GPUs of the cluster's largest node, and a line saying what was assumed.

    The model is the one the engine reports (the smallest card, when nodes of that size differ);
    when it reports none, this machine's GPU model is taken, as the launching machine is
    usually one of the workers' kind; with no GPU here either, the user must name it.
    """
    count = most_gpus(nodes)
    if count == 0:
        return [], f"planning for the {cluster} cluster: no node reports a GPU"
    reported = [gpu_reported_as(node.model) for node in nodes if node.count == count and node.model]
    known = [gpu for gpu in reported if gpu is not None]
    if known:
        gpu = min(known, key=lambda card: card.memory_gib)
        return [gpu] * count, f"planning for the {cluster} cluster's largest node: {count}x {gpu.name}"
    names = sorted({node.model for node in nodes if node.count == count and node.model})
    what = f"reports the model as {', '.join(names)}, which the planner does not know" if names else \
        "does not report their model"
    here = this_machine()
    if not here:
        raise UserError(f"the {cluster} cluster's largest node has {count} GPUs but {what}, and this machine has "
                        f"no GPU to go by: name them with --gpus, e.g. --gpus {count}xH100 or --gpus {count}x80GB")
    return [here[0]] * count, (f"planning for the {cluster} cluster's largest node: {count} GPUs; the cluster {what}, "
                               f"so they are taken to be like this machine's {here[0].name} (--gpus to say otherwise)")
