"""What a search costs per trial over training the same model alone.

The bundled digits CNN (8×8 images, 10 classes), N trials of one search with the same fixed
values (enqueued, so the sampler's choice does not change the work; pruner off, so every trial
trains every epoch) against N plain `Trainer(...).run()`s of the project with those values,
into run folders like the trials'. Both get the same prepared data. A search trial also does
what it does in real use: ask/tell through the journal file beside the project, the orphan
check, the analysis of the trial's graph, trial.json, its user attributes. Rounds alternate
search / alone so load changes on a shared machine hit both. Reported: median seconds per trial
of each and the median of the per-round ratios; exits 1 when the overhead is above the 5 % target.

    .venv/bin/python bench/search_overhead.py [--trials 5] [--rounds 5] [--epochs 3] [--threads 2]
"""
from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.core import project as project_file  # noqa: E402
from workbench.core import search_space as ss  # noqa: E402
from workbench.data import DataSettings, prepare  # noqa: E402
from workbench.search import Options, Search  # noqa: E402
from workbench.train.trainer import Trainer  # noqa: E402

TARGET = 1.05
VALUES = {"lr": 0.002, "width": 48}


def make_project(folder: Path, epochs: int) -> Path:
    shutil.copy(ROOT / "resources/examples/data/digits.csv", folder / "digits.csv")
    project = project_file.load(ROOT / "resources/examples/digits-cnn/project.wbproj")
    project.data["path"], project.path = "digits.csv", None
    project.training.update(epochs=epochs, device="cpu")
    project.training["early_stopping"]["enabled"] = False
    ss.store(project, ss.from_dict({"pruner": "none", "space": [
        {"name": "lr", "kind": "float", "node": "n15", "param": "lr", "low": 1e-4, "high": 0.1, "log": True},
        {"name": "width", "kind": "int", "node": "n9", "param": "out_features", "low": 16, "high": 128}]}))
    return project_file.save(project, folder / "digits.wbproj")


def search_round(path: Path, data, trials: int, name: str) -> float:
    project = project_file.load(path)
    search = Search(project, Options(trials=trials, name=name, pruner="none"), data=data)
    for _ in range(trials):
        search.study.enqueue_trial(dict(VALUES))
    t0 = time.perf_counter()
    done = search.run()
    seconds = time.perf_counter() - t0
    assert [r.state for r in done] == ["complete"] * trials, [(r.state, r.reason) for r in done]
    return seconds / trials


def alone_round(path: Path, data, trials: int, name: str) -> float:
    project = project_file.load(path)
    trained = ss.apply(project, ss.of(project), VALUES)
    t0 = time.perf_counter()
    for i in range(trials):
        result = Trainer(trained, data, run_dir=path.parent / "runs" / name / f"run-{i}").run()
        assert result.ok, result.message
    return (time.perf_counter() - t0) / trials


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        path = make_project(Path(tmp), args.epochs)
        project = project_file.load(path)
        data = prepare(DataSettings.from_dict(project.data), project.folder)
        alone_round(path, data, 1, "warm-up")
        searched, alone = [], []
        for r in range(args.rounds):
            searched.append(search_round(path, data, args.trials, f"round{r}"))
            alone.append(alone_round(path, data, args.trials, f"alone{r}"))
        s, a = statistics.median(searched), statistics.median(alone)
        ratio = statistics.median(x / y for x, y in zip(searched, alone))
        print(f"digits CNN, {len(data.train.y)} training rows, {args.epochs} epochs a trial, "
              f"{args.trials} trials × {args.rounds} rounds, {args.threads} threads, "
              f"{platform.processor() or platform.machine()}, torch {torch.__version__}")
        print(f"search: {s:.3f} s per trial (rounds: {', '.join(f'{v:.3f}' for v in searched)})")
        print(f"alone:  {a:.3f} s per run   (rounds: {', '.join(f'{v:.3f}' for v in alone)})")
        print(f"overhead: {100 * (ratio - 1):+.1f} % per trial, median of the rounds' ratios "
              f"(target ≤ {100 * (TARGET - 1):.0f} %)")
        return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
