"""Activation statistics: sampled at the event rate through one-step forward hooks, a dead ReLU
is seen as dead, the hooks never outlive their step."""
from __future__ import annotations

import math

import pytest
import torch

from conftest import blobs, project_for
from workbench.train import insight
from workbench.train.trainer import Trainer


class DeadTrainer(Trainer):
    """The MLP template with fc2's bias at -100: relu2 (after it) never fires."""

    def _setup(self):
        super()._setup()
        fc2 = self.module.get_submodule(self.model.submodules["n4"])
        with torch.no_grad():
            fc2.bias.fill_(-100.0)


def hooks(trainer) -> int:
    return sum(len(m._forward_hooks) for m in trainer.module.modules())


def test_a_dead_relu_is_reported_and_the_hooks_go_after_their_step():
    data = blobs()
    events, hooks_at_event = [], []
    trainer = DeadTrainer(project_for(data, epochs=2, batch_size=32), data, save=False,
                          callbacks=[events.append, lambda e: hooks_at_event.append(
                              hooks(trainer) if trainer.model is not None else 0)])
    result = trainer.run()
    assert result.ok, result.message
    sampled = [e for e in events if e.act_stats]
    assert sampled and sampled[0].kind == "step"           # the first step is always sampled
    stats = sampled[0].act_stats
    # every module node of the model reports mean/std/zeros; the ReLUs also their dead units
    assert set(stats) == {"n2", "n3", "n4", "n5", "n6"}
    assert all({"mean", "std", "zero_frac"} <= set(s) for s in stats.values())
    assert {n for n, s in stats.items() if "dead_frac" in s} == {"n3", "n5"}
    assert stats["n5"]["dead_frac"] == 1.0 and stats["n5"]["zero_frac"] == 1.0
    assert stats["n5"]["mean"] == 0.0 and stats["n5"]["std"] == 0.0
    assert stats["n3"]["dead_frac"] < 0.3                    # the healthy one
    assert 0.2 < stats["n3"]["zero_frac"] < 0.8
    assert stats["n2"]["std"] > 0 and math.isfinite(stats["n2"]["mean"])
    assert hooks(trainer) == 0 and not any(hooks_at_event)  # removed right after the forward pass
    assert "act_stats" in events[-1].to_json()


def test_only_sampled_steps_install_hooks(monkeypatch):
    data = blobs(n=600)
    installs = []
    install = insight.ActivationProbe.install
    monkeypatch.setattr(insight.ActivationProbe, "install",
                        lambda self: (installs.append(1), install(self)))
    events = []
    # one event a day at most: only the very first step is due and sampled
    result = Trainer(project_for(data, epochs=3, batch_size=16), data, save=False,
                     event_rate=1e-5, callbacks=[events.append]).run()
    assert result.ok and result.model is not None
    steps = events[-1].step
    assert steps > 60 and len(installs) == 1
    assert sum(1 for e in events if e.act_stats) == 1


def test_units_are_features_or_channels():
    x = torch.randn(8, 4, 5, 5).relu()
    x[:, 1] = 0                                    # channel 1 silent for every sample and pixel
    x[0, 2] = 0                                    # channel 2 silent for one sample only: alive
    s = insight.stats(x, True)
    assert s["dead_frac"] == pytest.approx(0.25)
    assert s["zero_frac"] == pytest.approx((x == 0).float().mean().item())
    assert s["mean"] == pytest.approx(x.mean().item(), abs=1e-6)
    assert s["std"] == pytest.approx(x.std(correction=0).item(), rel=1e-4)
    shifted = torch.randn(64, 32) * 0.8 - 99.6     # a large mean: std from sums is still close
    assert insight.stats(shifted)["std"] == pytest.approx(shifted.std(correction=0).item(), rel=0.02)
    seq = torch.ones(2, 7, 3)                      # (batch, steps, features): features are the units
    seq[..., 0] = 0
    assert insight.stats(seq, False)["dead_frac"] == pytest.approx(1 / 3)
    assert insight.stats(seq.transpose(1, 2), True)["dead_frac"] == pytest.approx(1 / 3)
    assert set(insight.stats(seq, None)) == {"mean", "std", "zero_frac"}  # not a ReLU
    half = insight.stats(x.half(), True)           # autocast outputs: reduced in float32
    assert half["dead_frac"] == pytest.approx(0.25) and half["mean"] == pytest.approx(s["mean"], rel=1e-3)


def test_channels_first_follows_the_producer():
    from workbench.core.templates import DataShape, build
    shape = DataShape((1, 8, 8), "float32", None, "classification", 3, (), 100)
    g = build("cnn-classifier", shape, "synthetic").graph
    relus = [n.id for n in g.nodes.values() if n.type == "ReLU"]
    assert relus and any(insight.channels_first(g, n) for n in relus)
    g2 = project_for(blobs()).graph
    assert not insight.channels_first(g2, "n3")


def test_gradient_verdicts():
    last = {"a": 0.5, "b": 1e-9, "c": 80.0, "d": 2e3, "e": float("nan")}
    early = {"a": 0.5, "b": 1e-9, "c": 0.3, "d": None, "e": None}
    assert insight.gradient_verdicts(last, early) == {
        "a": "ok", "b": "vanishing", "c": "exploding", "d": "exploding", "e": "nan"}
    assert insight.gradient_verdicts({"a": 80.0}) == {"a": "ok"}     # growth needs an early value
    assert insight.gradient_verdicts({"a": 1e-3, "b": 20.0}) == {"a": "vanishing", "b": "ok"}
    assert insight.early_median([1.0] * 9) is None
    assert insight.early_median([1.0, float("nan"), 3.0] + [5.0] * 7 + [1e9]) == 5.0
    assert insight.dead_verdicts({"r1": 0.49, "r2": 0.5, "r3": None}) == {"r2": 0.5}


def test_train_prints_the_apps_warnings_once_per_layer():
    """A dead ReLU starves the layers before it: one stderr line per layer, as `workbench train`
    prints them (the run's events through the CLI's progress callback)."""
    import io
    from workbench.cli.train_cmd import Progress
    from workbench.train.events import Event

    data = blobs()
    project = project_for(data, epochs=3, batch_size=32)
    events = []
    result = DeadTrainer(project, data, save=False, callbacks=[events.append]).run()
    assert result.ok, result.message
    stream = io.StringIO()
    bar = Progress(stream, insight.HealthWatch(project.graph))
    for e in events:
        bar(e)
    warnings = [ln for ln in stream.getvalue().splitlines() if ln.startswith("warning:")]
    assert warnings == ["warning: Linear 'fc1': gradients vanishing (L2 norm 0)",
                        "warning: Linear 'fc2': gradients vanishing (L2 norm 0)",
                        "warning: ReLU 'relu2': 100% of its units are dead (output 0 for every sample)"]
    watch = insight.HealthWatch(project.graph)   # a layer whose gradients grow 1500-fold
    lines = [watch(Event("step", grad_norms={"n2": 0.1 if i < 10 else 150.0})) for i in range(12)]
    assert lines[10] == ["Linear 'fc1': gradients exploding (L2 norm 1.5e+02)"] and lines[11] == []
