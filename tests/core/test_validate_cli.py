"""`workbench validate`: the table, the exit status, and one line for an unreadable file."""
from __future__ import annotations

import re
import subprocess
import sys

from workbench.core import save, templates
from workbench.cli import main


def _project(tmp_path, broken=False):
    p = templates.build("mlp-classifier", templates.DataShape((4,), "float32", None,
                                                              "classification", 3, rows=120))
    if broken:
        head = p.graph.by_title("head")
        p.graph.set_param(head.id, "out_features", 5)
        p.graph.set_param(p.graph.by_title("target").id, "num_classes", 3)
    return save(p, tmp_path / "p.wbproj")


def test_valid_project_prints_table_and_exits_0(tmp_path, capsys):
    assert main(["validate", str(_project(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^fc1 +Linear +\(batch, 64\) +320$", out, re.M)
    assert "total parameters: 4,675" in out and out.rstrip().endswith("valid · 4,675 parameters")


def test_problem_is_listed_with_its_node_and_exits_1(tmp_path, capsys):
    assert main(["validate", str(_project(tmp_path, broken=True))]) == 1
    out = capsys.readouterr().out
    assert ("error: [loss] CrossEntropy 'loss' predicts 5 classes but the target has 3: set the last "
            "layer's size to 3") in out


def test_unreadable_file_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.wbproj"
    bad.write_text('{"format_version": 1, "graph": ')
    result = subprocess.run([sys.executable, "-m", "workbench", "validate", str(bad)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr == f"error: {bad}: line 1, column 32: the file ends early (truncated?)\n"
    assert result.stdout == ""
