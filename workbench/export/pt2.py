"""torch.export (`.pt2`): the first-class PyTorch format, verified by torch.export.load."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import torch

from workbench.core.compile import CompiledModel
from workbench.export import verify as V
from workbench.export._quiet import quiet
from workbench.export.onnx_export import _dynamic_shapes, with_fallback
from workbench.export.report import ExportReport, Verification


def export_pt2(model: CompiledModel, path: str | Path, *, metadata: dict[str, str] | None = None,
               sequence: bool = True) -> ExportReport:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
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
    with quiet():
        torch.export.save(program, str(path), extra_files=extra)
    report.add_path(path)
    report.verification = verify_pt2(path, module, model, axes)
    return report


def verify_pt2(path: Path, module: torch.nn.Module, model: CompiledModel, axes) -> Verification:
    ver = Verification("torch.export.load vs PyTorch", exported_sizes=V.export_sizes(model, axes))
    try:
        with quiet():
            loaded = torch.export.load(str(path)).module()
    except Exception as exc:  # noqa: BLE001
        ver.problems.append("torch.export.load: " + V.one_line(exc))
        return ver
    for a in axes:
        ver.dynamic_axes.setdefault(a.input, []).append(f"{a.name} (axis {a.dim})")
    ver.checks = V.run_checks(module, model, axes, lambda inputs: V.reference(loaded, inputs))
    return ver
