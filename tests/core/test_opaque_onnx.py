"""The Opaque node, ONNX flavour: a stored NodeProto run by onnxruntime as one custom op, its
float tensors frozen buffers (values from the weights), its integer constants in the call, its
recorded shape re-checked by ONNX shape inference."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from onnx import helper

from workbench.core import Graph, analyse, compile_model, weights
from workbench.core.opaque import OpaqueError
from workbench.core.opaque_onnx import onnx_params

W = np.random.default_rng(0).standard_normal((8, 6)).astype(np.float32)


def onnx_graph(width: int = 8, tile_shape=(12,)):
    """x (width) -> ONNX Einsum with W (opset 12) -> ONNX Tile x2 (int64 constant, opset 13)
    -> ONNX Hardmax (opset 13) -> Linear(3) -> y."""
    g = Graph()
    x = g.add_node("Input", params={"name": "x", "shape": str(width)})
    ein = g.add_node("Opaque", title="ein", params=onnx_params(
        helper.make_node("Einsum", ["x", "W"], ["y"], equation="bi,ij->bj", name="ein"),
        {"": 12}, [{"input": 0}, {"tensor": "W"}], {"W": W}, (6,), "float32", reason="no Workbench node for Einsum"))
    tile = g.add_node("Opaque", title="tile", params=onnx_params(
        helper.make_node("Tile", ["a", "r"], ["b"]), {"": 13}, [{"input": 0}, {"tensor": "repeats"}],
        {"repeats": np.array([1, 2], dtype=np.int64)}, tile_shape, "float32"))
    hard = g.add_node("Opaque", title="hard", params=onnx_params(
        helper.make_node("Hardmax", ["a"], ["b"], axis=-1), {"": 13}, [{"input": 0}], {}, (12,), "float32"))
    lin = g.add_node("Linear", params={"out_features": 3})
    y = g.add_node("Output", params={"name": "y"})
    for a, b, port in [(x, ein, "x0"), (ein, tile, "x0"), (tile, hard, "x0"), (hard, lin, "in"), (lin, y, "in")]:
        g.connect(a.id, "out", b.id, port)
    return g, ein, tile, hard, lin


def compiled_onnx_graph():
    g, ein, *_ = onnx_graph()
    model = compile_model(g, seed=3)
    assert weights.apply(model, g, {f"{ein.id}.W": torch.from_numpy(W)}) == []
    return g, model


def reference(x: np.ndarray) -> np.ndarray:
    tiled = np.tile(x @ W, (1, 2))
    return np.eye(12, dtype=np.float32)[tiled.argmax(-1)]


def test_params_keep_float_weights_out_and_constants_in():
    g, ein, tile, hard, _ = onnx_graph()
    assert ein.params["source"] == "onnx" and ein.params["op"] == "ONNX Einsum"
    assert '"W": {"dtype": "float32", "shape": [8, 6], "trainable": false}' in ein.params["call"]
    assert '"values": [1, 2]' in tile.params["call"] and ein.params["out_shape"] == "6"
    a = analyse(g)
    assert not [p for p in a.errors if not p.training]
    assert [a.outputs[n.id]["out"].shape for n in (ein, tile, hard)] == [("batch", 6), ("batch", 12), ("batch", 12)]
    assert a.params[ein.id] == 0


def test_runs_through_onnxruntime_and_only_the_rest_trains():
    g, model = compiled_onnx_graph()
    x = torch.randn(5, 8)
    hard_out = model.module.hard(model.module.tile(model.module.ein(x)))
    np.testing.assert_array_equal(hard_out.numpy(), reference(x.numpy()))
    assert [n for n, p in model.module.named_parameters()] == ["linear.weight", "linear.bias"]
    before = {k: v.clone() for k, v in model.module.state_dict().items()}
    opt = torch.optim.SGD(model.module.parameters(), lr=0.5)
    loss = torch.nn.functional.cross_entropy(model.module(x), torch.tensor([0, 1, 2, 0, 1]))
    loss.backward()
    opt.step()
    after = model.module.state_dict()
    assert torch.equal(before["ein.W"], after["ein.W"])
    assert not torch.equal(before["linear.weight"], after["linear.weight"])


def test_torch_export_sees_one_op_per_node():
    _, model = compiled_onnx_graph()
    program = torch.export.export(model.module.eval(), (torch.randn(2, 8),))
    ops = [n for n in program.graph.nodes if n.target is torch.ops.workbench.onnx_opaque.default]
    assert len(ops) == 3


def test_shapes_it_was_not_imported_for_are_problems():
    g, ein, *_ = onnx_graph(width=5)
    message = analyse(g).problems_of(ein.id)[0].message
    assert "ONNX Einsum does not accept inputs (batch, 5): " in message and "\n" not in message
    g, _, tile, *_ = onnx_graph(tile_shape=(13,))
    assert analyse(g).problems_of(tile.id)[0].message.endswith(
        "ONNX Tile was imported giving (batch, 13); these inputs give (batch, 12)")


def test_bad_calls_are_refused_in_one_line():
    node = helper.make_node("Einsum", ["x"], ["y"], equation="bi->b")
    with pytest.raises(OpaqueError, match="1 inputs given for 1|is not a port"):
        onnx_params(node, {"": 12}, [{"tensor": "missing"}], {}, (1,), "float32")
    with pytest.raises(OpaqueError, match="use tensor_name"):
        onnx_params(node, {"": 12}, [{"tensor": "a.b"}], {"a.b": W}, (1,), "float32")
    g, ein, *_ = onnx_graph()
    forged = ein.params["call"].replace('{"tensor": "W"}', '{"tensor": "elsewhere"}')
    g.set_param(ein.id, "call", forged)
    assert analyse(g).problems_of(ein.id)[0].message.endswith(
        'its stored ONNX input {"tensor": "elsewhere"} is not a port, a stored tensor or null')
    g.set_param(ein.id, "call", '{"node": "not base64!", "inputs": []}')
    assert analyse(g).problems_of(ein.id)[0].message.endswith(" its stored ONNX node does not parse")


def test_half_precision_inputs_run_in_float32():
    _, model = compiled_onnx_graph()
    x = torch.randn(3, 8)
    out = model.module.ein(x.to(torch.bfloat16))
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), x.to(torch.bfloat16).float().numpy() @ W, rtol=1e-4, atol=1e-4)
