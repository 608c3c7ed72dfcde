"""The Opaque node: a step of an imported model that no catalog node expresses, kept running
as one stored call (workbench/core/opaque.py) so the imported graph is whole. It only comes
from an import: the palette does not offer it (`extra={"palette": False}`)."""
from __future__ import annotations

import json

from workbench.core.catalog import register
from workbench.core.spec import NodeSpec, Param, Port

EXAMPLE_CALL = json.dumps({"args": [{"input": 0}], "kwargs": {}, "target": "torch.nn.functional.softsign",
                           "tensors": {}}, sort_keys=True)


def _infer(p, ins):
    from workbench.core import opaque
    if p["source"] == "torch":
        return {"out": opaque.infer_torch(p, ins)}
    from workbench.core import opaque_onnx
    return {"out": opaque_onnx.infer(p, ins)}


def _build(p, ins):
    from workbench.core import opaque
    if p["source"] == "torch":
        return opaque.OpaqueModule(p["call"], p["op"])
    from workbench.core import opaque_onnx
    return opaque_onnx.build(p, ins)


register(NodeSpec(
    "Opaque", "Imported",
    "A step of an imported model that no Workbench node expresses, kept running as it was "
    "(a PyTorch call or an ONNX node) with its stored tensors; its shape is worked out by "
    "running it. It trains (its trainable tensors) and exports again, but cannot be edited.",
    (Port("x0"), Port("x1", optional=True), Port("x2", optional=True), Port("x3", optional=True)),
    params=(
        Param("op", "str", "torch.nn.functional.softsign", "What it computes, as the source named it."),
        Param("reason", "str", "an example: Opaque nodes come from an import", "Why it is opaque."),
        Param("source", "choice", "torch", "What runs it: a PyTorch call or onnxruntime.",
              choices=("torch", "onnx")),
        Param("call", "str", EXAMPLE_CALL, "The stored call (JSON written by the importer; "
              "only allowlisted operations run)."),
        Param("out_shape", "dims", "", "Output shape of one sample, as recorded at import."),
        Param("out_dtype", "choice", "float32", "Output dtype, as recorded at import.",
              choices=("float32", "int64"))),
    infer=_infer, build=_build, title="opaque", extra={"palette": False}))
