"""A lowering's result (TVM's CUDA source, the launch plan, the completed signature) and how a lower task keeps it
in its cache entry: `<prefix>tvm.cu`, `plan.json`, `signature.json`, `const<i>.bin`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..ir.launch_plan import LaunchPlan
from ..ir.signature import Signature


@dataclass(frozen=True)
class Lowered:
    cuda_source: str
    launch_plan: LaunchPlan
    signature: Signature  # the input signature with output shapes completed from TVM's own shape inference


def write_lowered(lowered: Lowered, folder, prefix: str = "") -> None:
    """Persist a lowering (the lower task's cache entry): TVM's CUDA, the plan, the signature, constant bytes.
    `prefix` keeps several lowerings in one entry (a tuned plugin's symbolic and bucket kernel sets)."""
    folder = Path(folder)
    (folder / f"{prefix}tvm.cu").write_text(lowered.cuda_source)
    (folder / f"{prefix}plan.json").write_text(json.dumps(lowered.launch_plan.to_json(), indent=1, sort_keys=True))
    (folder / f"{prefix}signature.json").write_text(json.dumps(lowered.signature.to_json(), indent=1,
                                                               sort_keys=True))
    for i, c in enumerate(lowered.launch_plan.constants):
        (folder / f"{prefix}const{i}.bin").write_bytes(c.data)


def read_lowered(folder, prefix: str = "") -> Lowered:
    folder = Path(folder)
    sig = Signature.from_json(json.loads((folder / f"{prefix}signature.json").read_text()))
    plan = LaunchPlan.from_json(json.loads((folder / f"{prefix}plan.json").read_text()), sig.dim_names,
                                lambda i: (folder / f"{prefix}const{i}.bin").read_bytes())
    return Lowered((folder / f"{prefix}tvm.cu").read_text(), plan, sig)
