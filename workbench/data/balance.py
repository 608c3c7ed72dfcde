"""Imbalanced classes: the warning every place that shows a classification target gives.

Below a tenth of the rows, a class can be ignored by a model whose accuracy still looks
fine (97 % by always answering "no" on a 3 % minority); the warning points at the figures that
show it (per-class recall/F1, balanced accuracy) and at the remedy (class weights)."""
from __future__ import annotations

MINORITY_SHARE = 0.10


def minority_warning(counts: list[tuple[str, int]], where: str = "the training rows") -> str | None:
    """One line when the rarest class is under MINORITY_SHARE of the rows, else None."""
    total = sum(n for _, n in counts)
    if len(counts) < 2 or total == 0:
        return None
    name, n = min(counts, key=lambda c: c[1])
    if n == 0 or n / total >= MINORITY_SHARE:
        return None  # a class with no rows has its own warning
    return (f"class '{name}' is {100 * n / total:.1f} % of {where} ({n:,} of {total:,}): accuracy "
            "flatters a model that ignores it; read its recall and F1 (per-class table) and the "
            "balanced accuracy, or weigh the loss by class (CrossEntropy class_weight = balanced; "
            "workbench new --balance)")


def class_weight_changes(graph, value: str = "balanced") -> list[tuple]:
    """(node id, "class_weight", old, new) for each loss that weighs classes and is not set to
    `value` yet: what `workbench new --balance` and the data panel's check box apply."""
    return [(nid, "class_weight", node.params["class_weight"], value)
            for nid, node in graph.nodes.items()
            if "class_weight" in node.params and node.params["class_weight"] != value]
