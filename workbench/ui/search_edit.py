"""Marking values as searched: the undoable step that replaces the project's search space, and
the one way the inspector, the training panel and the canvas open the range dialog.

The space lives in `project.extra["search"]` (core/search_space.py); a command keeps the file's
exact old value (or its absence), so undo gives back the project as it was, byte for byte.
"""
from __future__ import annotations

import copy

from PySide6.QtGui import QUndoCommand

from workbench.core import search_space
from workbench.core.search_space import Dim, SearchSpace
from workbench.ui.dialogs.search_dialog import SearchRangeDialog, summary

MARK_COLOUR = "#9b6be0"   # a searched field's mark: readable on the light and the dark theme


class SetSearchSpace(QUndoCommand):
    def __init__(self, document, space: SearchSpace, text: str = "Change the search"):
        super().__init__(text)
        self.document = document
        self.space = copy.deepcopy(space)
        self.had = "search" in document.project.extra
        self.old = copy.deepcopy(document.project.extra.get("search"))

    def redo(self) -> None:
        search_space.store(self.document.project, copy.deepcopy(self.space))
        self.document.searchChanged.emit()

    def undo(self) -> None:
        extra = self.document.project.extra
        if not self.had:
            extra.pop("search", None)
        else:
            extra["search"] = copy.deepcopy(self.old)
        self.document.searchChanged.emit()


def space_of(document) -> SearchSpace:
    """The document's search space; one that cannot be read counts as none here (the Problems
    panel says what is wrong with it)."""
    try:
        return search_space.of(document.project)
    except search_space.SpaceError:
        return SearchSpace()


def open_search(document, target: Dim, parent=None) -> SearchRangeDialog:
    """Open the range dialog for `target` (window-modal, not blocking); its OK or Stop
    searching becomes one SetSearchSpace step. Raises SpaceError when the project's search
    cannot be read: editing it would drop what the file holds."""
    space = search_space.of(document.project)
    dialog = SearchRangeDialog(document.graph, space, target, document.project.training, parent)

    def done(_result: int) -> None:
        name = dialog.current.name if dialog.current is not None else None
        if dialog.outcome == "stop" and name is not None:
            document.push(SetSearchSpace(document, space.without(name), f"Stop searching {name}"))
        elif dialog.outcome == "set":
            d = dialog.dim()
            if d is not None:
                new = space.without(name) if name is not None else space
                document.push(SetSearchSpace(document, new.replaced(d),
                                             f"Search {d.name}: {summary(d, document.graph)}"))
        dialog.deleteLater()

    dialog.finished.connect(done)
    dialog.open()
    return dialog


def structure_targets(graph, node_ids: list[str]) -> list[tuple[str, Dim]]:
    """What a selection of 2+ nodes can be searched as: one chain gives "Repeat ×N…", several
    chains give "Search between branches…". Whether the core accepts it is the dialog's check
    (it shows why not: a chain fed from two places, branches fed from elsewhere)."""
    chains = _chains(graph, node_ids)
    if chains is None or sum(len(c) for c in chains) < 2:
        return []
    if len(chains) == 1:
        d = Dim("", "repeat", nodes=chains[0])
        d.name = search_space.label(d, graph)
        return [("Repeat ×N…", d)]
    d = Dim("", "branch", options=chains)
    d.name = search_space.label(d, graph)
    return [("Search between branches…", d)]


def _chains(graph, node_ids: list[str]) -> list[list[str]] | None:
    """The selection split into chains (connected by edges inside it, each node linked to at
    most one before and one after), each in order; None if a part is not a chain."""
    ids = [n for n in node_ids if n in graph.nodes]
    inside = set(ids)
    nxt: dict[str, list[str]] = {n: [] for n in ids}
    prev: dict[str, list[str]] = {n: [] for n in ids}
    for e in graph.edges:
        if e.src in inside and e.dst in inside:
            nxt[e.src].append(e.dst)
            prev[e.dst].append(e.src)
    if any(len(v) > 1 for v in (*nxt.values(), *prev.values())):
        return None
    chains = []
    for start in sorted((n for n in ids if not prev[n]), key=lambda n: (graph.nodes[n].pos[1], graph.nodes[n].pos[0])):
        chain = [start]
        while nxt[chain[-1]]:
            chain.append(nxt[chain[-1]][0])
        chains.append(chain)
    if sum(len(c) for c in chains) != len(ids):
        return None   # a loop of selected nodes: no start
    return chains
