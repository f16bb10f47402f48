"""The task graph: plain objects the executor runs and `tpat plan` prints. No onnx, no TVM here.

Words, each for one thing: the *task graph* is what the planner makes (per plugin, a chain of cached tasks; per
model, the nodes it rewrites); a plugin's *launch plan* is the kernels it launches and how (`tpat.ir.launch_plan`);
a TensorRT *engine* is what TensorRT builds from a rewritten model (`tpat check-trt --save-engine`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from ..arch import oldest
from ..ir.signature import Signature
from ..layout import PluginLayout

STAGES = ("tune", "lower", "codegen", "build", "validate")


@dataclass(frozen=True)
class TaskSpec:
    """One cached task: its stage, its key, and the named inputs the key hashes (to explain why it reruns)."""

    stage: str
    key: str
    inputs: Mapping[str, object]


@dataclass(frozen=True)
class Upstream:
    """What a stage's `run(plugin, workdir, upstream)` gets besides the plugin: the cache entries of the stages
    before it in the chain (stage -> folder) and the TensorRT headers of this machine (None: no IPluginV3 library
    is generated or built, only the kernels library)."""

    entries: Mapping[str, Path]
    trt_include: Path | None = None


@dataclass(frozen=True)
class NodeRef:
    """A node of a model that becomes (or reuses) a plugin, with the tensors the plugin node will use."""

    model: int
    node_index: int
    node_name: str
    op_type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    folded: tuple[str, ...]
    input_casts: tuple[tuple[int, int], ...] = ()  # dtype policy: (plugin input, dtype it takes)
    output_casts: tuple[tuple[int, int], ...] = ()  # (output, dtype the model declares)
    fused: tuple[int, ...] = ()  # other nodes of a fused group (removed by the rewrite)


@dataclass
class PluginTasks:
    name: str
    op_type: str
    subgraph: bytes
    signature: Signature
    arch: tuple[str, ...]
    validate: bool
    tolerance: Mapping[str, tuple[float, float]]
    trials: int
    reference: bytes | None = None  # the node at the model's precision, when the dtype policy changed it
    records_dir: str | None = None  # tuning records kept beside the outputs (imported without a GPU)
    records_key: str | None = None  # the key tuning records carry (tune.json): which search made them
    notes: list[str] = field(default_factory=list)  # planning remarks `tpat plan` shows (e.g. tuning skipped)
    content: str = ""  # digest of what the plugin computes (subgraph, signature, archs): who may share its name
    models: list[str] = field(default_factory=list)  # output models using it, relative to the output folder
    nodes: list[NodeRef] = field(default_factory=list)
    tasks: dict[str, TaskSpec] = field(default_factory=dict)

    @property
    def lowering_arch(self) -> str:
        """The arch TVM lowers for: the oldest of the list, so the CUDA source runs on every arch built."""
        return oldest(self.arch)

    def runs_on_gpu(self, stage: str) -> bool:
        """Whether building this stage's entry needs a GPU: validation always, tuning when it searches (records
        imported from beside the outputs need none). Executors that place tasks (Dask) ask it."""
        return stage == "validate" or (stage == "tune" and self.records_dir is None)

    def describe_node(self) -> str:
        n = self.nodes[0]
        return f"'{n.node_name}' ({n.op_type})"


@dataclass
class ModelTasks:
    index: int
    source: Path
    output: Path
    sha256: str = ""
    nodes: list[tuple[NodeRef, str]] = field(default_factory=list)  # (node, plugin name)
    error: str | None = None
    check_trt: bool = False  # run TensorRT-RTX's parser + builder on the rewritten model
    validate: bool = False  # run the rewritten model whole on the GPU against the original (`tpat.runtime`)
    dynamic: dict = field(default_factory=dict)  # dim name -> (min, opt, max), for the whole-model check
    exception: Exception | None = field(default=None, repr=False)  # the original, for the Python API to re-raise


@dataclass
class TaskGraph:
    spec_file: Path | None
    output_dir: Path
    plugin_dir: Path
    cache_dir: Path
    jobs: int
    versions: dict[str, str]
    models: list[ModelTasks] = field(default_factory=list)
    plugins: dict[str, PluginTasks] = field(default_factory=dict)
    gpu: str | None = None  # device fingerprint when validation can run here
    warnings: list[str] = field(default_factory=list)  # what the user must know before trusting the outputs

    @property
    def layout(self) -> PluginLayout:
        return PluginLayout(self.plugin_dir)

    def tasks(self) -> list[tuple[PluginTasks, TaskSpec]]:
        return [(p, p.tasks[s]) for p in self.plugins.values() for s in STAGES if s in p.tasks]
