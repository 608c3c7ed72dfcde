"""An imported model with Opaque nodes of both flavours trains with the ordinary Trainer on
bundled iris data: the torch-flavour tensor learns, the ONNX-flavour one stays as imported."""
from __future__ import annotations

import shutil

import numpy as np
import torch
from onnx import helper

from tests.conftest import DATA
from workbench.core import opaque as O
from workbench.core.opaque_onnx import onnx_params


def test_trainer_trains_through_opaque_nodes(tmp_path):
    from workbench.core import templates
    from workbench.data import DataSettings, prepare
    from workbench.train.trainer import Trainer
    shutil.copy(DATA / "iris.csv", tmp_path / "iris.csv")
    settings = DataSettings(path="iris.csv")
    data = prepare(settings, tmp_path)
    project = templates.build("mlp-classifier", templates.DataShape(
        data.input_shape, data.input_dtype, data.cardinality, data.task, data.num_classes,
        data.target_shape, data.rows))
    project.data = settings.to_dict()
    g = project.graph
    inp = next(n for n in g.nodes.values() if n.type == "Input")
    edge = g.edges_from(inp.id)[0]
    g.disconnect(edge)
    shift = g.add_node("Opaque", title="shift", params=onnx_params(
        helper.make_node("Add", ["a", "b"], ["c"]), {"": 13}, [{"input": 0}, {"tensor": "b"}],
        {"b": np.full(4, 0.5, dtype=np.float32)}, (4,), "float32"))
    scale = g.add_node("Opaque", title="scale", params=O.torch_params(
        "torch.mul", [{"input": 0}, {"tensor": "s"}], {}, {"s": torch.ones(4)}, trainable={"s"}))
    g.connect(inp.id, "out", shift.id, "x0")
    g.connect(shift.id, "out", scale.id, "x0")
    g.connect(scale.id, "out", edge.dst, edge.dst_port)
    result = Trainer(project, data, epochs=2, run_dir=tmp_path / "run").run()
    assert result.ok, result.message
    from workbench.core import weights
    trained = weights.extract(result.model, g)
    # four floats are a setting of the ONNX node, kept in its call (not a weight), and
    # onnxruntime trains nothing: the shift is still +0.5 after training
    assert f"{shift.id}.b" not in trained
    module = result.model.module.get_submodule(result.model.submodules[shift.id])
    with torch.no_grad():
        assert torch.equal(module(torch.zeros(3, 4)), torch.full((3, 4), 0.5))
    # compiled without a weights file, stored tensors start at zero (an import supplies them)
    assert not torch.equal(trained[f"{scale.id}.s"], torch.zeros(4))  # a parameter: it learned
