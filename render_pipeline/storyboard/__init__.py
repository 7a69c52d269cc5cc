"""The storyboard stage: load a YAML file with line numbers, validate it, resolve defaults."""

from render_pipeline.storyboard.resolve import load_storyboard
from render_pipeline.storyboard.resolved import Cue, LoraUse, Shot, Storyboard, slugify
from render_pipeline.storyboard.yaml_source import Problem, StoryboardError

__all__ = ["Cue", "LoraUse", "Problem", "Shot", "Storyboard", "StoryboardError", "load_storyboard", "slugify"]
