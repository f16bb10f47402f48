"""Loads issued before the predicate of their step, from an index kept inside the buffer: a row of symbolic length
walked with its loads in flight together.

A lane's walk over a row of symbolic length (the attention Softmax with a dynamic sequence) cannot be a static
count of steps: each step is predicated on the row's end, `if (e < seq) acc = max(acc, x[row * seq + e])`. nvcc
keeps such a load beside its use under the branch, so a lane had one load in flight whether the steps were
unrolled or not, each step waiting out the memory latency: the attention Softmax took 53/327/553 us at sequence
128/384/512 on an H200 where its static twins took 6.8/67.5/117 (the same warp per row, steps unrolled, no
predicate).

The row rules (`row_reduction.py`, `reduction.py`) walk such a row in runs of unrolled static steps and mark the
run loop (MARK). In a marked loop this pass rewrites each step `if (p) { S }` (no else) as

    v = x[p ? i : 0];  ...  if (p) { S[x[i] := v] }

for every load in S of a global buffer the kernel never writes (an input) whose index is computed outside S,
then moves these bindings (and the index arithmetic they need) in front of the run's first step: the loads of
all the steps of a run are unconditional, independent and in one basic block, so they are all issued before the
first one is used; the arithmetic and the stores stay under the predicate. (Left before their own step, nvcc
moved a step's loads into its branch, their only use: one step's loads in flight at a time again.) A step past
the row's end loads element 0 of the buffer, which exists: the run loop runs only when the row has an element
and the launch only when there is a row, and every buffer the steps read is read at an element of some row (the
launcher skips a launch with an empty grid). Loads whose index is itself loaded or computed inside S, and loads
of buffers the kernel writes (shared memory, outputs) keep their place.

It runs on the device module before TVM's own device passes (`device_pipeline.py`): the launch plan, read from
the module at SplitHostDevice, is not affected, and kernels with no marked loop (every static row) come out of
this pass unchanged.
"""

from __future__ import annotations

MARK = "tpat.unpredicated_loads"
ONE_RUN = "tpat.one_run"  # on a marked loop: one run covers every row the kernel is launched for; extent 1


def unpredicated_loads():
    """The module pass: each PrimFunc's marked loops rewritten (see the module docstring)."""
    from .device_pass import body_pass

    return body_pass("tpat.UnpredicatedLoads", _rewrite_marked_loops)


def _rewrite_marked_loops(body):
    import tvm_ffi
    from tvm import tirx

    written = _written(body)

    def loop(node):
        if MARK not in (node.annotations or {}):
            return node
        steps = tvm_ffi.structural_map(node.body, (tirx.IfThenElse, lambda step: _hoist_loads(step, written)))
        annotations = {k: v for k, v in node.annotations.items() if k not in (MARK, ONE_RUN)}
        extent = tirx.const(1, node.extent.ty) if ONE_RUN in node.annotations else node.extent
        return tirx.For(node.loop_var, node.min, extent, node.kind, _bindings_first(steps, written),
                        node.thread_binding, annotations, node.step)

    return tvm_ffi.structural_map(body, (tirx.For, loop))


def _written(body) -> list:
    """The buffers the kernel writes: stored to, or whose element's address is taken (atomics)."""
    import tvm_ffi
    from tvm import tirx
    from tvm.ir import Call, TensorLoad

    written = []

    def call(node):
        if getattr(node.op, "name", "") == "tirx.address_of":
            tvm_ffi.structural_walk(node, (TensorLoad, lambda load: written.append(load.source)))

    tvm_ffi.structural_walk(body, ((tirx.BufferStore, lambda s: written.append(s.buffer)), (Call, call)))
    return written


def _bindings_first(body, written: list):
    """The run's statements with its bindings of index arithmetic and of loads (`_hoist_loads`) moved in front of
    the steps, in their order: each step is a basic block of its own, and a step's loads left between the steps
    were moved by nvcc into the step's branch (their only use), one step's loads in flight at a time."""
    import tvm_ffi
    from tvm import tirx
    from tvm.ir import Call, TensorLoad

    stmts = _flattened(body)
    first, rest, stay = [], [], []  # stay: variables bound by bindings that keep their place
    for stmt in stmts:
        movable = isinstance(stmt, tirx.Bind) and not any(_among(v, stay)
                                                          for v in tirx.analysis.undefined_vars(stmt.value))
        if movable:
            reads = []
            tvm_ffi.structural_walk(stmt.value, ((TensorLoad, reads.append), (Call, reads.append)))
            movable = all(isinstance(r, TensorLoad) and _movable(r, [], written) for r in reads)
        if movable:
            first.append(stmt)
        else:
            rest.append(stmt)
            if isinstance(stmt, tirx.Bind):
                stay.append(stmt.var)
    return tirx.SeqStmt(first + rest) if len(stmts) > 1 else body


def _flattened(stmt) -> list:
    from tvm import tirx

    if not isinstance(stmt, tirx.SeqStmt):
        return [stmt]
    return [leaf for part in stmt.seq for leaf in _flattened(part)]


def _hoist_loads(node, written: list):
    """`if (p) { S }` -> S's leading index computations, bindings of its loads (index p ? i : 0), then
    `if (p) { S' }`; unchanged when no load moves."""
    import tvm_ffi
    from tvm import tirx
    from tvm.ir import TensorLoad

    if node.else_case is not None:
        return node
    cond = node.condition
    stmts = list(node.then_case.seq) if isinstance(node.then_case, tirx.SeqStmt) else [node.then_case]
    hoisted = []
    while stmts and isinstance(stmts[0], tirx.Bind) and _pure_arithmetic(stmts[0].value):
        hoisted.append(stmts.pop(0))  # CSE's index bindings (`cse_v = base + 32`): needed by the loads' indices
    rest = tirx.SeqStmt(stmts) if len(stmts) > 1 else stmts[0] if stmts else None
    if rest is None:
        return node
    inner = _defined_inside(rest)
    bindings = []  # (load, the variable bound to it), each distinct load once

    def collect(load):
        if _movable(load, inner, written) and _bound(bindings, load) is None:
            bindings.append((load, tirx.Var(f"{load.source.name}_v{len(bindings)}", load.ty)))

    tvm_ffi.structural_walk(rest, (TensorLoad, collect))
    if not bindings:
        return node
    rest = tvm_ffi.structural_map(rest, (TensorLoad, lambda load: _bound(bindings, load, load)))
    binds = [tirx.Bind(var, tirx.BufferLoad(load.source, [_safe_index(cond, i) for i in load.indices]))
             for load, var in bindings]
    return tirx.SeqStmt(hoisted + binds + [tirx.IfThenElse(cond, rest, None)])


def _bound(bindings, load, default=None):
    """The variable bound to `load`, else `default`."""
    import tvm_ffi

    return next((var for bound, var in bindings if tvm_ffi.structural_equal(bound, load)), default)


def _safe_index(cond, index):
    """`cond ? index : 0` (a vector's first element likewise, 0 keeping its alignment)."""
    from tvm import tirx

    if isinstance(index, tirx.Ramp):
        return tirx.Ramp(_safe_index(cond, index.base), index.stride, index.lanes)
    return tirx.Select(cond, index, tirx.const(0, index.ty))


def _movable(load, inner: list, written: list) -> bool:
    """A load of global memory the kernel never writes (an input: no barrier or other thread orders it) whose
    index reads no memory and no variable defined inside the step, scalar or a vector of consecutive elements."""
    from tvm import tirx

    buffer = load.source
    if _among(buffer, written) or buffer.scope() != "global":
        return False
    for index in load.indices:
        if not _pure_arithmetic(index) or any(_among(v, inner) for v in tirx.analysis.undefined_vars(index)):
            return False
        if not index.ty.is_scalar() and not isinstance(index, tirx.Ramp):
            return False
    return True


def _defined_inside(stmt) -> list:
    import tvm_ffi
    from tvm import tirx

    found = []
    tvm_ffi.structural_walk(stmt, ((tirx.Bind, lambda s: found.append(s.var)),
                                   (tirx.For, lambda s: found.append(s.loop_var))))
    return found


def _among(var, variables) -> bool:
    return any(var.same_as(v) for v in variables)


def _pure_arithmetic(expr) -> bool:
    """No memory read and no call: integer/float arithmetic, casts, selects over variables and constants."""
    import tvm_ffi
    from tvm.ir import Call, TensorLoad

    impure = []
    tvm_ffi.structural_walk(expr, ((TensorLoad, impure.append), (Call, impure.append)))
    return not impure
