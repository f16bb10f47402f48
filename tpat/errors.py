"""The one exception family users see.

A `TpatError` is a *user* error: bad input, a model tpat cannot handle, a tool that failed. The CLI prints its
message without a traceback (exit 1). Anything else escaping is a bug in tpat: exit 70, the traceback under -v.
A bug in a task (maybe in a worker process) travels back as an `InternalError` carrying the original traceback,
so it is never mistaken for a user error on the way.
Messages say what went wrong, where (file, node, op type) and what to do.
"""

from __future__ import annotations


class TpatError(Exception):
    """A problem the user can act on. `hint` is the suggested fix, printed on its own line."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        assert message, "TpatError needs a message"
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class ModelError(TpatError):
    """The ONNX model is missing, unreadable or not what tpat can work on."""


class SelectionError(TpatError):
    """Node names, op types or plugin names that do not fit the model."""


class LoweringError(TpatError):
    """TVM could not import, schedule or compile a node."""


class BuildError(TpatError):
    """nvcc (or another external tool) failed."""


class SpecError(TpatError):
    """The YAML spec is invalid; `issues` carries one entry per problem with file:line:col."""

    def __init__(self, message: str, hint: str | None = None, issues: list | None = None):
        super().__init__(message, hint)
        self.issues = list(issues or [])


class InternalError(Exception):
    """A bug in tpat found where it cannot be raised as itself (a task in a worker process, a chain reported by
    the executor). `traceback_text` is the traceback of the original exception."""

    exit_code = 70

    def __init__(self, message: str, traceback_text: str = ""):
        super().__init__(message)
        self.message = message
        self.traceback_text = traceback_text
