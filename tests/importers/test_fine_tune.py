"""The issue's journey with a real import: a CNN pretrained (here, in a few seconds) on the
digits 0–6 is exported to ONNX, imported with `workbench import`, frozen up to its last layer,
given a new 3-class head for the digits 7–9, fine-tuned on the bundled digits, and exported;
the frozen weights are bit-identical before and after, and the exported file computes what
the fine-tuned model computes."""
from __future__ import annotations

import warnings

import numpy as np
import onnxruntime as ort
import pandas as pd
import torch
from torch import nn

from tests.conftest import DATA, EXAMPLES
from workbench.cli import main
from workbench.core import project as project_file
from workbench.core import weights
from workbench.data import DataSettings, prepare
from workbench.train.checkpoint import load_run
from workbench.train.trainer import Trainer


class DigitsCNN(nn.Module):
    def __init__(self, classes: int = 7):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten())
        self.fc = nn.Linear(64, 32)
        self.head = nn.Linear(32, classes)

    def forward(self, x):
        return self.head(torch.relu(self.fc(self.features(x))))


def pretrained(frame: pd.DataFrame) -> nn.Module:
    """The colleague's model: a few epochs on the digits 0–6 (standardised like Workbench does)."""
    torch.manual_seed(0)
    x = torch.tensor(frame.drop(columns="digit").to_numpy(np.float32)).reshape(-1, 1, 8, 8)
    x = (x - x.mean()) / x.std()
    y = torch.tensor(frame["digit"].to_numpy())
    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(8):
        for i in torch.randperm(len(x)).split(32):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[i]), y[i]).backward()
            opt.step()
    return model.eval()


def export_onnx(model: nn.Module, path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(model, (torch.zeros(2, 1, 8, 8),), dynamo=True, opset_version=18,
                                    input_names=["x"], output_names=["logits"], verbose=False, optimize=False,
                                    dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=4096)},))
        program.save(str(path), external_data=False)


def upstream(graph, node_id: str) -> set[str]:
    todo, seen = [node_id], set()
    while todo:
        for edge in graph.edges_into(todo.pop()):
            if edge.src not in seen:
                seen.add(edge.src)
                todo.append(edge.src)
    return seen


def test_an_imported_cnn_frozen_given_a_new_head_fine_tuned_and_exported(tmp_path, capsys):
    digits = pd.read_csv(DATA / "digits.csv")
    export_onnx(pretrained(digits[digits["digit"] <= 6]), tmp_path / "colleague.onnx")
    project_path = tmp_path / "digits789.wbproj"
    assert main(["import", str(tmp_path / "colleague.onnx"), "-o", str(project_path)]) == 0
    assert "max" in capsys.readouterr().out

    project = project_file.load(project_path)
    imported = weights.load(project)
    g = project.graph
    output = next(n for n in g.nodes.values() if n.type == "Output")
    old_head = g.node(g.source_of(output.id, "in").src)
    assert old_head.type == "Linear" and old_head.params["out_features"] == 7
    feeding = g.source_of(old_head.id, "in").src
    frozen = {feeding} | upstream(g, feeding)
    for node_id in frozen:                                   # "Freeze up to here"
        if g.nodes[node_id].type != "Input":
            g.set_trainable(node_id, False)
    g.remove_node(old_head.id)
    head = g.add_node("Linear", "head", {"out_features": 3})
    g.connect(feeding, "out", head.id, "in")
    g.connect(head.id, "out", output.id, "in")
    target = g.add_node("Target", "target", {"name": "y", "dtype": "int64", "num_classes": 3})
    loss = g.add_node("CrossEntropy", "loss")
    adam = g.add_node("Adam", "adam", {"lr": 0.01})
    g.connect(output.id, "out", loss.id, "input")
    g.connect(target.id, "out", loss.id, "target")
    g.connect(loss.id, "loss", adam.id, "loss")
    new = digits[digits["digit"] >= 7].copy()
    new["digit"] = new["digit"].map({7: "seven", 8: "eight", 9: "nine"})
    new.to_csv(tmp_path / "digits789.csv", index=False)
    project.data = project_file.load(EXAMPLES / "digits-cnn" / "project.wbproj").data
    project.data["path"] = "digits789.csv"
    project.training.update(epochs=40, batch_size=32, device="cpu")
    project.training["early_stopping"]["enabled"] = False
    project_file.save(project, project_path)

    data = prepare(DataSettings.from_dict(project.data), project.folder)
    result = Trainer(project_file.load(project_path), data, run_dir=tmp_path / "run").run()
    assert result.ok, result.message
    trained = sum(p.numel() for p in result.model.module.parameters() if p.requires_grad)
    assert result.summary["parameters"] - result.summary["frozen_parameters"] == trained == 32 * 3 + 3
    # measured 0.925 (val) and 0.95 (test, held out) on 80 samples each: a margin for other CPUs
    assert result.summary["val"]["accuracy"] >= 0.85 and result.summary["test"]["accuracy"] >= 0.85, \
        (result.summary["val"], result.summary["test"])

    kept = [k for k in imported if k.split(".")[0] in frozen]
    assert kept and any(k.endswith("running_mean") for k in kept)
    for checkpoint in ("best", "last"):
        after = weights.extract(load_run(tmp_path / "run", checkpoint).model, project.graph)
        for key in kept:
            assert torch.equal(after[key], imported[key]), (checkpoint, key)

    onnx_path = tmp_path / "digits789.onnx"
    assert main(["export", str(project_path), "--run", str(tmp_path / "run"), "--format", "onnx",
                 "-o", str(onnx_path)]) == 0
    assert "verification passed" in capsys.readouterr().out
    model = load_run(tmp_path / "run", "best").model.module.eval()   # what export takes
    x = data.val.x[:64]
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    ours = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    with torch.no_grad():
        np.testing.assert_allclose(ours, model(x).numpy(), rtol=1e-4, atol=1e-5)
