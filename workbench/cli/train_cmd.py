"""`workbench train PROJECT`: prepare the project's data, train, write a run folder.

Progress (epoch, loss, ETA) goes to stderr; the final metrics table to stdout, or with
--json only the summary JSON, so `workbench train p.wbproj --json | jq .test` works.
Ctrl-C, SIGTERM and SIGHUP ask the trainer to stop after the current batch (the last epoch's
checkpoint stays, summary.json says "stopped"); a second signal aborts at once. Exit status:
0 trained (also when stopped early by the early-stopping rule), 1 training failed, 2 unreadable
project or data, 128 + the signal's number when stopped by one (130 Ctrl-C, 143 SIGTERM,
129 SIGHUP). Gradient and dead-unit warnings (the app's Insight verdicts) go to stderr, once
per layer.

With --distributed, under torchrun, every process runs this command: they join one process
group and train with DistributedDataParallel (workbench/train/distributed.py). Rank 0 alone
prints progress and the summary and writes the run folder; the other ranks print only their
errors (prefixed with their rank). SIGTERM (torchrun stopping the job after another rank failed)
exits 143 after a clean shutdown.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a project on its data and write a run folder",
                       description="Train a project on its data (or --data FILE) and write a run "
                                   "folder (default: runs/<timestamp>/ beside the project) with "
                                   "checkpoints, metrics.jsonl and summary.json. Exit status: 0 "
                                   "trained, 1 training failed, 2 unreadable input, 130 Ctrl-C, "
                                   "143 SIGTERM, 129 SIGHUP (each stops after the current batch).")
    p.add_argument("project", help="a .wbproj file")
    p.add_argument("--data", metavar="FILE", help="train on this file instead of the project's")
    p.add_argument("--test-data", metavar="FILE", help="a separate test file (e.g. test.txt)")
    p.add_argument("--epochs", type=int, metavar="N", help="number of epochs (default: the project's)")
    p.add_argument("--batch-size", type=int, metavar="N", help="samples per batch (default: the project's)")
    p.add_argument("--lr", type=float, metavar="X", help="learning rate (sets the optimizer's)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"),
                   help="where to train; auto = CUDA, then Apple MPS, then CPU (default: the project's)")
    p.add_argument("--precision", choices=("fp32", "bf16", "fp16"), help="mixed precision on CUDA")
    p.add_argument("--seed", type=int, metavar="N", help="random seed: same seed, same numbers on the CPU")
    p.add_argument("--out", metavar="RUNDIR",
                   help="the run folder to write: new or empty (an earlier run there is refused)")
    p.add_argument("--force", action="store_true",
                   help="with --out: delete the earlier run in RUNDIR (all its files) before "
                        "training; a folder that is not a run folder is never deleted")
    p.add_argument("--resume", metavar="RUNDIR",
                   help="continue this run folder (its project copy and data; --epochs sets the new total)")
    p.add_argument("--json", action="store_true", help="print only the summary as JSON on stdout")
    p.add_argument("--keep-weights", action="store_true",
                   help="write the run's final weights (its best epoch when the project restores "
                        "the best) into the project's weights file (PROJECT.weights.safetensors) "
                        "and save the project, so it exports and fine-tunes again from them")
    p.add_argument("--kfold", type=int, metavar="K",
                   help="k-fold cross-validation instead of one run: K trainings, each validated on "
                        "another K-th of the training rows; prints each fold and mean ± std, "
                        "writes no run folder")
    p.add_argument("--distributed", action="store_true",
                   help="under torchrun: train with DistributedDataParallel on all its processes "
                        "(--batch-size is per process; see docs/distributed.md)")
    p.add_argument("--log", action="append", metavar="TRACKER",
                   help="also log the run to tensorboard (an event file in the run folder) or "
                        "mlflow (mlruns.db beside the project); repeat it or give a comma list "
                        "(optional extras; see docs/tracking.md)")
    p.set_defaults(func=run)


def _error(message: str, code: int) -> int:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    distributed = bool(getattr(args, "distributed", False))
    from workbench.export.trackers import trackers_asked
    try:
        args.log = trackers_asked(getattr(args, "log", None))
    except ValueError as exc:
        return _error(exc, 2)
    if args.log and getattr(args, "kfold", None):
        return _error("--log cannot be combined with --kfold (cross-validation writes no run folder)", 2)
    rank = os.environ.get("RANK", "0") if distributed else "0"
    quiet = rank != "0"
    say = _error if not distributed else (
        lambda message, code: _error(f"[rank {rank}] {message}", code))
    from workbench.core.project import ProjectError, load
    from workbench.core.training_settings import TrainingSettings, TrainingSettingsError
    from workbench.data import DataError, DataSettings, prepare
    from workbench.train.checkpoint import CheckpointError
    from workbench.train.device import DeviceError, resolve

    try:
        if args.resume:
            project = load(Path(args.resume) / "project.wbproj")
        else:
            project = load(args.project)
        try:
            TrainingSettings.from_dict(project.training)
        except TrainingSettingsError as exc:
            raise ProjectError(f"{project.path}: {exc}") from None
        settings = DataSettings.from_dict(project.data)
        for attr, value in (("path", args.data), ("test_path", args.test_data)):
            if value:
                setattr(settings, attr, os.path.relpath(Path(value).resolve(), project.folder.resolve()))
        if not settings.path:
            return _error(f"{project.path}: the project names no data file: pass --data FILE", 2)
        if args.device:
            resolve(args.device)
        data = prepare(settings, project.folder)
    except (ProjectError, DataError, DeviceError, CheckpointError) as exc:
        return say(exc, 2)
    from workbench.data.fitted import fit_notes
    warnings = list(getattr(data, "warnings", []) or [])
    warnings += [note for _, note in fit_notes(project.graph, data)]  # bound in Trainer, said here
    if args.resume:
        from workbench.train.runs import read_events
        read_events(args.resume, warnings)   # lines that will be dropped from its event log
    for warning in warnings if not quiet else []:
        print(f"warning: {warning}", file=sys.stderr)
    project.data = settings.to_dict()
    if getattr(args, "kfold", None):
        if getattr(args, "keep_weights", False):
            return _error("--keep-weights cannot be combined with --kfold (cross-validation keeps no model)", 2)
        return _cross_validate(args, project, settings)
    if not distributed:
        return _train(args, project, data, None, _error)

    from workbench.train import distributed as dist
    try:
        device = TrainingSettings.from_dict(project.training).device
        with dist.session(args.device or device) as ctx:
            code = _train(args, project, data, ctx, say)
            ctx.ok = code in (0, 130)  # every rank ended the same way: tear down together
    except dist.DistributedError as exc:
        return say(exc, 2)
    except dist.Interrupted as exc:
        kept = "; the last finished epoch's checkpoint is kept" if rank == "0" else ""
        return say(f"{exc} (another rank failed or the launcher stopped the run){kept}", exc.exit_code)
    except KeyboardInterrupt:
        return say("interrupted", 130)
    return _leave(code)


def _leave(code: int) -> int:
    """End a torchrun worker now that its process group is gone and its files are closed.

    Gloo's background threads can still be joinable when C++ static destructors run, which
    aborts the process ("terminate called without an active exception") after a run that
    succeeded; torchrun then reports the rank as failed. Leaving with os._exit skips those
    destructors. Outside torchrun (tests calling main() in-process) it just returns."""
    if "TORCHELASTIC_RUN_ID" not in os.environ:
        return code
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _cross_validate(args, project, settings) -> int:
    from workbench.data import DataError
    from workbench.train.crossval import cross_validate, table
    from workbench.train.trainer import TrainingError

    if args.distributed or args.resume:
        return _error("--kfold cannot be combined with --distributed or --resume", 2)
    try:
        report = cross_validate(project, settings, project.folder, args.kfold, epochs=args.epochs,
                                batch_size=args.batch_size, lr=args.lr, device=args.device,
                                precision=args.precision, seed=args.seed)
    except DataError as exc:
        return _error(exc, 2)
    except TrainingError as exc:
        return _error(exc, 1)
    print(json.dumps(report, indent=2) if args.json else table(report))
    return 0


def _train(args, project, data, ctx, say) -> int:
    """Train the loaded project; ctx is a distributed Context (or None)."""
    from workbench.train.insight import HealthWatch
    from workbench.train.trainer import Trainer, TrainingError

    main = ctx is None or ctx.is_main
    bar = Progress(sys.stderr if main else None, HealthWatch(project.graph))
    if getattr(args, "force", False) and not args.out:
        return say("--force goes with --out RUNDIR (the run folder to replace)", 2)
    from workbench.export.trackers import make_trackers
    from workbench.train.tracking import TrackingError
    try:
        where = Path(args.project) if args.resume else project.path
        trackers = make_trackers(getattr(args, "log", None) or [], where) if main else []
    except TrackingError as exc:
        return say(exc, 2)
    try:
        trainer = Trainer(project, data, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                          device=args.device, precision=args.precision, seed=args.seed,
                          run_dir=args.resume or args.out, resume=bool(args.resume),
                          callbacks=([bar] if main else []) + trackers, distributed=ctx,
                          overwrite=bool(getattr(args, "force", False)))
    except TrainingError as exc:
        return say(exc, 2)
    caught: list[int] = []

    def on_signal(signum, frame):
        if caught:  # a second signal: give up at once
            raise Aborted(signum)
        caught.append(signum)
        trainer.stop()

    # Under torchrun SIGTERM belongs to the distributed session (it unwinds every rank).
    names = ("SIGINT",) if ctx is not None else ("SIGINT", "SIGTERM", "SIGHUP")
    stops = [getattr(signal, n) for n in names if hasattr(signal, n)]  # no SIGHUP on Windows
    previous = {s: signal.signal(s, on_signal) for s in stops} if _main_thread() else {}
    try:
        result = trainer.run()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        bar.close()
        for tracker in trackers:
            tracker.close()
            for warning in tracker.warnings:
                print(f"warning: {warning}", file=sys.stderr)
    interrupted = 128 + caught[0] if caught else 0
    if result.status == "failed":
        return say(result.message, 1)
    if ctx is not None:
        from workbench.train.distributed import dump_weights
        if result.model is not None:
            dump_weights(result.model.module, ctx)  # only with WORKBENCH_DIST_DUMP (tests, debugging)
        if not main:
            return interrupted
    if args.json:
        print(json.dumps(result.summary, indent=2))
    else:
        from workbench.train import verdict
        print(table(result.summary))
        classes = verdict.per_class_text(result.summary)
        if classes:
            print("\n" + classes)
        if result.folder is not None:
            print(f"\nrun folder: {result.folder}")
        line = verdict.headline(result.summary)
        if line:
            print(line)
    if result.message:
        print(result.message, file=sys.stderr)
    if getattr(args, "keep_weights", False):
        return _keep(args, result) or interrupted
    return interrupted


def _keep(args, result) -> int:
    """--keep-weights: the project file as it is on disk (not this run's copy with --data or
    --lr applied) gets the run's weights."""
    from workbench.core.project import ProjectError, load
    from workbench.train.keep import KeepError, keep_weights
    try:
        path = keep_weights(load(args.project), result)
    except (ProjectError, KeepError, OSError) as exc:
        return _error(exc, 1)
    print(f"kept the {result.summary.get('weights', 'final')} weights in {path}", file=sys.stderr)
    return 0


class Aborted(KeyboardInterrupt):
    """A second stop signal: leave at once, with the exit status of that signal."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.exit_code = 128 + signum


def _main_thread() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()


def table(summary: dict) -> str:
    """Metrics as rows, splits as columns (the confusion matrix is left to summary.json)."""
    splits = [s for s in ("train", "val", "test") if summary.get(s)]
    if not splits:
        return "no metrics (no epoch finished)"
    names = [k for k in summary[splits[0]] if isinstance(summary[splits[0]][k], (int, float))]
    from workbench.train.verdict import aligned
    rows = [["metric", *splits]] + [[n, *(_fmt(summary[s].get(n)) for s in splits)] for n in names]
    lines = aligned(rows)
    status = summary.get("status", "")
    head = f"{status}: {summary.get('epochs_run', 0)} epochs, weights {summary.get('weights', '')}"
    return head + "\n" + "\n".join(lines)


def _fmt(v) -> str:
    return "—" if v is None else f"{v:.4f}"


def _clock(seconds) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60:02d}:{rest % 60:02d}"


class Progress:
    """A one-line progress bar on a terminal; on a pipe or file, a line per epoch, at most
    one a second (plus the last), so logs stay readable."""

    def __init__(self, stream, health=None, width: int = 24):
        self.stream, self.width, self.health = stream, width, health
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.last_line = 0.0
        self.drawn = False

    def __call__(self, e) -> None:
        for line in self.health(e) if self.health is not None and self.stream is not None else ():
            self._newline()
            print(f"warning: {line}", file=self.stream)
        if e.kind == "start":
            print(e.message, file=self.stream)
        elif e.kind in ("step", "epoch") and e.steps:
            done = e.step / e.steps
            fill = int(done * self.width)
            text = f"epoch {e.epoch}/{e.epochs} [{'#' * fill}{'.' * (self.width - fill)}] {done:4.0%}"
            if e.train_loss is not None:
                text += f" loss {e.train_loss:.4f}"
            if e.val_loss is not None:
                text += f" val {e.val_loss:.4f}"
            text += f" ETA {_clock(e.eta_s)}"
            if self.tty:
                self.stream.write("\r" + text.ljust(78))
                self.stream.flush()
                self.drawn = True
            elif e.kind == "epoch" and (time.monotonic() - self.last_line >= 1.0 or e.epoch == e.epochs):
                print(text, file=self.stream)
                self.last_line = time.monotonic()
        elif e.kind in ("paused", "resumed", "stopped"):
            self._newline()
            print(e.message, file=self.stream)

    def _newline(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.drawn = False

    def close(self) -> None:
        if self.stream is None:
            return
        self._newline()
        self.stream.flush()
