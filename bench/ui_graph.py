"""Node editor speed on a 500-node graph (offscreen): open + first draw, re-validation after
an edit, and frames per second while panning and zooming.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/ui_graph.py

Targets (issue 6): open and draw < 1 s; an edit re-validates < 50 ms; pan/zoom >= 30 fps.
"""
from __future__ import annotations

import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("WORKBENCH_NO_SETTINGS", "1")
os.environ.setdefault("WORKBENCH_RECOVERY_DIR", os.path.join("build", "bench-recovery"))

NODES = 500


def big_project(n: int = NODES):
    """Ten parallel Linear/ReLU/LayerNorm chains joined by Concat, plus output, loss, optimizer."""
    from workbench.core import layout
    from workbench.core.graph import Graph
    from workbench.core.project import Project
    g = Graph()
    chains, per = 10, (n - 6) // 10
    inp = g.add_node("Input", "input", {"shape": "32"})
    ends = []
    kinds = ["Linear", "ReLU", "LayerNorm"]
    for c in range(chains):
        last = inp
        for i in range(per):
            node = g.add_node(kinds[i % 3], None, {"out_features": 32} if i % 3 == 0 else None)
            g.connect(last.id, "out", node.id, "in")
            last = node
        ends.append(last)
    # join pairs with Add until one is left (Add takes a, b)
    while len(ends) > 1:
        a, b = ends.pop(), ends.pop()
        add = g.add_node("Add")
        g.connect(a.id, "out", add.id, "a")
        g.connect(b.id, "out", add.id, "b")
        ends.insert(0, add)
    head = g.add_node("Linear", "head", {"out_features": 3})
    g.connect(ends[0].id, "out", head.id, "in")
    out = g.add_node("Output", "output")
    g.connect(head.id, "out", out.id, "in")
    tgt = g.add_node("Target", "target", {"num_classes": 3})
    loss = g.add_node("CrossEntropy", "loss")
    opt = g.add_node("Adam", "adam")
    g.connect(out.id, "out", loss.id, "input")
    g.connect(tgt.id, "out", loss.id, "target")
    g.connect(loss.id, "loss", opt.id, "loss")
    for nid, pos in layout.layered(g).items():
        g.move_node(nid, pos)
    return Project(g, "bench")


def main() -> int:
    from PySide6.QtCore import QPointF
    from PySide6.QtWidgets import QApplication

    from workbench.core import analyse
    from workbench.ui import app as ui_app
    from workbench.ui.document import Document
    from workbench.ui.editor import commands
    from workbench.ui.main_window import MainWindow

    app = ui_app.make_app(dark=False)
    project = big_project()
    analyse(project.graph)  # warm torch import and the parameter-count cache, as a running app has
    nodes, edges = len(project.graph.nodes), len(project.graph.edges)

    t0 = time.perf_counter()
    window = MainWindow(Document(project))
    window.resize(1400, 860)
    window.show()
    app.processEvents()
    window.view.fit()
    window.view.viewport().repaint()
    open_s = time.perf_counter() - t0

    doc, g = window.document, window.graph
    linear = [n.id for n in g.nodes.values() if n.type == "Linear"]
    times = []
    for i in range(20):
        t = time.perf_counter()
        doc.push(commands.SetParams(g, [linear[i]], "out_features", 32 + (i % 2) * 8 + 1))
        doc.validate_now()  # what the debounce timer runs; includes redrawing badges/labels
        times.append(time.perf_counter() - t)
    edit_ms = statistics.median(times) * 1000

    view = window.view
    view.resetTransform()
    view.centerOn(QPointF(1500, 300))
    vp = view.viewport()
    frames = 60
    t = time.perf_counter()
    for i in range(frames):
        view.pan(15 if (i // 20) % 2 == 0 else -15, 4)
        vp.repaint()
    pan_fps = frames / (time.perf_counter() - t)
    view.resetTransform()
    view.scale(0.5, 0.5)
    t = time.perf_counter()
    for i in range(frames):
        view.zoom_by(1.04 if (i // 15) % 2 == 0 else 1 / 1.04)
        vp.repaint()
    zoom_fps = frames / (time.perf_counter() - t)
    view.fit()
    t = time.perf_counter()
    for i in range(frames // 2):
        view.zoom_by(1.03 if (i // 15) % 2 == 0 else 1 / 1.03)
        vp.repaint()
    zoom_all_fps = (frames // 2) / (time.perf_counter() - t)

    print(f"graph: {nodes} nodes, {edges} edges; window 1400x860, offscreen")
    print(f"open + first draw: {open_s * 1000:.0f} ms   (target < 1000 ms)")
    print(f"edit + re-validate (median of 20): {edit_ms:.1f} ms   (target < 50 ms)")
    print(f"pan at 100%: {pan_fps:.0f} fps; zoom at 50%: {zoom_fps:.0f} fps; "
          f"zoom with the whole graph in view: {zoom_all_fps:.0f} fps   (target >= 30)")
    window.document.close()
    ok = open_s < 1 and edit_ms < 50 and min(pan_fps, zoom_fps, zoom_all_fps) >= 30
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
