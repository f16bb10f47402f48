"""Guarded launches (launch_plan.Guard): a kernel that runs only where its guards hold on the runtime dims, the
plan's JSON unchanged for kernels without guards (their cache keys stay as they were)."""

from __future__ import annotations

import json

from tpat.ir import expr as E
from tpat.ir.launch_plan import Guard, Kernel, KernelArg, LaunchPlan

SEQ = E.Dim(1, "seq")
# n % 8 == 0 and n >= 512, as divisible_dims writes it: (n % 8) * 512 + min(n, 512) - 512 == 0
SPAN = E.op("sub", E.op("add", E.op("mul", E.op("floormod", SEQ, 8), 512), E.op("min", SEQ, 512)), 512)


def _kernel(name, when=()):
    return Kernel(name, (E.op("mul", E.Dim(0, "batch"), SEQ), 1, 1), (32, 4, 1), 0,
                  (KernelArg("input", "float*", index=0), KernelArg("scalar", "int32", value=SEQ)), when)


def test_complementary_guards_launch_exactly_one_kernel():
    fast, generic = _kernel("fast", (Guard(SPAN, True),)), _kernel("generic", (Guard(SPAN, False),))
    for seq in (1, 8, 77, 504, 511, 512, 513, 520, 1024, 4096 + 8):
        launched = [k.name for k in (fast, generic) if k.launched([3, seq])]
        assert launched == (["fast"] if seq % 8 == 0 and seq >= 512 else ["generic"]), seq


def test_guards_survive_json_and_describe_says_when():
    plan = LaunchPlan((_kernel("fast", (Guard(SPAN, True),)), _kernel("generic", (Guard(SPAN, False),))), (), (), 0)
    text = json.dumps(plan.to_json())
    back = LaunchPlan.from_json(json.loads(text), ["batch", "seq"], lambda i: b"")
    assert back.kernels == plan.kernels
    lines = back.describe(["batch", "seq"])
    assert lines[0].endswith("if ((((seq % 8) * 512) + min(seq, 512)) - 512) == 0")
    assert lines[1].endswith("!= 0")


def test_an_unguarded_kernel_keeps_its_json():
    assert "when" not in _kernel("k").to_json() and _kernel("k").launched([1, 1])


def test_length_buckets_walk_the_ladder_down_to_rows_of_256_bytes():
    """divisible_dims.buckets: the dim's largest value, then the lengths 2^k and 3 * 2^k below it while a row holds
    256 bytes, at most eight."""
    from tpat.schedules.divisible_dims import buckets

    assert buckets(512, 2) == [512, 384, 256, 192, 128]
    assert buckets(512, 4) == [512, 384, 256, 192, 128, 96, 64]
    assert buckets(500, 4) == [500, 384, 256, 192, 128, 96, 64]
    assert buckets(600, 2) == [600, 512, 384, 256, 192, 128]
    assert buckets(8, 2) == [8] and buckets(1, 4) == [1] and buckets(100, 2) == [100]
    assert buckets(1 << 20, 2) == [1 << 20, 3 << 18, 1 << 19, 3 << 17, 1 << 18, 3 << 16, 1 << 17, 3 << 15], \
        "at most eight"
