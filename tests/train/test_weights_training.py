"""Training from a project's own weights, with frozen nodes (issue 17): the optimizer sees only
the trainable nodes' parameters, a frozen BatchNorm keeps its running statistics, the run
reports how many parameters were frozen, and `--keep-weights` writes the result back."""
from __future__ import annotations

import json

import torch

from tests.iris_runs import iris_project
from workbench.cli import main
from workbench.core import project as project_file
from workbench.core import weights
from workbench.core.compile import compile_model
from workbench.data import DataSettings, prepare
from workbench.train.trainer import Trainer


def _with_bn(project):
    """fc1 -> BatchNorm1d -> relu1: a BatchNorm to freeze."""
    g = project.graph
    fc1, relu1 = g.by_title("fc1"), g.by_title("relu1")
    edge = g.source_of(relu1.id, "in")
    g.disconnect(edge)
    bn = g.add_node("BatchNorm1d", "bn1")
    g.connect(fc1.id, "out", bn.id, "in")
    g.connect(bn.id, "out", relu1.id, "in")
    return bn


def _stored(project, seed=7):
    """Give the project weights of its own (another seed than the training seed 0), saved."""
    model = compile_model(project.graph, seed=seed)
    for module in model.module.modules():          # non-trivial running statistics to keep
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.fill_(0.5)
            module.running_var.fill_(2.0)
    tensors = weights.extract(model, project.graph)
    weights.save(project, tensors)
    project_file.save(project, project.path)
    return tensors


def _train(project, folder, **kw):
    events = []
    data = prepare(DataSettings.from_dict(project.data), project.folder)
    trainer = Trainer(project, data, device="cpu", run_dir=folder, callbacks=[events.append], **kw)
    return trainer, trainer.run(), events


def test_frozen_nodes_keep_the_projects_weights_and_the_others_train(tmp_path):
    project = iris_project(tmp_path)
    bn = _with_bn(project)
    g = project.graph
    fc1, fc2 = g.by_title("fc1").id, g.by_title("fc2").id
    g.set_trainable(fc1, False)
    g.set_trainable(bn.id, False)
    project_file.save(project, project.path)
    stored = _stored(project)
    fresh = weights.extract(compile_model(g, seed=0), g)
    assert not torch.equal(fresh[f"{fc1}.weight"], stored[f"{fc1}.weight"])

    trainer, result, events = _train(project, tmp_path / "run", epochs=2)
    assert result.ok, result.message
    after = weights.extract(result.model, g)
    for key in (f"{fc1}.weight", f"{fc1}.bias", f"{bn.id}.weight", f"{bn.id}.bias",
                f"{bn.id}.running_mean", f"{bn.id}.running_var"):
        assert torch.equal(after[key], stored[key]), key          # bit-identical
    for key in (f"{fc2}.weight", f"{g.by_title('head').id}.weight"):
        assert not torch.equal(after[key], stored[key]), key      # trained from the stored values
    # 4*64+64 (fc1) + 2*64 (bn1) frozen, of those + 64*64+64 (fc2) + 64*3+3 (head)
    assert result.summary["frozen_parameters"] == 448 and result.summary["parameters"] == 4803
    assert result.summary["start_weights"] == "project"
    assert sum(p.numel() for group in trainer.optimizer.param_groups for p in group["params"]) == 4355
    start = next(e for e in events if e.kind == "start").message
    assert ": 4,355 parameters to train (448 of 4,803 parameters frozen), from the project's weights," in start
    on_disk = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert (on_disk["frozen_parameters"], on_disk["parameters"]) == (448, 4803)
    # the run folder's copy drops the reference: its checkpoints are its weights
    assert "weights" not in json.loads((tmp_path / "run" / "project.wbproj").read_text())
    from workbench.train.checkpoint import load_run
    reloaded = weights.extract(load_run(tmp_path / "run").model, g)
    assert torch.equal(reloaded[f"{fc1}.weight"], stored[f"{fc1}.weight"])


def test_a_node_whose_weights_no_longer_fit_starts_fresh_and_is_reported(tmp_path):
    project = iris_project(tmp_path)
    stored = _stored(project)
    g = project.graph
    g.set_param(g.by_title("fc2").id, "out_features", 32)
    fc1 = g.by_title("fc1").id
    g.set_trainable(fc1, False)
    _, result, events = _train(project, tmp_path / "run", epochs=1)
    assert result.ok, result.message
    notes = ["Linear 'fc2': stored weight has shape (64, 64), the node now needs (32, 64); it "
             "starts from fresh weights",
             "Linear 'head': stored weight has shape (3, 64), the node now needs (3, 32); it "
             "starts from fresh weights"]
    assert result.summary["weight_warnings"] == notes
    start = next(e for e in events if e.kind == "start").message
    assert start.splitlines()[1:] == [f"warning: {n}" for n in notes]
    assert torch.equal(weights.extract(result.model, g)[f"{fc1}.weight"], stored[f"{fc1}.weight"])


def test_every_node_frozen_is_refused(tmp_path):
    project = iris_project(tmp_path)
    for node in list(project.graph.nodes.values()):
        project.graph.set_trainable(node.id, False)
    _, result, _ = _train(project, tmp_path / "run", epochs=1)
    assert result.status == "failed" and result.message == "every node is frozen: nothing to train"


def test_a_changed_weights_file_is_one_line_and_exit_2(tmp_path, capsys):
    project = iris_project(tmp_path)
    _stored(project)
    path = tmp_path / "iris.weights.safetensors"
    path.write_bytes(path.read_bytes()[:-4] + b"\0\0\0\0")
    assert main(["train", str(project.path), "--epochs", "1", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: {path}: the weights file was changed after the project was saved "
                   "(its checksum differs)\n")
    assert not (tmp_path / "runs").exists()


def test_keep_weights_writes_the_runs_best_weights_into_the_project(tmp_path, capsys):
    project = iris_project(tmp_path)
    run = tmp_path / "run1"
    assert main(["train", str(project.path), "--epochs", "2", "--device", "cpu", "--out", str(run),
                 "--keep-weights"]) == 0
    err = capsys.readouterr().err
    path = tmp_path / "iris.weights.safetensors"
    summary = json.loads((run / "summary.json").read_text())
    assert f"kept the {summary['weights']} weights in {path}\n" in err and summary["weights"].startswith("best")
    kept = project_file.load(project.path)
    assert kept.extra["weights"]["file"] == "iris.weights.safetensors"
    assert kept.data == project.data and kept.graph.same_as(project.graph)   # nothing else changed
    from workbench.train.checkpoint import load_run
    best = weights.extract(load_run(run, "best").model, kept.graph)
    stored = weights.load(kept)
    assert sorted(stored) == sorted(best) and all(torch.equal(stored[k], best[k]) for k in best)

    # fine-tuned again from the project, and exported from it without a run
    _, again, events = _train(kept, tmp_path / "run2", epochs=1)
    assert again.ok and again.summary["start_weights"] == "project"
    assert "from the project's weights" in next(e for e in events if e.kind == "start").message
    assert main(["export", str(kept.path), "--format", "onnx", "-o", str(tmp_path / "m.onnx")]) == 0


def test_keep_weights_refuses_a_project_edited_since_the_run(tmp_path):
    from workbench.train.keep import KeepError, keep_weights
    project = iris_project(tmp_path)
    _, result, _ = _train(project, tmp_path / "run", epochs=1)
    edited = project_file.load(project.path)
    edited.graph.set_param(edited.graph.by_title("fc2").id, "out_features", 8)
    before = project.path.read_bytes()
    try:
        keep_weights(edited, result)
    except KeepError as exc:
        assert str(exc) == (f"{project.path}: the run's weights do not fit the project as it is now: "
                            "Linear 'fc2': stored weight has shape (64, 64), the node now needs "
                            "(8, 64); it starts from fresh weights; nothing was written")
    else:
        raise AssertionError("an edited project was given weights that do not fit")
    assert project.path.read_bytes() == before and not (tmp_path / "iris.weights.safetensors").exists()
    path = keep_weights(project_file.load(project.path), result)    # the project as trained: kept
    assert path == tmp_path / "iris.weights.safetensors" and path.is_file()


def test_an_imported_model_frozen_given_a_new_head_fine_tuned_and_exported(tmp_path, capsys):
    """The issue's journey without an importer: a model-only project with weights of its own
    (what an import writes), frozen up to its last layer, its head replaced by a 3-class one,
    fine-tuned on iris, exported from the run; the frozen weights stay bit-identical."""
    from workbench.core.graph import Graph
    g = Graph()
    x = g.add_node("Input", "input", {"name": "x", "shape": "4"})
    fc = g.add_node("Linear", "features", {"out_features": 16})
    bn = g.add_node("BatchNorm1d", "bn")
    act = g.add_node("ReLU", "act")
    old = g.add_node("Linear", "old_head", {"out_features": 5})
    out = g.add_node("Output", "output", {"name": "out"})
    for a, b in ((x, fc), (fc, bn), (bn, act), (act, old), (old, out)):
        g.connect(a.id, "out", b.id, "in")
    imported = project_file.Project(g, "imported")
    project_file.save(imported, tmp_path / "imported.wbproj")
    model = compile_model(g, seed=5)
    model.module.get_submodule(model.submodules[bn.id]).running_mean.fill_(0.25)
    stored = weights.extract(model, g)
    weights.save(imported, stored)
    project_file.save(imported, imported.path)

    p = project_file.load(imported.path)
    g = p.graph
    for node_id in (fc.id, bn.id, act.id):                    # "freeze up to here"
        g.set_trainable(node_id, False)
    g.remove_node(old.id)                                     # a new 3-class head
    head = g.add_node("Linear", "head", {"out_features": 3})
    g.connect(act.id, "out", head.id, "in")
    g.connect(head.id, "out", out.id, "in")
    target = g.add_node("Target", "target", {"name": "y", "dtype": "int64", "num_classes": 3})
    loss = g.add_node("CrossEntropy", "loss")
    adam = g.add_node("Adam", "adam")
    g.connect(out.id, "out", loss.id, "input")
    g.connect(target.id, "out", loss.id, "target")
    g.connect(loss.id, "loss", adam.id, "loss")
    p.data = iris_project(tmp_path).data                      # iris.csv beside the project
    project_file.save(p, p.path)

    _, result, events = _train(p, tmp_path / "run", epochs=2)
    assert result.ok, result.message
    start = next(e for e in events if e.kind == "start").message
    assert start.splitlines()[1:] == ["warning: Linear 'head': not in the project's weights (a new "
                                      "node); it starts from fresh weights"]
    assert (result.summary["frozen_parameters"], result.summary["parameters"]) == (4 * 16 + 16 + 32, 163)
    from workbench.train.checkpoint import load_run
    for name in ("best", "last"):
        after = weights.extract(load_run(tmp_path / "run", name).model, g)
        for key, value in stored.items():
            if not key.startswith(old.id + "."):
                assert torch.equal(after[key], value), (name, key)
    onnx = tmp_path / "tuned.onnx"
    assert main(["export", str(p.path), "--run", str(tmp_path / "run"), "--format", "onnx",
                 "-o", str(onnx)]) == 0
    assert "verification passed" in capsys.readouterr().out
