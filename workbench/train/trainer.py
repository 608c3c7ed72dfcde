"""The training loop: a compiled project learns from prepared data.

`Trainer(project, data, ...).run()` blocks until the run ends (the app calls it from a worker
thread; `pause`, `resume` and `stop` may be called from any other thread and take effect
within one batch). Progress goes to callbacks as `Event`s at a bounded rate and to the run
folder (see runs.py).

The hot loop is kept as lean as a hand-written one (bench/train_overhead.py checks it):
per step it does forward, loss, backward, optimizer step, and writes the loss into a
preallocated device buffer. Values are read from the device only when an event is due
(≤ 20/s) and at epoch ends, so an accelerator is never synchronised every step. On the CPU,
reading a scalar costs ~0.2 µs and no synchronisation, so there the NaN guard looks at every
step's loss before the optimizer applies it and names the exact step and node; on an
accelerator it looks at the buffered losses whenever values are read anyway.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import torch

from workbench.core import atomic
from workbench.core import project as project_file
from workbench.core import weights as project_weights
from workbench.core.compile import CompiledModel, compile_model, identifier, training_plan
from workbench.core.spec import OPTIMIZER_ROLE
from workbench.core.training_settings import TrainingSettings, TrainingSettingsError
from workbench.train import device as devices
from workbench.train import insight
from workbench.train import metrics as metric_fns
from workbench.train import runs
from workbench.train.checkpoint import CheckpointError, load_checkpoint
from workbench.train.checkpointer import Checkpointer
from workbench.train.distributed_session import session_for
from workbench.train.events import Callback, Event, EventGate

STATUSES = ("completed", "early_stopped", "stopped", "failed")


class TrainingError(Exception):
    """Training cannot start or cannot go on; the message is one line for the user."""


class NonFiniteError(TrainingError):
    """The loss or a gradient became NaN/Inf; names the step and the node."""


@dataclass
class RunResult:
    status: str                          # one of STATUSES
    summary: dict                        # as written to summary.json
    folder: Path | None
    model: CompiledModel | None          # best weights if restore_best, else the last good ones
    epochs_run: int = 0                  # epoch counter at the end (continues across resumes)
    best_epoch: int = 0
    message: str = ""
    history: list[dict] = field(default_factory=list)  # one dict per epoch event

    @property
    def ok(self) -> bool:
        return self.status in ("completed", "early_stopped", "stopped")


@dataclass
class _EarlyStop:
    """Patience bookkeeping on one monitored metric (Keras' rule: better by more than min_delta),
    with ties broken by the validation loss.

    Accuracy on a few dozen validation rows saturates (1.0 after one epoch on wine): without
    the tie-break nothing could improve after that, training stopped at epoch 1+patience and
    kept the epoch-1 weights. An equal metric with a lower loss counts as an improvement."""
    metric: str
    patience: int
    min_delta: float
    higher: bool
    tie_break: bool = False              # break ties by the loss (off when the loss is the metric)
    best: float | None = None
    best_epoch: int = 0
    wait: int = 0
    best_loss: float | None = None
    by_loss: bool = False                # the best epoch won a tie on the loss

    def improved(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        return value > self.best + self.min_delta if self.higher else value < self.best - self.min_delta

    def ties(self, value: float, loss: float | None) -> bool:
        """At least as good as the best (within min_delta, never worse) and a lower loss."""
        if not (self.tie_break and self.best is not None and math.isfinite(value)):
            return False
        as_good = value >= self.best if self.higher else value <= self.best
        lower = (loss is not None and math.isfinite(loss)
                 and (self.best_loss is None or loss < self.best_loss))
        return as_good and lower

    def update(self, value: float, epoch: int, loss: float | None = None) -> bool:
        """True when this epoch is the new best."""
        better, tie = self.improved(value), self.ties(value, loss)
        if better or tie:
            self.by_loss = tie and not better
            self.best, self.best_epoch, self.wait = value, epoch, 0
            self.best_loss = loss
            return True
        self.wait += 1
        return False

    def rule(self) -> str:
        """How the best epoch was chosen, for the summary and the final line."""
        word = "highest" if self.higher else "lowest"
        text = f"{word} {self.metric}"
        if self.tie_break:
            text += ", ties broken by the lower val_loss"
        return text

    def reason(self) -> str:
        """Why the kept epoch won, in a few words."""
        if self.best is None:
            return ""
        text = f"{self.metric} {self.best:.4f}"
        if self.by_loss and self.best_loss is not None:
            text += f" tied, won on val_loss {self.best_loss:.4f}"
        return text

    def state(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "best_loss": self.best_loss, "by_loss": self.by_loss}


class Trainer:
    """Runs `project`'s training plan on `data` (a workbench.data.PreparedData).

    Keyword overrides (None = the project's training settings): epochs, batch_size, lr, device,
    precision, seed, grad_clip, early_stopping (a dict merged into the project's).
    callbacks get every Event; one with a `bind(trainer)` method is bound to this trainer first.
    run_dir: the run folder (default `<project folder>/runs/<timestamp>/`); save=False writes
    nothing (benchmarks, quick experiments). resume=True continues the run in run_dir.
    A run_dir that already holds files is refused (results are never mixed or overwritten);
    overwrite=True deletes an earlier run there first (only a folder that is a run folder).
    """

    def __init__(self, project: project_file.Project, data, *, epochs: int | None = None,
                 batch_size: int | None = None, lr: float | None = None, device: str | None = None,
                 precision: str | None = None, seed: int | None = None, grad_clip: float | None = None,
                 early_stopping: dict | None = None, run_dir: str | Path | None = None,
                 resume: bool = False, save: bool = True, callbacks: Iterable[Callback] = (),
                 event_rate: float = 20.0, checkpoint_every_s: float = 2.0, distributed=None,
                 overwrite: bool = False):
        self.project = project.copy()
        training = self.project.training
        for key, value in (("epochs", epochs), ("batch_size", batch_size), ("device", device),
                           ("precision", precision), ("seed", seed), ("grad_clip", grad_clip)):
            if value is not None:
                training[key] = value
        if isinstance(training.get("early_stopping", {}), dict):  # else refused just below
            training["early_stopping"] = {**project_file.default_training()["early_stopping"],
                                          **training.get("early_stopping", {}), **(early_stopping or {})}
        try:
            self.settings = TrainingSettings.from_dict(training)
        except TrainingSettingsError as exc:
            raise TrainingError(str(exc)) from None
        if lr is not None:
            opt = self._optimizer_node()
            try:
                self.project.graph.set_param(opt.id, "lr", float(lr))
            except Exception as exc:
                raise TrainingError(f"learning rate {lr!r}: {exc}") from None
        # The project's own weights (an import, a kept run) are where training starts; read
        # here so a missing or changed file is refused before anything runs. A resumed run
        # starts from its checkpoint instead.
        self.start_weights = None
        if not resume:
            try:
                self.start_weights = project_weights.load(self.project)
            except project_weights.WeightsError as exc:
                raise TrainingError(str(exc)) from None
        self.from_project_weights = self.start_weights is not None
        self.data = data
        self.callbacks = list(callbacks)
        for callback in self.callbacks:  # trackers (tracking.py) read the run folder from the trainer
            bind = getattr(callback, "bind", None)
            if bind is not None:
                bind(self)
        self.run_dir = Path(run_dir) if run_dir else None
        self.resume_run = resume
        # distributed: a workbench.train.distributed.Context (torchrun + DDP); only rank 0 writes
        self.session = session_for(distributed)
        self.save = save and self.session.is_main
        if resume and not self.run_dir:
            raise TrainingError("resuming needs the run folder to continue")
        self.overwrite = False
        if save and not resume and self.run_dir is not None:
            try:
                self.overwrite = runs.check_new_run_folder(self.run_dir, overwrite)
            except CheckpointError as exc:
                raise TrainingError(str(exc)) from None
        self.gate = EventGate(event_rate)
        self.gate_rate = event_rate
        self.checkpoint_every_s = checkpoint_every_s
        self._go = threading.Event()
        self._go.set()
        self._stop = threading.Event()
        self.model: CompiledModel | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.device: torch.device | None = None

    # -- control from other threads -------------------------------------------------------

    def pause(self) -> None:
        self._go.clear()

    def resume(self) -> None:
        self._go.set()

    def stop(self) -> None:
        self.session.request_stop(self._stop, self._go)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> RunResult:
        self._log = None
        self.history: list[dict] = []
        self.t0 = time.monotonic()
        try:
            return self._run()
        except (TrainingError, CheckpointError) as exc:
            return self._fail(str(exc))
        except OSError as exc:  # a full disk, a folder that cannot be written
            where = f"{exc.filename}: " if exc.filename else ""
            return self._fail(f"{where}{exc.strerror or exc}")
        except Exception as exc:  # a bug or a runtime shape/type error: still one line for the user
            text = " ".join(str(exc).split()) or type(exc).__name__
            return self._fail(self.session.explain(exc) or f"{type(exc).__name__}: {text[:500]}")
        except BaseException as exc:  # SIGTERM / a second Ctrl-C in a distributed run
            message = self.session.abandoned(exc)
            if message:
                self._abandon(message)
            raise
        finally:
            if self._log is not None:
                self._log.close()
            self.train_module = getattr(self, "module", None)  # drop a DDP wrapper, then
            self.session.release()

    def _optimizer_node(self):
        g = self.project.graph
        node = next((n for n in g.nodes.values() if n.spec and n.spec.role == OPTIMIZER_ROLE), None)
        if node is None:
            raise TrainingError("the graph has no optimizer: connect the loss to one (e.g. Adam)")
        return node

    def _setup(self) -> None:
        from workbench.core.compile import CompileError
        t = self.settings
        self.device = self.session.device(t.device)
        self.amp_dtype = devices.autocast_dtype(self.device, t.precision)
        unknown = [n for n in self.project.graph.nodes.values() if n.spec is None]
        if unknown:
            raise TrainingError(f"node '{unknown[0].title}' has an unknown type '{unknown[0].type}' "
                                f"(is the plugin that provides it installed?)")
        if hasattr(self.data, "bind"):
            self.data.bind(self.project.graph)
        self._check_fits()
        try:
            self.model = compile_model(self.project.graph, seed=t.seed, class_name=self.project.name)
            self.plan = training_plan(self.project.graph)
        except CompileError as exc:
            raise TrainingError(f"the graph cannot be trained: {exc}") from None
        if not self.plan.losses:
            raise TrainingError("the graph has no loss: connect an Output and the Target to a loss")
        self.weight_notes = []
        if self.start_weights is not None:
            self.weight_notes = (project_weights.apply(self.model, self.project.graph, self.start_weights)
                                 + project_weights.unstored(self.model, self.project.graph,
                                                            self.start_weights))
            self.start_weights = None   # copied into the model: not held for the whole run
        self._freeze()
        self.data = self._arranged(self.data)
        self.module = self.model.module.to(self.device)
        self.data = self.data.to(self.device) or self.data
        self.task = self.data.task
        self.num_classes = len(self.data.classes or []) if self.task == "classification" else 0
        term = self.plan.losses[0]
        self.metric_output, self.metric_target = term.output, term.target
        self.class_weights = self._balance_classes()
        self.epochs, self.batch_size = t.epochs, t.batch_size
        self.train_rows = int(self.data.train.y.shape[0])
        if self.train_rows == 0:
            raise TrainingError("the training split is empty")
        self.all_train_rows = self.train_rows
        self.train_rows = self.session.shard_rows(self.train_rows)  # this process' rows per epoch
        self.steps_per_epoch = math.ceil(self.train_rows / self.batch_size)
        self.grad_clip = t.grad_clip
        es = t.early_stopping
        has_val = self.data.val is not None and int(self.data.val.y.shape[0]) > 0
        metric = es.metric
        key = metric.removeprefix("val_")
        if key not in ("loss", *metric_fns.names(self.task)):
            raise TrainingError(f"early stopping metric '{metric}' is not measured for {self.task}; "
                                f"choose one of: val_loss, "
                                + ", ".join(f"val_{m}" for m in metric_fns.names(self.task)))
        self.monitor = key if has_val else "loss"
        self.monitor_split = "val" if has_val else "train"
        self.early = _EarlyStop(metric if has_val else "train_loss", es.patience, es.min_delta,
                                metric_fns.higher_is_better(self.monitor),
                                tie_break=has_val and self.monitor != "loss")
        self.early_enabled, self.restore_best = es.enabled, es.restore_best

        self.optimizer = self.plan.make_optimizer(self.module)
        self.scheduler = self.plan.make_scheduler(self.optimizer, self.epochs, self.steps_per_epoch)
        self.scaler = (torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None)
        seed, offset = t.seed, self.session.seed_offset  # own dropout/noise per process
        torch.manual_seed(seed + offset)  # dropout and other layers that draw from the global generator
        self.shuffle_gen = torch.Generator().manual_seed(seed)  # the same on every rank
        self.augment_gen = torch.Generator(device=self.device).manual_seed(seed + 1 + offset)
        from workbench.data import DataSettings
        self.data_settings = DataSettings.from_dict(self.project.data) if self.project.data else None
        aug = self.data_settings.augment if self.data_settings else {}
        self.augmenting = any(float(v or 0) > 0 for v in aug.values())
        self.input_kinds = [i.kind for i in getattr(self.data, "inputs", None) or []] or None
        workers = self.data_settings.image["workers"] if self.data_settings else 0
        self.loader = {"workers": workers, "pin": self.device.type == "cuda"}
        self.params = [p for p in self.module.parameters() if p.requires_grad]
        self.train_module = self.module   # wrapped by the session in _run (DDP in distributed runs)
        # hooks go on the plain module's layers: a DDP wrapper calls it, so they fire there too
        self.probe = insight.ActivationProbe(self.module, self.model.submodules, self.project.graph,
                                             rate=self.gate_rate)
        self.non_blocking = self.device.type == "cuda"
        self.check_each_step = self.device.type == "cpu"
        self.epoch, self.step = 0, 0
        self.checkpoints = Checkpointer(None, self.checkpoint_every_s)  # its folder: _prepare_folder

    def _arranged(self, data):
        """The data's inputs in the model's input order (several Inputs are fed by name)."""
        if not hasattr(data, "arranged"):
            return data
        from workbench.core.spec import INPUT
        from workbench.data import DataError

        by_id = {identifier(n.params.get("name", "")): n for n in self.project.graph.nodes.values()
                 if n.spec and n.spec.role == INPUT}
        names = [str(by_id[name].params.get("name", "")) if name in by_id else name
                 for name in self.model.input_names]
        try:
            return data.arranged(names)
        except DataError as exc:
            raise TrainingError(str(exc)) from None

    def _freeze(self) -> None:
        """Frozen nodes (trainable false) keep their weights: no gradient, so the optimizer
        (which takes only parameters that require one) never sees them."""
        graph, subs = self.project.graph, self.model.submodules
        self.frozen_subs = [self.model.module.get_submodule(sub) for nid, sub in subs.items()
                            if nid in graph.nodes and not graph.nodes[nid].trainable]
        for module in self.frozen_subs:
            module.requires_grad_(False)
        every = list(self.model.module.parameters())
        self.param_count = sum(p.numel() for p in every)
        self.frozen_count = sum(p.numel() for p in every if not p.requires_grad)
        if self.frozen_subs and self.param_count and self.frozen_count == self.param_count:
            raise TrainingError("every node is frozen: nothing to train")

    def _frozen_eval(self) -> None:
        """BatchNorm and Dropout inside a frozen node behave as at inference: its running
        statistics are part of the weights it keeps."""
        for module in self.frozen_subs:
            module.eval()

    def _check_fits(self) -> None:
        """Refuse a graph that cannot be trained, or whose training cannot fit in memory, before
        compile_model allocates its weights: the estimate (weights, gradients, optimizer
        moments, activations of a real batch) names the biggest node and the figures. On a GPU
        the device's free memory is the limit."""
        from workbench.core.analysis import analyse
        rows = self.session.shard_rows(int(self.data.train.y.shape[0]))
        batch = max(1, min(self.settings.batch_size, rows))  # a batch is never more than the split
        analysis = analyse(self.project.graph, self.project.training, batch_size=batch,
                           free_memory=devices.free_memory(self.device))
        if analysis.errors:
            first = [p for p in analysis.errors if not p.training] or analysis.errors
            raise TrainingError("the graph cannot be trained: " + "; ".join(p.message for p in first))

    def _prepare_folder(self) -> None:
        if not self.save:
            self.folder = None
            if self.session.distributed and self.resume_run:  # ranks > 0 read rank 0's run folder
                self._restore(self.run_dir, rewrite_log=False)
            return
        if self.resume_run:
            self.folder = self.run_dir
            self._restore(self.folder)
        else:
            self.folder = self.run_dir or runs.new_run_folder(self.project)
            if self.overwrite:
                runs.clear_run_folder(self.folder)
            self.folder.mkdir(parents=True, exist_ok=True)
            trained = self.project.copy()
            trained.extra.pop("weights", None)  # the run's checkpoints are its weights
            project_file.save(trained, self.folder / "project.wbproj")
            runs.write_origin(self.folder, self.project.path)
        self.checkpoints.folder = self.folder
        self._log = runs.EventLog(self.folder)

    def _restore(self, folder: Path, rewrite_log: bool = True) -> None:
        """Continue a run: weights, optimizer, schedule, early stopping, generators, epoch."""
        state_dict, meta = load_checkpoint(folder, "last")
        state = runs.load_state(folder)
        self.module.load_state_dict(state_dict)
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state.get("scaler") is not None:
            self.scaler.load_state_dict(state["scaler"])
        es = state.get("early_stopping", {})
        self.early.best, self.early.best_epoch, self.early.wait = es.get("best"), es.get("best_epoch", 0), es.get("wait", 0)
        self.early.best_loss, self.early.by_loss = es.get("best_loss"), bool(es.get("by_loss", False))
        torch.set_rng_state(state["rng"]["torch"])
        self.shuffle_gen.set_state(state["rng"]["shuffle"])
        if self.device.type == "cpu":
            self.augment_gen.set_state(state["rng"]["augment"])
        self.epoch, self.step = int(meta["epoch"]), int(meta.get("step", 0))
        self.checkpoints.restored(folder, self.epoch)
        events = runs.read_event_lines(folder)
        self.history = [e for _, e in events if e.get("kind") == "epoch" and e.get("epoch", 0) <= self.epoch]
        if not rewrite_log:
            return
        # Events of an epoch that never finished (a stop or crash mid-epoch) are dropped, so
        # the appended curve continues from the checkpoint without a jump.
        # Lines that are not JSON events (garbage, a cut-off last line) are dropped too.
        kept = [line for line, e in events if e.get("epoch", 0) <= self.epoch]
        atomic.write_bytes(folder / "metrics.jsonl", b"".join(line + b"\n" for line in kept))

    def _run(self) -> RunResult:
        self._setup()
        self._prepare_folder()
        total_params = sum(p.numel() for p in self.params)
        counts = f"{total_params:,} parameters"
        if self.frozen_count:
            counts = (f"{total_params:,} parameters to train ({self.frozen_count:,} of "
                      f"{self.param_count:,} parameters frozen)")
        if self.from_project_weights:
            counts += ", from the project's weights"
        notes = "".join(f"\nwarning: {note}" for note in self.weight_notes)
        precision = self.settings.precision
        note = "" if self.amp_dtype or precision == "fp32" else f" ({precision} runs as fp32 off CUDA)"
        self.train_module = self.session.wrap(self.module, self.device)
        where, batch = self.session.describe(self.device, self.batch_size)
        first = self.epoch + 1
        self._emit(Event("start", epoch=self.epoch, epochs=self.epochs, step=self.step,
                         steps=self.epochs * self.steps_per_epoch, lr=self._lr(),
                         message=(f"{'resuming at' if self.resume_run else 'training'} epoch {first}/"
                                  f"{self.epochs} on {where}{note}: {counts}, "
                                  f"{self.all_train_rows:,} training rows, batch "
                                  f"{batch}{notes}")))
        status, message = "completed", ""
        self.first_epoch, self.t_loop = first, time.monotonic()
        try:
            for epoch in range(first, self.epochs + 1):
                self.epoch_index = epoch
                if not self._train_epoch(epoch):
                    status, message = "stopped", f"stopped by request during epoch {epoch}"
                    break
                self.epoch = epoch
                stop_early = self._end_epoch(epoch)
                if self.session.agree_stop(self._stop):
                    status, message = "stopped", f"stopped by request after epoch {epoch}"
                    break
                if stop_early:
                    status = "early_stopped"
                    tie = " (nor tied with a lower val_loss)" if self.early.tie_break else ""
                    message = (f"early stop after epoch {epoch}: {self.early.metric} did not improve{tie} "
                               f"for {self.early.patience} epochs (best at epoch {self.early.best_epoch})")
                    break
        except NonFiniteError as exc:
            status, message = "failed", str(exc)
            self._emit(Event("error", epoch=self.epoch_index, epochs=self.epochs, step=self.step,
                             message=message))
        if status == "stopped":
            self._emit(Event("stopped", epoch=self.epoch, epochs=self.epochs, step=self.step, message=message))
        return self._finish(status, message)

    # -- one epoch ------------------------------------------------------------------------

    def _train_epoch(self, epoch: int) -> bool:
        """Train one epoch; False when stopped by request (the epoch is then incomplete)."""
        from workbench.data.batching import augment, call, to_device
        module, opt = self.train_module, self.optimizer
        compute_loss = self._loss_function()
        autocast = devices.autocast(self.device, self.amp_dtype)
        nb = self.non_blocking
        train = self.data.train  # data normally lives on the device already
        move = (train.device if hasattr(train, "device") else train.x.device) != self.device
        scaler, clip, params = self.scaler, self.grad_clip, self.params
        check, gate, stop, go = self.check_each_step, self.gate, self._stop, self._go
        per_batch_schedule = self.scheduler is not None and self.plan.schedule_step == "batch"
        losses = torch.zeros(self.steps_per_epoch, device=self.device)  # (steps,) filled without a sync
        probe, last = self.probe, self.steps_per_epoch - 1  # activation statistics: sampled steps only
        self.window = (time.monotonic(), 0)  # (since, samples) for samples/s
        self.paused_s, started = 0.0, time.monotonic()
        i = -1
        module.train()
        self._frozen_eval()
        epoch_batches = self.session.epoch_batches(self.data.train, self.batch_size, self.shuffle_gen, stop,
                                                   **self.loader)
        for i, (x, y) in enumerate(epoch_batches):
            if stop.is_set() or not go.is_set():
                if not self._hold(epoch):
                    return False
            if move:
                x, y = to_device(x, self.device, nb), y.to(self.device, non_blocking=nb)
            if self.augmenting:
                x = augment(x, self.data_settings, self.augment_gen, self.input_kinds)
            due = gate.due()  # an event after this step: sample its activations (≤ 20/s)
            sample = (due or i == last) and probe.due()
            if sample:  # hooks for this one forward pass only
                probe.install()
                try:
                    with autocast:
                        loss = compute_loss(call(module, x), y)
                finally:
                    probe.remove()
            else:
                with autocast:
                    loss = compute_loss(call(module, x), y)
            losses[i] = loss.detach()
            if check and not math.isfinite(loss.item()):
                raise self._non_finite(epoch, i, x, y, "loss")
            opt.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                if clip:
                    scaler.unscale_(opt)
            else:
                loss.backward()
            if clip:
                norm = torch.nn.utils.clip_grad_norm_(params, clip)
                if check and not math.isfinite(norm.item()):
                    raise self._non_finite(epoch, i, x, y, "gradient")
            if scaler is not None:
                scaler.step(opt)
                scaler.update()
            else:
                opt.step()
            if per_batch_schedule:
                self.scheduler.step()
            self.step += 1
            if due:
                self._step_event(epoch, i, losses, x, y)
        self.epoch_losses, self.epoch_done = losses, i + 1
        self.epoch_train_s = time.monotonic() - started - self.paused_s
        return True

    def _abandon(self, message: str) -> None:
        """A distributed run killed from outside: keep the newest finished epoch, say why."""
        import contextlib
        with contextlib.suppress(Exception):
            self.checkpoints.flush()
        with contextlib.suppress(Exception):
            self._fail(message)

    def _loss_function(self):
        """(model output, y) -> loss. One unweighted term without L1 (the usual graph) calls the
        loss module directly: the plan's general sum would add two tensor ops per step."""
        plan, names, target, module = self.plan, self.model.output_names, self.metric_target, self.module
        if len(plan.losses) == 1 and plan.losses[0].weight == 1.0 and not plan.l1 and len(names) == 1:
            return plan.losses[0].fn
        single = len(names) == 1

        def general(out, y):
            outputs = {names[0]: out} if single else dict(zip(names, out))
            return plan.loss(outputs, {target: y}, module)
        return general

    def _seen(self, batches_done: int) -> int:
        """Training rows seen after this many batches of the epoch."""
        return min(batches_done * self.batch_size, self.train_rows)

    def _hold(self, epoch: int) -> bool:
        """Handle a pause or stop request; False when training must stop."""
        if self._stop.is_set():
            return False
        self._emit(Event("paused", epoch=epoch, epochs=self.epochs, step=self.step,
                         message=f"paused at step {self.step}"))
        since = time.monotonic()
        while not self._go.wait(0.1):
            pass
        self.paused_s += time.monotonic() - since
        if self._stop.is_set():
            return False
        self._emit(Event("resumed", epoch=epoch, epochs=self.epochs, step=self.step,
                         message=f"resumed at step {self.step}"))
        self.window = (time.monotonic(), 0)
        return True

    def _mean_loss(self, losses: torch.Tensor, k: int) -> float:
        """Mean loss per row over the first k batches (all full except possibly the last)."""
        if k == 0:
            return math.nan
        seen = self._seen(k)
        last = seen - (k - 1) * self.batch_size
        total = losses[:k - 1].sum() * self.batch_size + losses[k - 1] * last
        return float(total) / seen

    def _check_buffer(self, epoch: int, losses: torch.Tensor, k: int, x, y) -> None:
        """The accelerator-side NaN guard: one read of the buffered losses."""
        if self.check_each_step or k == 0:
            return
        bad = (~torch.isfinite(losses[:k])).nonzero()
        if bad.numel():
            if x is None:
                x, y = self._first_row()
            raise self._non_finite(epoch, int(bad[0]), x, y, "loss")

    def _first_row(self):
        """(x, y) of the first training row, for a NaN diagnosis at the epoch's end."""
        from workbench.data.batching import batches, to_device
        x, y = next(iter(batches(self.data.train, 1)))
        return to_device(x, self.device), y.to(self.device)

    def _step_event(self, epoch: int, i: int, losses, x, y) -> None:
        self.gate.mark()
        self._check_buffer(epoch, losses, i + 1, x, y)
        now = time.monotonic()
        since, done = self.window
        seen = self._seen(i + 1)
        samples = seen - done
        rate = samples / (now - since) if now > since and samples > 0 else None
        self.window = (now, seen)
        remaining = (self.epochs - epoch) * self.train_rows + (self.train_rows - seen)
        self._rate = rate or getattr(self, "_rate", None)
        grad_norms, act_stats = self._insight()
        self._emit(Event("step", epoch=epoch, epochs=self.epochs, step=self.step,
                         steps=self.epochs * self.steps_per_epoch,
                         train_loss=self._mean_loss(losses, i + 1), lr=self._lr(),
                         samples_per_s=rate, eta_s=remaining / self._rate if self._rate else None,
                         grad_norms=grad_norms, act_stats=act_stats))

    def _insight(self) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
        """Per layer node: the L2 norm of its parameters' gradients, and the activation
        statistics of the last sampled step if not yet reported; one device read for both."""
        names, norms = [], []
        for nid, sub in self.model.submodules.items():
            grads = [p.grad for p in self.module.get_submodule(sub).parameters() if p.grad is not None]
            if grads:
                names.append(nid)
                norms.append(torch.linalg.vector_norm(torch.stack(
                    [torch.linalg.vector_norm(g.detach().float()) for g in grads])))
        layout, acts = self.probe.take()
        if not norms and acts is None:
            return {}, {}
        parts = ([torch.stack(norms)] if norms else []) + ([acts] if acts is not None else [])
        values = torch.cat([p.to(parts[0].device) for p in parts]).tolist()
        return dict(zip(names, values[:len(norms)])), insight.decode(layout, values[len(norms):])

    def _lr(self) -> float | None:
        return float(self.optimizer.param_groups[0]["lr"]) if self.optimizer else None

    # -- NaN / Inf --------------------------------------------------------------------------

    def _non_finite(self, epoch: int, batch: int, x, y, what: str) -> NonFiniteError:
        step = (epoch - 1) * self.steps_per_epoch + batch + 1
        value = "gradient norm" if what == "gradient" else "loss"
        where = self._diagnose(x, y)
        return NonFiniteError(f"the {value} became NaN/Inf at step {step} (epoch {epoch}, batch "
                              f"{batch + 1}): {where}; training stopped, the last good checkpoint "
                              f"is kept")

    def _diagnose(self, x: torch.Tensor, y: torch.Tensor) -> str:
        """Where the non-finite values first appear: data, parameters, gradients or outputs."""
        from workbench.data.batching import call
        g = self.project.graph

        def title(nid: str) -> str:
            return g.nodes[nid].title

        if any(t.is_floating_point() and not torch.isfinite(t).all()
               for t in (x if isinstance(x, tuple) else (x,))):
            return "the input batch holds NaN/Inf values (check the data file)"
        if y.is_floating_point() and not torch.isfinite(y).all():
            return "the target values hold NaN/Inf (check the data file)"
        subs = self.model.submodules
        for kind in ("data", "grad"):
            for nid, sub in subs.items():
                for p in self.module.get_submodule(sub).parameters():
                    t = p if kind == "data" else p.grad
                    if t is not None and not torch.isfinite(t).all():
                        part = "parameters" if kind == "data" else "gradients"
                        return f"first in the {part} of node '{title(nid)}'"
        first: list[str] = []
        hooks = []
        for nid, sub in subs.items():
            def hook(mod, inp, out, nid=nid):
                o = out[0] if isinstance(out, tuple) else out
                if not first and torch.is_tensor(o) and o.is_floating_point() and not torch.isfinite(o).all():
                    first.append(nid)
            hooks.append(self.module.get_submodule(sub).register_forward_hook(hook))
        try:
            with torch.no_grad():
                call(self.module, x)
        finally:
            for h in hooks:
                h.remove()
        if first:
            return f"first in the output of node '{title(first[0])}' (its parameters are finite)"
        return "in the loss (the model's outputs are finite)"

    # -- epoch end, evaluation, checkpoints ---------------------------------------------------

    @torch.no_grad()
    def evaluate(self, split) -> dict:
        """Loss and metrics of the current model on one split (eval mode, no gradients)."""
        from workbench.data.batching import batches, call, to_device
        if split is None or int(split.y.shape[0]) == 0:
            return {}
        whole, split = split, self.session.eval_piece(split)  # each rank its piece, then the sums
        module = self.module
        was_training = module.training
        module.eval()
        acc = metric_fns.Accumulator(self.task, self.num_classes, self.device)
        names = self.model.output_names
        autocast = devices.autocast(self.device, self.amp_dtype)
        for x, y in batches(split, max(self.batch_size, 512), shuffle=False, generator=None,
                            **self.loader):
            if y.device != self.device:
                x, y = to_device(x, self.device, self.non_blocking), y.to(self.device, non_blocking=self.non_blocking)
            with autocast:
                out = call(module, x)
                outputs = {names[0]: out} if len(names) == 1 else dict(zip(names, out))
                loss = self.plan.loss(outputs, {self.metric_target: y})
            acc.add(outputs[self.metric_output].float(), y, loss)
        module.train(was_training)
        if was_training:
            self._frozen_eval()
        self.session.reduce(acc, whole)
        return acc.result()

    def _end_epoch(self, epoch: int) -> bool:
        """Evaluate, checkpoint, report; True when early stopping says stop."""
        losses, done = self.epoch_losses, self.epoch_done
        self._check_buffer(epoch, losses, done, None, None)
        train_loss = self.session.mean(self._mean_loss(losses, done), self._seen(done))
        if not self.check_each_step and not math.isfinite(train_loss):
            raise NonFiniteError(f"the loss became NaN/Inf in epoch {epoch}")
        val = self.evaluate(self.data.val)
        value = val.get(self.monitor, math.nan) if self.monitor_split == "val" else train_loss
        if self.scheduler is not None and self.plan.schedule_step == "epoch":
            self.scheduler.step()
        elif self.scheduler is not None and self.plan.schedule_step == "plateau":
            self.scheduler.step(val.get("loss", train_loss))
        is_best = self.early.update(value, epoch, val.get("loss"))
        epoch_metrics = {"train": {"loss": train_loss}, "val": val}
        meta = self._meta(epoch, epoch_metrics)
        if is_best:
            self.checkpoints.keep_best(self.module.state_dict(), meta)
        state = self._state() if self.folder is not None else None  # before callbacks see the event
        event = Event("epoch", epoch=epoch, epochs=self.epochs, step=self.step,
                      steps=self.epochs * self.steps_per_epoch, train_loss=train_loss,
                      val_loss=val.get("loss"), metrics={"val": val}, lr=self._lr(),
                      samples_per_s=self._seen(done) * self.session.world_size / self.epoch_train_s if self.epoch_train_s > 0 else None,
                      eta_s=None, message="best so far" if is_best else "")
        event.grad_norms, event.act_stats = self._insight()
        loop_s = time.monotonic() - self.t_loop
        event.eta_s = loop_s / (epoch - self.first_epoch + 1) * (self.epochs - epoch)
        self.gate.mark()
        self._emit(event)
        self.history.append(event.to_json())
        # After the event: the log may run ahead of the checkpoints (resuming drops the extra
        # epochs) but never behind them, so a resumed curve has no gap whatever write fails.
        self.checkpoints.epoch_end(self.module.state_dict(), state, meta)
        return self.early_enabled and self.early.wait >= self.early.patience

    def _balance_classes(self) -> list[float] | None:
        """Weights for losses with class_weight = balanced: n / (k × count) per class over the
        training rows (all of them, on every rank alike); a class with no rows gets 1."""
        balanced = [t for t in self.plan.losses if t.class_weight == "balanced"]
        if not balanced:
            return None
        if self.task != "classification" or not self.num_classes:
            raise TrainingError("class_weight = balanced needs a classification target (class ids)")
        counts = torch.bincount(self.data.train.y.reshape(-1).long().cpu(), minlength=self.num_classes)
        counts = counts[:self.num_classes].to(torch.float64)
        weights = torch.where(counts > 0, counts.sum() / (self.num_classes * counts.clamp(min=1)),
                              torch.ones_like(counts))
        for t in balanced:
            t.fn.weight = weights.to(torch.float32).to(self.device)  # a registered buffer of the loss
        return [round(float(w), 6) for w in weights]

    def _meta(self, epoch: int, epoch_metrics: dict) -> dict:
        pre = getattr(self.data, "preprocessor", None)
        return {"epoch": epoch, "step": self.step, "task": self.task,
                "classes": list(self.data.classes) if self.data.classes else None,
                "metrics": epoch_metrics,
                "preprocessing": pre.to_dict() if pre is not None else {},
                "seed": self.settings.seed,
                "project": {"name": self.project.name, "format_version": project_file.FORMAT_VERSION},
                "input_names": self.model.input_names, "output_names": self.model.output_names,
                "monitor": {"metric": self.early.metric, "best": self.early.best,
                            "best_epoch": self.early.best_epoch, "rule": self.early.rule()}}

    def _state(self) -> dict:
        rng = {"torch": torch.get_rng_state(), "shuffle": self.shuffle_gen.get_state()}
        if self.device.type == "cpu":
            rng["augment"] = self.augment_gen.get_state()
        return {"optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
                "scaler": self.scaler.state_dict() if self.scaler is not None else None,
                "early_stopping": self.early.state(), "rng": rng}

    def _finish(self, status: str, message: str) -> RunResult:
        """Settle on the final weights, evaluate every split, write summary.json."""
        self.checkpoints.flush()
        if self.epoch == 0:
            summary = {"status": status, "message": message, "epochs_run": 0,
                       "train": {}, "val": {}, "test": {}}
            if self.folder is not None:
                runs.write_summary(self.folder, summary)
            self._emit(Event("end", epochs=self.epochs, step=self.step, message=message or status))
            return RunResult(status, summary, self.folder, self.model, 0, 0, message, self.history)
        if self.session.distributed and status == "failed":
            return self._fail(message)  # the other ranks are not evaluating with us: no collectives
        saved = self.checkpoints
        if self.restore_best and saved.best_state is not None:
            self.module.load_state_dict(saved.best_state)
            weights = f"best (epoch {self.early.best_epoch})"
        elif status in ("stopped", "failed") and saved.last_saved_epoch and (
                self.folder is not None or self.session.distributed):
            if self.folder is not None:
                self.module.load_state_dict(saved.last_weights())
            self.session.share_weights(self.module)  # rank 0 read its checkpoint; the others take it
            weights = f"last good (epoch {saved.last_saved_epoch})"
        else:
            weights = f"last (epoch {self.epoch})"
        self.module.eval()
        summary = {"status": status, "message": message, "epochs_run": self.epoch,
                   "best_epoch": self.early.best_epoch, "monitor": self.early.metric,
                   "best_rule": self.early.rule(), "best_reason": self.early.reason(),
                   "weights": weights, "task": self.task, "device": self.device.type,
                   "seed": self.settings.seed,
                   "parameters": self.param_count, "frozen_parameters": self.frozen_count,
                   "time_s": round(time.monotonic() - self.t0, 3),
                   "train": self.evaluate(self.data.train), "val": self.evaluate(self.data.val),
                   "test": self.evaluate(getattr(self.data, "test", None))}
        if self.task == "classification" and self.data.classes:
            summary["classes"] = list(self.data.classes)
        if self.class_weights is not None:
            summary["class_weights"] = self.class_weights
        if self.from_project_weights:
            summary["start_weights"] = "project"
        if self.weight_notes:
            summary["weight_warnings"] = list(self.weight_notes)
        entry, warning = self.session.summary(self.module, self.batch_size)
        if entry is not None:
            summary["distributed"] = entry
        if warning:
            message = (message + "; " if message else "") + warning
            summary["message"] = message
        if self.folder is not None:
            runs.write_summary(self.folder, summary)
        metrics = {k: summary[k] for k in ("train", "val", "test")}
        self._emit(Event("end", epoch=self.epoch, epochs=self.epochs, step=self.step, metrics=metrics,
                         train_loss=summary["train"].get("loss"), val_loss=summary["val"].get("loss"),
                         message=message or status))
        return RunResult(status, summary, self.folder, self.model, self.epoch, self.early.best_epoch,
                         message, self.history)

    def _fail(self, message: str) -> RunResult:
        """Report a run that could not go on. The summary of a run being resumed is left as it
        was (a refused or failed resume never destroys the result it was meant to extend), and a
        summary that cannot be written (a full disk) does not hide the first error."""
        import contextlib
        summary = {"status": "failed", "message": message, "train": {}, "val": {}, "test": {}}
        self._emit(Event("error", message=message))
        folder = getattr(self, "folder", None)
        if folder is not None and not (self.resume_run and (folder / "summary.json").exists()):
            with contextlib.suppress(OSError):
                runs.write_summary(folder, summary)
        return RunResult("failed", summary, folder, self.model, getattr(self, "epoch", 0), 0, message,
                         getattr(self, "history", []))

    def _emit(self, event: Event) -> None:
        event.elapsed_s = time.monotonic() - self.t0
        if self._log is not None:
            self._log.write(event)
        for callback in self.callbacks:
            callback(event)
