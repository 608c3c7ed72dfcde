"""ONNX files as editable Workbench graphs.

Read with `onnx` (external data only from beside the file), checked with `onnx.checker`,
shapes from `onnx.shape_inference`, constants folded first (onnx_fold), then each ONNX node
becomes a catalog node with its weights (onnx_ops). What no catalog node computes becomes an
Opaque node, so the import is whole; finally the compiled graph is run against onnxruntime on
random inputs and the largest relative difference is recorded.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from workbench.core import files
from workbench.core.layout import compact
from workbench.core.project import Project
from workbench.importers.result import ImportError_, ImportResult, relative_difference

MIN_OPSET = 9
SIZE_LIMIT = 2 * 1024 ** 3 - 1      # protobuf's own limit for one message
_DTYPES = {1: "float32", 7: "int64"}


def _one_line(exc: BaseException, limit: int = 200) -> str:
    return files.short(str(exc) or type(exc).__name__, limit)


def load(path: Path):
    """The checked, shape-inferred model; ImportError_ (one line naming the file) otherwise."""
    import onnx
    from google.protobuf.message import DecodeError
    try:
        raw = files.read_regular_bytes(path, SIZE_LIMIT, "ONNX model")
    except files.FileRefused as exc:
        raise ImportError_(str(exc)) from None
    try:
        model = onnx.load_model_from_string(raw)
    except (DecodeError, ValueError, RuntimeError):
        raise ImportError_(f"{path}: not an ONNX model (it does not parse as one: truncated, "
                           "or another format)") from None
    if not model.graph.node and not model.graph.output:
        raise ImportError_(f"{path}: not an ONNX model (it has no graph)")
    external = _check_external(model, path)
    try:   # by path: external data is then looked for beside the file (and > 2 GiB works)
        onnx.checker.check_model(str(path) if external else model)
    except Exception as exc:  # noqa: BLE001 - the checker raises several types
        raise ImportError_(f"{path}: onnx.checker refuses it: {_one_line(exc)}") from None
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    newest = onnx.defs.onnx_opset_version()
    if opset is None or not MIN_OPSET <= opset <= newest:
        raise ImportError_(f"{path}: opset {opset} is not supported (Workbench reads opsets "
                           f"{MIN_OPSET} to {newest})")
    if model.functions:
        from onnx import inliner
        model = inliner.inline_local_functions(model)
    try:
        model = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception as exc:  # noqa: BLE001
        raise ImportError_(f"{path}: ONNX shape inference fails: {_one_line(exc)}") from None
    if external:
        _load_external(model, path)
    return model, opset


def _check_external(model, path: Path) -> bool:
    """Tensors stored outside the file are read only from files in its own folder: a location
    with a folder part, or one that is a link out of it, is refused rather than followed."""
    from onnx import external_data_helper as ext
    tensors = [t for t in ext._get_all_tensors(model) if ext.uses_external_data(t)]
    folder = path.resolve().parent
    for t in tensors:
        info = {e.key: e.value for e in t.external_data}
        name = info.get("location", "")
        target = (folder / name).resolve()
        if (not name or os.path.basename(name) != name or name in (".", "..")
                or target.parent != folder):
            raise ImportError_(f"{path}: tensor '{t.name}' is stored in '{files.short(name, 80)}', "
                               "not in a file beside the model: refused")
        try:
            files.check_regular(target, "external data file")
        except files.FileRefused as exc:
            raise ImportError_(f"{path}: tensor '{t.name}': {exc}") from None
    return bool(tensors)


def _load_external(model, path: Path) -> None:
    from onnx import external_data_helper as ext
    folder = path.resolve().parent
    try:
        ext.load_external_data_for_model(model, str(folder))
    except Exception as exc:  # noqa: BLE001
        raise ImportError_(f"{path}: its external data cannot be read: {_one_line(exc)}") from None


def import_onnx(path: str | os.PathLike) -> ImportResult:
    """The ONNX file at `path` as a model-only project with its weights, verified against
    onnxruntime; ImportError_ (one line naming the file) when it cannot be imported."""
    path = Path(path)
    try:
        return _import(path)
    except ImportError_:
        raise
    except Exception as exc:  # noqa: BLE001 - a file this importer did not foresee: one line, not a traceback
        raise ImportError_(f"{path}: cannot import: {type(exc).__name__}: {_one_line(exc)}") from exc


def _import(path: Path) -> ImportResult:
    model, opset = load(path)
    from workbench.importers.onnx_opaque import Opaques
    from workbench.importers.onnx_ops import Mapper
    mapper = Mapper(model, opset, path, Opaques)
    graph, tensors, report = mapper.run()
    for nid, pos in compact(graph).items():
        graph.nodes[nid].pos = pos
    project = Project(graph, name=path.stem)
    result = ImportResult(project, tensors, report)
    verify(result, path, mapper)
    return result


def _session(path: Path):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def verify(result: ImportResult, path: Path, mapper) -> None:
    """onnxruntime on the original file vs the imported graph, same seeded random inputs, two
    batch sizes (one where the file fixes its batch size)."""
    from workbench.importers.result import TOLERANCE, compiled
    try:
        model = compiled(result)
    except ImportError_ as exc:
        raise ImportError_(f"{path}: {exc}") from None
    try:
        sess = _session(path)
    except Exception as exc:  # noqa: BLE001
        result.report.append(f"not verified: onnxruntime cannot run {path.name} "
                             f"({_one_line(exc, 160)})")
        return
    worst = 0.0
    generator = torch.Generator().manual_seed(0)
    for batch in mapper.batch_sizes():
        inputs = model.example_inputs(batch, generator)
        feed = {mapper.input_names[name]: x.numpy() for name, x in zip(model.input_names, inputs)}
        for i in sess.get_inputs():     # an input the outputs do not depend on: any value
            if i.name not in feed and i.name not in mapper.fold.consts:
                shape = [batch] + [d if isinstance(d, int) else 8 for d in i.shape[1:]]
                feed[i.name] = np.zeros(shape, np.int64 if "int64" in i.type else np.float32)
        try:
            with torch.no_grad():
                ours = model.module(*inputs)
        except Exception as exc:  # noqa: BLE001
            raise ImportError_(f"{path}: the imported graph fails on a batch of {batch}: "
                               f"{_one_line(exc)}") from None
        ours = list(ours) if isinstance(ours, tuple) else [ours]
        by_name = dict(zip(model.output_names, ours))
        names = [o.name for o in sess.get_outputs()]
        try:
            theirs = sess.run(names, feed)
        except Exception as exc:  # noqa: BLE001
            result.report.append(f"not verified: onnxruntime fails on {path.name} "
                                 f"({_one_line(exc, 160)})")
            return
        mine = [by_name.get(mapper.output_names.get(n, "")) for n in names]
        if any(m is None for m in mine):
            worst = float("inf")
            break
        worst = max(worst, relative_difference(mine, [np.asarray(t) for t in theirs]))
    result.max_diff = worst
    if mapper.fixed_batch:
        result.report.append(f"the file fixes the batch size to {mapper.fixed_batch}: verified at "
                             "that size; the imported graph takes any batch size")
    if worst > TOLERANCE:
        result.report.append(f"does not match the source: max relative difference {worst:.1e}")
    else:
        result.report.append(f"matches onnxruntime: max relative difference {worst:.1e}")


__all__ = ["import_onnx", "load", "verify"]
