"""Issue 17's catalog additions: grouped convolutions and padding modes, LRN, Add/Multiply
with up to 8 inputs; and project files written before them load to the same model."""
from __future__ import annotations

import json

import pytest
import torch

from tests.core.helpers import chain
from workbench.core import Graph, analyse, compile_model
from workbench.core.project import loads


def _conv_graph(**params):
    g = Graph()
    inp, conv, _ = chain(g, ("Input", {"shape": "4,8,8"}), ("Conv2d", params), "Output")
    return g, conv


def test_depthwise_conv_builds_grouped_weights_and_infers():
    g, conv = _conv_graph(out_channels=8, groups=4, padding_mode="reflect")
    a = analyse(g)
    assert not a.problems_of(conv.id)
    assert a.outputs[conv.id]["out"].shape == ("batch", 8, 8, 8)
    layer = next(compile_model(g).module.children())
    assert layer.groups == 4 and layer.padding_mode == "reflect"
    assert tuple(layer.weight.shape) == (8, 1, 3, 3)
    assert a.params[conv.id] == 8 * 9 + 8


@pytest.mark.parametrize("params, message", [
    ({"out_channels": 6, "groups": 3}, "groups 3 must divide the input channels (4)"),
    ({"out_channels": 6, "groups": 4}, "groups 4 must divide the out_channels (6)"),
    ({"padding": 8, "kernel_size": 17, "padding_mode": "reflect"}, "padding 8 is too large for reflect"),
])
def test_conv_refuses_groups_and_padding_that_cannot_work(params, message):
    g, conv = _conv_graph(**params)
    problems = analyse(g).problems_of(conv.id)
    assert problems and message in problems[0].message


def test_padding_modes_change_the_output_at_the_edges():
    outs = {}
    for mode in ("zeros", "reflect", "replicate", "circular"):
        g, conv = _conv_graph(out_channels=2, padding_mode=mode)
        torch.manual_seed(0)
        outs[mode] = compile_model(g, seed=1).module(torch.randn(1, 4, 8, 8))
    assert torch.allclose(outs["zeros"][..., 2:-2, 2:-2], outs["circular"][..., 2:-2, 2:-2])
    assert len({round(float(o[0, 0, 0, 0].detach()), 5) for o in outs.values()}) == 4


def test_lrn_matches_torch():
    g = Graph()
    _, lrn, _ = chain(g, ("Input", {"shape": "6,5,5"}), ("LRN", {"size": 3, "alpha": 0.01}), "Output")
    x = torch.randn(2, 6, 5, 5)
    ref = torch.nn.LocalResponseNorm(3, alpha=0.01, beta=0.75, k=1.0)(x)
    assert torch.allclose(compile_model(g).module(x), ref)
    g2 = Graph()
    _, bad, _ = chain(g2, ("Input", {"shape": "6"}), "LRN", "Output")
    assert "expects (batch, channels, ...)" in analyse(g2).problems_of(bad.id)[0].message


@pytest.mark.parametrize("kind, fn", [("Add", sum), ("Multiply", lambda xs: torch.stack(xs).prod(0))])
def test_add_and_multiply_take_eight_inputs(kind, fn):
    g = Graph()
    inputs = [g.add_node("Input", params={"name": f"x{i}", "shape": "3"}) for i in range(8)]
    node = g.add_node(kind)
    out = g.add_node("Output")
    for port, inp in zip("abcdefgh", inputs):
        g.connect(inp.id, "out", node.id, port)
    g.connect(node.id, "out", out.id, "in")
    xs = [torch.randn(2, 3) for _ in range(8)]
    assert torch.allclose(compile_model(g).module(*xs), fn(xs))
    g.disconnect(next(e for e in g.edges_into(node.id) if e.dst_port == "h"))
    g.connect(g.add_node("Input", params={"name": "odd", "shape": "4"}).id, "out", node.id, "h")
    assert "same shape" in analyse(g).problems_of(node.id)[0].message


OLD_FILE = {  # written before issue 17: no groups / padding_mode, Add with ports a and b only
    "format_version": 1, "name": "old",
    "graph": {"nodes": [
        {"id": "n1", "type": "Input", "title": "x", "params": {"name": "x", "shape": "2,6,6"}, "pos": [0, 0]},
        {"id": "n2", "type": "Conv2d", "title": "conv", "pos": [1, 0],
         "params": {"out_channels": 2, "kernel_size": 3, "stride": 1, "padding": 1, "dilation": 1,
                    "bias": True, "init": "default", "bias_init": "default"}},
        {"id": "n3", "type": "Add", "title": "add", "params": {}, "pos": [2, 0]},
        {"id": "n4", "type": "Output", "title": "out", "params": {"name": "y"}, "pos": [3, 0]}],
        "edges": [{"from": ["n1", "out"], "to": ["n2", "in"]}, {"from": ["n2", "out"], "to": ["n3", "a"]},
                  {"from": ["n1", "out"], "to": ["n3", "b"]}, {"from": ["n3", "out"], "to": ["n4", "in"]}]},
}


def test_old_project_files_load_to_the_same_model():
    project = loads(json.dumps(OLD_FILE))
    conv = project.graph.nodes["n2"]
    assert conv.params["groups"] == 1 and conv.params["padding_mode"] == "zeros"
    model = compile_model(project.graph, seed=5)
    layer = model.module.conv
    assert layer.groups == 1 and layer.padding_mode == "zeros"
    torch.manual_seed(5)
    same = torch.nn.Conv2d(2, 2, 3, padding=1)
    x = torch.randn(3, 2, 6, 6)
    same.load_state_dict(layer.state_dict())
    assert torch.allclose(model.module(x), same(x) + x)
    assert "groups" not in model.code and "padding_mode" not in repr(layer.extra_repr())
