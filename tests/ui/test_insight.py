"""The Insight panel's activation statistics: per-layer columns, the dead-ReLU warning, the
strip under a ReLU on the canvas."""
from __future__ import annotations

import workbench.ui  # noqa: F401  (the PySide6 workaround comes first)
from workbench.train.events import Event
from workbench.ui.panels.insight_panel import COLUMNS, DEAD_WARN, DeadUnitStrip, GradientStrip


def ids_by_title(win) -> dict[str, str]:
    return {n.title: nid for nid, n in win.document.project.graph.nodes.items()}


def feed(panel, ids: dict[str, str], steps: int = 12) -> None:
    panel.on_event(Event("start"))
    for i in range(steps):
        grads = {ids["fc1"]: 0.4 + 0.01 * i, ids["fc2"]: 0.3 - 0.01 * i, ids["head"]: 0.2}
        acts = {ids["fc1"]: {"mean": 0.02, "std": 1.1, "zero_frac": 0.0},
                ids["relu1"]: {"mean": 0.45, "std": 0.66, "zero_frac": 0.49, "dead_frac": 0.03},
                ids["fc2"]: {"mean": -99.6, "std": 0.8, "zero_frac": 0.0},
                ids["relu2"]: {"mean": 0.0, "std": 0.0, "zero_frac": 1.0,
                               "dead_frac": 0.5 + 0.37 * i / (steps - 1)},  # 87% at the end
                ids["head"]: {"mean": 0.01, "std": 0.2, "zero_frac": 0.0}}
        panel.on_event(Event("step", step=i + 1, grad_norms=grads, act_stats=acts if i % 2 == 0 or i == steps - 1 else {}))
    panel.on_event(Event("end"))


def test_dead_relu_warning_columns_and_strip(make_window, qtbot, artifacts):
    win = make_window("mlp-classifier", size=(1400, 900))
    panel = win.workflow.insight
    ids = ids_by_title(win)
    messages = []
    panel.message.connect(messages.append)
    feed(panel, ids)
    text = panel.warning.text()
    assert "ReLU 'relu2': 87% of its units are dead (output 0 for every sample)" in text, text
    assert "relu1" not in text and DEAD_WARN == 0.5
    assert any("relu2" in m and "dead" in m for m in messages)
    # one row per module node, in graph order, with the activation columns
    table = panel.table
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert headers == COLUMNS and {"act mean", "act std", "zeros", "dead"} <= set(headers)
    rows = {table.item(r, 0).text(): [table.item(r, c).text() for c in range(table.columnCount())]
            for r in range(table.rowCount())}
    assert list(rows) == ["fc1", "relu1", "fc2", "relu2", "head"]
    assert rows["relu2"][4:] == ["0", "0", "100%", "87%", "dead"]
    assert rows["relu1"][1] == "—" and rows["relu1"][7:] == ["3%", "—"]
    assert rows["fc2"][4] == "-99.6" and rows["fc2"][7:] == ["—", "ok"]
    # the canvas: a gradient strip under the layers, a dead-unit strip under the ReLUs
    assert isinstance(panel.strips[ids["fc1"]], GradientStrip)
    strip = panel.strips[ids["relu2"]]
    assert isinstance(strip, DeadUnitStrip) and strip.state == "dead" and strip.label(0.87) == "dead 87%"
    assert panel.strips[ids["relu1"]].state == "ok"
    win.docks["insight"].raise_()
    win.view.centerOn(win.scene.nodes[ids["relu2"]])
    qtbot.wait(50)
    win.grab().save(str(artifacts / "insight-window.png"))
    dock = win.docks["insight"]
    dock.setFloating(True)
    dock.resize(820, 420)
    qtbot.wait(50)
    assert panel.grab().save(str(artifacts / "insight-panel.png"))
    # a healthy run afterwards: the warning goes
    panel.on_event(Event("start"))
    panel.on_event(Event("step", grad_norms={ids["fc1"]: 0.4},
                         act_stats={ids["relu2"]: {"mean": 0.3, "std": 0.5, "zero_frac": 0.4, "dead_frac": 0.0}}))
    panel.refresh()
    assert panel.warning.isHidden() and panel.table.rowCount() == 2
