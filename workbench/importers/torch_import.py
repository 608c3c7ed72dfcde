"""PyTorch models as Workbench graphs: an `nn.Module` (or a `file.py:Class` /
`package.module:Class` spec) traced with torch.fx, and `.pt2` programs from torch.export.

The tracer stops at the torch.nn layers the catalog has a node for (those become that node
with the module's weights); custom modules are traced through, their path kept in the titles
(`features.0` → `features_0`); what has no node becomes an Opaque node that calls the same
torch function. A `.py` spec runs the user's code once, to construct the module: the project
written is data only (JSON + safetensors).
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from pathlib import Path

import torch
from torch import fx, nn

from workbench.core import layout
from workbench.core.compile import identifier
from workbench.core.graph import Graph
from workbench.core.project import Project
from workbench.importers.result import (ImportError_, ImportResult, TOLERANCE, compiled,
                                       relative_difference)
from workbench.importers.torch_build import Builder
from workbench.importers.torch_map import Tracer, short_error

BATCHES = (2, 3)       # verification batch sizes: a size baked into the graph shows up
TRACE_BATCH = 2


# -- tracing and verifying -----------------------------------------------------------------------

class _Recorder(fx.Interpreter):
    def __init__(self, gm):
        super().__init__(gm)
        self.seen: dict[fx.Node, object] = {}

    def run_node(self, n):
        out = super().run_node(n)
        self.seen[n] = out
        return out


def _inputs(shape: tuple, dtype: str, vocab: int, batch: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    if dtype == "int64":
        return torch.randint(0, max(vocab, 1), (batch, *shape), generator=g)
    return torch.randn((batch, *shape), generator=g)


def _vocab(module: nn.Module) -> int:
    sizes = [m.num_embeddings for m in module.modules() if isinstance(m, nn.Embedding)]
    return min(sizes) if sizes else 2


def _leaves(out):
    return [torch.as_tensor(t) for t in torch.utils._pytree.tree_flatten(out)[0]
            if isinstance(t, torch.Tensor)]


def verify(result: ImportResult, source, make_input, batches=BATCHES) -> ImportResult:
    """Run the imported graph and the source on the same seeded inputs (two batch sizes) and
    record the largest relative difference; a mismatch is a report line, not an error."""
    model = compiled(result)
    worst = 0.0
    for i, batch in enumerate(batches):
        x = make_input(batch, 1000 + i)
        outs = []
        with torch.no_grad():
            for who, fn in (("the source model", source), ("the imported graph", model.module)):
                try:
                    outs.append(_leaves(fn(*x)))
                except Exception as exc:        # noqa: BLE001  (the user sees why, in one line)
                    result.report.append(f"{who} fails on a batch of {batch}: {short_error(exc)}")
                    result.max_diff = float("inf")
                    return result
        theirs, ours = outs
        worst = max(worst, relative_difference(ours, theirs) if len(ours) == len(theirs) else float("inf"))
    result.max_diff = worst
    if worst > TOLERANCE:
        result.report.append(f"does not match the source: max relative difference {worst:.1e}")
    else:
        result.report.append(f"matches the source: max relative difference {worst:.1e}")
    return result


def _finish(graph: Graph, tensors, report, name) -> ImportResult:
    for nid, pos in layout.compact(graph).items():
        graph.nodes[nid].pos = pos
    project = Project(graph, name=name)
    opaque = [n for n in graph.nodes.values() if n.type == "Opaque"]
    report[:0] = [f"{len(graph.nodes)} nodes, {len(opaque)} opaque"] + [
        f"opaque: {n.title} ({n.params['op']}): {n.params['reason']}" for n in opaque]
    return ImportResult(project, tensors, report)


def import_nn(module: nn.Module, input_shape, dtype: str = "float32",
              name: str = "model", where: str | None = None) -> ImportResult:
    """Trace `module` (in eval mode) on one input of `input_shape` per sample and map it onto
    catalog nodes. `dtype` "int64" feeds token ids (random ids below the smallest Embedding's
    vocabulary size when verifying); "auto" picks int64 when an Embedding reads the input."""
    where = where or name
    shape = tuple(int(d) for d in input_shape)
    was_training = module.training
    module.eval()
    try:
        try:
            graph = Tracer().trace(module, concrete_args=_defaults(module))
        except Exception as exc:                               # noqa: BLE001
            raise ImportError_(f"{where}: torch.fx cannot trace {type(module).__name__}: "
                               f"{short_error(exc)}") from None
        gm = fx.GraphModule(module, graph)
        placeholders = [n for n in graph.nodes if n.op == "placeholder"]
        if len(placeholders) != 1:
            raise ImportError_(f"{where}: forward takes {len(placeholders)} inputs; importing "
                               "from Python takes models with one input")
        if dtype == "auto":
            first = next(iter(placeholders[0].users), None)
            reads = first is not None and first.op == "call_module" and \
                isinstance(gm.get_submodule(str(first.target)), nn.Embedding)
            dtype = "int64" if reads else "float32"
        vocab = _vocab(module)

        def make_input(batch, seed):
            return (_inputs(shape, dtype, vocab, batch, seed),)

        recorder = _Recorder(gm)
        sample = make_input(TRACE_BATCH, 7)
        try:
            with torch.no_grad():
                module(*sample)         # the module's own error for a wrong shape: plain, quick
                recorder.run(*sample)
        except Exception as exc:                               # noqa: BLE001
            raise ImportError_(f"{where}: {type(module).__name__} fails on an input of shape "
                               f"{(TRACE_BATCH, *shape)} ({dtype}): {short_error(exc)}") from None
        builder = Builder(module, gm, recorder.seen, where)
        builder.build()
        calls: dict[str, int] = {}
        for n in gm.graph.nodes:
            if n.op == "call_module" and gm.get_submodule(str(n.target)).state_dict():
                calls[str(n.target)] = calls.get(str(n.target), 0) + 1
        builder.report += [f"'{t}' is called {k} times: each call is its own node with a copy of "
                           "its weights (they are no longer shared)" for t, k in calls.items() if k > 1]
        result = _finish(builder.graph, builder.tensors, builder.report, name)
        return verify(result, module, make_input)
    finally:
        module.train(was_training)


def _defaults(module: nn.Module) -> dict:
    """forward's optional arguments fixed at their defaults (a mask=None stays None)."""
    try:
        params = list(inspect.signature(module.forward).parameters.values())
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in params[1:] if p.default is not inspect.Parameter.empty}


# -- module specs ----------------------------------------------------------------------------

def load_class(spec: str):
    """The class a `file.py:Class` or `package.module:Class` spec names. Loading a .py runs
    it (by design: it is the user's model code), only here, at import time."""
    where, _, cls_name = spec.rpartition(":")
    if not where or not cls_name.isidentifier():
        raise ImportError_(f"{spec}: expected file.py:Class or package.module:Class")
    if where.endswith(".py"):
        path = Path(where)
        if not path.is_file():
            raise ImportError_(f"{where}: no such file")
        mod_name = f"_workbench_import_{identifier(path.stem)}"
        loader_spec = importlib.util.spec_from_file_location(mod_name, path)
        mod = importlib.util.module_from_spec(loader_spec)
        sys.path.insert(0, str(path.parent.resolve()))         # its own helpers import
        sys.modules[mod_name] = mod                            # dataclasses look themselves up
        try:
            loader_spec.loader.exec_module(mod)
        except (Exception, SystemExit) as exc:                 # noqa: BLE001
            sys.modules.pop(mod_name, None)
            raise ImportError_(f"{where}: running it failed: {type(exc).__name__}: {short_error(exc)}") from None
        finally:
            sys.path.remove(str(path.parent.resolve()))
    else:
        try:
            mod = importlib.import_module(where)
        except ImportError as exc:
            raise ImportError_(f"{spec}: cannot import module '{where}': {short_error(exc)}") from None
        except Exception as exc:                               # noqa: BLE001
            raise ImportError_(f"{spec}: importing '{where}' failed: {type(exc).__name__}: "
                               f"{short_error(exc)}") from None
    cls = getattr(mod, cls_name, None)
    if cls is None:
        raise ImportError_(f"{spec}: '{where}' has no '{cls_name}'")
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ImportError_(f"{spec}: '{cls_name}' is not a torch.nn.Module class")
    return cls


def import_module(spec: str, input_shape) -> ImportResult:
    """Import the module class `spec` names, constructed with no arguments."""
    if not input_shape:
        raise ImportError_(f"{spec}: a PyTorch module needs the shape of one input sample "
                           "(e.g. --input-shape 3,32,32)")
    cls = load_class(spec)
    try:
        module = cls()
    except TypeError as exc:
        raise ImportError_(f"{spec}: {cls.__name__}() cannot be constructed without arguments "
                           f"({short_error(exc)}); give it defaults, or wrap it in a class that "
                           "does") from None
    except Exception as exc:                                   # noqa: BLE001
        raise ImportError_(f"{spec}: {cls.__name__}() failed: {type(exc).__name__}: {short_error(exc)}") from None
    return import_nn(module, input_shape, dtype="auto", name=cls.__name__, where=spec)


# -- .pt2 programs ----------------------------------------------------------------------------

# what torch.export.load would unpickle (pickle.loads, torch's object pickler) or run (an
# AOTInductor shared library) whatever `weights_only` says: such archives are refused unread
_CODE_MEMBERS = ("/aotinductor/", "/executorch/", "/mtia/")
_CODE_SUFFIXES = (".so", ".dll", ".dylib", ".pyd", ".pyc", ".py")
_PICKLE_PREFIXES = ("custom_obj_", "opaque_obj_")


def load_program(path) -> "torch.export.ExportedProgram":
    """torch.export.load without unpickling objects: the archive's members are checked first
    (no custom or opaque objects, no compiled code), and every torch.load inside runs with
    weights_only forced on (TORCH_FORCE_WEIGHTS_ONLY_LOAD), so a pickled weight or sample
    input that is more than tensors is refused rather than run."""
    import zipfile

    from workbench.core import files
    try:
        files.check_regular(path, "model file")
    except files.FileRefused as exc:
        raise ImportError_(str(exc)) from None
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportError_(f"{path}: not a torch.export program (.pt2 is a zip archive): "
                           f"{short_error(exc)}") from None
    for member in names:
        base = member.rsplit("/", 1)[-1]
        if any(d in f"/{member}" for d in _CODE_MEMBERS) or base.endswith(_CODE_SUFFIXES):
            raise ImportError_(f"{path}: holds compiled code ({member}); Workbench imports "
                               "programs saved by torch.export.save only")
        if base.startswith(_PICKLE_PREFIXES):
            raise ImportError_(f"{path}: holds a pickled object ({member}), which loading "
                               "would run; Workbench does not unpickle model files")
    saved = {k: os.environ.pop(k, None) for k in ("TORCH_FORCE_WEIGHTS_ONLY_LOAD",
                                                  "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD")}
    os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = "1"
    try:
        import logging
        quiet = logging.getLogger("torch.export")
        level = quiet.level
        quiet.setLevel(logging.ERROR)
        try:
            return torch.export.load(path)
        finally:
            quiet.setLevel(level)
    except Exception as exc:                                   # noqa: BLE001
        raise ImportError_(f"{path}: cannot be loaded as data only: {short_error(exc)}") from None
    finally:
        os.environ.pop("TORCH_FORCE_WEIGHTS_ONLY_LOAD", None)
        for k, v in saved.items():
            if v is not None:
                os.environ[k] = v


def import_pt2(path) -> ImportResult:
    """A `.pt2` program (torch.export.save) as a graph: its ATen ops mapped onto catalog
    nodes, titles from the module path each op came from, the rest Opaque `torch.ops.aten.*`."""
    path = os.fspath(path)
    ep = load_program(path)
    try:
        gm = ep.module()
    except Exception as exc:                                   # noqa: BLE001
        raise ImportError_(f"{path}: the program cannot be run: {short_error(exc)}") from None
    inputs = []
    dynamic = True
    for node in gm.graph.nodes:
        if node.op != "placeholder":
            continue
        val = node.meta.get("val")
        if not isinstance(val, torch.Tensor) or val.dim() == 0:
            raise ImportError_(f"{path}: input '{node.name}' is not a batched tensor")
        dims = list(val.shape)
        if not all(isinstance(d, int) for d in dims[1:]):
            raise ImportError_(f"{path}: input '{node.name}' has sizes other than the batch "
                               f"that vary ({tuple(dims)}); export it with them fixed")
        if isinstance(dims[0], int):
            dynamic = False
            fixed = dims[0]
        inputs.append((tuple(dims[1:]), "int64" if val.dtype in (torch.int64, torch.int32) else "float32"))
    vocab = min([int(n.args[0].meta["val"].shape[0]) for n in gm.graph.nodes
                 if n.op == "call_function" and getattr(n.target, "overloadpacket", None)
                 is torch.ops.aten.embedding and "val" in n.args[0].meta] or [2])
    batches = BATCHES if dynamic else (fixed,)

    def make_input(batch, seed):
        return tuple(_inputs(shape, dtype, vocab, batch, seed + i)
                     for i, (shape, dtype) in enumerate(inputs))

    recorder = _Recorder(gm)
    try:
        with torch.no_grad():
            recorder.run(*make_input(batches[0], 7))
    except Exception as exc:                                   # noqa: BLE001
        raise ImportError_(f"{path}: the program fails on random inputs: {short_error(exc)}") from None
    builder = Builder(gm, gm, recorder.seen, path)
    builder.build()
    result = _finish(builder.graph, builder.tensors, builder.report, Path(path).stem)
    if not dynamic:
        result.report.append(f"the program was exported for batches of {fixed} only: checked "
                             "at that size")
    return verify(result, gm, make_input, batches)
