"""What a node type is: its ports, parameters, shape rule and how it becomes PyTorch.

One `NodeSpec` per node type is the single source of truth: the palette, inspector, shape
inference, compiler, project loader and docs all read it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from workbench.core.types import TensorType

# Port kinds: what flows along an edge.
TENSOR, LOSS, OPTIMIZER = "tensor", "loss", "optimizer"

# Roles: how the compiler treats a node.
MODEL, INPUT, OUTPUT, TARGET, LOSS_ROLE, OPTIMIZER_ROLE, SCHEDULE = (
    "model", "input", "output", "target", "loss", "optimizer", "schedule")


class ShapeError(Exception):
    """A node cannot accept the shapes it is given; the message is for the user."""


@dataclass(frozen=True)
class Port:
    name: str
    kind: str = TENSOR
    optional: bool = False
    multiple: bool = False  # accepts several edges (an optimizer summing several losses)
    help: str = ""


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # "int" | "float" | "bool" | "choice" | "str" | "dims"
    default: Any
    help: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    label: str = ""

    def check(self, value: Any) -> Any:
        """Return `value` in this parameter's type, or raise ValueError saying why not."""
        kind = self.kind
        if kind == "bool":
            if isinstance(value, bool):
                return value
            raise ValueError(f"'{self.name}' must be true or false, not {value!r}")
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
                raise ValueError(f"'{self.name}' must be a whole number, not {value!r}")
            value = int(value)
        elif kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"'{self.name}' must be a number, not {value!r}")
            value = float(value)
            if value != value:
                raise ValueError(f"'{self.name}' must be a number, not NaN")
        elif kind == "choice":
            if value not in self.choices:
                raise ValueError(f"'{self.name}' must be one of {', '.join(self.choices)}; not {value!r}")
            return value
        elif kind in ("str", "dims"):
            if not isinstance(value, str):
                raise ValueError(f"'{self.name}' must be text, not {value!r}")
            if kind == "dims":
                from workbench.core.types import parse_dims
                try:
                    parse_dims(value)
                except ValueError as exc:
                    raise ValueError(f"'{self.name}': {exc}") from None
            return value
        if self.min is not None and value < self.min:
            raise ValueError(f"'{self.name}' must be at least {self.min:g}, not {value:g}")
        if self.max is not None and value > self.max:
            raise ValueError(f"'{self.name}' must be at most {self.max:g}, not {value:g}")
        return value


@dataclass(frozen=True)
class Call:
    """A node that compiles to a plain function call rather than a submodule.

    mode "list": fn([a, b, ...], **kwargs) (torch.cat); "reduce": fn(fn(a, b), c) (operator.add).
    """
    fn: Callable
    kwargs: dict = field(default_factory=dict)
    mode: str = "reduce"


Shapes = dict[str, TensorType]
InferFn = Callable[[dict, Shapes], Shapes]
BuildFn = Callable[[dict, Shapes], Any]


@dataclass(frozen=True)
class NodeSpec:
    type: str
    category: str
    help: str
    inputs: tuple[Port, ...] = ()
    outputs: tuple[Port, ...] = (Port("out"),)
    params: tuple[Param, ...] = ()
    infer: InferFn | None = None  # (params, input types) -> output types; raises ShapeError
    build: BuildFn | None = None  # (params, input types) -> nn.Module (model) or factory (training)
    role: str = MODEL
    title: str = ""  # default title prefix for new nodes
    # Facts about the node type that other layers ask for (never looked up by type name):
    dead_units: bool = False      # outputs >= 0 and a unit at 0 for a whole batch learns nothing (ReLU)
    channels_first: bool = False  # a 3-D output is (batch, channels, length), not (batch, steps, features)
    width_param: str = ""         # the parameter that sets the number of outputs (fitted to a head)
    after_init: Callable[[Any], None] | None = None  # run on the built module after the weight init
    extra: dict = field(default_factory=dict)

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def input(self, name: str) -> Port | None:
        return next((p for p in self.inputs if p.name == name), None)

    def output(self, name: str) -> Port | None:
        return next((p for p in self.outputs if p.name == name), None)

    @property
    def default_title(self) -> str:
        return self.title or self.type.lower()
