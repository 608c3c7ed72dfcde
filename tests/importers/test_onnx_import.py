"""ONNX import: files exported in the test from small torch models (dynamo exporter, opsets 18
and the newest it writes) and hand-built legacy models (opsets 9 and 11), imported, compiled
with their weights and compared with onnxruntime on the same random inputs."""
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

OPSETS = (18, 23)


def export(model: nn.Module, example: torch.Tensor, path, opset: int):
    model.eval()
    batch = torch.export.Dim("batch", min=1, max=1024)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
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
    """BatchNorm after the ReLU, so the exporter cannot fold it into the convolution."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
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


@pytest.mark.parametrize("opset", OPSETS)
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
    assert torch.equal(result.tensors[f"{linear.id}.weight"], model.net[0].weight.detach())
    ours, theirs = run_both(result, model, torch.randn(6, 4))
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


@pytest.mark.parametrize("opset", OPSETS)
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
    grouped = [n for n in graph.nodes.values() if n.type == "Conv2d"][1]
    assert grouped.params["groups"] == 2 and grouped.params["padding"] == 1
    add = next(n for n in graph.nodes.values() if n.type == "Add")
    assert len(graph.edges_into(add.id)) == 2
    assert result.max_diff <= 1e-4
    ours, theirs = run_both(result, model, torch.randn(3, 3, 8, 8))
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


@pytest.mark.parametrize("opset", OPSETS)
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


def test_mismatch_is_reported_not_hidden(tmp_path, monkeypatch):
    """An import whose graph does not compute what the file does is kept with a report line."""
    torch.manual_seed(3)
    path = export(MLP(), torch.randn(2, 4), tmp_path / "m.onnx", 18)
    from workbench.importers import onnx_ops
    real = onnx_ops.Mapper.op_Tanh
    monkeypatch.setattr(onnx_ops.Mapper, "op_Tanh", lambda self, node: onnx_ops.Mapper.op_Relu(self, node))
    result = import_onnx(path)
    assert not result.ok() and result.max_diff > 1e-4
    assert result.report[-1] == f"does not match the source: max relative difference {result.max_diff:.1e}"
    monkeypatch.setattr(onnx_ops.Mapper, "op_Tanh", real)


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
