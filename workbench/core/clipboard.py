"""Copy and paste of part of a graph, as JSON: the core's side of Edit › Copy / Paste.

`copy_selection` turns some nodes (and the edges between them; edges leaving the selection
are dropped) into a plain dict; `to_json`/`from_json` move it through a clipboard as text;
`prepare_paste` gives back new `Node`s and `Edge`s for a target graph: fresh ids, unique
titles, positions shifted by an offset, parameters checked against the catalog. Nothing here
changes a graph: the caller inserts the result (the app does it in one undoable command).
"""
from __future__ import annotations

import copy
import json
from typing import Iterable

from workbench.core import catalog
from workbench.core.graph import Edge, Graph, Node, unique_name

MIME_TYPE = "application/x-workbench-nodes+json"
KIND = "workbench.nodes"
VERSION = 1


class ClipboardError(Exception):
    """Text that is not a Workbench selection; the message is for the user."""


def copy_selection(graph: Graph, node_ids: Iterable[str]) -> dict:
    """The selected nodes, in graph order, with the edges that join two of them."""
    wanted = set(node_ids)
    nodes = [n for nid, n in graph.nodes.items() if nid in wanted]
    edges = [e for e in graph.edges if e.src in wanted and e.dst in wanted]
    return {
        "kind": KIND,
        "version": VERSION,
        "nodes": [{"id": n.id, "type": n.type, "title": n.title,
                   "params": copy.deepcopy(n.params), "pos": [n.pos[0], n.pos[1]]} for n in nodes],
        "edges": [{"from": [e.src, e.src_port], "to": [e.dst, e.dst_port]} for e in edges],
    }


def to_json(selection: dict) -> str:
    return json.dumps(selection, indent=1, ensure_ascii=False)


def from_json(text: str) -> dict:
    """Parse clipboard text; raises ClipboardError unless it is a Workbench selection."""
    try:
        doc = json.loads(text)
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

    Unknown node types and unusable parameter values raise ClipboardError; edges whose ends
    or ports do not exist are left out.
    """
    next_n = 1 + max((int(i[1:]) for i in graph.nodes if i[:1] == "n" and i[1:].isdigit()),
                     default=0)
    titles = {n.title for n in graph.nodes.values()}
    ids: dict[str, str] = {}
    nodes: list[Node] = []
    for i, nd in enumerate(selection.get("nodes", [])):
        try:
            old_id, type_name = str(nd["id"]), str(nd["type"])
            title = str(nd.get("title") or type_name.lower())
            params = dict(nd.get("params", {}))
            x, y = (float(v) for v in nd.get("pos", (0.0, 0.0)))
        except (KeyError, TypeError, ValueError):
            raise ClipboardError(f"the copied nodes are damaged (node {i})") from None
        type_name = catalog.RENAMES.get(type_name, type_name)
        spec = catalog.find(type_name)
        if spec is None:
            raise ClipboardError(f"unknown node type '{type_name}' (is its plugin installed?)")
        values = spec.defaults()
        for key, value in params.items():
            try:
                values[key] = spec.param(key).check(value)
            except KeyError:
                continue  # a parameter this version does not know
            except ValueError as exc:
                raise ClipboardError(f"{type_name} '{title}': {exc}") from None
        new_id = f"n{next_n}"
        next_n += 1
        ids[old_id] = new_id
        new_title = unique_name(title, titles)
        titles.add(new_title)
        nodes.append(Node(new_id, type_name, new_title, values,
                          (x + float(offset[0]), y + float(offset[1]))))
    edges: list[Edge] = []
    by_id = {n.id: n for n in nodes}
    for ed in selection.get("edges", []):
        try:
            (src, sp), (dst, dp) = ed["from"], ed["to"]
        except (KeyError, TypeError, ValueError):
            continue
        if src not in ids or dst not in ids:
            continue
        a, b = by_id[ids[src]], by_id[ids[dst]]
        if a.spec.output(sp) is None or b.spec.input(dp) is None:
            continue
        edges.append(Edge(ids[src], sp, ids[dst], dp))
    return nodes, edges
