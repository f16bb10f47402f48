"""The planner: a resolved spec -> its task graph (plugins deduplicated across nodes and models, and their tasks)."""

from .build import build_task_graph
from .task_graph import ModelTasks, NodeRef, TaskGraph, PluginTasks, TaskSpec

__all__ = ["build_task_graph", "TaskGraph", "PluginTasks", "ModelTasks", "NodeRef", "TaskSpec"]
