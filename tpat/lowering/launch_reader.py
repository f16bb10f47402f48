"""Read the launch plan out of TVM's lowered IR (relax `main` after memory planning + host/device-split TIR).

Relax side: `main` is a flat list of `alloc_storage`/`alloc_tensor` bindings and PrimFunc calls (destination
passing: outputs last). Each call argument is classified as a graph input, a graph output, a workspace slice
(a planned storage + byte offset), or a baked-in constant.

TIR side: each called PrimFunc's host half holds `call_ffi_kernel("name", kernel args..., launch values...)`
calls in launch order. Pointer arguments are `buffer_data(param)`, possibly through `DeclBuffer` aliases, which
we trace back to the PrimFunc parameter and so to the relax argument; scalar arguments and launch values are
integer expressions over the PrimFunc's shape vars, bound by unifying its buffer shapes with the relax
argument shapes (so `batch` inside a PrimFunc means the plugin's `batch`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import LoweringError
from ..ir import expr as E
from ..ir.launch_plan import Buffer, Constant, Kernel, KernelArg, LaunchPlan
from ..ir.signature import Signature
from . import tvm_ir
from .tvm_ir import key, to_expr

WORKSPACE_ALIGN = 256
MAX_THREADS_PER_BLOCK = 1024  # every CUDA GPU since Fermi
_LAUNCH_AXES = {"blockIdx.x": ("grid", 0), "blockIdx.y": ("grid", 1), "blockIdx.z": ("grid", 2),
                "threadIdx.x": ("block", 0), "threadIdx.y": ("block", 1), "threadIdx.z": ("block", 2)}
_DYN_SMEM = "tirx.use_dyn_shared_memory"


@dataclass(frozen=True)
class _Slot:
    """Where a relax tensor lives: kind in input/output/workspace/constant/fresh, plus index and byte offset."""

    kind: str
    index: int
    offset: E.Expr = 0


def _align(size: E.Expr) -> E.Expr:
    return E.op("mul", E.op("ceildiv", size, WORKSPACE_ALIGN), WORKSPACE_ALIGN)


class LaunchPlanReader:
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

    def fail(self, why: str, hint: str | None = None):
        raise LoweringError(f"node {self.what}: {why}", hint=hint)

    # ---- relax side -------------------------------------------------------------------------------------------
    def read(self) -> LaunchPlan:
        self._bind_params()
        for binding in self.main.body.blocks[0].bindings:
            self._binding(binding.var, binding.value)
        self._bind_outputs(self.main.body.body)
        buffers = self._buffers()
        kernels = [k for name, args, slots in self.calls for k in self._kernels(name, args, slots, buffers)]
        workspace = 0
        for b in buffers:
            workspace = E.op("add", workspace, _align(b.size))
        return LaunchPlan(tuple(kernels), tuple(buffers), tuple(self.constants), workspace)

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
        if isinstance(value, relax.TupleGetItem) and key(value.tuple_value) in self.tuples:
            field = self.tuples[key(value.tuple_value)][int(value.index)]  # one output of a multi-output kernel
            self._binding(var, field)
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
        elif op == "relax.builtin.alloc_tensor":
            self.fresh.append((key(var), value))
            self.slots[key(var)] = _Slot("fresh", len(self.fresh) - 1)
        else:
            self.fail(f"TVM lowers it to a call of its runtime function {op!r}; a plugin cannot call into the TVM "
                      "runtime (typically a data-dependent output shape or an external library kernel)",
                      hint="leave this node to TensorRT")

    def _arg_slot(self, arg) -> _Slot | None:
        from tvm import relax

        if isinstance(arg, relax.Var):
            if key(arg) not in self.slots and arg.name in self.dim_index and _is_prim(arg):
                return None  # a dim passed as a value (GatherElements' index normalisation reads the shape)
            if key(arg) not in self.slots:
                self.fail(f"kernel argument {arg.name} has no known storage")
            return self.slots[key(arg)]
        if type(arg).__name__ == "GenericConst" and hasattr(arg.value, "numpy"):
            if key(arg) not in self.const_keys:
                array = arg.value.numpy()
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
            slot = self.slots.get(key(out))
            if slot is None or slot.kind != "fresh":
                where = "an input" if slot and slot.kind == "input" else "a planned buffer"
                self.fail(f"output {i} aliases {where}; a plugin must compute into its output buffer",
                          hint="this node is an identity/view op for TVM; TensorRT handles it natively")
            self.fresh[slot.index] = (self.fresh[slot.index][0], ("output", i))
        self._remap_fresh()

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

    def _buffers(self) -> list[Buffer]:
        buffers, offset = [], 0
        for size in self.storages:
            buffers.append(Buffer(offset, size))
            offset = E.op("add", offset, _align(size))
        return buffers

    # ---- TIR side ---------------------------------------------------------------------------------------------
    def _kernels(self, name: str, relax_args: list, slots: list, buffers: list[Buffer]) -> list[Kernel]:
        host = self._host(name)
        env, params = self._host_env(host, relax_args, slots)
        aliases: dict[int, object] = {}
        kernels = []
        for node in tvm_ir.walk(host.body):
            kind = type(node).__name__
            if kind == "Bind":
                try:
                    env[key(node.var)] = to_expr(node.value, tvm_ir.resolver(env))
                except tvm_ir.UnsupportedExpr:
                    pass  # a non-integer or pointer binding; only integer ones feed launches
            elif kind == "DeclBuffer":
                aliases[key(node.buffer)] = node.data
            elif kind == "Call" and getattr(node.op, "name", "") == "tirx.call_ffi_kernel":
                kernels.append(self._launch(node, env, params, aliases, buffers))
            elif kind in ("Allocate", "AllocBuffer") and "global" in str(getattr(node, "buffer", node)):
                self.fail(f"PrimFunc {name} allocates device memory at run time",
                          hint="not supported yet: this op needs TVM's runtime allocator")
        if not kernels:
            self.fail(f"PrimFunc {name} launches no GPU kernel (it would run on the host)")
        return kernels

    def _host(self, name: str):
        for gv, func in self.tir.functions.items():
            if gv.name_hint == name:
                return func
        self.fail(f"host function {name} is missing after SplitHostDevice")

    def _host_env(self, host, relax_args, slots):
        """Bind the PrimFunc's shape vars by unifying its buffer shapes with the relax argument shapes."""
        env: dict[int, E.Expr] = {}
        params: dict[int, _Slot] = {}
        scalars = [p for p in host.params if type(p.ty).__name__ != "BufferType"]
        scalar_values = []
        for param, arg, slot in zip(host.params, relax_args, slots):
            ty = param.ty
            if type(ty).__name__ != "BufferType":
                continue
            params[key(param)] = slot
            offset = ty.elem_offset
            if type(offset).__name__ == "Var":
                env[key(offset)] = 0  # tensors are compact and start at their pointer
            for dim, rdim in zip(ty.shape, _relax_shape(arg)):
                if type(dim).__name__ == "Var" and key(dim) not in env:
                    env[key(dim)] = rdim if isinstance(rdim, int) else self._relax_expr(rdim)
        for arg in relax_args:
            if type(arg).__name__ == "ShapeExpr":
                scalar_values += [self._relax_expr(v) for v in arg.values]
            elif type(arg).__name__ == "PrimValue":
                scalar_values.append(self._relax_expr(arg.value))
            elif _is_prim(arg):
                scalar_values.append(self._relax_expr(arg))
        for param, value in zip(scalars, scalar_values):
            env[key(param)] = value
        return env, params

    def _pointer(self, arg, params, aliases) -> _Slot:
        seen = 0
        while seen < 16:
            seen += 1
            if type(arg).__name__ == "Call" and arg.op.name == "tirx.buffer_data":
                arg = arg.args[0]
                continue
            if key(arg) in params:
                return params[key(arg)]
            if key(arg) in aliases:
                arg = aliases[key(arg)]
                continue
            break
        self.fail(f"cannot trace kernel pointer argument {arg} to a tensor",
                  hint="the kernel uses memory TVM allocates itself; not supported yet")

    def _launch(self, call, env, params, aliases, buffers) -> Kernel:
        name = str(call.args[0].value)
        kernel_func = self._host(name)
        nparams = len(kernel_func.params)
        karg_values = call.args[1:1 + nparams]
        launch_values = call.args[1 + nparams:]
        launch_names = [str(n) for n in call.attrs.launch_params]
        resolve = tvm_ir.resolver(env)
        args = []
        for kparam, value in zip(kernel_func.params, karg_values):
            ctype = _ctype(kparam)
            if ctype.endswith("*"):
                slot = self._pointer(value, params, aliases)
                if slot.kind == "workspace":
                    offset = E.op("add", buffers[slot.index].offset, slot.offset)
                    args.append(KernelArg("workspace", ctype, offset=offset))
                else:
                    args.append(KernelArg(slot.kind, ctype, index=slot.index))
            else:
                args.append(KernelArg("scalar", ctype, value=self._tir_expr(value, resolve, name)))
        grid, block, smem = [1, 1, 1], [1, 1, 1], 0
        for lname, value in zip(launch_names, launch_values):
            v = self._tir_expr(value, resolve, name)
            if lname == _DYN_SMEM:
                smem = v
            elif lname in _LAUNCH_AXES:
                which, axis = _LAUNCH_AXES[lname]
                (grid if which == "grid" else block)[axis] = v
            else:
                self.fail(f"kernel {name} uses launch parameter {lname!r}, which tpat does not support yet")
        if all(isinstance(b, int) for b in block) and block[0] * block[1] * block[2] > MAX_THREADS_PER_BLOCK:
            self.fail(f"kernel {name} asks for {block[0]}x{block[1]}x{block[2]} threads per block, more than CUDA's "
                      f"{MAX_THREADS_PER_BLOCK}: a schedule rule split the work wrongly")
        return Kernel(name, tuple(grid), tuple(block), smem, tuple(args))

    def _tir_expr(self, value, resolve, kernel: str) -> E.Expr:
        try:
            return to_expr(value, resolve)
        except tvm_ir.UnsupportedExpr as exc:
            self.fail(f"kernel {kernel}: launch value depends on runtime data ({exc})")


def _relax_shape(arg) -> list:
    ty = getattr(arg, "ty", None)
    shape = getattr(ty, "shape", None)
    if shape is not None:
        return list(getattr(shape, "values", shape))
    value = getattr(arg, "value", None)  # a constant: its concrete shape
    return [int(s) for s in getattr(value, "shape", ())]


def _ctype(param) -> str:
    text = str(param.ty)
    dtype = str(getattr(param.ty, "dtype", "")) or text
    if "handle" in text.lower() or "Pointer" in type(param.ty).__name__:
        elem = getattr(getattr(param.ty, "element_type", None), "dtype", None)
        return f"{elem or 'void'}*"
    return dtype


def _itemsize(dtype: str) -> int:
    import numpy as np

    return 1 if dtype == "bool" else np.dtype(dtype).itemsize


def _is_prim(var) -> bool:
    """A scalar variable (of a PrimType), not a tensor: the symbolic dims appear so as call arguments."""
    return type(var).__name__ == "Var" and type(getattr(var, "ty", None)).__name__ == "PrimType"
