"""Progress display: an overall bar plus one line per running task (rich on a terminal, plain lines otherwise)."""

from __future__ import annotations

import sys
import threading


class Progress:
    """Receives (plugin, stage, status) events; status is start | done | cached | failed."""

    def __init__(self, total: int, enabled: bool = True):
        self.total = total
        self.enabled = enabled
        self.lock = threading.Lock()
        self.rich = None
        self.tasks: dict[tuple[str, str], object] = {}
        if enabled and sys.stderr.isatty():
            from rich.progress import BarColumn, Progress as RichProgress, TextColumn, TimeElapsedColumn

            self.rich = RichProgress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/"
                                     "{task.total}"), TimeElapsedColumn(), transient=True)
            self.overall = self.rich.add_task("tasks", total=max(total, 1))
            self.rich.start()

    def event(self, plugin: str, stage: str, status: str) -> None:
        if not self.enabled:
            return
        with self.lock:
            if self.rich is None:
                if status != "start":
                    print(f"  {stage:8} {plugin}: {status}", file=sys.stderr)
                return
            key = (plugin, stage)
            if status == "start":
                self.tasks[key] = self.rich.add_task(f"  {stage} {plugin}", total=None)
                return
            task = self.tasks.pop(key, None)
            if task is not None:
                self.rich.remove_task(task)
            self.rich.advance(self.overall)

    def close(self) -> None:
        if self.rich is not None:
            self.rich.stop()
