"""What the tests build their inputs from, and the benchmarks theirs: tiny models, weights files as
users have them, synthetic clips, prompt corpora."""
