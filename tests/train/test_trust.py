"""No fault loses a result: a full disk, a second --out, a failed --resume, SIGTERM/SIGHUP and
bad files each end `workbench train` in one line and leave every finished file whole."""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from workbench.cli import main
from workbench.core import atomic
from workbench.core import project as project_file
from workbench.train import runs
from workbench.train.checkpoint import CheckpointError, load_checkpoint


@pytest.fixture
def iris_project(tmp_path, data_dir, capsys):
    path = tmp_path / "iris.wbproj"
    assert main(["new", str(path), "--template", "mlp-classifier", "--data", str(data_dir / "iris.csv")]) == 0
    project = project_file.load(path)
    project.training["early_stopping"]["enabled"] = False   # runs as long as it is asked to
    project_file.save(project, path)
    capsys.readouterr()
    return path


def one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def assert_whole(folder: Path) -> None:
    """Every file at a final path of the run folder reads completely."""
    for pt in folder.glob("*.pt"):
        assert isinstance(torch.load(pt, weights_only=True), dict), pt
    for js in [*folder.glob("*.json")]:
        json.loads(js.read_text())
    raw = (folder / "metrics.jsonl").read_bytes()
    assert raw.endswith(b"\n")
    for line in raw.splitlines():
        assert isinstance(json.loads(line), dict)
    assert not [p for p in folder.iterdir() if p.name.endswith(atomic.TEMP_SUFFIX)]


def workbench(*args: str, limit: int | None = None) -> subprocess.Popen:
    def file_size_limit():  # a "full disk" without root: no file may grow past `limit` bytes
        import resource
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG for the write, not death
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.Popen([sys.executable, "-m", "workbench", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=file_size_limit if limit else None)


# -- a full disk ---------------------------------------------------------------------------------

def test_a_full_disk_ends_in_one_line_leaves_whole_files_and_the_run_resumes(iris_project, tmp_path, capsys):
    run = tmp_path / "run"
    # checkpoints (~60 KB at most) fit; metrics.jsonl grows ~2 KB an epoch until it cannot
    proc = workbench("train", str(iris_project), "--epochs", "5000", "--out", str(run), limit=100_000)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, err
    line = one_error_line(err)
    assert str(run / "metrics.jsonl") in line and os.strerror(errno.EFBIG) in line
    assert_whole(run)
    assert json.loads((run / "summary.json").read_text())["status"] == "failed"
    done = json.loads((run / "last.json").read_text())["epoch"]
    assert main(["train", str(iris_project), "--resume", str(run), "--epochs", str(done + 1), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["epochs_run"] == done + 1
    epochs = [e["epoch"] for e in runs.read_events(run) if e["kind"] == "epoch"]
    assert epochs == list(range(1, done + 2))


def test_a_short_append_is_cut_back_to_whole_lines(tmp_path, monkeypatch):
    path = tmp_path / "metrics.jsonl"
    log = atomic.AppendFile(path)
    log.append(b'{"kind":"start"}\n')
    real_write = os.write

    def half_then_full(fd, data):  # what a filling disk does: part of the data, then ENOSPC
        if len(data) > 8:
            return real_write(fd, bytes(data[:len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(OSError) as caught:
        log.append(b'{"kind":"epoch","epoch":1}\n')
    monkeypatch.undo()
    log.close()
    assert caught.value.filename == str(path) and caught.value.errno == errno.ENOSPC
    assert path.read_bytes() == b'{"kind":"start"}\n'


def test_metrics_readers_skip_a_partial_line_and_garbage_with_one_warning(iris_project, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", str(iris_project), "--epochs", "2", "--out", str(run)]) == 0
    with open(run / "metrics.jsonl", "ab") as f:
        f.write(b"\xff\xfe\x00garbage\n" + b'{"kind":"epoch","epoch":"x"}\n'  # binary, nonsense
                + b'{"kind":"epoch","epo')                                      # then half a line
    warnings: list[str] = []
    events = runs.read_events(run, warnings)
    assert [e["epoch"] for e in events if e["kind"] == "epoch"] == [1, 2]
    assert warnings == [f"{run / 'metrics.jsonl'}: 3 lines are not JSON events (first: line "
                        f"{len(events) + 1}), skipped"]
    record = runs.read_run(run, events=True)
    assert [e["epoch"] for e in record.epochs] == [1, 2] and record.warnings == warnings
    capsys.readouterr()
    assert main(["train", str(iris_project), "--resume", str(run), "--epochs", "3", "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("warning:") == 1 and "not JSON events" in captured.err
    assert [e["epoch"] for e in runs.read_events(run) if e["kind"] == "epoch"] == [1, 2, 3]
    assert_whole(run)


def test_read_run_never_raises(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "summary.json").write_bytes(b"\x00\x01{")
    record = runs.read_run(tmp_path / "r")
    assert record.summary == {} and record.status == "empty" and not record.has_weights
    assert len(record.warnings) == 1 and "summary.json: unreadable" in record.warnings[0]
    (tmp_path / "r" / "summary.json").write_text('{"status": "completed", "test": {"accuracy": 0.9}}')
    (tmp_path / "r" / "last.pt").write_bytes(b"")
    record = runs.read_run(tmp_path / "r")
    assert record.status == "completed" and record.split("test") == {"accuracy": 0.9}
    assert record.split("val") == {} and record.has_weights and record.warnings == []


# -- results never destroyed -----------------------------------------------------------------

@pytest.mark.parametrize("damage, words", [
    ("empty_last", "last.pt: the file is empty (0 bytes), not a checkpoint"),
    ("no_state", "cannot resume, no last.state.pt"),
])
def test_a_failed_resume_leaves_the_summary_intact(iris_project, tmp_path, capsys, damage, words):
    run = tmp_path / "run"
    assert main(["train", str(iris_project), "--epochs", "2", "--out", str(run)]) == 0
    before = (run / "summary.json").read_bytes()
    if damage == "empty_last":
        (run / "last.pt").write_bytes(b"")
    else:
        (run / "last.state.pt").unlink()
    capsys.readouterr()
    assert main(["train", str(iris_project), "--resume", str(run), "--epochs", "4"]) == 1
    assert words in one_error_line(capsys.readouterr().err)
    assert (run / "summary.json").read_bytes() == before


def test_a_second_out_is_refused_and_force_replaces_the_run_whole(iris_project, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", str(iris_project), "--epochs", "2", "--out", str(run)]) == 0
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    capsys.readouterr()
    assert main(["train", str(iris_project), "--epochs", "1", "--out", str(run)]) == 2
    assert one_error_line(capsys.readouterr().err) == (
        f"error: {run}: already holds a run; continue it with --resume, or replace it with --force")
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    (run / "extra.onnx").write_bytes(b"an export made from the old run")
    assert main(["train", str(iris_project), "--epochs", "1", "--out", str(run), "--force", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["epochs_run"] == 1
    assert [e["epoch"] for e in runs.read_events(run) if e["kind"] == "epoch"] == [1]
    assert not (run / "extra.onnx").exists()   # --force replaces the folder whole


def test_force_never_deletes_a_folder_that_is_not_a_run(iris_project, tmp_path, capsys):
    other = tmp_path / "documents"
    other.mkdir()
    (other / "thesis.txt").write_text("years of work")
    assert main(["train", str(iris_project), "--epochs", "1", "--out", str(other), "--force"]) == 2
    assert "not a run folder" in one_error_line(capsys.readouterr().err)
    assert [p.name for p in other.iterdir()] == ["thesis.txt"]


# -- signals ----------------------------------------------------------------------------------

def test_sigterm_stops_at_the_next_batch_writes_the_summary_and_exits_143(iris_project, tmp_path):
    run = tmp_path / "run"
    proc = workbench("train", str(iris_project), "--epochs", "100000", "--out", str(run))
    try:
        deadline = time.monotonic() + 300
        while not any(e.get("kind") == "epoch" for e in runs.read_events(run)):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no epoch finished"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert "Traceback" not in err and "error:" not in err
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "stopped" and summary["epochs_run"] >= 1
    state, meta = load_checkpoint(run, "last")
    assert meta["epoch"] >= 1 and all(torch.isfinite(v).all() for v in state.values())
    assert_whole(run)


def test_sighup_stops_like_ctrl_c_with_129(iris_project, tmp_path, capsys, monkeypatch):
    from workbench.cli import train_cmd

    class HangUpAtEpoch2(train_cmd.Progress):
        def __call__(self, e):
            super().__call__(e)
            if e.kind == "epoch" and e.epoch == 2:
                os.kill(os.getpid(), signal.SIGHUP)   # handled by `workbench train`

    monkeypatch.setattr(train_cmd, "Progress", HangUpAtEpoch2)
    run = tmp_path / "run"
    assert main(["train", str(iris_project), "--epochs", "50", "--out", str(run)]) == 129
    assert "Traceback" not in capsys.readouterr().err
    assert json.loads((run / "summary.json").read_text())["status"] == "stopped"
    assert json.loads((run / "last.json").read_text())["epoch"] == 2
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_DFL


# -- one-line errors ---------------------------------------------------------------------------

def test_an_unknown_node_type_is_one_line_naming_the_node(iris_project, tmp_path, capsys):
    doc = json.loads(iris_project.read_text())
    relu = next(n for n in doc["graph"]["nodes"] if n["type"] == "ReLU")
    relu["type"] = "NoSuchLayer"
    bad = tmp_path / "unknown.wbproj"
    bad.write_text(json.dumps(doc))
    assert main(["train", str(bad), "--epochs", "1"]) == 1
    assert one_error_line(capsys.readouterr().err) == (
        f"error: node '{relu['title']}' has an unknown type 'NoSuchLayer' (is the plugin that "
        f"provides it installed?)")


@pytest.mark.parametrize("key, value, message", [
    ("early_stopping", "yes", 'training.early_stopping: expected an object such as {"enabled": '
                              'true, "patience": 5}, got "yes"'),
    ("epochs", "ten", 'training.epochs: expected a whole number >= 1, got "ten"'),
])
def test_a_bad_training_setting_is_one_line_naming_file_and_key(iris_project, tmp_path, capsys,
                                                                 key, value, message):
    doc = json.loads(iris_project.read_text())
    doc["training"][key] = value
    bad = tmp_path / "bad.wbproj"
    bad.write_text(json.dumps(doc))
    assert main(["train", str(bad)]) == 2
    assert one_error_line(capsys.readouterr().err) == f"error: {bad}: {message}"
    assert not (tmp_path / "runs").exists()


def test_an_unsafe_checkpoint_is_refused_without_torchs_advice(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "ran"),))

    torch.save({"w": Payload()}, tmp_path / "best.pt")
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(tmp_path, "best")
    text = str(caught.value)
    assert text.startswith(f"{tmp_path / 'best.pt'}: not a readable checkpoint (it contains "
                           f"objects that are not plain tensors")
    assert "weights_only" not in text and "\n" not in text and not (tmp_path / "ran").exists()


# -- a model whose training cannot fit --------------------------------------------------------

TRAIN_UNDER_LIMIT = """
import json, os, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
from workbench.cli import main
code = main(sys.argv[1:])
# VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so it would report the peak of the
# pytest process that spawned this one.
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps([code, peak * 1024]))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc")
def test_a_model_whose_training_cannot_fit_is_refused_before_anything_is_allocated(tmp_path, data_dir):
    """Under a 4 GiB address-space limit, the weights (1.1 GiB) fit but Adam's moments and the
    activations of a batch do not (about 7.7 GiB). Before, the weights were built, then the first
    forward pass failed to allocate; now nothing is built: the refusal names the node and the
    figures, and the process never grew to the size of the weights."""
    from tests.core.helpers import classifier
    graph, _ = classifier(("Linear", {"out_features": 1_000_000}), "ReLU", "ReLU", "ReLU",
                          ("Linear", {"out_features": 300}), ("Linear", {"out_features": 3}))
    project = project_file.Project(graph, name="wide", data={"path": str(data_dir / "iris.csv")})
    project.training["batch_size"] = 4096
    path = project_file.save(project, tmp_path / "wide.wbproj")
    done = subprocess.run([sys.executable, "-c", TRAIN_UNDER_LIMIT, "train", str(path), "--out",
                           str(tmp_path / "run")], capture_output=True, text=True, timeout=300)
    code, peak = json.loads(done.stdout.splitlines()[-1])
    line = one_error_line(done.stderr)
    assert code == 1
    assert line.startswith("error: the graph cannot be trained: Linear 'linear1' holds 300,000,300 of "
                           "the model's 305,001,203 parameters; training needs about 7.6 GiB "), line
    assert ("(weights, gradients, optimizer state and the activations of a batch of 102), and "
            "only ") in line and line.endswith("of memory is available: make the layers or the batch "
                                               "smaller"), line
    assert peak < 305_001_203 * 4, peak               # the weights were never allocated
    assert not (tmp_path / "run").exists()
