"""The compiler: readable fx code, seeded weights, and modules that script and export."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from workbench.core import analyse, compile_model, templates, training_plan
from workbench.core.compile import CompileError

from tests.core.helpers import classifier

SHAPES = {
    "mlp-classifier": templates.DataShape((4,), "float32", None, "classification", 3),
    "cnn-classifier": templates.DataShape((1, 8, 8), "float32", None, "classification", 10),
    "lstm-classifier": templates.DataShape((12,), "int64", 100, "classification", 4),
    "text-classifier": templates.DataShape((20,), "int64", 300, "classification", 10),
}


def test_generated_code_reads_like_a_forward():
    g, n = classifier(("Linear", {"out_features": 16}), "ReLU", ("Linear", {"out_features": 3}))
    g.set_title(n["linear"].id, "fc 1")
    g.set_title(n["linear1"].id, "head")
    code = compile_model(g).code
    assert "fc_1 = self.fc_1(x)" in code and "head = self.head(relu)" in code
    assert "return head" in code


def test_same_seed_same_weights_regardless_of_global_rng():
    g, _ = classifier(("Linear", {"out_features": 16}), ("Linear", {"out_features": 3}))
    a = compile_model(g, seed=3).module.state_dict()
    torch.manual_seed(12345)
    torch.rand(100)
    b = compile_model(g, seed=3).module.state_dict()
    c = compile_model(g, seed=4).module.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_initialisers_are_applied():
    g, n = classifier(("Linear", {"out_features": 16, "init": "kaiming_normal", "bias_init": "zeros"}))
    w = compile_model(g).module.linear
    assert torch.count_nonzero(w.bias) == 0
    assert w.weight.std().item() == pytest.approx((2 / 4) ** 0.5, rel=0.35)


def test_multiple_inputs_and_outputs():
    from workbench.core import Graph
    g = Graph()
    a = g.add_node("Input", params={"name": "a", "shape": "3"})
    b = g.add_node("Input", params={"name": "b", "shape": "5"})
    cat = g.add_node("Concat")
    head1 = g.add_node("Linear", "head1", {"out_features": 2})
    head2 = g.add_node("Linear", "head2", {"out_features": 1})
    o1 = g.add_node("Output", params={"name": "cls"})
    o2 = g.add_node("Output", params={"name": "value"})
    g.connect(a.id, "out", cat.id, "a")
    g.connect(b.id, "out", cat.id, "b")
    for head, out in ((head1, o1), (head2, o2)):
        g.connect(cat.id, "out", head.id, "in")
        g.connect(head.id, "out", out.id, "in")
    m = compile_model(g)
    assert m.input_names == ["a", "b"] and m.output_names == ["cls", "value"]
    y1, y2 = m.module(torch.randn(4, 3), torch.randn(4, 5))
    assert y1.shape == (4, 2) and y2.shape == (4, 1)
    assert "torch.cat([a, b], dim = -1)" in m.code


def test_invalid_model_does_not_compile():
    g, n = classifier(("Linear", {"out_features": 3}))
    g.disconnect(g.edges_into(n["linear"].id)[0])
    with pytest.raises(CompileError, match="input 'in' is not connected"):
        compile_model(g)


def test_training_plan_sums_weighted_losses_and_l1():
    g, n = classifier(("Linear", {"out_features": 3}))
    g.set_param(n["optimizer"].id, "l1", 0.5)
    g.set_param(n["loss"].id, "weight", 2.0)
    plan = training_plan(g)
    model = compile_model(g).module
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    expected = 2.0 * torch.nn.functional.cross_entropy(model(x), y) + 0.5 * model.linear.weight.abs().sum()
    assert torch.allclose(plan.loss({"out": model(x)}, {"y": y}, model), expected)
    opt = plan.make_optimizer(model)
    assert isinstance(opt, torch.optim.Adam) and opt.defaults["lr"] == 1e-3


@pytest.mark.parametrize("name", SHAPES)
def test_template_scripts_and_exports_to_onnx(name, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    project = templates.build(name, SHAPES[name])
    assert analyse(project.graph).valid
    compiled = compile_model(project.graph)
    model = compiled.module.eval()
    inputs = compiled.example_inputs(batch=3, generator=torch.Generator().manual_seed(0))
    expected = model(*inputs)

    scripted = torch.jit.script(model)
    assert torch.allclose(scripted(*inputs), expected, atol=1e-6)

    from torch.export import Dim
    path = tmp_path / f"{name}.onnx"
    torch.onnx.export(model, inputs, str(path), dynamo=True, external_data=False,
                      input_names=compiled.input_names, output_names=compiled.output_names,
                      dynamic_shapes=({0: Dim("batch")},), verbose=False)
    session = onnxruntime.InferenceSession(str(path))
    other = compiled.example_inputs(batch=5, generator=torch.Generator().manual_seed(1))
    got = session.run(None, {compiled.input_names[0]: other[0].numpy()})[0]
    np.testing.assert_allclose(got, model(*other).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_core_imports_no_qt():
    code = ("import sys, workbench.core, workbench.core.compile, workbench.core.templates\n"
            "for pkg in ('workbench.data', 'workbench.train', 'workbench.export'):\n"
            "    try:\n        __import__(pkg)\n    except ImportError:\n        pass\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph', 'qasync')]\n"
            "print(bad)\nsys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
