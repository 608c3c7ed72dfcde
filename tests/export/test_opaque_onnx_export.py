"""An ONNX-flavour Opaque node exports to ONNX as the original node (the placeholder spliced
out, its constants as initializers, converted to the file's opset), verified like every
export and runnable in plain onnxruntime; the PyTorch formats refuse it by name."""
from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
import torch

from tests.core.test_opaque_onnx import compiled_onnx_graph, reference


@pytest.fixture(scope="module")
def model():
    return compiled_onnx_graph()[1]


def test_onnx_export_puts_the_original_nodes_back(model, tmp_path):
    from workbench.export.onnx_export import export_onnx, ort_runner
    warnings.filterwarnings("ignore")
    report = export_onnx(model, tmp_path / "m.onnx")
    assert report.passed, report.summary()
    saved = onnx.load(str(tmp_path / "m.onnx"))
    ops = [n.op_type for n in saved.graph.node]
    assert {"Einsum", "Tile", "Hardmax"} <= set(ops) and "OnnxOpaque" not in ops
    assert {o.domain for o in saved.opset_import} == {""}
    x = np.random.default_rng(1).standard_normal((4, 8)).astype(np.float32)
    y = ort_runner(tmp_path / "m.onnx", model.input_names)((x,))[0]
    linear = model.module.linear
    expected = reference(x) @ linear.weight.detach().numpy().T + linear.bias.detach().numpy()
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fmt, what", [("torchscript", "TorchScript"), ("pt2", "torch.export"),
                                       ("python", r"Python code \(model.py\)")])
def test_other_formats_refuse_it_by_name(model, tmp_path, fmt, what):
    from workbench.export.pt2 import export_pt2
    from workbench.export.python_code import write_model_code
    from workbench.export.report import ExportError
    from workbench.export.torchscript import export_torchscript
    write = {"torchscript": lambda: export_torchscript(model, tmp_path / "m.pt"),
             "pt2": lambda: export_pt2(model, tmp_path / "m.pt2"),
             "python": lambda: write_model_code(model, tmp_path)}[fmt]
    with pytest.raises(ExportError, match=rf"^cannot export the Opaque node 'ein' \(ONNX Einsum\) to {what}: "
                                          "it runs an ONNX node through onnxruntime"):
        write()
    assert not list(tmp_path.iterdir())
