"""TorchScript (`.pt` for torch.jit.load / libtorch), verified by reloading it.

torch.jit is deprecated in the PyTorch Workbench installs (it warns to switch to torch.compile
or torch.export): it is kept for users and C++ runtimes that still load TorchScript, and
torch.export (`.pt2`) is the first-class PyTorch format. Like pt2, the file is serialised in
memory, verified from those bytes and written through the atomic writer.
"""
from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import torch

from workbench.core.compile import CompiledModel
from workbench.export import verify as V
from workbench.export._quiet import quiet
from workbench.export.pt2 import save_bytes
from workbench.export.report import ExportReport, Verification

DEPRECATION = ("TorchScript (torch.jit) is deprecated in PyTorch: it is kept for runtimes that still "
               "load it (libtorch, older deployments); prefer torch.export (.pt2) for new work")
TRACE_LOSS = ("torch.jit.script failed ({why}); the model was TRACED instead: Python control flow is "
              "frozen to the path the example took, and sizes the code reads from tensors may be "
              "baked in as constants (verified at other batch sizes/lengths below)")


def export_torchscript(model: CompiledModel, path: str | Path, *, method: str = "auto",
                       metadata: dict[str, str] | None = None) -> ExportReport:
    """`method`: "auto" (script, falling back to trace), "script" or "trace"."""
    from workbench.export.onnx_opaque import refuse
    refuse(model, "TorchScript")
    path = Path(path)
    report = ExportReport("torchscript", warnings=[DEPRECATION])
    module = copy.deepcopy(model.module).eval()
    axes = V.plan_axes(model)
    scripted = None
    if method in ("auto", "script"):
        try:
            with quiet():
                scripted = torch.jit.script(module)
            used = "torch.jit.script"
        except Exception as exc:  # noqa: BLE001
            if method == "script":
                raise
            report.warnings.append(TRACE_LOSS.format(why=V.one_line(exc, 160)))
    if scripted is None:
        with quiet(), torch.no_grad():
            scripted = torch.jit.trace(module, V.make_inputs(model, axes), check_trace=False)
        used = "torch.jit.trace"
    extra = {"workbench.json": json.dumps(metadata or {})}
    buffer = io.BytesIO()  # in memory: torch's own file writer aborts the process on a full disk
    with quiet():
        torch.jit.save(scripted, buffer, _extra_files=extra)
    report.verification = verify_torchscript(io.BytesIO(buffer.getvalue()), module, model, used)
    save_bytes(path, buffer.getvalue())
    report.add_path(path)
    return report


def verify_torchscript(path: Path | io.BytesIO, module: torch.nn.Module, model: CompiledModel, how: str) -> Verification:
    axes = V.plan_axes(model)
    ver = Verification(f"torch.jit.load ({how}) vs PyTorch", exported_sizes=V.export_sizes(model, axes))
    try:
        with quiet():
            loaded = torch.jit.load(path if isinstance(path, io.BytesIO) else str(path), map_location="cpu")
    except Exception as exc:  # noqa: BLE001
        ver.problems.append("torch.jit.load: " + V.one_line(exc))
        return ver
    ver.dynamic_axes = _axes(axes)
    ver.checks = V.run_checks(module, model, axes, lambda inputs: V.reference(loaded, inputs))
    return ver


def _axes(axes) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for a in axes:
        out.setdefault(a.input, []).append(f"{a.name} (axis {a.dim})")
    return out
