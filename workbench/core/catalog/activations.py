"""Element-wise activations (and the two softmaxes): the shape passes through unchanged."""
from __future__ import annotations

from torch import nn

from workbench.core.catalog import register
from workbench.core.spec import NodeSpec, Param, Port, ShapeError


def _same(p, ins):
    t = ins["in"]
    if t.dtype != "float32":
        raise ShapeError(f"expects float values, gets {t.dtype} ids {t}: add an Embedding first")
    return {"out": t}


def _act(name: str, help: str, build, params=(), **facts):
    register(NodeSpec(name, "Activations", help, (Port("in"),), params=tuple(params),
                      infer=_same, build=build, title=name.lower(), **facts))


_act("ReLU", "max(0, x): the default choice for hidden layers.", lambda p, i: nn.ReLU(), dead_units=True)
_act("LeakyReLU", "Like ReLU but keeps a small slope for x < 0, so units do not die.",
     lambda p, i: nn.LeakyReLU(p["negative_slope"]),
     [Param("negative_slope", "float", 0.01, "Slope for x < 0.", min=0.0, max=1.0)])
_act("ELU", "Smooth for x < 0 (tends to -alpha).", lambda p, i: nn.ELU(p["alpha"]),
     [Param("alpha", "float", 1.0, "Value approached for very negative x.", min=0.0, max=100.0)])
_act("GELU", "Gaussian-weighted ReLU, used in Transformers.", lambda p, i: nn.GELU(approximate=p["approximate"]),
     [Param("approximate", "choice", "none", "Exact or tanh approximation.", choices=("none", "tanh"))])
_act("SiLU", "x·sigmoid(x) (Swish).", lambda p, i: nn.SiLU())
_act("Sigmoid", "Squashes to (0, 1).", lambda p, i: nn.Sigmoid())
_act("Tanh", "Squashes to (-1, 1).", lambda p, i: nn.Tanh())
_dim = Param("dim", "int", -1, "Dimension to normalise over (-1 = last).", min=-8, max=8)
_act("Softmax", "Turns scores into probabilities. Do not put it before CrossEntropy, which "
     "applies it itself.", lambda p, i: nn.Softmax(dim=p["dim"]), [_dim])
_act("LogSoftmax", "Log of Softmax; pair it with the NLL loss.", lambda p, i: nn.LogSoftmax(dim=p["dim"]), [_dim])
