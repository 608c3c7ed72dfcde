"""Standalone Python code: `model.py` (an nn.Module whose forward reads like hand-written code,
needing only PyTorch) plus the trained weights, verified by importing the written file.

The forward is written from the compiled torch.fx graph, one line per layer with the shape it
produces; each layer's constructor is one rule for every class: the arguments its spec's
`build` constructed it with (recorded by the compiler), and for a class outside torch.nn
(Workbench's own, a plugin's) its source copied in. User text reaches the file only through
`workbench.export.escape`, and the file's top level is checked before it is imported.
"""
from __future__ import annotations

import ast
import copy
import importlib.util
import inspect
import operator
import sys
import textwrap
from pathlib import Path

import torch
from torch import fx, nn

from workbench import __version__
from workbench.core.atomic import atomic_path, write_text
from workbench.core.compile import CompiledModel
from workbench.core.modules import init_arguments
from workbench.core.opaque import OpaqueModule
from workbench.export import escape
from workbench.export import verify as V
from workbench.export.onnx_export import ExportError
from workbench.export.report import ExportReport, Verification

_OPERATORS = {operator.add: "+", operator.mul: "*", operator.sub: "-", operator.truediv: "/",
              operator.matmul: "@"}


class Constructors:
    """Writes the expression that constructs a module, one rule for every class: the class
    called with the arguments `build` constructed it with (recorded by the compiler). A class
    from torch.nn is written `nn.Name`; any other class (Workbench's own, a plugin's) has its
    source copied into model.py, as torch.fx's GraphModule.to_folder does."""

    def __init__(self):
        self.copied: dict[str, type] = {}   # class name in model.py -> class, in order of need
        self.written: dict[str, str] = {}   # class name -> generated source (Opaque nodes)

    def expression(self, m: nn.Module, where: str) -> str:
        if isinstance(m, OpaqueModule):  # a stored call: written out as a class of its own
            return f"{self._opaque(m, where)}()"
        recorded = init_arguments(m)
        if recorded is None:
            raise ExportError(f"cannot write Python code for layer '{where}' ({type(m).__name__}): "
                              "it was not built by its node's spec")
        args, kwargs = recorded
        parts = [self.value(a, where) for a in args] + [f"{k}={self.value(v, where)}" for k, v in kwargs.items()]
        return f"{self.class_name(type(m), where)}({', '.join(parts)})"

    def value(self, v, where: str) -> str:
        if isinstance(v, nn.Module):
            return self.expression(v, where)
        if isinstance(v, torch.dtype):
            return str(v)
        if isinstance(v, type) and issubclass(v, nn.Module):
            return self.class_name(v, where)
        if isinstance(v, (list, tuple)) and any(isinstance(x, nn.Module) for x in v):
            inner = ", ".join(self.value(x, where) for x in v)
            return f"[{inner}]" if isinstance(v, list) else f"({inner},)"
        if callable(v) and not isinstance(v, type):
            return _function(v)
        try:
            return escape.python_literal(v)
        except TypeError:
            raise ExportError(f"cannot write Python code for layer '{where}': its argument {v!r} "
                              "is not a plain value") from None

    def _opaque(self, m: OpaqueModule, where: str) -> str:
        from workbench.export.opaque_code import opaque_class
        name = "Opaque_" + where
        if name in self.copied or name in self.written or name in _GENERATED_NAMES:
            raise ExportError(f"cannot write Python code for layer '{where}': two classes are named {name}")
        self.written[name] = opaque_class(m, name)
        return name

    def class_name(self, cls: type, where: str) -> str:
        if cls.__module__.startswith("torch.nn") and getattr(nn, cls.__name__, None) is cls:
            return "nn." + cls.__name__
        for base in reversed(cls.__mro__[1:]):  # bases first, so the copied file defines them in order
            if base is not object and not base.__module__.startswith("torch"):
                self._copy(base, where)
        self._copy(cls, where)
        return cls.__name__

    def _copy(self, cls: type, where: str) -> None:
        taken = self.copied.get(cls.__name__)
        if taken is cls:
            return
        if taken is not None or cls.__name__ in _GENERATED_NAMES:
            raise ExportError(f"cannot write Python code for layer '{where}': two classes are named "
                              f"{cls.__name__}")
        self.copied[cls.__name__] = cls

    def sources(self) -> str:
        out = []
        for name, cls in self.copied.items():
            try:
                out.append(textwrap.dedent(inspect.getsource(cls)).rstrip())
            except (OSError, TypeError):
                raise ExportError(f"cannot write Python code for the class {name}: its source is "
                                  "not available (defined interactively?)") from None
        return "\n\n\n".join(out + list(self.written.values()))


_GENERATED_NAMES = {"Model", "load", "CLASSES", "INPUTS", "torch", "nn", "F"}


def constructor(m: nn.Module) -> str:
    """A Python expression that builds a module like `m` (same arguments, same parameter shapes)."""
    return Constructors().expression(m, type(m).__name__)


def _same(expr: str, m: nn.Module, scope: dict) -> bool:
    """Does `expr` (in `scope`: torch, nn and the copied classes) build `m`'s parameter shapes?"""
    try:
        built = eval(expr, scope)  # noqa: S307 - our own expression; user text in it is repr()'d
    except Exception:  # noqa: BLE001
        return False
    a, b = built.state_dict(), m.state_dict()
    return a.keys() == b.keys() and all(a[k].shape == b[k].shape for k in a)


def _shape(t) -> str:
    return "(" + ", ".join("B" if d == "batch" else str(d) for d in t.shape) + ")"


def _value(a) -> str:
    if isinstance(a, fx.Node):
        return a.name
    if isinstance(a, (list, tuple)):
        inner = ", ".join(_value(x) for x in a)
        return f"[{inner}]" if isinstance(a, list) else f"({inner}{',' if len(a) == 1 else ''})"
    if isinstance(a, slice):
        return ":".join("" if v is None else _value(v) for v in (a.start, a.stop, a.step)).rstrip(":") or ":"
    if a is Ellipsis:
        return "..."
    if isinstance(a, torch.dtype):
        return str(a)
    try:
        return escape.python_literal(a)
    except TypeError:
        raise ExportError(f"cannot write Python code for the constant {type(a).__name__}") from None


def _function(fn) -> str:
    for prefix, ns in (("torch", torch), ("torch.nn.functional", nn.functional)):
        if getattr(ns, getattr(fn, "__name__", ""), None) is fn:
            return f"{prefix}.{fn.__name__}"
    raise ExportError(f"cannot write Python code for the function {fn!r}")


def forward_source(gm: fx.GraphModule, shapes: dict[str, str] | None = None) -> str:
    shapes = shapes or {}
    args, body = [], []
    for node in gm.graph.nodes:
        comment = f"  # {escape.python_comment(shapes[node.name])}" if node.name in shapes else ""
        if node.op == "placeholder":
            args.append(node.name)
        elif node.op == "call_module":
            call = f"self.{node.target}({', '.join(_value(a) for a in node.args)})"
            body.append(f"{node.name} = {call}{comment}")
        elif node.op == "call_function":
            fn = node.target
            if fn in _OPERATORS and len(node.args) == 2:
                expr = f"{_value(node.args[0])} {_OPERATORS[fn]} {_value(node.args[1])}"
            elif fn is operator.getitem:
                expr = f"{_value(node.args[0])}[{_value(node.args[1])}]"
            else:
                parts = [_value(a) for a in node.args] + [f"{k}={_value(v)}" for k, v in node.kwargs.items()]
                expr = f"{_function(fn)}({', '.join(parts)})"
            body.append(f"{node.name} = {expr}{comment}")
        elif node.op == "output":
            body.append(f"return {_value(node.args[0])}")
        else:
            raise ExportError(f"cannot write Python code for the graph step {node.op} {node.target}")
    lines = [f"    def forward(self, {', '.join(args)}):"] + [f"        {b}" for b in body]
    return "\n".join(lines)


def model_source(model: CompiledModel, *, project_name: str = "model", classes: list[str] | None = None,
                 shapes: dict[str, str] | None = None, class_name: str = "Model") -> str:
    """model.py's text. User text (the project's name, class names) appears only as escaped
    string contents; names in code are the compiler's identifiers (ASCII, see compile.identifier)."""
    from workbench.export.onnx_opaque import refuse
    refuse(model, "Python code (model.py)")
    gm = model.module
    writer = Constructors()
    inits = []
    for name, child in gm.named_children():
        inits.append(f"        self.{name} = {writer.expression(child, name)}")
    helpers = writer.sources()
    scope: dict = {"nn": nn, "torch": torch, "F": nn.functional}
    try:
        exec(helpers, scope)  # noqa: S102 - classes copied from Workbench's and plugins' own source
    except Exception as exc:  # noqa: BLE001
        raise ExportError(f"the layer classes copied into model.py do not load: {V.one_line(exc)}") from None
    for (name, child), line in zip(gm.named_children(), inits):
        if not _same(line.split(" = ", 1)[1], child, scope):
            raise ExportError(f"cannot write Python code for layer '{name}' ({type(child).__name__}): "
                              "the written constructor builds other parameter shapes")

    def doc(n, t, note=""):
        return escape.python_text(f"    {n}: {_shape(t)} {t.dtype}{note}")

    ins = "\n".join(doc(n, model.input_types[n], " token ids" if model.input_types[n].dtype == "int64" else "")
                    for n in model.input_names)
    outs = "\n".join(doc(n, model.output_types[n]) for n in model.output_names)
    inputs = {n: {"shape": ["B" if d == "batch" else d for d in model.input_types[n].shape],
                  "dtype": model.input_types[n].dtype} for n in model.input_names}
    return f'''"""{escape.python_text(project_name)}: the model as plain PyTorch, written by Workbench {__version__}.

Needs only PyTorch. The trained weights are in weights.pt beside this file:

    from model import load
    model = load()            # {class_name} with the trained weights, in eval mode
    scores = model(x)

Inputs (B = batch size):
{ins}
Outputs:
{outs}
"""
import torch
from torch import nn
from torch.nn import functional as F

CLASSES = {escape.python_literal(list(classes)) if classes else None}
INPUTS = {escape.python_literal(inputs)}


{helpers + chr(10) + chr(10) + chr(10) if helpers else ""}class {class_name}(nn.Module):
    def __init__(self):
        super().__init__()
{chr(10).join(inits)}

{forward_source(gm, shapes)}


def load(path=None, map_location="cpu"):
    """The model with trained weights (weights.pt beside this file by default), in eval mode."""
    import os
    path = path or os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights.pt")
    model = {class_name}()
    model.load_state_dict(torch.load(path, map_location=map_location, weights_only=True))
    return model.eval()
'''


def check_top_level(source: str) -> None:
    """Refuse to import a model.py whose top level is not what model_source writes (a docstring,
    the torch imports, literal CLASSES/INPUTS, classes, load): a second line of defence, so
    no text that slipped past the escaping could run when the file is verified."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ExportError(f"the written model.py does not parse: {exc.msg} (line {exc.lineno})") from None
    for i, stmt in enumerate(tree.body):
        ok = (isinstance(stmt, ast.Expr) and i == 0 and isinstance(stmt.value, ast.Constant)
              or isinstance(stmt, (ast.Import, ast.ImportFrom))
              and all(a.name.split(".")[0] in ("torch", "nn", "functional") for a in stmt.names)
              and (not isinstance(stmt, ast.ImportFrom) or (stmt.module or "").startswith("torch"))
              or isinstance(stmt, ast.Assign) and _literal(stmt.value)
              and all(isinstance(t, ast.Name) and t.id in ("CLASSES", "INPUTS") for t in stmt.targets)
              or isinstance(stmt, ast.ClassDef)
              or isinstance(stmt, ast.FunctionDef) and stmt.name == "load")
        if not ok:
            raise ExportError(f"the written model.py has an unexpected statement at line {stmt.lineno}; "
                              "not importing it")


def _literal(node) -> bool:
    try:
        ast.literal_eval(node)
    except ValueError:
        return False
    return True


def graph_shapes(project_graph, model: CompiledModel) -> dict[str, str]:
    """fx node name -> '(B, 64)' for every layer, from the project's shape analysis."""
    from workbench.core.analysis import analyse
    analysis = analyse(project_graph)
    out = {}
    for nid, name in model.submodules.items():
        t = analysis.outputs.get(nid, {}).get("out")
        if t is not None:
            out[name] = _shape(t)
    return out


def import_file(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


def write_model_code(model: CompiledModel, folder: str | Path, *, project_name: str = "model",
                     classes: list[str] | None = None, shapes: dict[str, str] | None = None) -> ExportReport:
    """Write model.py + weights.pt into `folder` and verify them by importing model.py."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    report = ExportReport("python")
    src = model_source(model, project_name=project_name, classes=classes, shapes=shapes)
    check_top_level(src)
    write_text(folder / "model.py", src)
    with atomic_path(folder / "weights.pt") as tmp:
        torch.save({k: v.detach().cpu() for k, v in model.module.state_dict().items()}, tmp)
    report.add_path(folder / "model.py")
    report.add_path(folder / "weights.pt")
    report.verification = verify_model_code(folder, model)
    return report


def verify_model_code(folder: Path, model: CompiledModel) -> Verification:
    axes = V.plan_axes(model)
    ver = Verification("model.py (imported, weights.pt loaded) vs PyTorch",
                       exported_sizes=V.export_sizes(model, axes))
    try:
        mod = import_file(folder / "model.py", f"_wb_model_{id(folder)}")
        loaded = mod.load(folder / "weights.pt")
    except Exception as exc:  # noqa: BLE001
        ver.problems.append("model.py does not load: " + V.one_line(exc))
        return ver
    for a in axes:
        ver.dynamic_axes.setdefault(a.input, []).append(f"{a.name} (axis {a.dim})")
    module = copy.deepcopy(model.module).eval()
    ver.checks = V.run_checks(module, model, axes, lambda inputs: V.reference(loaded, inputs))
    return ver


# -- train.py and the whole Python export ------------------------------------------------------

TEMPLATES = Path(__file__).parent / "templates"
_LOSS_ARGS = ("weight", "ignore_index", "reduction", "label_smoothing", "beta", "delta", "pos_weight",
              "margin", "eps")


def template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def loss_source(plan) -> str:
    """The project's loss as one expression (a weighted sum when it has several terms)."""
    terms = []
    for term in plan.losses:
        fn = term.fn
        sig = inspect.signature(type(fn).__init__).parameters
        args = []
        for key in _LOSS_ARGS:
            if key in sig and hasattr(fn, key):
                value = getattr(fn, key)
                default = sig[key].default
                if key == "weight" and isinstance(value, torch.Tensor):  # class weights (balanced)
                    args.append(f"weight=torch.tensor({escape.python_literal([float(v) for v in value])})")
                    continue
                if isinstance(value, torch.Tensor) or value is None or value == default:
                    continue
                args.append(f"{key}={escape.python_literal(value)}")
        terms.append((f"nn.{type(fn).__name__}({', '.join(args)})", term.weight))
    if len(terms) == 1 and terms[0][1] == 1.0:
        return terms[0][0]
    raise ExportError("train.py supports one loss per model for now")


def optimizer_source(plan, module: nn.Module) -> str:
    opt = plan.make_optimizer(module)
    cls = type(opt)
    sig = inspect.signature(cls.__init__).parameters
    args = []
    for key, value in opt.defaults.items():
        if key == "lr" or key not in sig or key in ("foreach", "fused", "capturable", "differentiable",
                                                      "maximize"):
            continue
        if isinstance(value, (int, float, bool, tuple)) and value != sig[key].default:
            args.append(f"{key}={escape.python_literal(value)}")
    return f"torch.optim.{cls.__name__}(model.parameters(), lr=lr{''.join(', ' + a for a in args)})"


def train_source(run, data_path: str) -> str:
    from workbench.core.compile import training_plan
    plan = training_plan(run.project.graph)
    _class_weights(run, plan)
    t = training_settings(run.project)
    settings = {"task": run.task, "data": data_path, "epochs": t.epochs,
                "batch_size": t.batch_size, "lr": float(plan.lr), "seed": t.seed}
    src = template("train.py")
    return (src.replace("__PREPROCESS__", template("preprocess.py").strip() + "\n\n\n"
                        + image_decode_source())
               .replace("__SETTINGS__", _settings_literal(settings))
               .replace("__LOSS__", loss_source(plan))
               .replace("__OPTIMIZER__", optimizer_source(plan, copy.deepcopy(run.model.module))))


def _class_weights(run, plan) -> None:
    """class_weight = balanced: train.py takes the weights the run trained with (summary.json),
    so the script trains what the app trained, not an unweighted loss."""
    balanced = [t for t in plan.losses if t.class_weight == "balanced"]
    if not balanced:
        return
    from workbench.train.runs import read_run
    weights = read_run(run.folder).summary.get("class_weights")
    if not (isinstance(weights, list) and weights and all(isinstance(w, (int, float)) for w in weights)):
        raise ExportError(f"{run.folder}: the loss weighs classes (class_weight = balanced) but the "
                          "run's summary.json has no class_weights to write into train.py")
    for t in balanced:
        t.fn.weight = torch.tensor([float(w) for w in weights], dtype=torch.float64)  # as written


def training_settings(project):
    """The project's TrainingSettings; a bad setting is an ExportError naming its key."""
    from workbench.core.training_settings import TrainingSettings, TrainingSettingsError
    try:
        return TrainingSettings.from_dict(project.training)
    except TrainingSettingsError as exc:
        raise ExportError(str(exc)) from None


def _settings_literal(settings: dict) -> str:
    """SETTINGS = {...} in train.py: one key per line, each value a Python literal."""
    lines = [f"    {escape.python_literal(k)}: {escape.python_literal(v)}," for k, v in settings.items()]
    return "{\n" + "\n".join(lines) + "\n}"


def write_python(run, folder: str | Path, data_path: str | None = None) -> ExportReport:
    """model.py + weights.pt (verified by import), train.py, preprocessing.json, README.md.
    `data_path`: train.py's default --data (relative = beside train.py); default: the run's
    data file, as an absolute path."""
    folder = Path(folder)
    report = write_model_code(run.model, folder, project_name=run.project.name, classes=run.classes,
                              shapes=graph_shapes(run.project.graph, run.model))
    if data_path is None:
        data_path = source_data_path(run)
    try:
        write_text(folder / "train.py", train_source(run, data_path))
        report.add_path(folder / "train.py")
    except ExportError as exc:
        report.warnings.append(f"train.py not written: {exc}")
    report.add_path(run.write_preprocessing(folder / "preprocessing.json"))
    write_text(folder / "README.md", _readme(run))
    report.add_path(folder / "README.md")
    return report


def source_data_path(run) -> str:
    """The run's training data file as an absolute path ('' when it names none)."""
    data_path = str(run.project.data.get("path", "")) if run.project.data else ""
    if data_path and not Path(data_path).is_absolute():
        data_path = str((run.folder / data_path).resolve())
    return data_path


def _readme(run) -> str:
    return f"""# {escape.markdown(run.project.name)}: plain PyTorch code

Written by Workbench {__version__} from run {escape.markdown_code(run.folder.name)} (checkpoint \
{escape.markdown_code(run.checkpoint)}).

- `model.py`: the model as an `nn.Module` (`Model`); `load()` returns it with the trained weights.
- `weights.pt`: the trained weights (a plain state dict; `torch.load(..., weights_only=True)`).
- `train.py`: trains `Model` again on a raw data file, with the preprocessing in
  `preprocessing.json`, the project's loss and optimizer. Needs PyTorch, numpy and pandas only:

      python train.py --data TRAIN.csv --epochs 20 --out trained.pt

  On several GPUs or machines, the same file under PyTorch's launcher trains with
  DistributedDataParallel (`--batch-size` is then per process):

      torchrun --standalone --nproc_per_node=4 train.py --data TRAIN.csv --out trained.pt

- `preprocessing.json`: the fitted preprocessing (scaling statistics, category maps,
  vocabulary, class names), replayed by train.py on raw rows.
"""


def image_decode_source() -> str:
    """workbench/data/image_decode.py verbatim (the training code's own resize and
    normalisation), with Pillow imported only when an image is read: a bundle of a model
    without image inputs runs where Pillow is not installed."""
    from pathlib import Path

    source = (Path(__file__).parents[1] / "data" / "image_decode.py").read_text(encoding="utf-8")
    body = source.split('"""', 2)[2]  # its docstring stays in Workbench
    lazy = ("try:\n    from PIL import Image, ImageOps\n"
            "except ImportError:  # only models that read images need Pillow\n"
            "    Image = ImageOps = None\n")
    return ("# ---- image decoding (Workbench's workbench/data/image_decode.py) ----\n"
            + body.replace("import numpy as np\nfrom PIL import Image, ImageOps\n", lazy).strip()
            + "\n")
