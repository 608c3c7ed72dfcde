"""Losses: compare a model Output ('input') with the Target ('target'); feed an optimizer."""
from __future__ import annotations

from torch import nn

from workbench.core.catalog import register
from workbench.core.spec import LOSS, LOSS_ROLE, NodeSpec, Param, Port, ShapeError
from workbench.core.types import TensorType

PORTS = (Port("input", help="the model's prediction"), Port("target", help="the true values"))
OUT = (Port("loss", LOSS),)
WEIGHT = Param("weight", "float", 1.0, "Factor of this loss in the total, when several are summed.",
               min=0.0, max=1e6)
SCALAR = {"loss": TensorType(())}
# `weight` above is the factor of the loss in the total; this weights each class inside it.
CLASS_WEIGHT = Param("class_weight", "choice", "none",
                     "balanced: weigh each class by n_rows / (n_classes × its training rows), so "
                     "a rare class counts as much as a common one (scikit-learn's 'balanced'). "
                     "Worth it when a class is under ~10 % of the rows.",
                     choices=("none", "balanced"), label="class weights")


def _classes(p, ins):
    pred, target = ins["input"], ins["target"]
    if target.dtype != "int64":
        raise ShapeError(f"needs class ids (int64) as target, gets {target.dtype} values {target}: "
                         "use MSE for a numeric target, or make the target column categorical")
    if pred.dtype != "float32":
        raise ShapeError(f"needs float scores as input, gets {pred.dtype} {pred}")
    if pred.rank != target.rank + 1 or pred.rank < 2:
        raise ShapeError(f"needs scores (batch, classes) for a target {target}, gets {pred}")
    classes = pred.shape[1]
    if target.cardinality and isinstance(classes, int) and classes != target.cardinality:
        raise ShapeError(f"predicts {classes} classes but the target has {target.cardinality}: "
                         f"set the last layer's size to {target.cardinality}")
    return SCALAR


def _values(p, ins):
    pred, target = ins["input"], ins["target"]
    if target.dtype != "float32":
        raise ShapeError(f"compares numbers, gets class ids {target} as target: use CrossEntropy "
                         "for classes")
    if pred.shape != target.shape:
        raise ShapeError(f"needs the prediction shaped like the target {target}, gets {pred}")
    return SCALAR


def _loss(name, help, infer, build, params=()):
    register(NodeSpec(name, "Losses", help, PORTS, OUT, (*params, WEIGHT), infer=infer, build=build,
                      role=LOSS_ROLE, title="loss"))


_loss("CrossEntropy", "Classification from raw scores (logits); applies softmax itself.", _classes,
      lambda p, ins: nn.CrossEntropyLoss(label_smoothing=p["label_smoothing"]),
      [Param("label_smoothing", "float", 0.0, "Spread this much probability over the other classes.",
             min=0.0, max=0.99), CLASS_WEIGHT])
_loss("NLL", "Classification from log-probabilities (after LogSoftmax).", _classes,
      lambda p, ins: nn.NLLLoss(), [CLASS_WEIGHT])
_loss("BCEWithLogits", "Yes/no (or several independent yes/no) targets from raw scores.", _values,
      lambda p, ins: nn.BCEWithLogitsLoss())
_loss("MSE", "Mean squared error, for numeric targets.", _values, lambda p, ins: nn.MSELoss())
_loss("L1", "Mean absolute error, robust to outliers.", _values, lambda p, ins: nn.L1Loss())
_loss("SmoothL1", "Squared near zero, absolute beyond beta.", _values,
      lambda p, ins: nn.SmoothL1Loss(beta=p["beta"]),
      [Param("beta", "float", 1.0, "Where the loss turns linear.", min=0.0, max=1e6)])
_loss("Huber", "Squared near zero, absolute beyond delta (scaled by delta).", _values,
      lambda p, ins: nn.HuberLoss(delta=p["delta"]),
      [Param("delta", "float", 1.0, "Where the loss turns linear.", min=1e-9, max=1e6)])
