"""The prompt stage: on-screen text out of prompts and into overlays; prompts shaped per backend."""

from render_pipeline.prompts.enhance import ShotPrompt, enhance_shot, enhance_storyboard, overlays_for_shot
from render_pipeline.prompts.onscreen_text import TextFindings, find_onscreen_text

__all__ = ["ShotPrompt", "TextFindings", "enhance_shot", "enhance_storyboard", "find_onscreen_text",
           "overlays_for_shot"]
