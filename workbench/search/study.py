"""A search: an Optuna study whose trials are real training runs of the project.

Each trial asks Optuna for the values of the project's search space (core/search_space.py),
builds that project, checks it the way the app does (`analyse`) and trains it with the same
Trainer as `workbench train`, into `runs/search-<name>/trial-<n>/` — a normal run folder (plus
trial.json), so the Runs panel lists it and Export exports it. Per-epoch values go to the
pruner; a trial whose values make an impossible graph is *pruned with its reason*, never a
crash.

The study lives in a storage: by default a journal file beside the project
(`<project>.search.journal`, no server), or any Optuna RDB URL (postgresql://, mysql://,
sqlite:///) for workers on several machines. `--trials N` is the study's total, not this
process's: finished (complete or pruned) and running trials of every worker count, so a
resumed study does not redo finished trials and two workers sharing a storage run N between
them. A trial whose process died is found and marked failed (journal: its pid is gone;
RDB: its heartbeat stopped), and a new trial takes its place.

Ask-and-tell rather than `study.optimize`: the trainer must be stoppable from another thread
(Ctrl-C, the app's Stop) and a stopped trial must be told apart from a pruned one.
"""
from __future__ import annotations

import json
import math
import os
import socket
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from workbench.core import atomic
from workbench.core import search_space as ss
from workbench.core.project import Project

MULTI = ("params", "flops")
JOURNAL_SUFFIX = ".search.journal"
HEARTBEAT_S = 30
DRIVERS = {"postgresql": "psycopg2-binary", "mysql": "PyMySQL (and write the URL as mysql+pymysql://…)"}


class SearchError(Exception):
    """A search that cannot start; one line for the user."""


@dataclass
class Options:
    trials: int | None = None           # the study's total; None: the project's search.trials
    timeout: float | None = None        # seconds after which no new trial starts
    storage: str | None = None          # a URL or a journal file path; None: beside the project
    name: str | None = None             # the study's name; None: the project file's stem
    objective: str | None = None        # val_loss, val_accuracy, ...; None: the project's
    multi: str | None = None            # a second objective to minimise: params | flops
    sampler: str | None = None
    pruner: str | None = None
    seed: int = 0
    epochs: int | None = None           # override the project's epochs for every trial
    device: str | None = None
    log: list[str] = field(default_factory=list)   # trackers per trial: tensorboard, mlflow


@dataclass
class TrialRecord:
    """One trial as the CLI table and the Experiments panel show it."""
    number: int
    state: str                          # complete / pruned / running / failed / waiting
    values: list[float] | None
    params: dict[str, Any]
    reason: str = ""
    folder: str = ""                    # relative to the project folder
    duration_s: float | None = None
    metrics: dict = field(default_factory=dict)   # {"val": {...}, "test": {...}}
    epochs_run: int | None = None
    intermediate: dict[int, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"number": self.number, "state": self.state, "values": self.values,
                "params": self.params, "reason": self.reason, "folder": self.folder,
                "duration_s": self.duration_s, "metrics": self.metrics,
                "epochs_run": self.epochs_run}


def _optuna():
    try:
        import optuna
    except ImportError:  # pragma: no cover - a core dependency
        raise SearchError("the search needs Optuna: pip install 'optuna>=4.0'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def default_name(project: Project) -> str:
    stem = Path(project.path).stem if project.path else project.name
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in stem).strip("_") or "search"


def default_storage(project: Project) -> Path:
    if project.path is None:
        raise SearchError("save the project first: the search keeps its study beside the project file")
    return Path(project.path).with_suffix(JOURNAL_SUFFIX)


def storage_for(url: str | None, project: Project):
    """An Optuna storage from a URL, a journal file path, or None (the journal beside the
    project)."""
    optuna = _optuna()
    if url and "://" in url and not url.startswith("file://"):
        scheme = url.split("://", 1)[0].split("+", 1)[0]
        try:
            with warnings.catch_warnings():   # the heartbeat is "experimental" since Optuna 2.9
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, heartbeat_interval=HEARTBEAT_S,
                                                  grace_period=3 * HEARTBEAT_S)
        except ImportError:
            driver = DRIVERS.get(scheme, "the database's SQLAlchemy driver")
            raise SearchError(f"--storage {url}: {scheme} needs a database driver: pip install {driver}") from None
        except Exception as exc:
            raise SearchError(f"--storage {url}: cannot open it ({' '.join(str(exc).split())[:300]})") from None
    path = Path(url.removeprefix("file://")) if url else default_storage(project)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        backend = optuna.storages.journal.JournalFileBackend(
            str(path), lock_obj=optuna.storages.journal.JournalFileOpenLock(str(path)))
        return optuna.storages.JournalStorage(backend)
    except OSError as exc:
        raise SearchError(f"{path}: cannot open the study journal ({exc.strerror or exc})") from None
    except Exception as exc:
        raise SearchError(f"{path}: not a study journal Optuna can read ({' '.join(str(exc).split())[:300]})") from None


def direction(objective: str) -> str:
    from workbench.train.metrics import higher_is_better
    key = objective.split("_", 1)[1] if "_" in objective else objective
    return "maximize" if higher_is_better(key) else "minimize"


def open_study(project: Project, storage: str | None = None, name: str | None = None,
               create: bool = False, directions: list[str] | None = None):
    """The project's study (None when it does not exist and create is False)."""
    optuna = _optuna()
    store = storage_for(storage, project)
    name = name or default_name(project)
    if create:
        try:
            return optuna.create_study(storage=store, study_name=name, directions=directions,
                                       load_if_exists=True)
        except ValueError as exc:   # same name, other directions
            raise SearchError(f"study '{name}': {exc}; choose another --name") from None
    try:
        return optuna.load_study(study_name=name, storage=store)
    except KeyError:
        return None


def records(study) -> list[TrialRecord]:
    """Every trial of a study, oldest first, in plain values (no Optuna types)."""
    out = []
    for t in study.get_trials(deepcopy=False):
        attrs = t.user_attrs
        duration = attrs.get("duration_s")
        if duration is None and t.datetime_start and t.datetime_complete:
            duration = (t.datetime_complete - t.datetime_start).total_seconds()
        out.append(TrialRecord(
            t.number, t.state.name.lower().replace("fail", "failed"), list(t.values) if t.values else None,
            dict(t.params), str(attrs.get("reason", "")),
            str(attrs.get("folder", "")), duration, dict(attrs.get("metrics", {})),
            attrs.get("epochs_run"), dict(t.intermediate_values)))
    return out


def fail_orphans(study) -> list[int]:
    """Mark failed the running trials whose worker process on this machine has ended (a kill,
    a crash, a closed laptop): the journal has no heartbeat. Returns their numbers."""
    optuna = _optuna()
    host = socket.gethostname()
    failed = []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        worker = str(t.user_attrs.get("worker", ""))
        who, _, pid = worker.rpartition(":")
        if who == host and pid.isdigit() and int(pid) != os.getpid() and not atomic.pid_alive(int(pid)):
            try:
                study._storage.set_trial_user_attr(
                    t._trial_id, "reason", f"its worker (pid {pid}) ended before it finished")
                study._storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
                failed.append(t.number)
            except Exception:    # another worker failed it first
                pass
    if isinstance(study._storage, optuna.storages.RDBStorage):
        optuna.storages.fail_stale_trials(study)
    return failed


def flops(model, sample) -> int:
    """Floating-point operations of one forward pass of one sample (torch's counter)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    module = model.module if hasattr(model, "module") else model
    was = module.training
    module.eval()
    try:
        with torch.no_grad(), counter:
            module(*sample) if isinstance(sample, tuple) else module(sample)
    finally:
        module.train(was)
    return int(counter.get_total_flops())


class Search:
    """One worker of a study. `run()` blocks; `stop()` may be called from any thread (the
    trial in progress stops after its current batch and is marked failed, so a resumed
    study runs it again)."""

    def __init__(self, project: Project, options: Options | None = None,
                 on_trial: Callable[[TrialRecord], None] | None = None,
                 on_event: Callable[[int, Any], None] | None = None,
                 say: Callable[[str], None] | None = None, data=None):
        self.project = project
        self.options = o = options or Options()
        self.on_trial, self.on_event, self.say = on_trial, on_event, say or (lambda text: None)
        try:
            self.space = ss.of(project)
        except ss.SpaceError as exc:
            raise SearchError(f"{project.path or project.name}: {exc}") from None
        if not self.space.space:
            raise SearchError(f"{project.path or project.name}: nothing is marked as searched: mark a "
                              "parameter's range in the inspector or add a \"search\" space to the "
                              "project (docs/search.md)")
        found = ss.problems(self.space, project.graph)
        if found:
            raise SearchError(found[0])
        self.objective = o.objective or self.space.objective
        if not self.objective.startswith("val_"):
            raise SearchError(f"objective {self.objective!r}: a search optimises a validation figure "
                              "(val_loss, val_accuracy, val_r2, ...), never the test split")
        if o.multi is not None and o.multi not in MULTI:
            raise SearchError(f"--multi {o.multi!r}: choose one of {', '.join(MULTI)}")
        self.sampler_name = o.sampler or ("nsga2" if o.multi else self.space.sampler)
        if self.sampler_name not in ss.SAMPLERS:
            raise SearchError(f"sampler {self.sampler_name!r}: choose one of {', '.join(ss.SAMPLERS)}")
        self.pruner_name = "none" if o.multi else (o.pruner or self.space.pruner)
        if self.pruner_name not in ss.PRUNERS:
            raise SearchError(f"pruner {self.pruner_name!r}: choose one of {', '.join(ss.PRUNERS)}")
        self.total = o.trials or self.space.trials
        if self.total < 1:
            raise SearchError("--trials must be at least 1")
        self.name = o.name or default_name(project)
        self.data = data if data is not None else self._prepare()
        if self.data.val is None or int(self.data.val.y.shape[0]) == 0:
            raise SearchError("the search needs a validation split to compare trials: set a "
                              "validation fraction in the data settings")
        metric = self.objective.removeprefix("val_")
        from workbench.train import metrics as metric_fns
        if metric not in ("loss", *metric_fns.names(self.data.task)):
            raise SearchError(f"objective {self.objective!r} is not measured for {self.data.task}; "
                              "choose val_loss or " + ", ".join(f"val_{m}" for m in metric_fns.names(self.data.task)))
        self.metric = metric
        self.directions = [direction(self.objective)] + (["minimize"] if o.multi else [])
        self.study = open_study(project, o.storage, self.name, create=True, directions=self.directions)
        if [d.name.lower() for d in self.study.directions] != self.directions:
            raise SearchError(f"study '{self.name}' optimises {[d.name.lower() for d in self.study.directions]}, "
                              f"not {self.directions}: choose another --name")
        self.study.set_user_attr("objective", self.objective)
        self.root = self._runs_folder()
        if o.multi:
            self.study.set_user_attr("multi", o.multi)
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()
        self._trainer = None
        self._lock = threading.Lock()
        self.interrupted = False

    def _runs_folder(self) -> Path:
        """`runs/search-<name>/`, named in the study so that resumes and other workers write
        beside it; a new study whose folder holds an older study's trials (its journal was
        deleted) gets `search-<name>-2/`, and so on, rather than refusing every trial."""
        kept = self.study.user_attrs.get("runs")
        if isinstance(kept, str) and kept and ".." not in Path(kept).parts and not Path(kept).is_absolute():
            return self.project.folder / kept
        base = self.project.folder / "runs"
        root, i = base / f"search-{self.name}", 2
        while root.exists() and any(root.iterdir()):
            root, i = base / f"search-{self.name}-{i}", i + 1
        self.study.set_user_attr("runs", root.relative_to(self.project.folder).as_posix())
        return root

    def _prepare(self):
        from workbench.data import DataError, DataSettings, prepare
        if not self.project.data.get("path"):
            raise SearchError(f"{self.project.path or self.project.name}: the project names no data file")
        try:
            return prepare(DataSettings.from_dict(self.project.data), self.project.folder)
        except DataError as exc:
            raise SearchError(str(exc)) from None

    # -- control -----------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            if self._trainer is not None:
                self._trainer.stop()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> list[TrialRecord]:
        """Run trials until the study has its total, the timeout passes or stop() is called.
        Returns the trials this worker ran."""
        optuna = _optuna()
        done: list[TrialRecord] = []
        t0 = time.monotonic()
        orphans = fail_orphans(self.study)
        if orphans:
            self.say(f"trials {', '.join(map(str, orphans))} were left running by a worker that "
                     "ended; marked failed, they will be run again")
        self._baseline()
        while not self._stop.is_set():
            if self.options.timeout is not None and time.monotonic() - t0 >= self.options.timeout:
                self.say(f"timeout: {self.options.timeout:g} s passed, no new trial started")
                break
            fail_orphans(self.study)
            if self._counted() >= self.total:
                break
            # the trial carries its worker from the moment it runs: a kill between ask() and
            # a later set_user_attr would leave a running trial nobody could tell was orphaned
            if not self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)):
                self.study.enqueue_trial({}, user_attrs={"worker": self.worker})
            trial = self.study.ask()
            if self._counted(before=trial.number) >= self.total:   # another worker took the last
                trial.set_user_attr("reason", "not needed: the study had its trials")
                self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
                break
            record = self._trial(trial)
            done.append(record)
            if self.on_trial is not None:
                self.on_trial(record)
        return done

    def _counted(self, before: int | None = None) -> int:
        """Trials that count towards the total: finished ones and those running elsewhere."""
        optuna = _optuna()
        states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED,
                  optuna.trial.TrialState.RUNNING)
        trials = self.study.get_trials(deepcopy=False, states=states)
        return sum(1 for t in trials if before is None or t.number < before)

    def _baseline(self) -> None:
        """The project as drawn is the first trial of a new study: the search starts from the
        user's own model, and its result is the figure every other trial is measured against."""
        if self.study.get_trials(deepcopy=False):
            return
        values = ss.current(self.space, self.project)
        if values is None:
            self.say("the project's own values lie outside the searched ranges: no baseline trial")
            return
        self.study.enqueue_trial(values, user_attrs={"baseline": True, "worker": self.worker}, skip_if_exists=True)

    def _sampler(self, number: int):
        """A sampler seeded by the trial's number: reproducible for one worker, and two workers
        sharing a study never draw the same random start-up values."""
        optuna = _optuna()
        seed = self.options.seed * 100_003 + number
        startup = max(3, min(10, self.total // 3))
        if self.sampler_name == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if self.sampler_name == "qmc":
            return optuna.samplers.QMCSampler(seed=self.options.seed, scramble=True)
        if self.sampler_name == "nsga2":
            return optuna.samplers.NSGAIISampler(seed=seed, population_size=max(4, min(50, self.total // 2)))
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, constant_liar=True)

    def _pruner(self):
        optuna = _optuna()
        if self.pruner_name == "hyperband":
            return optuna.pruners.HyperbandPruner(min_resource=1)
        if self.pruner_name == "median":
            return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2)
        return optuna.pruners.NopPruner()

    def _suggest(self, trial) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for d in self.space.space:
            if d.kind == "float":
                values[d.name] = trial.suggest_float(d.name, d.low, d.high, log=d.log, step=d.step)
            elif d.kind in ("int", "repeat"):
                values[d.name] = trial.suggest_int(d.name, int(d.low), int(d.high),
                                                   step=int(d.step or 1), log=d.log)
            elif d.kind in ("choice", "type"):
                values[d.name] = trial.suggest_categorical(d.name, d.choices)
            elif d.kind == "branch":
                values[d.name] = trial.suggest_categorical(d.name, list(range(len(d.options))))
        return values

    def _trial(self, trial) -> TrialRecord:
        optuna = _optuna()
        TrialState = optuna.trial.TrialState
        self.study.sampler = self._sampler(trial.number)
        self.study.pruner = self._pruner()
        trial.set_user_attr("worker", self.worker)
        t0 = time.monotonic()
        values = self._suggest(trial)
        text = ", ".join(f"{k}={ss.describe(self.space.dim(k), v, self.project.graph)}" for k, v in values.items())
        self.say(f"trial {trial.number}: {text}")

        def finish(state, reason: str = "", result=None, value=None) -> TrialRecord:
            attrs = {"reason": reason, "duration_s": round(time.monotonic() - t0, 3)}
            if result is not None:
                attrs["metrics"] = {k: _scalars(result.summary.get(k)) for k in ("val", "test")}
                attrs["epochs_run"] = result.summary.get("epochs_run")
                if result.folder is not None:
                    attrs["folder"] = os.path.relpath(result.folder, self.project.folder)
            for key, v in attrs.items():
                trial.set_user_attr(key, _plain(v))
            self.study.tell(trial, value, state=state) if state == TrialState.COMPLETE \
                else self.study.tell(trial, state=state)
            record = next(r for r in records(self.study) if r.number == trial.number)
            if result is not None and result.folder is not None:
                _write_trial_json(result.folder, self.name, record)
            word = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned",
                    TrialState.FAIL: "failed"}[state]
            figure = f" {self.objective} {value if not isinstance(value, list) else value[0]:.4f}" \
                if state == TrialState.COMPLETE else ""
            self.say(f"trial {trial.number} {word}{figure}{': ' + reason if reason else ''}")
            return record

        try:
            candidate = ss.apply(self.project, self.space, values)
        except ss.TrialInvalid as exc:
            return finish(TrialState.PRUNED, f"invalid values: {exc}")
        candidate.path = self.project.path
        if self.options.epochs is not None:
            candidate.training["epochs"] = self.options.epochs
        why = self._cannot_train(candidate)
        if why:
            return finish(TrialState.PRUNED, why)
        from workbench.train.trainer import Trainer, TrainingError
        pruned: list[str] = []
        heartbeat = [time.monotonic()]

        def on_event(e) -> None:
            if self.on_event is not None:
                self.on_event(trial.number, e)
            if isinstance(self.study._storage, optuna.storages.RDBStorage) and \
                    time.monotonic() - heartbeat[0] > HEARTBEAT_S / 2:
                self.study._storage.record_heartbeat(trial._trial_id)
                heartbeat[0] = time.monotonic()
            if e.kind != "epoch" or len(self.directions) > 1 or pruned:
                return
            value = e.val_loss if self.metric == "loss" else (e.metrics.get("val") or {}).get(self.metric)
            if value is None or not math.isfinite(value):
                return
            trial.report(float(value), e.epoch)
            if trial.should_prune():
                pruned.append(f"stopped after epoch {e.epoch} by the {self.pruner_name} pruner: "
                              f"{self.objective} {value:.4f} is behind the other trials at that epoch")
                self._trainer.stop()

        from workbench.export.trackers import make_trackers
        from workbench.train.tracking import TrackingError
        try:
            trackers = make_trackers(self.options.log, self.project.path,
                                     hparams={f"search/{k}": v for k, v in values.items()})
        except TrackingError as exc:
            raise SearchError(str(exc)) from None
        try:
            trainer = Trainer(candidate, self.data, run_dir=self.root / f"trial-{trial.number}",
                              callbacks=[on_event, *trackers], device=self.options.device, overwrite=False)
        except TrainingError as exc:
            return finish(TrialState.PRUNED, str(exc))
        with self._lock:
            self._trainer = trainer
        if self._stop.is_set():
            trainer.stop()
        try:
            result = trainer.run()
        finally:
            with self._lock:
                self._trainer = None
            for tracker in trackers:
                tracker.close()
                for warning in tracker.warnings:
                    self.say(f"trial {trial.number}: warning: {warning}")
        if pruned:
            return finish(TrialState.PRUNED, pruned[0], result)
        if self._stop.is_set():
            self.interrupted = True
            return finish(TrialState.FAIL, "interrupted: it runs again when the study resumes", result)
        if result.status == "failed":
            return finish(TrialState.PRUNED, result.message, result)
        value = (result.summary.get("val") or {}).get(self.metric)
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return finish(TrialState.PRUNED, f"no finite {self.objective} at the end", result)
        values_out: Any = float(value)
        if self.options.multi == "params":
            values_out = [float(value), float(sum(p.numel() for p in result.model.module.parameters()))]
        elif self.options.multi == "flops":
            xs = getattr(self.data.train, "xs", None) or (self.data.train.x,)
            if all(hasattr(x, "cpu") for x in xs):
                sample = tuple(x[:1].cpu() for x in xs)
            else:  # streamed images: any sample of the right shape counts the same
                sample = result.model.example_inputs(1)
            values_out = [float(value), float(flops(result.model, sample))]
        return finish(TrialState.COMPLETE, "", result, values_out)

    def _cannot_train(self, candidate: Project) -> str:
        """Why the trial's graph cannot be trained (the app's first error, naming its node)."""
        from workbench.core.analysis import analyse
        try:
            if hasattr(self.data, "bind"):
                self.data.bind(candidate.graph)
            analysis = analyse(candidate.graph, candidate.training)
        except Exception as exc:   # a graph the analysis cannot even walk
            return f"the graph cannot be analysed: {' '.join(str(exc).split())[:300]}"
        errors = analysis.errors
        if not errors:
            return ""
        first = errors[0]
        node = candidate.graph.nodes.get(first.node_id) if first.node_id else None
        where = f"{node.label()}: " if node is not None and node.label() not in first.message else ""
        return f"{where}{first.message}"


def _scalars(split) -> dict:
    """A split's figures without its per-class tables and confusion matrix (the run folder
    keeps those; the study keeps what its table shows)."""
    return {k: v for k, v in (split or {}).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _plain(value):
    """User attributes must be JSON: NaN/Inf become None."""
    return json.loads(json.dumps(value, default=str).replace("NaN", "null").replace("Infinity", "null"))


def _write_trial_json(folder: Path, study: str, record: TrialRecord) -> None:
    doc = {"study": study, "number": record.number, "params": record.params,
           "values": record.values, "state": record.state, "reason": record.reason}
    atomic.write_text(Path(folder) / "trial.json", json.dumps(_plain(doc), indent=2) + "\n")


def importance(study) -> dict[str, float]:
    """How much each searched value explained the objective (Optuna's default, PED-ANOVA),
    largest first; empty until two trials with different values have finished."""
    optuna = _optuna()
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if len(complete) < 2 or len(study.directions) > 1:
        return {}
    try:
        return dict(optuna.importance.get_param_importances(study))
    except (RuntimeError, ValueError, ZeroDivisionError):   # every trial drew the same values
        return {}


def best(study) -> list[TrialRecord]:
    """The best trial (one objective) or the Pareto front (two), best first."""
    optuna = _optuna()
    complete = [r for r in records(study) if r.state == "complete"]
    if not complete:
        return []
    if len(study.directions) > 1:
        front = {t.number for t in study.best_trials}
        complete = [r for r in complete if r.number in front]
    sign = -1 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else 1
    return sorted(complete, key=lambda r: (sign * r.values[0], r.number))
