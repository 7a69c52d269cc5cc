"""Many GPUs for one shot (FSDP2, Ulysses / ring, CFG parallel, one expert per GPU group) and
many shots at once (torchrun worker groups).

Import the submodules directly: ``layout`` and ``launch`` are torch-free for the planner and
runner; ``apply``, ``mesh`` and ``worker`` import torch and diffusers.
"""
