"""What a finished run's summary says in words: the one line that names the kept epoch and why,
and the per-class rows. The CLI and the app print the same text, so a model kept from epoch 1,
or one that ignores its minority class, is visible at a glance wherever the run ends."""
from __future__ import annotations


def headline(summary: dict) -> str:
    """E.g. "kept epoch 4 of 34 by highest val_accuracy, ties broken by the lower val_loss
    (val_accuracy 1.0000 tied, won on val_loss 0.0641) — accuracy: val 1.0000, test 0.9722"."""
    run = summary.get("epochs_run") or 0
    if not run:
        return ""
    weights = summary.get("weights", "")
    best = summary.get("best_epoch") or 0
    if weights.startswith("best"):
        why = summary.get("best_rule", "")
        reason = summary.get("best_reason", "")
        text = f"kept epoch {best} of {run}"
        if why:
            text += f" by {why}"
        if reason:
            text += f" ({reason})"
    else:
        text = f"kept the {weights} weights of {run} epochs"
    figure = _main_figure(summary)
    if figure:
        text += " — " + figure
    if weights.startswith("best") and best == 1 and run > 1:
        text += ("; the kept weights are from the first epoch: the model hardly trained "
                 "(check the learning rate, or early stopping's metric)")
    return text


def _main_figure(summary: dict) -> str:
    name = "accuracy" if summary.get("task") == "classification" else "r2"
    splits = [(s, (summary.get(s) or {}).get(name)) for s in ("val", "test")]
    shown = [f"{s} {v:.4f}" for s, v in splits if isinstance(v, (int, float))]
    if not shown:
        return ""
    text = f"{name}: " + ", ".join(shown)
    balanced = [(s, (summary.get(s) or {}).get("balanced_accuracy")) for s in ("val", "test")]
    values = [(s, b) for (s, b), (_, a) in zip(balanced, splits)
              if isinstance(b, (int, float)) and isinstance(a, (int, float)) and a - b > 0.02]
    if values:  # accuracy flatters: say the balanced figure beside it
        text += "; balanced accuracy: " + ", ".join(f"{s} {b:.4f}" for s, b in values)
    return text


def per_class(summary: dict) -> tuple[str, list[tuple[str, float, float, float, int]]]:
    """(split, rows of (class, precision, recall, f1, support)) for the test split, else val."""
    classes = summary.get("classes") or []
    for split in ("test", "val"):
        table = (summary.get(split) or {}).get("per_class")
        if not table:
            continue
        names = list(classes) or [str(i) for i in range(len(table["support"]))]
        rows = [(str(names[i]) if i < len(names) else str(i), table["precision"][i],
                 table["recall"][i], table["f1"][i], int(table["support"][i]))
                for i in range(len(table["support"]))]
        return split, rows
    return "", []


MAX_ROWS = 30  # more classes than this: the worst-recall ones, the rest stays in summary.json


def per_class_text(summary: dict) -> str:
    split, rows = per_class(summary)
    if not rows:
        return ""
    more = len(rows) - MAX_ROWS
    if more > 0:
        rows = sorted(rows, key=lambda r: r[2])[:MAX_ROWS]
    head = [f"class ({split})", "precision", "recall", "f1", "support"]
    lines = aligned([head] + [[c, f"{p:.4f}", f"{r:.4f}", f"{f:.4f}", str(n)] for c, p, r, f, n in rows])
    if more > 0:
        lines.append(f"(the {MAX_ROWS} classes with the lowest recall; {more} more in summary.json)")
    return "\n".join(lines)


def aligned(cells: list[list[str]]) -> list[str]:
    """A text table: the first column left-aligned, the others right, a rule under the head."""
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines
