"""`.pt2` programs made here with torch.export.save, imported with import_pt2; and the
archives torch.export.load would unpickle from, refused."""
from __future__ import annotations

import builtins
import io
import zipfile

import pytest
import torch

from tests.importers.test_torch_import import (CNN, MLP, BiGRU, LSTMClassifier, Unmapped,
                                               _trained_stats, _types)
from workbench.importers import ImportError_, import_model
from workbench.importers.torch_import import import_pt2

# torch.export's own note about nn.LSTM's flat weights, while the test saves the program
pytestmark = pytest.mark.filterwarnings("ignore:The tensor attributes:UserWarning")


def _save(model, shape, path, dynamic=True, ids=0):
    shapes = {"x": {0: torch.export.Dim("batch")}} if dynamic else None
    x = torch.randint(0, ids, (2, *shape)) if ids else torch.randn(2, *shape)
    program = torch.export.export(model.eval(), (x,), dynamic_shapes=shapes)
    torch.export.save(program, path)
    return path


def test_cnn_program_maps_its_aten_ops(tmp_path):
    torch.manual_seed(6)
    model = _trained_stats(CNN(), (3, 8, 8))
    result = import_model(_save(model, (3, 8, 8), tmp_path / "cnn.pt2"))
    assert _types(result) == ["Input", "Conv2d", "ReLU", "Conv2d", "BatchNorm2d", "Add", "ReLU",
                              "MaxPool2d", "AdaptiveAvgPool2d", "Flatten", "Linear", "Output"]
    graph = result.project.graph
    assert [n.title for n in graph.nodes.values()][1:5] == ["stem", "relu", "layer1_0_conv", "layer1_0_bn"]
    bn = graph.by_title("layer1_0_bn")
    assert torch.equal(result.tensors[f"{bn.id}.running_var"], model.layer1[0].bn.running_var)
    assert result.project.name == "cnn"
    assert result.max_diff <= 1e-4


def test_a_fixed_batch_program_is_checked_at_its_size(tmp_path):
    result = import_pt2(_save(MLP(), (4,), tmp_path / "mlp.pt2", dynamic=False))
    assert _types(result) == ["Input", "Linear", "ReLU", "Dropout", "Linear", "LogSoftmax", "Output"]
    assert "the program was exported for batches of 2 only: checked at that size" in result.report
    assert result.ok()


def _rewrite(src, dst, replace: dict[str, bytes]):
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst, "w") as b:
        for name in a.namelist():
            b.writestr(name, a.read(name))
        for suffix, data in replace.items():
            root = a.namelist()[0].split("/")[0]
            b.writestr(f"{root}/{suffix}", data)


def test_pickled_objects_in_the_archive_are_refused_unread(tmp_path):
    good = _save(MLP(), (4,), tmp_path / "mlp.pt2")
    bad = tmp_path / "bad.pt2"
    _rewrite(good, bad, {"data/constants/opaque_obj_0": b"not read"})
    root = zipfile.ZipFile(good).namelist()[0].split("/")[0]
    with pytest.raises(ImportError_) as err:
        import_pt2(bad)
    assert str(err.value) == (f"{bad}: holds a pickled object ({root}/data/constants/opaque_obj_0), "
                              "which loading would run; Workbench does not unpickle model files")


class _Payload:
    def __reduce__(self):
        return (exec, ("import builtins; builtins._workbench_pwned = True",))


def test_a_sample_input_that_would_run_code_is_not_unpickled(tmp_path):
    good = _save(MLP(), (4,), tmp_path / "mlp.pt2")
    buffer = io.BytesIO()
    torch.save((_Payload(),), buffer)
    with zipfile.ZipFile(good) as a:
        names = a.namelist()
    sample = next(n for n in names if "sample_inputs" in n)
    evil = tmp_path / "evil.pt2"
    with zipfile.ZipFile(good) as a, zipfile.ZipFile(evil, "w") as b:
        for name in names:
            b.writestr(name, buffer.getvalue() if name == sample else a.read(name))
    with pytest.raises(ImportError_, match=r"cannot be loaded as data only"):
        import_pt2(evil)
    assert not hasattr(builtins, "_workbench_pwned")


def test_not_a_program(tmp_path):
    path = tmp_path / "x.pt2"
    path.write_bytes(b"hello")
    with pytest.raises(ImportError_, match=r"^.*x\.pt2: not a torch.export program"):
        import_pt2(path)


def test_unmapped_aten_ops_become_opaque(tmp_path):
    torch.manual_seed(9)
    result = import_pt2(_save(Unmapped(), (3, 4, 4), tmp_path / "odd.pt2"))
    ops = [n.params["op"] for n in result.project.graph.nodes.values() if n.type == "Opaque"]
    assert ops == ["torch.ops.aten.pixel_shuffle.default", "torch.ops.aten.einsum.default"]
    assert result.max_diff <= 1e-4


@pytest.mark.parametrize("state", [False, True], ids=["out[:, -1]", "h[-1]"])
def test_lstm_program_becomes_the_lstm_node(tmp_path, state):
    torch.manual_seed(12)
    model = LSTMClassifier(state)
    result = import_pt2(_save(model, (7,), tmp_path / "lstm.pt2", ids=50))
    assert _types(result) == ["Input", "Embedding", "LSTM", "Linear", "Output"]
    graph = result.project.graph
    assert graph.by_title("x").params["dtype"] == "int64"
    lstm = graph.by_title("lstm")
    assert lstm.params["return"] == "last" and lstm.params["num_layers"] == (2 if state else 1)
    assert torch.equal(result.tensors[f"{lstm.id}.rnn.weight_hh_l0"], model.lstm.weight_hh_l0)
    assert result.max_diff <= 1e-4


def test_bidirectional_program_final_states(tmp_path):
    torch.manual_seed(15)
    result = import_pt2(_save(BiGRU(), (6,), tmp_path / "bigru.pt2", ids=40))
    assert _types(result) == ["Input", "Embedding", "GRU", "Linear", "Output"]
    assert result.project.graph.by_title("gru").params["return"] == "last"
    assert result.max_diff <= 1e-4
