"""Fresh inputs at other sizes than the export saw, and the comparison with PyTorch.

An export is only reported done after the exported artefact has been run on inputs whose
batch size (and sequence length) differ from the ones it was exported with: an exporter may
silently fix a dimension that was asked to stay dynamic, and only a run at another size shows it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from workbench.core.compile import CompiledModel
from workbench.export.report import Check

EXPORT_BATCH = 3


@dataclass(frozen=True)
class Axis:
    input: str
    dim: int
    name: str          # the shared size name: "batch", "seq", or the graph's symbolic name
    export_size: int

    @property
    def label(self) -> str:
        return "batch" if self.name == "batch" else f"{self.input}.{self.name}"


def plan_axes(model: CompiledModel, sequence: bool = True) -> list[Axis]:
    """The axes an export should keep dynamic: the batch of every input, and for sequence
    inputs (token ids (batch, T), or any dimension the graph names) the sequence length."""
    axes = []
    for name in model.input_names:
        t = model.input_types[name]
        axes.append(Axis(name, 0, "batch", EXPORT_BATCH))
        if not sequence:
            continue
        for i, d in enumerate(t.shape[1:], start=1):
            if isinstance(d, str):
                axes.append(Axis(name, i, d, 8))
            elif i == 1 and t.dtype == "int64" and t.rank == 2:
                axes.append(Axis(name, i, "seq", int(d)))
    return axes


def export_sizes(model: CompiledModel, axes: Sequence[Axis]) -> dict[str, int]:
    return {a.label: a.export_size for a in axes}


def make_inputs(model: CompiledModel, axes: Sequence[Axis], sizes: dict[str, int] | None = None,
                seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random inputs of the model's types; `sizes` (axis label -> size) overrides export sizes."""
    sizes = sizes or {}
    gen = torch.Generator().manual_seed(seed)
    out = []
    for name in model.input_names:
        t = model.input_types[name]
        shape = [d if isinstance(d, int) else EXPORT_BATCH if d == "batch" else 8 for d in t.shape]
        for a in axes:
            if a.input == name:
                shape[a.dim] = sizes.get(a.label, a.export_size)
        if t.dtype == "int64":
            out.append(torch.randint(0, max(t.cardinality or 2, 1), shape, generator=gen))
        else:
            out.append(torch.randn(shape, generator=gen))
    return tuple(out)


EDGE = "padding + ids covered"  # the Check.sizes key of the edge-case inputs (value: the ids)
MAX_EDGE_ROWS = 512


def edge_inputs(model: CompiledModel, axes: Sequence[Axis], seed: int = 0) -> tuple[dict[str, int], tuple]:
    """Inputs at the edges real data has, where random ones almost never go: for token ids,
    every id of the range 0..cardinality-1 (spread evenly when there are too many), rows that
    end in padding (id 0) after 1, a quarter, half and all but one of their steps, and a row of
    padding only; for float sequences the same rows end in all-zero steps. Sizes other than
    the batch are the export's. Returns (the Check's sizes, the inputs)."""
    gen = torch.Generator().manual_seed(seed)
    seq = {a.label: a.export_size for a in axes if a.name != "batch"}
    shapes = {}
    for name in model.input_names:
        t = model.input_types[name]
        shape = [d if isinstance(d, int) else 8 for d in t.shape]
        for a in axes:
            if a.input == name and a.name != "batch":
                shape[a.dim] = a.export_size
        shapes[name] = shape[1:]
    full_rows, covered = 0, 0
    for name in model.input_names:
        t = model.input_types[name]
        if t.dtype == "int64":
            length = max(int(np.prod(shapes[name])), 1)
            card = max(t.cardinality or 2, 1)
            full_rows = max(full_rows, min(-(-card // length), MAX_EDGE_ROWS))
            covered = max(covered, card)
    batch = full_rows + 5
    out = []
    for name in model.input_names:
        t = model.input_types[name]
        rest = shapes[name]
        steps = rest[0] if rest else 1
        if t.dtype == "int64":
            card = max(t.cardinality or 2, 1)
            length = max(int(np.prod(rest)), 1)
            n = full_rows * length
            ids = torch.arange(card) if card <= n else torch.linspace(0, card - 1, n).round().long()
            ids = torch.cat([ids, torch.randint(0, card, (n - len(ids),), generator=gen)])
            full = ids[torch.randperm(n, generator=gen)].reshape(full_rows, *rest) if full_rows else \
                torch.zeros(0, *rest, dtype=torch.long)
            padded = torch.randint(min(1, card - 1), card, (5, *rest), generator=gen)
        else:
            full = torch.randn(full_rows, *rest, generator=gen)
            padded = torch.randn(5, *rest, generator=gen)
        if rest:
            for row, keep in enumerate((1, max(1, steps // 4), max(1, steps // 2), max(1, steps - 1), 0)):
                padded[row, keep:] = 0
        else:
            padded[-1] = 0
        out.append(torch.cat([full, padded]) if t.dtype == "int64" else torch.cat([full, padded]).float())
    return {"batch": batch, **seq, EDGE: covered}, tuple(out)


def check_sizes(axes: Sequence[Axis]) -> list[dict[str, int]]:
    """Sizes to verify at: another batch at the export length, then shorter and longer sequences
    with yet other batches (batch 1 included)."""
    seq = [a for a in axes if a.name != "batch"]
    base = {"batch": 5} | {a.label: a.export_size for a in seq}
    sets = [base]
    if seq:
        sets.append({"batch": 2} | {a.label: max(2, a.export_size // 2) for a in seq})
        sets.append({"batch": 1} | {a.label: a.export_size + 3 for a in seq})
    else:
        sets.append({"batch": 1})
    return sets


def to_numpy(value) -> list[np.ndarray]:
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in to_numpy(item)]
    if isinstance(value, dict):
        return [v for item in value.values() for v in to_numpy(item)]
    if isinstance(value, torch.Tensor):
        return [value.detach().cpu().numpy()]
    return [np.asarray(value)]


def reference(module: torch.nn.Module, inputs: tuple) -> list[np.ndarray]:
    with torch.no_grad():
        return to_numpy(module(*inputs))


def compare(expected: list[np.ndarray], got: list[np.ndarray]) -> tuple[float, float]:
    """(max abs diff, max abs diff / max |expected|) over all outputs; inf on a shape mismatch."""
    if len(expected) != len(got):
        return float("inf"), float("inf")
    worst_abs, worst_rel = 0.0, 0.0
    for e, g in zip(expected, got):
        e, g = np.asarray(e, dtype=np.float64), np.asarray(g, dtype=np.float64)
        if e.shape != g.shape:
            return float("inf"), float("inf")
        diff = float(np.abs(e - g).max()) if e.size else 0.0
        scale = float(np.abs(e).max()) if e.size else 0.0
        worst_abs = max(worst_abs, diff)
        worst_rel = max(worst_rel, diff / max(scale, 1e-12))
    return worst_abs, worst_rel


def run_checks(module: torch.nn.Module, model: CompiledModel, axes: Sequence[Axis],
               run: Callable[[tuple], list[np.ndarray]], seed: int = 1) -> list[Check]:
    """Run `run` (the exported artefact) and the PyTorch module on the same fresh inputs at
    each of `check_sizes(axes)`, then on `edge_inputs` (padding, every id); sizes at which
    PyTorch itself cannot run are skipped."""
    cases = [(sizes, make_inputs(model, axes, sizes, seed=seed + i)) for i, sizes in enumerate(check_sizes(axes))]
    cases.append(edge_inputs(model, axes, seed=seed + 100))
    checks = []
    for sizes, inputs in cases:
        try:
            expected = reference(module, inputs)
        except Exception:  # the model itself is limited to these sizes (e.g. positions)
            continue
        check = Check(sizes)
        try:
            got = run(inputs)
        except Exception as exc:  # noqa: BLE001 - any runtime failure is a failed check
            check.error = one_line(exc)
        else:
            check.max_abs_diff, check.rel_diff = compare(expected, got)
            if check.rel_diff == float("inf"):
                check.error = ("output shapes differ: " + ", ".join(str(np.shape(g)) for g in got)
                               + " vs " + ", ".join(str(np.shape(e)) for e in expected))
        checks.append(check)
    return checks


def one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    text = text or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
