"""TrainingSettings: every key of project["training"] typed and checked by name, the file's
dict left byte-identical, `workbench validate` naming the bad key."""
from __future__ import annotations

import json

import pytest

from workbench.cli import main
from workbench.core import load, save, templates
from workbench.core.project import default_training
from workbench.core.training_settings import (EarlyStopping, TrainingSettings,
                                              TrainingSettingsError, problems)


def test_defaults_are_the_project_defaults_in_file_order():
    assert TrainingSettings().to_dict() == default_training()
    assert list(default_training()) == ["epochs", "batch_size", "device", "precision", "seed",
                                        "grad_clip", "early_stopping"]
    settings = TrainingSettings.from_dict({"epochs": 3, "grad_clip": 1, "early_stopping": {"patience": 2}})
    assert settings.epochs == 3 and settings.batch_size == 32
    assert settings.grad_clip == 1.0 and isinstance(settings.grad_clip, float)
    assert settings.early_stopping == EarlyStopping(patience=2)
    assert TrainingSettings.from_dict(settings.to_dict()) == settings


@pytest.mark.parametrize("training, message", [
    ({"epochs": "ten"}, 'training.epochs: expected a whole number >= 1, got "ten"'),
    ({"epochs": 0}, "training.epochs: expected a whole number >= 1, got 0"),
    ({"epochs": True}, "training.epochs: expected a whole number >= 1, got true"),
    ({"batch_size": 2.5}, "training.batch_size: expected a whole number >= 1, got 2.5"),
    ({"seed": -1}, "training.seed: expected a whole number >= 0, got -1"),
    ({"device": "gpu"}, 'training.device: expected one of auto, cpu, cuda, mps (or cuda:N), got "gpu"'),
    ({"precision": "fp8"}, 'training.precision: expected one of fp32, bf16, fp16, got "fp8"'),
    ({"grad_clip": -1}, "training.grad_clip: expected a number >= 0, got -1"),
    ({"grad_clip": None}, "training.grad_clip: expected a number >= 0, got null"),
    ({"early_stopping": "yes"}, 'training.early_stopping: expected an object such as {"enabled": '
                                'true, "patience": 5}, got "yes"'),
    ({"early_stopping": {"enabled": "yes"}}, 'training.early_stopping.enabled: expected true or '
                                             'false, got "yes"'),
    ({"early_stopping": {"patience": 0}}, "training.early_stopping.patience: expected a whole "
                                          "number >= 1, got 0"),
    ({"early_stopping": {"min_delta": "0.1"}}, 'training.early_stopping.min_delta: expected a '
                                               'number >= 0, got "0.1"'),
    ({"early_stopping": {"metric": 3}}, 'training.early_stopping.metric: expected a metric name '
                                        'such as "val_loss", got 3'),
    ({"epoch": 3}, "training.epoch: unknown setting (known: epochs, batch_size, device, precision, "
                   "seed, grad_clip, early_stopping)"),
])
def test_each_bad_value_is_named_by_its_key(training, message):
    assert problems(training) == [message]
    with pytest.raises(TrainingSettingsError) as caught:
        TrainingSettings.from_dict(training)
    assert str(caught.value) == message


def test_every_problem_is_listed_and_good_devices_pass():
    assert len(problems({"epochs": "ten", "batch_size": 0, "device": 1})) == 3
    for device in ("auto", "cpu", "cuda", "cuda:1", "mps", "CPU"):
        assert problems({"device": device}) == []
    assert problems({"device": "mps:0"}) != []
    with pytest.raises(TrainingSettingsError, match="training.epochs"):
        TrainingSettings(epochs=0).validate()


def _project(tmp_path, **training):
    p = templates.build("mlp-classifier", templates.DataShape((4,), "float32", None,
                                                              "classification", 3, rows=120))
    path = save(p, tmp_path / "p.wbproj")
    doc = json.loads(path.read_text())
    doc["training"].update(training)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


def test_the_file_stays_byte_identical_through_load_and_save(tmp_path):
    path = save(load(_project(tmp_path, epochs=7)), tmp_path / "first.wbproj")
    before = path.read_bytes()
    assert b'"epochs": 7' in before
    save(load(path), tmp_path / "again.wbproj")
    assert (tmp_path / "again.wbproj").read_bytes() == before


def test_validate_names_the_bad_training_key_and_exits_1(tmp_path, capsys):
    assert main(["validate", str(_project(tmp_path, epochs="ten"))]) == 1
    out = capsys.readouterr().out
    assert 'error: training.epochs: expected a whole number >= 1, got "ten"' in out.splitlines()
    assert main(["validate", str(_project(tmp_path))]) == 0
