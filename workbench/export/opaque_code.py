"""model.py's class for an Opaque node (torch flavour): its stored call written out as plain
PyTorch, so the standalone file needs neither Workbench nor its resolver.

Only text the allowlist let through reaches the code as names (the target's dotted parts and
tensor names are checked identifiers); every other value is written by
`escape.python_literal`, the op/reason only inside an escaped docstring.
"""
from __future__ import annotations

from workbench.core.opaque import MAX_INPUTS, OpaqueModule
from workbench.export import escape
from workbench.export.report import ExportError

_BINARY = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%",
           "pow": "**", "matmul": "@", "and_": "&", "or_": "|", "xor": "^", "lshift": "<<",
           "rshift": ">>", "eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_UNARY = {"neg": "-", "pos": "+", "invert": "~", "inv": "~", "not_": "not "}


def _value(v) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        (key, x), = v.items()
        if key == "input":
            return f"x{int(x)}"
        if key == "tensor":
            return f"self.{x}"
        if key == "dtype":
            return f"torch.{x}"
        return "slice(" + ", ".join(escape.python_literal(a) for a in x) + ")"
    return escape.python_literal(v)


def _call(m: OpaqueModule) -> str:
    args = [_value(a) for a in m.args]
    kwargs = [f"{k}={_value(v)}" for k, v in m.kwargs.items()]
    parts = m.target.split(".")
    name = parts[-1]
    if parts[0] == "operator":
        if name in _BINARY and len(args) == 2 and not kwargs:
            return f"({args[0]} {_BINARY[name]} {args[1]})"
        if name in _UNARY and len(args) == 1:
            return f"({_UNARY[name]}{args[0]})"
        if name == "abs" and len(args) == 1:
            return f"abs({args[0]})"
        if name == "getitem" and len(args) == 2:
            index = args[1]
            if isinstance(m.args[1], list):
                index = "(" + ", ".join(_value(x) for x in m.args[1]) + ("," if len(m.args[1]) == 1 else "") + ")"
            return f"{args[0]}[{index}]"
        raise ExportError(f"cannot write Python code for operator.{name} with {len(args)} arguments")
    if parts[0] == "Tensor" or parts[:2] == ["torch", "Tensor"]:
        head = f"torch.Tensor.{name}"
    elif parts[:3] == ["torch", "nn", "functional"]:
        head = f"F.{name}"
    elif parts[0] == "aten":
        head = "torch.ops." + ".".join(parts)
    else:
        head = ".".join(parts)
    return f"{head}({', '.join(args + kwargs)})"


def opaque_class(m: OpaqueModule, class_name: str) -> str:
    """The source of an nn.Module class computing what `m` computes, with the same
    state_dict keys and shapes (the weights file loads into it)."""
    lines = [f"class {class_name}(nn.Module):",
             f'    """Opaque: {escape.python_text(m.op)}"""',
             "",
             "    def __init__(self):",
             "        super().__init__()"]
    for name, info in m.tensor_specs.items():
        value = f"torch.zeros({escape.python_literal(list(info['shape']))}, dtype=torch.{info['dtype']})"
        if info.get("trainable"):
            lines.append(f"        self.{name} = nn.Parameter({value})")
        else:
            lines.append(f"        self.register_buffer({escape.python_literal(name)}, {value})")
    ports = ", ".join(["x0"] + [f"x{i}=None" for i in range(1, MAX_INPUTS)])
    pick = "" if m.pick is None else f"[{int(m.pick)}]"
    lines += ["", f"    def forward(self, {ports}):", f"        return {_call(m)}{pick}"]
    return "\n".join(lines)
