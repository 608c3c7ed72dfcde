"""ONNX import: files exported in the test from small torch models (the dynamo exporter at
opsets 18 and 23, the newest it writes; the TorchScript exporter for older opsets, whose
graphs look different: "/net/net.0/Gemm" names, Squeeze around an LSTM) and hand-built legacy
models (opsets 9 and 11), imported, compiled with their weights and compared with onnxruntime
on the same random inputs. Each test's own model is exported once: exports are the slow part."""
from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from workbench.importers import ImportError_
from workbench.importers.onnx_import import import_onnx
from workbench.importers.result import compiled

NEWEST = 23   # the newest opset torch's dynamo exporter writes


def export(model: nn.Module, example: torch.Tensor, path, opset: int):
    """The dynamo exporter from opset 18 on, the TorchScript one below (it writes opset 9+)."""
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if opset < 18:
            torch.onnx.export(model, (example,), str(path), dynamo=False, opset_version=opset,
                              input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
            return path
        batch = torch.export.Dim("batch", min=1, max=1024)
        program = torch.onnx.export(model, (example,), dynamo=True, opset_version=opset,
                                    input_names=["x"], output_names=["y"],
                                    dynamic_shapes=({0: batch},), verbose=False)
        program.save(str(path), external_data=False)
    return path


def types(result) -> list[str]:
    return [n.type for n in result.project.graph.nodes.values()]


def run_both(result, model: nn.Module, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        return compiled(result).module(x).numpy(), model(x).numpy()


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 8),
                                 nn.Tanh(), nn.Linear(8, 3), nn.LogSoftmax(dim=1))

    def forward(self, x):
        return self.net(x)


class CNN(nn.Module):
    """BatchNorm after the ReLU, so the exporter cannot fold it into the convolution; a
    reflect-padded convolution (exported as Pad → Conv) and a grouped one."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, padding_mode="reflect")
        self.bn = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, groups=2)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8 * 4 * 4, 5)

    def forward(self, x):
        y = self.bn(torch.relu(self.conv(x)))
        y = y + torch.sigmoid(self.conv2(y))
        return self.fc(torch.flatten(self.pool(y), 1))


class LSTMClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(5, 7, batch_first=True)
        self.fc = nn.Linear(7, 3)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[:, -1])


def _randomise_bn(model):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)


@pytest.mark.parametrize("opset", (11, 18))
def test_mlp(tmp_path, opset):
    torch.manual_seed(0)
    model = MLP()
    result = import_onnx(export(model, torch.randn(2, 4), tmp_path / "mlp.onnx", opset))
    assert types(result) == ["Input", "Linear", "ReLU", "Linear", "Tanh", "Linear",
                             "LogSoftmax", "Output"]
    assert result.ok() and result.max_diff <= 1e-4
    assert result.project.name == "mlp"
    linear = next(n for n in result.project.graph.nodes.values() if n.type == "Linear")
    assert linear.params["out_features"] == 16
    # titles from the module path: node names ("/net/net.0/Gemm") or the dynamo exporter's
    # name scopes (['', 'net', 'net.0', 'linear'])
    assert [n.title for n in result.project.graph.nodes.values()][1:4] == ["net_0", "net_1", "net_3"]
    assert torch.equal(result.tensors[f"{linear.id}.weight"], model.net[0].weight.detach())
    ours, theirs = run_both(result, model, torch.randn(6, 4))
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


@pytest.mark.parametrize("opset", (9, NEWEST))
def test_cnn_with_batchnorm_and_residual_add(tmp_path, opset):
    torch.manual_seed(1)
    model = CNN()
    _randomise_bn(model)
    result = import_onnx(export(model, torch.randn(2, 3, 8, 8), tmp_path / "cnn.onnx", opset))
    got = types(result)
    assert got[:4] == ["Input", "Conv2d", "ReLU", "BatchNorm2d"]
    for t in ("Add", "Sigmoid", "MaxPool2d", "Linear"):
        assert t in got
    assert "Opaque" not in got
    graph = result.project.graph
    first, grouped = [n for n in graph.nodes.values() if n.type == "Conv2d"]
    assert (first.params["padding"], first.params["padding_mode"]) == (1, "reflect")
    assert grouped.params["groups"] == 2 and grouped.params["padding"] == 1
    add = next(n for n in graph.nodes.values() if n.type == "Add")
    assert len(graph.edges_into(add.id)) == 2
    assert result.max_diff <= 1e-4
    ours, theirs = run_both(result, model, torch.randn(3, 3, 8, 8))
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


@pytest.mark.parametrize("opset", (14, NEWEST))
def test_lstm_classifier(tmp_path, opset):
    torch.manual_seed(2)
    model = LSTMClassifier()
    result = import_onnx(export(model, torch.randn(2, 6, 5), tmp_path / "lstm.onnx", opset))
    assert types(result) == ["Input", "LSTM", "Linear", "Output"]
    lstm = next(n for n in result.project.graph.nodes.values() if n.type == "LSTM")
    assert lstm.params["return"] == "last" and lstm.params["hidden_size"] == 7
    # the gates are back in torch's order: the same weights as the source module
    assert torch.equal(result.tensors[f"{lstm.id}.rnn.weight_ih_l0"], model.lstm.weight_ih_l0.detach())
    assert torch.equal(result.tensors[f"{lstm.id}.rnn.bias_hh_l0"], model.lstm.bias_hh_l0.detach())
    assert result.max_diff <= 1e-4
    ours, theirs = run_both(result, model, torch.randn(4, 6, 5))
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


# -- hand-built legacy models -----------------------------------------------------------------

def _save(tmp_path, name, nodes, inputs, outputs, inits, opset):
    graph = helper.make_graph(nodes, name, inputs, outputs,
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=7)
    onnx.checker.check_model(model)
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    return path


def test_constant_weight_and_shape_derived_reshape_are_folded(tmp_path):
    """MatMul's B comes from a Constant node, its bias from an Add; the Reshape target is
    Shape → Gather(0) → Unsqueeze → Concat([batch, 3, 4]): all known before the model runs."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((6, 12)).astype(np.float32)
    b = rng.standard_normal(12).astype(np.float32)
    nodes = [
        helper.make_node("Constant", [], ["W"], value=numpy_helper.from_array(w)),
        helper.make_node("MatMul", ["x", "W"], ["mm"], name="/fc/MatMul"),
        helper.make_node("Add", ["mm", "b"], ["h"], name="/fc/Add"),
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n"], ["n1"], axes=[0]),
        helper.make_node("Concat", ["n1", "rest"], ["target"], axis=0),
        helper.make_node("Reshape", ["h", "target"], ["r"], name="/view/Reshape"),
        helper.make_node("Softmax", ["r"], ["y"], axis=2, name="/softmax/Softmax"),
    ]
    inits = {"b": b, "zero": np.array(0, np.int64), "rest": np.array([3, 4], np.int64)}
    path = _save(tmp_path, "folded", nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, 4])], inits, 11)
    result = import_onnx(path)
    graph = result.project.graph
    assert types(result) == ["Input", "Linear", "Reshape", "Softmax", "Output"]
    fc = graph.by_title("fc")
    assert fc.params == {**fc.params, "out_features": 12, "bias": True}
    assert np.array_equal(result.tensors[f"{fc.id}.weight"].numpy(), w.T)
    assert np.array_equal(result.tensors[f"{fc.id}.bias"].numpy(), b)
    assert graph.by_title("view").params["shape"] == "3,4"
    assert graph.by_title("softmax").params["dim"] == -1
    assert result.max_diff <= 1e-4


def test_opset9_legacy_ops(tmp_path):
    """Gemm without transB and with alpha/beta, BatchNormalization, LRN, AveragePool that counts
    its padding, GlobalAveragePool, Flatten, Dropout, LeakyRelu, Softmax (opset-9 semantics)."""
    rng = np.random.default_rng(1)
    f = np.float32
    inits = {
        "cw": rng.standard_normal((4, 2, 3, 3)).astype(f), "cb": rng.standard_normal(4).astype(f),
        "s": rng.uniform(0.5, 1.5, 4).astype(f), "bb": rng.standard_normal(4).astype(f),
        "m": rng.standard_normal(4).astype(f), "v": rng.uniform(0.5, 2, 4).astype(f),
        "gw": rng.standard_normal((4, 3)).astype(f), "gb": rng.standard_normal(3).astype(f),
    }
    nodes = [
        helper.make_node("Conv", ["x", "cw", "cb"], ["c"], pads=[1, 1, 1, 1], name="features.0"),
        helper.make_node("BatchNormalization", ["c", "s", "bb", "m", "v"], ["bn"], epsilon=1e-3),
        helper.make_node("LeakyRelu", ["bn"], ["lr"], alpha=0.1),
        helper.make_node("LRN", ["lr"], ["lrn"], size=3, alpha=1e-3, beta=0.75, bias=2.0),
        helper.make_node("AveragePool", ["lrn"], ["ap"], kernel_shape=[3, 3], strides=[1, 1],
                         pads=[1, 1, 1, 1], count_include_pad=1),
        helper.make_node("GlobalAveragePool", ["ap"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["fl"], axis=1),
        helper.make_node("Dropout", ["fl"], ["dr"], ratio=0.3),
        helper.make_node("Gemm", ["dr", "gw", "gb"], ["g"], alpha=0.5, beta=2.0, transB=0),
        helper.make_node("Softmax", ["g"], ["y"], axis=1),
    ]
    path = _save(tmp_path, "legacy", nodes,
                 [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2, 6, 6])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])], inits, 9)
    result = import_onnx(path)
    assert types(result) == ["Input", "Conv2d", "BatchNorm2d", "LeakyReLU", "LRN", "AvgPool2d",
                             "AdaptiveAvgPool2d", "Flatten", "Linear", "Softmax", "Output"]
    graph = result.project.graph
    assert graph.by_title("features_0").type == "Conv2d"
    bn = next(n for n in graph.nodes.values() if n.type == "BatchNorm2d")
    assert bn.params["eps"] == pytest.approx(1e-3)
    lin = next(n for n in graph.nodes.values() if n.type == "Linear")
    assert np.allclose(result.tensors[f"{lin.id}.weight"].numpy(), 0.5 * inits["gw"].T)
    assert np.allclose(result.tensors[f"{lin.id}.bias"].numpy(), 2.0 * inits["gb"])
    assert result.max_diff <= 1e-4
    # saved as a project with its weights beside it, loaded back: the same outputs
    from workbench.core import project as P
    from workbench.core import weights
    target = tmp_path / "legacy.wbproj"
    result.project.path = target
    weights.save(result.project, result.tensors)
    P.save(result.project, target)
    again = P.load(target)
    loaded = weights.load(again)
    assert set(loaded) == set(result.tensors)
    x = torch.randn(3, 2, 6, 6)
    from workbench.importers import ImportResult
    with torch.no_grad():
        a = compiled(result).module(x)
        b = compiled(ImportResult(again, loaded)).module(x)
    assert torch.equal(a, b)


def test_mismatch_is_reported_not_hidden(tmp_path, monkeypatch):
    """An import whose graph does not compute what the file does is kept with a report line."""
    nodes = [helper.make_node("Tanh", ["x"], ["y"])]
    path = _save(tmp_path, "tanh", nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])], {}, 13)
    from workbench.importers import onnx_ops
    monkeypatch.setattr(onnx_ops.Mapper, "op_Tanh", onnx_ops.Mapper.op_Sigmoid)
    result = import_onnx(path)
    assert types(result) == ["Input", "Sigmoid", "Output"]
    assert not result.ok() and result.max_diff > 1e-4
    assert result.report[-1] == f"does not match the source: max relative difference {result.max_diff:.1e}"


# -- files that are not (usable) ONNX models ---------------------------------------------------

def test_bad_files(tmp_path):
    text = tmp_path / "notes.onnx"
    text.write_text("these are notes, not a model\n")
    with pytest.raises(ImportError_) as info:
        import_onnx(text)
    assert str(info.value) == (f"{text}: not an ONNX model (it does not parse as one: "
                               "truncated, or another format)")

    good = _save(tmp_path, "good", [helper.make_node("MatMul", ["x", "W"], ["y"])],
                 [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 40])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 30])],
                 {"W": np.ones((40, 30), np.float32)}, 13)
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(good.read_bytes()[:-300])
    with pytest.raises(ImportError_) as info:
        import_onnx(cut)
    assert str(info.value) == (f"{cut}: not an ONNX model (it does not parse as one: "
                               "truncated, or another format)")

    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(ImportError_) as info:
        import_onnx(empty)
    assert str(info.value) == f"{empty}: not an ONNX model (it has no graph)"

    with pytest.raises(ImportError_) as info:
        import_onnx(tmp_path / "missing.onnx")
    assert "missing.onnx" in str(info.value) and "\n" not in str(info.value)


def test_external_data_only_from_beside_the_file(tmp_path):
    w = np.ones((4, 3), np.float32)
    tensor = numpy_helper.from_array(w, "W")
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "../secret.bin"), ("offset", "0"), ("length", "48")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], "ext",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])], [tensor])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    path = tmp_path / "ext.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(ImportError_) as info:
        import_onnx(path)
    assert str(info.value) == (f"{path}: tensor 'W' is stored in '../secret.bin', not in a file "
                               "beside the model: refused")

    (tmp_path / "w.bin").write_bytes(w.tobytes())
    model.graph.initializer[0].external_data[0].value = "w.bin"
    path.write_bytes(model.SerializeToString())
    result = import_onnx(path)
    assert types(result) == ["Input", "Linear", "Output"] and result.max_diff <= 1e-4


def test_unsupported_opset(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["y"])]
    graph = helper.make_graph(nodes, "old", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 8)], ir_version=7)
    path = tmp_path / "old.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ImportError_) as info:
        import_onnx(path)
    assert str(info.value) == (f"{path}: opset 8 is not supported (Workbench reads opsets 9 to "
                               f"{onnx.defs.onnx_opset_version()})")


class Unmappable(nn.Module):
    """erf and sqrt have no catalog node: they become torch-flavoured Opaque nodes."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 6)
        self.head = nn.Linear(6, 3)

    def forward(self, x):
        h = self.fc(x)
        return self.head(torch.erf(h) * torch.sqrt(h.abs() + 1.0))


@pytest.mark.parametrize("opset", (14, NEWEST))
def test_unmapped_ops_become_opaque_nodes_that_run_and_export(tmp_path, opset):
    from workbench.export.onnx_export import export_onnx, session
    torch.manual_seed(4)
    model = Unmappable()
    path = export(model, torch.randn(2, 4), tmp_path / "odd.onnx", opset)
    result = import_onnx(path)
    graph = result.project.graph
    opaque = {n.params["op"]: n for n in graph.nodes.values() if n.type == "Opaque"}
    assert set(opaque) == {"torch.erf", "torch.abs", "operator.add", "torch.sqrt"}
    assert opaque["torch.erf"].params["reason"] == "no Workbench node for Erf"
    assert opaque["torch.erf"].params["source"] == "torch"
    # the constant 1.0 of the Add is a stored tensor in the weights, keyed by the node
    add = opaque["operator.add"]
    assert [float(v) for k, v in result.tensors.items() if k.startswith(add.id + ".")] == [1.0]
    assert result.report[0].endswith("ONNX nodes became 9 Workbench nodes, 4 of them Opaque")
    assert result.max_diff <= 1e-4
    ours, theirs = run_both(result, model, torch.randn(5, 4))
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    if opset == NEWEST:
        return   # one re-export is enough (exports are the slow part)
    # exported again from the imported weights, it computes what the original file computes
    again = tmp_path / "again.onnx"
    report = export_onnx(compiled(result), again)
    assert again.exists(), report.warnings
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    a = session(path).run(None, {"x": x})[0]
    b = session(again).run(None, {session(again).get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(a, b, atol=1e-5)


class BiGRU(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(5, 4, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc(self.gru(x)[0])      # every step, both directions


class GRUState(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(5, 4, batch_first=True)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.gru(x)[1][-1])   # the final hidden state


@pytest.mark.parametrize("model_class, ret", [(BiGRU, "all"), (GRUState, "last")])
def test_gru_gate_order_and_state(tmp_path, model_class, ret):
    torch.manual_seed(5)
    model = model_class()
    result = import_onnx(export(model, torch.randn(2, 6, 5), tmp_path / "gru.onnx", 14))
    assert types(result) == ["Input", "GRU", "Linear", "Output"]
    gru = next(n for n in result.project.graph.nodes.values() if n.type == "GRU")
    assert gru.params["return"] == ret
    assert gru.params["bidirectional"] == (model_class is BiGRU)
    for key in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        assert torch.equal(result.tensors[f"{gru.id}.rnn.{key}"], getattr(model.gru, key).detach())
    assert result.max_diff <= 1e-4


def test_torch_flavoured_opaque_table(tmp_path):
    """Einsum, a constant-index Gather, Pad, Clip, ReduceSum and a three-axis Transpose have no
    catalog node: each becomes the torch call that computes it, and the whole graph matches."""
    rng = np.random.default_rng(2)
    w = rng.standard_normal((4, 5)).astype(np.float32)
    nodes = [
        helper.make_node("Einsum", ["x", "w"], ["e"], equation="bijc,jk->bikc"),
        helper.make_node("Pad", ["e", "pads", "pv"], ["p"], mode="constant"),
        helper.make_node("Clip", ["p", "lo", "hi"], ["c"]),
        helper.make_node("Transpose", ["c"], ["t"], perm=[0, 2, 3, 1]),
        helper.make_node("Gather", ["t", "i"], ["g"], axis=1),
        helper.make_node("ReduceSum", ["g", "ax"], ["y"], keepdims=0),
    ]
    inits = {"w": w, "pads": np.array([0, 0, 0, 0, 0, 1, 0, 2], np.int64),
             "pv": np.array(0.5, np.float32), "lo": np.array(-1.0, np.float32),
             "hi": np.array(1.5, np.float32), "i": np.array(-1, np.int64),
             "ax": np.array([2], np.int64)}
    path = _save(tmp_path, "table", nodes,
                 [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4, 1])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])], inits, 13)
    result = import_onnx(path)
    ops = [n.params["op"] for n in result.project.graph.nodes.values() if n.type == "Opaque"]
    assert ops == ["torch.einsum", "torch.nn.functional.pad", "torch.clamp", "Tensor.permute",
                   "Tensor.select", "torch.sum"]
    assert result.max_diff <= 1e-4


def test_lstm_with_a_named_sequence_length(tmp_path):
    """A dynamic sequence axis stays a named size of the Input ("steps"); the exporter's
    reshapes that read it from Shape(x) still fold."""
    torch.manual_seed(6)
    model = LSTMClassifier().eval()
    path = tmp_path / "seq.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(2, 6, 5),), str(path), dynamo=False, opset_version=14,
                          input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch", 1: "steps"}})
    result = import_onnx(path)
    assert types(result) == ["Input", "LSTM", "Linear", "Output"]
    assert result.project.graph.by_title("x").params["shape"] == "steps,5"
    assert result.max_diff <= 1e-4
    ours, theirs = run_both(result, model, torch.randn(3, 11, 5))
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


class TextClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 6)
        self.ln = nn.LayerNorm(6)
        self.fc = nn.Linear(6, 2)

    def forward(self, x):
        return self.fc(nn.functional.silu(self.ln(self.emb(x).mean(1))))


def test_embedding_and_decomposed_layernorm_and_silu(tmp_path):
    """Opset 14 has no LayerNormalization: the exporter writes it as nine ops (and SiLU as
    x·sigmoid(x)); both come back as one node each."""
    torch.manual_seed(7)
    model = TextClassifier()
    with torch.no_grad():
        model.ln.weight.uniform_(0.5, 1.5)
        model.ln.bias.uniform_(-0.5, 0.5)
    x = torch.randint(0, 20, (2, 7))
    result = import_onnx(export(model, x, tmp_path / "text.onnx", 14))
    assert types(result) == ["Input", "Embedding", "GlobalPool", "LayerNorm", "SiLU", "Linear", "Output"]
    graph = result.project.graph
    assert graph.by_title("x").params["dtype"] == "int64"
    ln = graph.by_title("ln")
    assert torch.equal(result.tensors[f"{ln.id}.bias"], model.ln.bias.detach())
    assert result.max_diff <= 1e-4
    ours, theirs = run_both(result, model, torch.randint(0, 20, (3, 7)))
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_layernormalization_op(tmp_path):
    scale, bias = np.full(5, 2.0, np.float32), np.full(5, 0.5, np.float32)
    nodes = [helper.make_node("LayerNormalization", ["x", "s", "b"], ["y"], axis=-1, epsilon=1e-3)]
    path = _save(tmp_path, "ln", nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 5])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, 5])],
                 {"s": scale, "b": bias}, 17)
    result = import_onnx(path)
    assert types(result) == ["Input", "LayerNorm", "Output"]
    assert next(n for n in result.project.graph.nodes.values() if n.type == "LayerNorm").params["eps"] == pytest.approx(1e-3)
    assert result.max_diff <= 1e-4


def test_onnx_flavoured_opaque_runs_and_exports_as_the_original_node(tmp_path):
    """Shrink and TopK have no torch call in the table: they run through onnxruntime as the
    original nodes (TopK's values output; its indices are unused), and export back as them."""
    from workbench.export.onnx_export import export_onnx, session
    rng = np.random.default_rng(3)
    w = rng.standard_normal((6, 4)).astype(np.float32)
    nodes = [
        helper.make_node("Gemm", ["x", "w"], ["h"], transB=1, name="/fc/Gemm"),
        helper.make_node("Shrink", ["h"], ["s"], lambd=0.3, bias=0.1, name="/shrink/Shrink"),
        helper.make_node("TopK", ["s", "k"], ["y", "idx"], axis=-1, name="/top/TopK"),
    ]
    path = _save(tmp_path, "shrink", nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
                 {"w": w, "k": np.array([3], np.int64)}, 13)
    result = import_onnx(path)
    graph = result.project.graph
    assert types(result) == ["Input", "Linear", "Opaque", "Opaque", "Output"]
    shrink, top = graph.by_title("shrink"), graph.by_title("top")
    assert (shrink.params["op"], shrink.params["source"]) == ("ONNX Shrink", "onnx")
    assert not shrink.trainable and graph.by_title("fc").trainable   # onnxruntime: no gradient
    assert shrink.params["reason"] == "no Workbench node for Shrink"
    assert (top.params["op"], top.params["out_shape"]) == ("ONNX TopK", "3")
    assert result.max_diff <= 1e-4
    from workbench.core import project as P
    from workbench.core import weights
    from workbench.importers import ImportResult
    result.project.path = tmp_path / "shrink.wbproj"
    weights.save(result.project, result.tensors)
    P.save(result.project, result.project.path)
    again = P.load(result.project.path)
    x = torch.randn(4, 4)
    with torch.no_grad():
        assert torch.equal(compiled(result).module(x),
                           compiled(ImportResult(again, weights.load(again))).module(x))
    again = tmp_path / "again.onnx"
    report = export_onnx(compiled(result), again)
    assert again.exists(), report.warnings
    assert {"Shrink", "TopK"} <= {n.op_type for n in onnx.load(str(again)).graph.node}
    x = rng.standard_normal((5, 4)).astype(np.float32)
    a = session(path).run(None, {"x": x})[0]
    b = session(again).run(None, {session(again).get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_a_cubic_resize_keeps_its_float_scales_as_settings(tmp_path):
    """An ONNX-flavoured op whose float input is a setting (Resize's scales), not a weight:
    the scales stay in the stored call, so its shape check and trial run see them (not zeros)."""
    from workbench.export.onnx_export import export_onnx, session
    nodes = [helper.make_node("Resize", ["x", "roi", "scales"], ["y"], mode="cubic", name="/up/Resize")]
    path = _save(tmp_path, "cubic", nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 4, 4])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2, 8, 8])],
                 {"roi": np.zeros(0, np.float32), "scales": np.array([1, 1, 2, 2], np.float32)}, 13)
    result = import_onnx(path)
    up = result.project.graph.by_title("up")
    assert (up.params["op"], up.params["source"], up.params["out_shape"]) == ("ONNX Resize", "onnx", "2,8,8")
    assert result.max_diff <= 1e-4 and not [k for k in result.tensors if k.startswith(up.id + ".")]
    again = tmp_path / "again.onnx"
    export_onnx(compiled(result), again)
    x = np.random.default_rng(0).standard_normal((3, 2, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(session(again).run(None, {session(again).get_inputs()[0].name: x})[0],
                               session(path).run(None, {"x": x})[0], atol=1e-6)


def test_fixed_batch_file_and_odd_names(tmp_path):
    """A file exported at batch size 1 (Reshape to [1, -1]) imports with a free batch size,
    verified at 1; names that are not identifiers ("input.1", "a-b") become safe ones."""
    w = np.arange(12, dtype=np.float32).reshape(3, 4) / 10
    nodes = [helper.make_node("Reshape", ["input.1", "shape"], ["flat"], name="/flatten/Reshape"),
             helper.make_node("Gemm", ["flat", "w"], ["a-b"], transB=1, name="/head/Gemm")]
    path = _save(tmp_path, "fixed", nodes, [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 2, 2])],
                 [helper.make_tensor_value_info("a-b", TensorProto.FLOAT, [1, 3])],
                 {"w": w, "shape": np.array([1, -1], np.int64)}, 13)
    result = import_onnx(path)
    graph = result.project.graph
    assert types(result) == ["Input", "Flatten", "Linear", "Output"]
    assert graph.by_title("input_1").params == {**graph.by_title("input_1").params, "name": "input_1",
                                                "shape": "2,2"}
    assert graph.by_title("a_b").params["name"] == "a_b"
    assert result.max_diff <= 1e-4
    assert result.report[1:] == ["the file fixes the batch size to 1: verified at that size; the "
                                 "imported graph takes any batch size",
                                 f"matches onnxruntime: max relative difference {result.max_diff:.1e}"]
    with torch.no_grad():
        out = compiled(result).module(torch.ones(4, 2, 2))
    assert out.shape == (4, 3)


class UpsampleNet(nn.Module):
    """Strided convolution, average pooling, nearest upsampling, channel slices and a scale."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.pool = nn.AvgPool2d(2)
        self.up = nn.Upsample(scale_factor=2)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        z = torch.relu(self.c1(x))
        z = self.up(self.pool(z)) * 0.5 + torch.cat([z[:, 4:], z[:, :4]], 1)
        # shape inference loses the batch's name after Resize ("unk__0"): the Reshape target
        # read from Shape(z) still folds to (batch, 512)
        return self.fc(torch.relu(z.reshape(z.shape[0], -1)[:, :8]))


def test_resize_slices_and_scales_become_torch_calls(tmp_path):
    torch.manual_seed(8)
    model = UpsampleNet()
    result = import_onnx(export(model, torch.randn(2, 3, 16, 16), tmp_path / "up.onnx", 13))
    graph = result.project.graph
    ops = sorted(n.params["op"] for n in graph.nodes.values() if n.type == "Opaque")
    assert ops == ["Tensor.narrow", "Tensor.narrow", "Tensor.narrow", "operator.mul",
                   "torch.nn.functional.interpolate"]
    for t in ("Conv2d", "AvgPool2d", "Concat", "Add", "Flatten", "Linear"):
        assert t in types(result)
    assert next(n for n in graph.nodes.values() if n.type == "Conv2d").params["stride"] == 2
    assert result.max_diff <= 1e-4
    ours, theirs = run_both(result, model, torch.randn(3, 3, 16, 16))
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


class SplitGate(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 8)
        self.out = nn.Linear(3, 2)

    def forward(self, x):
        a, b, c = torch.split(self.fc(x), [3, 3, 2], dim=1)
        return self.out(a * torch.sigmoid(b)) + c.sum(1, keepdim=True)


def test_split_becomes_one_opaque_node_per_piece(tmp_path):
    torch.manual_seed(9)
    model = SplitGate()
    result = import_onnx(export(model, torch.randn(2, 4), tmp_path / "split.onnx", 13))
    graph = result.project.graph
    pieces = [n for n in graph.nodes.values() if n.type == "Opaque" and n.params["op"] == "torch.split"]
    assert [n.title for n in pieces] == ["split", "split1", "split2"]
    assert [n.params["call"].count('"pick": %d' % k) for k, n in enumerate(pieces)] == [1, 1, 1]
    assert result.max_diff <= 1e-4
    ours, theirs = run_both(result, model, torch.randn(3, 4))
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


class CellState(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(5, 7, batch_first=True)
        self.fc = nn.Linear(7, 3)

    def forward(self, x):
        _, (h, c) = self.lstm(x)
        return self.fc(c[-1])


def test_what_cannot_be_kept_is_refused_in_one_line(tmp_path):
    path = export(CellState(), torch.randn(2, 6, 5), tmp_path / "cell.onnx", 14)
    with pytest.raises(ImportError_) as info:
        import_onnx(path)
    assert str(info.value) == (
        f"{path}: cannot import: 1 op cannot be kept: LSTM (node '/lstm/LSTM': its final cell or "
        "hidden state is read besides its outputs; reads '/lstm/Transpose_output_0' in the "
        "time-major layout of a recurrent layer)")


def test_weights_listed_as_graph_inputs_ir3(tmp_path):
    """Older files (IR 3) list every initializer as a graph input too: they stay weights."""
    w = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    b = np.array([0.5, -1.0, 2.0], np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["g"], transB=1),
         helper.make_node("Relu", ["g"], ["y"])], "ir3",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4]),
         helper.make_tensor_value_info("w", TensorProto.FLOAT, [3, 4]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 9)], ir_version=3)
    path = tmp_path / "ir3.onnx"
    onnx.save(model, str(path))
    result = import_onnx(path)
    assert types(result) == ["Input", "Linear", "ReLU", "Output"]
    assert result.max_diff <= 1e-4
    lin = next(n for n in result.project.graph.nodes.values() if n.type == "Linear")
    assert np.array_equal(result.tensors[f"{lin.id}.weight"].numpy(), w)


def test_decoder_ops_become_trainable_torch_calls(tmp_path):
    """ConvTranspose, InstanceNormalization and PRelu: torch calls whose weights train."""
    rng = np.random.default_rng(4)
    f = np.float32
    inits = {"wt": rng.standard_normal((4, 2, 3, 3)).astype(f), "bt": rng.standard_normal(2).astype(f),
             "s": rng.uniform(0.5, 1.5, 2).astype(f), "b": rng.standard_normal(2).astype(f),
             "slope": np.array([[[0.1]], [[0.3]]], f)}
    nodes = [
        helper.make_node("ConvTranspose", ["x", "wt", "bt"], ["u"], strides=[2, 2], pads=[1, 1, 1, 1],
                         output_padding=[1, 1], name="/up/ConvTranspose"),
        helper.make_node("InstanceNormalization", ["u", "s", "b"], ["n"], epsilon=1e-4, name="/norm/In"),
        helper.make_node("PRelu", ["n", "slope"], ["y"], name="/act/PRelu"),
    ]
    path = _save(tmp_path, "decoder", nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 5, 5])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2, 10, 10])], inits, 13)
    result = import_onnx(path)
    graph = result.project.graph
    assert [graph.by_title(t).params["op"] for t in ("up", "norm", "act")] == [
        "torch.nn.functional.conv_transpose2d", "torch.nn.functional.instance_norm",
        "torch.nn.functional.prelu"]
    assert result.max_diff <= 1e-4
    model = compiled(result).module
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert len(trainable) == 5   # both ConvTranspose tensors, scale and bias, the slope


class StackedLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(5, 6, num_layers=2, batch_first=True)
        self.fc = nn.Linear(6, 2)

    def forward(self, x):
        return self.fc(self.lstm(x)[0][:, -1])


def test_stacked_lstm_becomes_two_layers(tmp_path):
    """The exporter writes one ONNX LSTM per layer, the second reading the first's time-major
    steps directly: two Workbench LSTMs, all steps then the last."""
    torch.manual_seed(10)
    model = StackedLSTM()
    result = import_onnx(export(model, torch.randn(2, 6, 5), tmp_path / "stack.onnx", 14))
    lstms = [n for n in result.project.graph.nodes.values() if n.type == "LSTM"]
    assert [n.params["return"] for n in lstms] == ["all", "last"]
    assert torch.equal(result.tensors[f"{lstms[1].id}.rnn.weight_ih_l0"], model.lstm.weight_ih_l1.detach())
    assert result.max_diff <= 1e-4


class Assorted(nn.Module):
    """Ops whose shapes ONNX shape inference loses ("unk__0" after flatten(2)), ceil-mode and
    padded pooling, GELU, normalize (Expand to Shape(x)) and ones_like (ConstantOfShape)."""

    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)
        self.ln = nn.LayerNorm(4)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        y = nn.functional.max_pool2d(self.c(x), 2, ceil_mode=True)      # 6x6 -> 3x3
        y = nn.functional.avg_pool2d(y, 3, stride=1, padding=1)
        y = torch.flatten(y, 2).permute(0, 2, 1)                        # (batch, 9, 4)
        y = torch.softmax(nn.functional.gelu(self.ln(y)), dim=1)
        y = nn.functional.normalize(y.unsqueeze(1).squeeze(1), dim=-1)
        y = torch.cat([y, torch.ones_like(y[:, :1])], 1)
        return self.fc(y.view(-1, 10, 4)).mean(1)


@pytest.mark.parametrize("opset", (11, 17, 18))
def test_assorted_ops_with_lost_shapes(tmp_path, opset):
    torch.manual_seed(11)
    model = Assorted()
    result = import_onnx(export(model, torch.randn(2, 3, 8, 8), tmp_path / "assorted.onnx", opset))
    got = types(result)
    for t in ("MaxPool2d", "AvgPool2d", "Transpose", "LayerNorm", "GELU", "Softmax", "Concat",
              "Linear", "GlobalPool"):
        assert t in got, t
    ops = {n.params["op"] for n in result.project.graph.nodes.values() if n.type == "Opaque"}
    assert {"torch.full_like", "torch.clamp", "Tensor.narrow"} <= ops
    # ones_like: ConstantOfShape(Shape(x)) from the TorchScript exporter; the dynamo one
    # writes Expand(1, Concat(Shape(x)[0], 1, 4)): x[:, 0, 0] → full_like 1 → einsum with 1s
    assert ("Tensor.expand_as" if opset < 18 else "torch.einsum") in ops
    assert result.max_diff <= 1e-4
    ours, theirs = run_both(result, model, torch.randn(3, 3, 8, 8))
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
