"""ONNX through the dynamo exporter, verified before it is reported done.

Steps: export a `deepcopy(model).eval()` with a dynamic batch axis (and a dynamic sequence axis
for token/sequence inputs), one file (`external_data=False`), opset >= 18, the graph's input and
output names; write the metadata; `onnx.checker`; then run the file with onnxruntime at other
batch sizes and sequence lengths than the export saw and compare with PyTorch. A file that does
not pass is not left at the requested path: it is kept beside it as `NAME.unverified.onnx`.
The file is written and verified under a unique temp name (workbench.core.atomic) and renamed
only then, so two exports to one path each put their own verified model in place.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from workbench.core.atomic import atomic_path
from workbench.core.compile import CompiledModel
from workbench.export import verify as V
from workbench.export._quiet import quiet
from workbench.export.report import ExportError, ExportReport, Verification

OPSET = 18
# Warnings the exporter always gives that tell the user nothing (kept out of the report).
_NOISE = ("torchvision", "LeafSpec", "_check_is_size", "were assigned during export",
          "register_buffer", "TreeSpec", "deprecated")


def _dynamic_shapes(model: CompiledModel, axes: Sequence[V.Axis], capped: bool = False):
    """torch.export Dims for `axes`; `capped`: sequences only up to the export length (for
    models that cannot read longer ones, e.g. learned positions)."""
    dims: dict[str, torch.export.Dim] = {}
    spec = []
    for name in model.input_names:
        entry = {}
        for a in axes:
            if a.input == name:
                key = a.name if a.name == "batch" else a.label.replace(".", "_")
                top = a.export_size if capped and key != "batch" else 1 << 20
                dims.setdefault(key, torch.export.Dim(key, min=1, max=top))
                entry[a.dim] = dims[key]
        spec.append(entry or None)
    return tuple(spec)


def with_fallback(export, axes: list[V.Axis], warnings: list[str], what: str) -> list[V.Axis]:
    """Call `export(axes, capped)`: all axes dynamic; if it fails, sequences capped at the export
    length; then sequences fixed. Returns the axes used; each step down adds a warning."""
    seq = [a for a in axes if a.name != "batch"]
    try:
        export(axes, False)
        return axes
    except OSError:  # the disk, not the model: another export would fail the same way
        raise
    except Exception as exc:  # noqa: BLE001
        if not seq:
            raise ExportError(f"{what} failed: {V.one_line(exc)}") from None
        first = V.one_line(exc, 160)
    try:
        export(axes, True)
        warnings.append(f"{what} cannot keep the sequence length fully dynamic ({first}); exported "
                        "for lengths up to " + ", ".join(f"{a.label}={a.export_size}" for a in seq))
        return axes
    except OSError:
        raise
    except Exception:  # noqa: BLE001
        pass
    fixed = [a for a in axes if a.name == "batch"]
    try:
        export(fixed, False)
    except OSError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise ExportError(f"{what} failed: {V.one_line(exc)}") from None
    warnings.append(f"{what} cannot keep the sequence length dynamic ({first}); exported with a "
                    "fixed length of " + ", ".join(f"{a.label}={a.export_size}" for a in seq)
                    + " (pad or cut inputs to it)")
    return fixed


def _export(module, model, axes, path: Path, opset: int, caught: list, capped: bool = False) -> None:
    from workbench.export import onnx_opaque
    example = V.make_inputs(model, axes)
    opaque = onnx_opaque.has_onnx_opaque(module)  # ONNX nodes kept as they were imported
    with quiet(caught):
        program = torch.onnx.export(
            module, example, dynamo=True, opset_version=opset, external_data=False,
            input_names=list(model.input_names), output_names=list(model.output_names),
            dynamic_shapes=_dynamic_shapes(model, axes, capped) if axes else None, verbose=False,
            custom_translation_table=onnx_opaque.translation_table() if opaque else None)
        program.save(str(path), external_data=False)
    if opaque:
        onnx_opaque.splice_file(path, opset)


def session(path: Path | str):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def ort_runner(path: Path | str, input_names: Sequence[str]):
    sess = session(path)

    def run(inputs: tuple) -> list[np.ndarray]:
        feed = {n: t.numpy() if isinstance(t, torch.Tensor) else t for n, t in zip(input_names, inputs)}
        return sess.run(None, feed)
    return run


def axes_in_file(path: Path | str, model: CompiledModel, axes: Sequence[V.Axis]) -> tuple[dict, dict]:
    """(kept, fixed): per input, which of the requested axes the file declares dynamic."""
    import onnx
    m = onnx.load(str(path), load_external_data=False)
    shapes = {i.name: i.type.tensor_type.shape.dim for i in m.graph.input}
    kept: dict[str, list[str]] = {n: [] for n in model.input_names}
    fixed: dict[str, list[str]] = {n: [] for n in model.input_names}
    for a in axes:
        dims = shapes.get(a.input)
        if dims is None or a.dim >= len(dims):
            fixed[a.input].append(f"{a.name} (axis {a.dim}) missing")
            continue
        d = dims[a.dim]
        if d.HasField("dim_value"):
            fixed[a.input].append(f"{a.name} (axis {a.dim}) = {d.dim_value}")
        else:
            kept[a.input].append(f"{a.name} (axis {a.dim})")
    return kept, {k: v for k, v in fixed.items() if v}


def verify_onnx(path: Path | str, module: torch.nn.Module, model: CompiledModel,
                axes: Sequence[V.Axis], exported_axes: Sequence[V.Axis] | None = None) -> Verification:
    """onnx.checker, the declared axes, then onnxruntime vs PyTorch at other sizes."""
    import onnx
    exported_axes = axes if exported_axes is None else exported_axes
    ver = Verification("onnx.checker + onnxruntime vs PyTorch",
                       exported_sizes=V.export_sizes(model, exported_axes or axes))
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as exc:  # noqa: BLE001
        ver.problems.append("onnx.checker: " + V.one_line(exc))
    ver.dynamic_axes, ver.fixed_axes = axes_in_file(path, model, axes)
    try:
        run = ort_runner(path, model.input_names)
    except Exception as exc:  # noqa: BLE001
        ver.problems.append("onnxruntime cannot load it: " + V.one_line(exc))
        return ver
    ver.checks = V.run_checks(module, model, axes, run)
    return ver


def export_onnx(model: CompiledModel, path: str | Path, *, metadata: dict[str, str] | None = None,
                opset: int = OPSET, dynamic: bool = True, sequence: bool = True,
                fallback: bool = True) -> ExportReport:
    """Export and verify. `dynamic=False` exports every size fixed (the checks at other batch
    sizes then fail, as they should). With `fallback`, a sequence axis the exporter cannot keep
    (it refuses, or the file fails at another length) is exported fixed, with a warning."""
    if opset < 18:
        raise ExportError(f"opset {opset} is too old: the dynamo exporter needs opset 18 or newer")
    path = Path(path)
    report = ExportReport("onnx")
    bad = path.with_name(path.stem + ".unverified.onnx")
    try:
        with atomic_path(path) as tmp:
            ver = _export_and_verify(model, tmp, report, opset, dynamic, sequence, fallback, metadata)
            if not ver.passed:  # kept for a look, never at the requested path
                with atomic_path(bad) as kept:
                    os.replace(tmp, kept)
                raise _Unverified
        report.add_path(path)
    except _Unverified:
        report.add_path(bad)
        report.warnings.append(f"verification failed: the file was kept as {bad.name}, not {path.name}")
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or V.one_line(exc)}") from None
    return report


class _Unverified(Exception):
    pass


def _export_and_verify(model, tmp: Path, report: ExportReport, opset, dynamic, sequence, fallback,
                       metadata) -> Verification:
    """Export into `tmp` (a unique temp file of the atomic writer) and verify that very file."""
    module = copy.deepcopy(model.module).eval()
    wanted = V.plan_axes(model, sequence=sequence)
    exported = wanted if dynamic else []
    caught: list[str] = []

    def attempt(axes, capped):
        caught.clear()
        _export(module, model, axes, tmp, opset, caught, capped)

    try:
        exported = with_fallback(attempt, exported, report.warnings, "the ONNX exporter") if (
            fallback and exported) else (attempt(exported, False) or exported)
    except (ExportError, OSError):
        raise
    except Exception as exc:  # noqa: BLE001
        raise ExportError(f"the ONNX exporter failed: {V.one_line(exc)}") from None
    _set_metadata(tmp, metadata)
    # Check what we claim: the axes we asked to be dynamic, or (dynamic=False) the batch anyway.
    claimed = exported if dynamic else [a for a in wanted if a.name == "batch"]
    ver = verify_onnx(tmp, module, model, claimed, exported)
    seq_fixed = [a for a in exported if a.name != "batch"
                 and (a.input in ver.fixed_axes or _failed_at_other_length(ver, a))]
    if dynamic and fallback and seq_fixed and not ver.passed:
        report.warnings.append(
            "the exporter silently fixed the sequence length ("
            + "; ".join(f"{k}: {', '.join(v)}" for k, v in ver.fixed_axes.items())
            + " / checks at other lengths failed); re-exported with a fixed length of "
            + ", ".join(f"{a.label}={a.export_size}" for a in seq_fixed))
        exported = [a for a in exported if a not in seq_fixed]
        attempt(exported, False)
        _set_metadata(tmp, metadata)
        ver = verify_onnx(tmp, module, model, exported, exported)
    for a in wanted:
        if a not in exported and not any(a.label in w for w in report.warnings):
            report.warnings.append(f"{a.label} is fixed at {a.export_size} in this file")
    report.warnings += sorted({c for c in caught if not any(n in c for n in _NOISE)})
    report.verification = ver
    return ver


def _failed_at_other_length(ver: Verification, axis: V.Axis) -> bool:
    return any(not c.passed and c.sizes.get(axis.label, axis.export_size) != axis.export_size
               for c in ver.checks)


def _set_metadata(path: Path, metadata: dict[str, str] | None) -> None:
    if not metadata:
        return
    import onnx
    m = onnx.load(str(path))
    existing = {p.key: p for p in m.metadata_props}
    for key, value in metadata.items():
        if key in existing:
            existing[key].value = str(value)
        else:
            prop = m.metadata_props.add()
            prop.key, prop.value = key, str(value)
    m.doc_string = "Exported by Workbench " + metadata.get("workbench.version", "")
    onnx.save(m, str(path))


def read_metadata(path: Path | str) -> dict[str, str]:
    import onnx
    m = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in m.metadata_props}
