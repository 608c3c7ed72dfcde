"""Runs panel › Compare…: two real iris runs (and a search's trials) listed, ticked and
compared — both curves drawn, the differing settings highlighted, the architecture diff."""
import pytest
from PySide6.QtCore import Qt

from tests.conftest import ARTIFACTS
from tests.iris_runs import iris_project, train, trial
from workbench.train import compare
from workbench.train.runs import read_run


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory):
    folder = tmp_path_factory.mktemp("iris_runs")
    project = iris_project(folder)
    root = folder / "runs"
    first = train(project, root / "20261203-090000", lr=0.003)
    second = train(project, root / "20261203-090100", lr=0.01, units=32, epochs=3)
    for number, source in ((2, first), (10, second)):
        trial(source, root / "search-lr", number, {"lr": 0.003 if number == 2 else 0.01},
              folder / "iris.wbproj")
    return root


@pytest.fixture
def panel(app, qtbot, runs_root):
    from workbench.ui.panels.runs_panel import RunsPanel
    panel = RunsPanel()
    qtbot.addWidget(panel)
    panel.set_root(runs_root)
    panel.show()
    return panel


def _names(panel):
    return [panel.tree.topLevelItem(i).text(0) for i in range(panel.tree.topLevelItemCount())]


def test_trials_of_a_search_are_listed_with_the_runs(panel, runs_root):
    assert _names(panel) == ["search-lr / trial 10", "search-lr / trial 2",
                             "20261203-090100", "20261203-090000"]
    item = panel.tree.topLevelItem(1)
    assert item.data(0, Qt.UserRole + 1) == str(runs_root / "search-lr" / "trial-2")
    assert item.text(1) == "completed" and item.text(2) == "2"


def test_only_the_projects_own_trials_are_listed(runs_root, tmp_path):
    from workbench.ui.panels.runs_panel import list_runs
    mine = runs_root.parent / "iris.wbproj"
    assert len(list_runs(runs_root, mine)) == 4
    other = trial(runs_root / "20261203-090000", tmp_path / "runs" / "search-x", 0, {},
                  tmp_path / "other.wbproj")
    (tmp_path / "runs" / "search-x" / "notes").mkdir()      # not a trial: ignored
    assert [r.folder for r in list_runs(tmp_path / "runs", mine)] == []
    assert [r.folder for r in list_runs(tmp_path / "runs", tmp_path / "other.wbproj")] == [other]


def test_compare_two_ticked_runs(panel, qtbot, runs_root):
    first, second = runs_root / "20261203-090000", runs_root / "20261203-090100"
    assert not panel.compare_button.isEnabled()
    panel.set_ticked(second)
    assert not panel.compare_button.isEnabled()      # one run is nothing to compare
    panel.set_ticked(first)
    assert panel.compare_button.isEnabled()
    qtbot.mouseClick(panel.compare_button, Qt.LeftButton)
    dialog = panel.compare_dialog
    assert dialog is not None and dialog.isVisible() and dialog.windowTitle() == "Compare runs"
    assert dialog.names == ["20261203-090000", "20261203-090100"]   # oldest first: the base

    # both curves, each run's val_loss as its metrics.jsonl has it, named in the legend
    assert dialog.metric_box.currentData() == "val_loss"
    for curve, folder in zip(dialog.plot_curves, (first, second)):
        want = compare.curves(read_run(folder, events=True))["val_loss"]
        xs, ys = curve.getData()
        assert list(zip(xs.tolist(), ys.tolist())) == want
    assert [len(c.getData()[0]) for c in dialog.plot_curves] == [2, 3]
    assert [label.text for _, label in dialog.legend.items] == ["20261203-090000", "20261203-090100"]
    qtbot.waitExposed(dialog)
    qtbot.waitUntil(lambda: dialog.plot.getPlotItem().getAxis("left").range[1] < 1)  # drawn
    dialog.metric_box.setCurrentIndex(dialog.metric_box.findData("val_accuracy"))
    left = dialog.plot.getPlotItem().getAxis("left")
    assert left.labelText == "val_accuracy" and left.autoSIPrefixScale == 1.0   # 0.9 is not 900
    assert dialog.plot_curves[1].getData()[1].tolist() == \
        [y for _, y in compare.curves(read_run(second, events=True))["val_accuracy"]]

    # the settings table: differing rows highlighted, the others not
    table = dialog.table
    rows = {table.item(r, 0).text(): r for r in range(table.rowCount())}
    assert [table.horizontalHeaderItem(c).text() for c in range(3)] == \
        ["Setting", "20261203-090000", "20261203-090100"]
    lr = rows["Adam · lr"]
    assert [table.item(lr, c).text() for c in range(3)] == ["Adam · lr", "0.003", "0.01"]
    lit = {k for k, r in rows.items() if table.item(r, 1).background().color() == dialog_highlight()}
    assert lit == {"training.epochs", "Adam · lr", "Linear 'fc1' · out_features"}
    assert table.item(lr, 0).font().bold() and not table.item(rows["data.split.seed"], 0).font().bold()
    assert dialog.settings_label.text() == f"Settings — 3 of {table.rowCount()} differ"
    dialog.only_differences.setChecked(True)
    shown = [k for k, r in rows.items() if not table.isRowHidden(r)]
    assert sorted(shown) == sorted(lit)
    dialog.only_differences.setChecked(False)
    assert not table.isRowHidden(rows["data.split.seed"])

    lines = [dialog.architecture.item(i).text() for i in range(dialog.architecture.count())]
    assert lines == ["20261203-090000 → 20261203-090100",
                     "    Linear 'fc1': out_features 64 → 32", "    Adam 'adam': lr 0.003 → 0.01"]

    dialog.only_differences.setChecked(True)
    dialog.metric_box.setCurrentIndex(dialog.metric_box.findData("val_loss"))
    qtbot.waitExposed(dialog)
    ARTIFACTS.mkdir(exist_ok=True)
    dialog.grab().save(str(ARTIFACTS / "runs-compare.png"))


def dialog_highlight():
    from workbench.ui.panels.runs_compare import highlight
    return highlight()


def test_three_runs_are_each_diffed_against_the_first(panel, qtbot, runs_root):
    for i in range(3):
        panel.tree.topLevelItem(i).setCheckState(0, Qt.Checked)
    dialog = panel.compare()
    assert dialog.names == ["20261203-090100", "search-lr / trial 2", "search-lr / trial 10"]
    lines = [dialog.architecture.item(i).text() for i in range(dialog.architecture.count())]
    assert lines == ["20261203-090100 → search-lr / trial 2",
                     "    Linear 'fc1': out_features 32 → 64", "    Adam 'adam': lr 0.01 → 0.003",
                     "20261203-090100 → search-lr / trial 10", "    same architecture"]
    assert len(dialog.plot_curves) == 3 and dialog.table.columnCount() == 4


def test_an_unreadable_run_is_named_not_a_traceback(panel, qtbot, runs_root, tmp_path):
    import shutil
    broken = tmp_path / "runs" / "<i>broken"
    shutil.copytree(runs_root / "20261203-090000", broken)
    (broken / "project.wbproj").write_text("{ not json")
    (broken / "metrics.jsonl").write_bytes(b"\xff\xfe garbage\n")
    from workbench.ui.panels.runs_compare import RunsCompareDialog
    dialog = RunsCompareDialog([runs_root / "20261203-090000", broken])
    qtbot.addWidget(dialog)
    assert dialog.table.columnCount() == 2            # the setting and the one readable run
    text = dialog.warning_label.text()
    assert "<i>broken: " in text and "left out of the settings and architecture" in text
    assert "line 1 is not a JSON event" in text
    assert dialog.warning_label.textFormat() == Qt.PlainText
    assert [label.text for _, label in dialog.legend.items][1] == "&lt;i&gt;broken"
    assert dialog.architecture.item(0).text() == "fewer than two readable projects: nothing to compare"


def test_the_dashboard_overlay_names_a_trial_like_the_list(app, qtbot, runs_root):
    from workbench.ui.panels.training_panel import TrainingPanel
    panel = TrainingPanel(None)
    qtbot.addWidget(panel)
    panel.set_overlays([runs_root / "search-lr" / "trial-2"])
    legend = panel.loss_plot.getPlotItem().legend
    assert "search-lr / trial 2 val" in [label.text for _, label in legend.items]


def test_another_document_closes_the_comparison(panel, qtbot, runs_root, tmp_path, monkeypatch):
    from types import SimpleNamespace
    from workbench.core.project import Project
    for i in range(2):
        panel.tree.topLevelItem(i).setCheckState(0, Qt.Checked)
    dialog = panel.compare()
    assert dialog.isVisible()
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(tmp_path))
    panel.set_document(SimpleNamespace(project=Project(), untitled_id="x"))
    assert panel.compare_dialog is None and not dialog.isVisible()
    assert not panel.compare_button.isEnabled()
