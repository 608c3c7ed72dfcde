"""`workbench export PROJECT` without --run: a project that carries its own weights (an import,
a kept run) exports from them through the verified writers; one without keeps today's message."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.iris_runs import iris_project
from workbench.cli import main
from workbench.core import project as project_file
from workbench.core import weights
from workbench.core.compile import compile_model
from workbench.core.graph import Graph
from workbench.core.project import Project


def _model_only(tmp_path) -> Project:
    """What an import gives: Input -> layers -> Output, no data, loss or optimizer."""
    g = Graph()
    x = g.add_node("Input", "input", {"name": "x", "shape": "5"})
    a = g.add_node("Linear", "fc", {"out_features": 7})
    r = g.add_node("Tanh", "act")
    b = g.add_node("Linear", "head", {"out_features": 2})
    o = g.add_node("Output", "output", {"name": "y"})
    for src, dst in ((x, a), (a, r), (r, b), (b, o)):
        g.connect(src.id, "out", dst.id, "in")
    project = Project(g, "imported")
    project_file.save(project, tmp_path / "imported.wbproj")
    tensors = weights.extract(compile_model(g, seed=11), g)
    weights.save(project, tensors)
    project_file.save(project, project.path)
    return project


def test_model_only_project_exports_onnx_equal_to_pytorch_with_its_weights(tmp_path, capsys):
    project = _model_only(tmp_path)
    out = tmp_path / "m.onnx"
    assert main(["export", str(project.path), "--format", "onnx", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "note: a model-only project (no data settings): the model alone is written, no preprocessing" in printed
    assert "verification passed" in printed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imported.wbproj", "imported.weights.safetensors", "m.onnx"]

    reference = compile_model(project.graph, seed=0)          # other initial weights, then
    assert weights.apply(reference, project.graph, weights.load(project)) == []   # the project's
    reference.module.eval()
    import onnxruntime as ort
    x = torch.randn(6, 5, generator=torch.Generator().manual_seed(1))
    ours = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(
        None, {ort.InferenceSession(str(out)).get_inputs()[0].name: x.numpy()})[0]
    with torch.no_grad():
        theirs = reference.module(x).numpy()
        fresh = compile_model(project.graph, seed=0).module(x).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert not np.allclose(ours, fresh, atol=1e-3)             # the stored weights, not fresh ones


def test_project_with_data_settings_says_no_preprocessing_is_written(tmp_path, capsys):
    project = iris_project(tmp_path)
    g = project.graph
    weights.save(project, weights.extract(compile_model(g, seed=3), g))
    project_file.save(project, project.path)
    assert main(["export", str(project.path), "--format", "pt2", "-o", str(tmp_path / "m.pt2")]) == 0
    printed = capsys.readouterr().out
    assert ("note: exported from the project's weights: no preprocessing is written (the fitted "
            "preprocessing lives in a run; export with --run RUNDIR for it), so the model expects "
            "inputs already preprocessed") in printed
    assert not list(tmp_path.glob("*.preprocessing.json"))


def test_weights_that_do_not_fit_or_a_folder_format_are_refused(tmp_path, capsys):
    project = _model_only(tmp_path)
    project.graph.set_param(project.graph.by_title("fc").id, "out_features", 9)
    project_file.save(project, project.path)
    assert main(["export", str(project.path), "--format", "onnx", "-o", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: {project.path}: the project's weights do not fit its graph: Linear 'fc': "
                   "stored weight has shape (7, 5), the node now needs (9, 5); it starts from fresh "
                   "weights (and 1 more); train it and export the run (--run RUNDIR)\n")
    assert not (tmp_path / "m.onnx").exists()
    assert main(["export", str(project.path), "--format", "bundle", "-o", str(tmp_path / "b")]) == 2
    assert capsys.readouterr().err == ("error: --format bundle exports a trained run (--run RUNDIR); "
                                       "from the project's own weights: onnx, pt2, torchscript\n")


def test_without_weights_and_without_run_keeps_todays_message(tmp_path, capsys):
    project = iris_project(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["export", str(project.path), "--format", "onnx", "-o", str(tmp_path / "m.onnx")])
    assert info.value.code == 2
    assert capsys.readouterr().err.strip().endswith(
        "workbench export: error: the following arguments are required: --run")


def test_validate_checks_a_model_only_projects_weights(tmp_path, capsys):
    project = _model_only(tmp_path)
    project.graph.set_param(project.graph.by_title("head").id, "out_features", 4)
    project_file.save(project, project.path)
    assert main(["validate", str(project.path)]) == 1        # no loss yet: an import's state
    out = capsys.readouterr().out
    assert ("warning: weights: Linear 'head': stored weight has shape (2, 7), the node now needs "
            "(4, 7); it starts from fresh weights") in out
