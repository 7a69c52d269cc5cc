"""How a storyboard will be rendered on given GPUs: what fits, how, and how long (issue 8)."""

from render_pipeline.planner.plan import make_plan
from render_pipeline.planner.plan_types import Plan, PlannedShot

__all__ = ["Plan", "PlannedShot", "make_plan"]
