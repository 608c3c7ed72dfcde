"""Opaque nodes (torch flavour) export and verify like any layer: ONNX (outputs equal PyTorch's,
with the stored tensors' loaded values), TorchScript, torch.export and model.py (the stored call written out as plain PyTorch)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from tests.core.test_opaque import _graph
from tests.export.pytorch_formats import export_pytorch
from workbench.core import compile_model, weights


@pytest.fixture(scope="module")
def model():
    w = torch.randn(8, 6, generator=torch.Generator().manual_seed(0))
    g, ein, scale, _ = _graph(w)
    compiled = compile_model(g)
    assert weights.apply(compiled, g, {f"{ein.id}.w": w, f"{scale.id}.s": torch.linspace(0.5, 2, 6)}) == []
    return compiled


def test_onnx_export_matches_pytorch(model, tmp_path):
    from workbench.export.onnx_export import export_onnx, ort_runner
    warnings.filterwarnings("ignore")
    report = export_onnx(model, tmp_path / "m.onnx")
    assert report.passed, report.summary()
    inputs = (torch.randn(4, 8), torch.randn(4, 8, 3, 5))
    ours = ort_runner(tmp_path / "m.onnx", model.input_names)(inputs)
    theirs = model.module.eval()(*inputs)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fmt", ["torchscript", "pt2", "python"])
def test_pytorch_formats_verify(model, tmp_path, fmt):
    warnings.filterwarnings("ignore")
    report = export_pytorch(model, tmp_path, fmt)
    if fmt == "python":
        code = (tmp_path / "model.py").read_text(encoding="utf-8")
        assert "return torch.einsum('bi,ij->bj', x0, self.w)" in code
        assert "return (x0 * self.s)" in code and "F.pixel_shuffle(x0, upscale_factor=2)" in code
        assert "workbench" not in code.split('"""', 2)[2].lower()  # needs only PyTorch
    assert report.passed, report.summary()


def test_model_py_writes_slices_methods_and_picks(tmp_path):
    from tests.core.test_opaque import methods_graph
    from workbench.export.python_code import write_model_code
    warnings.filterwarnings("ignore")
    report = write_model_code(compile_model(methods_graph()[0]), tmp_path)
    assert report.passed, report.summary()
    code = (tmp_path / "model.py").read_text(encoding="utf-8")
    assert "return x0[(slice(None, None, None), slice(1, 3, None), slice(None, None, 2))]" in code
    assert "return torch.Tensor.permute(x0, 0, 2, 1)" in code and "return torch.max(x0, dim=-1)[0]" in code
