"""The TIR side of the launch-plan reader: what each PrimFunc launches, with which arguments.

After SplitHostDevice, each called PrimFunc's host half holds `call_ffi_kernel("name", kernel args..., launch
values...)` calls in launch order. Pointer arguments are `buffer_data(param)`, possibly through `DeclBuffer`
aliases, which we trace back to the PrimFunc parameter and so to the relax argument, or to a global buffer the
PrimFunc allocates itself (sort and TopK temporaries: placed in the plugin's workspace); scalar arguments and
launch values are integer expressions over the PrimFunc's shape vars, bound by unifying its buffer shapes with
the relax argument shapes (so `batch` inside a PrimFunc means the plugin's `batch`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..ir import expr as E
from ..ir.launch_plan import Buffer, Guard, Kernel, KernelArg
from . import tvm_ir
from .tvm_ir import key, to_expr

MAX_THREADS_PER_BLOCK = 1024  # every CUDA GPU since Fermi
MAX_UNROLLED = 64  # rounds of a host loop read as that many launches (CumSum: log2 of the row length / 9)
MAX_LAUNCHES = 1024  # launches of one plan: more means a kernel TVM left unparallelized, launched per element
# (an unrolled recurrent op takes a few launches a step)
_LAUNCH_AXES = {"blockIdx.x": ("grid", 0), "blockIdx.y": ("grid", 1), "blockIdx.z": ("grid", 2),
                "threadIdx.x": ("block", 0), "threadIdx.y": ("block", 1), "threadIdx.z": ("block", 2)}
_DYN_SMEM = "tirx.use_dyn_shared_memory"


@dataclass(frozen=True)
class Slot:
    """Where a tensor lives: kind in input/output/workspace/constant/fresh, plus index and byte offset (for a
    workspace slot, `index` is the storage and `offset` bytes into it)."""

    kind: str
    index: int
    offset: E.Expr = 0


def placed(kernel: Kernel, buffers: list[Buffer]) -> Kernel:
    """`kernel` with its workspace arguments as byte offsets into the whole workspace."""
    args = tuple(KernelArg("workspace", a.ctype, offset=E.op("add", buffers[a.index].offset, a.offset))
                 if a.kind == "workspace" else replace(a, offset=0) for a in kernel.args)
    return replace(kernel, args=args)


class HostLaunches:
    """Mixed into the reader, which provides `tir` (the module after SplitHostDevice), `storages` (byte sizes),
    `fail(why)` and `_relax_expr(prim)`."""

    def _kernels(self, name: str, relax_args: list, slots: list) -> list[Kernel]:
        """The launches of PrimFunc `name`, in order; workspace arguments name a storage (`KernelArg.index`) and
        an offset into it, placed in the workspace by `placed` once every storage is known."""
        host = self._host(name)
        env, params = self._host_env(host, relax_args, slots)
        aliases: dict[int, object] = {}
        kernels: list[Kernel] = []
        self._statements(host.body, env, params, aliases, kernels, name, ())
        if not kernels and not _writes_nothing(host, env):
            self.fail(f"PrimFunc {name} launches no GPU kernel (it would run on the host)")
        return kernels

    def _statements(self, body, env, params, aliases, kernels, name: str, when: tuple) -> None:
        """Read the host code in program order; a host loop (CumSum's rounds) is unrolled when its trip count is a
        number, which it is at static shapes; a host branch on the dims guards the launches of each side (`when`:
        the guards of the branches around this code)."""
        for node in tvm_ir.walk(body, descend=lambda o: type(o).__name__ not in ("For", "IfThenElse")):
            kind = type(node).__name__
            if kind == "Bind":
                try:
                    env[key(node.var)] = to_expr(node.value, tvm_ir.resolver(env))
                except tvm_ir.UnsupportedExpr:
                    pass  # a non-integer or pointer binding; only integer ones feed launches
            elif kind == "DeclBuffer":
                aliases[key(node.buffer)] = node.data
            elif kind == "Call" and getattr(node.op, "name", "") == "tirx.call_ffi_kernel":
                kernels.append(self._launch(node, env, params, aliases, when))
                if len(kernels) > MAX_LAUNCHES:
                    self.fail(f"PrimFunc {name} launches kernels more than {MAX_LAUNCHES} times from host loops: "
                              "no GPU schedule parallelized it",
                              hint="report it with the model attached; leave the node to TensorRT meanwhile")
            elif kind == "AllocBuffer" and node.buffer.scope() == "global":
                aliases[key(node.buffer)] = self._scratch(node.buffer, env, name)
            elif kind == "Allocate" and "global" in str(node):
                self.fail(f"PrimFunc {name} allocates device memory in a form tpat does not read",
                          hint="report it with the model attached")
            elif kind == "For":
                start, extent = (self._tir_expr(v, tvm_ir.resolver(env), name) for v in (node.min, node.extent))
                if not (isinstance(start, int) and isinstance(extent, int)) or extent > MAX_UNROLLED:
                    self.fail(f"PrimFunc {name} launches its kernels in a host loop of {E.to_str(extent)} rounds",
                              hint="tpat unrolls such loops at static shapes only; give the node static shapes")
                for i in range(start, start + extent):
                    env[key(node.loop_var)] = i
                    self._statements(node.body, env, params, aliases, kernels, name, when)
            elif kind == "IfThenElse":
                guard = self._guard(node.condition, tvm_ir.resolver(env), name)
                if isinstance(guard, bool):  # decided at these shapes (static dims): only the side taken
                    side = node.then_case if guard else node.else_case
                    if side is not None:
                        self._statements(side, env, params, aliases, kernels, name, when)
                    continue
                self._statements(node.then_case, env, params, aliases, kernels, name, when + (guard,))
                if node.else_case is not None:
                    self._statements(node.else_case, env, params, aliases, kernels, name,
                                     when + (Guard(guard.expr, not guard.zero),))

    def _guard(self, cond, resolve, name: str) -> "Guard | bool":
        """A host branch's condition as a guard on the dims (`a == b`, `a != b`, an order of a and b as
        `max(a - b, 0) == 0` and the like, negations of them), or its value when it is a number at these shapes."""
        kind = type(cond).__name__
        if kind == "Not":
            inner = self._guard(cond.a, resolve, name)
            return (not inner) if isinstance(inner, bool) else Guard(inner.expr, not inner.zero)
        if kind in ("EQ", "NE", "LE", "LT", "GE", "GT"):
            a, b = (self._tir_expr(side, resolve, name) for side in (cond.a, cond.b))
            if kind in ("GE", "GT"):  # b <= a, b < a
                a, b, kind = b, a, "LE" if kind == "GE" else "LT"
            diff = E.op("sub", a, b)
            if kind in ("LE", "LT"):  # a <= b: max(a - b, 0) == 0; a < b: max(a - b + 1, 0) == 0
                diff = E.op("max", diff if kind == "LE" else E.op("add", diff, 1), 0)
            if isinstance(diff, int):
                return (diff == 0) == (kind != "NE")
            return Guard(diff, kind != "NE")
        self.fail(f"PrimFunc {name} chooses its kernels by a host condition tpat does not read: {cond}",
                  hint="report it with the model attached")

    def _host(self, name: str):
        for gv, func in self.tir.functions.items():
            if gv.name_hint == name:
                return func
        self.fail(f"host function {name} is missing after SplitHostDevice")

    def _host_env(self, host, relax_args, slots):
        """Bind the PrimFunc's shape vars by unifying its buffer shapes with the relax argument shapes."""
        env: dict[int, E.Expr] = {}
        params: dict[int, Slot] = {}
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
            for dim, rdim in zip(ty.shape, relax_shape(arg)):
                if type(dim).__name__ == "Var" and key(dim) not in env:
                    env[key(dim)] = rdim if isinstance(rdim, int) else self._relax_expr(rdim)
        for arg in relax_args:
            if type(arg).__name__ == "ShapeExpr":
                scalar_values += [self._relax_expr(v) for v in arg.values]
            elif type(arg).__name__ == "PrimValue":
                scalar_values.append(self._relax_expr(arg.value))
            elif type(getattr(arg, "ty", None)).__name__ == "PrimType":  # a dim passed as a scalar variable
                scalar_values.append(self._relax_expr(arg))
        for param, value in zip(scalars, scalar_values):
            env[key(param)] = value
        return env, params

    def _scratch(self, buffer, env, name: str) -> Slot:
        """A PrimFunc's own global buffer (TopK's and sort's temporaries): TVM's host code would take it from its
        runtime allocator at every call; the plugin gets it from the workspace, sized by the same expression."""
        size = itemsize(str(buffer.dtype))
        for extent in buffer.shape:
            size = E.op("mul", size, self._tir_expr(extent, tvm_ir.resolver(env), name))
        self.storages.append(size)
        return Slot("workspace", len(self.storages) - 1)

    def _pointer(self, arg, params, aliases) -> Slot:
        seen = 0
        while seen < 16:
            seen += 1
            if isinstance(arg, Slot):
                return arg
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
                  hint="the kernel uses memory tpat cannot place; report it with the model attached")

    def _launch(self, call, env, params, aliases, when: tuple = ()) -> Kernel:
        name = str(call.args[0].value)
        kernel_func = self._host(name)
        nparams = len(kernel_func.params)
        karg_values = call.args[1:1 + nparams]
        launch_values = call.args[1 + nparams:]
        launch_names = [str(n) for n in call.attrs.launch_params]
        resolve = tvm_ir.resolver(env)
        args = []
        for kparam, value in zip(kernel_func.params, karg_values):
            ctype = ctype_of(kparam)
            if ctype.endswith("*"):
                slot = self._pointer(value, params, aliases)
                args.append(KernelArg(slot.kind, ctype, index=slot.index, offset=slot.offset))
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
        return Kernel(name, tuple(grid), tuple(block), smem, tuple(args), when)

    def _tir_expr(self, value, resolve, kernel: str) -> E.Expr:
        try:
            return to_expr(value, resolve)
        except tvm_ir.UnsupportedExpr as exc:
            self.fail(f"kernel {kernel}: launch value depends on runtime data ({exc})")


def _writes_nothing(host, env) -> bool:
    """A PrimFunc whose output (the last buffer parameter: destination passing) has no element at these shapes:
    TVM removes its loops, and nothing is left to launch (Trilu or ReduceSum of an empty tensor)."""
    buffers = [p for p in host.params if type(p.ty).__name__ == "BufferType"]
    if not buffers:
        return False
    try:
        extents = [to_expr(d, tvm_ir.resolver(env)) for d in buffers[-1].ty.shape]
    except tvm_ir.UnsupportedExpr:
        return False
    return any(e == 0 for e in extents)


def relax_shape(arg) -> list:
    ty = getattr(arg, "ty", None)
    shape = getattr(ty, "shape", None)
    if shape is not None:
        return list(getattr(shape, "values", shape))
    value = getattr(arg, "value", None)  # a constant: its concrete shape
    return [int(s) for s in getattr(value, "shape", ())]


def ctype_of(param) -> str:
    text = str(param.ty)
    dtype = str(getattr(param.ty, "dtype", "")) or text
    if "handle" in text.lower() or "Pointer" in type(param.ty).__name__:
        elem = getattr(getattr(param.ty, "element_type", None), "dtype", None)
        return f"{elem or 'void'}*"
    return dtype


def itemsize(dtype: str) -> int:
    import numpy as np

    return 1 if dtype == "bool" else np.dtype(dtype).itemsize
