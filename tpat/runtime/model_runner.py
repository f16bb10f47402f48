"""Run a rewritten model: segments in onnxruntime, plugin nodes through a plugin backend, in partition order."""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..errors import TpatError
from ..graph.partition import Partition, PluginStep, partition
from .segments import declared_types, providers, segment_model, session

Plugin = Callable[[Sequence[np.ndarray]], list]


class ModelRunner:
    """`plugins`: plugin name -> callable (inputs -> outputs), e.g. from `tpat.runtime.plugins.load_plugins`."""

    def __init__(self, model: onnx.ModelProto, plugins: Mapping[str, Plugin], provider_list: list[str] | None = None):
        self.model = model
        self.partition: Partition = partition(model.graph)
        missing = sorted({s.plugin for s in self.partition.plugins} - set(plugins))
        if missing:
            raise TpatError(f"no runner for plugin(s) {', '.join(missing)}")
        self.plugins = dict(plugins)
        self.providers = provider_list or providers()
        types = declared_types(model)
        for step in self.partition.plugins:  # plugin outputs: the model may not declare them
            sig = getattr(self.plugins[step.plugin], "files", None)
            if sig is not None:
                for name, t in zip(step.outputs, sig.signature.outputs):
                    elem = helper.np_dtype_to_tensor_dtype(np.dtype("float32" if t.dtype.name == "bfloat16"
                                                                    else t.dtype.name))
                    types.setdefault(name, helper.make_tensor_type_proto(elem, None))
        self.sessions = {}
        for step in self.partition.steps:
            if not isinstance(step, PluginStep):
                self.sessions[step.depth] = session(segment_model(model, step, types), self.providers)
        self._constants = {t.name: t for t in model.graph.initializer}
        self.tensors: dict[str, np.ndarray] = {}  # every tensor of the last run that crossed a step's border

    @property
    def session_count(self) -> int:
        return len(self.sessions)

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Graph outputs by name, in the model's order; `self.tensors` keeps the plugin steps' inputs and outputs."""
        store: dict[str, np.ndarray] = dict(feeds)
        for step in self.partition.steps:
            if isinstance(step, PluginStep):
                ins = [self._tensor(store, name) for name in step.inputs]
                try:
                    outs = self.plugins[step.plugin](ins)
                except TpatError as exc:
                    raise TpatError(f"plugin node {step.node_name!r} ({step.plugin}): {exc.message}", exc.hint) from exc
                store.update(zip(step.outputs, outs))
            else:
                sess = self.sessions[step.depth]
                results = sess.run(step.outputs, {name: self._tensor(store, name) for name in step.inputs})
                store.update(zip(step.outputs, results))
        self.tensors = store
        return {o.name: self._tensor(store, o.name) for o in self.model.graph.output}

    def _tensor(self, store: dict, name: str) -> np.ndarray:
        if name not in store:
            if name not in self._constants:
                raise TpatError(f"tensor {name!r} is needed but no step made it")
            store[name] = numpy_helper.to_array(self._constants[name])
        return store[name]

    def close(self) -> None:
        for p in self.plugins.values():
            close = getattr(p, "close", None)
            if close:
                close()
