"""A project's own weights (workbench/core/weights.py) and a node's trainable flag in the file:
data only (never unpickled), checked against the recorded checksum, named per node when they no
longer fit, and their reference kept right when the project moves."""
from __future__ import annotations

import hashlib
import json
import pickle

import pytest
import torch

from workbench.cli import main
from workbench.core import project as project_file
from workbench.core import templates, weights
from workbench.core.compile import compile_model
from workbench.core.graph import GraphFormatError


def _project(tmp_path, name="p"):
    p = templates.build("mlp-classifier", templates.DataShape((4,), "float32", None,
                                                              "classification", 3, rows=120))
    project_file.save(p, tmp_path / f"{name}.wbproj")
    return p


def _with_weights(tmp_path, seed=7):
    p = _project(tmp_path)
    model = compile_model(p.graph, seed=seed)
    tensors = weights.extract(model, p.graph)
    weights.save(p, tensors)
    project_file.save(p, p.path)
    return p, tensors


def test_round_trip_is_bit_identical(tmp_path):
    p, tensors = _with_weights(tmp_path)
    assert p.extra["weights"]["file"] == "p.weights.safetensors"
    loaded = weights.load(project_file.load(p.path))
    assert sorted(loaded) == sorted(tensors) and "n2.weight" in loaded
    for key, value in tensors.items():
        assert loaded[key].dtype == value.dtype and torch.equal(loaded[key], value)
    fresh = compile_model(p.graph, seed=99)     # other initial weights ...
    assert weights.apply(fresh, p.graph, loaded) == []
    again = weights.extract(fresh, p.graph)     # ... replaced by the stored ones, bit for bit
    assert all(torch.equal(again[k], tensors[k]) for k in tensors)


def test_tampered_file_is_refused_with_one_line(tmp_path):
    p, _ = _with_weights(tmp_path)
    path = tmp_path / "p.weights.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(weights.WeightsError) as info:
        weights.load(project_file.load(p.path))
    assert str(info.value) == (f"{path}: the weights file was changed after the project was saved "
                               "(its checksum differs)")


def test_missing_file_is_named(tmp_path):
    p, _ = _with_weights(tmp_path)
    (tmp_path / "p.weights.safetensors").unlink()
    with pytest.raises(weights.WeightsError, match=r"p\.weights\.safetensors: the project's weights "
                                                   r"file is missing$"):
        weights.load(p)


class _Trap:
    """Unpickling this creates a file: the proof that a loader ran pickle."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_a_pickle_renamed_to_safetensors_is_never_unpickled(tmp_path):
    p = _project(tmp_path)
    trap = tmp_path / "unpickled.txt"
    path = tmp_path / "p.weights.safetensors"
    torch.save({"n2.weight": _Trap(trap)}, path)
    with open(path, "rb") as f:    # the trap works: plain pickle loading does create the file
        assert b"unpickled.txt" in f.read()
    p.extra["weights"] = {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    with pytest.raises(weights.WeightsError) as info:
        weights.load(p)
    message = str(info.value)
    assert message.startswith(f"{path}: not a safetensors weights file (") and "\n" not in message
    assert not trap.exists()


def test_pickle_trap_is_real(tmp_path):
    """The trap above is a real one (so its file not appearing proves something)."""
    trap = tmp_path / "made.txt"
    pickle.loads(pickle.dumps(_Trap(trap)))
    assert trap.exists()


def test_changed_width_names_that_node_and_loads_the_others(tmp_path):
    p, tensors = _with_weights(tmp_path)
    fc1 = p.graph.by_title("fc1")
    p.graph.set_param(fc1.id, "out_features", 32)     # fc1 and the layer after it change shape
    model = compile_model(p.graph, seed=3)
    problems = weights.apply(model, p.graph, weights.load(p))
    fc2 = p.graph.by_title("fc2")
    assert problems == [
        "Linear 'fc1': stored weight has shape (64, 4), the node now needs (32, 4); it starts "
        "from fresh weights",
        "Linear 'fc2': stored weight has shape (64, 64), the node now needs (64, 32); it starts "
        "from fresh weights"]
    after = weights.extract(model, p.graph)
    head = p.graph.by_title("head").id
    assert torch.equal(after[f"{head}.weight"], tensors[f"{head}.weight"])
    assert not torch.equal(after[f"{fc2.id}.bias"], tensors[f"{fc2.id}.bias"])


def test_a_project_that_never_froze_stays_byte_identical(tmp_path):
    p = _project(tmp_path)
    text = p.path.read_text()
    assert '"trainable"' not in text
    again = project_file.load(p.path)
    project_file.save(again, tmp_path / "q.wbproj")
    assert (tmp_path / "q.wbproj").read_text() == text


def test_trainable_round_trip(tmp_path):
    p = _project(tmp_path)
    fc1 = p.graph.by_title("fc1").id
    p.graph.set_trainable(fc1, False)
    project_file.save(p, p.path)
    doc = json.loads(p.path.read_text())
    flags = {n["id"]: n.get("trainable") for n in doc["graph"]["nodes"]}
    assert flags[fc1] is False and [v for k, v in flags.items() if k != fc1] == [None] * (len(flags) - 1)
    again = project_file.load(p.path)
    assert [n.id for n in again.graph.nodes.values() if not n.trainable] == [fc1]


def test_trainable_must_be_a_boolean(tmp_path):
    p = _project(tmp_path)
    doc = json.loads(p.path.read_text())
    doc["graph"]["nodes"][1]["trainable"] = "no"
    with pytest.raises(project_file.ProjectError) as info:
        project_file.from_dict(doc, "p.wbproj")
    assert str(info.value) == "p.wbproj: graph.nodes[1] ('fc1').trainable: expected true or false, got \"no\""
    with pytest.raises(GraphFormatError):
        from workbench.core.graph import Graph
        Graph.from_dict(doc["graph"])


def test_saving_into_another_folder_keeps_the_weights_reference(tmp_path):
    p, tensors = _with_weights(tmp_path)
    (tmp_path / "deeper" / "down").mkdir(parents=True)
    project_file.save(p, tmp_path / "deeper" / "down" / "moved.wbproj")
    assert p.extra["weights"]["file"] == "../../p.weights.safetensors"
    loaded = weights.load(project_file.load(tmp_path / "deeper" / "down" / "moved.wbproj"))
    assert all(torch.equal(loaded[k], tensors[k]) for k in tensors)
    detached = project_file.untitled(project_file.load(tmp_path / "deeper" / "down" / "moved.wbproj"))
    assert weights.file_of(detached) == (tmp_path / "p.weights.safetensors").resolve()


def test_validate_checks_the_weights_file(tmp_path, capsys):
    p, _ = _with_weights(tmp_path)
    assert main(["validate", str(p.path)]) == 0
    capsys.readouterr()
    p.graph.set_param(p.graph.by_title("head").id, "out_features", 5)
    p.graph.set_param(p.graph.by_title("target").id, "num_classes", 5)
    project_file.save(p, p.path)
    assert main(["validate", str(p.path)]) == 0     # still valid: the head starts fresh
    out = capsys.readouterr().out
    assert ("warning: weights: Linear 'head': stored weight has shape (3, 64), the node now needs "
            "(5, 64); it starts from fresh weights") in out
    (tmp_path / "p.weights.safetensors").write_bytes(b"not safetensors")
    assert main(["validate", str(p.path)]) == 1
    out = capsys.readouterr().out
    assert (f"error: {tmp_path / 'p.weights.safetensors'}: the weights file was changed after the "
            "project was saved (its checksum differs)") in out


def test_weights_of_a_project_without_a_file_yet_are_found_after_it_is_saved(tmp_path, monkeypatch):
    p = templates.build("mlp-classifier", templates.DataShape((4,), "float32", None,
                                                              "classification", 3, rows=120))
    tensors = weights.extract(compile_model(p.graph, seed=1), p.graph)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    weights.save(p, tensors, tmp_path / "w.safetensors")
    (tmp_path / "sub").mkdir()
    project_file.save(p, tmp_path / "sub" / "p.wbproj")
    assert p.extra["weights"]["file"] == "../w.safetensors"      # relative once the project has a file
    loaded = weights.load(project_file.load(tmp_path / "sub" / "p.wbproj"))
    assert all(torch.equal(loaded[k], tensors[k]) for k in tensors)
