"""Read the launch plan out of TVM's lowered IR (relax `main` after memory planning + host/device-split TIR).

Relax side (here): `main` is a flat list of `alloc_storage`/`alloc_tensor` bindings and PrimFunc calls
(destination passing: outputs last); a multi-output PrimFunc's results are a tuple taken apart by
`TupleGetItem`. Each call argument is classified as a graph input, a graph output, a workspace slice (a planned
storage + byte offset), or a baked-in constant. An output TVM does not compute into a fresh buffer of its own
(the input of an identity, a constant, an intermediate buffer, another output) is copied into place after the
kernels (`LaunchPlan.copies`).

TIR side (`kernel_launches`): the kernel launches of each called PrimFunc, their grid, block and arguments.
"""

from __future__ import annotations

from ..errors import LoweringError
from ..ir import expr as E
from ..ir.launch_plan import Buffer, Constant, Copy, LaunchPlan
from ..ir.signature import Signature
from . import tvm_ir
from .kernel_launches import HostLaunches, Slot as _Slot, itemsize as _itemsize, placed
from .tvm_ir import key, to_expr

WORKSPACE_ALIGN = 256
_VIEWS = {"vm.builtin.reshape", "relax.reshape"}  # reinterpret a tensor's shape: CumSum's 2-D view, InstanceNorm


def _align(size: E.Expr) -> E.Expr:
    return E.op("mul", E.op("ceildiv", size, WORKSPACE_ALIGN), WORKSPACE_ALIGN)


class LaunchPlanReader(HostLaunches):
    def __init__(self, main, host_device, sig: Signature, what: str):
        self.main = main
        self.tir = host_device
        self.sig = sig
        self.what = what
        self.dim_index = {d.name: i for i, d in enumerate(sig.dims)}
        self.env: dict[int, E.Expr] = {}  # relax symbolic vars -> expressions of the plugin dims
        self.slots: dict[int, _Slot] = {}
        self.storages: list[E.Expr] = []  # byte sizes, in allocation order
        self.fresh: list[tuple[int, object]] = []  # (relax var key, shape) of unplanned allocations
        self.constants: list[Constant] = []
        self.const_keys: dict[int, int] = {}
        self.calls: list[tuple[str, list, list[_Slot | None]]] = []
        self.tuples: dict[int, list] = {}  # relax tuple vars -> their fields
        self.copies: list[tuple[int, _Slot, object]] = []  # (output, source slot, the relax value returned)

    def fail(self, why: str, hint: str | None = None):
        raise LoweringError(f"node {self.what}: {why}", hint=hint)

    # ---- relax side -------------------------------------------------------------------------------------------
    def read(self) -> LaunchPlan:
        self._bind_params()
        for block in self.main.body.blocks:  # none at all when TVM folded the node into a constant
            for binding in block.bindings:
                self._binding(binding.var, binding.value)
        self._bind_outputs(self.main.body.body)
        raw = [k for name, args, slots in self.calls for k in self._kernels(name, args, slots)]
        buffers = self._buffers()  # after the kernels: a PrimFunc's own temporaries are storages too
        kernels = [placed(k, buffers) for k in raw]
        workspace = 0
        for b in buffers:
            workspace = E.op("add", workspace, _align(b.size))
        return LaunchPlan(tuple(kernels), tuple(buffers), tuple(self.constants), workspace,
                          tuple(self._copy(i, slot, value, buffers) for i, slot, value in self.copies))

    def _dim_of(self, var) -> E.Expr | None:
        i = self.dim_index.get(var.name)
        return None if i is None else E.Dim(i, var.name)

    def _relax_expr(self, prim) -> E.Expr:
        try:
            return to_expr(prim, lambda v: self.env.get(key(v)) or self._dim_of(v))
        except tvm_ir.UnsupportedExpr as exc:
            self.fail(f"a size depends on something other than the declared dims ({exc})",
                      hint="declare every dynamic dim of the node's inputs in `dynamic:` / -dynamic")

    def _bind_params(self):
        names = [t.name for t in self.sig.inputs]
        for param in self.main.params:
            if param.name not in names:
                self.fail(f"TVM's graph input {param.name!r} is not in the plugin signature {names}")
            self.slots[key(param)] = _Slot("input", names.index(param.name))

    def _binding(self, var, value):
        import tvm
        from tvm import relax

        if isinstance(value, relax.Var):
            if key(value) in self.slots:
                self.slots[key(var)] = self.slots[key(value)]
            if key(value) in self.tuples:
                self.tuples[key(var)] = self.tuples[key(value)]
            return
        if isinstance(value, relax.Tuple):  # several outputs (a fused group): returned as one tuple
            self.tuples[key(var)] = list(value.fields)
            return
        if isinstance(value, relax.TupleGetItem):  # one output of a multi-output PrimFunc (Split, TopK)
            fields = self.tuples.get(key(value.tuple_value))
            if fields is None:
                self.fail(f"{var.name} takes item {value.index} of a tuple tpat cannot trace")
            field = fields[value.index]
            if key(field) in self.slots:
                self.slots[key(var)] = self.slots[key(field)]
            if key(field) in self.tuples:
                self.tuples[key(var)] = self.tuples[key(field)]
            return
        if _is_constant(value):  # a node TVM folded to a constant (Constant, Size, ConstantOfShape)
            self.slots[key(var)] = self._arg_slot(value)
            return
        if not isinstance(value, relax.Call):
            self.fail(f"unexpected relax binding {var.name} = {type(value).__name__}")
        if isinstance(value.op, tvm.ir.GlobalVar):
            slots = [self._arg_slot(a) for a in value.args]
            self.calls.append((value.op.name_hint, list(value.args), slots))
            return
        op = getattr(value.op, "name", None) or str(getattr(value.op, "global_symbol", type(value.op).__name__))
        if op == "relax.memory.alloc_storage":
            self.storages.append(self._relax_expr(value.args[0].values[0]))
            self.slots[key(var)] = _Slot("storage", len(self.storages) - 1)
        elif op == "relax.memory.alloc_tensor":
            storage = self.slots[key(value.args[0])]
            offset = self._relax_expr(getattr(value.args[1], "value", value.args[1]))
            self.slots[key(var)] = _Slot("workspace", storage.index, offset)
        elif op in _VIEWS:  # the same bytes under another shape: the tensor's own slot
            source = self.slots.get(key(value.args[0]))
            if source is None:
                self.fail(f"{var.name} reshapes a tensor tpat cannot trace")
            self.slots[key(var)] = source
        elif op == "relax.builtin.alloc_tensor":
            self.fresh.append((key(var), value))
            self.slots[key(var)] = _Slot("fresh", len(self.fresh) - 1)
        else:
            self.fail(f"TVM lowers it to a call of its runtime function {op!r}; a plugin cannot call into the TVM "
                      "runtime (typically a data-dependent output shape or an external library kernel)",
                      hint="leave this node to TensorRT")

    def _arg_slot(self, arg) -> _Slot | None:
        from tvm import relax

        if isinstance(arg, relax.Var) and type(getattr(arg, "ty", None)).__name__ == "PrimType":
            return None  # a scalar (a dim passed by value: GatherElements' shape_to_tensor(batch)): TIR side
        if isinstance(arg, relax.Var):
            if key(arg) not in self.slots:
                self.fail(f"kernel argument {arg.name} has no known storage")
            return self.slots[key(arg)]
        if _is_constant(arg):
            if key(arg) not in self.const_keys:
                array = _constant_value(arg).numpy()
                self.const_keys[key(arg)] = len(self.constants)
                self.constants.append(Constant(f"const{len(self.constants)}", str(array.dtype),
                                               tuple(int(s) for s in array.shape), array.tobytes()))
            return _Slot("constant", self.const_keys[key(arg)])
        return None  # shape / prim-value arguments: handled as scalars on the TIR side

    def _bind_outputs(self, ret):
        from tvm import relax

        outs = list(ret.fields) if isinstance(ret, relax.Tuple) else self.tuples.get(key(ret), [ret])
        if len(outs) != len(self.sig.outputs):
            self.fail(f"TVM returns {len(outs)} outputs, the node has {len(self.sig.outputs)}")
        for i, out in enumerate(outs):
            slot = self._arg_slot(out) if _is_constant(out) else self.slots.get(key(out))
            if slot is None:
                self.fail(f"output {i} ({type(out).__name__}) is not a tensor tpat can trace to a buffer")
            if slot.kind == "fresh" and not isinstance(self.fresh[slot.index][1], tuple):
                self.fresh[slot.index] = (self.fresh[slot.index][0], ("output", i))
            else:  # an input, a constant, an intermediate buffer, or another output: copied after the kernels
                self.copies.append((i, slot, out))
        self._remap_fresh()
        self.copies = [(i, self._remapped(slot), out) for i, slot, out in self.copies]

    def _remap_fresh(self):
        """Outputs take the fresh allocations that are returned; any other fresh allocation becomes a buffer."""
        extra = {}
        for i, (var_key, what) in enumerate(self.fresh):
            if isinstance(what, tuple):
                extra[i] = _Slot("output", what[1])
            else:
                shape = [self._relax_expr(s) for s in what.args[0].values]
                size = _itemsize(str(what.args[1].value))
                for s in shape:
                    size = E.op("mul", size, s)
                self.storages.append(size)
                extra[i] = _Slot("workspace", len(self.storages) - 1, 0)
        for k, slot in list(self.slots.items()):
            if slot.kind == "fresh":
                self.slots[k] = extra[slot.index]
        self.calls = [(n, a, [extra[s.index] if s and s.kind == "fresh" else s for s in slots])
                      for n, a, slots in self.calls]

    def _remapped(self, slot: _Slot) -> _Slot:
        if slot.kind == "fresh":
            what = self.fresh[slot.index][1]
            return _Slot("output", what[1]) if isinstance(what, tuple) else slot
        return slot

    def _copy(self, output: int, slot: _Slot, value, buffers: list[Buffer]) -> Copy:
        """Output `output` filled from `slot`: as many bytes as the returned tensor has."""
        if slot.kind == "constant":
            nbytes = self.constants[slot.index].nbytes
        else:
            ty = getattr(value, "struct_info", None) or getattr(value, "ty", None)
            shape = getattr(getattr(ty, "shape", None), "values", None)
            if shape is None:
                self.fail(f"output {output} has no shape TVM can tell; a plugin needs one")
            nbytes = _itemsize(str(ty.dtype))
            for s in shape:
                nbytes = E.op("mul", nbytes, self._relax_expr(s))
        if slot.kind == "workspace":
            return Copy(output, "workspace", offset=E.op("add", buffers[slot.index].offset, slot.offset),
                        nbytes=nbytes)
        if slot.kind not in ("input", "constant", "output"):
            self.fail(f"output {output} aliases a tensor tpat cannot trace ({slot.kind})")
        return Copy(output, slot.kind, slot.index, nbytes=nbytes)

    def _buffers(self) -> list[Buffer]:
        buffers, offset = [], 0
        for size in self.storages:
            buffers.append(Buffer(offset, size))
            offset = E.op("add", offset, _align(size))
        return buffers

def _constant_value(expr):
    for name in ("data", "value"):
        value = getattr(expr, name, None)
        if value is not None and hasattr(value, "numpy"):
            return value
    return None


def _is_constant(expr) -> bool:
    """A relax constant (`R.const`, or a tensor TVM keeps in its metadata)."""
    return type(expr).__name__ in ("Constant", "GenericConst") and _constant_value(expr) is not None
