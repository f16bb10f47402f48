"""The planner: a resolved spec -> one plan of plugins (deduplicated across nodes and models) and their tasks."""

from .build import build_plan
from .model import ModelPlan, NodeRef, Plan, PluginPlan, TaskSpec

__all__ = ["build_plan", "Plan", "PluginPlan", "ModelPlan", "NodeRef", "TaskSpec"]
