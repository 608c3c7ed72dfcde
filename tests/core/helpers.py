"""Small graph builders for the core tests."""
from __future__ import annotations

from workbench.core import Graph


def chain(graph: Graph, *steps):
    """Add nodes one after another, each fed by the previous; returns them."""
    nodes, last = [], None
    for step in steps:
        type_, params = (step, {}) if isinstance(step, str) else step
        node = graph.add_node(type_, params=params)
        if last is not None:
            graph.connect(last.id, "out", node.id, "in")
        nodes.append(node)
        last = node
    return nodes


def classifier(*layers, input_shape="4", dtype="float32", cardinality=0, classes=3, loss="CrossEntropy"):
    """Input → layers → Output → loss ← Target; loss → Adam. Returns (graph, nodes by title)."""
    g = Graph()
    nodes = chain(g, ("Input", {"shape": input_shape, "dtype": dtype, "cardinality": cardinality}),
                  *layers, "Output")
    target = g.add_node("Target", params={"num_classes": classes} if loss in ("CrossEntropy", "NLL")
                        else {"dtype": "float32", "shape": "1"})
    lossn = g.add_node(loss)
    opt = g.add_node("Adam")
    g.connect(nodes[-1].id, "out", lossn.id, "input")
    g.connect(target.id, "out", lossn.id, "target")
    g.connect(lossn.id, "loss", opt.id, "loss")
    return g, {n.title: n for n in g.nodes.values()}
