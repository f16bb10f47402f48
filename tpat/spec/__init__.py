"""The declarative spec (`config.yaml`): typed models, a loader with file:line:col errors, and resolution.

    from tpat.spec import load_spec, resolve_spec
    spec = load_spec("config.yaml")          # SpecError on any problem, with .issues
    for model in resolve_spec(spec).models:  # defaults merged, paths absolute, globs expanded
        ...

The JSON Schema lives in `tpat.spec.schema` (run it as a module to print it).
"""

from .origin import SpecIssue
from .load import load_spec, load_spec_text, spec_from_data
from .model import DimRange, Executor, ModelSpec, Settings, Spec, Targets, Tolerance, Tuning
from .resolve import DEFAULT_TOLERANCE, ResolvedModel, ResolvedSpec, ResolvedTargets, resolve_spec

__all__ = [
    "DEFAULT_TOLERANCE", "DimRange", "Executor", "ModelSpec", "ResolvedModel", "ResolvedSpec", "ResolvedTargets",
    "Settings", "Spec", "SpecIssue", "Targets", "Tolerance", "Tuning", "load_spec", "load_spec_text",
    "resolve_spec", "spec_from_data",
]
