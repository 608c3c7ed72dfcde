"""The loop on small synthetic data: run folder, early stopping, resume, pause/stop from
another thread, NaN stop, determinism, events."""
from __future__ import annotations

import json
import math
import threading
import time

import pytest
import torch

from conftest import blobs, linear, project_for
from workbench.train import load_run
from workbench.train.events import EventGate
from workbench.train.runs import read_events
from workbench.train.trainer import Trainer


def test_run_folder_holds_what_load_run_reads(tmp_path, blob_data, blob_project):
    events = []
    result = Trainer(blob_project, blob_data, run_dir=tmp_path / "run", callbacks=[events.append]).run()
    assert result.status == "completed", result.message
    folder = tmp_path / "run"
    for name in ("project.wbproj", "metrics.jsonl", "summary.json", "best.pt", "best.json",
                 "last.pt", "last.json", "last.state.pt"):
        assert (folder / name).exists(), name
    summary = json.loads((folder / "summary.json").read_text())
    for split in ("train", "val", "test"):
        assert {"loss", "accuracy", "precision_macro", "recall_macro", "f1_macro"} <= set(summary[split])
    assert summary["test"]["accuracy"] > 0.9
    run = load_run(folder)
    assert run.classes == ["c0", "c1", "c2"] and run.preprocessing == {"kind": "synthetic"}
    assert run.meta["task"] == "classification" and run.meta["epoch"] >= 1
    with torch.no_grad():
        pred = run.model.module(blob_data.test.x).argmax(1)
    assert (pred == blob_data.test.y).float().mean().item() == pytest.approx(summary["test"]["accuracy"])
    kinds = [e["kind"] for e in read_events(folder)]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("epoch") == 5
    assert [e.kind for e in events] == kinds
    epoch_events = [e for e in events if e.kind == "epoch"]
    assert all(e.val_loss is not None and "accuracy" in e.metrics["val"] for e in epoch_events)
    assert set(epoch_events[-1].grad_norms) <= set(blob_project.graph.nodes)
    assert epoch_events[-1].grad_norms and all(math.isfinite(v) for v in epoch_events[-1].grad_norms.values())


def test_default_run_folder_is_beside_the_project(tmp_path, blob_data, blob_project):
    from workbench.core import project as project_file
    project_file.save(blob_project, tmp_path / "p.wbproj")
    result = Trainer(project_file.load(tmp_path / "p.wbproj"), blob_data, epochs=1).run()
    assert result.folder.parent == tmp_path / "runs"
    assert len(result.folder.name) >= 15  # YYYYmmdd-HHMMSS


def test_regression_summary_names():
    data = linear()
    result = Trainer(project_for(data, "mlp-regressor", epochs=20), data, save=False).run()
    assert set(result.summary["test"]) == {"loss", "mse", "mae", "r2"}
    assert result.summary["test"]["r2"] > 0.9
    assert result.summary["test"]["mse"] == pytest.approx(result.summary["test"]["loss"], rel=1e-5)


def test_early_stopping_restores_the_best(tmp_path, blob_data, blob_project):
    # min_delta so large that nothing after the first epoch counts as better
    es = {"enabled": True, "metric": "val_loss", "patience": 2, "min_delta": 100.0, "restore_best": True}
    result = Trainer(blob_project, blob_data, epochs=50, early_stopping=es, run_dir=tmp_path / "r").run()
    assert result.status == "early_stopped" and result.epochs_run == 3 and result.best_epoch == 1
    best = torch.load(tmp_path / "r" / "best.pt", weights_only=True)
    now = result.model.module.state_dict()
    assert all(torch.equal(best[k], now[k].cpu()) for k in best)
    assert json.loads((tmp_path / "r" / "best.json").read_text())["epoch"] == 1


def test_early_stopping_on_a_higher_is_better_metric(blob_data, blob_project):
    es = {"metric": "val_accuracy", "patience": 3, "min_delta": 0.0}
    result = Trainer(blob_project, blob_data, epochs=200, early_stopping=es, save=False).run()
    assert result.status == "early_stopped" and result.epochs_run < 200
    accs = [e["metrics"]["val"]["accuracy"] for e in result.history]
    losses = [e["val_loss"] for e in result.history]
    # the highest accuracy, and among the epochs that reach it the lowest validation loss
    tops = [i for i, a in enumerate(accs) if a == max(accs)]
    assert result.best_epoch == min(tops, key=lambda i: (losses[i], i)) + 1


def test_unknown_early_stopping_metric_is_one_line(blob_data, blob_project):
    result = Trainer(blob_project, blob_data, early_stopping={"metric": "val_r2"}, save=False).run()
    assert result.status == "failed" and "val_r2" in result.message and "\n" not in result.message


def _numbers(summary):
    return {k: summary[k] for k in ("train", "val", "test", "epochs_run", "best_epoch")}


def test_same_seed_same_numbers(blob_data, blob_project):
    a = Trainer(blob_project, blob_data, seed=7, save=False).run()
    b = Trainer(blob_project, blob_data, seed=7, save=False).run()
    c = Trainer(blob_project, blob_data, seed=8, save=False).run()
    assert _numbers(a.summary) == _numbers(b.summary)
    assert a.summary["val"]["loss"] != c.summary["val"]["loss"]


def test_resume_continues_the_same_curve(tmp_path, blob_data, blob_project):
    es = {"enabled": False}
    straight = Trainer(blob_project, blob_data, epochs=6, early_stopping=es, run_dir=tmp_path / "a").run()
    first = Trainer(blob_project, blob_data, epochs=3, early_stopping=es, run_dir=tmp_path / "b").run()
    assert first.epochs_run == 3
    resumed = Trainer(blob_project, blob_data, epochs=6, early_stopping=es, run_dir=tmp_path / "b",
                      resume=True).run()
    assert resumed.status == "completed" and resumed.epochs_run == 6
    assert _numbers(resumed.summary) == _numbers(straight.summary)
    epochs = [e for e in read_events(tmp_path / "b") if e["kind"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3, 4, 5, 6]
    want = [e["train_loss"] for e in read_events(tmp_path / "a") if e["kind"] == "epoch"]
    assert [e["train_loss"] for e in epochs] == want
    steps = [e["step"] for e in read_events(tmp_path / "b") if e["kind"] in ("step", "epoch")]
    assert steps == sorted(steps)


def test_pause_resume_stop_from_another_thread(tmp_path):
    data = blobs(n=20000, features=32)
    project = project_for(data, epochs=50)
    project.training["batch_size"] = 32
    seen = {k: threading.Event() for k in ("step", "paused", "resumed", "epoch")}
    trainer = Trainer(project, data, run_dir=tmp_path / "run", event_rate=1000,
                      callbacks=[lambda e: seen[e.kind].set() if e.kind in seen else None])
    result = {}
    worker = threading.Thread(target=lambda: result.update(r=trainer.run()))
    worker.start()
    try:
        assert seen["epoch"].wait(60)             # one checkpoint on disk
        trainer.pause()
        assert seen["paused"].wait(10)
        at = trainer.step
        time.sleep(0.3)
        assert trainer.step == at                 # nothing moves while paused
        trainer.resume()
        assert seen["resumed"].wait(10)
        seen["step"].clear()
        assert seen["step"].wait(10)
        trainer.stop()
        stopped_at = trainer.step
        worker.join(30)
    finally:
        trainer.stop()
        worker.join(30)
    r = result["r"]
    assert r.status == "stopped" and r.epochs_run < 50
    assert trainer.step - stopped_at <= 1         # within one batch
    assert json.loads((tmp_path / "run" / "last.json").read_text())["epoch"] == r.epochs_run
    kinds = [e["kind"] for e in read_events(tmp_path / "run")]
    assert "paused" in kinds and "resumed" in kinds and kinds[-2:] == ["stopped", "end"]


def test_nan_stops_naming_step_and_node_and_keeps_last_good(tmp_path, blob_data, blob_project):
    trainer = None

    def blow_up(event):
        if event.kind == "epoch" and event.epoch == 2:
            for group in trainer.optimizer.param_groups:
                group["lr"] = 1e30

    trainer = Trainer(blob_project, blob_data, epochs=10, run_dir=tmp_path / "r", callbacks=[blow_up])
    result = trainer.run()
    assert result.status == "failed"
    msg = result.message
    assert "NaN/Inf" in msg and "step" in msg and "epoch 3" in msg
    titles = [n.title for n in blob_project.graph.nodes.values()]
    assert any(f"'{t}'" in msg for t in titles), msg
    assert json.loads((tmp_path / "r" / "last.json").read_text())["epoch"] == 2
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["status"] == "failed"
    kinds = [e["kind"] for e in read_events(tmp_path / "r")]
    assert "error" in kinds
    assert all(torch.isfinite(v).all() for v in torch.load(tmp_path / "r" / "last.pt",
                                                           weights_only=True).values())


def test_inf_in_the_data_is_named(blob_data, blob_project):
    blob_data.train.x[5, 1] = math.inf
    result = Trainer(blob_project, blob_data, save=False).run()
    assert result.status == "failed" and "input batch" in result.message and "step" in result.message


def test_events_are_rate_limited():
    now = [0.0]
    gate = EventGate(20, clock=lambda: now[0])
    fired = 0
    for _ in range(1000):          # 1000 steps in one second
        now[0] += 0.001
        if gate.due():
            gate.mark()
            fired += 1
    assert 19 <= fired <= 21


def test_step_events_bounded_in_a_real_run(blob_data, blob_project):
    events = []
    t = time.monotonic()
    Trainer(blob_project, blob_data, epochs=20, save=False, callbacks=[events.append]).run()
    seconds = time.monotonic() - t
    steps = sum(e.kind == "step" for e in events)
    assert steps <= 20 * seconds + 2
    assert sum(e.kind == "epoch" for e in events) == 20 or events[-1].message.startswith("early")


def test_schedules_change_the_rate(blob_data, blob_project):
    g = blob_project.graph
    opt = next(n for n in g.nodes.values() if n.type == "Adam")
    sched = g.add_node("StepLR", "schedule", {"step_size": 1, "gamma": 0.5})
    g.connect(opt.id, "optimizer", sched.id, "optimizer")
    result = Trainer(blob_project, blob_data, epochs=3, early_stopping={"enabled": False}, save=False).run()
    lrs = [e["lr"] for e in result.history]
    assert lrs == pytest.approx([1.5e-3, 7.5e-4, 3.75e-4])


def test_gradient_clipping_runs_and_is_deterministic(blob_data, blob_project):
    a = Trainer(blob_project, blob_data, grad_clip=0.5, save=False).run()
    b = Trainer(blob_project, blob_data, grad_clip=0.5, save=False).run()
    assert a.status == "completed" and _numbers(a.summary) == _numbers(b.summary)
    plain = Trainer(blob_project, blob_data, save=False).run()
    assert plain.summary["val"]["loss"] != a.summary["val"]["loss"]


def test_stop_before_any_epoch_finishes(tmp_path, blob_data, blob_project):
    trainer = None

    def stop_now(event):
        if event.kind == "start":
            trainer.stop()

    trainer = Trainer(blob_project, blob_data, run_dir=tmp_path / "r", callbacks=[stop_now])
    result = trainer.run()
    assert result.status == "stopped" and result.epochs_run == 0 and trainer.step == 0
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["status"] == "stopped"


class BufferedGuard(Trainer):
    """The accelerator's NaN guard (buffered losses read at the event rate), run on the CPU."""

    def _setup(self):
        super()._setup()
        self.check_each_step = False


def test_buffered_nan_guard_names_the_first_bad_step(blob_data, blob_project):
    blob_data.train.x[:, 0] = math.nan          # every batch is bad from the first step on
    result = BufferedGuard(blob_project, blob_data, save=False, event_rate=0.001).run()
    assert result.status == "failed"
    assert "step 1 (epoch 1, batch 1)" in result.message, result.message


def test_buffered_guard_trains_like_the_per_step_guard(blob_data, blob_project):
    a = BufferedGuard(blob_project, blob_data, save=False).run()
    b = Trainer(blob_project, blob_data, save=False).run()
    assert _numbers(a.summary) == _numbers(b.summary)
