"""Freezing for fine-tuning: which nodes a freeze applies to, and the one-step commands for
the inspector's "Trainable" box and the canvas's "Freeze up to here" / "Unfreeze all".

Only model nodes with weights are frozen: freezing a ReLU means nothing, and marking it would
hide which layers really stay fixed. A node already frozen (an edited file) can always be
unfrozen.
"""
from __future__ import annotations

from workbench.core.graph import Graph
from workbench.core.spec import MODEL
from workbench.ui.editor.commands import SetTrainable


def freezable(graph: Graph, analysis, node_id: str) -> bool:
    """A model node with parameters (as the last analysis counted them), or one frozen already."""
    node = graph.nodes.get(node_id)
    if node is None:
        return False
    if not node.trainable:
        return True
    return (node.spec is not None and node.spec.role == MODEL
            and bool(analysis is not None and analysis.params.get(node_id)))


def upstream(graph: Graph, node_id: str) -> list[str]:
    """`node_id` and every node feeding it, directly or not, in the graph's order."""
    seen, todo = {node_id}, [node_id]
    while todo:
        for e in graph.edges_into(todo.pop()):
            if e.src not in seen:
                seen.add(e.src)
                todo.append(e.src)
    return [nid for nid in graph.nodes if nid in seen]


def freeze_up_to(graph: Graph, analysis, node_id: str) -> SetTrainable | None:
    """Freeze the node and every model node with weights upstream of it (None: nothing to do)."""
    ids = [nid for nid in upstream(graph, node_id)
           if graph.nodes[nid].trainable and freezable(graph, analysis, nid)]
    if not ids:
        return None
    title = graph.nodes[node_id].title
    return SetTrainable(graph, ids, False, f"Freeze up to '{title}' ({len(ids)} "
                                           f"node{'s' if len(ids) != 1 else ''})")


def unfreeze_all(graph: Graph) -> SetTrainable | None:
    ids = [nid for nid, n in graph.nodes.items() if not n.trainable]
    if not ids:
        return None
    return SetTrainable(graph, ids, True, f"Unfreeze all ({len(ids)} "
                                          f"node{'s' if len(ids) != 1 else ''})")
