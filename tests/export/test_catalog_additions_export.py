"""The non-default settings of issue 17's catalog additions export and verify in every model
format (test_every_spec covers each node with its defaults): grouped convolutions, each
padding mode, LRN and an 8-input Add, in one graph so each format exports once."""
from __future__ import annotations

import warnings

import pytest

from tests.export.pytorch_formats import export_pytorch
from workbench.core import Graph, compile_model


@pytest.fixture(scope="module")
def model():
    g = Graph()
    x = g.add_node("Input", params={"name": "img", "shape": "4,7,7"})
    s = g.add_node("Input", params={"name": "seq", "shape": "4,9"})
    y = g.add_node("Output", params={"name": "y"})
    z = g.add_node("Output", params={"name": "z"})
    add = g.add_node("Add")
    branches = [("Conv2d", {"out_channels": 4, "groups": 4, "padding_mode": mode})
                for mode in ("zeros", "reflect", "replicate", "circular")]
    branches += [("Conv2d", {"out_channels": 4, "groups": 2, "kernel_size": 5, "padding": 2,
                             "dilation": 1, "padding_mode": "reflect"}),
                 ("LRN", {"size": 3, "alpha": 0.01, "beta": 0.5, "k": 2.0})]
    branches += [("Conv2d", {"out_channels": 4, "groups": 1, "padding_mode": "circular"})] * 2
    for port, (kind, params) in zip("abcdefgh", branches):
        node = g.add_node(kind, params=params)
        g.connect(x.id, "out", node.id, "in")
        g.connect(node.id, "out", add.id, port)
    g.connect(add.id, "out", y.id, "in")
    c1 = g.add_node("Conv1d", params={"out_channels": 8, "groups": 2, "padding": 2, "kernel_size": 5,
                                      "padding_mode": "replicate"})
    g.connect(s.id, "out", c1.id, "in")
    g.connect(c1.id, "out", z.id, "in")
    return compile_model(g, seed=2)


def test_onnx(model, tmp_path):
    from workbench.export.onnx_export import export_onnx
    warnings.filterwarnings("ignore")
    report = export_onnx(model, tmp_path / "m.onnx")
    assert report.passed, report.summary()


@pytest.mark.parametrize("fmt", ["torchscript", "pt2", "python"])
def test_pytorch_formats(model, tmp_path, fmt):
    warnings.filterwarnings("ignore")
    report = export_pytorch(model, tmp_path, fmt)
    if fmt == "python":
        code = (tmp_path / "model.py").read_text(encoding="utf-8")
        assert "groups=4, padding_mode='reflect'" in code and "nn.LocalResponseNorm(3" in code
    assert report.passed, report.summary()
