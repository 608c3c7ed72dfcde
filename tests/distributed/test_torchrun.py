"""`torchrun --standalone --nproc_per_node=2 -m workbench train PROJECT --distributed` on the
CPU (Gloo, 127.0.0.1): both ranks train, end with the same weights, one run folder; and a rank
that dies or hangs makes the other stop with a clear error, within a bounded time."""
from __future__ import annotations

import json
import time

import torch

from tests.distributed.conftest import torchrun


def _train(project, out, *args, timeout=90, **env):
    return torchrun(["-m", "workbench", "train", str(project), "--distributed", "--out", str(out), *args],
                    cwd=project.parent, timeout=timeout, **env)


def test_two_ranks_train_alike_and_write_one_run_folder(iris_project, tmp_path):
    run, dump = tmp_path / "run", tmp_path / "dump"
    proc = _train(iris_project, run, "--epochs", "25", WORKBENCH_DIST_DUMP=dump)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # rank 0 alone prints: one start line, one table, one run folder line
    assert proc.stderr.count("on cpu x 2 processes (gloo)") == 1
    assert proc.stdout.count("run folder:") == 1 and proc.stdout.count("metric") == 1
    # both ranks started and ended with the same weights, which are the run's final weights
    w0, w1 = (torch.load(dump / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert w0.keys() == w1.keys() and all(torch.equal(w0[k], w1[k]) for k in w0)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert summary["distributed"] == {"world_size": 2, "backend": "gloo", "batch_per_process": 16,
                                      "weights_identical": True}
    best = torch.load(run / "best.pt", weights_only=True)
    assert all(torch.equal(best[k], w0[k]) for k in w0)
    # only one run folder: the one asked for, nothing beside the project
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dump", "run"]
    assert not (iris_project.parent / "runs").exists()
    # the loss falls
    epochs = [e for e in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
              if e["kind"] == "epoch"]
    assert len(epochs) == 25
    assert epochs[-1]["train_loss"] < 0.5 * epochs[0]["train_loss"]
    # activation statistics come through the DDP wrapper (hooks on the module inside it)
    sampled = [e["act_stats"] for e in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
               if e.get("act_stats")]
    assert sampled and any("dead_frac" in s for s in sampled[0].values())
    assert summary["test"]["accuracy"] >= 0.85
    # the reduced metrics are those of one process over the whole splits
    from workbench.core.project import load
    from workbench.data import DataSettings, prepare
    from workbench.train.trainer import Trainer
    project = load(run / "project.wbproj")
    data = prepare(DataSettings.from_dict(project.data), run)
    trainer = Trainer(project, data, save=False)
    trainer._setup()
    trainer.module.load_state_dict(best)
    for split in ("train", "val", "test"):
        one = trainer.evaluate(getattr(data, split))
        assert one["confusion_matrix"] == summary[split]["confusion_matrix"], split
        for key in ("loss", "accuracy", "f1_macro"):
            assert abs(one[key] - summary[split][key]) < 1e-6, (split, key)


def _fault(iris_project, tmp_path, mode):
    t0 = time.monotonic()
    proc = _train(iris_project, tmp_path / "run", "--epochs", "400", timeout=60,
                  WORKBENCH_DIST_FAULT=f"1:25:{mode}", WORKBENCH_DIST_TIMEOUT=4)
    return proc, time.monotonic() - t0


def test_a_killed_rank_makes_the_other_exit_with_a_clear_error(iris_project, tmp_path):
    proc, took = _fault(iris_project, tmp_path, "kill")   # rank 1 SIGKILLs itself at step 25
    assert proc.returncode != 0
    err = proc.stderr
    assert ("[rank 0] distributed training failed on rank 0/2: lost the connection to another rank" in err
            or "[rank 0] terminated by SIGTERM (another rank failed" in err), err[-3000:]
    assert took < 45
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "failed"
    assert (tmp_path / "run" / "last.pt").exists()       # the last finished epoch is kept


def test_a_hanging_rank_makes_the_other_time_out_with_a_clear_error(iris_project, tmp_path):
    proc, took = _fault(iris_project, tmp_path, "hang")   # rank 1 stops answering at step 25
    assert proc.returncode != 0
    assert ("[rank 0] distributed training failed on rank 0/2: timed out waiting for another rank"
            in proc.stderr), proc.stderr[-3000:]
    assert "WORKBENCH_DIST_TIMEOUT=4 s" in proc.stderr
    assert took < 45


def test_a_distributed_run_resumes_where_it_stopped(iris_project, tmp_path):
    """--resume under torchrun: the same run folder goes on from its last epoch, both ranks
    continue from the same state, and the curves continue rather than restart."""
    run, dump = tmp_path / "run", tmp_path / "dump"
    first = _train(iris_project, run, "--epochs", "6")
    assert first.returncode == 0, first.stderr[-3000:]
    proc = torchrun(["-m", "workbench", "train", str(iris_project), "--distributed", "--resume", str(run),
                     "--epochs", "10"], cwd=iris_project.parent, timeout=90, WORKBENCH_DIST_DUMP=dump)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    epochs = [e["epoch"] for e in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
              if e["kind"] == "epoch"]
    assert epochs == list(range(1, 11))
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_run"] == 10
    assert summary["distributed"]["weights_identical"] is True
    w0, w1 = (torch.load(dump / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dump", "run"]
