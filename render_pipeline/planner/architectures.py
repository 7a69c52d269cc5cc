"""The networks the planner weighs, by backend name, and what the VAE's decode modes do to their cost.

Each network's figures are in its backend's registry entry (backends/specs.py; what they mean,
and the arithmetic on them, in backends/architecture.py). The animatic has none: it is not here.
"""

from __future__ import annotations

from render_pipeline.backends.architecture import Architecture
from render_pipeline.backends.specs import SPECS

# Measured on an H200 (gpu-facts.md): tiling keeps about a fifth of the peak and takes 1.83x as long;
# bf16 halves the peak and takes 0.63x as long.
VAE_TILED_MEMORY = 0.2
VAE_TILED_TIME = 1.83
VAE_BF16_TIME = 0.63

ARCHITECTURES: dict[str, Architecture] = {
    name: spec.architecture for name, spec in SPECS.items() if spec.architecture is not None
}
