"""Export trained models (Qt-free): ONNX, TorchScript, torch.export, Python code and a
deployment bundle, each verified by reloading it and comparing with PyTorch at other batch
sizes and sequence lengths. `export_run` is the one entry the CLI and the app use, and
`formats` the one list of formats they all read; the lower-level functions take a
CompiledModel. Heavy imports happen on first use."""
from __future__ import annotations

__all__ = ["export_run", "ExportReport", "Verification", "Check", "Compression", "ExportError",
           "export_onnx", "export_torchscript", "export_pt2", "write_model_code", "write_python",
           "write_bundle", "FORMATS"]

_WHERE = {"export_run": "api", "ExportReport": "report", "Verification": "report",
          "Check": "report", "Compression": "report", "ExportError": "report",
          "export_onnx": "onnx_export", "export_torchscript": "torchscript", "export_pt2": "pt2",
          "write_model_code": "python_code", "write_python": "python_code", "write_bundle": "bundle"}


def __getattr__(name):
    if name == "FORMATS":  # the names in the registry (workbench.export.formats), in menu order
        from workbench.export import formats
        return tuple(formats.names())
    if name in _WHERE:
        import importlib
        return getattr(importlib.import_module(f"workbench.export.{_WHERE[name]}"), name)
    raise AttributeError(name)
