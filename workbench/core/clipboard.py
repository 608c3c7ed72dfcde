"""Copy and paste of part of a graph, as JSON: the core's side of Edit › Copy / Paste.

`copy_selection` turns some nodes (and the edges between them; edges leaving the selection
are dropped) into a plain dict; `to_json`/`from_json` move it through a clipboard as text;
`prepare_paste` gives back new `Node`s and `Edge`s for a target graph: fresh ids, unique
titles, positions shifted by an offset, parameters checked against the catalog — all by
`Graph.to_dict`/`Graph.from_dict`, the serializer project files use. Nothing here
changes a graph: the caller inserts the result (the app does it in one undoable command).
"""
from __future__ import annotations

import json
from typing import Iterable

from workbench.core import files
from workbench.core.graph import Edge, Graph, GraphFormatError, Node

MIME_TYPE = "application/x-workbench-nodes+json"
KIND = "workbench.nodes"
VERSION = 1


class ClipboardError(Exception):
    """Text that is not a Workbench selection; the message is for the user."""


def copy_selection(graph: Graph, node_ids: Iterable[str]) -> dict:
    """The selected nodes, in graph order, with the edges that join two of them."""
    return {"kind": KIND, "version": VERSION, **graph.to_dict(node_ids=list(node_ids))}


def to_json(selection: dict) -> str:
    return json.dumps(selection, indent=1, ensure_ascii=False)


def from_json(text: str) -> dict:
    """Parse clipboard text; raises ClipboardError unless it is a Workbench selection."""
    try:
        doc = files.parse_json(text, "the clipboard")
    except files.FileRefused:
        raise ClipboardError("the clipboard holds no Workbench nodes (nested too deep)") from None
    except (json.JSONDecodeError, TypeError):
        raise ClipboardError("the clipboard holds no Workbench nodes") from None
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise ClipboardError("the clipboard holds no Workbench nodes")
    if not isinstance(doc.get("version"), int) or doc["version"] > VERSION:
        raise ClipboardError("the copied nodes come from a newer Workbench")
    if not isinstance(doc.get("nodes"), list) or not isinstance(doc.get("edges", []), list):
        raise ClipboardError("the copied nodes are damaged (no node list)")
    return doc


def prepare_paste(graph: Graph, selection: dict,
                  offset: tuple[float, float] = (30.0, 30.0)) -> tuple[list[Node], list[Edge]]:
    """New nodes and edges for `graph`: fresh ids and titles, shifted by `offset`.

    Read by the same `Graph.from_dict` as project files, so parameters this version does not
    know are kept as the loader keeps them. Unknown node types and unusable values raise
    ClipboardError: a pasted node must be one the canvas can build.
    """
    try:
        pasted = Graph.from_dict({"nodes": selection.get("nodes", []),
                                  "edges": selection.get("edges", [])},
                                 fresh_ids=True, offset=(float(offset[0]), float(offset[1])),
                                 avoid=graph)
    except GraphFormatError as exc:
        raise ClipboardError(f"the copied nodes are damaged ({exc})") from None
    for node in pasted.nodes.values():
        if node.spec is None:
            raise ClipboardError(f"unknown node type '{node.type}' (is its plugin installed?)")
    return list(pasted.nodes.values()), list(pasted.edges)
