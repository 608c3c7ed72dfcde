"""PyTorch modules imported with import_nn: the nodes they become, their weights, and the
check against the module itself."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from workbench.importers import ImportError_
from workbench.importers.result import compiled
from workbench.importers.torch_import import import_nn, verify


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))

    def forward(self, x):
        return F.log_softmax(self.net(x), dim=1)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)) + x)


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.layer1 = nn.Sequential(Block(8), nn.MaxPool2d(2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = self.layer1(torch.relu(self.stem(x)))
        x = self.pool(x)
        return self.fc(x.view(x.size(0), -1))


class LSTMClassifier(nn.Module):
    def __init__(self, state: bool = False):
        super().__init__()
        self.state = state
        self.emb = nn.Embedding(50, 8)
        self.lstm = nn.LSTM(8, 12, num_layers=2 if state else 1, batch_first=True)
        self.fc = nn.Linear(12, 2)

    def forward(self, x):
        out, (h, _) = self.lstm(self.emb(x))
        return self.fc(h[-1] if self.state else out[:, -1])


class Unmapped(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 12, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        self.mix = nn.Parameter(torch.randn(8, 8) * 0.3)

    def forward(self, x):
        return torch.einsum("bchw,wv->bchv", self.shuffle(self.conv(x)), self.mix)


def _types(result):
    return [n.type for n in result.project.graph.nodes.values()]


def _trained_stats(model, shape):
    """BatchNorm running statistics away from 0/1, so importing them is really checked."""
    model.train()
    with torch.no_grad():
        model(torch.randn(8, *shape) * 3 + 1)
    return model.eval()


def test_mlp_maps_layer_for_layer():
    torch.manual_seed(0)
    result = import_nn(MLP(), (4,), name="mlp")
    assert _types(result) == ["Input", "Linear", "ReLU", "Dropout", "Linear", "LogSoftmax", "Output"]
    graph = result.project.graph
    assert [n.title for n in graph.nodes.values()][1:5] == ["net_0", "net_1", "net_2", "net_3"]
    assert graph.by_title("net_2").params["p"] == 0.2
    assert graph.by_title("log_softmax").params["dim"] == 1
    first = graph.by_title("net_0")
    assert set(k for k in result.tensors if k.startswith(first.id + ".")) == \
        {f"{first.id}.weight", f"{first.id}.bias"}
    assert result.ok() and result.max_diff <= 1e-4
    assert result.project.name == "mlp"
    assert not any(graph.edges_from(n.id) == [] and n.type != "Output" for n in graph.nodes.values())


def test_cnn_with_batchnorm_and_residual_add():
    torch.manual_seed(1)
    model = _trained_stats(CNN(), (3, 8, 8))
    result = import_nn(model, (3, 8, 8))
    assert _types(result) == ["Input", "Conv2d", "ReLU", "Conv2d", "BatchNorm2d", "Add", "ReLU",
                              "MaxPool2d", "AdaptiveAvgPool2d", "Flatten", "Linear", "Output"]
    graph = result.project.graph
    add = graph.by_title("layer1_0_add")
    assert {graph.nodes[e.src].title for e in graph.edges_into(add.id)} == {"layer1_0_bn", "relu"}
    bn = graph.by_title("layer1_0_bn")
    assert torch.equal(result.tensors[f"{bn.id}.running_mean"], model.layer1[0].bn.running_mean)
    assert graph.by_title("layer1_0_conv").params["bias"] is False
    assert result.max_diff <= 1e-4
    assert model.training is False


@pytest.mark.parametrize("state", [False, True], ids=["out[:, -1]", "h[-1]"])
def test_lstm_classifier_last_step(state):
    torch.manual_seed(2)
    model = LSTMClassifier(state)
    result = import_nn(model, (7,), dtype="auto")
    assert _types(result) == ["Input", "Embedding", "LSTM", "Linear", "Output"]
    graph = result.project.graph
    x = graph.by_title("x")
    assert (x.params["dtype"], x.params["cardinality"]) == ("int64", 50)
    lstm = graph.by_title("lstm")
    assert lstm.params["return"] == "last" and lstm.params["num_layers"] == (2 if state else 1)
    assert f"{lstm.id}.rnn.weight_hh_l0" in result.tensors
    assert result.max_diff <= 1e-4


def test_lstm_every_step_and_last_step_both_used_is_refused():
    class Both(LSTMClassifier):
        def forward(self, x):
            out, (h, _) = self.lstm(self.emb(x))
            return self.fc(h[-1]), self.fc(out)

    with pytest.raises(ImportError_, match=r"LSTM 'lstm': both its every-step output and its "
                                           r"last step are used"):
        import_nn(Both(), (5,), dtype="int64", name="both")


def test_a_mismatch_is_reported_not_raised():
    torch.manual_seed(3)
    model = MLP()
    result = import_nn(model, (4,))
    first = result.project.graph.by_title("net_0").id
    result.tensors[f"{first}.bias"] = result.tensors[f"{first}.bias"] + 1.0
    result.report.clear()
    verify(result, model.eval(), lambda b, s: (torch.randn(b, 4, generator=torch.Generator().manual_seed(s)),))
    assert not result.ok() and result.max_diff > 1e-3
    assert result.report == [f"does not match the source: max relative difference {result.max_diff:.1e}"]


def test_untraceable_model_names_the_module():
    class Branchy(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    with pytest.raises(ImportError_, match=r"^branchy: torch.fx cannot trace Branchy: "):
        import_nn(Branchy(), (3,), name="branchy")


def test_unmapped_ops_become_opaque_nodes_that_run_and_train():
    torch.manual_seed(4)
    model = Unmapped()
    result = import_nn(model, (3, 4, 4), name="odd")
    assert _types(result) == ["Input", "Conv2d", "Opaque", "Opaque", "Output"]
    graph = result.project.graph
    shuffle, einsum = (n for n in graph.nodes.values() if n.type == "Opaque")
    assert shuffle.params["op"] == "torch.nn.functional.pixel_shuffle"
    assert einsum.params["op"] == "torch.einsum"
    assert result.report[:3] == [
        "5 nodes, 2 opaque",
        "opaque: shuffle (torch.nn.functional.pixel_shuffle): no Workbench node for "
        "torch.nn.functional.pixel_shuffle",
        "opaque: einsum (torch.einsum): no Workbench node for torch.einsum"]
    assert result.max_diff <= 1e-4
    assert torch.equal(result.tensors[f"{einsum.id}.mix"], model.mix.detach())
    net = compiled(result).module
    net.train()
    mix = getattr(net, next(n for n, _ in net.named_children() if "einsum" in n)).mix
    assert mix.requires_grad
    net(torch.randn(2, 3, 4, 4)).square().mean().backward()
    assert mix.grad is not None and mix.grad.abs().sum() > 0


def test_opaque_model_re_exports_to_onnx(tmp_path):
    import onnxruntime
    from workbench.export.onnx_export import export_onnx
    torch.manual_seed(7)
    model = Unmapped().eval()
    result = import_nn(model, (3, 4, 4))
    report = export_onnx(compiled(result), tmp_path / "odd.onnx")
    assert report.passed and report.path == tmp_path / "odd.onnx"
    x = torch.randn(3, 3, 4, 4)
    session = onnxruntime.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        assert torch.allclose(torch.from_numpy(got), model(x), atol=1e-5)


def test_unmappable_layers_and_baked_sizes_are_opaque_and_checked():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, (3, 1), padding=(1, 0))   # not square: F.conv2d
            self.rnn = nn.GRU(4, 6, batch_first=True)

        def forward(self, x):
            steps = self.conv(x).flatten(2).transpose(1, 2)
            out, _ = self.rnn(steps)
            return out[:, :2] * x.shape[0]                      # the batch size baked in

    torch.manual_seed(8)
    result = import_nn(Odd(), (3, 4, 4), name="odd")
    graph = result.project.graph
    assert [(n.type, n.params.get("op")) for n in graph.nodes.values()] == [
        ("Input", None), ("Opaque", "torch.nn.functional.conv2d"), ("Reshape", None),
        ("Transpose", None), ("GRU", None), ("Opaque", "operator.getitem"),
        ("Opaque", "operator.mul"), ("Output", None)]
    conv = graph.by_title("conv")
    assert sorted(k.split(".", 1)[1] for k in result.tensors if k.startswith(conv.id + ".")) == \
        ["conv_bias", "conv_weight"]
    assert graph.by_title("rnn").params["return"] == "all"
    # traced at a batch of 2, checked at 2 and 3: the baked-in 2 shows
    assert not result.ok()
    assert result.report[-1] == f"does not match the source: max relative difference {result.max_diff:.1e}"


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(30, 16)
        self.att = nn.MultiheadAttention(16, 4, batch_first=True)
        self.enc = nn.TransformerEncoderLayer(16, 4, 32, batch_first=True, activation="gelu")
        self.ln = nn.LayerNorm(16)
        self.gru = nn.GRU(16, 8, batch_first=True, bidirectional=True)
        self.rnn = nn.RNN(16, 8, batch_first=True)

    def forward(self, x):
        e = self.emb(x)
        a, _ = self.att(e, e, e)
        e = self.enc(self.ln(a + e))
        out, _ = self.gru(e)
        _, h = self.rnn(e)
        return torch.cat([out.mean(1), h[-1]], dim=1)


def test_attention_encoder_and_recurrent_layers_keep_their_state_dicts():
    torch.manual_seed(10)
    model = Attention()
    result = import_nn(model, (6,), dtype="int64")
    assert _types(result) == ["Input", "Embedding", "MultiheadAttention", "Add", "LayerNorm",
                              "TransformerEncoderLayer", "GRU", "RNN", "GlobalPool", "Concat", "Output"]
    graph = result.project.graph
    assert graph.by_title("enc").params == {"num_heads": 4, "dim_feedforward": 32, "dropout": 0.1,
                                            "activation": "gelu", "norm_first": False}
    assert (graph.by_title("gru").params["return"], graph.by_title("rnn").params["return"]) == ("all", "last")
    att = graph.by_title("att").id
    assert torch.equal(result.tensors[f"{att}.attn.in_proj_weight"], model.att.in_proj_weight)
    assert result.max_diff <= 1e-4


def test_dict_outputs_keep_their_keys_and_a_bare_sequential_gets_titles():
    class Heads(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("mean", torch.full((4,), 0.5))
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            y = self.fc(x - self.mean)
            return {"logits": y, "x": F.softmax(y, -1)}

    result = import_nn(Heads(), (4,))
    graph = result.project.graph
    outputs = [n.params["name"] for n in graph.nodes.values() if n.type == "Output"]
    assert outputs == ["logits", "out1"]                      # "x" is the input's name
    sub = graph.by_title("sub")
    assert (sub.type, sub.params["op"]) == ("Opaque", "operator.sub")
    assert torch.equal(result.tensors[f"{sub.id}.mean"], torch.full((4,), 0.5))
    assert result.ok()
    seq = import_nn(nn.Sequential(nn.Linear(3, 2), nn.Identity(), nn.Sigmoid()), (3,))
    assert [(n.type, n.title) for n in seq.project.graph.nodes.values()] == [
        ("Input", "x"), ("Linear", "linear_0"), ("Sigmoid", "sigmoid_2"), ("Output", "out")]


def test_a_layer_called_twice_becomes_two_nodes_and_says_so():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(torch.tanh(self.fc(x)))

    result = import_nn(Twice(), (4,))
    assert _types(result) == ["Input", "Linear", "Tanh", "Linear", "Output"]
    assert "'fc' is called 2 times: each call is its own node with a copy of its weights " \
           "(they are no longer shared)" in result.report
    assert result.ok()


def test_a_sum_of_many_terms_is_one_add():
    class Sum(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c = nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 4)

        def forward(self, x):
            return self.a(x) + self.b(x) + self.c(x) + x

    result = import_nn(Sum(), (4,))
    assert result.ok()

    class Functional(nn.Module):            # its own parameters through F.linear
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(3, 4))
            self.b = nn.Parameter(torch.randn(3))

        def forward(self, x):
            return F.linear(x, self.w, self.b)

    functional = import_nn(Functional(), (4,))
    assert _types(functional) == ["Input", "Linear", "Output"] and functional.ok()
    assert _types(result) == ["Input", "Linear", "Linear", "Add", "Linear", "Output"]
    graph = result.project.graph
    add = graph.by_title("add")
    assert sorted((e.dst_port, graph.nodes[e.src].title) for e in graph.edges_into(add.id)) == [
        ("a", "a"), ("b", "b"), ("c", "c"), ("d", "x")]
    assert result.ok()


def test_a_transformer_encoder_is_its_layers_in_turn():
    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            layer = nn.TransformerEncoderLayer(16, 2, 32, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, 3, norm=nn.LayerNorm(16), enable_nested_tensor=False)

        def forward(self, x):
            return self.encoder(x)

    torch.manual_seed(13)
    result = import_nn(Encoder(), (5, 16))
    assert _types(result) == ["Input"] + ["TransformerEncoderLayer"] * 3 + ["LayerNorm", "Output"]
    assert [n.title for n in result.project.graph.nodes.values()][1:5] == [
        "encoder_layers_0", "encoder_layers_1", "encoder_layers_2", "encoder_norm"]
    assert result.max_diff <= 1e-4


def test_functional_pooling_and_convolution_become_nodes():
    class Classic(nn.Module):               # the shape of PyTorch's MNIST example
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 4, 3)
            self.w2 = nn.Parameter(torch.randn(4, 4, 3, 3) * 0.2)
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.conv2d(x, self.w2, padding=1)
            x = F.avg_pool2d(x, kernel_size=2, stride=1)
            x = F.adaptive_avg_pool2d(x, 1)
            return F.log_softmax(self.fc(torch.flatten(x, 1)), dim=1)

    result = import_nn(Classic(), (1, 10, 10))
    assert _types(result) == ["Input", "Conv2d", "ReLU", "MaxPool2d", "Conv2d", "AvgPool2d",
                              "AdaptiveAvgPool2d", "Flatten", "Linear", "LogSoftmax", "Output"]
    conv2 = result.project.graph.by_title("conv2d")
    assert (conv2.params["bias"], conv2.params["padding"]) == (False, 1)
    avg = result.project.graph.by_title("avg_pool2d")
    assert (avg.params["kernel_size"], avg.params["stride"]) == (2, 1)
    assert result.max_diff <= 1e-4


class BiGRU(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(40, 8)
        self.gru = nn.GRU(8, 6, num_layers=2, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(12, 2)

    def forward(self, x):
        _, h = self.gru(self.emb(x))
        return self.fc(torch.cat((h[-2], h[-1]), dim=1))    # both directions' final states


def test_bidirectional_final_states_joined_are_the_last_step():
    torch.manual_seed(14)
    result = import_nn(BiGRU(), (6,), dtype="int64")
    assert _types(result) == ["Input", "Embedding", "GRU", "Linear", "Output"]
    gru = result.project.graph.by_title("gru")
    assert (gru.params["return"], gru.params["bidirectional"]) == ("last", True)
    assert result.max_diff <= 1e-4
