"""`workbench data inspect`: what it prints, and one-line errors with status 2."""
from __future__ import annotations

from tests.data.helpers import DATA, write
from workbench.cli import main


def test_inspect_iris(capsys):
    assert main(["data", "inspect", str(DATA / "iris.csv")]) == 0
    out = capsys.readouterr().out
    assert "delimiter: comma   encoding: utf-8   header: yes   rows: 150" in out
    assert "species       categorical  target         0         3" in out
    assert "target 'species': classification, 3 classes: setosa 50, versicolor 50, virginica 50" in out


def test_inspect_text_file_with_target_option(capsys):
    assert main(["data", "inspect", str(DATA / "debian_sections" / "test.txt"), "--target", "label"]) == 0
    out = capsys.readouterr().out
    assert "delimiter: tab" in out and "header: no" in out and "rows: 2008" in out
    assert "text    text         feature" in out and "10 classes: admin 296" in out


def test_inspect_json_and_preview(capsys):
    import json

    assert main(["data", "inspect", str(DATA / "digits.csv"), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["rows"] == 1797 and d["targets"] == ["digit"] and len(d["classes"]) == 10
    assert main(["data", "inspect", str(DATA / "digits.csv"), "--preview", "5"]) == 0
    assert "first 5 rows:" in capsys.readouterr().out


def test_errors_are_one_line_with_status_2(tmp_path, capsys):
    bad = write(tmp_path, "bad.csv", "a,b,y\n1,2,x\n3,4,z,9\n")
    assert main(["data", "inspect", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {bad}: line 3: 4 fields where the header has 3: '3,4,z,9'\n"
    assert main(["data", "inspect", str(tmp_path / "none.csv")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'none.csv'}: no such file\n"


def test_inspect_lists_the_first_classes_of_a_target_with_many(tmp_path, capsys):
    rows = "".join(f"{i},c{i}\n" for i in range(60))
    p = write(tmp_path, "many.csv", "x,kind\n" + rows)
    assert main(["data", "inspect", str(p), "--target", "kind"]) == 0
    line = [s for s in capsys.readouterr().out.splitlines() if s.startswith("target")][0]
    assert line.startswith("target 'kind': classification, 60 classes: c0 1, c1 1, c10 1,")
    assert line.endswith(", … (40 more)") and line.count(" 1,") == 20
