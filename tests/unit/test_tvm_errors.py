"""TVM's errors said in one useful line, and a bug in tpat told apart from a limitation of TVM."""

from __future__ import annotations

from tpat.lowering.tvm_errors import describe, raised_by_tpat

TVM_CHECK = """Check failed: (extent_ty == var_ty) is false: The dtype of the extent of an IterVar (int32) must match \
its associated Var's dtype (int64)

Error in pass: FuseTIRInner
Location (TVMScript):
Access path: <root>.functions[I.GlobalVar("avg_pool3d")].body.predicate.ty
Note: The underlined object is the nearest visible parent of this path.

# from tvm.script import ir as I
@I.ir_module
class Module:
    ^^^^^^^^^^^^
        T.func_attr({"op_pattern": 4})
(... 38 lines skipped ...)
"""


def test_a_failed_check_is_the_check_and_its_pass_never_the_skipped_lines_note():
    text = describe(RuntimeError(TVM_CHECK))
    assert text == ("The dtype of the extent of an IterVar (int32) must match its associated Var's dtype (int64) "
                    "(in FuseTIRInner)")


def _raise_in_a_tvm_file():
    code = compile("def f(attr):\n    return attr['num_heads']\n", "/x/site-packages/tvm/relax/frontend/onnx/"
                   "onnx_frontend.py", "exec")
    scope: dict = {}
    exec(code, scope)
    return scope["f"]({})


def test_a_bare_python_error_in_tvm_names_its_type_and_the_line_that_raised_it():
    try:
        _raise_in_a_tvm_file()
    except KeyError as exc:
        text = describe(exc)
        assert raised_by_tpat(exc) is False
    assert text.startswith("KeyError: 'num_heads' (in tvm/relax/frontend/onnx/onnx_frontend.py:2")


def test_an_assertion_without_a_message_is_not_left_bare():
    try:
        raise AssertionError()  # as dlight's `assert expr.extent == 1` arrives: no message
    except AssertionError as exc:
        text = describe(exc)
        assert text.startswith("AssertionError (in ") and "test_tvm_errors.py" in text


def test_an_error_raised_by_tpat_code_is_tpats_bug():
    from tpat.ir import expr as E

    try:
        E.evaluate(E.Dim(3, "batch"), [])  # a tpat function indexing out of range
    except IndexError as exc:
        assert raised_by_tpat(exc)
