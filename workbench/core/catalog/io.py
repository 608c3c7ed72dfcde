"""Where data enters and leaves the model: Input, Output and the training Target."""
from __future__ import annotations

from workbench.core.catalog import register
from workbench.core.spec import INPUT, OUTPUT, TARGET, NodeSpec, Param, Port, ShapeError
from workbench.core.types import BATCH, TensorType, parse_dims

_name = Param("name", "str", "x", "Name of this input in the data and in exported models.")


def _input_type(p: dict) -> TensorType:
    shape = (BATCH, *parse_dims(p["shape"]))
    card = p.get("cardinality") or None
    return TensorType(shape, p["dtype"], card if p["dtype"] == "int64" else None)


register(NodeSpec(
    "Input", "Input/Output",
    "Feeds one tensor per sample into the model. Its shape and type come from the data "
    "(features, token ids or an image); the batch dimension is added automatically.",
    inputs=(), outputs=(Port("out"),),
    params=(
        _name,
        Param("shape", "dims", "4", "Shape of one sample, e.g. 4, or 1,8,8 for an image, or 40 tokens."),
        Param("dtype", "choice", "float32", "float32 for values; int64 for token or category ids.",
              choices=("float32", "int64")),
        Param("cardinality", "int", 0, "For int64 inputs: how many different ids (vocabulary size).",
              min=0),
    ),
    infer=lambda p, ins: {"out": _input_type(p)},
    role=INPUT, title="input",
))


def _output_infer(p: dict, ins: dict) -> dict:
    return {"out": ins["in"]}


register(NodeSpec(
    "Output", "Input/Output",
    "Marks a model output: what predict() returns and what the loss compares with the target.",
    inputs=(Port("in"),), outputs=(Port("out"),),
    params=(Param("name", "str", "out", "Name of this output in exported models."),),
    infer=_output_infer, role=OUTPUT, title="output",
))


def _target_infer(p: dict, ins: dict) -> dict:
    dims = parse_dims(p["shape"])
    if p["dtype"] == "int64":
        if p["num_classes"] < 2 and p["num_classes"] != 0:
            raise ShapeError("a class target needs at least 2 classes")
        return {"out": TensorType((BATCH, *dims), "int64", p["num_classes"] or None)}
    return {"out": TensorType((BATCH, *dims), "float32")}


register(NodeSpec(
    "Target", "Input/Output",
    "The true answer for each sample, from the data's target column: class ids for "
    "classification, numbers for regression.",
    inputs=(), outputs=(Port("out"),),
    params=(
        Param("name", "str", "y", "Name of the target in the data."),
        Param("shape", "dims", "", "Shape of one sample's target: empty for one class id, 1 for one number."),
        Param("dtype", "choice", "int64", "int64 for class ids; float32 for numbers.",
              choices=("int64", "float32")),
        Param("num_classes", "int", 0, "For class targets: how many classes (0 = unknown yet).", min=0),
    ),
    infer=_target_infer, role=TARGET, title="target",
))
