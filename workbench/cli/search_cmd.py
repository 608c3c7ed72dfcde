"""`workbench search PROJECT`: an Optuna study over the project's search space (docs/search.md).

Each trial is a real training run in `runs/search-<name>/trial-<n>/`; the study is kept in a
journal file beside the project (or `--storage URL`), so running the command again resumes it:
finished trials are kept and `--trials` is the study's total. `--workers K` starts K-1 more
processes on the same storage; on other machines, start the same command with the same
`--storage`. Progress goes to stderr; the trial table and the best trial to stdout (with --json
only the study as JSON). Ctrl-C, SIGTERM and SIGHUP stop the trial in progress after its
current batch (it is marked failed and runs again on resume) and keep every finished trial; a
second signal aborts at once. Exit status: 0 done, 1 no trial completed, 2 unusable project,
data or storage, 128 + the signal's number when stopped by one.

`--apply N --out FILE` writes trial N's values into a copy of the project (the same edit as
the app's Apply trial) without searching; `--list` prints the study's table as it is.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from workbench.cli.train_cmd import Aborted, _error, _main_thread


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="search hyperparameters and architecture (Optuna trials)",
                       description="Run an Optuna study over the project's search space: each "
                                   "trial trains the project with other values into "
                                   "runs/search-<name>/trial-<n>/. Resumable: run it again to "
                                   "continue the study. Exit status: 0 done, 1 no trial "
                                   "completed, 2 unusable input, 130 Ctrl-C, 143 SIGTERM.")
    p.add_argument("project", help="a .wbproj file with a search space (docs/search.md)")
    p.add_argument("--trials", type=int, metavar="N",
                   help="the study's total number of trials, over all workers and resumes "
                        "(default: the project's search.trials)")
    p.add_argument("--timeout", type=float, metavar="S", help="start no new trial after S seconds")
    p.add_argument("--workers", type=int, default=1, metavar="K",
                   help="run K worker processes on this machine sharing the study (default 1)")
    p.add_argument("--storage", metavar="URL",
                   help="where the study lives: a journal file path (default: "
                        "<project>.search.journal beside it), sqlite:///file.db, or "
                        "postgresql://… / mysql://… for workers on several machines")
    p.add_argument("--name", metavar="NAME", help="the study's name (default: the project file's name)")
    p.add_argument("--objective", metavar="METRIC",
                   help="what to optimise: val_loss, val_accuracy, val_f1_macro, val_r2, … "
                        "(default: the project's search.objective)")
    p.add_argument("--multi", choices=("params", "flops"),
                   help="a second objective to minimise: parameter count or FLOPs per sample; "
                        "the result is a Pareto front")
    p.add_argument("--sampler", choices=("tpe", "random", "nsga2", "qmc"),
                   help="how values are chosen (default tpe; nsga2 with --multi)")
    p.add_argument("--pruner", choices=("median", "hyperband", "none"),
                   help="how weak trials are stopped early (default median)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="the samplers' seed (default 0)")
    p.add_argument("--epochs", type=int, metavar="N", help="epochs per trial (default: the project's)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"),
                   help="where each trial trains (default: the project's)")
    p.add_argument("--log", action="append", metavar="TRACKER",
                   help="also log each trial to tensorboard or mlflow (docs/tracking.md)")
    p.add_argument("--json", action="store_true", help="print only the study as JSON on stdout")
    p.add_argument("--list", action="store_true", help="print the study's trials; run none")
    p.add_argument("--apply", type=int, metavar="N",
                   help="write trial N's values into a copy of the project (needs --out); run none")
    p.add_argument("--out", metavar="FILE", help="with --apply: the project file to write")
    p.add_argument("--worker-of", type=int, metavar="PID", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, metavar="N", help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.core.project import ProjectError, load
    from workbench.export.trackers import trackers_asked
    from workbench.search import Options, Search, SearchError
    try:
        project = load(args.project)
    except ProjectError as exc:
        return _error(exc, 2)
    try:
        log = trackers_asked(args.log)
    except ValueError as exc:
        return _error(exc, 2)
    if args.apply is not None or args.list:
        return _offline(args, project)
    for flag, value in (("--trials", args.trials), ("--workers", args.workers), ("--epochs", args.epochs)):
        if value is not None and value < 1:
            return _error(f"{flag} must be at least 1", 2)
    options = Options(trials=args.trials, timeout=args.timeout, storage=args.storage, name=args.name,
                      objective=args.objective, multi=args.multi, sampler=args.sampler,
                      pruner=args.pruner, seed=args.seed, epochs=args.epochs, device=args.device,
                      log=log)
    worker = f"[worker {os.getpid()}] " if args.worker_of else ""

    def say(text: str) -> None:
        print(f"{worker}{text}", file=sys.stderr, flush=True)

    try:
        search = Search(project, options, say=say)
    except SearchError as exc:
        return _error(exc, 2)
    if args.workers > 1 and not args.worker_of:   # K trainings share the cores, not K × all
        args.threads = max(1, (os.cpu_count() or 1) // args.workers)
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    children = _spawn(args) if args.workers > 1 and not args.worker_of else []
    caught: list[int] = []

    def on_signal(signum, frame):
        if caught:
            raise Aborted(signum)
        caught.append(signum)
        say("stopping: the trial in progress ends after its current batch (a second signal aborts)")
        for child in children:
            _signal(child, signum)
        search.stop()

    stops = [getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)]
    previous = {s: signal.signal(s, on_signal) for s in stops} if _main_thread() else {}
    try:
        search.run()
    except SearchError as exc:
        search.stop()
        for child in children:
            _signal(child, signal.SIGTERM)
        return _error(exc, 2)
    finally:
        for child in children:
            child.wait()
        for s, handler in previous.items():
            signal.signal(s, handler)
    if args.worker_of:
        return 128 + caught[0] if caught else 0
    code = _report(search.study, project, args.json)
    return 128 + caught[0] if caught else code


def _spawn(args: argparse.Namespace) -> list[subprocess.Popen]:
    """K-1 more workers: the same command on the same storage. They find their trials through
    the study, so nothing but the command line is shared."""
    argv = [sys.executable, "-m", "workbench", "search", args.project, "--worker-of", str(os.getpid())]
    for flag in ("trials", "timeout", "storage", "name", "objective", "multi", "sampler",
                 "pruner", "seed", "epochs", "device", "threads"):
        value = getattr(args, flag)
        if value is not None:
            argv += [f"--{flag}", str(value)]
    for value in args.log or []:
        argv += ["--log", value]
    return [subprocess.Popen(argv, stdout=subprocess.DEVNULL) for _ in range(args.workers - 1)]


def _signal(child: subprocess.Popen, signum: int) -> None:
    try:
        child.send_signal(signum)
    except OSError:  # it has ended
        pass


def _offline(args: argparse.Namespace, project) -> int:
    """--list and --apply: read the study, run nothing."""
    from workbench.core import project as project_file
    from workbench.core import search_space as ss
    from workbench.search import SearchError, open_study, records
    try:
        study = open_study(project, args.storage, args.name)
    except SearchError as exc:
        return _error(exc, 2)
    if study is None:
        return _error(f"{args.project}: no study named '{args.name or _stem(project)}' in "
                      f"{args.storage or Path(args.project).with_suffix('.search.journal')}", 2)
    if args.list:
        _report(study, project, args.json)
        return 0
    if not args.out:
        return _error("--apply N needs --out FILE (the project file to write)", 2)
    record = next((r for r in records(study) if r.number == args.apply), None)
    if record is None or not record.params:
        return _error(f"study '{study.study_name}' has no trial {args.apply} with values", 2)
    try:
        space = ss.of(project)
        applied = ss.apply(project, space, record.params)
    except (ss.SpaceError, ss.TrialInvalid) as exc:
        return _error(f"trial {args.apply}: {exc}", 2)
    if Path(args.out).resolve() == Path(args.project).resolve():
        return _error("--out must be a new file: the searched project stays as it is", 2)
    project_file.save(applied, args.out)
    if record.state != "complete":
        print(f"warning: trial {args.apply} is {record.state}"
              + (f" ({record.reason})" if record.reason else ""), file=sys.stderr)
    print(f"wrote {args.out}: trial {args.apply}'s values "
          + ", ".join(f"{k}={ss.describe(space.dim(k), v, project.graph)}" for k, v in record.params.items()
                      if space.dim(k) is not None))
    return 0


def _stem(project) -> str:
    from workbench.search.study import default_name
    return default_name(project)


def _report(study, project, as_json: bool) -> int:
    """The table (or JSON) and the best trial (or the Pareto front); 1 when none completed."""
    from workbench.core import search_space as ss
    from workbench.search import best, records
    objective = study.user_attrs.get("objective", "value")
    multi = study.user_attrs.get("multi")
    trials, top = records(study), best(study)
    if as_json:
        print(json.dumps({"study": study.study_name, "objective": objective, "multi": multi,
                          "directions": [d.name.lower() for d in study.directions],
                          "trials": [r.to_json() for r in trials],
                          "best": [r.number for r in top]}, indent=2))
        return 0 if top else 1
    try:
        space = ss.of(project)
    except ss.SpaceError:
        space = None
    print(table(trials, objective, multi, space, project.graph))
    if not top:
        print("\nno trial completed", file=sys.stderr)
        return 1
    print("\nPareto front (best first by the metric):" if multi else "")
    for r in top[:10]:
        values = ", ".join(f"{k}={_show(space, k, v, project.graph)}" for k, v in r.params.items())
        figure = f"{objective} {r.values[0]:.4f}" + (f", {multi} {r.values[1]:.4g}" if multi else "")
        print(f"{'  ' if multi else 'best: '}trial {r.number}  {figure}  ({values})  {r.folder}")
        if not multi:
            break
    print(f"apply it: workbench search {_quote(project.path)} --apply {top[0].number} --out FILE")
    return 0


def _show(space, key, value, graph) -> str:
    from workbench.core import search_space as ss
    dim = space.dim(key) if space is not None else None
    if dim is not None:
        return ss.describe(dim, value, graph)
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _quote(path) -> str:
    import shlex
    return shlex.quote(str(path))


def table(trials, objective: str, multi: str | None, space=None, graph=None) -> str:
    from workbench.train.verdict import aligned
    if not trials:
        return "no trials yet"
    names = list(dict.fromkeys(k for r in trials for k in r.params))
    head = ["trial", "state", objective] + ([multi] if multi else []) + names + ["time", "note"]
    rows = [head]
    for r in trials:
        values = [f"{v:.4f}" if i == 0 else f"{v:.4g}" for i, v in enumerate(r.values or [])]
        values += [""] * ((2 if multi else 1) - len(values))
        params = [_show(space, k, r.params[k], graph) if k in r.params else "" for k in names]
        note = r.reason if len(r.reason) <= 70 else r.reason[:67] + "…"
        time_s = f"{r.duration_s:.1f}s" if r.duration_s is not None else ""
        rows.append([str(r.number), r.state, *values, *params, time_s, note])
    return "\n".join(line.rstrip() for line in aligned(rows))
