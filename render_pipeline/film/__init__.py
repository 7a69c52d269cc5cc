"""The film: plan, sound, shots through the runner, assembly (see render.py); render-shot --watch (watch.py)."""

from render_pipeline.film.render import render_all, render_shot

__all__ = ["render_all", "render_shot"]
