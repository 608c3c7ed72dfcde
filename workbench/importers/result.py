"""What an import gives back, and the check that the imported graph computes what the source
model computes."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from workbench.core.project import Project

TOLERANCE = 1e-4


class ImportError_(Exception):
    """The model cannot be imported; the message (one line) names the file and what failed."""


@dataclass
class ImportResult:
    project: Project
    tensors: dict[str, torch.Tensor]
    report: list[str] = field(default_factory=list)
    max_diff: float | None = None      # largest relative difference to the source model

    def ok(self, tol: float = TOLERANCE) -> bool:
        return self.max_diff is not None and self.max_diff <= tol


def relative_difference(ours, theirs) -> float:
    """max |ours − theirs| / max |theirs| over every output: a scale-free figure, so a model
    whose outputs are logits of 30 and one whose outputs are probabilities compare alike."""
    worst = 0.0
    for a, b in zip(ours, theirs):
        a = torch.as_tensor(a).detach().double().cpu()
        b = torch.as_tensor(b).detach().double().cpu()
        if a.shape != b.shape:
            return float("inf")
        if not torch.isfinite(a).all() or not torch.isfinite(b).all():
            if not torch.equal(torch.nan_to_num(a), torch.nan_to_num(b)):
                return float("inf")
            continue
        scale = max(float(b.abs().max()) if b.numel() else 0.0, 1e-12)
        worst = max(worst, float((a - b).abs().max()) / scale if b.numel() else 0.0)
    return worst


def compiled(result: ImportResult):
    """The imported graph compiled with the imported weights applied (eval mode); raises
    ImportError_ naming what does not fit."""
    from workbench.core import weights
    from workbench.core.compile import CompileError, compile_model
    try:
        model = compile_model(result.project.graph)
    except CompileError as exc:
        raise ImportError_(f"the imported graph does not compile: {exc}") from None
    problems = weights.apply(model, result.project.graph, result.tensors)
    if problems:
        raise ImportError_(f"the imported weights do not fit: {problems[0]}")
    model.module.eval()
    return model
