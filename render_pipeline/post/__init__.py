"""Post-production: conform, transitions, overlays, soundtrack, and the exports beside the film."""

from render_pipeline.post.assemble import AssemblyResult, assemble

__all__ = ["AssemblyResult", "assemble"]
