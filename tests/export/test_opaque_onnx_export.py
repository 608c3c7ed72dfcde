"""An ONNX-flavour Opaque node exports to ONNX as the original node (the placeholder spliced
out, its constants as initializers, converted to the file's opset), verified like every
export and runnable in plain onnxruntime; the PyTorch formats refuse it by name."""
from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest

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


def test_an_op_that_changed_between_opsets_is_converted():
    """ReduceSum took `axes` as an attribute up to opset 12 and as an input from 13: a node
    imported at opset 11 is rewritten for the opset-18 file, an unchanged one is kept as it is."""
    from onnx import helper
    from workbench.core.opaque_onnx import onnx_params, parse_call
    from workbench.export.onnx_opaque import _at_opset
    from workbench.core.opaque_onnx import one_node_model
    reduce = helper.make_node("ReduceSum", ["x"], ["y"], axes=[1], keepdims=0)
    call = parse_call(onnx_params(reduce, {"": 11}, [{"input": 0}], {}, (), "float32")["call"])
    small = _at_opset(one_node_model(call, [("float32", ["batch", 5])]), call, 18)
    node = next(n for n in small.graph.node if n.op_type == "ReduceSum")
    assert len(node.input) == 2 and not [a for a in node.attribute if a.name == "axes"]
    hard = helper.make_node("Hardmax", ["a"], ["b"], axis=-1)
    call = parse_call(onnx_params(hard, {"": 13}, [{"input": 0}], {}, (4,), "float32")["call"])
    small = _at_opset(one_node_model(call, [("float32", ["batch", 4])]), call, 18)
    assert [n.op_type for n in small.graph.node] == ["Hardmax"]
    assert {o.domain: o.version for o in small.opset_import}[""] == 18
