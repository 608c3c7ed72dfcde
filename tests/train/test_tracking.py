"""`--log tensorboard|mlflow`: what each tracker wrote, read back with the tool's own reader and
compared with the run folder's metrics.jsonl and summary.json."""
from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import EXAMPLES
from tests.train.conftest import blobs, project_for
from workbench.cli import main
from workbench.export.trackers import trackers_asked
from workbench.core import project as project_file
from workbench.train.runs import read_events
from workbench.train.trainer import Trainer

EPOCH_NAMES = ("train_loss", "val_loss", "lr")


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """The bundled iris example trained 2 epochs with both trackers, once for the module."""
    home = tmp_path_factory.mktemp("tracked")
    path = home / "iris-classifier.wbproj"
    project_file.save(project_file.load(EXAMPLES / "iris-classifier" / "project.wbproj"), path)
    run = home / "runs" / "first"
    err, out = io.StringIO(), io.StringIO()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            code = main(["train", str(path), "--epochs", "2", "--device", "cpu", "--out", str(run),
                         "--log", "tensorboard", "--log", "mlflow,tensorboard"])
    finally:
        torch.set_num_threads(threads)
    assert code == 0, err.getvalue()
    epochs = [e for e in read_events(run) if e["kind"] == "epoch"]
    summary = json.loads((run / "summary.json").read_text())
    return {"home": home, "path": path, "run": run, "err": err.getvalue(), "epochs": epochs,
            "summary": summary}


def expected_per_epoch(epochs: list[dict]) -> dict[str, list[tuple[int, float]]]:
    names = [*EPOCH_NAMES, *(f"val_{k}" for k in epochs[0]["metrics"]["val"]
                             if isinstance(epochs[0]["metrics"]["val"][k], float) and k != "loss")]
    values = {"train_loss": lambda e: e["train_loss"], "val_loss": lambda e: e["val_loss"],
              "lr": lambda e: e["lr"]}
    return {n: [(e["epoch"], values[n](e) if n in values else e["metrics"]["val"][n[4:]])
                for e in epochs] for n in names}


def accumulator(folder: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(folder))
    acc.Reload()
    return acc


def hparams_of(acc) -> tuple[dict, list[str]]:
    from tensorboard.plugins.hparams import plugin_data_pb2
    content = acc.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"])
    values = {}
    for key, value in start.session_start_info.hparams.items():
        kind = value.WhichOneof("kind")
        values[key] = getattr(value, kind)
    return values, [m.name.tag for m in experiment.experiment.metric_infos]


def test_the_cli_run_is_quiet_and_clean(tracked):
    assert "Traceback" not in tracked["err"] and "warning" not in tracked["err"]
    assert "INFO" not in tracked["err"]  # mlflow's "creating tables" log lines are silenced
    assert [e["epoch"] for e in tracked["epochs"]] == [1, 2]


def test_tensorboard_one_event_file_in_the_run_folder_with_every_epoch(tracked):
    run = tracked["run"]
    assert len(list(run.glob("events.out.tfevents.*"))) == 1
    assert not [p for p in run.iterdir() if p.is_dir()]  # no add_hparams sub-folder
    acc = accumulator(run)
    expected = expected_per_epoch(tracked["epochs"])
    assert "val_accuracy" in expected and "val_f1_macro" in expected
    for tag, points in expected.items():
        got = [(s.step, s.value) for s in acc.Scalars(tag)]
        assert [step for step, _ in got] == [step for step, _ in points], tag
        assert [v for _, v in got] == pytest.approx([v for _, v in points], rel=1e-6), tag


def test_tensorboard_hparams_hold_the_settings_and_the_final_metrics(tracked):
    acc = accumulator(tracked["run"])
    values, metrics = hparams_of(acc)
    assert values["training/epochs"] == 2 and values["training/device"] == "cpu"
    assert values["training/optimizer"] == "Adam"
    assert values["training/lr"] == pytest.approx(0.003)
    assert values["training/early_stopping.metric"] == "val_accuracy"
    assert "final/test_accuracy" in metrics and "final/val_loss" in metrics
    final = acc.Scalars("final/test_accuracy")
    assert [s.step for s in final] == [2]
    assert final[0].value == pytest.approx(tracked["summary"]["test"]["accuracy"], rel=1e-6)


def mlflow_run(tracked):
    from mlflow.tracking import MlflowClient

    from workbench.train.mlflow_log import tracking_uri
    assert (tracked["home"] / "mlruns.db").is_file()
    client = MlflowClient(tracking_uri(tracked["home"]))
    experiment = client.get_experiment_by_name("iris-classifier")
    assert experiment is not None
    assert experiment.artifact_location == (tracked["home"] / "mlartifacts").resolve().as_uri()
    found = client.search_runs([experiment.experiment_id])
    assert len(found) == 1
    return client, found[0]


def test_mlflow_params_and_metrics_match_the_run_folder(tracked):
    client, run = mlflow_run(tracked)
    assert run.info.run_name == "first" and run.info.status == "FINISHED"
    assert run.data.tags["workbench.run_folder"] == str(tracked["run"].resolve())
    params = run.data.params
    assert params["training/epochs"] == "2" and params["training/batch_size"] == "16"
    assert params["training/optimizer"] == "Adam" and float(params["training/lr"]) == 0.003
    for key, points in expected_per_epoch(tracked["epochs"]).items():
        history = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, key))
        assert history == [(step, pytest.approx(v, rel=1e-12)) for step, v in points], key
    for split in ("train", "val", "test"):
        for key in ("loss", "accuracy", "f1_macro"):
            assert run.data.metrics[f"final/{split}_{key}"] == pytest.approx(tracked["summary"][split][key])


def test_mlflow_artifacts_and_the_onnx_model_of_the_run(tracked, tmp_path):
    import onnxruntime as ort

    from workbench.train.checkpoint import load_run
    client, run = mlflow_run(tracked)
    run_id = run.info.run_id
    names = {a.path for a in client.list_artifacts(run_id)}
    assert {"summary.json", "project.wbproj", "model"} <= names
    assert {"model/MLmodel", "model/model.onnx"} <= {a.path for a in client.list_artifacts(run_id, "model")}
    summary = Path(client.download_artifacts(run_id, "summary.json", str(tmp_path)))
    assert json.loads(summary.read_text()) == tracked["summary"]
    mlmodel = Path(client.download_artifacts(run_id, "model/MLmodel", str(tmp_path))).read_text()
    assert "onnx:" in mlmodel and "python_function:" in mlmodel
    assert run.data.tags["workbench.model"] == f"runs:/{run_id}/model"

    onnx_file = client.download_artifacts(run_id, "model/model.onnx", str(tmp_path))
    session = ort.InferenceSession(onnx_file, providers=["CPUExecutionProvider"])
    trained = load_run(tracked["run"], "best")
    x = torch.randn(7, 4, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = trained.model.module.eval()(x)
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    assert torch.allclose(torch.from_numpy(got), want, atol=1e-5)


@pytest.mark.parametrize("name, blocked", [
    ("tensorboard", ("torch.utils.tensorboard", "tensorboard")),
    ("mlflow", ("mlflow", "mlflow.entities", "mlflow.tracking")),
    ("mlflow", ("sqlalchemy",)),  # mlflow-skinny without the SQLite store's packages
])
def test_a_missing_extra_is_one_line_exit_2(tracked, tmp_path, monkeypatch, capsys, name, blocked):
    for module in blocked:
        monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    run = tmp_path / "never"
    assert main(["train", str(tracked["path"]), "--epochs", "1", "--out", str(run), "--log", name]) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("warning:")]
    assert lines == [f"error: --log {name} needs the {name} extra: pip install workbench[{name}]"]
    assert not run.exists()


def test_log_names_repeat_or_comma_and_unknown_ones_are_refused(tracked, capsys):
    assert trackers_asked(["tensorboard", " MLflow, tensorboard"]) == ["tensorboard", "mlflow"]
    assert main(["train", str(tracked["path"]), "--log", "wandb"]) == 2
    assert capsys.readouterr().err.strip() == "error: --log wandb: unknown tracker; choose tensorboard or mlflow"


def test_a_search_passes_its_hparams_and_a_run_without_folder_logs_nothing(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from workbench.train.tensorboard_log import TensorBoardLog
    data = blobs(n=120)
    log = TensorBoardLog(hparams={"search/lr": 0.01, "search/trial": 3})
    result = Trainer(project_for(data, epochs=2), data, run_dir=tmp_path / "trial", callbacks=[log]).run()
    assert result.ok and log.warnings == []
    acc = EventAccumulator(str(tmp_path / "trial"))
    acc.Reload()
    values, _ = hparams_of(acc)
    assert values["search/lr"] == 0.01 and values["search/trial"] == 3 and values["training/epochs"] == 2
    assert [s.step for s in acc.Scalars("val_loss")] == [1, 2]

    quiet = TensorBoardLog()
    Trainer(project_for(data, epochs=1), data, save=False, callbacks=[quiet]).run()
    assert quiet.writer is None and quiet.done


def test_a_resumed_run_keeps_one_point_per_epoch(tmp_path):
    from workbench.train.tensorboard_log import TensorBoardLog
    data = blobs(n=120)
    run = tmp_path / "run"
    Trainer(project_for(data, epochs=2), data, run_dir=run, callbacks=[TensorBoardLog()]).run()
    Trainer(project_for(data, epochs=3), data, epochs=3, run_dir=run, resume=True,
            callbacks=[TensorBoardLog()]).run()
    expected = [(e["epoch"], e["val_loss"]) for e in read_events(run) if e["kind"] == "epoch"]
    got = [(s.step, s.value) for s in accumulator(run).Scalars("val_loss")]
    assert [s for s, _ in got] == [1, 2, 3] == [s for s, _ in expected]
    assert [v for _, v in got] == pytest.approx([v for _, v in expected], rel=1e-6)


def test_a_failing_tracker_warns_and_the_training_goes_on(tmp_path):
    from mlflow.tracking import MlflowClient

    from workbench.train.mlflow_log import MlflowLog, tracking_uri

    def exporter(folder, target):
        raise RuntimeError(f"{folder.name}: cannot export")

    data = blobs(n=120)
    log = MlflowLog(hparams={"search/trial": 7}, exporter=exporter, project_path=tmp_path / "p.wbproj")
    result = Trainer(project_for(data, epochs=2), data, run_dir=tmp_path / "runs" / "t7", callbacks=[log]).run()
    assert result.ok and result.status == "completed"
    assert log.warnings == ["mlflow: t7: cannot export; stopped logging"]
    client = MlflowClient(tracking_uri(tmp_path))
    (run,) = client.search_runs([client.get_experiment_by_name("p").experiment_id])
    assert run.info.status == "FINISHED" and run.data.params["search/trial"] == "7"
    assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "val_loss")) == [1, 2]
    assert {a.path for a in client.list_artifacts(run.info.run_id)} == {"summary.json", "project.wbproj"}
