"""The benchmarks, each run from the repository's root as ``python -m benchmarks.<name>`` (docs/benchmarks.md).

harness.py is what they share: timing, the machine and software they ran on, and the one schema
of their results files. random_models.py builds the full-size models with random weights that the
GPU benchmarks measure (speed and memory do not depend on weight values).
"""
