"""How a storyboard will be rendered on given GPUs: what fits, how, and how long (issue 8)."""

from render_pipeline.planner.plan import Plan, PlannedShot, make_plan

__all__ = ["Plan", "PlannedShot", "make_plan"]
