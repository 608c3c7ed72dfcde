"""Every model node in the catalog: its shape rule agrees with the module PyTorch builds."""
from __future__ import annotations

import pytest
import torch

from workbench.core import Graph, analyse, catalog, compile_model
from workbench.core.plugins import EXAMPLE_INPUTS
from workbench.core.spec import MODEL, ShapeError
from workbench.core.types import TensorType

MERGES = {"Add", "Multiply", "Concat"}


def model_specs():
    return [s for s in catalog.all_specs() if s.role == MODEL]


def _graph_for(spec):
    for dims, dtype, card in EXAMPLE_INPUTS:  # the first input its shape rule accepts
        shape = ",".join(map(str, dims))
        g = Graph()
        inp = g.add_node("Input", params={"shape": shape, "dtype": dtype, "cardinality": card or 0})
        node = g.add_node(spec.type)
        g.connect(inp.id, "out", node.id, spec.inputs[0].name)
        if spec.type in MERGES:
            other = g.add_node("Input", params={"name": "x2", "shape": shape})
            g.connect(other.id, "out", node.id, "b")
        out = g.add_node("Output")
        g.connect(node.id, "out", out.id, "in")
        a = analyse(g)
        if not a.problems_of(node.id):
            return g, node, a
    pytest.fail(f"{spec.type}: no candidate input is accepted by its shape rule")


def test_catalog_has_the_issue_minimum():
    names = {s.type for s in catalog.all_specs()}
    for required in ["Input", "Output", "Linear", "Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d",
                     "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool2d", "GlobalPool", "BatchNorm1d",
                     "BatchNorm2d", "LayerNorm", "Dropout", "Flatten", "Reshape", "Embedding", "RNN",
                     "LSTM", "GRU", "MultiheadAttention", "TransformerEncoderLayer", "Add", "Concat",
                     "Multiply", "ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Sigmoid", "Tanh",
                     "Softmax", "LogSoftmax", "MSE", "L1", "SmoothL1", "Huber", "CrossEntropy",
                     "BCEWithLogits", "NLL", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "StepLR",
                     "ExponentialLR", "CosineLR", "ReduceLROnPlateau", "OneCycleLR"]:
        assert required in names, required


@pytest.mark.parametrize("spec", model_specs(), ids=lambda s: s.type)
def test_node_forward_matches_inferred_shape(spec):
    g, node, analysis = _graph_for(spec)
    compiled = compile_model(g, analysis=analysis)
    inferred = analysis.outputs[node.id]["out"]
    inputs = compiled.example_inputs(batch=5)
    for mode in ("train", "eval"):
        getattr(compiled.module, mode)()
        out = compiled.module(*inputs)
        expected = tuple(5 if d == "batch" else d for d in inferred.shape)
        assert tuple(out.shape) == expected, f"{spec.type} in {mode} mode"
        assert out.dtype == (torch.int64 if inferred.dtype == "int64" else torch.float32)
    real = sum(p.numel() for p in compiled.module.parameters() if p.requires_grad)
    assert analysis.params.get(node.id, 0) == real


@pytest.mark.parametrize("spec", catalog.all_specs(), ids=lambda s: s.type)
def test_every_spec_is_documented_and_defaults_are_valid(spec):
    assert spec.help and spec.category in catalog.CATEGORIES
    for p in spec.params:
        assert p.help, f"{spec.type}.{p.name} has no help text"
        assert p.check(p.default) == p.default


def test_param_check_refuses_bad_values():
    linear = catalog.get("Linear")
    with pytest.raises(ValueError, match="at least 1"):
        linear.param("out_features").check(0)
    with pytest.raises(ValueError, match="whole number"):
        linear.param("out_features").check(2.5)
    with pytest.raises(ValueError, match="one of"):
        catalog.get("GlobalPool").param("mode").check("median")


def test_shape_error_names_the_fix():
    spec = catalog.get("Linear")
    with pytest.raises(ShapeError, match=r"gets \(batch, 16, 8, 8\): add Flatten"):
        spec.infer(spec.defaults(), {"in": TensorType(("batch", 16, 8, 8))})


def test_global_pool_can_skip_padding():
    from workbench.core.modules import SequencePool
    x = torch.tensor([[[0.0, 0.0], [1.0, 3.0], [3.0, -1.0]]])  # first step is PAD (all zeros)
    assert torch.allclose(SequencePool("mean")(x), torch.tensor([[4 / 3, 2 / 3]]))
    assert torch.allclose(SequencePool("mean", skip_padding=True)(x), torch.tensor([[2.0, 1.0]]))
    assert torch.allclose(SequencePool("max", skip_padding=True)(-x.abs()), torch.tensor([[-1.0, -1.0]]))
    assert torch.allclose(SequencePool("mean", True)(torch.zeros(1, 3, 2)), torch.zeros(1, 2))


def test_facts_about_node_types_are_spec_fields():
    """What other layers ask about a node type is declared on its spec, never read off its name:
    dead units (insight), the channels-first layout (insight), the head's width (data)."""
    specs = {s.type: s for s in catalog.all_specs()}
    assert {t for t, s in specs.items() if s.dead_units} == {"ReLU"}
    layout = {t for t, s in specs.items() if s.channels_first}
    assert layout == {t for t in specs if t.endswith(("1d", "2d"))} | {"LRN"}
    assert {"Conv1d", "Conv2d", "MaxPool2d", "AdaptiveAvgPool1d", "BatchNorm1d"} <= layout
    assert specs["Linear"].width_param == "out_features" and specs["Linear"].param("out_features")
    assert all(not s.width_param or s.param(s.width_param) for s in specs.values())


def test_embedding_padding_row_stays_zero_under_any_init():
    g = Graph()
    x = g.add_node("Input", params={"shape": "5", "dtype": "int64", "cardinality": 9})
    emb = g.add_node("Embedding", params={"embedding_dim": 4, "init": "normal"})
    out = g.add_node("Output")
    g.connect(x.id, "out", emb.id, "in")
    g.connect(emb.id, "out", out.id, "in")
    module = compile_model(g).module
    weight = next(m for m in module.children()).weight
    assert torch.count_nonzero(weight[0]) == 0 and torch.count_nonzero(weight[1:]) > 0
