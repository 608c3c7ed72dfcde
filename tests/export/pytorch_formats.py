"""The PyTorch-side export formats by name, for tests that run one compiled model through each."""
from __future__ import annotations


def export_pytorch(model, folder, fmt: str):
    """Export `model` as `fmt` (torchscript, pt2 or python) into `folder`; the report."""
    if fmt == "torchscript":
        from workbench.export.torchscript import export_torchscript
        return export_torchscript(model, folder / "m.pt")
    if fmt == "pt2":
        from workbench.export.pt2 import export_pt2
        return export_pt2(model, folder / "m.pt2")
    from workbench.export.python_code import write_model_code
    return write_model_code(model, folder)
