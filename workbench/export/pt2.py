"""torch.export (`.pt2`): the first-class PyTorch format, verified by torch.export.load.

The program is serialised into memory, verified from those bytes, and only then written through
the atomic writer: a full or read-only disk is then an OSError with the path, never a C++
`terminate` and a truncated file."""
from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import torch

from workbench.core.atomic import write_bytes
from workbench.core.compile import CompiledModel
from workbench.export import verify as V
from workbench.export._quiet import quiet
from workbench.export.onnx_export import _dynamic_shapes, with_fallback
from workbench.export.report import ExportError, ExportReport, Verification


def export_pt2(model: CompiledModel, path: str | Path, *, metadata: dict[str, str] | None = None,
               sequence: bool = True) -> ExportReport:
    from workbench.export.onnx_opaque import refuse
    refuse(model, "torch.export")
    path = Path(path)
    report = ExportReport("pt2")
    module = copy.deepcopy(model.module).eval()
    axes = V.plan_axes(model, sequence=sequence)
    example = V.make_inputs(model, axes)
    programs = []

    def attempt(axes, capped):
        with quiet():
            programs.append(torch.export.export(module, example,
                                                dynamic_shapes=_dynamic_shapes(model, axes, capped)))

    axes = with_fallback(attempt, axes, report.warnings, "torch.export")
    program = programs[-1]
    extra = {"workbench.json": json.dumps(metadata or {})}
    buffer = io.BytesIO()  # in memory: torch's own file writer aborts the process on a full disk
    with quiet():
        torch.export.save(program, buffer, extra_files=extra)
    report.verification = verify_pt2(io.BytesIO(buffer.getvalue()), module, model, axes)
    save_bytes(path, buffer.getvalue())
    report.add_path(path)
    return report


def save_bytes(path: Path, data: bytes) -> None:
    """The serialised model through the atomic writer; a failure is one line naming the path."""
    try:
        write_bytes(path, data)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or V.one_line(exc)}") from None


def verify_pt2(path: Path | io.BytesIO, module: torch.nn.Module, model: CompiledModel, axes) -> Verification:
    ver = Verification("torch.export.load vs PyTorch", exported_sizes=V.export_sizes(model, axes))
    try:
        with quiet():
            loaded = torch.export.load(path if isinstance(path, io.BytesIO) else str(path)).module()
    except Exception as exc:  # noqa: BLE001
        ver.problems.append("torch.export.load: " + V.one_line(exc))
        return ver
    for a in axes:
        ver.dynamic_axes.setdefault(a.input, []).append(f"{a.name} (axis {a.dim})")
    ver.checks = V.run_checks(module, model, axes, lambda inputs: V.reference(loaded, inputs))
    return ver
