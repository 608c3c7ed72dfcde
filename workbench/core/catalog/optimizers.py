"""Optimizers (fed by losses) and learning-rate schedules (attached to an optimizer).

Their `build` returns a factory, not a module: the trainer calls it with the model's
parameters (and, for schedules, the run length), because those exist only at training time.
"""
from __future__ import annotations

from functools import partial

import torch

from workbench.core.catalog import register
from workbench.core.spec import LOSS, OPTIMIZER, OPTIMIZER_ROLE, SCHEDULE, NodeSpec, Param, Port

IN = (Port("loss", LOSS, multiple=True, help="one or more losses, summed"),)
OUT = (Port("optimizer", OPTIMIZER),)
LR = Param("lr", "float", 1e-3, "Learning rate.", min=0.0, max=10.0)
WD = Param("weight_decay", "float", 0.0, "L2 penalty on the weights.", min=0.0, max=10.0)
L1 = Param("l1", "float", 0.0, "L1 penalty on the weights, added to the loss.", min=0.0, max=10.0)


def _opt(name, help, build, params):
    register(NodeSpec(name, "Optimizers", help, IN, OUT, (LR, *params, WD, L1), build=build,
                      role=OPTIMIZER_ROLE, title="optimizer"))


_opt("SGD", "Stochastic gradient descent, with optional (Nesterov) momentum.",
     lambda p, ins: partial(torch.optim.SGD, lr=p["lr"], momentum=p["momentum"], nesterov=p["nesterov"],
                            weight_decay=p["weight_decay"]),
     [Param("momentum", "float", 0.9, "Momentum.", min=0.0, max=0.999),
      Param("nesterov", "bool", False, "Nesterov momentum (needs momentum > 0).")])
_BETAS = [Param("beta1", "float", 0.9, "Decay of the gradient average.", min=0.0, max=0.9999),
          Param("beta2", "float", 0.999, "Decay of the squared-gradient average.", min=0.0, max=0.99999)]
_opt("Adam", "Adaptive moments; a good default.",
     lambda p, ins: partial(torch.optim.Adam, lr=p["lr"], betas=(p["beta1"], p["beta2"]),
                            weight_decay=p["weight_decay"]), _BETAS)
_opt("AdamW", "Adam with decoupled weight decay.",
     lambda p, ins: partial(torch.optim.AdamW, lr=p["lr"], betas=(p["beta1"], p["beta2"]),
                            weight_decay=p["weight_decay"]), _BETAS)
_opt("RMSprop", "Divides by a running average of squared gradients.",
     lambda p, ins: partial(torch.optim.RMSprop, lr=p["lr"], alpha=p["alpha"], momentum=p["momentum"],
                            weight_decay=p["weight_decay"]),
     [Param("alpha", "float", 0.99, "Smoothing constant.", min=0.0, max=0.9999),
      Param("momentum", "float", 0.0, "Momentum.", min=0.0, max=0.999)])
_opt("Adagrad", "Per-parameter rates that shrink with accumulated gradients.",
     lambda p, ins: partial(torch.optim.Adagrad, lr=p["lr"], lr_decay=p["lr_decay"],
                            weight_decay=p["weight_decay"]),
     [Param("lr_decay", "float", 0.0, "Learning-rate decay.", min=0.0, max=1.0)])


def _schedule(name, help, make, params, step):
    """`make(p, optimizer, epochs, steps_per_epoch)` -> scheduler; `step`: when to call step()."""
    register(NodeSpec(name, "Schedules", help, (Port("optimizer", OPTIMIZER),), (), tuple(params),
                      build=lambda p, ins: partial(make, p), role=SCHEDULE, title="schedule",
                      extra={"step": step}))


_schedule("StepLR", "Multiplies the rate by gamma every step_size epochs.",
          lambda p, opt, epochs, steps: torch.optim.lr_scheduler.StepLR(opt, p["step_size"], p["gamma"]),
          [Param("step_size", "int", 10, "Epochs between reductions.", min=1, max=100_000),
           Param("gamma", "float", 0.1, "Factor.", min=0.0, max=1.0)], "epoch")
_schedule("ExponentialLR", "Multiplies the rate by gamma every epoch.",
          lambda p, opt, epochs, steps: torch.optim.lr_scheduler.ExponentialLR(opt, p["gamma"]),
          [Param("gamma", "float", 0.95, "Factor per epoch.", min=0.0, max=1.0)], "epoch")
_schedule("CosineLR", "Cosine decay from the initial rate to eta_min over the run.",
          lambda p, opt, epochs, steps: torch.optim.lr_scheduler.CosineAnnealingLR(
              opt, p["t_max"] or max(1, epochs), p["eta_min"]),
          [Param("t_max", "int", 0, "Epochs of one decay (0 = the whole run).", min=0, max=100_000),
           Param("eta_min", "float", 0.0, "Final rate.", min=0.0, max=10.0)], "epoch")
_schedule("ReduceLROnPlateau", "Reduces the rate when the validation loss stops improving.",
          lambda p, opt, epochs, steps: torch.optim.lr_scheduler.ReduceLROnPlateau(
              opt, factor=p["factor"], patience=p["patience"]),
          [Param("factor", "float", 0.1, "Factor.", min=0.0, max=1.0),
           Param("patience", "int", 5, "Epochs without improvement before reducing.", min=0, max=10_000)],
          "plateau")
_schedule("OneCycleLR", "Warms up to max_lr, then anneals: fast training in few epochs.",
          lambda p, opt, epochs, steps: torch.optim.lr_scheduler.OneCycleLR(
              opt, max_lr=p["max_lr"], epochs=max(1, epochs), steps_per_epoch=max(1, steps),
              pct_start=p["pct_start"]),
          [Param("max_lr", "float", 1e-2, "Peak rate.", min=0.0, max=10.0),
           Param("pct_start", "float", 0.3, "Fraction of the run spent warming up.", min=0.0, max=1.0)],
          "batch")
